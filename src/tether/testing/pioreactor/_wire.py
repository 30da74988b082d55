"""Wire helpers shared by every route: timestamps, error bodies and strict JSON decoding.

The error shapes and the decoder messages copy what a 26.11.1 leader sends (its bodies are
decoded by msgspec, whose messages such as ``Object contains unknown field `x``` clients show to
users), and what older leaders sent (``shared/reference/pioreactor.md`` §4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

import attrs
from aiohttp import web

from tether.testing.pioreactor._contract import Contract, ErrorStyle

__all__ = [
    "ApiError",
    "as_dict",
    "as_list",
    "maybe_dict",
    "Field",
    "decode_body",
    "error_body",
    "iso_ms",
    "iso_us",
    "json_response",
    "parse_timestamp",
    "utcnow",
]

_DEFAULT_REMEDIATION: Final[Mapping[int, str]] = {
    400: "Check required fields and request format, then retry.",
    401: "Authenticate and retry the request.",
    403: "Verify permissions and configuration allow this action.",
    404: "Confirm the resource exists and the URL is correct.",
    409: "Resolve the conflicting state, then retry.",
    429: "Wait briefly before retrying to avoid rate limits.",
}


def maybe_dict(value: object) -> dict[str, Any] | None:
    """*value* typed as a JSON object if it is a dict, else None."""
    if isinstance(value, dict):
        mapping: dict[str, Any] = cast(Any, value)
        return mapping
    return None


def as_dict(value: object) -> dict[str, Any]:
    """*value* typed as a JSON object if it is a dict, else an empty dict."""
    found = maybe_dict(value)
    return found if found is not None else {}


def as_list(value: object) -> list[Any]:
    """*value* typed as a JSON array if it is a list, else an empty list."""
    if isinstance(value, list):
        items: list[Any] = cast(Any, value)
        return items
    return []


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso_ms(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, as the leader's database stores times.

    >>> iso_ms(datetime(2026, 11, 22, 23, 13, 25, 784123, tzinfo=UTC))
    '2026-11-22T23:13:25.784Z'
    """
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_us(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and ``Z``, as jobs put times in MQTT payloads."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(raw: str) -> datetime | None:
    """Parse an RFC 3339 timestamp that carries ``Z`` or an offset; None when it does not."""
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed


class ApiError(Exception):
    """An HTTP error answer, rendered in the contract's error shape by the app middleware."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        cause: str | None = None,
        remediation: str | None = None,
        legacy_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.cause = cause
        self.remediation = remediation
        self.legacy_body = legacy_body
        self.headers = dict(headers or {})

    def body(self, style: ErrorStyle) -> dict[str, Any]:
        """The JSON body of this error in *style*."""
        if style == "bare" and self.legacy_body is not None:
            return dict(self.legacy_body)
        return error_body(style, self.status, self.error, self.cause, self.remediation)

    def response(self, style: ErrorStyle) -> web.Response:
        """This error as an aiohttp response."""
        return json_response(self.body(style), status=self.status, headers=self.headers)


def error_body(
    style: ErrorStyle,
    status: int,
    error: str,
    cause: str | None = None,
    remediation: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an error body the way the leader's after-request hook does for *style*.

    >>> error_body("flat", 404, "Experiment nope not found")
    {'error': 'Experiment nope not found', 'status': 404, 'cause': 'Experiment nope not found'}
    """
    if style == "bare":
        return {**(extra or {}), "error": error}
    if style == "nested":
        info = {
            "cause": cause or error,
            "remediation": remediation
            or _DEFAULT_REMEDIATION.get(status, "Check server logs for details and retry."),
            "status": status,
        }
        return {**(extra or {}), "error": error, "error_info": info}
    body: dict[str, Any] = {"error": error, "status": status, "cause": cause or error}
    if remediation:
        body["remediation"] = remediation
    return body


def json_response(
    payload: Any,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    cache_seconds: int | None = None,
) -> web.Response:
    """A compact JSON response (the leader encodes with msgspec: no spaces)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    response = web.Response(
        text=text, status=status, content_type="application/json", headers=headers
    )
    if cache_seconds is not None:
        response.headers["Cache-Control"] = f"public, max-age={cache_seconds}"
    return response


_KIND_NAMES: Final[Mapping[type, str]] = {
    str: "str",
    bool: "bool",
    int: "int",
    float: "float",
    dict: "object",
    list: "array",
    type(None): "null",
}


def _kind_of(value: object) -> str:
    kind: type = type(value)
    return _KIND_NAMES.get(kind, "object")


def _accepts(kind: str, value: Any) -> bool:
    actual = _kind_of(value)
    if kind == "any":
        return True
    if kind == "float":
        return actual in ("float", "int")
    return actual == kind


@attrs.frozen
class Field:
    """One field of a strict request body.

    ``kinds`` are msgspec type names (``str``, ``int``, ``float``, ``bool``, ``object``,
    ``array``, ``null`` or ``any``); ``items`` restricts array elements.
    """

    name: str
    kinds: tuple[str, ...]
    required: bool = False
    items: str | None = None

    def check(self, value: Any) -> str | None:
        """The msgspec-style complaint about *value*, or None when it fits."""
        if not any(_accepts(kind, value) for kind in self.kinds):
            expected = " | ".join(self.kinds)
            return f"Expected `{expected}`, got `{_kind_of(value)}` - at `$.{self.name}`"
        if self.items is not None:
            for index, item in enumerate(as_list(value)):
                if not _accepts(self.items, item):
                    return (
                        f"Expected `{self.items}`, got `{_kind_of(item)}` "
                        f"- at `$.{self.name}[{index}]`"
                    )
        return None


_FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")


def decode_body(
    raw: bytes,
    content_type: str,
    fields: Sequence[Field],
    contract: Contract,
) -> dict[str, Any]:
    """Decode a JSON object body the way the leader's ``decode_request_body`` does.

    Strict contracts (26.5.3+) reject unknown fields, missing required fields and wrong types
    with 400 ``Invalid request body.``; older ones read the body loosely.
    """
    required = [field.name for field in fields if field.required]
    remediation = (
        f"Send a JSON object with the required fields: {', '.join(required)}."
        if required
        else "Send a valid JSON object."
    )

    def invalid(cause: str) -> ApiError:
        return ApiError(400, "Invalid request body.", cause=cause, remediation=remediation)

    if content_type in _FORM_TYPES:
        raw = b""  # Flask's form parser swallows the data
    if not raw.strip():
        if not contract.strict_bodies and not required:
            return {}
        raise invalid("Input data was truncated")
    try:
        decoded: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "invalid utf-8"
        raise invalid(f"JSON is malformed: {reason} (byte {position})") from None
    body = maybe_dict(decoded)
    if body is None:
        raise invalid(f"Expected `object`, got `{_kind_of(decoded)}`")
    by_name = {field.name: field for field in fields}
    for key, value in body.items():
        field = by_name.get(key)
        if field is None:
            if contract.strict_bodies:
                raise invalid(f"Object contains unknown field `{key}`")
            continue
        complaint = field.check(value)
        if complaint is not None and contract.strict_bodies:
            raise invalid(complaint)
    for name in required:
        if name not in body:
            raise invalid(f"Object missing required field `{name}`")
    return {key: value for key, value in body.items() if key in by_name}
