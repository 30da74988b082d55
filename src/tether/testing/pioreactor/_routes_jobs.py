"""Routes for jobs (run, stop, update, running, settings), logs, time series and task results."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any, Final

from aiohttp import web

from tether.testing.pioreactor._http import RouteGroup
from tether.testing.pioreactor._leader import (
    BROADCAST,
    LEVELS,
    TIME_SERIES_TABLES,
    UNIVERSAL_EXPERIMENT,
    LogRow,
)
from tether.testing.pioreactor._units import SimUnit
from tether.testing.pioreactor._wire import (
    ApiError,
    Field,
    iso_ms,
    json_response,
    parse_timestamp,
    utcnow,
)

__all__ = ["JobRoutes", "encode_set_payload"]

MAX_LOOKBACK_HOURS: Final = 1_000_000.0
MAX_TARGET_POINTS: Final = 1_000_000
_SERIES: Final[dict[str, tuple[str, str, int, bool]]] = {
    # route name: (table, value column, rounding digits, one series per channel)
    "growth_rates": ("growth_rates", "rate", 5, False),
    "temperature_readings": ("temperature_readings", "temperature_c", 2, False),
    "od_readings_filtered": ("od_readings_filtered", "normalized_od_reading", 7, False),
    "od_readings": ("od_readings", "od_reading", 7, True),
    "od_readings_fused": ("od_readings_fused", "od_reading", 7, False),
    "raw_od_readings": ("raw_od_readings", "od_reading", 7, True),
}
_RUN_FIELDS: Final = (
    Field("options", ("object",)),
    Field("args", ("array",)),
    Field("env", ("object",)),
    Field("config_overrides", ("array",)),
)


def encode_set_payload(value: Any) -> bytes:
    """Encode a ``jobs/update`` value as paho does: text as is, numbers as text, ``True``."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int | float | str):
        return str(value).encode()
    raise ApiError(400, "payload must be a string, bytearray, int, float or None.")


def _levels_from(min_level: str) -> tuple[str, ...]:
    normalized = min_level.upper()
    if normalized not in LEVELS:
        valid = ", ".join(LEVELS)
        raise ApiError(
            400,
            "Invalid min_level query parameter",
            cause=f"min_level must be one of: {valid}.",
            remediation=f"Provide min_level as one of: {valid}.",
        )
    return LEVELS[LEVELS.index(normalized) :]


def _downsample(rows: list[dict[str, Any]], target_points: int) -> list[dict[str, Any]]:
    """Pick rows at evenly spaced target times between the first and last (as upstream does)."""
    if len(rows) <= target_points:
        return rows
    if target_points == 1:
        return [rows[-1]]
    first = parse_timestamp(rows[0]["timestamp"])
    last = parse_timestamp(rows[-1]["timestamp"])
    if first is None or last is None:
        return rows[:target_points]
    span = last - first
    chosen: list[dict[str, Any]] = []
    index = 0
    for i in range(target_points):
        target = last if i == target_points - 1 else first + span * (i / (target_points - 1))
        target_text = iso_ms(target)
        while index < len(rows) and rows[index]["timestamp"] < target_text:
            index += 1
        if index < len(rows) and (not chosen or chosen[-1] is not rows[index]):
            chosen.append(rows[index])
    return chosen


class JobRoutes(RouteGroup):
    """Job control, logs, time series and task polling."""

    def register(self) -> None:
        """Add the routes."""
        c = self.contract
        for kind in ("units", "workers"):
            base = f"/api/{kind}/{{unit}}"
            self.add(
                "POST,PATCH",
                base + "/jobs/run/job_name/{job}/experiments/{experiment}",
                self.run_job,
            )
            self.add(
                "POST,PATCH",
                base + "/jobs/stop/job_name/{job}/experiments/{experiment}",
                self.stop_job,
            )
            if kind == "workers" or c.units_stop_experiment_route:
                self.add(
                    "POST,PATCH", base + "/jobs/stop/experiments/{experiment}", self.stop_experiment
                )
            self.add(
                "PATCH", base + "/jobs/update/job_name/{job}/experiments/{experiment}", self.update
            )
            self.add("GET", base + "/jobs/running", self.jobs_running)
            self.add("POST", base + "/experiments/{experiment}/logs", self.post_log)
        self.add(
            "GET",
            "/api/workers/{unit}/jobs/settings/job_name/{job}/experiments/{experiment}",
            self.job_settings,
        )
        self.add(
            "GET",
            "/api/workers/{unit}/jobs/settings/job_name/{job}/setting/{setting}"
            "/experiments/{experiment}",
            self.job_setting,
        )
        self.add("POST", "/api/workers/{unit}/blink", self.blink)
        self.add("GET", "/api/logs", self.all_logs)
        self.add("GET", "/api/experiments/{experiment}/logs", self.experiment_logs)
        self.add("GET", "/api/experiments/{experiment}/recent_logs", self.recent_logs)
        self.add("GET", "/api/units/{unit}/logs", self.unit_logs)
        self.add("GET", "/api/units/{unit}/system_logs", self.system_logs)
        self.add("GET", "/api/workers/{unit}/experiments/{experiment}/logs", self.unit_exp_logs)
        self.add(
            "GET", "/api/workers/{unit}/experiments/{experiment}/recent_logs", self.unit_recent_logs
        )
        for name in _SERIES:
            if name == "od_readings_fused" and not c.estimators:
                continue
            self.add("GET", f"/api/experiments/{{experiment}}/time_series/{name}", self.series)
            self.add(
                "GET",
                f"/api/workers/{{unit}}/experiments/{{experiment}}/time_series/{name}",
                self.series,
            )
        self.add(
            "GET",
            "/api/experiments/{experiment}/time_series/{source}/{column}",
            self.generic_series,
        )
        self.add(
            "GET",
            "/api/workers/{unit}/experiments/{experiment}/time_series/{source}/{column}",
            self.generic_series,
        )
        self.add("GET", "/api/experiments/{experiment}/media_rates", self.media_rates)
        self.add("GET", "/unit_api/task_results/{task_id}", self.task_result)
        if c.worker_task_results_route:
            self.add("GET", "/api/workers/{unit}/task_results/{task_id}", self.worker_task_result)

    # -- jobs -----------------------------------------------------------------------------------

    def _run_targets(self, unit: str, experiment: str) -> list[str]:
        leader = self.leader
        active = {name for name, worker in leader.workers.items() if worker.is_active}
        if experiment == UNIVERSAL_EXPERIMENT:
            pool = [name for name in leader.workers if name in active]
        else:
            pool = [
                a.unit
                for a in leader.assignments.values()
                if a.experiment == experiment and a.unit in active
            ]
        targets = pool if unit == BROADCAST else [name for name in pool if name == unit]
        if not targets:
            if experiment == UNIVERSAL_EXPERIMENT:
                raise ApiError(404, f"Worker(s) {unit} not found or not active.")
            raise ApiError(
                404,
                f"Worker(s) {unit} not found, not active, or not assigned to experiment "
                f"{experiment}.",
            )
        return targets

    async def run_job(self, request: web.Request) -> web.Response:
        """``POST …/jobs/run/job_name/{job}/experiments/{experiment}`` → task (≥ 1 s grace)."""
        body = await self.body(request, _RUN_FIELDS)
        unit, job, experiment = (request.match_info[k] for k in ("unit", "job", "experiment"))
        targets = self._run_targets(unit, experiment)
        ok_value: Any = {"ok": True} if self.contract.run_value_ok_object else True

        async def run(sim: SimUnit) -> Any:
            sim.check_run_rate(job)
            await sim.run_job(job, experiment, body)
            return ok_value

        return self.fanout_task(targets, "POST", f"/unit_api/jobs/run/job_name/{job}", run)

    async def stop_job(self, request: web.Request) -> web.Response:
        """``POST …/jobs/stop/job_name/{job}/experiments/{experiment}``."""
        unit, job, experiment = (request.match_info[k] for k in ("unit", "job", "experiment"))
        targets = self.units_for(unit)

        async def stop(sim: SimUnit) -> bool:
            await sim.stop_jobs(job_name=job, experiment=experiment)
            return True

        if self.contract.stop_job_task:
            return self.fanout_task(targets, "POST", "/unit_api/jobs/stop", stop)
        self.leader.tasks.spawn(
            lambda: self.leader.fanout(targets, "POST", "/unit_api/jobs/stop", stop)
        )
        return self.no_task("success")

    async def stop_experiment(self, request: web.Request) -> web.Response:
        """``POST …/jobs/stop/experiments/{experiment}`` → 202 ``success``, no task."""
        unit, experiment = request.match_info["unit"], request.match_info["experiment"]
        targets = self.units_for(unit)

        async def stop(sim: SimUnit) -> bool:
            await sim.stop_jobs(experiment=experiment)
            return True

        self.leader.tasks.spawn(
            lambda: self.leader.fanout(targets, "POST", "/unit_api/jobs/stop", stop)
        )
        return self.no_task("success")

    async def update(self, request: web.Request) -> web.Response:
        """``PATCH …/jobs/update/…`` ``{"settings": {…}}`` → publishes each ``…/set`` (QoS 1)."""
        body = await self.body(request, [Field("settings", ("object",), required=True)])
        unit, job, experiment = (request.match_info[k] for k in ("unit", "job", "experiment"))
        settings: dict[str, Any] = body["settings"]
        try:
            payloads = {name: encode_set_payload(value) for name, value in settings.items()}
        except ApiError as exc:
            await self.leader.ui_log("ERROR", exc.error)
            raise
        for name, payload in payloads.items():
            await self.leader.publish(
                f"pioreactor/{unit}/{experiment}/{job}/{name}/set", payload, qos=1, retain=False
            )
        return self.no_task()

    async def jobs_running(self, request: web.Request) -> web.Response:
        """``GET …/jobs/running`` → task with each unit's job rows."""
        targets = self.units_for(request.match_info["unit"])

        async def running(sim: SimUnit) -> list[dict[str, Any]]:
            return [row.as_json() for row in sim.job_rows()]

        return self.fanout_task(targets, "GET", "/unit_api/jobs/running", running)

    def _settings_targets(self, request: web.Request) -> list[str]:
        unit, experiment = request.match_info["unit"], request.match_info["experiment"]
        assigned = self.leader.workers_in(experiment)
        if unit == BROADCAST:
            return assigned
        if unit not in assigned:
            raise ApiError(404, f"{unit} not in experiment {experiment}")
        return [unit]

    async def job_settings(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/jobs/settings/job_name/{job}/experiments/{experiment}``
        (the unit must be assigned to the experiment)."""
        job = request.match_info["job"]
        targets = self._settings_targets(request)

        async def settings(sim: SimUnit) -> dict[str, Any]:
            return sim.job_settings(job)

        path = f"/unit_api/jobs/settings/job_name/{job}"
        return self.fanout_task(targets, "GET", path, settings)

    async def job_setting(self, request: web.Request) -> web.Response:
        """``GET …/setting/{setting}/experiments/{experiment}``."""
        job, setting = request.match_info["job"], request.match_info["setting"]
        targets = self._settings_targets(request)

        async def one(sim: SimUnit) -> dict[str, Any]:
            return sim.job_setting(job, setting)

        path = f"/unit_api/jobs/settings/job_name/{job}/setting/{setting}"
        return self.fanout_task(targets, "GET", path, one)

    async def blink(self, request: web.Request) -> web.Response:
        """``POST /api/workers/{unit}/blink`` → 202, no task."""
        unit = request.match_info["unit"]
        await self.leader.publish(
            f"pioreactor/{unit}/{UNIVERSAL_EXPERIMENT}/monitor/flicker_led_response_okay",
            b"1",
            qos=1,
            retain=False,
        )
        return self.no_task()

    # -- logs -----------------------------------------------------------------------------------

    async def post_log(self, request: web.Request) -> web.Response:
        """``POST …/experiments/{experiment}/logs`` → publishes the log (QoS 2), 202 no task."""
        body = await self.body(
            request,
            [
                Field("message", ("str",), required=True),
                Field("source", ("str",), required=True),
                Field("level", ("str",), required=True),
                Field("timestamp", ("str",), required=True),
                Field("task", ("str", "null")),
                Field("source_", ("str",)),
            ],
        )
        unit, experiment = request.match_info["unit"], request.match_info["experiment"]
        leader = self.leader
        targets = leader.workers_in(experiment) if unit == BROADCAST else [unit]
        level = str(body["level"])
        payload = json.dumps(
            {
                "message": str(body["message"]).strip(),
                "task": body.get("task") or "",
                "source": body["source"],
                "level": level.upper(),
                "timestamp": body["timestamp"],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        source_ = body.get("source_") or "ui"
        for target in targets:
            await leader.publish(
                f"pioreactor/{target}/{experiment}/logs/{source_}/{level.lower()}",
                payload,
                qos=2,
                retain=False,
            )
        return self.no_task()

    def _logs(
        self,
        rows: list[LogRow],
        request: web.Request,
        *,
        recent: bool = False,
        experiment: str | None = None,
    ) -> web.Response:
        levels = _levels_from(request.query.get("min_level", "INFO"))
        if recent:
            limit = self.int_query(request, "lines", 50, minimum=1, maximum=100)
            skip = 0
            cutoff = iso_ms(utcnow() - timedelta(hours=24))
            created = self.leader.experiments.get(experiment or "")
            if created is not None and created.created_at > cutoff:
                cutoff = created.created_at
            rows = [row for row in rows if row.timestamp >= cutoff]
        else:
            limit = 100
            skip = self.int_query(request, "skip", 0, minimum=0)
        selected = [row for row in rows if row.level in levels]
        selected.sort(key=lambda row: row.timestamp, reverse=True)
        return json_response([row.as_json() for row in selected[skip : skip + limit]])

    async def all_logs(self, request: web.Request) -> web.Response:
        """``GET /api/logs``."""
        return self._logs(list(self.leader.logs), request)

    async def experiment_logs(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{experiment}/logs``."""
        experiment = request.match_info["experiment"]
        return self._logs([r for r in self.leader.logs if r.experiment == experiment], request)

    async def recent_logs(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{experiment}/recent_logs``: the last 24 h."""
        experiment = request.match_info["experiment"]
        rows = [r for r in self.leader.logs if r.experiment == experiment]
        return self._logs(rows, request, recent=True, experiment=experiment)

    async def unit_logs(self, request: web.Request) -> web.Response:
        """``GET /api/units/{unit}/logs``."""
        unit = request.match_info["unit"]
        rows = [r for r in self.leader.logs if r.pioreactor_unit in (unit, BROADCAST)]
        return self._logs(rows, request)

    async def system_logs(self, request: web.Request) -> web.Response:
        """``GET /api/units/{unit}/system_logs``: the unit's ``$experiment`` logs."""
        unit = request.match_info["unit"]
        rows = [
            r
            for r in self.leader.logs
            if r.experiment == UNIVERSAL_EXPERIMENT and r.pioreactor_unit in (unit, BROADCAST)
        ]
        return self._logs(rows, request)

    def _assigned_during(self, row: LogRow) -> bool:
        for history in self.leader.history:
            if history.unit != row.pioreactor_unit or history.experiment != row.experiment:
                continue
            if history.assigned_at <= row.timestamp and (
                history.unassigned_at is None or row.timestamp <= history.unassigned_at
            ):
                return True
        return False

    async def unit_exp_logs(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/experiments/{experiment}/logs`` (while it was assigned)."""
        unit, experiment = request.match_info["unit"], request.match_info["experiment"]
        rows = [
            r
            for r in self.leader.logs
            if r.experiment == experiment
            and r.pioreactor_unit in (unit, BROADCAST)
            and self._assigned_during(r)
        ]
        return self._logs(rows, request)

    async def unit_recent_logs(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/experiments/{experiment}/recent_logs`` (+ unit-wide logs)."""
        unit, experiment = request.match_info["unit"], request.match_info["experiment"]
        rows = [
            r
            for r in self.leader.logs
            if r.experiment in (experiment, UNIVERSAL_EXPERIMENT)
            and r.pioreactor_unit in (unit, BROADCAST)
        ]
        return self._logs(rows, request, recent=True, experiment=experiment)

    # -- time series ----------------------------------------------------------------------------

    def _series_params(self, request: web.Request) -> tuple[float, int]:
        raw = request.query.get("lookback", "4")
        try:
            lookback = float(raw)
        except ValueError:
            raise ApiError(
                400,
                "Invalid lookback",
                cause="lookback must be a number.",
                remediation="Provide lookback as a finite number.",
            ) from None
        if not math.isfinite(lookback):
            raise ApiError(
                400,
                "Invalid lookback",
                cause="lookback must be finite.",
                remediation="Provide lookback as a finite number.",
            )
        if lookback < 0:
            raise ApiError(
                400,
                "Invalid lookback",
                cause="lookback must be at least 0.",
                remediation="Provide lookback as a number greater than or equal to 0.",
            )
        if lookback > MAX_LOOKBACK_HOURS:
            raise ApiError(
                400,
                "Invalid lookback",
                cause="lookback must be at most 1e+06.",
                remediation="Provide lookback as a number less than or equal to 1e+06.",
            )
        points = self.int_query(request, "target_points", 720, minimum=1, maximum=MAX_TARGET_POINTS)
        return lookback, points

    async def series(self, request: web.Request) -> web.Response:
        """``GET …/time_series/<source>`` → ``{"series": [...], "data": [[{x, y}, …]]}``."""
        lookback, points = self._series_params(request)
        name = request.path.rsplit("/", 1)[-1]
        table, column, digits, per_channel = _SERIES[name]
        experiment = request.match_info["experiment"]
        only_unit = request.match_info.get("unit")
        cutoff = iso_ms(utcnow() - timedelta(hours=lookback))
        rows = [
            row
            for row in self.leader.series[table]
            if row["experiment"] == experiment and row["timestamp"] > cutoff
        ]
        units = sorted({row["pioreactor_unit"] for row in rows})
        if only_unit is not None:
            units = [only_unit]
        series: list[str] = []
        data: list[list[dict[str, Any]]] = []
        for unit in units:
            channels: list[int | None] = [1, 2, 3, 4] if per_channel else [None]
            for channel in channels:
                picked = [
                    row
                    for row in rows
                    if row["pioreactor_unit"] == unit
                    and (channel is None or row.get("channel") == channel)
                ]
                if not picked:
                    continue
                picked.sort(key=lambda row: row["timestamp"])
                series.append(f"{unit}-{channel}" if per_channel else unit)
                data.append(
                    [
                        {"x": row["timestamp"], "y": round(float(row[column]), digits)}
                        for row in _downsample(picked, points)
                    ]
                )
        return json_response({"series": series, "data": data}, cache_seconds=5)

    async def generic_series(self, request: web.Request) -> web.Response:
        """``GET …/time_series/{source}/{column}`` over any known table."""
        lookback, points = self._series_params(request)
        source, column = request.match_info["source"], request.match_info["column"]
        experiment = request.match_info["experiment"]
        only_unit = request.match_info.get("unit")
        if source not in TIME_SERIES_TABLES:
            raise ApiError(400, f"no such table: {source}")
        if column not in TIME_SERIES_TABLES[source]:
            raise ApiError(400, f"no such column: {column}")
        cutoff = iso_ms(utcnow() - timedelta(hours=lookback))
        by_unit: dict[str, list[dict[str, Any]]] = {}
        for row in self.leader.series[source]:
            if row["experiment"] != experiment or row["timestamp"] <= cutoff:
                continue
            if row.get(column) is None or (
                only_unit is not None and row["pioreactor_unit"] != only_unit
            ):
                continue
            by_unit.setdefault(row["pioreactor_unit"], []).append(row)
        series: list[str] = []
        data: list[list[dict[str, Any]]] = []
        for unit, picked in by_unit.items():
            picked.sort(key=lambda row: row["timestamp"])
            step = max(1, (len(picked) + points - 1) // points)
            chosen = [row for index, row in enumerate(picked, start=1) if index % step == 0]
            series.append(unit)
            data.append([{"x": row["timestamp"], "y": _round(row[column])} for row in chosen])
        return json_response({"series": series, "data": data}, cache_seconds=5)

    async def media_rates(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{experiment}/media_rates`` (no dosing is simulated)."""
        return json_response({"all": {"altMediaRate": 0.0, "mediaRate": 0.0}})

    # -- task results -----------------------------------------------------------------------------

    async def task_result(self, request: web.Request) -> web.Response:
        """``GET /unit_api/task_results/{task_id}``."""
        status, body = self.leader.tasks.poll(request.match_info["task_id"])
        return json_response(body, status=status)

    async def worker_task_result(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/task_results/{task_id}``: relays that unit's answer."""
        unit, task_id = request.match_info["unit"], request.match_info["task_id"]
        leader = self.leader
        if unit == BROADCAST:
            raise ApiError(
                400,
                "Cannot fetch task result with $broadcast; choose a specific Pioreactor.",
                cause="Task result routes require a single target unit.",
                remediation="Specify a concrete pioreactor_unit in the URL.",
            )
        leader.require_registered_worker(unit)
        sim = leader.units.get(unit)
        if sim is None or not sim.reachable:
            raise ApiError(
                502,
                f"Fetching task result failed on {unit}.",
                cause="The worker could not be reached.",
                remediation="Check that the worker is online and retry.",
            )
        if unit == leader.leader_unit:
            status, body = leader.tasks.poll(task_id)
            return json_response(body, status=status)
        path = f"/unit_api/task_results/{task_id}"
        return json_response(
            {"task_id": task_id, "result_url_path": path, "status": self.contract.poll_pending},
            status=202,
        )


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 7)
    return value
