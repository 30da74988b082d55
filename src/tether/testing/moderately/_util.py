"""Plumbing shared by the Moderately simulator: ids, clock, errors, validation, paging."""

from __future__ import annotations

import random
import re
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from attrs import field, frozen
from multidict import MultiMapping

JSON = dict[str, Any]
"""A JSON object as the simulator stores and serves it."""

ClockMode = Literal["real", "manual"]

_NANOID_ALPHABET = string.ascii_letters + string.digits + "_-"


class IdFactory:
    """Makes the ids the simulator hands out.

    With ``seed`` the sequence is reproducible; ``factory`` (called with the resource kind,
    e.g. ``"dataset"``) replaces the generator entirely.
    """

    def __init__(self, seed: int | None, factory: Callable[[str], str] | None) -> None:
        self._rng = random.Random(seed)
        self._factory = factory
        self._issued: set[str] = set()

    def new(self, kind: str) -> str:
        """Return a fresh id for a resource of *kind*."""
        if self._factory is not None:
            return self._factory(kind)
        while True:
            value = "".join(self._rng.choice(_NANOID_ALPHABET) for _ in range(21))
            if value not in self._issued:
                self._issued.add(value)
                return value

    def secret(self, length: int = 32) -> str:
        """Return a random URL-safe string (tokens, signing keys)."""
        alphabet = string.ascii_letters + string.digits
        return "".join(self._rng.choice(alphabet) for _ in range(length))


class SimClock:
    """The simulator's notion of time: real time plus a manual offset, or the offset alone.

    ``now()`` is seconds since the simulator was built; ``wall()`` maps it onto a UTC
    datetime starting at ``epoch``.
    """

    def __init__(self, mode: ClockMode, epoch: datetime | None) -> None:
        self._mode: ClockMode = mode
        self._t0 = time.monotonic()
        self._offset = 0.0
        base = epoch if epoch is not None else datetime.now(UTC)
        if base.tzinfo is None:
            base = base.replace(tzinfo=UTC)
        self._epoch = base.replace(microsecond=(base.microsecond // 1000) * 1000)

    @property
    def mode(self) -> ClockMode:
        """``"real"`` (time flows) or ``"manual"`` (only :meth:`advance` moves time)."""
        return self._mode

    def now(self) -> float:
        """Seconds since the simulator started, as the simulator sees them."""
        elapsed = time.monotonic() - self._t0 if self._mode == "real" else 0.0
        return elapsed + self._offset

    def advance(self, seconds: float) -> None:
        """Move simulated time forward."""
        if seconds < 0:
            raise ValueError("cannot move the clock backwards")
        self._offset += seconds

    def wall(self, at: float | None = None) -> datetime:
        """The UTC datetime of simulator time *at* (default: now)."""
        return self._epoch + timedelta(seconds=self.now() if at is None else at)

    def iso(self, at: float | None = None) -> str:
        """ISO 8601 with milliseconds and ``Z``, as the platform formats timestamps."""
        return iso(self.wall(at))


def iso(moment: datetime) -> str:
    """Format *moment* like the platform: ``2024-01-15T10:45:00.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp (``Z`` or offset); ``None`` if it is not one."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_CODES: dict[int, str] = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def error_code(status: int) -> str:
    """The UPPER_SNAKE code the simulator uses for an HTTP *status*."""
    return _CODES.get(status, "ERROR")


class ApiError(Exception):
    """An error the simulator answers with the spec's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or error_code(status)
        self.details = details
        self.headers: dict[str, str] = dict(headers or {})


def not_found(what: str) -> ApiError:
    """A 404 for a missing *what* (e.g. ``"Dataset"``)."""
    return ApiError(404, f"{what} not found")


def as_obj(value: Any) -> JSON | None:
    """*value* as a JSON object, or ``None`` when it is not one."""
    if isinstance(value, dict):
        return cast(JSON, value)
    return None


def as_list(value: Any) -> list[Any] | None:
    """*value* as a JSON array, or ``None`` when it is not one."""
    if isinstance(value, list):
        items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return items
    return None


def public(record: Mapping[str, Any], keys: Sequence[str] | None = None) -> JSON:
    """The wire view of a stored *record*: private ``_keys`` dropped, optionally projected."""
    if keys is None:
        return {k: v for k, v in record.items() if not k.startswith("_")}
    return {k: record.get(k) for k in keys}


_MISSING: Any = object()


class BodyReader:
    """Reads fields out of a JSON request body, collecting field errors for one 400."""

    def __init__(self, data: JSON) -> None:
        self.data = data
        self.errors: list[JSON] = []

    def _fail(self, key: str, message: str) -> None:
        self.errors.append({"field": key, "message": message})

    def has(self, key: str) -> bool:
        """Whether *key* is present (even as ``null``)."""
        return key in self.data

    def text(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
        enum: Iterable[str] | None = None,
        min_len: int = 0,
        max_len: int | None = None,
        aliases: Sequence[str] = (),
    ) -> str | None:
        """A string field; ``None`` when absent (or null and *nullable*)."""
        value = self._lookup(key, aliases)
        if value is _MISSING or (value is None and nullable):
            if required and value is _MISSING:
                self._fail(key, "is required")
            return None
        if not isinstance(value, str):
            self._fail(key, "must be a string")
            return None
        if len(value) < min_len:
            self._fail(key, "must not be empty" if min_len == 1 else f"too short (min {min_len})")
            return None
        if max_len is not None and len(value) > max_len:
            self._fail(key, f"too long (max {max_len})")
            return None
        if enum is not None:
            allowed = list(enum)
            if value not in allowed:
                self._fail(key, f"must be one of {', '.join(allowed)}")
                return None
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        aliases: Sequence[str] = (),
    ) -> int | None:
        """An integer field (JSON numbers with no fraction are accepted)."""
        value = self._lookup(key, aliases)
        if value is _MISSING or (value is None and nullable):
            if required and value is _MISSING:
                self._fail(key, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail(key, "must be an integer")
            return None
        if isinstance(value, float) and not value.is_integer():
            self._fail(key, "must be an integer")
            return None
        number = int(value)
        if minimum is not None and number < minimum:
            self._fail(key, f"must be >= {minimum}")
            return None
        if maximum is not None and number > maximum:
            self._fail(key, f"must be <= {maximum}")
            return None
        return number

    def flag(self, key: str, *, required: bool = False, nullable: bool = False) -> bool | None:
        """A boolean field."""
        value = self.data.get(key, _MISSING)
        if value is _MISSING or (value is None and nullable):
            if required and value is _MISSING:
                self._fail(key, "is required")
            return None
        if not isinstance(value, bool):
            self._fail(key, "must be a boolean")
            return None
        return value

    def mapping(
        self,
        key: str,
        *,
        required: bool = False,
        nullable: bool = False,
        aliases: Sequence[str] = (),
    ) -> JSON | None:
        """An object field."""
        value = self._lookup(key, aliases)
        if value is _MISSING or (value is None and nullable):
            if required and value is _MISSING:
                self._fail(key, "is required")
            return None
        found = as_obj(value)
        if found is None:
            self._fail(key, "must be an object")
        return found

    def array(self, key: str, *, required: bool = False) -> list[Any] | None:
        """An array field."""
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self._fail(key, "is required")
            return None
        found = as_list(value)
        if found is None:
            self._fail(key, "must be an array")
        return found

    def value(self, key: str, *, required: bool = False) -> Any:
        """Any JSON value (``None`` when absent)."""
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                self._fail(key, "is required")
            return None
        return value

    def _lookup(self, key: str, aliases: Sequence[str]) -> Any:
        if key in self.data:
            return self.data[key]
        for alias in aliases:
            if alias in self.data:
                return self.data[alias]
        return _MISSING

    def check(self) -> None:
        """Raise one 400 carrying every field error collected so far."""
        if self.errors:
            raise ApiError(400, "Invalid request body", details=list(self.errors))


COMMON_QUERY_ALIASES: dict[str, str] = {
    "page_size": "pageSize",
    "order_by": "orderBy",
    "order_direction": "orderDirection",
    "name_like": "nameLike",
    "dataset_ids": "datasetIds",
}
"""snake_case query names the official SDK sends, mapped to the spec names."""

_SNAKE = re.compile(r"_([a-z0-9])")


def camel(value: str) -> str:
    """``created_at`` → ``createdAt`` (values the official SDK sends in ``order_by``)."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), value)


class QueryReader:
    """Reads query parameters, accepting the official SDK's snake_case aliases.

    When both the spec name and an alias are present, the spec name wins.
    """

    def __init__(self, query: MultiMapping[str], aliases: Mapping[str, str] | None = None) -> None:
        self._query = query
        merged = dict(COMMON_QUERY_ALIASES)
        merged.update(aliases or {})
        self._aliases: dict[str, list[str]] = {}
        for alias, name in merged.items():
            self._aliases.setdefault(name, []).append(alias)
        self.errors: list[JSON] = []

    def _values(self, name: str) -> list[str]:
        values = list(self._query.getall(name, []))
        if values:
            return values
        for alias in self._aliases.get(name, []):
            values = list(self._query.getall(alias, []))
            if values:
                return values
        return []

    def get(self, name: str) -> str | None:
        """The first value of *name* (or of an alias)."""
        values = self._values(name)
        return values[0] if values else None

    def ids(self, name: str) -> list[str] | None:
        """A multi-value filter: comma-separated and/or repeated keys, merged."""
        values = self._values(name)
        if not values:
            return None
        out: list[str] = []
        for value in values:
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return out

    def integer(
        self, name: str, default: int | None, *, minimum: int = 1, maximum: int | None = None
    ) -> int | None:
        """An integer parameter within bounds (errors collected)."""
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            number = float(raw)
        except ValueError:
            self.errors.append({"field": name, "message": "must be an integer"})
            return default
        if not number.is_integer():
            self.errors.append({"field": name, "message": "must be an integer"})
            return default
        value = int(number)
        if value < minimum:
            self.errors.append({"field": name, "message": f"must be >= {minimum}"})
            return default
        if maximum is not None and value > maximum:
            self.errors.append({"field": name, "message": f"must be <= {maximum}"})
            return default
        return value

    def flag(self, name: str) -> bool | None:
        """``true``/``false`` (also ``1``/``0``); anything else is an error."""
        raw = self.get(name)
        if raw is None or raw == "":
            return None
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        self.errors.append({"field": name, "message": "must be true or false"})
        return None

    def enum(
        self, name: str, allowed: Sequence[str], default: str | None, *, camelize: bool = False
    ) -> str | None:
        """One value out of *allowed*."""
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        value = camel(raw) if camelize else raw
        if value not in allowed:
            self.errors.append({"field": name, "message": f"must be one of {', '.join(allowed)}"})
            return default
        return value

    def enums(self, name: str, allowed: Sequence[str]) -> list[str] | None:
        """A comma-separated list whose every value is in *allowed*."""
        values = self.ids(name)
        if values is None:
            return None
        bad = [v for v in values if v not in allowed]
        if bad:
            self.errors.append({"field": name, "message": f"must be among {', '.join(allowed)}"})
            return None
        return values

    def check(self) -> None:
        """Raise one 400 with every query error collected so far."""
        if self.errors:
            raise ApiError(400, "Invalid query parameters", details=list(self.errors))


@frozen
class ListSpec:
    """How one list endpoint pages and sorts (defaults from the OpenAPI document)."""

    order_by: tuple[str, ...] = ("createdAt",)
    default_order: str | None = "createdAt"
    default_direction: str = "asc"
    default_size: int = 10
    max_size: int = 1000
    sort_fields: Mapping[str, str] = field(factory=lambda: dict[str, str]())


def paginate(items: list[JSON], query: QueryReader, spec: ListSpec, *, sort: bool = True) -> JSON:
    """Sort and slice *items* into the spec's ``{items, pagination}`` envelope."""
    page = query.integer("page", 1) or 1
    size = query.integer("pageSize", spec.default_size, maximum=spec.max_size) or spec.default_size
    order = query.enum("orderBy", spec.order_by, spec.default_order, camelize=True)
    direction = query.enum("orderDirection", ("asc", "desc"), spec.default_direction)
    query.check()
    ordered = list(items)
    if sort:
        ordered.sort(key=lambda r: int(r.get("_seq", 0)))
        if order is not None:
            key = spec.sort_fields.get(order, order)
            present = [r for r in ordered if r.get(key) is not None]
            missing = [r for r in ordered if r.get(key) is None]
            present.sort(
                key=lambda r: (_sort_value(r.get(key)), int(r.get("_seq", 0))),
                reverse=direction == "desc",
            )
            ordered = present + missing
        elif direction == "desc":
            ordered.reverse()
    total = len(ordered)
    pages = (total + size - 1) // size
    start = (page - 1) * size
    return {
        "items": ordered[start : start + size],
        "pagination": {
            "page": page,
            "pageSize": size,
            "totalItems": total,
            "totalPages": pages,
            "hasNextPage": page < pages,
            "hasPreviousPage": page > 1,
        },
    }


def _sort_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    return value


def like(value: Any, pattern: str | None) -> bool:
    """Case-insensitive substring match (``nameLike`` filters); ``None`` matches all."""
    if pattern is None:
        return True
    return isinstance(value, str) and pattern.lower() in value.lower()
