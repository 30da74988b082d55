"""zlib + base64 codecs: heartbeat v2, NET_MON v2, custom code (reference §6).

Decoders only inflate, with a size cap against decompression bombs; never compare compressed
bytes, they depend on the zlib build.

>>> decode_code(encode_code("return 1"))
'return 1'
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from typing import Any, Final

from tether.ratio1._protocol.errors import CompressionError

__all__ = [
    "ENCODED_DATA",
    "HEARTBEAT_VERSION",
    "MAX_INFLATED_BYTES",
    "NETMON_TOP_LEVEL_KEYS",
    "NETMON_VERSION",
    "compress_text",
    "decode_code",
    "decode_heartbeat",
    "decode_netmon",
    "decompress_text",
    "encode_code",
    "encode_heartbeat",
    "encode_netmon",
    "inflate",
]

ENCODED_DATA: Final = "ENCODED_DATA"
HEARTBEAT_VERSION: Final = "HEARTBEAT_VERSION"
NETMON_VERSION: Final = "NETMON_VERSION"
MAX_INFLATED_BYTES: Final = 64 * 1024 * 1024
"""Largest inflated size accepted (64 MiB)."""

NETMON_TOP_LEVEL_KEYS: Final = frozenset(
    {
        "STREAM_NAME",
        "SIGNATURE",
        "INSTANCE_ID",
        "SESSION_ID",
        "INITIATOR_ID",
        "INITIATOR_ADDR",
        "MODIFIED_BY_ID",
        "MODIFIED_BY_ADDR",
        "TAGS",
        "ID_TAGS",
        "USE_LOCAL_COMMS_ONLY",
        "PLUGIN_CATEGORY",
    }
)
"""Besides every ``EE_*`` key, what NET_MON v2 keeps outside ``ENCODED_DATA``."""

_HEARTBEAT_OUTER: Final = ("NR_INFERENCES", "NR_PAYLOADS", "NR_STREAMS_DATA")


def inflate(data: bytes, *, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate a zlib stream, refusing output larger than *limit* bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise CompressionError(f"not a zlib stream: {exc}") from None
    if inflater.unconsumed_tail:
        raise CompressionError(f"inflated data exceeds {limit} bytes")
    if not inflater.eof:
        raise CompressionError("truncated zlib stream")
    return out


def compress_text(text: str, *, level: int = 9) -> str:
    """Return standard base64 of zlib(UTF-8 *text*) — the ``ENCODED_DATA`` / ``CODE`` codec."""
    return base64.b64encode(zlib.compress(text.encode("utf-8"), level)).decode("ascii")


def decompress_text(data: str) -> str:
    """Inverse of :func:`compress_text`; raises :class:`CompressionError` on bad input."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise CompressionError("not standard base64") from None
    try:
        return inflate(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise CompressionError("inflated data is not UTF-8") from None


def encode_code(source: str) -> str:
    """Encode custom-code source for ``CODE`` / ``REQUEST.DATA.CODE`` (zlib level 9 + base64)."""
    return compress_text(source, level=9)


def decode_code(data: str) -> str:
    """Decode a ``CODE`` field to source text."""
    return decompress_text(data)


def _decode_object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, str):
        raise CompressionError(f"{what} ENCODED_DATA is not a string")
    try:
        decoded = json.loads(decompress_text(data))
    except json.JSONDecodeError:
        raise CompressionError(f"{what} ENCODED_DATA is not JSON") from None
    if not isinstance(decoded, dict):
        raise CompressionError(f"{what} ENCODED_DATA is not a JSON object")
    return decoded  # pyright: ignore[reportUnknownVariableType]


def encode_heartbeat(envelope: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """Return a v2 heartbeat: *envelope* fields + ``ENCODED_DATA`` of *status* + counters.

    The status text uses ``json.dumps`` default separators, like the node.
    """
    message = dict(envelope)
    message[ENCODED_DATA] = compress_text(json.dumps(dict(status)))
    for key in _HEARTBEAT_OUTER:
        message[key] = status.get(key, 0)
    message[HEARTBEAT_VERSION] = "v2"
    return message


def decode_heartbeat(message: Mapping[str, Any]) -> dict[str, Any]:
    """Return the heartbeat with its status fields merged in (decoded fields win, like the SDK).

    ``v1`` (or no version) heartbeats are returned as a plain copy.
    """
    merged = dict(message)
    if message.get(HEARTBEAT_VERSION) == "v2" and ENCODED_DATA in message:
        merged.update(_decode_object(message[ENCODED_DATA], "heartbeat"))
        merged.pop(ENCODED_DATA, None)
    return merged


def encode_netmon(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the NET_MON v2 form: ``EE_*`` and routing keys on top, the body compressed.

    The body is serialised compact with ASCII escapes, like the node.
    """
    top: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, value in payload.items():
        if key.startswith("EE_") or key in NETMON_TOP_LEVEL_KEYS:
            top[key] = value
        else:
            body[key] = value
    if not body:
        return dict(payload)
    top[NETMON_VERSION] = "v2"
    top[ENCODED_DATA] = compress_text(json.dumps(body, ensure_ascii=True, separators=(",", ":")))
    return top


def decode_netmon(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return a NET_MON payload with its v2 body merged in (a copy when already plain)."""
    merged = dict(payload)
    if isinstance(payload.get("CURRENT_NETWORK"), dict):
        return merged
    if payload.get(NETMON_VERSION) != "v2" or not payload.get(ENCODED_DATA):
        return merged
    merged.update(_decode_object(payload[ENCODED_DATA], "NET_MON"))
    merged.pop(ENCODED_DATA, None)
    return merged
