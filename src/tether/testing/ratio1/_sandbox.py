"""A restricted runner for the custom code that ``CUSTOM_EXEC_01`` / ``REST_CUSTOM_EXEC_01`` carry.

The simulated node runs the received body as ``def f(plugin): <body>``, the way real nodes do,
with these limits:

- **Static check** (before running): no ``import`` / ``from``, no ``global``, no ``yield`` /
  ``await``, no name that starts with ``__`` or is in :data:`FORBIDDEN_NAMES` (``open``,
  ``exec``, ``eval``, ``compile``, ``getattr``, ``globals``, ``vars``, ``dir``, ``type``, …),
  and no attribute that starts with ``_`` or is in :data:`FORBIDDEN_ATTRIBUTES` (``format``,
  ``log``, …) — which closes the ``().__class__.__subclasses__()`` escapes.
- **Builtins**: only :data:`SAFE_BUILTINS` (pure functions and common exception types);
  ``print`` is captured into the plugin log.
- **Time limit**: a per-thread trace function aborts the code after ``timeout`` seconds.

It is **not** a security sandbox. Limits that remain: a single long C-level operation
(``10 ** 10 ** 8``, ``"x" * 10 ** 10``) cannot be interrupted and runs on in its daemon thread,
and memory is not capped. Only feed it code from your own tests.

``plugin`` gives: ``node_id``, ``node_addr``, ``pipeline``, ``instance_id``, ``obj_cache``
(a dict kept between runs of one instance), ``time()``, ``P(*args)`` (log), and ``cfg_<key>``
for the instance config. There is no ``plugin.np``.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import concurrent.futures
import json
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any, Final

import attrs

__all__ = [
    "FORBIDDEN_ATTRIBUTES",
    "FORBIDDEN_NAMES",
    "SAFE_BUILTINS",
    "CodeRejected",
    "ExecutionResult",
    "SandboxPlugin",
    "check_code",
    "run_custom_code",
]

FORBIDDEN_NAMES: Final = frozenset(
    {
        "open",
        "exec",
        "eval",
        "compile",
        "__import__",
        "globals",
        "locals",
        "vars",
        "dir",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "memoryview",
        "input",
        "breakpoint",
        "help",
        "exit",
        "quit",
        "type",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "__builtins__",
    }
)
"""Names custom code may not use."""

FORBIDDEN_ATTRIBUTES: Final = frozenset(
    {
        "format",
        "format_map",
        "log",
        "global_shmem",
        "plugins_shmem",
        "config_data",
        "gi_frame",
        "gi_code",
        "f_globals",
        "f_locals",
        "f_builtins",
        "tb_frame",
        "cr_frame",
    }
)
"""Attributes custom code may not touch (besides every name starting with ``_``)."""

_SAFE_NAMES = (
    "abs", "all", "any", "ascii", "bin", "bool", "bytes", "chr", "dict", "divmod",
    "enumerate", "filter", "float", "frozenset", "hash", "hex", "int", "isinstance",
    "issubclass", "iter", "len", "list", "map", "max", "min", "next", "oct", "ord", "pow",
    "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple",
    "zip", "Exception", "ValueError", "TypeError", "KeyError", "IndexError",
    "ZeroDivisionError", "RuntimeError", "ArithmeticError", "AssertionError",
    "StopIteration", "NotImplementedError", "LookupError", "OverflowError",
)  # fmt: skip
SAFE_BUILTINS: Final[Mapping[str, Any]] = {name: getattr(builtins, name) for name in _SAFE_NAMES}
"""The builtins custom code sees (``print`` is added per run, captured)."""

_FUNCTION_NAME: Final = "__tether_custom_code__"


class CodeRejected(Exception):
    """The static check refused the code; the message says why."""


@attrs.frozen(slots=True)
class ExecutionResult:
    """What one run produced: a JSON-able ``result`` or an ``error`` text, and the log."""

    result: Any
    error: str | None
    log: tuple[str, ...]
    duration: float


class SandboxPlugin:
    """The ``plugin`` object custom code receives."""

    def __init__(
        self,
        *,
        node_id: str,
        node_addr: str,
        pipeline: str,
        instance_id: str,
        config: Mapping[str, Any],
        obj_cache: dict[str, Any],
    ) -> None:
        self.node_id = node_id
        self.node_addr = node_addr
        self.pipeline = pipeline
        self.instance_id = instance_id
        self.obj_cache = obj_cache
        self.logs: list[str] = []
        self._config = dict(config)

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def P(self, *args: Any) -> None:
        """Log a line (collected in the run's ``log``)."""
        self.logs.append(" ".join(str(a) for a in args))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("cfg_"):
            return self._config.get(name[4:].upper())
        raise AttributeError(name)


class _Checker(ast.NodeVisitor):
    def visit_Import(self, node: ast.Import) -> None:
        raise CodeRejected(f"line {node.lineno - 1}: imports are not allowed")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        raise CodeRejected(f"line {node.lineno - 1}: imports are not allowed")

    def visit_Global(self, node: ast.Global) -> None:
        raise CodeRejected(f"line {node.lineno - 1}: 'global' is not allowed")

    def _no_generator(self, node: ast.Yield | ast.YieldFrom | ast.Await) -> None:
        raise CodeRejected(f"line {node.lineno - 1}: yield/await are not allowed")

    visit_Yield = visit_YieldFrom = visit_Await = _no_generator

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES or node.id.startswith("__"):
            raise CodeRejected(f"line {node.lineno - 1}: name {node.id!r} is not allowed")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRIBUTES:
            raise CodeRejected(f"line {node.lineno - 1}: attribute {node.attr!r} is not allowed")
        self.generic_visit(node)

    def _check_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        if isinstance(node, ast.AsyncFunctionDef):
            raise CodeRejected(f"line {node.lineno - 1}: async functions are not allowed")
        if node.name.startswith("_"):
            raise CodeRejected(f"line {node.lineno - 1}: name {node.name!r} is not allowed")
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _check_def


def check_code(source: str) -> ast.Module:
    """Parse *source* as a function body and apply the static check; return the module AST."""
    wrapped = f"def {_FUNCTION_NAME}(plugin):\n" + textwrap.indent(source or "pass", "    ")
    try:
        module = ast.parse(wrapped, filename="<custom code>")
    except SyntaxError as exc:
        raise CodeRejected(f"syntax error: {exc.msg} (line {(exc.lineno or 1) - 1})") from None
    function = module.body[0]
    assert isinstance(function, ast.FunctionDef)
    checker = _Checker()
    for statement in function.body:
        checker.visit(statement)
    return module


class _Timeout(BaseException):
    """Raised inside the code by the tracer; a BaseException so ``except Exception`` misses it."""


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, allow_nan=False))


def _execute(module: ast.Module, plugin: SandboxPlugin, deadline: float) -> tuple[Any, str | None]:
    def tracer(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if time.monotonic() > deadline:
            raise _Timeout
        return tracer

    namespace: dict[str, Any] = {
        "__builtins__": {**SAFE_BUILTINS, "print": plugin.P},
    }
    try:
        exec(compile(module, "<custom code>", "exec"), namespace)
        function = namespace[_FUNCTION_NAME]
        sys.settrace(tracer)
        try:
            value = function(plugin)
        finally:
            sys.settrace(None)
    except _Timeout:
        return None, "TimeoutError: custom code exceeded its time limit"
    except RecursionError:
        return None, "RecursionError: maximum recursion depth exceeded"
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    try:
        return _jsonable(value), None
    except (TypeError, ValueError) as exc:
        return None, f"result is not JSON-serialisable: {exc}"


async def run_custom_code(
    source: str, plugin: SandboxPlugin, *, timeout: float = 2.0
) -> ExecutionResult:
    """Check and run *source* with *plugin* in a daemon thread; never raises for bad code."""
    started = time.monotonic()
    try:
        module = check_code(source)
    except CodeRejected as exc:
        return ExecutionResult(None, f"CodeRejected: {exc}", (), 0.0)
    future: concurrent.futures.Future[tuple[Any, str | None]] = concurrent.futures.Future()

    def work() -> None:
        try:
            future.set_result(_execute(module, plugin, time.monotonic() + timeout))
        except BaseException as exc:  # pragma: no cover - _execute catches everything
            future.set_exception(exc)

    threading.Thread(target=work, name="tether-sim-custom-code", daemon=True).start()
    # asyncio.wait, not wait_for: wait_for can swallow a cancellation on Python 3.11
    done, _ = await asyncio.wait({asyncio.wrap_future(future)}, timeout=timeout + 1.0)
    if done:
        result, error = future.result()
    else:
        result, error = None, "TimeoutError: custom code did not return (long C-level call)"
    return ExecutionResult(result, error, tuple(plugin.logs), time.monotonic() - started)
