"""Canonical JSON: the exact bytes that Ratio1 signatures hash (reference §4.2, §4.3).

Two encoders exist on the network:

- **current** (``SIGN_CANON_V: "v2"``, and unversioned messages): Python ``json`` output,
  compact separators, raw UTF-8, floats as ``repr`` (``1.0``, ``1e-07``), NaN/±Inf as ``null``,
  serialised once, parsed back, and serialised again with sorted keys.
- **legacy** (``"v1"``): the same, except that floats lose trailing zeros and then a trailing
  dot when their ``repr`` has a dot (``1.0`` → ``1``, ``2.50`` → ``2.5``).

>>> canonical_json({"b": 1.0, "a": "café", "c": [float("nan")]})
'{"a":"café","b":1.0,"c":[null]}'
>>> canonical_json({"b": 1.0, "a": 100.0}, legacy=True)
'{"a":100,"b":1}'
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, cast

from tether.ratio1._protocol.errors import CanonicalizationError

__all__ = [
    "CANON_UNVERSIONED",
    "CANON_V1",
    "CANON_V2",
    "CURRENT_CANON_VERSION",
    "NON_DATA_FIELDS",
    "CanonVersion",
    "canonical_bytes",
    "canonical_json",
    "canonical_message",
    "message_digest",
]

CANON_V1: Final = "v1"
"""Legacy canon: legacy float encoder, ``SIGN_CANON_V`` not hashed."""
CANON_V2: Final = "v2"
"""Current canon: current encoder, ``SIGN_CANON_V`` hashed."""
CANON_UNVERSIONED: Final = "unversioned"
"""No ``SIGN_CANON_V`` field: current encoder without the tag (verifiers then try legacy)."""
CURRENT_CANON_VERSION: Final = CANON_V2
"""What signers emit."""

CanonVersion = Literal["v1", "v2", "unversioned"]

NON_DATA_FIELDS: Final = frozenset(
    {"EE_SIGN", "EE_SENDER", "EE_HASH", "SIGN_CANON_V", "EE_ETH_SIGN", "EE_ETH_SENDER"}
)
"""Fields never hashed (``SIGN_CANON_V`` is added back for v2)."""

_SEPARATORS: Final = (",", ":")


def _default(obj: Any) -> Any:
    """Convert the non-JSON values the official SDK tolerates (numpy, datetime, mappings)."""
    if isinstance(obj, _dt.datetime):
        return obj.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(obj, Mapping):
        mapping: Mapping[Any, Any] = cast(Any, obj)
        return dict(mapping)
    tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _replace_non_finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _replace_non_finite(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, (list, tuple)):
        return [_replace_non_finite(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _dumps(value: Any, *, sort_keys: bool) -> str:
    return json.dumps(
        value,
        separators=_SEPARATORS,
        ensure_ascii=False,
        allow_nan=False,
        sort_keys=sort_keys,
        default=_default,
    )


def _current(data: Any) -> str:
    try:
        first = _dumps(data, sort_keys=False)
    except ValueError:
        try:  # NaN / ±Inf somewhere: the SDK writes them as null
            first = _dumps(_replace_non_finite(data), sort_keys=False)
        except (ValueError, TypeError, RecursionError) as exc:
            raise CanonicalizationError(f"cannot canonicalise message: {exc}") from None
    except (TypeError, RecursionError) as exc:
        raise CanonicalizationError(f"cannot canonicalise message: {exc}") from None
    return _dumps(json.loads(first), sort_keys=True)


# --- legacy encoder ---------------------------------------------------------------------------

_encode_str: Callable[[str], str] = json.encoder.encode_basestring


def _legacy_float(value: float) -> str:
    if value != value or value in (math.inf, -math.inf):
        return "null"
    text = float.__repr__(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _legacy_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _legacy_float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _legacy_encode(value: Any, out: list[str], sort_keys: bool, depth: int = 0) -> None:
    if depth > 500:
        raise ValueError("message nested too deeply")
    if isinstance(value, str):
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_legacy_float(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(cast("list[Any]", value)):
            if i:
                out.append(",")
            _legacy_encode(item, out, sort_keys, depth + 1)
        out.append("]")
    elif isinstance(value, dict):
        mapping: dict[Any, Any] = cast(Any, value)
        items: list[tuple[str, Any]] = [(_legacy_key(k), v) for k, v in mapping.items()]
        if sort_keys:
            items.sort(key=lambda kv: kv[0])
        out.append("{")
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            out.append(_encode_str(k))
            out.append(":")
            _legacy_encode(v, out, sort_keys, depth + 1)
        out.append("}")
    else:
        _legacy_encode(_default(value), out, sort_keys, depth + 1)


def _legacy(data: Any) -> str:
    try:
        first: list[str] = []
        _legacy_encode(data, first, sort_keys=False)
        second: list[str] = []
        _legacy_encode(json.loads("".join(first)), second, sort_keys=True)
    except (TypeError, ValueError, RecursionError) as exc:
        raise CanonicalizationError(f"cannot canonicalise message (legacy): {exc}") from None
    return "".join(second)


# --- public API -------------------------------------------------------------------------------


def canonical_json(data: Any, *, legacy: bool = False) -> str:
    """Return the canonical JSON text of *data* (any JSON-like value, usually a dict).

    ``legacy=True`` selects the v1 float formatting. Raises :class:`CanonicalizationError`
    for values JSON cannot represent.
    """
    return _legacy(data) if legacy else _current(data)


def canonical_bytes(data: Any, *, legacy: bool = False) -> bytes:
    """Return :func:`canonical_json` as the UTF-8 bytes that are hashed."""
    text = canonical_json(data, legacy=legacy)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"message holds a lone surrogate: {exc.reason}") from None


def canonical_message(message: Mapping[str, Any], *, version: CanonVersion = CANON_V2) -> str:
    """Return the canonical text that a signature of *message* covers.

    Drops :data:`NON_DATA_FIELDS`; for ``v2`` adds ``SIGN_CANON_V: "v2"`` back.

    >>> canonical_message({"B": 1, "EE_SIGN": "x", "SIGN_CANON_V": "v2"})
    '{"B":1,"SIGN_CANON_V":"v2"}'
    """
    data = {k: v for k, v in message.items() if k not in NON_DATA_FIELDS}
    if version == CANON_V2:
        data["SIGN_CANON_V"] = CANON_V2
    return canonical_json(data, legacy=version == CANON_V1)


def message_digest(message: Mapping[str, Any], *, version: CanonVersion = CANON_V2) -> bytes:
    """Return SHA-256 of the canonical bytes of *message* (``EE_HASH`` is its hex form)."""
    text = canonical_message(message, version=version)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"message holds a lone surrogate: {exc.reason}") from None
    return hashlib.sha256(raw).digest()
