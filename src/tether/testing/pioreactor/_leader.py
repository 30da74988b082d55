"""The simulated leader's state and machinery: its database, units, fan-out and MQTT side.

Everything the routes read or change lives here: experiments, the worker inventory and
assignments, unit labels, the logs and time-series tables (filled from MQTT, like upstream's
``mqtt_to_db_streaming``), profiles, config and exports; plus the simulated units and the task
queue. Routes (``_routes_*.py``) are thin HTTP adapters over this class.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from tether.testing.pioreactor._contract import Contract
from tether.testing.pioreactor._growth import Culture, Heater
from tether.testing.pioreactor._mqtt import MqttLink
from tether.testing.pioreactor._tasks import TaskStore
from tether.testing.pioreactor._units import SimUnit, UnitFault, UnitHttpError, UnitTaskFailed
from tether.testing.pioreactor._wire import (
    ApiError,
    as_dict,
    iso_ms,
    maybe_dict,
    parse_timestamp,
    utcnow,
)

__all__ = [
    "BROADCAST",
    "UNIVERSAL_EXPERIMENT",
    "Assignment",
    "Experiment",
    "HistoryRow",
    "Leader",
    "LogRow",
    "RecordedRequest",
    "Worker",
]

BROADCAST: Final = "$broadcast"
UNIVERSAL_EXPERIMENT: Final = "$experiment"
LEVELS: Final = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR")
TIME_SERIES_TABLES: Final[Mapping[str, tuple[str, ...]]] = {
    "od_readings": ("od_reading", "angle", "channel"),
    "raw_od_readings": ("od_reading", "angle", "channel"),
    "od_readings_fused": ("od_reading",),
    "od_readings_filtered": ("normalized_od_reading",),
    "growth_rates": ("rate",),
    "temperature_readings": ("temperature_c",),
    "stirring_rates": ("measured_rpm",),
    "led_change_events": ("channel", "intensity", "source_of_event"),
    "dosing_events": ("event", "volume_change_ml", "source_of_event"),
    "pwm_dcs": ("channel", "duty_cycle"),
    "alt_media_fractions": ("alt_media_fraction",),
    "liquid_volumes": ("liquid_volume",),
    "ir_led_intensities": ("relative_intensity",),
}
"""The app-database tables the generic time-series route can read, with their value columns."""


@attrs.frozen
class Experiment:
    """A row of the ``experiments`` table."""

    name: str
    created_at: str
    description: str = ""
    tags: tuple[str, ...] = ()
    delta_hours: float = 0.0
    media_used: str | None = None
    organism_used: str | None = None


@attrs.frozen
class Worker:
    """A row of the ``workers`` table (the inventory)."""

    unit: str
    added_at: str
    is_active: int = 1
    model_name: str | None = None
    model_version: str | None = None


@attrs.frozen
class Assignment:
    """A current experiment assignment."""

    unit: str
    experiment: str
    assigned_at: str


@attrs.frozen
class HistoryRow:
    """A row of ``experiment_worker_assignments_history``."""

    unit: str
    experiment: str
    assigned_at: str
    unassigned_at: str | None = None


@attrs.frozen
class RecordedRequest:
    """One HTTP request the simulator answered (no headers or bodies are kept)."""

    method: str
    path: str
    status: int


@attrs.frozen
class LogRow:
    """A row of the ``logs`` table."""

    timestamp: str
    level: str
    pioreactor_unit: str
    message: str
    task: str
    experiment: str

    def as_json(self) -> dict[str, Any]:
        """The row as the log routes return it."""
        return attrs.asdict(self)


UnitOp = Callable[[SimUnit], Awaitable[Any]]


class Leader:
    """The simulated leader: the state behind every route, and the simulated cluster."""

    def __init__(
        self,
        contract: Contract,
        unit_names: Iterable[str],
        *,
        time_scale: float,
        od_interval: float,
        task_latency: float,
        startup_grace: float,
        seed: int | None,
    ) -> None:
        self.contract = contract
        self.version = contract.version
        names = list(dict.fromkeys(unit_names))
        if not names:
            raise ValueError("a cluster needs at least one unit (the leader)")
        self.leader_unit = names[0]
        self.time_scale = time_scale
        self.od_interval = od_interval
        self._seed = seed
        self.rng = random.Random(seed)
        self.tasks = TaskStore(contract, self.leader_unit, task_latency)
        self.mqtt: MqttLink | None = None
        self.units: dict[str, SimUnit] = {
            name: SimUnit(
                name,
                self,
                rng=random.Random(f"{seed}-{name}") if seed is not None else random.Random(),
                startup_grace=startup_grace,
            )
            for name in names
        }
        now = iso_ms(utcnow())
        self.experiments: dict[str, Experiment] = {}
        self.workers: dict[str, Worker] = {
            name: Worker(name, now, 1, unit.model_name, unit.model_version)
            for name, unit in self.units.items()
        }
        self.assignments: dict[str, Assignment] = {}
        self.history: list[HistoryRow] = []
        self.labels: dict[str, dict[str, str]] = {}
        self.chart_prefs: dict[str, tuple[list[str] | None, list[str] | None]] = {}
        self.logs: list[LogRow] = []
        self.requests: list[RecordedRequest] = []
        """Every HTTP request answered, in order (method, path with query, status)."""
        self.series: dict[str, list[dict[str, Any]]] = {name: [] for name in TIME_SERIES_TABLES}
        self.profiles: dict[str, str] = {}
        self.config_shared = ""
        self.config_specific: dict[str, str] = {}
        self.config_history: list[dict[str, Any]] = []
        self.cultures: dict[tuple[str, str], Culture] = {}
        self.heaters: dict[tuple[str, str], Heater] = {}
        self._export_dir: Path | None = None
        self.units[self.leader_unit].add_static_row(
            "mqtt_to_db_streaming", UNIVERSAL_EXPERIMENT, long_running=True
        )

    @property
    def export_dir(self) -> Path:
        """Where export archives are written (a private temporary folder, made on first use)."""
        if self._export_dir is None:
            self._export_dir = Path(tempfile.mkdtemp(prefix="tether-pioreactor-exports-"))
        return self._export_dir

    # -- JobContext -------------------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        """Publish on the cluster broker (no-op before start / after stop)."""
        if self.mqtt is not None:
            await self.mqtt.publish(topic, payload, qos=qos, retain=retain)

    async def log(
        self, unit: str, experiment: str, task: str, level: str, message: str, source: str = "app"
    ) -> None:
        """Publish a log line as a job (or the API) does."""
        payload = {
            "source": source,
            "task": task,
            "message": message,
            "level": level,
            "timestamp": iso_ms(utcnow()),
        }
        await self.publish(
            f"pioreactor/{unit}/{experiment}/logs/{source}/{level.lower()}",
            json.dumps(payload, separators=(",", ":")).encode(),
            qos=0,
            retain=False,
        )

    async def ui_log(self, level: str, message: str) -> None:
        """A log line from the API itself (``source=ui``, task ``pioreactor-api``)."""
        await self.log(
            self.leader_unit, UNIVERSAL_EXPERIMENT, "pioreactor-api", level, message, "ui"
        )

    def hours(self, seconds: float) -> float:
        """Simulated hours for *seconds* of wall time (``time_scale`` sim-seconds per second)."""
        return seconds * self.time_scale / 3600.0

    def _rng_for(self, unit: str, experiment: str) -> random.Random:
        if self._seed is None:
            return random.Random()
        return random.Random(f"{self._seed}-{unit}-{experiment}")

    def culture(self, unit: str, experiment: str) -> Culture:
        """The culture of *unit* in *experiment* (created on first use)."""
        key = (unit, experiment)
        if key not in self.cultures:
            self.cultures[key] = Culture(self._rng_for(unit, experiment))
        return self.cultures[key]

    def heater(self, unit: str, experiment: str) -> Heater:
        """The heater model of *unit* in *experiment*."""
        key = (unit, experiment)
        if key not in self.heaters:
            self.heaters[key] = Heater(self._rng_for(unit, experiment))
        return self.heaters[key]

    def tick_seconds(self) -> float:
        """Wall seconds between OD (and other periodic) readings."""
        return self.od_interval

    def od_reading_running(self, unit: str, experiment: str) -> bool:
        """Whether *unit* runs od_reading in *experiment*."""
        sim = self.units.get(unit)
        job = sim.running_job("od_reading") if sim is not None else None
        return job is not None and job.experiment == experiment and job.state == "ready"

    # -- inventory --------------------------------------------------------------------------------

    def all_units(self) -> list[str]:
        """``get_all_units``: the leader plus every worker."""
        return list(dict.fromkeys([self.leader_unit, *self.workers]))

    def workers_in(self, experiment: str) -> list[str]:
        """Workers assigned to *experiment* (every worker for ``$experiment``)."""
        if experiment == UNIVERSAL_EXPERIMENT:
            return list(self.workers)
        return [a.unit for a in self.assignments.values() if a.experiment == experiment]

    def worker_count(self, experiment: str) -> int:
        """How many workers are assigned to *experiment*."""
        return sum(1 for a in self.assignments.values() if a.experiment == experiment)

    def require_registered_unit(self, unit: str) -> None:
        """400 ``Unknown Pioreactor unit`` unless *unit* is the leader or a worker."""
        if unit not in self.all_units():
            raise ApiError(
                400,
                f"Unknown Pioreactor unit: {unit}",
                cause="The requested unit is not registered in this cluster.",
                remediation="Choose $broadcast, the leader, or a Pioreactor unit from inventory.",
            )

    def require_registered_worker(self, unit: str) -> None:
        """400 ``Unknown Pioreactor worker`` unless *unit* is a worker."""
        if unit not in self.workers:
            raise ApiError(
                400,
                f"Unknown Pioreactor worker: {unit}",
                cause="The requested worker is not registered in this cluster.",
                remediation="Choose $broadcast or a worker from inventory.",
            )

    async def publish_assignment(self, unit: str, when: str | None = None) -> None:
        """Publish the retained ``pioreactor/<unit>/$experiment/assignment`` message."""
        now = when or iso_ms(utcnow())
        current = self.assignments.get(unit)
        payload = {
            "pioreactor_unit": unit,
            "experiment": current.experiment if current else None,
            "assigned_at": current.assigned_at if current else None,
            "updated_at": now,
        }
        await self.publish(
            f"pioreactor/{unit}/{UNIVERSAL_EXPERIMENT}/assignment",
            json.dumps(payload, separators=(",", ":")).encode(),
            qos=0,
            retain=True,
        )

    async def assign(self, unit: str, experiment: str) -> None:
        """Assign *unit* to *experiment*, stopping its jobs in a previous experiment."""
        previous = self.assignments.get(unit)
        now = iso_ms(utcnow())
        if previous is not None:
            if previous.experiment == experiment:
                return
            await self._close_history(unit, previous.experiment, now)
            sim = self.units.get(unit)
            if sim is not None:
                await sim.stop_jobs(experiment=previous.experiment)
        self.assignments[unit] = Assignment(unit, experiment, now)
        self.history.append(HistoryRow(unit, experiment, now))
        await self.publish_assignment(unit, now)

    async def unassign(self, unit: str, *, stop_jobs: bool = True) -> None:
        """Remove *unit* from its experiment (and stop its jobs there)."""
        previous = self.assignments.pop(unit, None)
        if previous is None:
            return
        await self._close_history(unit, previous.experiment, iso_ms(utcnow()))
        sim = self.units.get(unit)
        if stop_jobs and sim is not None:
            await sim.stop_jobs(experiment=previous.experiment)
        await self.publish_assignment(unit)

    async def _close_history(self, unit: str, experiment: str, when: str) -> None:
        for index, row in enumerate(self.history):
            if row.unit == unit and row.experiment == experiment and row.unassigned_at is None:
                self.history[index] = attrs.evolve(row, unassigned_at=when)

    # -- fan-out ----------------------------------------------------------------------------------

    async def fanout(self, units: list[str], method: str, path: str, op: UnitOp) -> dict[str, Any]:
        """Call *op* on each unit as the leader's multicast tasks do, and aggregate.

        26.5.3+ gives ``{unit: {ok, unit, value | error, …}}``; older versions the raw value,
        ``None`` for a unit that failed.
        """
        answers = await asyncio.gather(*(self._call_unit(u, method, path, op) for u in units))
        return dict(zip(units, answers, strict=True))

    async def _call_unit(self, unit: str, method: str, path: str, op: UnitOp) -> Any:
        sim = self.units.get(unit)
        envelopes = self.contract.envelopes
        if sim is None or not sim.reachable:
            await asyncio.sleep(0)
            if not envelopes:
                return None
            preposition = "from" if method == "GET" else "to"
            return {
                "ok": False,
                "unit": unit,
                "error": {
                    "kind": "connection_error",
                    "message": f"Could not {method} {preposition} {unit}'s {path}.",
                },
                "status_code": None,
                "retryable": True,
            }
        try:
            fault = sim.fault
            if fault is not None:
                raise UnitHttpError(fault.status, fault.message, fault.cause, fault.remediation)
            value = await op(sim)
        except UnitHttpError as exc:
            if not envelopes:
                return None
            error: dict[str, Any] = {
                "kind": "http_error",
                "message": exc.message,
                "cause": exc.cause,
            }
            if exc.remediation:
                error["remediation"] = exc.remediation
            return {
                "ok": False,
                "unit": unit,
                "error": error,
                "status_code": exc.status,
                "retryable": exc.status >= 500,
            }
        except UnitTaskFailed as exc:
            if not envelopes:
                return None
            return {
                "ok": False,
                "unit": unit,
                "error": {
                    "kind": "task_failed",
                    "message": str(exc),
                    "cause": "Huey task failed with an exception.",
                    "remediation": "Check logs and retry.",
                },
                "status_code": 200,
                "retryable": False,
            }
        if not envelopes:
            return value
        mapping = as_dict(value)
        if mapping.get("status") == "success":
            value = {k: v for k, v in mapping.items() if k != "status"}
        return {"ok": True, "unit": unit, "value": value}

    # -- MQTT: jobs' subscriptions and mqtt_to_db_streaming ---------------------------------------

    SUBSCRIPTIONS: Final = (
        ("pioreactor/+/+/+/+/set", 1),
        ("pioreactor/+/+/logs/#", 1),
        ("pioreactor/+/+/od_reading/+", 1),
        ("pioreactor/+/+/growth_rate_calculating/+", 1),
        ("pioreactor/+/+/temperature_automation/temperature", 1),
        ("pioreactor/+/+/stirring/measured_rpm", 1),
        ("pioreactor/+/+/led_change_events", 1),
    )

    async def on_message(self, topic: str, payload: bytes, retain: bool) -> None:
        """Route one broker message to the jobs (``/set``) or into the database tables."""
        parts = topic.split("/")
        if len(parts) < 4 or parts[0] != "pioreactor":
            return
        unit, experiment = parts[1], parts[2]
        if len(parts) == 6 and parts[5] == "set":
            if not retain:  # jobs ignore retained commands delivered on subscribe
                await self._dispatch_set(unit, experiment, parts[3], parts[4], payload)
            return
        if parts[3] == "logs":
            await self._store_log(unit, experiment, payload)
            return
        if not payload:
            return
        try:
            data: Any = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        mapping = maybe_dict(data)
        if mapping is not None:
            self._store_data(unit, experiment, "/".join(parts[3:]), mapping)

    async def _dispatch_set(
        self, unit: str, experiment: str, job_name: str, setting: str, payload: bytes
    ) -> None:
        targets = list(self.units.values()) if unit == BROADCAST else [self.units.get(unit)]
        for sim in targets:
            if sim is None:
                continue
            job = sim.running_job(job_name)
            if job is not None and job.experiment == experiment:
                await job.on_set(setting, payload)

    async def _store_log(self, unit: str, experiment: str, payload: bytes) -> None:
        try:
            data: Any = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return
        entry = maybe_dict(data)
        if entry is None:
            return
        stamp = parse_timestamp(str(entry.get("timestamp", "")))
        if stamp is None:
            await self.log(
                self.leader_unit,
                UNIVERSAL_EXPERIMENT,
                "mqtt_to_db_streaming",
                "WARNING",
                "Encountered error in saving to DB: Invalid RFC3339 encoded datetime - at "
                "`$.timestamp`.",
            )
            return
        self.logs.append(
            LogRow(
                timestamp=iso_ms(stamp),
                level=str(entry.get("level", "INFO")),
                pioreactor_unit=unit,
                message=str(entry.get("message", "")),
                task=str(entry.get("task", "")),
                experiment=experiment,
            )
        )

    def _store_data(self, unit: str, experiment: str, what: str, data: dict[str, Any]) -> None:
        stamp = parse_timestamp(str(data.get("timestamp", "")))
        if stamp is None:
            return
        row: dict[str, Any] = {
            "experiment": experiment,
            "pioreactor_unit": unit,
            "timestamp": iso_ms(stamp),
        }
        if what.startswith("od_reading/od") and what[-1:].isdigit() and "od" in data:
            row.update(
                od_reading=float(data["od"]),
                angle=int(data.get("angle", 90)),
                channel=int(data.get("channel", what[-1])),
            )
            table = "od_readings"
        elif what.startswith("od_reading/raw_od") and "od" in data:
            row.update(
                od_reading=float(data["od"]),
                angle=int(data.get("angle", 90)),
                channel=int(data.get("channel", what[-1])),
            )
            table = "raw_od_readings"
        elif what == "growth_rate_calculating/growth_rate" and "growth_rate" in data:
            row["rate"] = float(data["growth_rate"])
            table = "growth_rates"
        elif what == "growth_rate_calculating/od_filtered" and "od_filtered" in data:
            row["normalized_od_reading"] = float(data["od_filtered"])
            table = "od_readings_filtered"
        elif what == "temperature_automation/temperature" and "temperature" in data:
            row["temperature_c"] = float(data["temperature"])
            table = "temperature_readings"
        elif what == "stirring/measured_rpm" and "measured_rpm" in data:
            row["measured_rpm"] = float(data["measured_rpm"])
            table = "stirring_rates"
        elif what == "led_change_events" and "channel" in data:
            row.update(
                channel=str(data["channel"]),
                intensity=float(data.get("intensity", 0.0)),
                source_of_event=str(data.get("source_of_event", "")),
            )
            table = "led_change_events"
        else:
            return
        self.series[table].append(row)

    # -- control ----------------------------------------------------------------------------------

    def unit(self, name: str) -> SimUnit:
        """The simulated unit *name* (KeyError if it is not simulated)."""
        try:
            return self.units[name]
        except KeyError:
            raise KeyError(f"no simulated unit {name!r}; units: {', '.join(self.units)}") from None

    def set_fault(self, unit: str, fault: UnitFault | None) -> None:
        """Make every call to *unit* answer *fault* (None clears it)."""
        self.unit(unit).fault = fault

    async def close(self) -> None:
        """Stop job loops and tasks, remove exports."""
        await self.tasks.close()
        for sim in self.units.values():
            await sim.close()
        folder, self._export_dir = self._export_dir, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
