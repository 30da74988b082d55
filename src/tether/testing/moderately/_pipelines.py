"""Pipelines, pipeline configuration versions and pipeline executions."""

from __future__ import annotations

import copy

from tether.testing.moderately._agents import stats
from tether.testing.moderately._datasets import DatasetRoutes
from tether.testing.moderately._executions import STATUSES, TERMINAL
from tether.testing.moderately._models import Ctx, Reply, Route
from tether.testing.moderately._util import (
    JSON,
    ApiError,
    BodyReader,
    ListSpec,
    QueryReader,
    as_list,
    as_obj,
    paginate,
    parse_iso,
    public,
)

PIPELINE_FIELDS = ("pipelineId", "teamId", "name", "description", "createdAt", "updatedAt")
PCV_FIELDS = (
    "pipelineConfigurationVersionId",
    "pipelineId",
    "configuration",
    "version",
    "status",
    "createdAt",
    "updatedAt",
)
PE_FIELDS = (
    "pipelineExecutionId",
    "pipelineConfigurationVersionId",
    "pipelineInput",
    "pipelineInputSummary",
    "pipelineOutput",
    "pipelineOutputSummary",
    "status",
    "progressData",
    "pipelineOutputFileUri",
    "currentStep",
    "totalSteps",
    "createdAt",
    "updatedAt",
    "startedAt",
    "completedAt",
    "failedAt",
    "cancelledAt",
    "pausedAt",
)
BLOCK_TYPES = (
    "input",
    "output",
    "llm",
    "prompt",
    "agent",
    "dataset",
    "transform",
    "filter",
    "code",
    "http",
    "merge",
    "split",
)
"""Block types the simulator's validator knows; others are ``unknown_block_type`` errors."""

CONNECTION_KEYS = ("source_port", "target_port", "source_block_id", "target_block_id")
STAMP_FIELDS = ("startedAt", "completedAt", "failedAt", "cancelledAt", "pausedAt")
STATUS_STAMP = {
    "running": "startedAt",
    "completed": "completedAt",
    "failed": "failedAt",
    "cancelled": "cancelledAt",
    "paused": "pausedAt",
}


def configuration_schema() -> JSON:
    """The JSON Schema ``GET /pipeline-configuration-versions/schema`` serves."""
    port = {"type": "string", "minLength": 1}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "PipelineConfiguration",
        "type": "object",
        "required": ["id", "name", "blocks"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "version": {"type": "string", "default": "1.0.0"},
            "blocks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {
                        "type": {"type": "string", "enum": list(BLOCK_TYPES)},
                        "name": {"type": "string"},
                        "config": {"type": "object"},
                        "inputs": {"type": "array", "items": port},
                        "outputs": {"type": "array", "items": port},
                    },
                },
            },
            "connections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": list(CONNECTION_KEYS),
                    "properties": {key: port for key in CONNECTION_KEYS},
                },
            },
            "metadata": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "version": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
    }


def validate_configuration(configuration: JSON) -> JSON:
    """Semantic validation: the ``ValidationResult`` of ``POST …/validate``."""
    errors: list[JSON] = []
    warnings: list[JSON] = []
    blocks = as_obj(configuration.get("blocks"))
    if blocks is None:
        errors.append(
            {
                "type": "block_type_error",
                "blockId": "",
                "blockType": "",
                "errorType": "missing_blocks",
                "message": "configuration.blocks must be an object of blocks",
            }
        )
        blocks = {}
    for block_id, raw in blocks.items():
        block = as_obj(raw) or {}
        block_type = block.get("type")
        if not isinstance(block_type, str) or not block_type:
            errors.append(
                {
                    "type": "block_type_error",
                    "blockId": block_id,
                    "blockType": "",
                    "errorType": "missing_type",
                    "message": f"Block {block_id!r} has no type",
                }
            )
        elif block_type not in BLOCK_TYPES:
            errors.append(
                {
                    "type": "block_type_error",
                    "blockId": block_id,
                    "blockType": block_type,
                    "errorType": "unknown_block_type",
                    "message": f"Unknown block type {block_type!r}",
                }
            )
    seen: set[tuple[str, ...]] = set()
    for index, raw in enumerate(as_list(configuration.get("connections")) or []):
        conn = as_obj(raw) or {}
        values = tuple(str(conn.get(k, "")) for k in CONNECTION_KEYS)
        source_port, target_port, source, target = values
        base = {
            "type": "connection_error",
            "connectionId": f"connection-{index}",
            "sourceBlockId": source,
            "sourcePort": source_port,
            "targetBlockId": target,
            "targetPort": target_port,
        }
        if not all(isinstance(conn.get(k), str) and conn.get(k) for k in CONNECTION_KEYS):
            errors.append(
                {
                    **base,
                    "errorType": "malformed_connection",
                    "message": "Connection needs all four fields",
                }
            )
            continue
        missing = [b for b in (source, target) if b not in blocks]
        if missing:
            errors.append(
                {
                    **base,
                    "errorType": "unknown_block",
                    "message": f"Unknown block(s): {', '.join(missing)}",
                }
            )
            continue
        for block_id, port, side in (
            (source, source_port, "outputs"),
            (target, target_port, "inputs"),
        ):
            declared = as_list((as_obj(blocks[block_id]) or {}).get(side))
            if declared is not None and port not in declared:
                errors.append(
                    {
                        **base,
                        "errorType": "unknown_port",
                        "message": f"Block {block_id!r} has no port {port!r}",
                    }
                )
        if source == target:
            warnings.append(
                {**base, "errorType": "self_connection", "message": "Block connected to itself"}
            )
        if values in seen:
            warnings.append(
                {**base, "errorType": "duplicate_connection", "message": "Duplicate connection"}
            )
        seen.add(values)
    result: JSON = {"valid": not errors, "errors": errors, "warnings": warnings}
    for schema_key, block_type in (("inputSchema", "input"), ("outputSchema", "output")):
        for raw in blocks.values():
            block = as_obj(raw) or {}
            if block.get("type") == block_type:
                config = as_obj(block.get("config")) or {}
                result[schema_key] = as_obj(config.get("schema")) or {"type": "object"}
                break
    return result


def _check_configuration_shape(body: BodyReader, configuration: JSON | None) -> None:
    """The structural checks of create/PATCH (a 400 when they fail)."""
    if configuration is None:
        return
    for key in ("id", "name"):
        if not isinstance(configuration.get(key), str) or not configuration[key]:
            body.errors.append({"field": f"configuration.{key}", "message": "is required"})
    if as_obj(configuration.get("blocks")) is None:
        body.errors.append({"field": "configuration.blocks", "message": "must be an object"})
    connections = configuration.get("connections")
    if connections is not None:
        items = as_list(connections)
        if items is None:
            body.errors.append(
                {"field": "configuration.connections", "message": "must be an array"}
            )
        else:
            for index, raw in enumerate(items):
                conn = as_obj(raw)
                if conn is None or not all(isinstance(conn.get(k), str) for k in CONNECTION_KEYS):
                    body.errors.append(
                        {
                            "field": f"configuration.connections[{index}]",
                            "message": "needs " + ", ".join(CONNECTION_KEYS),
                        }
                    )


class PipelineRoutes(DatasetRoutes):
    """Mixin: ``/pipelines``, ``/pipeline-configuration-versions``, ``/pipeline-executions``."""

    def _routes_pipelines(self) -> list[Route]:
        pcv = "/pipeline-configuration-versions"
        pe = "/pipeline-executions"
        return [
            Route(
                "POST",
                "/pipelines",
                self._create_pipeline,
                audit=("pipeline", "create"),
                audit_kind="pipelines",
                audit_id="pipelineId",
            ),
            Route("GET", "/pipelines", self._list_pipelines),
            Route("GET", "/pipelines/{pipelineId}", self._get_pipeline),
            Route(
                "PATCH",
                "/pipelines/{pipelineId}",
                self._patch_pipeline,
                audit=("pipeline", "update"),
                audit_kind="pipelines",
            ),
            Route(
                "DELETE",
                "/pipelines/{pipelineId}",
                self._delete_pipeline,
                audit=("pipeline", "delete"),
                audit_kind="pipelines",
            ),
            # literal segments first: they sit beside {pipelineConfigurationVersionId}
            Route("POST", pcv + "/validate", self._validate_pcv),
            Route("GET", pcv + "/schema", self._pcv_schema),
            Route(
                "POST",
                pcv,
                self._create_pcv,
                audit=("pipelineConfigurationVersion", "create"),
                audit_kind="pipelineConfigurationVersions",
                audit_id="pipelineConfigurationVersionId",
            ),
            Route("GET", pcv, self._list_pcvs),
            Route("GET", pcv + "/{pipelineConfigurationVersionId}", self._get_pcv),
            Route(
                "PATCH",
                pcv + "/{pipelineConfigurationVersionId}",
                self._patch_pcv,
                audit=("pipelineConfigurationVersion", "update"),
                audit_kind="pipelineConfigurationVersions",
            ),
            Route(
                "DELETE",
                pcv + "/{pipelineConfigurationVersionId}",
                self._delete_pcv,
                audit=("pipelineConfigurationVersion", "delete"),
                audit_kind="pipelineConfigurationVersions",
            ),
            Route(
                "POST",
                pcv + "/{pipelineConfigurationVersionId}/clone",
                self._clone_pcv,
                audit=("pipelineConfigurationVersion", "create"),
                audit_kind="pipelineConfigurationVersions",
                audit_id="pipelineConfigurationVersionId",
            ),
            Route(
                "POST",
                pe,
                self._create_pe,
                audit=("pipelineExecution", "execute"),
                audit_kind="pipelineExecutions",
                audit_id="pipelineExecutionId",
            ),
            Route("GET", pe, self._list_pes),
            Route("GET", pe + "/{pipelineExecutionId}", self._get_pe),
            Route(
                "PATCH",
                pe + "/{pipelineExecutionId}",
                self._patch_pe,
                audit=("pipelineExecution", "update"),
                audit_kind="pipelineExecutions",
            ),
            Route(
                "POST",
                pe + "/{pipelineExecutionId}/cancel",
                self._cancel_pe,
                audit=("pipelineExecution", "update"),
                audit_kind="pipelineExecutions",
            ),
            Route("GET", pe + "/{pipelineExecutionId}/output", self._pe_output),
        ]

    # ------------------------------------------------------------------ pipelines

    def _pipeline_view(self, pipeline: JSON, *, with_stats: bool) -> JSON:
        view = public(pipeline, PIPELINE_FIELDS)
        if with_stats:
            self._observe_kind("pipelineExecutions")
            runs = [
                e
                for e in self._all("pipelineExecutions")
                if e["_pipelineId"] == pipeline["pipelineId"]
            ]
            view.update(stats(runs))
        return view

    def _create_pipeline(self, ctx: Ctx) -> Reply:
        return self._create_named(ctx, "pipelines", "A pipeline", self._pipeline_view)

    def _list_pipelines(self, ctx: Ctx) -> Reply:
        return self._list_named(ctx, "pipelines", self._pipeline_view)

    def _get_pipeline(self, ctx: Ctx) -> Reply:
        pipeline = self._owned(ctx, "pipelines", ctx.params["pipelineId"], "Pipeline")
        return Reply(200, self._pipeline_view(pipeline, with_stats=True))

    def _patch_pipeline(self, ctx: Ctx) -> Reply:
        pipeline = self._owned(ctx, "pipelines", ctx.params["pipelineId"], "Pipeline")
        return self._patch_named(ctx, "pipelines", pipeline, "A pipeline", self._pipeline_view)

    def _delete_pipeline(self, ctx: Ctx) -> Reply:
        pipeline = self._owned(ctx, "pipelines", ctx.params["pipelineId"], "Pipeline")
        self._require_write(ctx)
        pipeline_id = pipeline["pipelineId"]
        del self._db["pipelines"][pipeline_id]
        for key in [
            k
            for k, v in self._db["pipelineConfigurationVersions"].items()
            if v["pipelineId"] == pipeline_id
        ]:
            del self._db["pipelineConfigurationVersions"][key]
        for key in [
            k for k, v in self._db["pipelineExecutions"].items() if v["_pipelineId"] == pipeline_id
        ]:
            self._drop_execution(key)
        return Reply(200, {"success": True, "message": "Pipeline deleted"})

    def _drop_execution(self, execution_id: str) -> None:
        record = self._db["pipelineExecutions"].pop(execution_id)
        self._runs.pop(execution_id, None)
        self._objects.pop(str(record.get("_outputKey", "")), None)

    # ------------------------------------------------------------------ configuration versions

    def _validate_pcv(self, ctx: Ctx) -> Reply:
        body = BodyReader(ctx.body)
        configuration = body.mapping("configuration", required=True)
        body.check()
        assert configuration is not None
        return Reply(200, validate_configuration(configuration))

    def _pcv_schema(self, ctx: Ctx) -> Reply:
        return Reply(200, configuration_schema())

    def _current_pcv(self, pipeline_id: str, *, exclude: str | None = None) -> JSON | None:
        for version in self._db["pipelineConfigurationVersions"].values():
            if (
                version["pipelineId"] == pipeline_id
                and version["status"] == "current"
                and version["pipelineConfigurationVersionId"] != exclude
            ):
                return version
        return None

    def _new_pcv(self, pipeline_id: str, configuration: JSON, status: str) -> JSON:
        pipeline = self._db["pipelines"][pipeline_id]
        version = int(pipeline.get("_lastVersion", 0)) + 1
        pipeline["_lastVersion"] = version
        now = self._now()
        return self._insert(
            "pipelineConfigurationVersions",
            {
                "pipelineConfigurationVersionId": self._ids.new("pipelineConfigurationVersion"),
                "pipelineId": pipeline_id,
                "configuration": copy.deepcopy(configuration),
                "version": version,
                "status": status,
                "createdAt": now,
                "updatedAt": now,
            },
        )

    def _create_pcv(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        pipeline_id = body.text("pipelineId", required=True, min_len=1)
        configuration = body.mapping("configuration", required=True)
        status = body.text("status", enum=("draft", "current", "archived")) or "draft"
        _check_configuration_shape(body, configuration)
        body.check()
        assert pipeline_id is not None and configuration is not None
        pipeline = self._owned(ctx, "pipelines", pipeline_id, "Pipeline")
        if status == "current" and self._current_pcv(pipeline_id) is not None:
            raise ApiError(409, "Cannot create a current version when one already exists")
        return Reply(
            201, public(self._new_pcv(pipeline["pipelineId"], configuration, status), PCV_FIELDS)
        )

    def _list_pcvs(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        pipelines = q.ids("pipelineIds")
        ids = q.ids("pipelineConfigurationVersionIds")
        status = q.enum("status", ("draft", "current", "archived"), None)
        statuses = q.enums("statuses", ("draft", "current", "archived"))
        q.check()
        items = [
            v
            for v in self._all("pipelineConfigurationVersions")
            if self._team_of("pipelineConfigurationVersions", v) in teams
            and (pipelines is None or v["pipelineId"] in pipelines)
            and (ids is None or v["pipelineConfigurationVersionId"] in ids)
            and (status is None or v["status"] == status)
            and (statuses is None or v["status"] in statuses)
        ]
        page = paginate(items, q, ListSpec(order_by=("version", "createdAt", "updatedAt")))
        page["items"] = [public(v, PCV_FIELDS) for v in page["items"]]
        return Reply(200, page)

    def _pcv(self, ctx: Ctx) -> JSON:
        return self._owned(
            ctx,
            "pipelineConfigurationVersions",
            ctx.params["pipelineConfigurationVersionId"],
            "Configuration version",
        )

    def _get_pcv(self, ctx: Ctx) -> Reply:
        return Reply(200, public(self._pcv(ctx), PCV_FIELDS))

    def _patch_pcv(self, ctx: Ctx) -> Reply:
        version = self._pcv(ctx)
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        configuration = body.mapping("configuration")
        status = body.text("status", enum=("draft", "current", "archived"))
        _check_configuration_shape(body, configuration)
        body.check()
        if configuration is not None and version["status"] != "draft":
            raise ApiError(
                400,
                f"Operation not allowed: a {version['status']} version's configuration is frozen",
            )
        if status == "current" and self._current_pcv(
            version["pipelineId"], exclude=version["pipelineConfigurationVersionId"]
        ):
            raise ApiError(409, "Cannot set as current when another current version exists")
        if configuration is not None:
            version["configuration"] = copy.deepcopy(configuration)
        if status is not None:
            version["status"] = status
        version["updatedAt"] = self._now()
        return Reply(200, public(version, PCV_FIELDS))

    def _delete_pcv(self, ctx: Ctx) -> Reply:
        version = self._pcv(ctx)
        self._require_write(ctx)
        if version["status"] == "current":
            raise ApiError(400, "Current versions cannot be deleted")
        version_id = version["pipelineConfigurationVersionId"]
        del self._db["pipelineConfigurationVersions"][version_id]
        for key in [
            k
            for k, v in self._db["pipelineExecutions"].items()
            if v["pipelineConfigurationVersionId"] == version_id
        ]:
            self._drop_execution(key)
        return Reply(200, {"success": True, "message": "Configuration version deleted"})

    def _clone_pcv(self, ctx: Ctx) -> Reply:
        source = self._pcv(ctx)
        self._require_write(ctx)
        clone = self._new_pcv(source["pipelineId"], source["configuration"], "draft")
        return Reply(201, public(clone, PCV_FIELDS))

    # ------------------------------------------------------------------ executions

    def _create_pe(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        pcv_id = body.text("pipelineConfigurationVersionId", required=True, min_len=1)
        pipeline_input = body.mapping("pipelineInput", required=True)
        summary = body.text("pipelineInputSummary", required=True, max_len=1000)
        current = body.integer("currentStep", minimum=0)
        total = body.integer("totalSteps", minimum=1)
        body.check()
        assert pcv_id is not None and pipeline_input is not None and summary is not None
        version = self._owned(
            ctx, "pipelineConfigurationVersions", pcv_id, "Pipeline configuration version"
        )
        plan = self._next_plan(pipeline_input.get("__sim__"))
        configuration = as_obj(version["configuration"]) or {}
        blocks = as_obj(configuration.get("blocks")) or {}
        names = [str((as_obj(b) or {}).get("name") or block_id) for block_id, b in blocks.items()]
        execution_id = self._ids.new("pipelineExecution")
        run = self._new_run("pipeline", plan, total or len(names) or self.default_total_steps)
        now = self._now()
        record = self._insert(
            "pipelineExecutions",
            {
                "pipelineExecutionId": execution_id,
                "pipelineConfigurationVersionId": pcv_id,
                "pipelineInput": copy.deepcopy(pipeline_input),
                "pipelineInputSummary": summary,
                "pipelineOutput": None,
                "pipelineOutputSummary": None,
                "status": "pending",
                "progressData": {},
                "pipelineOutputFileUri": None,
                "currentStep": current or 0,
                "totalSteps": run.total_steps,
                "createdAt": now,
                "updatedAt": now,
                "startedAt": None,
                "completedAt": None,
                "failedAt": None,
                "cancelledAt": None,
                "pausedAt": None,
                "_pipelineId": version["pipelineId"],
                "_blocks": names,
            },
        )
        self._runs[execution_id] = run
        return Reply(201, public(self._observe(execution_id, record), PE_FIELDS))

    def _list_pes(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        pipelines = q.ids("pipelineIds")
        versions = q.ids("pipelineConfigurationVersionIds")
        ids = q.ids("pipelineExecutionIds")
        status = q.enum("status", STATUSES, None)
        statuses = q.enums("statuses", STATUSES)
        q.check()
        self._observe_kind("pipelineExecutions")
        items = [
            e
            for e in self._all("pipelineExecutions")
            if self._team_of("pipelineExecutions", e) in teams
            and (pipelines is None or e["_pipelineId"] in pipelines)
            and (versions is None or e["pipelineConfigurationVersionId"] in versions)
            and (ids is None or e["pipelineExecutionId"] in ids)
            and (status is None or e["status"] == status)
            and (statuses is None or e["status"] in statuses)
        ]
        page = paginate(items, q, ListSpec(order_by=("createdAt", "updatedAt", "startedAt")))
        page["items"] = [public(e, PE_FIELDS) for e in page["items"]]
        return Reply(200, page)

    def _pe(self, ctx: Ctx) -> JSON:
        execution_id = ctx.params["pipelineExecutionId"]
        record = self._owned(ctx, "pipelineExecutions", execution_id, "Pipeline execution")
        return self._observe(execution_id, record)

    def _get_pe(self, ctx: Ctx) -> Reply:
        execution_id = ctx.params["pipelineExecutionId"]
        self._owned(ctx, "pipelineExecutions", execution_id, "Pipeline execution")
        self._poll(execution_id)
        return Reply(200, public(self._pe(ctx), PE_FIELDS))

    def _patch_pe(self, ctx: Ctx) -> Reply:
        record = self._pe(ctx)
        self._require_write(ctx)
        execution_id = record["pipelineExecutionId"]
        body = BodyReader(ctx.body)
        output = body.mapping("pipelineOutput", nullable=True)
        summary = body.text("pipelineOutputSummary", nullable=True)
        status = body.text("status", enum=STATUSES)
        progress = body.mapping("progressData")
        current = body.integer("currentStep", minimum=0)
        total = body.integer("totalSteps", minimum=1)
        stamps: dict[str, str | None] = {}
        for key in STAMP_FIELDS:
            value = body.text(key, nullable=True)
            if value is not None and parse_iso(value) is None:
                body.errors.append({"field": key, "message": "must be an ISO 8601 timestamp"})
            if body.has(key):
                stamps[key] = value
        body.check()
        if status is not None and status != record["status"] and record["status"] in TERMINAL:
            raise ApiError(400, f"Operation not allowed: execution is already {record['status']}")
        worker_fields = any(
            body.has(k) for k in ("pipelineOutput", "progressData", "currentStep", "totalSteps")
        )
        if status == "paused" and not worker_fields and record["status"] != "paused":
            self._pause(execution_id, record)
        elif status == "running" and record["status"] == "paused" and not worker_fields:
            self._resume(execution_id, record)
        elif status == "cancelled" and not worker_fields:
            self._cancel(execution_id, record, None)
        elif worker_fields or (status is not None and status != record["status"]):
            self._take_over(execution_id)
            if status is not None and status != record["status"]:
                record["status"] = status
                stamp = STATUS_STAMP.get(status)
                if stamp is not None and record.get(stamp) is None:
                    record[stamp] = self._now()
            if progress is not None:
                record["progressData"] = copy.deepcopy(progress)
            if current is not None:
                record["currentStep"] = current
            if total is not None:
                record["totalSteps"] = total
            if body.has("pipelineOutput"):
                if output is None:
                    record["pipelineOutput"] = None
                else:
                    self._store_pipeline_output(record, copy.deepcopy(output), None)
        if body.has("pipelineOutputSummary"):
            record["pipelineOutputSummary"] = summary
        record.update(stamps)
        record["updatedAt"] = self._now()
        return Reply(200, public(record, PE_FIELDS))

    def _cancel_pe(self, ctx: Ctx) -> Reply:
        record = self._pe(ctx)
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        reason = body.text("reason", nullable=True, max_len=1000)
        body.check()
        self._cancel(record["pipelineExecutionId"], record, reason)
        return Reply(200, public(record, PE_FIELDS))

    def _pe_output(self, ctx: Ctx) -> Reply:
        return Reply(200, self._output_reply(self._pe(ctx)))
