"""Routes for experiments, the worker inventory, assignments, labels and chart preferences."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any, Final

import attrs
from aiohttp import web

from tether.testing.pioreactor._catalog import catalog
from tether.testing.pioreactor._http import RouteGroup
from tether.testing.pioreactor._leader import BROADCAST, Experiment, Worker
from tether.testing.pioreactor._units import SimUnit
from tether.testing.pioreactor._wire import (
    ApiError,
    Field,
    as_list,
    iso_ms,
    json_response,
    utcnow,
)

__all__ = ["ClusterRoutes"]

_DISALLOWED: Final = "#$%+/?\\"
_WORKER_NAME: Final = re.compile(r"^[A-Za-z0-9_-]+$")


def _experiment_not_found(experiment: str, *, detailed: bool = False) -> ApiError:
    if detailed:
        return ApiError(
            404,
            f"Experiment {experiment} not found",
            cause="Experiment name not found in database.",
            remediation="List experiments and choose a valid experiment name.",
        )
    return ApiError(404, f"Experiment {experiment} not found")


def validate_experiment_name(name: Any) -> str:
    """The leader's ``_validate_experiment_name`` checks, with its 400 messages."""
    if not isinstance(name, str) or not name:
        raise ApiError(
            400,
            "Experiment name is required",
            cause="Request JSON missing 'experiment'.",
            remediation="Provide an experiment name in the 'experiment' field.",
        )
    if len(name) >= 200:
        raise ApiError(
            400,
            "Experiment name is too long",
            cause="Experiment name exceeds 199 characters.",
            remediation="Shorten the experiment name to under 200 characters.",
        )
    if name.lower() == "current":
        raise ApiError(
            400,
            "Experiment name cannot be 'current'",
            cause="'current' is a reserved experiment identifier.",
            remediation="Choose a different experiment name.",
        )
    if name.startswith("_testing"):
        raise ApiError(
            400,
            "Experiment name cannot start with '_testing'",
            cause="Experiment names starting with '_testing' are reserved.",
            remediation="Choose a name that does not start with '_testing'.",
        )
    if any(character in name for character in _DISALLOWED):
        raise ApiError(
            400,
            "Experiment name cannot contain special characters (#, $, %, +, /, ?, \\)",
            cause="Experiment name contains disallowed characters.",
            remediation="Use letters, digits, spaces, dots, dashes, or underscores.",
        )
    return name


def worker_name_is_valid(name: str) -> bool:
    """Hostname-like, not ``$broadcast``, ``localhost`` or an IP address."""
    if not name or name == BROADCAST or _WORKER_NAME.fullmatch(name) is None:
        return False
    if name.lower() == "localhost":
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False


def _normalize_tags(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = as_list(raw)
    if not items and raw != []:
        raise ApiError(
            400,
            "Invalid tags payload",
            cause="Expected 'tags' to be a JSON array of strings.",
            remediation="Submit tags as a JSON array, for example ['project-a', 'screening'].",
        )
    tags: list[str] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ApiError(
                400,
                "Invalid tag value",
                cause="Each tag must be a string.",
                remediation="Remove non-string tag values and retry.",
            )
        tag = item.strip()
        if tag and tag.casefold() not in seen:
            tags.append(tag)
            seen.add(tag.casefold())
    return tags


class ClusterRoutes(RouteGroup):
    """``/api/experiments…``, ``/api/workers…``, ``/api/units``, ``/api/models``."""

    def register(self) -> None:
        """Add the routes (static paths first)."""
        c = self.contract
        self.add("GET", "/api/experiments", self.list_experiments)
        self.add("POST", "/api/experiments", self.create_experiment)
        self.add("GET", "/api/experiments/latest", self.latest_experiment)
        self.add("GET", "/api/experiments/active", self.active_experiments)
        self.add("GET", "/api/experiments/assignment_count", self.assignment_count)
        self.add("GET", "/api/experiments/{experiment}", self.get_experiment)
        self.add("PATCH", "/api/experiments/{experiment}", self.update_experiment)
        self.add("DELETE", "/api/experiments/{experiment}", self.delete_experiment)
        if c.chart_preferences:
            self.add("GET", "/api/experiments/{experiment}/chart_preferences", self.get_chart_prefs)
            self.add(
                "PATCH", "/api/experiments/{experiment}/chart_preferences", self.patch_chart_prefs
            )
        self.add("GET", "/api/experiments/{experiment}/unit_labels", self.get_labels)
        self.add("PATCH,PUT", "/api/experiments/{experiment}/unit_labels", self.upsert_label)
        self.add("GET", "/api/experiments/{experiment}/workers", self.experiment_workers)
        self.add("PUT", "/api/experiments/{experiment}/workers", self.assign_worker)
        self.add("DELETE", "/api/experiments/{experiment}/workers", self.unassign_all_from)
        self.add("DELETE", "/api/experiments/{experiment}/workers/{unit}", self.unassign_worker)
        self.add(
            "GET",
            "/api/experiments/{experiment}/historical_worker_assignments",
            self.historical_assignments,
        )
        self.add("GET", "/api/units", self.list_units)
        self.add("GET", "/api/workers", self.list_workers)
        self.add("PUT", "/api/workers", self.add_worker)
        self.add("GET", "/api/workers/assignments", self.list_assignments)
        self.add("DELETE", "/api/workers/assignments", self.unassign_everything)
        self.add("GET", "/api/workers/{unit}", self.get_worker)
        self.add("DELETE", "/api/workers/{unit}", self.delete_worker)
        self.add("GET", "/api/workers/{unit}/experiment", self.worker_experiment)
        self.add("PUT", "/api/workers/{unit}/is_active", self.set_active)
        self.add("GET", "/api/workers/{unit}/model", self.get_worker_model)
        self.add("PUT", "/api/workers/{unit}/model", self.set_worker_model)
        if c.worker_task_results_route:
            self.add("PUT", "/api/workers/{unit}/reported_model", self.set_worker_model)
        self.add("GET", "/api/models", self.models)

    # -- experiments ------------------------------------------------------------------------------

    def experiment_json(self, experiment: Experiment) -> dict[str, Any]:
        """An experiment as the list and item routes return it."""
        body: dict[str, Any] = {
            "experiment": experiment.name,
            "created_at": experiment.created_at,
            "description": experiment.description,
            "delta_hours": experiment.delta_hours,
        }
        if self.contract.experiment_list_extended:
            body["worker_count"] = self.leader.worker_count(experiment.name)
            body["tags"] = list(experiment.tags)
        return body

    @staticmethod
    def _newest_first(experiments: Iterable[Experiment]) -> list[Experiment]:
        """Newest first; experiments created in the same millisecond, last inserted first."""
        ordered = list(enumerate(experiments))
        ordered.sort(key=lambda pair: (pair[1].created_at, pair[0]), reverse=True)
        return [experiment for _, experiment in ordered]

    def _experiment(self, name: str, *, detailed: bool = False) -> Experiment:
        found = self.leader.experiments.get(name)
        if found is None:
            raise _experiment_not_found(name, detailed=detailed)
        return found

    async def list_experiments(self, request: web.Request) -> web.Response:
        """``GET /api/experiments``: newest first."""
        rows = self._newest_first(self.leader.experiments.values())
        return json_response([self.experiment_json(e) for e in rows], cache_seconds=5)

    async def create_experiment(self, request: web.Request) -> web.Response:
        """``POST /api/experiments``."""
        fields = [
            Field("experiment", ("str",), required=True),
            Field("description", ("str", "null")),
            Field("tags", ("array", "null"), items="str"),
            Field("created_at", ("str", "null")),
            Field("delta_hours", ("float", "null")),
            Field("worker_count", ("int", "null")),
        ]
        if self.contract.media_fields:
            fields += [Field("mediaUsed", ("str", "null")), Field("organismUsed", ("str", "null"))]
        body = await self.body(request, fields)
        name = validate_experiment_name(body.get("experiment"))
        tags = _normalize_tags(body.get("tags"))
        leader = self.leader
        if name in leader.experiments:
            raise ApiError(
                409,
                "Experiment already exists",
                cause="Experiment name conflicts with an existing experiment.",
                remediation="Choose a different experiment name and retry.",
                legacy_body={"status": "error"},
            )
        experiment = Experiment(
            name=name,
            created_at=iso_ms(utcnow()),
            description=str(body.get("description") or ""),
            tags=tuple(tags),
            media_used=body.get("mediaUsed"),
            organism_used=body.get("organismUsed"),
        )
        leader.experiments[name] = experiment
        await leader.ui_log("INFO", f"New experiment created: `{name}`")
        if self.contract.create_returns_object:
            return json_response(self.experiment_json(experiment), status=201)
        return json_response({"status": "success"}, status=201)

    async def latest_experiment(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/latest``: the most recently inserted one, or ``null``."""
        experiments = list(self.leader.experiments.values())
        latest = self.experiment_json(experiments[-1]) if experiments else None
        return json_response(latest, cache_seconds=2)

    async def active_experiments(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/active``: experiments with an active worker assigned."""
        leader = self.leader
        active = {
            a.experiment
            for a in leader.assignments.values()
            if leader.workers.get(a.unit, Worker(a.unit, "", 0)).is_active
        }
        rows = self._newest_first(e for e in leader.experiments.values() if e.name in active)
        return json_response([self.experiment_json(e) for e in rows], cache_seconds=2)

    async def assignment_count(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/assignment_count``."""
        leader = self.leader
        rows = [
            {"experiment": name, "worker_count": leader.worker_count(name)}
            for name in leader.experiments
            if leader.worker_count(name) > 0
        ]
        return json_response(rows, cache_seconds=3)

    async def get_experiment(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{experiment}``."""
        experiment = self._experiment(request.match_info["experiment"])
        return json_response(self.experiment_json(experiment))

    async def update_experiment(self, request: web.Request) -> web.Response:
        """``PATCH /api/experiments/{experiment}``: description and/or tags."""
        body = await self.body(
            request,
            [Field("description", ("str", "null")), Field("tags", ("array", "null"), items="str")],
        )
        name = request.match_info["experiment"]
        if "description" not in body and "tags" not in body:
            raise ApiError(400, "Missing description or tags")
        experiment = self._experiment(name)
        if "description" in body:
            experiment = attrs.evolve(experiment, description=str(body["description"] or ""))
        if "tags" in body:
            experiment = attrs.evolve(experiment, tags=tuple(_normalize_tags(body["tags"])))
        self.leader.experiments[name] = experiment
        if self.contract.create_returns_object:
            return json_response(self.experiment_json(experiment))
        return json_response({"status": "success"})

    async def delete_experiment(self, request: web.Request) -> web.Response:
        """``DELETE /api/experiments/{experiment}`` (202 + task on 26.5.1+)."""
        name = request.match_info["experiment"]
        self._experiment(name, detailed=True)
        leader = self.leader

        async def work() -> dict[str, Any]:
            for assignment in list(leader.assignments.values()):
                if assignment.experiment == name:
                    await leader.unassign(assignment.unit)
            leader.experiments.pop(name, None)
            leader.labels.pop(name, None)
            leader.chart_prefs.pop(name, None)
            rows = len(leader.logs) + sum(len(t) for t in leader.series.values())
            page_count = 80 + rows // 40
            return {
                "result": True,
                "experiment": name,
                "database_space": {
                    "page_size": 4096,
                    "page_count": page_count,
                    "freelist_count": 0,
                    "allocated_bytes": page_count * 4096,
                    "reclaimable_bytes": 0,
                    "reclaimable_fraction": 0.0,
                },
                "msg": "Deleted experiment",
            }

        if self.contract.delete_experiment_async:
            return self.accepted(leader.tasks.submit(work))
        await work()
        return json_response({"status": "success"})

    async def get_chart_prefs(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{experiment}/chart_preferences``."""
        name = request.match_info["experiment"]
        self._experiment(name)
        overview, per_unit = self.leader.chart_prefs.get(name, (None, None))
        return json_response({"overview_chart_keys": overview, "pioreactor_chart_keys": per_unit})

    async def patch_chart_prefs(self, request: web.Request) -> web.Response:
        """``PATCH …/chart_preferences``: keys must be known chart keys."""
        body = await self.body(
            request,
            [
                Field("overview_chart_keys", ("array", "null"), items="str"),
                Field("pioreactor_chart_keys", ("array", "null"), items="str"),
            ],
        )
        name = request.match_info["experiment"]
        self._experiment(name)
        known = {chart["chart_key"] for chart in catalog("chart_descriptors.json")}
        requested = [
            str(key)
            for field in ("overview_chart_keys", "pioreactor_chart_keys")
            for key in as_list(body.get(field))
        ]
        unknown = [key for key in requested if key not in known]
        if unknown:
            raise ApiError(
                400,
                "Chart selection contains unavailable charts",
                cause=f"Unknown chart keys: {', '.join(unknown)}.",
                remediation="Refresh the chart catalog and choose from the available charts.",
            )
        overview, per_unit = self.leader.chart_prefs.get(name, (None, None))
        if "overview_chart_keys" in body:
            overview = body["overview_chart_keys"]
        if "pioreactor_chart_keys" in body:
            per_unit = body["pioreactor_chart_keys"]
        self.leader.chart_prefs[name] = (overview, per_unit)
        return json_response({"overview_chart_keys": overview, "pioreactor_chart_keys": per_unit})

    async def get_labels(self, request: web.Request) -> web.Response:
        """``GET …/unit_labels`` → ``{unit: label}``."""
        return json_response(dict(self.leader.labels.get(request.match_info["experiment"], {})))

    async def upsert_label(self, request: web.Request) -> web.Response:
        """``PUT``/``PATCH …/unit_labels`` ``{"unit", "label"}`` → 201."""
        body = await self.body(
            request,
            [Field("unit", ("str",), required=True), Field("label", ("str",), required=True)],
        )
        experiment = request.match_info["experiment"]
        self.leader.labels.setdefault(experiment, {})[str(body["unit"])] = str(body["label"])
        return json_response({"status": "success"}, status=201)

    # -- assignments ------------------------------------------------------------------------------

    async def experiment_workers(self, request: web.Request) -> web.Response:
        """``GET /api/experiments/{experiment}/workers``."""
        leader = self.leader
        rows: list[dict[str, Any]] = []
        for unit in leader.workers_in(request.match_info["experiment"]):
            worker = leader.workers.get(unit)
            if worker is None:
                continue
            rows.append(
                {
                    "pioreactor_unit": unit,
                    "is_active": worker.is_active,
                    "model_name": worker.model_name,
                    "model_version": worker.model_version,
                }
            )
        return json_response(rows)

    async def assign_worker(self, request: web.Request) -> web.Response:
        """``PUT /api/experiments/{experiment}/workers`` ``{"pioreactor_unit"}``."""
        body = await self.body(request, [Field("pioreactor_unit", ("str",), required=True)])
        unit = str(body["pioreactor_unit"])
        experiment = request.match_info["experiment"]
        leader = self.leader
        leader.require_registered_worker(unit)
        current = leader.assignments.get(unit)
        if current is not None and current.experiment == experiment:
            return json_response({"status": "success"})
        if experiment not in leader.experiments:
            raise ApiError(
                500,
                "Failed to add to database.",
                cause="Failed to insert assignment into database.",
                remediation="Check database logs and retry.",
            )
        await leader.assign(unit, experiment)
        await leader.ui_log("INFO", f"Assigned pioreactor `{unit}` to experiment `{experiment}`.")
        return json_response({"status": "success"})

    async def unassign_worker(self, request: web.Request) -> web.Response:
        """``DELETE /api/experiments/{experiment}/workers/{unit}``."""
        unit = request.match_info["unit"]
        experiment = request.match_info["experiment"]
        leader = self.leader
        leader.require_registered_worker(unit)
        current = leader.assignments.get(unit)
        if current is None or current.experiment != experiment:
            raise ApiError(
                404,
                f"Worker {unit} not found",
                cause="Worker name not found in database or not assigned to experiment.",
                remediation="Check the unit name and assignment, then retry.",
            )
        await leader.unassign(unit)
        return json_response({"status": "success"})

    async def unassign_all_from(self, request: web.Request) -> web.Response:
        """``DELETE /api/experiments/{experiment}/workers`` → task stopping jobs on every worker."""
        experiment = request.match_info["experiment"]
        leader = self.leader
        for assignment in list(leader.assignments.values()):
            if assignment.experiment == experiment:
                await leader.unassign(assignment.unit, stop_jobs=False)

        async def stop(unit: SimUnit) -> bool:
            await unit.stop_jobs(experiment=experiment)
            return True

        return self.fanout_task(list(leader.workers), "POST", "/unit_api/jobs/stop", stop)

    async def unassign_everything(self, request: web.Request) -> web.Response:
        """``DELETE /api/workers/assignments`` → task stopping every job on every worker."""
        leader = self.leader
        for unit in list(leader.assignments):
            await leader.unassign(unit, stop_jobs=False)

        async def stop(unit: SimUnit) -> bool:
            await unit.stop_jobs()
            return True

        return self.fanout_task(list(leader.workers), "POST", "/unit_api/jobs/stop/all", stop)

    async def historical_assignments(self, request: web.Request) -> web.Response:
        """``GET …/historical_worker_assignments``."""
        experiment = request.match_info["experiment"]
        leader = self.leader
        seen: dict[str, dict[str, Any]] = {}
        for row in leader.history:
            if row.experiment != experiment:
                continue
            current = leader.assignments.get(row.unit)
            seen[row.unit] = {
                "pioreactor_unit": row.unit,
                "experiment": experiment,
                "is_currently_assigned_to_experiment": int(
                    current is not None and current.experiment == experiment
                ),
            }
        return json_response(list(seen.values()))

    # -- workers ----------------------------------------------------------------------------------

    def _worker_json(self, worker: Worker, *, with_address: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "pioreactor_unit": worker.unit,
            "added_at": worker.added_at,
            "is_active": worker.is_active,
            "model_name": worker.model_name,
            "model_version": worker.model_version,
        }
        if with_address:
            body["ipv4_address"] = "127.0.0.1" if worker.unit in self.leader.units else None
        return body

    async def list_units(self, request: web.Request) -> web.Response:
        """``GET /api/units``."""
        return json_response([{"pioreactor_unit": unit} for unit in self.leader.all_units()])

    async def list_workers(self, request: web.Request) -> web.Response:
        """``GET /api/workers``."""
        workers = sorted(self.leader.workers.values(), key=lambda w: w.unit)
        return json_response([self._worker_json(w, with_address=True) for w in workers])

    async def add_worker(self, request: web.Request) -> web.Response:
        """``PUT /api/workers``: 201 when new, 200 when it exists (left unchanged)."""
        body = await self.body(
            request,
            [
                Field("pioreactor_unit", ("str",), required=True),
                Field("model_name", ("str", "null")),
                Field("model_version", ("str", "null")),
            ],
        )
        unit = body.get("pioreactor_unit")
        if not isinstance(unit, str) or not worker_name_is_valid(unit):
            raise ApiError(
                400,
                "Invalid worker name",
                cause="Worker names must be alphanumeric hostnames.",
                remediation=(
                    "Use the Pioreactor hostname, without a .local suffix. Don't use the IP "
                    "address, or any non-alphanumeric characters."
                ),
            )
        leader = self.leader
        if unit in leader.workers:
            return json_response({"status": "success"})
        leader.workers[unit] = Worker(
            unit, iso_ms(utcnow()), 1, body.get("model_name"), body.get("model_version")
        )
        return json_response({"status": "success"}, status=201)

    def _worker(self, unit: str) -> Worker:
        worker = self.leader.workers.get(unit)
        if worker is None:
            raise ApiError(
                404,
                "Worker not found",
                cause=f"Worker '{unit}' not in leader database.",
                remediation="Check the unit name or add the worker to the inventory.",
            )
        return worker

    async def get_worker(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}``."""
        worker = self._worker(request.match_info["unit"])
        return json_response(self._worker_json(worker, with_address=False))

    async def delete_worker(self, request: web.Request) -> web.Response:
        """``DELETE /api/workers/{unit}`` → 202 ``{"status": "success"}``."""
        unit = request.match_info["unit"]
        leader = self.leader
        if unit not in leader.workers:
            raise ApiError(
                404,
                f"Worker {unit} not found",
                cause="Worker name not found in database.",
                remediation="Check the unit name or add the worker to the inventory.",
            )
        del leader.workers[unit]
        await leader.unassign(unit)
        sim = leader.units.get(unit)
        if sim is not None:
            await sim.stop_jobs()
        return json_response({"status": "success"}, status=202)

    async def worker_experiment(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/experiment``."""
        unit = request.match_info["unit"]
        leader = self.leader
        worker = leader.workers.get(unit)
        if worker is None:
            raise ApiError(
                404,
                f"Worker {unit} not found.",
                cause=f"Worker '{unit}' not in leader database.",
                remediation="Check the unit name or add the worker to the inventory.",
            )
        assignment = leader.assignments.get(unit)
        if assignment is None:
            raise ApiError(
                404,
                f"Worker `{unit}` is not assigned to any experiment.",
                cause=f"No experiment assignment for worker '{unit}'.",
                remediation="Assign the worker to an experiment before querying its assignment.",
            )
        return json_response(
            {
                "pioreactor_unit": unit,
                "is_active": worker.is_active,
                "experiment": assignment.experiment,
                "model_name": worker.model_name,
                "model_version": worker.model_version,
            }
        )

    async def list_assignments(self, request: web.Request) -> web.Response:
        """``GET /api/workers/assignments``."""
        leader = self.leader
        rows: list[dict[str, Any]] = []
        for unit, worker in sorted(leader.workers.items()):
            assignment = leader.assignments.get(unit)
            rows.append(
                {
                    "pioreactor_unit": unit,
                    "experiment": assignment.experiment if assignment else None,
                    "is_active": worker.is_active,
                }
            )
        return json_response(rows)

    async def set_active(self, request: web.Request) -> web.Response:
        """``PUT /api/workers/{unit}/is_active`` ``{"is_active": 0|1}``."""
        unit = request.match_info["unit"]
        leader = self.leader
        leader.require_registered_worker(unit)
        body = await self.body(request, [Field("is_active", ("int",), required=True)])
        status = body["is_active"]
        if status not in (0, 1):
            raise ApiError(
                400,
                "Invalid status. Status must be integer 0 or 1.",
                cause=f"Received status '{status}'.",
                remediation="Send is_active as 0 or 1.",
            )
        leader.workers[unit] = attrs.evolve(leader.workers[unit], is_active=int(status))
        sim = leader.units.get(unit)
        if status == 0 and sim is not None:
            await sim.stop_jobs()
        return json_response({"status": "success"})

    def _model_json(self, worker: Worker) -> dict[str, Any]:
        for model in catalog("models.json")["models"]:
            if (model["model_name"], model["model_version"]) == (
                worker.model_name,
                worker.model_version,
            ):
                return {"pioreactor_unit": worker.unit, **model}
        return {
            "pioreactor_unit": worker.unit,
            "model_name": worker.model_name,
            "model_version": worker.model_version,
        }

    async def get_worker_model(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/model``."""
        worker = self._worker(request.match_info["unit"])
        return json_response(self._model_json(worker), cache_seconds=5)

    async def set_worker_model(self, request: web.Request) -> web.Response:
        """``PUT /api/workers/{unit}/model`` ``{"model_name", "model_version"}``."""
        body = await self.body(
            request,
            [
                Field("model_name", ("str",), required=True),
                Field("model_version", ("str",), required=True),
            ],
        )
        unit = request.match_info["unit"]
        worker = self._worker(unit)
        known = {(m["model_name"], m["model_version"]) for m in catalog("models.json")["models"]}
        if (body["model_name"], body["model_version"]) not in known:
            raise ApiError(
                400,
                "Unknown model",
                cause=f"{body['model_name']} {body['model_version']} is not a known model.",
                remediation="Choose a model from GET /api/models.",
            )
        self.leader.workers[unit] = attrs.evolve(
            worker, model_name=body["model_name"], model_version=body["model_version"]
        )
        return json_response({"status": "success"})

    async def models(self, request: web.Request) -> web.Response:
        """``GET /api/models``."""
        return json_response(catalog("models.json"), cache_seconds=5)
