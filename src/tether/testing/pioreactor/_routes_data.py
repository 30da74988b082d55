"""Routes for config, descriptors, exportable datasets and exports, experiment profiles, and the
small leader-wide endpoints (local access point, historical media/organisms)."""

from __future__ import annotations

import configparser
import io
import zipfile
from datetime import datetime
from pathlib import PurePath
from typing import Any, Final

from aiohttp import web

from tether.testing.pioreactor._catalog import YamlError, catalog, data_text, load_yaml
from tether.testing.pioreactor._export import dataset_rows, write_export
from tether.testing.pioreactor._http import RouteGroup
from tether.testing.pioreactor._leader import BROADCAST
from tether.testing.pioreactor._tasks import TaskFailed
from tether.testing.pioreactor._units import SimUnit
from tether.testing.pioreactor._wire import (
    ApiError,
    Field,
    as_dict,
    as_list,
    iso_ms,
    json_response,
    maybe_dict,
    parse_timestamp,
    utcnow,
)

__all__ = ["DataRoutes", "normalize_profile"]

PROFILE_DIR: Final = "/home/pioreactor/.pioreactor/experiment_profiles"
_PROFILE_FIELDS: Final = (
    "version",
    "experiment_profile_name",
    "metadata",
    "plugins",
    "common",
    "pioreactors",
    "inputs",
)
_ACTION_TYPES: Final = ("start", "stop", "pause", "resume", "update", "log", "repeat", "when")


def _text(body: str, *, cache_seconds: int) -> web.Response:
    return web.Response(
        text=body,
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": f"public, max-age={cache_seconds}"},
    )


_KINDS: Final[dict[type, str]] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    list: "array",
    dict: "object",
}


def _kind(value: object) -> str:
    kind: type = type(value)
    return _KINDS.get(kind, "null")


def _normalize_action(action: object, where: str) -> dict[str, Any]:
    data = maybe_dict(action)
    if data is None:
        raise ValueError(f"Expected `object`, got `{_kind(action)}` - at `{where}`")
    kind = data.get("type")
    if kind not in _ACTION_TYPES:
        raise ValueError(f"Invalid value '{kind}' - at `{where}.type`")
    t_value = data.get("t")
    if isinstance(t_value, int) and not isinstance(t_value, bool):
        t_value = float(t_value)
    out: dict[str, Any] = {"type": kind, "hours_elapsed": data.get("hours_elapsed"), "t": t_value}
    out["if"] = data.get("if", True)
    if kind in ("start", "update", "log"):
        options = dict(as_dict(data.get("options")))
        if kind == "log":
            options.setdefault("level", "NOTICE")
        out["options"] = options
    if kind == "start":
        out["args"] = list(as_list(data.get("args")))
        out["config_overrides"] = dict(as_dict(data.get("config_overrides")))
    return out


def normalize_profile(text: str) -> dict[str, Any]:
    """Parse an experiment profile like upstream's ``Profile`` struct; raises ValueError with a
    msgspec-style message, and returns the profile with its defaults filled in."""
    try:
        data = load_yaml(text)
    except YamlError as exc:
        raise ValueError(str(exc)) from None
    raw = maybe_dict(data)
    if raw is None:
        raise ValueError(f"Expected `object`, got `{_kind(data)}`")
    for key, value in raw.items():
        if key not in _PROFILE_FIELDS:
            raise ValueError(f"Object contains unknown field `{key}`")
        if key in ("version", "experiment_profile_name") and not isinstance(value, str):
            raise ValueError(f"Expected `str`, got `{_kind(value)}` - at `$.{key}`")
    for key in ("version", "experiment_profile_name"):
        if key not in raw:
            raise ValueError(f"Object missing required field `{key}`")
    metadata = maybe_dict(raw.get("metadata") or {})
    if metadata is None:
        raise ValueError(f"Expected `object`, got `{_kind(raw['metadata'])}` - at `$.metadata`")
    jobs: dict[str, Any] = {}
    for job, raw_spec in as_dict(as_dict(raw.get("common")).get("jobs")).items():
        spec = as_dict(raw_spec)
        jobs[job] = {
            "actions": [
                _normalize_action(action, f"$.common.jobs[...].actions[{index}]")
                for index, action in enumerate(as_list(spec.get("actions")))
            ],
            "description": spec.get("description"),
        }
    return {
        "version": raw["version"],
        "experiment_profile_name": raw["experiment_profile_name"],
        "metadata": {
            "author": metadata.get("author"),
            "description": metadata.get("description"),
        },
        "plugins": list(as_list(raw.get("plugins"))),
        "common": {"jobs": jobs},
        "pioreactors": dict(as_dict(raw.get("pioreactors"))),
        "inputs": dict(as_dict(raw.get("inputs"))),
    }


class _CaseKeepingParser(configparser.ConfigParser):
    """A parser that keeps option names as written (``Kp``, ``A``), like upstream's."""

    def optionxform(self, optionstr: str) -> str:
        """Keep the option name unchanged."""
        return optionstr


def _check_ini(code: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True)
    try:
        parser.read_string(code)
    except configparser.DuplicateSectionError as exc:
        raise ApiError(
            400, f"Duplicate section [{exc.section}] was found. Please fix and try again."
        ) from None
    except configparser.DuplicateOptionError as exc:
        raise ApiError(
            400,
            f"Duplicate option, `{exc.option}`, was found in section [{exc.section}]. "
            "Please fix and try again.",
        ) from None
    except configparser.Error:
        raise ApiError(400, "Incorrect syntax. Please fix and try again.") from None
    return parser


class DataRoutes(RouteGroup):
    """Config, descriptors, datasets and export, profiles and misc leader routes."""

    def register(self) -> None:
        """Add the routes for the contract's era."""
        c = self.contract
        if c.config_style == "shared":
            self.add("GET", "/api/config/shared", self.get_shared)
            self.add("PATCH,PUT", "/api/config/shared", self.put_shared)
            self.add("GET", "/api/config/shared/history", self.shared_history)
            self.add("GET", "/api/config/zipped", self.zipped_config)
            self.add("GET", "/api/config/units/{unit}/specific", self.get_specific)
            self.add("PATCH,PUT", "/api/config/units/{unit}/specific", self.put_specific)
            self.add("GET", "/api/config/units/{unit}/specific/history", self.specific_history)
        else:
            base = "/api/config/files" if c.config_style == "files" else "/api/configs"
            self.add("GET", base, self.list_config_files)
            self.add("GET", base + "/{filename}", self.get_config_file)
            self.add("PATCH", base + "/{filename}", self.put_config_file)
            self.add("GET", base + "/{filename}/history", self.config_file_history)
        if c.contrib_routes:
            for kind in ("units", "workers"):
                self.add("GET", f"/api/{kind}/{{unit}}/configuration", self.merged_config_legacy)
        else:
            self.add("GET", "/api/config/units/{unit}", self.merged_config)
        # descriptors
        if c.contrib_routes:
            self.add("GET", "/api/contrib/jobs", self.job_descriptors)
            self.add("GET", "/api/contrib/charts", self.chart_descriptors)
            self.add("GET", "/api/contrib/automations/{kind}", self.automation_descriptors)
        else:
            self.add("GET", "/api/jobs/descriptors", self.job_descriptors)
            self.add("GET", "/api/charts/descriptors", self.chart_descriptors)
            self.add("GET", "/api/automations/descriptors/{kind}", self.automation_descriptors)
        if c.worker_task_results_route:
            self.add("GET", "/api/settings/descriptors", self.settings_descriptors)
            self.add("GET", "/api/workers/{unit}/jobs/descriptors", self.job_descriptors)
            self.add("GET", "/api/workers/{unit}/settings/descriptors", self.settings_descriptors)
            self.add(
                "GET",
                "/api/workers/{unit}/automations/descriptors/{kind}",
                self.automation_descriptors,
            )
        self.add("GET", "/unit_api/jobs/descriptors", self.job_descriptors)
        self.add("GET", "/unit_api/settings/descriptors", self.settings_descriptors)
        self.add("GET", "/unit_api/automations/descriptors/{kind}", self.automation_descriptors)
        self.add("GET", "/unit_api/config/merged", self.unit_merged_config)
        self.add("GET", "/unit_api/config/specific", self.unit_specific_config)
        # datasets
        if c.contrib_routes:
            base = "/api/contrib/exportable_datasets"
            self.add("GET", base, self.list_datasets)
            self.add("GET", base + "/{dataset}/preview", self.preview_dataset)
            self.add("POST", base + "/export_datasets", self.export)
        else:
            base = "/api/datasets/exportable"
            self.add("GET", base, self.list_datasets)
            self.add("GET", base + "/{dataset}/preview", self.preview_dataset)
            self.add("POST", base + "/export", self.export)
        self.add("GET", "/exports/{filename}", self.download_export)
        # profiles
        if c.contrib_routes:
            base = "/api/contrib/experiment_profiles"
            self.add("GET", base, self.list_profiles)
            self.add("POST", base, self.create_profile)
            self.add("PATCH", base, self.update_profile_legacy)
            self.add("GET", base + "/{filename}", self.get_profile)
            self.add("DELETE", base + "/{filename}", self.delete_profile)
            self.add(
                "GET", "/api/experiment_profiles/running/experiments/{experiment}", self.empty_list
            )
            self.add("GET", "/api/is_local_access_point_active", self.local_access_point)
        else:
            base = "/api/experiment_profiles"
            self.add("GET", base, self.list_profiles)
            self.add("POST", base, self.create_profile)
            self.add("GET", base + "/{filename}", self.get_profile)
            self.add("PATCH", base + "/{filename}", self.update_profile)
            self.add("DELETE", base + "/{filename}", self.delete_profile)
            self.add(
                "GET", "/api/experiments/{experiment}/experiment_profiles/running", self.empty_list
            )
            self.add(
                "GET", "/api/experiments/{experiment}/experiment_profiles/recent", self.empty_list
            )
            self.add("GET", "/api/local_access_point", self.local_access_point)
        if c.historical_media_routes:
            self.add("GET", "/api/historical_media", self.historical_media)
            self.add("GET", "/api/historical_organisms", self.historical_organisms)

    # -- config ------------------------------------------------------------------------------------

    def _history_entry(self, filename: str, data: str) -> None:
        self.leader.config_history.append(
            {"filename": filename, "timestamp": iso_ms(utcnow()), "data": data}
        )

    def _history(self, filename: str) -> web.Response:
        rows = [row for row in self.leader.config_history if row["filename"] == filename]
        rows.sort(key=lambda row: row["timestamp"], reverse=True)
        return json_response(rows, cache_seconds=0)

    async def get_shared(self, request: web.Request) -> web.Response:
        """``GET /api/config/shared`` (text/plain ini)."""
        return _text(self.leader.config_shared, cache_seconds=10)

    def _validate_shared(self, code: str) -> None:
        parser = _check_ini(code)
        missing = [
            f"[{section}] {option}"
            for section, option in (
                ("cluster.topology", "leader_hostname"),
                ("cluster.topology", "leader_address"),
                ("mqtt", "broker_address"),
            )
            if not parser.get(section, option, fallback="")
        ]
        if missing:
            raise ApiError(400, f"Missing required field(s): {', '.join(missing)}")
        hostname = parser.get("cluster.topology", "leader_hostname")
        if hostname != self.leader.leader_unit:
            raise ApiError(
                400,
                "[cluster.topology] leader_hostname must match this unit's hostname "
                f"({self.leader.leader_unit}); got {hostname}.",
            )

    async def put_shared(self, request: web.Request) -> web.Response:
        """``PATCH``/``PUT /api/config/shared`` ``{"code": "<ini>"}``."""
        body = await self.body(request, [Field("code", ("str",), required=True)])
        code = str(body["code"])
        self._validate_shared(code)
        self.leader.config_shared = code
        self._history_entry("config.ini", code)
        return json_response({"status": "success"})

    async def shared_history(self, request: web.Request) -> web.Response:
        """``GET /api/config/shared/history``."""
        return self._history("config.ini")

    async def get_specific(self, request: web.Request) -> web.Response:
        """``GET /api/config/units/{unit}/specific`` (text; empty when the unit has none)."""
        unit = request.match_info["unit"]
        return _text(self.leader.config_specific.get(unit, ""), cache_seconds=0)

    async def put_specific(self, request: web.Request) -> web.Response:
        """``PATCH``/``PUT /api/config/units/{unit}/specific`` ``{"code"}``."""
        body = await self.body(request, [Field("code", ("str",), required=True)])
        unit = request.match_info["unit"]
        self.leader.require_registered_unit(unit)
        code = str(body["code"])
        _check_ini(code)
        self.leader.config_specific[unit] = code
        self._history_entry(f"config_{unit}.ini", code)
        return json_response({"status": "success"})

    async def specific_history(self, request: web.Request) -> web.Response:
        """``GET /api/config/units/{unit}/specific/history``."""
        return self._history(f"config_{request.match_info['unit']}.ini")

    def merged(self, unit: str) -> dict[str, dict[str, str]]:
        """The merged config of *unit* as ``{section: {key: text}}``."""
        parser = _CaseKeepingParser(strict=False, interpolation=None)
        try:
            parser.read_string(self.leader.config_shared)
            parser.read_string(self.leader.config_specific.get(unit, ""))
        except configparser.Error:
            pass
        merged = {section: dict(parser[section]) for section in parser.sections()}
        for section in ("leds", "PWM"):  # upstream adds inverted lookups in memory
            if section in merged:
                merged[f"{section}_reverse"] = {v: k for k, v in merged[section].items() if v}
        topology = merged.get("cluster.topology", {})
        if "leader_hostname" in topology:
            addresses = merged.setdefault("cluster.addresses", {})
            addresses[topology["leader_hostname"]] = topology.get("leader_address", "")
        return merged

    async def merged_config(self, request: web.Request) -> web.Response:
        """``GET /api/config/units/{unit}`` → ``{"configs": {unit: {...}}, "errors": {...}}``."""
        unit = request.match_info["unit"]
        leader = self.leader
        if unit == BROADCAST:
            units = request.query.getall("unit", []) or leader.all_units()
            for name in units:
                leader.require_registered_unit(name)
        else:
            leader.require_registered_unit(unit)
            units = [unit]
        result: dict[str, dict[str, Any]] = {"configs": {}, "errors": {}}
        reachable = [
            u
            for u in units
            if u == leader.leader_unit or (u in leader.units and leader.units[u].reachable)
        ]

        async def config_of(sim: SimUnit) -> Any:
            return self.merged(sim.name)

        failures = await leader.fanout(
            [u for u in units if u not in reachable], "GET", "/unit_api/config/merged", config_of
        )
        for name in units:
            if name in reachable:
                result["configs"][name] = self.merged(name)
            else:
                result["errors"][name] = failures[name]
        return json_response(result)

    async def merged_config_legacy(self, request: web.Request) -> web.Response:
        """``GET /api/units/{unit}/configuration`` (≤ 26.2.3)."""
        unit = request.match_info["unit"]
        units = self.leader.all_units() if unit == BROADCAST else [unit]
        return json_response({u: self.merged(u) for u in units})

    async def unit_merged_config(self, request: web.Request) -> web.Response:
        """``GET /unit_api/config/merged``."""
        return json_response(self.merged(self.leader.leader_unit))

    async def unit_specific_config(self, request: web.Request) -> web.Response:
        """``GET /unit_api/config/specific``."""
        return _text(self.leader.config_specific.get(self.leader.leader_unit, ""), cache_seconds=0)

    async def zipped_config(self, request: web.Request) -> web.Response:
        """``GET /api/config/zipped``."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("config.ini", self.leader.config_shared)
            for unit, text in self.leader.config_specific.items():
                archive.writestr(f"config_{unit}.ini", text)
        return web.Response(
            body=buffer.getvalue(),
            content_type="application/zip",
            headers={"Cache-Control": "no-cache"},
        )

    def _config_files(self) -> dict[str, str]:
        files = {"config.ini": self.leader.config_shared}
        for unit in self.leader.all_units():
            files[f"config_{unit}.ini"] = self.leader.config_specific.get(unit, "")
        return files

    async def list_config_files(self, request: web.Request) -> web.Response:
        """``GET /api/config/files`` (26.2.23–26.3.x) or ``/api/configs`` (older)."""
        return json_response(list(self._config_files()))

    async def get_config_file(self, request: web.Request) -> web.Response:
        """``GET …/{filename}`` (text)."""
        filename = request.match_info["filename"]
        files = self._config_files()
        if filename not in files:
            raise ApiError(404, f"{filename} not found")
        return _text(files[filename], cache_seconds=0)

    async def put_config_file(self, request: web.Request) -> web.Response:
        """``PATCH …/{filename}`` ``{"code"}``."""
        body = await self.body(
            request, [Field("code", ("str",), required=True), Field("filename", ("str",))]
        )
        filename = request.match_info["filename"]
        code = str(body["code"])
        if filename == "config.ini":
            self._validate_shared(code)
            self.leader.config_shared = code
        elif filename.startswith("config_") and filename.endswith(".ini"):
            _check_ini(code)
            self.leader.config_specific[filename[len("config_") : -len(".ini")]] = code
        else:
            raise ApiError(404, f"{filename} not found")
        self._history_entry(filename, code)
        return json_response({"status": "success"})

    async def config_file_history(self, request: web.Request) -> web.Response:
        """``GET …/{filename}/history``."""
        return self._history(request.match_info["filename"])

    # -- descriptors ------------------------------------------------------------------------------

    async def job_descriptors(self, request: web.Request) -> web.Response:
        """Job UI descriptors."""
        return json_response(catalog("job_descriptors.json"), cache_seconds=5)

    async def chart_descriptors(self, request: web.Request) -> web.Response:
        """Chart descriptors."""
        return json_response(catalog("chart_descriptors.json"), cache_seconds=5)

    async def settings_descriptors(self, request: web.Request) -> web.Response:
        """Settings descriptors."""
        return json_response(catalog("settings_descriptors.json"), cache_seconds=5)

    async def automation_descriptors(self, request: web.Request) -> web.Response:
        """Automation descriptors of one type (``dosing``, ``led``, ``temperature``)."""
        kind = request.match_info["kind"]
        if kind not in ("temperature", "dosing", "led"):
            raise ApiError(
                400,
                "Not a valid automation type",
                remediation="choose one of 'temperature', 'dosing', 'led'",
            )
        found: dict[str, Any] = catalog("automation_descriptors.json")
        return json_response(found[kind], cache_seconds=5)

    # -- datasets and export ----------------------------------------------------------------------

    async def list_datasets(self, request: web.Request) -> web.Response:
        """The exportable dataset descriptors."""
        return json_response(catalog("exportable_datasets.json"), cache_seconds=60)

    async def preview_dataset(self, request: web.Request) -> web.Response:
        """``GET …/{dataset}/preview?n_rows=5``: the first rows."""
        name = request.match_info["dataset"]
        n_rows = self.int_query(request, "n_rows", 5, minimum=1, maximum=100)
        known = {d["dataset_name"] for d in catalog("exportable_datasets.json")}
        rows = dataset_rows(self.leader, name) if name in known else None
        if rows is None:
            raise ApiError(
                404,
                f"{name} not found",
                cause="Dataset name not found in built-in or plugin exportable datasets.",
                remediation="List exportable datasets and choose a valid dataset_name.",
            )
        return json_response(rows[:n_rows])

    async def export(self, request: web.Request) -> web.Response:
        """Export datasets to a zip: 202 + task on 26.5.0+, synchronous before."""
        single = self.contract.export_single_experiment
        fields = [
            Field("datasets", ("array",), required=True, items="str"),
            Field("partition_by_unit", ("bool",), required=True),
            Field("partition_by_experiment", ("bool",), required=True),
            Field("start_time", ("str", "null")),
            Field("end_time", ("str", "null")),
        ]
        fields.insert(
            1,
            Field("experiment", ("str",), required=True)
            if single
            else Field("experiments", ("array",), required=True, items="str"),
        )
        body = await self.body(request, fields)
        required = ", ".join(f.name for f in fields if f.required)
        bounds: dict[str, datetime | None] = {}
        for key in ("start_time", "end_time"):
            raw = body.get(key)
            if raw is None:
                bounds[key] = None
                continue
            parsed = parse_timestamp(str(raw))
            if parsed is None:
                raise ApiError(
                    400,
                    "Invalid request body.",
                    cause=f"Expected `datetime` with a timezone component - at `$.{key}`",
                    remediation=f"Send a JSON object with the required fields: {required}.",
                )
            bounds[key] = parsed
        start, end = bounds["start_time"], bounds["end_time"]
        if start is not None and end is not None and start > end:
            raise ApiError(
                400,
                "Invalid request body.",
                cause="start_time must be earlier than or equal to end_time",
                remediation=f"Send a JSON object with the required fields: {required}.",
            )
        if single:
            experiments: list[str] | None = [str(body["experiment"])]
        else:
            chosen = [str(e) for e in as_list(body.get("experiments"))]
            experiments = None if "<All experiments>" in chosen else chosen
        datasets = [str(name) for name in body["datasets"]]
        leader = self.leader

        async def work() -> dict[str, Any]:
            if not datasets:
                raise TaskFailed("At least one dataset name must be provided.")
            filename = write_export(
                leader,
                leader.export_dir,
                datasets=datasets,
                experiments=experiments,
                partition_by_unit=bool(body["partition_by_unit"]),
                partition_by_experiment=bool(body["partition_by_experiment"]),
                start=start,
                end=end,
                now=utcnow(),
            )
            return {"result": True, "filename": filename, "msg": "Finished"}

        if self.contract.export_async:
            return self.accepted(leader.tasks.submit(work))
        try:
            return json_response(await work())
        except TaskFailed as exc:
            raise ApiError(400, str(exc)) from None

    async def download_export(self, request: web.Request) -> web.StreamResponse:
        """``GET /exports/<filename>`` (lighttpd serves this on a real leader)."""
        name = PurePath(request.match_info["filename"]).name
        path = self.leader.export_dir / name
        if not path.is_file():
            raise ApiError(404, f"{name} not found")
        return web.FileResponse(path, headers={"Content-Type": "application/zip"})

    # -- experiment profiles ----------------------------------------------------------------------

    def _profile_missing(self, filename: str) -> ApiError:
        message = f"[Errno 2] No such file or directory: '{PROFILE_DIR}/{filename}'"
        return ApiError(404, message)

    async def list_profiles(self, request: web.Request) -> web.Response:
        """All profiles, parsed."""
        rows: list[dict[str, Any]] = []
        for filename, text in reversed(self.leader.profiles.items()):
            try:
                parsed = normalize_profile(text)
            except ValueError:
                continue
            rows.append(
                {
                    "experimentProfile": parsed,
                    "file": filename,
                    "fullpath": f"{PROFILE_DIR}/{filename}",
                }
            )
        return json_response(rows, cache_seconds=5)

    async def create_profile(self, request: web.Request) -> web.Response:
        """Create a profile ``{"filename", "body"}`` (validated; no overwrite)."""
        body = await self.body(
            request,
            [Field("filename", ("str",), required=True), Field("body", ("str",), required=True)],
        )
        text = str(body["body"])
        filename = PurePath(str(body["filename"])).name
        try:
            normalize_profile(text)
        except ValueError as exc:
            raise ApiError(400, f"Validation error. {exc}") from None
        if not filename.endswith((".yaml", ".yml")):
            raise ApiError(400, "Invalid filename")
        if filename in self.leader.profiles:
            raise ApiError(400, "A profile already exists with that filename. Choose another.")
        self.leader.profiles[filename] = text  # newest last: listed first, like mtime order
        return json_response({"status": "success"})

    async def _write_profile(self, filename: str, text: str) -> web.Response:
        try:
            normalize_profile(text)
        except ValueError as exc:
            raise ApiError(400, f"Validation error: {exc}") from None
        if not filename.endswith((".yaml", ".yml")):
            raise ApiError(400, "Invalid filename")
        self.leader.profiles.pop(filename, None)
        self.leader.profiles[filename] = text
        return json_response({"status": "success"})

    async def update_profile(self, request: web.Request) -> web.Response:
        """``PATCH /api/experiment_profiles/{filename}`` ``{"body"}`` (creates it if missing)."""
        body = await self.body(request, [Field("body", ("str",), required=True)])
        filename = PurePath(request.match_info["filename"]).name
        return await self._write_profile(filename, str(body["body"]))

    async def update_profile_legacy(self, request: web.Request) -> web.Response:
        """``PATCH /api/contrib/experiment_profiles`` ``{"body", "filename"}`` (≤ 26.2.3)."""
        body = await self.body(
            request,
            [Field("body", ("str",), required=True), Field("filename", ("str",), required=True)],
        )
        filename = PurePath(str(body["filename"])).name
        return await self._write_profile(filename, str(body["body"]))

    async def get_profile(self, request: web.Request) -> web.Response:
        """A profile's YAML text."""
        filename = PurePath(request.match_info["filename"]).name
        text = self.leader.profiles.get(filename)
        if text is None:
            raise self._profile_missing(filename)
        return _text(text, cache_seconds=0)

    async def delete_profile(self, request: web.Request) -> web.Response:
        """Delete a profile (404 ``x.yaml does not exist.``)."""
        filename = PurePath(request.match_info["filename"]).name
        if filename not in self.leader.profiles:
            raise ApiError(404, f"{filename} does not exist.")
        del self.leader.profiles[filename]
        return json_response({"status": "success"})

    async def empty_list(self, request: web.Request) -> web.Response:
        """Running / recent profile runs: profiles are not executed by the simulator."""
        return json_response([])

    # -- misc -------------------------------------------------------------------------------------

    async def local_access_point(self, request: web.Request) -> web.Response:
        """``GET /api/local_access_point`` → ``{"active": false}``."""
        return json_response({"active": False})

    async def historical_media(self, request: web.Request) -> web.Response:
        """``GET /api/historical_media`` (before 26.6.0): media named in experiments."""
        used = sorted({e.media_used for e in self.leader.experiments.values() if e.media_used})
        return json_response([{"key": name, "value": name} for name in used])

    async def historical_organisms(self, request: web.Request) -> web.Response:
        """``GET /api/historical_organisms`` (before 26.6.0)."""
        used = sorted(
            {e.organism_used for e in self.leader.experiments.values() if e.organism_used}
        )
        return json_response([{"key": name, "value": name} for name in used])


def demo_profiles() -> dict[str, str]:
    """The demo profiles a fresh leader ships with."""
    return {
        name: data_text(name)
        for name in ("demo_stirring_example.yaml", "demo_logging_example.yaml")
    }
