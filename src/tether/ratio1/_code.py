"""Custom code for ``CUSTOM_EXEC_01``, ``REST_CUSTOM_EXEC_01``, web-API endpoints and
chain-distributed jobs (reference §15–§18).

The code travels as ``base64(zlib level 9(source))``. A callable contributes its body (the
``def`` line dropped, indentation removed), like the official SDK; a string is a file path when
such a file exists, else a :class:`DistributedCustomCodePresets` name, else the code itself.

Before anything is sent the code is parsed and checked against the official SDK's rules (no
imports, no ``globals``/``locals``/``exec``/``eval``/``getattr``/``open``..., no ``.log`` and a
few private attributes): a violation is a :class:`~tether.ValidationError` (the official SDK
sends ``CODE: null`` instead and the node fails later).
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from collections.abc import Callable
from typing import Any, Final

from tether._core.errors import ValidationError
from tether.ratio1._protocol.compression import encode_code
from tether.ratio1._protocol.constants import DistributedCustomCodePresets

__all__ = ["CustomCode", "check_code", "code_body", "encode_custom_code", "method_data"]

CustomCode = str | Callable[..., Any]
"""Source text, a path to a file, a preset name, or a function whose body is the code."""

_FORBIDDEN_NAMES: Final = frozenset(
    {
        "globals",
        "__builtins__",
        "locals",
        "memoryview",
        "vars",
        "dir",
        "exec",
        "eval",
        "getattr",
        "open",
    }
)
_FORBIDDEN_ATTRIBUTES: Final = frozenset(
    {
        "log",
        "global_shmem",
        "plugins_shmem",
        "config_data",
        "_default_config",
        "__traceback__",
        "_upstream_config",
    }
)


def code_body(function: Callable[..., Any]) -> str:
    """The body of *function* as the official SDK extracts it (``def`` line dropped, dedented)."""
    try:
        lines = inspect.getsourcelines(function)[0][1:]
    except (OSError, TypeError) as exc:
        raise ValidationError(f"cannot read the source of {function!r}: {exc}") from None
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first == len(lines):
        raise ValidationError(f"{function!r} has an empty body")
    indent = len(lines[first]) - len(lines[first].lstrip())
    return "\n".join(line.rstrip()[indent:] for line in lines)


def check_code(source: str, *, what: str = "custom code") -> None:
    """Raise :class:`~tether.ValidationError` if *source* is not valid, allowed plugin code."""
    wrapped = "def __tether_code__():\n" + textwrap.indent(source, "    ") + "\n    pass\n"
    try:
        tree = ast.parse(wrapped)
    except SyntaxError as exc:
        line = (exc.lineno or 2) - 1
        raise ValidationError(f"{what} has a syntax error on line {line}: {exc.msg}") from None
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problems.append(f"imports are not allowed (line {node.lineno - 1})")
        elif isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            problems.append(f"`{node.id}` is not allowed (line {node.lineno - 1})")
        elif isinstance(node, ast.Attribute) and node.attr in _FORBIDDEN_ATTRIBUTES:
            problems.append(f"`.{node.attr}` is not allowed (line {node.lineno - 1})")
    if problems:
        raise ValidationError(f"{what} is refused: " + "; ".join(problems))


def _source_of(custom_code: CustomCode) -> str:
    if callable(custom_code):
        return code_body(custom_code)
    if not isinstance(custom_code, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValidationError(
            f"custom code must be a string or a function, not {type(custom_code).__name__}"
        )
    if not custom_code.strip():
        raise ValidationError("custom code is empty")
    if "\n" not in custom_code and len(custom_code) < 4096 and os.path.isfile(custom_code):
        with open(custom_code, encoding="utf-8") as handle:
            return handle.read()
    preset = DistributedCustomCodePresets.SOURCES.get(custom_code.upper())
    if preset is not None:
        return preset
    return custom_code


def encode_custom_code(custom_code: CustomCode, *, what: str = "custom code") -> str:
    """Check *custom_code* and return its wire encoding (``base64(zlib(source))``)."""
    source = _source_of(custom_code)
    check_code(source, what=what)
    return encode_code(source)


def method_data(function: Callable[..., Any]) -> tuple[str, list[str], str]:
    """``(name, args, encoded body)`` of an endpoint function (first ``plugin`` arg dropped)."""
    name = getattr(function, "__name__", None)
    if not isinstance(name, str) or name == "<lambda>":
        raise ValidationError("an endpoint must be a named function")
    args = [str(p) for p in inspect.signature(function).parameters.values()]
    if args:
        first = args[0].split(":")[0].split("=")[0].strip()
        if first in ("self", "cls", "plugin"):
            args = args[1:]
    return name, args, encode_custom_code(function, what=f"endpoint {name!r}")
