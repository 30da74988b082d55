"""Typed models of the Pioreactor leader API.

Known shapes are attrs models; free-form data the server derives from YAML or ini files
(calibrations, profiles, descriptors, config) stays a typed raw value (``dict[str, Any]`` or
``str``). Unknown fields are ignored, so newer leaders never break older clients.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from tether._core.errors import TetherError
from tether._core.models import OpenEnum

__all__ = [
    "BackgroundJobState",
    "CalibrationProtocol",
    "Experiment",
    "ExperimentProfileFile",
    "ExportResult",
    "ExportableDataset",
    "FanOut",
    "FanOutError",
    "Health",
    "LogEntry",
    "LogLevel",
    "ModelInfo",
    "Point",
    "RunningJob",
    "TimeSeries",
    "UnitError",
    "UnitResult",
    "Worker",
    "WorkerAssignment",
]

T = TypeVar("T")


class LogLevel(OpenEnum):
    """Log levels, lowest first."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    NOTICE = "NOTICE"
    WARNING = "WARNING"
    ERROR = "ERROR"


class BackgroundJobState(OpenEnum):
    """A background job's ``$state``, as published on MQTT (``init`` → ``ready`` → …)."""

    INIT = "init"
    READY = "ready"
    SLEEPING = "sleeping"
    DISCONNECTED = "disconnected"
    LOST = "lost"


@attrs.frozen
class Experiment:
    """An experiment (older leaders send fewer fields; missing ones are ``None``)."""

    experiment: str
    created_at: datetime | None = None
    description: str | None = None
    delta_hours: float | None = None
    worker_count: int | None = None
    tags: list[str] = attrs.field(factory=lambda: list[str]())

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.experiment


@attrs.frozen
class Worker:
    """A unit in the leader's inventory."""

    pioreactor_unit: str
    is_active: bool = True
    added_at: datetime | None = None
    model_name: str | None = None
    model_version: str | None = None
    ipv4_address: str | None = None

    @property
    def name(self) -> str:
        """The unit's name."""
        return self.pioreactor_unit


@attrs.frozen
class WorkerAssignment:
    """A worker and the experiment it is assigned to (``None``: unassigned)."""

    pioreactor_unit: str
    is_active: bool = True
    experiment: str | None = None
    model_name: str | None = None
    model_version: str | None = None


@attrs.frozen
class RunningJob:
    """A row of the unit's job table (``jobs/running``)."""

    job_name: str
    unit: str
    experiment: str
    job_id: int | None = None
    job_source: str | None = None
    started_at: datetime | None = None
    is_running: bool = True
    leader: str | None = None
    pid: int | None = None
    is_long_running_job: bool = False
    ended_at: datetime | None = None


@attrs.frozen
class LogEntry:
    """A stored log line (``GET …/logs``)."""

    timestamp: datetime
    message: str
    level: LogLevel = LogLevel.INFO
    pioreactor_unit: str | None = None
    task: str | None = None
    experiment: str | None = None
    source: str | None = None


@attrs.frozen
class Point:
    """One sample of a time series."""

    x: datetime
    y: float


@attrs.frozen
class TimeSeries:
    """A time series answer: ``data[i]`` belongs to ``series[i]`` (``unit`` or ``unit-channel``)."""

    series: list[str] = attrs.field(factory=lambda: list[str]())
    data: list[list[Point]] = attrs.field(factory=lambda: list[list[Point]]())

    def by_series(self) -> dict[str, list[Point]]:
        """``{series name: points}``."""
        return dict(zip(self.series, self.data, strict=False))


@attrs.frozen
class Health:
    """``GET /unit_api/health``."""

    status: str
    pioreactor_unit: str | None = None
    utc_time: datetime | None = None


@attrs.frozen
class ModelInfo:
    """A Pioreactor hardware model (``GET /api/models``)."""

    model_name: str
    model_version: str
    display_name: str | None = None
    reactor_capacity_ml: float | None = None
    reactor_max_fill_volume_ml: float | None = None
    is_legacy: bool = False
    is_contrib: bool = False


@attrs.frozen
class ExportResult:
    """The outcome of a dataset export: the archive's file name on the leader."""

    filename: str
    result: bool = True
    msg: str | None = None


@attrs.frozen
class ExportableDataset:
    """A dataset the leader can export (``GET /api/datasets/exportable``)."""

    dataset_name: str
    display_name: str | None = None
    description: str | None = None
    has_experiment: bool = False
    has_unit: bool = False
    default_order_by: str | None = None
    table: str | None = None
    query: str | None = None
    source: str | None = None
    timestamp_columns: list[str] = attrs.field(factory=lambda: list[str]())
    always_partition_by_unit: bool = False
    column_descriptions: dict[str, str] = attrs.field(factory=lambda: dict[str, str]())
    column_units: dict[str, str] = attrs.field(factory=lambda: dict[str, str]())

    @property
    def name(self) -> str:
        """The dataset's name, as :meth:`AsyncDatasets.export` takes it."""
        return self.dataset_name


@attrs.frozen
class CalibrationProtocol:
    """A calibration protocol a unit offers (``…/calibration_protocols``)."""

    id: str
    target_device: str
    protocol_name: str
    priority: int | None = None
    title: str | None = None
    description: str | None = None
    requirements: list[str] = attrs.field(factory=lambda: list[str]())


@attrs.frozen
class ExperimentProfileFile:
    """An experiment profile on the leader: its file name and parsed content."""

    file: str
    experiment_profile: dict[str, Any] = attrs.field(
        factory=lambda: dict[str, Any](), metadata={"wire": "experimentProfile"}
    )
    fullpath: str | None = None


@attrs.frozen
class UnitError:
    """Why one unit of a fan-out failed.

    ``kind`` is ``connection_error``, ``http_error``, ``task_failed``, ``task_timeout``, … (or
    ``unknown`` on leaders older than 26.5.3, which only send ``null``).
    """

    kind: str
    message: str
    cause: str | None = None
    remediation: str | None = None


@attrs.frozen
class UnitResult(Generic[T]):
    """One unit's part of a fan-out task."""

    unit: str
    ok: bool
    value: T | None = None
    error: UnitError | None = None
    status_code: int | None = None
    retryable: bool = False


class FanOutError(TetherError):
    """At least one unit of a fan-out failed (the task itself said it succeeded)."""

    def __init__(self, failures: Mapping[str, UnitResult[Any]]) -> None:
        self.failures = dict(failures)
        parts: list[str] = []
        for unit, result in self.failures.items():
            error = result.error
            parts.append(f"{unit}: {error.kind}: {error.message}" if error else f"{unit}: failed")
        super().__init__(f"{len(parts)} unit(s) failed — " + "; ".join(parts))


@attrs.frozen
class FanOut(Generic[T], Mapping[str, UnitResult[T]]):
    """The per-unit results of a task sent to several units, keyed by unit name.

    A fan-out task reports ``succeeded`` even when some units failed: check :attr:`ok`, read
    :attr:`failures`, or call :meth:`raise_for_failures`.

    Example::

        running = await client.jobs.running()
        for unit, jobs in running.values_by_unit().items():
            print(unit, [j.job_name for j in jobs])
    """

    results: dict[str, UnitResult[T]] = attrs.field(factory=lambda: dict[str, UnitResult[T]]())

    def __getitem__(self, unit: str) -> UnitResult[T]:
        return self.results[unit]

    def __iter__(self) -> Iterator[str]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> bool:
        """Whether every unit succeeded."""
        return all(r.ok for r in self.results.values())

    @property
    def failures(self) -> dict[str, UnitResult[T]]:
        """The units that failed."""
        return {u: r for u, r in self.results.items() if not r.ok}

    def values_by_unit(self) -> dict[str, T]:
        """The value of every unit that succeeded."""
        return {u: r.value for u, r in self.results.items() if r.ok and r.value is not None}

    def raise_for_failures(self) -> FanOut[T]:
        """Raise :class:`FanOutError` if any unit failed; return ``self`` otherwise."""
        failures = self.failures
        if failures:
            raise FanOutError(failures)
        return self
