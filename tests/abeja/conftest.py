"""Fixtures for the ABEJA Platform run simulator and the official ``abeja-sdk``.

The simulator runs on the test's event loop. The official SDK is synchronous, so tests call
it through ``asyncio.to_thread`` while the loop keeps serving; the simulator's state is
guarded by a lock, so its control methods (``advance``, ``fail_next``…) may be called from
that worker thread too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest

from tether.testing.abeja import Simulator

EPOCH = datetime(2018, 1, 1, tzinfo=UTC)
"""Start of the deterministic simulator clock used by every fixture here."""

SEED = 20180101
"""Run-id seed used by every fixture here."""

SIM_DEFAULTS: dict[str, Any] = {
    "seed": SEED,
    "epoch": EPOCH,
    "step_seconds": None,
    "page_size": 3,
    "log_page_size": 4,
    "running_steps": 2,
    "log_lines_per_step": 3,
}
"""Small pages and a manual clock: every pagination path is exercised in a few requests."""

# Credentials the official SDK would pick up from the environment; cleared for every test so
# a developer's real ABEJA credentials can never leak into (or be sent by) these tests.
_SDK_ENV = (
    "PLATFORM_AUTH_TOKEN",
    "ABEJA_PLATFORM_USER_ID",
    "ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN",
    "ABEJA_PLATFORM_DATASOURCE_ID",
    "ABEJA_PLATFORM_DATASOURCE_SECRET",
    "ABEJA_SDK_CONNECTION_TIMEOUT",
    "ABEJA_SDK_MAX_RETRY_COUNT",
    "ABEJA_ORGANIZATION_ID",
)

SimFactory = Callable[..., Awaitable[Simulator]]


NOWHERE = "http://127.0.0.1:9"
"""Loopback discard port: where the official SDK points until a test aims it at a simulator."""


@pytest.fixture(autouse=True)
def _isolate_official_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear SDK env vars and never let the official SDK reach ``api.abeja.io``."""
    for name in _SDK_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ABEJA_API_URL", NOWHERE)
    try:
        import abeja.common.connection as connection  # type: ignore[import-untyped]
    except ImportError:
        return
    monkeypatch.setattr(connection.Connection, "BASE_URL", NOWHERE)


@pytest.fixture
async def make_abeja_sim() -> AsyncIterator[SimFactory]:
    """Start extra simulators (``await make_abeja_sim(page_size=5)``); all stop at teardown.

    Keyword arguments override :data:`SIM_DEFAULTS`.
    """
    async with AsyncExitStack() as stack:

        async def make(**overrides: Any) -> Simulator:
            sim = Simulator(**{**SIM_DEFAULTS, **overrides})
            return await stack.enter_async_context(sim)

        yield make


@pytest.fixture
async def abeja_sim(make_abeja_sim: SimFactory) -> Simulator:
    """A started simulator with :data:`SIM_DEFAULTS` (manual clock, seeded ids, small pages)."""
    return await make_abeja_sim()


@pytest.fixture
def point_official_sdk(monkeypatch: pytest.MonkeyPatch) -> Callable[[Simulator], None]:
    """Aim the official SDK (and anything reading ``ABEJA_API_URL``) at a simulator.

    ``abeja`` reads ``ABEJA_API_URL`` once at import, so the class attribute
    ``Connection.BASE_URL`` is patched (reference §5, way B) and restored after the test.
    """
    connection = pytest.importorskip("abeja.common.connection")

    def point(sim: Simulator) -> None:
        monkeypatch.setattr(connection.Connection, "BASE_URL", sim.url)
        monkeypatch.setenv("ABEJA_API_URL", sim.url)

    return point


@pytest.fixture
def official_client(abeja_sim: Simulator, point_official_sdk: Callable[[Simulator], None]) -> Any:
    """An official ``abeja.runs.APIClient`` aimed at ``abeja_sim`` (user + PAT, 1 retry)."""
    runs = pytest.importorskip("abeja.runs")
    point_official_sdk(abeja_sim)
    return runs.APIClient(credential=abeja_sim.credential, timeout=5, max_retry_count=1)
