"""Routes that reach units: ``/unit_api/*`` (served by the leader unit) and the ``/api`` fan-outs
for versions, capabilities, plugins, system, calibrations, estimators and calibration sessions."""

from __future__ import annotations

import io
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from tether.testing.pioreactor._catalog import YamlError, catalog, dump_yaml, load_yaml
from tether.testing.pioreactor._http import RouteGroup
from tether.testing.pioreactor._leader import UNIVERSAL_EXPERIMENT, UnitOp
from tether.testing.pioreactor._tasks import TaskFailed
from tether.testing.pioreactor._units import SimUnit, UnitHttpError
from tether.testing.pioreactor._wire import (
    ApiError,
    Field,
    as_dict,
    as_list,
    iso_ms,
    json_response,
    maybe_dict,
    utcnow,
)

__all__ = ["UnitRoutes", "validate_calibration"]

_COMMON_CAL_FIELDS: Final = (
    "calibration_name",
    "calibrated_on_pioreactor_unit",
    "created_at",
    "curve_data_",
    "x",
    "y",
    "recorded_data",
)
_CAL_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "simple_stirring": ("pwm_hz", "voltage"),
    "simple_peristaltic_pump": ("hz", "dc", "voltage"),
    "od": ("ir_led_intensity", "angle", "pd_channel"),
    "od600": ("ir_led_intensity", "angle", "pd_channel"),
}
_RUN_FIELDS: Final = (
    Field("options", ("object",)),
    Field("args", ("array",)),
    Field("env", ("object",)),
    Field("config_overrides", ("array",)),
)


def validate_calibration(text: str) -> dict[str, Any]:
    """Parse and check calibration YAML like upstream's msgspec structs (400 before any task)."""

    def bad(detail: str) -> ApiError:
        return ApiError(
            400,
            f"YAML data is not correct, or required calibration struct missing: {detail}",
            cause="Calibration YAML failed schema validation.",
            remediation="Fix the YAML structure and retry.",
        )

    try:
        data = load_yaml(text)
    except YamlError as exc:
        raise bad(str(exc)) from None
    calibration = maybe_dict(data)
    if calibration is None:
        raise bad("Expected `object`")
    kind = calibration.get("calibration_type")
    if kind is None:
        raise bad("Object missing required field `calibration_type`")
    if kind not in _CAL_TYPES:
        raise bad(f"Invalid value '{kind}' - at `$.calibration_type`")
    for name in (*_COMMON_CAL_FIELDS, *_CAL_TYPES[str(kind)]):
        if name not in calibration:
            raise bad(f"Object missing required field `{name}`")
    curve = calibration["curve_data_"]
    if as_dict(curve).get("type") not in ("poly", "spline", "akima"):
        raise bad("Invalid value - at `$.curve_data_.type`")
    if not isinstance(calibration["calibration_name"], str):
        raise bad("Expected `str` - at `$.calibration_name`")
    return calibration


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _zip_response(data: bytes, filename: str) -> web.Response:
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={
            "Cache-Control": "no-cache",
            "Content-Disposition": f"attachment; filename={filename}",
        },
    )


class UnitRoutes(RouteGroup):
    """``/unit_api`` of the leader unit, and ``/api`` routes that fan out to units."""

    def register(self) -> None:
        """Add the routes."""
        c = self.contract
        # /api fan-outs
        self.add("GET", "/api/units/{unit}/versions/app", self.versions)
        for kind in ("units", "workers"):
            self.add("GET", f"/api/{kind}/{{unit}}/capabilities", self.capabilities)
        self.add("GET", "/api/units/{unit}/plugins/installed", self.plugins_installed)
        self.add("POST,PATCH", "/api/units/{unit}/plugins/install", self.plugin_install)
        self.add("POST,PATCH", "/api/units/{unit}/plugins/uninstall", self.plugin_uninstall)
        self.add("POST", "/api/units/{unit}/system/reboot", self.system_noop)
        self.add("POST", "/api/units/{unit}/system/shutdown", self.system_noop)
        if c.worker_task_results_route:
            self.add("POST", "/api/units/{unit}/system/repair", self.system_noop)
        self.add("GET", "/api/units/{unit}/system/utc_clock", self.utc_clock)
        self.add("POST", "/api/system/utc_clock", self.set_utc_clock)
        self.add("POST", "/api/system/update_next_version", self.update_software)
        self.add("POST", "/api/system/update_from_archive", self.update_software)
        self.add("GET", "/api/units/{unit}/zipped_dot_pioreactor", self.zipped_dot_pioreactor)
        self.add("GET", "/api/workers/{unit}/zipped_calibrations", self.zipped_calibrations)
        base = "/api/workers/{unit}"
        if c.estimators:
            self.add("POST", base + "/calibrations/sessions", self.session_start)
            self.add("GET", base + "/calibrations/sessions/{session}", self.session_get)
            self.add("POST", base + "/calibrations/sessions/{session}/abort", self.session_abort)
            self.add("POST", base + "/calibrations/sessions/{session}/inputs", self.session_inputs)
            self.add("GET", base + "/calibration_protocols", self.api_protocols)
            self.add("GET", base + "/estimators", self.api_estimators)
            self.add("GET", base + "/estimators/{device}", self.api_estimators_device)
            self.add("GET", base + "/estimators/{device}/{name}", self.api_estimator)
            self.add("DELETE", base + "/estimators/{device}/{name}", self.api_delete_estimator)
            self.add("GET", base + "/active_estimators", self.api_active_estimators)
            self.add("PATCH", base + "/active_estimators/{device}/{name}", self.api_set_estimator)
            self.add("DELETE", base + "/active_estimators/{device}", self.api_unset_estimator)
        self.add("GET", base + "/calibrations", self.api_calibrations)
        self.add("GET", base + "/calibrations/{device}", self.api_calibrations_device)
        self.add("POST", base + "/calibrations/{device}", self.api_create_calibration)
        self.add("GET", base + "/calibrations/{device}/{name}", self.api_calibration)
        self.add("DELETE", base + "/calibrations/{device}/{name}", self.api_delete_calibration)
        self.add("GET", base + "/active_calibrations", self.api_active_calibrations)
        self.add("PATCH", base + "/active_calibrations/{device}/{name}", self.api_set_calibration)
        self.add("DELETE", base + "/active_calibrations/{device}", self.api_unset_calibration)
        # /unit_api of the leader unit
        self.add("GET", "/unit_api/health", self.health)
        self.add("GET", "/unit_api/versions/app", self.app_version)
        self.add("GET", "/unit_api/capabilities", self.unit_capabilities)
        self.add("POST,PATCH", "/unit_api/jobs/run/job_name/{job}", self.unit_run)
        self.add("POST,PATCH", "/unit_api/jobs/stop", self.unit_stop)
        self.add("POST,PATCH", "/unit_api/jobs/stop/all", self.unit_stop_all)
        self.add("GET", "/unit_api/jobs", self.unit_jobs)
        self.add("GET", "/unit_api/jobs/running", self.unit_running)
        self.add("GET", "/unit_api/jobs/running/experiments/{experiment}", self.unit_running)
        self.add("GET", "/unit_api/jobs/running/{job}", self.unit_running)
        self.add("GET", "/unit_api/long_running_jobs/running", self.unit_long_running)
        self.add("GET", "/unit_api/jobs/settings/job_name/{job}", self.unit_settings)
        self.add(
            "GET", "/unit_api/jobs/settings/job_name/{job}/setting/{setting}", self.unit_setting
        )
        self.add("GET", "/unit_api/plugins/installed", self.unit_plugins)
        self.add("GET", "/unit_api/system/utc_clock", self.unit_clock)
        self.add("GET", "/unit_api/system/disk_space", self.disk_space)
        self.add("GET", "/unit_api/system/memory", self.memory)
        self.add("GET", "/unit_api/system/ipv4", self.ipv4)
        self.add("GET", "/unit_api/system/web_server/status", self.web_server_status)
        self.add("GET", "/unit_api/model", self.unit_model)
        self.add("GET", "/unit_api/bioreactor/experiments/{experiment}", self.bioreactor)
        self.add("GET", "/unit_api/calibrations", self.unit_calibrations)
        self.add("GET", "/unit_api/calibrations/{device}", self.unit_calibrations_device)
        self.add("POST", "/unit_api/calibrations/{device}", self.unit_create_calibration)
        self.add("GET", "/unit_api/calibrations/{device}/{name}", self.unit_calibration)
        self.add("DELETE", "/unit_api/calibrations/{device}/{name}", self.unit_delete_calibration)
        self.add("GET", "/unit_api/active_calibrations", self.unit_active_calibrations)
        self.add(
            "PATCH", "/unit_api/active_calibrations/{device}/{name}", self.unit_set_calibration
        )
        self.add("DELETE", "/unit_api/active_calibrations/{device}", self.unit_unset_calibration)
        self.add("GET", "/unit_api/zipped_calibrations", self.unit_zipped_calibrations)
        if c.estimators:
            self.add("GET", "/unit_api/calibration_protocols", self.unit_protocols)
            self.add("GET", "/unit_api/estimators", self.unit_estimators)
            self.add("GET", "/unit_api/active_estimators", self.unit_active_estimators)

    @property
    def me(self) -> SimUnit:
        """The leader's own unit."""
        return self.leader.units[self.leader.leader_unit]

    @staticmethod
    def _unit_error(exc: UnitHttpError) -> ApiError:
        return ApiError(exc.status, exc.message, cause=exc.cause, remediation=exc.remediation)

    # -- versions, capabilities, plugins, system ---------------------------------------------------

    async def versions(self, request: web.Request) -> web.Response:
        """``GET /api/units/{unit}/versions/app``."""
        version = self.leader.version

        async def op(sim: SimUnit) -> dict[str, str]:
            return {"version": version}

        return self.fanout_task(
            self.units_for(request.match_info["unit"]), "GET", "/unit_api/versions/app", op
        )

    async def capabilities(self, request: web.Request) -> web.Response:
        """``GET /api/{units|workers}/{unit}/capabilities``."""

        async def op(sim: SimUnit) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = catalog("capabilities.json")
            return found

        return self.fanout_task(
            self.units_for(request.match_info["unit"]), "GET", "/unit_api/capabilities", op
        )

    async def plugins_installed(self, request: web.Request) -> web.Response:
        """``GET /api/units/{unit}/plugins/installed``."""

        async def op(sim: SimUnit) -> list[dict[str, Any]]:
            return [dict(plugin) for plugin in sim.plugins]

        return self.fanout_task(
            self.units_for(request.match_info["unit"]), "GET", "/unit_api/plugins/installed", op
        )

    async def plugin_install(self, request: web.Request) -> web.Response:
        """``POST /api/units/{unit}/plugins/install`` ``{"args": [name], "options": {...}}``."""
        body = await self.body(request, _RUN_FIELDS[:3])
        args = as_list(body.get("args"))
        name = str(args[0]) if args else ""
        version = str(as_dict(body.get("options")).get("version") or "0.1.0")

        async def op(sim: SimUnit) -> bool:
            if not name:
                raise UnitHttpError(400, "Missing plugin name.")
            sim.plugins = [p for p in sim.plugins if p["name"] != name]
            sim.plugins.append(
                {"name": name, "version": version, "source": "pypi", "description": None}
            )
            return True

        return self.fanout_task(
            self.units_for(request.match_info["unit"]), "POST", "/unit_api/plugins/install", op
        )

    async def plugin_uninstall(self, request: web.Request) -> web.Response:
        """``POST /api/units/{unit}/plugins/uninstall`` ``{"args": [name]}``."""
        body = await self.body(request, _RUN_FIELDS[:3])
        args = as_list(body.get("args"))
        name = str(args[0]) if args else ""

        async def op(sim: SimUnit) -> bool:
            sim.plugins = [p for p in sim.plugins if p["name"] != name]
            return True

        return self.fanout_task(
            self.units_for(request.match_info["unit"]), "POST", "/unit_api/plugins/uninstall", op
        )

    async def system_noop(self, request: web.Request) -> web.Response:
        """Reboot, shutdown, repair: no-ops, as on a leader in TESTING mode."""
        action = request.path.rsplit("/", 1)[-1]

        async def op(sim: SimUnit) -> bool:
            return True

        return self.fanout_task(
            self.units_for(request.match_info["unit"]), "POST", f"/unit_api/system/{action}", op
        )

    async def utc_clock(self, request: web.Request) -> web.Response:
        """``GET /api/units/{unit}/system/utc_clock``."""

        async def op(sim: SimUnit) -> dict[str, Any]:
            return {"status": "success", "clock_time": iso_ms(utcnow()), "synchronized": None}

        return self.fanout_task(
            self.units_for(request.match_info["unit"]), "GET", "/unit_api/system/utc_clock", op
        )

    async def set_utc_clock(self, request: web.Request) -> web.Response:
        """``POST /api/system/utc_clock``: accepted, a no-op (as in TESTING mode)."""
        await self.body(request, [Field("utc_clock_time", ("str",), required=True)])

        async def op(sim: SimUnit) -> bool:
            return True

        return self.fanout_task(list(self.leader.workers), "POST", "/unit_api/system/utc_clock", op)

    async def update_software(self, request: web.Request) -> web.Response:
        """Software updates are not simulated: the task fails and says so."""

        async def work() -> Any:
            raise TaskFailed("The simulator does not install software updates.")

        return self.accepted(self.leader.tasks.submit(work))

    def _dot_pioreactor_files(self, unit: str) -> dict[str, str]:
        files = {"config.ini": self.leader.config_shared}
        specific = self.leader.config_specific.get(unit)
        if specific:
            files["unit_config.ini"] = specific
        return files

    async def zipped_dot_pioreactor(self, request: web.Request) -> web.Response:
        """``GET /api/units/{unit}/zipped_dot_pioreactor``."""
        unit = request.match_info["unit"]
        self.leader.require_registered_unit(unit)
        return _zip_response(_zip(self._dot_pioreactor_files(unit)), f"{unit}_dot_pioreactor.zip")

    def _calibrations_zip(self, sim: SimUnit) -> bytes:
        files: dict[str, str] = {}
        for device, found in sim.calibrations.items():
            for name, data in found.items():
                try:
                    files[f"{device}/{name}.yaml"] = dump_yaml(data)
                except YamlError:
                    continue
        return _zip(files)

    async def zipped_calibrations(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/zipped_calibrations``."""
        unit = request.match_info["unit"]
        self.leader.require_registered_worker(unit)
        sim = self.leader.units.get(unit)
        if sim is None or not sim.reachable:
            raise ApiError(502, f"Could not reach {unit}.")
        return _zip_response(self._calibrations_zip(sim), f"{unit}_calibrations.zip")

    # -- calibrations, estimators through /api ----------------------------------------------------

    def _worker_fanout(
        self, request: web.Request, method: str, path: str, op: UnitOp
    ) -> web.Response:
        units = self.units_for(request.match_info["unit"], workers_only=True)
        return self.fanout_task(units, method, path, op)

    async def api_calibrations(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/calibrations``."""

        async def op(sim: SimUnit) -> Any:
            return sim.calibration_list()

        return self._worker_fanout(request, "GET", "/unit_api/calibrations", op)

    async def api_calibrations_device(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/calibrations/{device}``."""
        device = request.match_info["device"]

        async def op(sim: SimUnit) -> Any:
            return sim.calibrations_for(device)

        return self._worker_fanout(request, "GET", f"/unit_api/calibrations/{device}", op)

    async def api_calibration(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/calibrations/{device}/{name}``."""
        device, name = request.match_info["device"], request.match_info["name"]

        async def op(sim: SimUnit) -> Any:
            return sim.calibration(device, name)

        return self._worker_fanout(request, "GET", f"/unit_api/calibrations/{device}/{name}", op)

    async def api_create_calibration(self, request: web.Request) -> web.Response:
        """``POST /api/workers/{unit}/calibrations/{device}`` (YAML checked before the task)."""
        body = await self.body(
            request,
            [
                Field("calibration_data", ("str",), required=True),
                Field("set_as_active", ("bool",)),
            ],
        )
        data = validate_calibration(str(body["calibration_data"]))
        device = request.match_info["device"]
        active = bool(body.get("set_as_active", False))

        async def op(sim: SimUnit) -> Any:
            return sim.create_calibration(device, dict(data), active)

        return self._worker_fanout(request, "POST", f"/unit_api/calibrations/{device}", op)

    async def api_delete_calibration(self, request: web.Request) -> web.Response:
        """``DELETE /api/workers/{unit}/calibrations/{device}/{name}``."""
        device, name = request.match_info["device"], request.match_info["name"]

        async def op(sim: SimUnit) -> Any:
            return sim.delete_calibration(device, name)

        return self._worker_fanout(request, "DELETE", f"/unit_api/calibrations/{device}/{name}", op)

    async def api_active_calibrations(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/active_calibrations``."""

        async def op(sim: SimUnit) -> Any:
            return sim.active_calibration_map()

        return self._worker_fanout(request, "GET", "/unit_api/active_calibrations", op)

    async def api_set_calibration(self, request: web.Request) -> web.Response:
        """``PATCH /api/workers/{unit}/active_calibrations/{device}/{name}``."""
        device, name = request.match_info["device"], request.match_info["name"]

        async def op(sim: SimUnit) -> Any:
            return sim.set_active_calibration(device, name)

        return self._worker_fanout(
            request, "PATCH", f"/unit_api/active_calibrations/{device}/{name}", op
        )

    async def api_unset_calibration(self, request: web.Request) -> web.Response:
        """``DELETE /api/workers/{unit}/active_calibrations/{device}``."""
        device = request.match_info["device"]

        async def op(sim: SimUnit) -> Any:
            return sim.remove_active_calibration(device)

        return self._worker_fanout(request, "DELETE", f"/unit_api/active_calibrations/{device}", op)

    async def api_protocols(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/calibration_protocols``."""

        async def op(sim: SimUnit) -> Any:
            return catalog("calibration_protocols.json")

        return self._worker_fanout(request, "GET", "/unit_api/calibration_protocols", op)

    async def api_estimators(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/estimators``."""

        async def op(sim: SimUnit) -> Any:
            return sim.estimator_list()

        return self._worker_fanout(request, "GET", "/unit_api/estimators", op)

    async def api_estimators_device(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/estimators/{device}``."""
        device = request.match_info["device"]

        async def op(sim: SimUnit) -> Any:
            return sim.estimators_for(device)

        return self._worker_fanout(request, "GET", f"/unit_api/estimators/{device}", op)

    async def api_estimator(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/estimators/{device}/{name}``."""
        device, name = request.match_info["device"], request.match_info["name"]

        async def op(sim: SimUnit) -> Any:
            return sim.estimator(device, name)

        return self._worker_fanout(request, "GET", f"/unit_api/estimators/{device}/{name}", op)

    async def api_delete_estimator(self, request: web.Request) -> web.Response:
        """``DELETE /api/workers/{unit}/estimators/{device}/{name}``."""
        device, name = request.match_info["device"], request.match_info["name"]

        async def op(sim: SimUnit) -> Any:
            return sim.delete_estimator(device, name)

        return self._worker_fanout(request, "DELETE", f"/unit_api/estimators/{device}/{name}", op)

    async def api_active_estimators(self, request: web.Request) -> web.Response:
        """``GET /api/workers/{unit}/active_estimators``."""

        async def op(sim: SimUnit) -> Any:
            return sim.active_estimator_map()

        return self._worker_fanout(request, "GET", "/unit_api/active_estimators", op)

    async def api_set_estimator(self, request: web.Request) -> web.Response:
        """``PATCH /api/workers/{unit}/active_estimators/{device}/{name}``."""
        device, name = request.match_info["device"], request.match_info["name"]

        async def op(sim: SimUnit) -> Any:
            return sim.set_active_estimator(device, name)

        return self._worker_fanout(
            request, "PATCH", f"/unit_api/active_estimators/{device}/{name}", op
        )

    async def api_unset_estimator(self, request: web.Request) -> web.Response:
        """``DELETE /api/workers/{unit}/active_estimators/{device}``."""
        device = request.match_info["device"]

        async def op(sim: SimUnit) -> Any:
            return sim.remove_active_estimator(device)

        return self._worker_fanout(request, "DELETE", f"/unit_api/active_estimators/{device}", op)

    # -- calibration sessions --------------------------------------------------------------------

    def _session_unit(self, request: web.Request) -> SimUnit:
        unit = request.match_info["unit"]
        self.leader.require_registered_worker(unit)
        sim = self.leader.units.get(unit)
        if sim is None or not sim.reachable:
            raise ApiError(502, f"Could not reach {unit}.")
        return sim

    @staticmethod
    def _session_view(session: dict[str, Any]) -> dict[str, Any]:
        step_id = session["step_id"]
        step: dict[str, Any]
        if session["status"] != "in_progress":
            step = {
                "step_id": "",
                "step_type": "info",
                "title": "Protocol ended",
                "body": "This protocol session has ended.",
                "fields": [],
                "metadata": {},
            }
        elif step_id == "intro":
            step = {
                "step_id": "intro",
                "step_type": "info",
                "title": f"{session['target_device']} calibration",
                "body": "Prepare the vial, then continue.",
                "fields": [],
                "metadata": {},
            }
        else:
            step = {
                "step_id": "run_calibration",
                "step_type": "action",
                "title": "Record calibration",
                "body": "Press Run calibration to start.",
                "fields": [],
                "metadata": {"primary_action_label": "Run calibration"},
            }
        return {"session": dict(session), "step": step}

    def _session(self, sim: SimUnit, session_id: str) -> dict[str, Any]:
        session = sim.sessions.get(session_id)
        if session is None:
            raise ApiError(404, "Calibration session not found.")
        return session

    async def session_start(self, request: web.Request) -> web.Response:
        """``POST /api/workers/{unit}/calibrations/sessions`` → 201 with the first step."""
        body = await self.body(
            request,
            [
                Field("target_device", ("str",), required=True),
                Field("protocol_name", ("str",), required=True),
            ],
        )
        sim = self._session_unit(request)
        device, protocol = str(body["target_device"]), str(body["protocol_name"])
        known = {
            (p["target_device"], p["protocol_name"]) for p in catalog("calibration_protocols.json")
        }
        if (device, protocol) not in known:
            message = f"\"Unknown protocol '{protocol}' for target device '{device}'.\""
            raise ApiError(400, message)
        now = iso_ms(utcnow())
        session: dict[str, Any] = {
            "session_id": str(uuid.uuid4()),
            "protocol_name": protocol,
            "target_device": device,
            "status": "in_progress",
            "step_id": "intro",
            "data": {},
            "created_at": now,
            "updated_at": now,
            "result": None,
            "error": None,
        }
        sim.sessions[session["session_id"]] = session
        return json_response(self._session_view(session), status=201)

    async def session_get(self, request: web.Request) -> web.Response:
        """``GET …/calibrations/sessions/{session}``."""
        sim = self._session_unit(request)
        return json_response(self._session_view(self._session(sim, request.match_info["session"])))

    async def session_abort(self, request: web.Request) -> web.Response:
        """``POST …/sessions/{session}/abort``."""
        sim = self._session_unit(request)
        session = self._session(sim, request.match_info["session"])
        if session["status"] == "in_progress":
            session.update(
                status="aborted", error="Calibration aborted by user.", updated_at=iso_ms(utcnow())
            )
        return json_response(self._session_view(session))

    async def session_inputs(self, request: web.Request) -> web.Response:
        """``POST …/sessions/{session}/inputs`` ``{"inputs": {…}}`` → task with the next step.

        The simulated protocol has two steps; finishing it creates a calibration for the device.
        """
        await self.body(request, [Field("inputs", ("object",), required=True)])
        sim = self._session_unit(request)
        session = self._session(sim, request.match_info["session"])

        async def work() -> dict[str, Any]:
            if session["status"] != "in_progress":
                raise TaskFailed("This protocol session has ended.")
            now = iso_ms(utcnow())
            if session["step_id"] == "intro":
                session.update(step_id="run_calibration", updated_at=now)
            else:
                name = f"{session['target_device']}-{now[:10]}-{session['session_id'][:4]}"
                device = session["target_device"]
                sim.calibrations.setdefault(device, {})[name] = {
                    "calibration_type": "simple_stirring" if device == "stirring" else "simulated",
                    "calibration_name": name,
                    "calibrated_on_pioreactor_unit": sim.name,
                    "created_at": now,
                    "curve_data_": {"type": "poly", "coefficients": [10.0, 50.0]},
                    "x": "DC %",
                    "y": "RPM",
                    "recorded_data": {"x": [10.0, 20.0], "y": [150.0, 250.0]},
                }
                session.update(
                    status="completed",
                    updated_at=now,
                    result={"calibrations": [{"device": device, "calibration_name": name}]},
                )
            return self._session_view(session)

        return self.accepted(self.leader.tasks.submit(work))

    # -- /unit_api of the leader unit --------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        """``GET /unit_api/health``."""
        return json_response(
            {
                "status": "ok",
                "pioreactor_unit": self.leader.leader_unit,
                "utc_time": iso_ms(utcnow()),
            },
            cache_seconds=0,
        )

    async def app_version(self, request: web.Request) -> web.Response:
        """``GET /unit_api/versions/app``: the cheapest call, used to detect the contract."""
        return json_response({"version": self.leader.version}, cache_seconds=30)

    async def unit_capabilities(self, request: web.Request) -> web.Response:
        """``GET /unit_api/capabilities``."""
        return json_response(catalog("capabilities.json"))

    async def unit_run(self, request: web.Request) -> web.Response:
        """``POST /unit_api/jobs/run/job_name/{job}`` → 429 within 1 s, else a task."""
        job = request.match_info["job"]
        me = self.me
        try:
            me.check_run_rate(job)
        except UnitHttpError as exc:
            raise self._unit_error(exc) from None
        body = await self.body(request, _RUN_FIELDS)
        env: dict[str, Any] = body.get("env") or {}
        assignment = self.leader.assignments.get(me.name)
        experiment = str(
            env.get("EXPERIMENT") or (assignment.experiment if assignment else UNIVERSAL_EXPERIMENT)
        )
        ok_value: Any = {"ok": True} if self.contract.run_value_ok_object else True

        async def work() -> Any:
            try:
                await me.run_job(job, experiment, body)
            except UnitHttpError as exc:
                raise TaskFailed(exc.message) from None
            except Exception as exc:
                raise TaskFailed(str(exc)) from None
            return ok_value

        return self.accepted(self.leader.tasks.submit(work))

    async def unit_stop(self, request: web.Request) -> web.Response:
        """``POST /unit_api/jobs/stop`` with at least one filter → task, result ``true``."""
        body = await self.body(
            request,
            [
                Field("job_name", ("str", "null")),
                Field("experiment", ("str", "null")),
                Field("job_source", ("str", "null")),
                Field("job_id", ("int", "null")),
            ],
        )
        if not any(body.get(key) for key in ("job_name", "experiment", "job_source", "job_id")):
            raise ApiError(400, "No job filter specified")
        me = self.me

        async def work() -> bool:
            await me.stop_jobs(
                job_name=body.get("job_name"),
                experiment=body.get("experiment"),
                job_id=body.get("job_id"),
            )
            return True

        return self.accepted(self.leader.tasks.submit(work))

    async def unit_stop_all(self, request: web.Request) -> web.Response:
        """``POST /unit_api/jobs/stop/all`` → task."""
        me = self.me

        async def work() -> bool:
            await me.stop_jobs()
            return True

        return self.accepted(self.leader.tasks.submit(work))

    async def unit_jobs(self, request: web.Request) -> web.Response:
        """``GET /unit_api/jobs``: every job record, newest first."""
        rows = [
            {
                "job_id": row.job_id,
                "job_name": row.job_name,
                "experiment": row.experiment,
                "job_source": row.job_source,
                "unit": row.unit,
                "started_at": row.started_at,
                "ended_at": row.ended_at,
            }
            for row in self.me.job_rows(running_only=False)
        ]
        return json_response(rows[::-1])

    async def unit_running(self, request: web.Request) -> web.Response:
        """``GET /unit_api/jobs/running[/{job} | /experiments/{experiment}]``."""
        rows = self.me.job_rows()
        job = request.match_info.get("job")
        experiment = request.match_info.get("experiment")
        if job is not None:
            rows = [row for row in rows if row.job_name == job]
        if experiment is not None:
            rows = [row for row in rows if row.experiment == experiment]
        return json_response([row.as_json() for row in rows])

    async def unit_long_running(self, request: web.Request) -> web.Response:
        """``GET /unit_api/long_running_jobs/running``."""
        return json_response([r.as_json() for r in self.me.job_rows() if r.is_long_running_job])

    async def unit_settings(self, request: web.Request) -> web.Response:
        """``GET /unit_api/jobs/settings/job_name/{job}``."""
        try:
            return json_response(self.me.job_settings(request.match_info["job"]))
        except UnitHttpError as exc:
            raise self._unit_error(exc) from None

    async def unit_setting(self, request: web.Request) -> web.Response:
        """``GET /unit_api/jobs/settings/job_name/{job}/setting/{setting}``."""
        try:
            return json_response(
                self.me.job_setting(request.match_info["job"], request.match_info["setting"])
            )
        except UnitHttpError as exc:
            raise self._unit_error(exc) from None

    async def unit_plugins(self, request: web.Request) -> web.Response:
        """``GET /unit_api/plugins/installed``."""
        return json_response([dict(p) for p in self.me.plugins], cache_seconds=5)

    async def unit_clock(self, request: web.Request) -> web.Response:
        """``GET /unit_api/system/utc_clock``."""
        return json_response(
            {"status": "success", "clock_time": iso_ms(utcnow()), "synchronized": None}
        )

    async def disk_space(self, request: web.Request) -> web.Response:
        """``GET /unit_api/system/disk_space``."""
        usage = shutil.disk_usage(tempfile.gettempdir())
        return json_response(
            {"available_bytes": usage.free, "total_bytes": usage.total}, cache_seconds=10
        )

    async def memory(self, request: web.Request) -> web.Response:
        """``GET /unit_api/system/memory`` (a plausible fixed Raspberry Pi)."""
        return json_response(
            {"available_bytes": 3_221_225_472, "total_bytes": 4_294_967_296}, cache_seconds=10
        )

    async def ipv4(self, request: web.Request) -> web.Response:
        """``GET /unit_api/system/ipv4``."""
        return json_response({"ipv4_address": "127.0.0.1"}, cache_seconds=0)

    async def web_server_status(self, request: web.Request) -> web.Response:
        """``GET /unit_api/system/web_server/status``."""
        return json_response(
            {"service": "lighttpd.service,huey.service", "state": "ready", "raw_status": "active"},
            cache_seconds=0,
        )

    async def unit_model(self, request: web.Request) -> web.Response:
        """``GET /unit_api/model``: the unit's model."""
        me = self.me
        for model in catalog("models.json")["models"]:
            if (model["model_name"], model["model_version"]) == (me.model_name, me.model_version):
                return json_response(model)
        raise ApiError(404, "No model assigned to this unit.")

    async def bioreactor(self, request: web.Request) -> web.Response:
        """``GET /unit_api/bioreactor/experiments/{experiment}`` (no dosing is simulated)."""
        return json_response(
            {
                "values": {
                    "current_volume_ml": 14.0,
                    "efflux_tube_volume_ml": 14.0,
                    "alt_media_fraction": 0.0,
                    "cumulative_media_added_ml": 0.0,
                    "cumulative_alt_media_added_ml": 0.0,
                    "cumulative_waste_removed_ml": 0.0,
                }
            }
        )

    def _sync(self, call: Callable[..., Any], *args: str) -> web.Response:
        try:
            return json_response(call(*args), cache_seconds=10)
        except UnitHttpError as exc:
            raise self._unit_error(exc) from None

    async def unit_calibrations(self, request: web.Request) -> web.Response:
        """``GET /unit_api/calibrations``."""
        return self._sync(self.me.calibration_list)

    async def unit_calibrations_device(self, request: web.Request) -> web.Response:
        """``GET /unit_api/calibrations/{device}``."""
        return self._sync(self.me.calibrations_for, request.match_info["device"])

    async def unit_calibration(self, request: web.Request) -> web.Response:
        """``GET /unit_api/calibrations/{device}/{name}``."""
        return self._sync(
            self.me.calibration, request.match_info["device"], request.match_info["name"]
        )

    async def unit_create_calibration(self, request: web.Request) -> web.Response:
        """``POST /unit_api/calibrations/{device}`` (sync, 201)."""
        body = await self.body(
            request,
            [
                Field("calibration_data", ("str",), required=True),
                Field("set_as_active", ("bool",)),
            ],
        )
        data = validate_calibration(str(body["calibration_data"]))
        try:
            created = self.me.create_calibration(
                request.match_info["device"], data, bool(body.get("set_as_active", False))
            )
        except UnitHttpError as exc:
            raise self._unit_error(exc) from None
        return json_response(created, status=201)

    async def unit_delete_calibration(self, request: web.Request) -> web.Response:
        """``DELETE /unit_api/calibrations/{device}/{name}``."""
        return self._sync(
            self.me.delete_calibration, request.match_info["device"], request.match_info["name"]
        )

    async def unit_active_calibrations(self, request: web.Request) -> web.Response:
        """``GET /unit_api/active_calibrations``."""
        return self._sync(self.me.active_calibration_map)

    async def unit_set_calibration(self, request: web.Request) -> web.Response:
        """``PATCH /unit_api/active_calibrations/{device}/{name}``."""
        return self._sync(
            self.me.set_active_calibration,
            request.match_info["device"],
            request.match_info["name"],
        )

    async def unit_unset_calibration(self, request: web.Request) -> web.Response:
        """``DELETE /unit_api/active_calibrations/{device}``."""
        return self._sync(self.me.remove_active_calibration, request.match_info["device"])

    async def unit_zipped_calibrations(self, request: web.Request) -> web.Response:
        """``GET /unit_api/zipped_calibrations``."""
        return _zip_response(self._calibrations_zip(self.me), "calibrations.zip")

    async def unit_protocols(self, request: web.Request) -> web.Response:
        """``GET /unit_api/calibration_protocols``."""
        return json_response(catalog("calibration_protocols.json"), cache_seconds=10)

    async def unit_estimators(self, request: web.Request) -> web.Response:
        """``GET /unit_api/estimators``."""
        return self._sync(self.me.estimator_list)

    async def unit_active_estimators(self, request: web.Request) -> web.Response:
        """``GET /unit_api/active_estimators``."""
        return self._sync(self.me.active_estimator_map)
