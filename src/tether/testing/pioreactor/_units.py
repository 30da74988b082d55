"""One simulated Pioreactor: its jobs, job records, calibrations and injected faults.

The leader reaches units through :meth:`SimUnit.call` (its fan-out), which plays the network:
an unreachable unit gives ``connection_error``, an injected fault gives ``http_error``, and the
unit's own answer otherwise. Operations raise :class:`UnitHttpError` (the unit answered ≥ 400)
or :class:`UnitTaskFailed` (the unit's own task failed).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from typing import Any, Final

import attrs

from tether.testing.pioreactor._jobs import (
    ONE_SHOT_JOBS,
    PUMP_DEVICES,
    JobContext,
    SimJob,
    job_specs,
)
from tether.testing.pioreactor._wire import iso_ms, utcnow

__all__ = ["DEFAULT_DEVICES", "JobRow", "SimUnit", "UnitFault", "UnitHttpError", "UnitTaskFailed"]

DEFAULT_DEVICES: Final = (
    "stirring",
    "media_pump",
    "waste_pump",
    "alt_media_pump",
    "od45",
    "od90",
    "od135",
)
"""Calibration folders that exist on a fresh unit (as ``leader.sh`` creates them)."""

RUN_DEBOUNCE_SECONDS: Final = 1.0


class UnitHttpError(Exception):
    """The unit answered with an HTTP error (message, cause, remediation from its body)."""

    def __init__(
        self, status: int, message: str, cause: str | None = None, remediation: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.cause = cause or message
        self.remediation = remediation


class UnitTaskFailed(Exception):
    """The unit's own task ended ``failed`` (for example a job that exits during start-up)."""


@attrs.frozen
class UnitFault:
    """An HTTP error every call to a unit answers with, until cleared."""

    status: int
    message: str
    cause: str | None = None
    remediation: str | None = None


@attrs.frozen
class JobRow:
    """A row of the unit's job-metadata table (``jobs/running``)."""

    job_id: int
    unit: str
    experiment: str
    job_name: str
    job_source: str
    started_at: str
    is_running: int
    leader: str
    pid: int
    is_long_running_job: int
    ended_at: str | None

    def as_json(self) -> dict[str, Any]:
        """The row as the API returns it."""
        return attrs.asdict(self)


class SimUnit:
    """A simulated unit. Create it through the simulator (``units=``)."""

    def __init__(
        self,
        name: str,
        context: JobContext,
        *,
        rng: random.Random,
        startup_grace: float,
        model_name: str = "pioreactor_40ml",
        model_version: str = "1.5",
    ) -> None:
        self.name = name
        self.context = context
        self.rng = rng
        self.startup_grace = startup_grace
        self.model_name = model_name
        self.model_version = model_version
        self.reachable = True
        self.fault: UnitFault | None = None
        self.jobs: list[SimJob] = []
        self.static_rows: list[JobRow] = []
        self._next_job_id = 1
        self._last_run: dict[str, float] = {}
        self.calibrations: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in DEFAULT_DEVICES}
        self.active_calibrations: dict[str, str] = {}
        self.estimators: dict[str, dict[str, dict[str, Any]]] = {}
        self.active_estimators: dict[str, str] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.plugins: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        running = [job.name for job in self.running_jobs()]
        return f"<SimUnit {self.name} reachable={self.reachable} running={running}>"

    # -- job records ------------------------------------------------------------------------------

    def allocate_job_id(self) -> int:
        """The next job id of this unit."""
        job_id = self._next_job_id
        self._next_job_id += 1
        return job_id

    def add_static_row(self, job_name: str, experiment: str, *, long_running: bool) -> None:
        """Record a job that is not simulated (the leader's ``mqtt_to_db_streaming``)."""
        self.static_rows.append(
            JobRow(
                job_id=self.allocate_job_id(),
                unit=self.name,
                experiment=experiment,
                job_name=job_name,
                job_source="user",
                started_at=iso_ms(utcnow()),
                is_running=1,
                leader=self.context.leader_unit,
                pid=self.rng.randint(2_000, 60_000),
                is_long_running_job=int(long_running),
                ended_at=None,
            )
        )

    def running_jobs(self) -> list[SimJob]:
        """Jobs recorded as running (crashed ones included, as upstream keeps them)."""
        return [job for job in self.jobs if job.is_running]

    def running_job(self, job_name: str) -> SimJob | None:
        """The running job called *job_name*, if any."""
        for job in self.jobs:
            if job.is_running and job.name == job_name:
                return job
        return None

    def job_rows(self, *, running_only: bool = True) -> list[JobRow]:
        """Job-metadata rows, oldest first."""
        rows = [row for row in self.static_rows if row.is_running or not running_only]
        for job in self.jobs:
            if running_only and not job.is_running:
                continue
            rows.append(
                JobRow(
                    job_id=job.job_id,
                    unit=self.name,
                    experiment=job.experiment,
                    job_name=job.name,
                    job_source=job.job_source,
                    started_at=iso_ms(job.started_at),
                    is_running=int(job.is_running),
                    leader=job.record_leader,
                    pid=job.pid,
                    is_long_running_job=0,
                    ended_at=iso_ms(job.ended_at) if job.ended_at is not None else None,
                )
            )
        return sorted(rows, key=lambda row: row.job_id)

    # -- jobs -------------------------------------------------------------------------------------

    def check_run_rate(self, job_name: str) -> None:
        """The 1 s per-job debounce of ``/unit_api/jobs/run`` (429; rejections don't reset it)."""
        now = time.monotonic()
        last = self._last_run.get(job_name)
        if last is not None and now - last < RUN_DEBOUNCE_SECONDS:
            raise UnitHttpError(429, "Too many requests, please try again later.")
        self._last_run[job_name] = now

    async def run_job(self, job_name: str, experiment: str, body: Mapping[str, Any]) -> None:
        """Start *job_name* and wait through the start-up grace window.

        Raises :class:`UnitTaskFailed` with the message the real unit's task gives when the
        command exits during the grace window.
        """
        spec = job_specs().get(job_name)
        options: dict[str, Any] = dict(body.get("options") or {})
        if spec is None:
            await asyncio.sleep(min(self.startup_grace, 0.3))
            raise UnitTaskFailed(
                "Command exited during startup grace window. Exit code 2. "
                f"Error: No such command '{job_name}'."
            )
        for option in options:
            if option not in spec.options and option.lower() not in spec.options:
                await asyncio.sleep(min(self.startup_grace, 0.3))
                flag = option.replace("_", "-")
                raise UnitTaskFailed(
                    "Command exited during startup grace window. Exit code 2. "
                    f"Error: No such option: --{flag}"
                )
        present = self.running_job(job_name) if job_name not in ONE_SHOT_JOBS else None
        if present is not None:
            await asyncio.sleep(min(self.startup_grace, 0.3))
            message = f"{job_name} is already running (job_id={present.job_id}). Skipping."
            await self.context.log(self.name, experiment, job_name, "WARNING", message)
            raise UnitTaskFailed(
                "Command exited during startup grace window. Exit code 1. "
                f"pioreactor.exc.JobPresentError: {message}"
            )
        device = PUMP_DEVICES.get(job_name)
        if device is not None and device not in self.active_calibrations:
            await asyncio.sleep(min(self.startup_grace, 0.3))
            message = (
                f"Active calibration not found. Run {device} calibration: "
                f"`pio calibrations run --device {device}`, or set active with "
                "`pio calibrations set-active`"
            )
            await self.context.log(self.name, experiment, job_name, "ERROR", message)
            raise UnitTaskFailed(
                "Command exited during startup grace window. Exit code 1. "
                f"pioreactor.exc.CalibrationError: {message}"
            )
        job = SimJob(
            self.context,
            spec,
            unit=self.name,
            experiment=experiment,
            job_id=self.allocate_job_id(),
            options=options,
            rng=self.rng,
        )
        self.jobs.append(job)
        await job.start()
        await asyncio.sleep(self.startup_grace)

    async def stop_jobs(
        self,
        *,
        job_name: str | None = None,
        experiment: str | None = None,
        job_id: int | None = None,
    ) -> int:
        """Stop the running jobs that match every given filter; return how many."""
        stopped = 0
        for job in self.running_jobs():
            if job_name is not None and job.name != job_name:
                continue
            if experiment is not None and job.experiment != experiment:
                continue
            if job_id is not None and job.job_id != job_id:
                continue
            await job.stop()
            stopped += 1
        if stopped:
            await self.context.log(
                self.name,
                "$experiment",
                "background_tasks",
                "DEBUG",
                f"Killed {stopped} job{'s' if stopped != 1 else ''}.",
                source="huey",
            )
        return stopped

    def job_settings(self, job_name: str) -> dict[str, Any]:
        """``GET /unit_api/jobs/settings/job_name/<job>`` (404 when nothing is running)."""
        job = self.running_job(job_name)
        if job is None or not job.alive:
            raise UnitHttpError(404, "No settings found for job.")
        return {"settings": job.settings_row()}

    def job_setting(self, job_name: str, setting: str) -> dict[str, Any]:
        """``GET …/setting/<setting>`` (404 ``Setting not found.``)."""
        job = self.running_job(job_name)
        row = job.settings_row() if job is not None else {}
        if setting not in row:
            raise UnitHttpError(404, "Setting not found.")
        return {setting: row[setting]}

    async def close(self) -> None:
        """Cancel every job loop (simulator shutdown; nothing is published)."""
        for job in self.jobs:
            await job.close()

    # -- calibrations -----------------------------------------------------------------------------

    def calibration_list(self) -> dict[str, list[dict[str, Any]]]:
        """``GET /unit_api/calibrations``: devices that have calibrations."""
        return {
            device: [self._calibration_json(device, name) for name in sorted(found)]
            for device, found in self.calibrations.items()
            if found
        }

    def _calibration_json(self, device: str, name: str) -> dict[str, Any]:
        data = dict(self.calibrations[device][name])
        data["is_active"] = self.active_calibrations.get(device) == name
        data["pioreactor_unit"] = self.name
        return data

    def calibrations_for(self, device: str) -> list[dict[str, Any]]:
        """``GET /unit_api/calibrations/<device>``."""
        if device not in self.calibrations:
            raise UnitHttpError(
                404,
                "Calibration directory does not exist.",
                "Calibration storage directory is missing on disk.",
                "Create the calibration directory or restore from backup.",
            )
        return [self._calibration_json(device, name) for name in sorted(self.calibrations[device])]

    def calibration(self, device: str, name: str) -> dict[str, Any]:
        """``GET /unit_api/calibrations/<device>/<name>``."""
        if name not in self.calibrations.get(device, {}):
            raise UnitHttpError(
                404,
                "Calibration file does not exist.",
                f"Calibration '{name}' missing for device '{device}'.",
                "List available calibrations for the device and retry.",
            )
        return self._calibration_json(device, name)

    def _missing_calibration(self, device: str, name: str) -> UnitHttpError:
        return UnitHttpError(
            404,
            f"Calibration '{name}' not found for device '{device}'.",
            "Calibration file is missing from disk.",
            "List available calibrations for this device and retry.",
        )

    def create_calibration(
        self, device: str, data: dict[str, Any], set_active: bool
    ) -> dict[str, Any]:
        """``POST /unit_api/calibrations/<device>`` (the device folder must exist)."""
        if device not in self.calibrations:
            raise UnitHttpError(
                500,
                "Failed to create calibration.",
                "Unable to save calibration file.",
                "Check file permissions and server logs.",
            )
        name = str(data["calibration_name"])
        self.calibrations[device][name] = data
        if set_active:
            self.active_calibrations[device] = name
        return {
            "msg": "Calibration created successfully.",
            "path": f"/home/pioreactor/.pioreactor/storage/calibrations/{device}/{name}.yaml",
        }

    def set_active_calibration(self, device: str, name: str) -> dict[str, Any]:
        """``PATCH /unit_api/active_calibrations/<device>/<name>``."""
        if name not in self.calibrations.get(device, {}):
            raise self._missing_calibration(device, name)
        self.active_calibrations[device] = name
        return {}

    def remove_active_calibration(self, device: str) -> dict[str, Any]:
        """``DELETE /unit_api/active_calibrations/<device>``."""
        self.active_calibrations.pop(device, None)
        return {}

    def delete_calibration(self, device: str, name: str) -> dict[str, Any]:
        """``DELETE /unit_api/calibrations/<device>/<name>``."""
        if name not in self.calibrations.get(device, {}):
            raise self._missing_calibration(device, name)
        del self.calibrations[device][name]
        if self.active_calibrations.get(device) == name:
            del self.active_calibrations[device]
        return {"msg": f"Calibration '{name}' for device '{device}' deleted successfully."}

    def active_calibration_map(self) -> dict[str, dict[str, Any]]:
        """``GET /unit_api/active_calibrations``."""
        return {
            device: self._calibration_json(device, name)
            for device, name in sorted(self.active_calibrations.items())
        }

    # -- estimators -------------------------------------------------------------------------------

    def _missing_estimator(self, device: str, name: str) -> UnitHttpError:
        return UnitHttpError(
            404,
            f"Estimator '{name}' not found for device '{device}'.",
            "Estimator file is missing from disk.",
            "List available estimators for this device and retry.",
        )

    def estimator_list(self) -> dict[str, list[dict[str, Any]]]:
        """``GET /unit_api/estimators``."""
        return {
            device: [self._estimator_json(device, name) for name in sorted(found)]
            for device, found in self.estimators.items()
            if found
        }

    def _estimator_json(self, device: str, name: str) -> dict[str, Any]:
        data = dict(self.estimators[device][name])
        data["is_active"] = self.active_estimators.get(device) == name
        data["pioreactor_unit"] = self.name
        return data

    def estimators_for(self, device: str) -> list[dict[str, Any]]:
        """``GET /unit_api/estimators/<device>`` (an empty list for an unknown device)."""
        return [
            self._estimator_json(device, name) for name in sorted(self.estimators.get(device, {}))
        ]

    def estimator(self, device: str, name: str) -> dict[str, Any]:
        """``GET /unit_api/estimators/<device>/<name>``."""
        if name not in self.estimators.get(device, {}):
            raise self._missing_estimator(device, name)
        return self._estimator_json(device, name)

    def set_active_estimator(self, device: str, name: str) -> dict[str, Any]:
        """``PATCH /unit_api/active_estimators/<device>/<name>``."""
        if name not in self.estimators.get(device, {}):
            raise self._missing_estimator(device, name)
        self.active_estimators[device] = name
        return {}

    def remove_active_estimator(self, device: str) -> dict[str, Any]:
        """``DELETE /unit_api/active_estimators/<device>``."""
        self.active_estimators.pop(device, None)
        return {}

    def delete_estimator(self, device: str, name: str) -> dict[str, Any]:
        """``DELETE /unit_api/estimators/<device>/<name>``."""
        if name not in self.estimators.get(device, {}):
            raise self._missing_estimator(device, name)
        del self.estimators[device][name]
        if self.active_estimators.get(device) == name:
            del self.active_estimators[device]
        return {"msg": f"Estimator '{name}' for device '{device}' deleted successfully."}

    def active_estimator_map(self) -> dict[str, dict[str, Any]]:
        """``GET /unit_api/active_estimators``."""
        return {
            device: self._estimator_json(device, name)
            for device, name in sorted(self.active_estimators.items())
        }
