"""Developer tasks. Each session runs in the project's uv environment (``uv.lock``)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint", "typecheck"]


def uv_run(session: nox.Session, *args: str) -> None:
    session.run("python", "-m", "uv", "run", *args, external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (mosquitto and the real Pioreactor leader where available)."""
    uv_run(session, "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    uv_run(session, "ruff", "check", "src", "tests", "benchmarks")
    uv_run(session, "ruff", "format", "--check", "src", "tests", "benchmarks")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict and pyright (strict) on src/."""
    uv_run(session, "mypy")
    uv_run(session, "pyright")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site; warnings are errors."""
    uv_run(session, "mkdocs", "build", "--strict", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks; results go to benchmarks/results/*.json."""
    uv_run(session, "python", "-m", "benchmarks", *session.posargs)
