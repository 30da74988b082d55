"""Typed models of the ABEJA Platform Run API: :class:`Run`, :class:`RunStatus`, :class:`LogEvent`.

Models keep the object as the platform sent it in ``raw``. Unstructuring a model with the
platform's converter (:func:`abeja_converter`) gives the wire dict back: fields left unchanged
are re-emitted exactly as received (a JSON-encoded ``input_data`` stays a string, timestamps
keep their text), fields tether does not model are kept, and changed fields are written in the
platform's format. That is how the drop-in :class:`~tether.abeja.APIClient` returns the same
dicts as the official SDK while being built on these models.

Example::

    run = await client.runs.retrieve(deployment_id, run_id)
    run.status is RunStatus.RUNNING, run.created_at, run.model_id
    client.converter.unstructure(run)   # the dict the platform sent
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, cast

import attrs
import cattrs

from tether._core.models import OpenEnum, decode_datetime, json_object, make_converter

__all__ = [
    "TERMINAL_STATUSES",
    "LogEvent",
    "Run",
    "RunStatus",
    "abeja_converter",
    "format_timestamp",
]


class RunStatus(OpenEnum):
    """The status of a run, in the documented order.

    ``SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING → SUCCEEDED | FAILED``. A status the
    platform adds later is kept as a value (``RunStatus("ARCHIVED").known is False``), not an
    error.
    """

    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def done(self) -> bool:
        """Whether the run has ended (``SUCCEEDED`` or ``FAILED``); it never changes again."""
        return self.value in _TERMINAL_VALUES


_TERMINAL_VALUES: Final = frozenset({"SUCCEEDED", "FAILED"})
TERMINAL_STATUSES: Final = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED})
"""The statuses a run never leaves."""


def _empty() -> dict[str, Any]:
    return {}


@attrs.frozen(kw_only=True)
class Run:
    """One run of a deployment version.

    Attributes:
        run_id: ``run-`` followed by 16 digits.
        status: where the run is (:class:`RunStatus`).
        deployment_id: the deployment it belongs to.
        model_version: the version name (``"0.0.3"``).
        model_version_id: the version id it runs (``"ver-…"``).
        models: ``{"alias": model_id}`` when a model was given, else ``{}``.
        input_data: ``{"<operator>:<version>": "<payload>"}``; a JSON-encoded string from
            the platform is decoded (a string that is not a JSON object is kept as is).
        output_template: like ``input_data``, or ``None``.
        retry_count: attempts the platform makes (0–9; 5 by default).
        user_env_vars: the environment the run's code sees.
        distribution: the distribution key, when the platform says.
        created_at: when the run was created (UTC).
        modified_at: when it last changed (UTC).
        raw: the run as the platform sent it (fields tether does not model are here too).
    """

    run_id: str
    status: RunStatus
    deployment_id: str | None = None
    model_version: str | None = None
    model_version_id: str | None = None
    models: dict[str, Any] = attrs.field(factory=_empty)
    input_data: dict[str, Any] | str | None = None
    output_template: dict[str, Any] | str | None = None
    retry_count: int | None = None
    user_env_vars: dict[str, Any] = attrs.field(factory=_empty)
    distribution: int | None = None
    created_at: datetime | None = None
    modified_at: datetime | None = None
    raw: Mapping[str, Any] = attrs.field(factory=_empty, eq=False, repr=False)

    @property
    def model_id(self) -> str | None:
        """The model the run uses (``models["alias"]``), if any."""
        alias = self.models.get("alias")
        return alias if isinstance(alias, str) else None

    @property
    def done(self) -> bool:
        """Whether the run has ended."""
        return self.status.done


@attrs.frozen(kw_only=True)
class LogEvent:
    """One line a run wrote.

    Attributes:
        message: the text.
        timestamp: when it was written (UTC).
        raw: the event as the platform sent it.
    """

    message: str
    timestamp: datetime
    raw: Mapping[str, Any] = attrs.field(factory=_empty, eq=False, repr=False)

    def __str__(self) -> str:
        return f"{format_timestamp(self.timestamp)} {self.message}"


# --- wire formats ------------------------------------------------------------------------------


def format_timestamp(value: datetime) -> str:
    """A datetime in the platform's format, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (naive = UTC)."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_timestamp(value: Any) -> datetime:
    parsed = decode_datetime(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _optional_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{key} must be a string, got {type(value).__name__}")


def _optional_int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError(f"{key} must be an integer, got {type(value).__name__}")


def _str_map(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    found = json_object(value)
    if found is None:
        raise TypeError(f"{key} must be an object, got {type(value).__name__}")
    return dict(found)


def _operator_map(value: Any, key: str) -> dict[str, Any] | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        found = json_object(decoded)
        return dict(found) if found is not None else value
    found = json_object(value)
    if found is None:
        raise TypeError(f"{key} must be an object or a JSON string, got {type(value).__name__}")
    return dict(found)


def _timestamp_or_none(obj: Mapping[str, Any], key: str) -> datetime | None:
    value = obj.get(key)
    return None if value is None else _parse_timestamp(value)


def _object(data: Any, what: str) -> dict[str, Any]:
    found = json_object(data)
    if found is None:
        raise TypeError(f"a {what} must be a JSON object, got {type(data).__name__}")
    return found


def structure_run(data: Any) -> Run:
    """Build a :class:`Run` from the platform's JSON object."""
    obj = _object(data, "run")
    run_id = obj.get("run_id")
    status = obj.get("status")
    if not isinstance(run_id, str) or not isinstance(status, str):
        raise TypeError("a run needs string run_id and status")
    return Run(
        run_id=run_id,
        status=RunStatus(status),
        deployment_id=_optional_str(obj, "deployment_id"),
        model_version=_optional_str(obj, "model_version"),
        model_version_id=_optional_str(obj, "model_version_id"),
        models=_str_map(obj, "models"),
        input_data=_operator_map(obj.get("input_data"), "input_data"),
        output_template=_operator_map(obj.get("output_template"), "output_template"),
        retry_count=_optional_int(obj, "retry_count"),
        user_env_vars=_str_map(obj, "user_env_vars"),
        distribution=_optional_int(obj, "distribution"),
        created_at=_timestamp_or_none(obj, "created_at"),
        modified_at=_timestamp_or_none(obj, "modified_at"),
        raw=obj,
    )


def structure_log_event(data: Any) -> LogEvent:
    """Build a :class:`LogEvent` from the platform's JSON object."""
    obj = _object(data, "log event")
    message = obj.get("message")
    if not isinstance(message, str):
        raise TypeError("a log event needs a string message")
    return LogEvent(message=message, timestamp=_parse_timestamp(obj.get("timestamp")), raw=obj)


def _copy(value: Any) -> Any:
    """A copy of a JSON value, so a returned dict never aliases a model's ``raw``."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in cast(dict[str, Any], value).items()}
    if isinstance(value, list):
        return [_copy(v) for v in cast(list[object], value)]
    return value


def _wire_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, OpenEnum):
        return value.value
    return _copy(value)


# How each modelled field reads its raw value, to tell "unchanged" from "changed" when the
# natural wire form differs from what was received (timestamps, JSON-encoded strings).
_RUN_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    "created_at": lambda v: None if v is None else _parse_timestamp(v),
    "modified_at": lambda v: None if v is None else _parse_timestamp(v),
    "input_data": lambda v: _operator_map(v, "input_data"),
    "output_template": lambda v: _operator_map(v, "output_template"),
}
_RUN_FIELDS: Final = tuple(a.name for a in attrs.fields(Run) if a.name != "raw")
_RUN_OMIT_WHEN_UNSET: Final = frozenset({"distribution"})
_EVENT_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {"timestamp": _parse_timestamp}
_EVENT_FIELDS: Final = ("message", "timestamp")


def _unchanged(raw: Any, value: Any, decoder: Callable[[Any], Any] | None) -> bool:
    """Whether *value* is what *raw* decodes to (so *raw* can be re-emitted as it came)."""
    if decoder is not None:
        try:
            return bool(decoder(raw) == value)
        except (TypeError, ValueError):
            return False
    if isinstance(value, OpenEnum):
        return bool(value.value == raw)
    return bool(value == raw)


def _defaults(cls: type[Any]) -> dict[str, Callable[[], Any]]:
    """Each field's default, as a function (attrs factories are called each time)."""
    found: dict[str, Callable[[], Any]] = {}
    for field in attrs.fields(cls):
        default: Any = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            found[field.name] = default.factory
        elif default is not attrs.NOTHING:
            found[field.name] = functools.partial(_identity, default)
    return found


def _identity(value: Any) -> Any:
    return value


_RUN_DEFAULTS: Final = _defaults(Run)
_EVENT_DEFAULTS: Final = _defaults(LogEvent)


def _unset(model: Any, key: str, defaults: Mapping[str, Callable[[], Any]]) -> bool:
    """Whether a field still has its default (``None``, or an empty ``models`` …)."""
    value = getattr(model, key)
    default = defaults.get(key)
    return value is None or (default is not None and bool(value == default()))


def _unstructure(
    model: Any,
    fields: tuple[str, ...],
    decoders: Mapping[str, Callable[[Any], Any]],
    defaults: Mapping[str, Callable[[], Any]],
    omit_when_unset: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    raw: Mapping[str, Any] = model.raw
    known = set(fields)
    out: dict[str, Any] = {}
    for key, original in raw.items():  # the platform's key order first
        if key not in known:
            out[key] = _copy(original)  # a field tether does not model: kept as sent
            continue
        value = getattr(model, key)
        if _unchanged(original, value, decoders.get(key)):
            out[key] = _copy(original)
        else:
            out[key] = _wire_value(value)
    for key in fields:
        if key in raw:
            continue
        if (raw or key in omit_when_unset) and _unset(model, key, defaults):
            continue  # absent on the wire and still unset: stays absent
        out[key] = _wire_value(getattr(model, key))
    return out


def unstructure_run(run: Run) -> dict[str, Any]:
    """The wire dict of a :class:`Run` (see the module docstring)."""
    return _unstructure(run, _RUN_FIELDS, _RUN_DECODERS, _RUN_DEFAULTS, _RUN_OMIT_WHEN_UNSET)


def unstructure_log_event(event: LogEvent) -> dict[str, Any]:
    """The wire dict of a :class:`LogEvent`."""
    return _unstructure(event, _EVENT_FIELDS, _EVENT_DECODERS, _EVENT_DEFAULTS)


def abeja_converter() -> cattrs.Converter:
    """The converter of the ABEJA platform: snake_case, with the run and log event formats."""
    converter = make_converter("snake")
    converter.register_structure_hook(Run, lambda data, _: structure_run(data))
    converter.register_unstructure_hook(Run, unstructure_run)
    converter.register_structure_hook(LogEvent, lambda data, _: structure_log_event(data))
    converter.register_unstructure_hook(LogEvent, unstructure_log_event)
    return converter
