"""The official ``moderatelyai-sdk`` (sync and async) against the simulator.

:func:`run_official_scenario_sync` and :func:`run_official_scenario_async` drive every
resource the SDK has and return a normalised transcript: one entry per logical
operation, ``{"op": name, **key fields}`` or ``{"op": name, "error": class name,
"status": HTTP status or None, "message": str(exc)}``. Ids never appear (they depend on
how many requests a client makes); relations are recorded as booleans. A tether client
running the same scenario must produce the same transcript, minus the SDK bugs this file
pins down (reference §7).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import moderatelyai_sdk
import pytest
from moderatelyai_sdk import (
    APIError,
    AsyncModeratelyAI,
    AuthenticationError,
    ModeratelyAI,
    RateLimitError,
    RetryConfig,
    ValidationError,
)
from moderatelyai_sdk.resources_async.dataset_schema_versions import AsyncDatasetSchemaVersions

from tether.testing.moderately import REDACTED, Simulator

CSV_V1 = b"id,name,score\n1,ada,90\n2,bob,85\n3,cy,77\n"
CSV_V2 = b"id,name,score\n1,ada,91\n2,bob,86\n"
NOTES = b"hello from the scenario\n"
CONFIG: dict[str, Any] = {
    "id": "cfg-summariser",
    "name": "Summariser",
    "version": "1.0.0",
    "blocks": {
        "in": {"type": "input", "name": "Input", "config": {"schema": {"type": "object"}}},
        "llm": {"type": "llm", "name": "Summarise"},
        "out": {"type": "output", "name": "Output"},
    },
    "connections": [
        {
            "source_port": "out",
            "target_port": "in",
            "source_block_id": "in",
            "target_block_id": "llm",
        },
        {
            "source_port": "out",
            "target_port": "in",
            "source_block_id": "llm",
            "target_block_id": "out",
        },
    ],
}
BAD_CONFIG: dict[str, Any] = {
    "id": "cfg-bad",
    "name": "Bad",
    "blocks": {"x": {"type": "teleporter"}},
    "connections": [
        {"source_port": "o", "target_port": "i", "source_block_id": "x", "target_block_id": "ghost"}
    ],
}
SLOW = {"__sim__": {"stepSeconds": 3600}}
"""Input directive: an execution that will not move on a real clock (cancel/pause cases)."""

Transcript = list[dict[str, Any]]


def _error(op: str, exc: BaseException) -> dict[str, Any]:
    return {
        "op": op,
        "error": type(exc).__name__,
        "status": getattr(exc, "status_code", None),
        "message": str(exc),
    }


def _step(out: Transcript, op: str, call: Callable[[], Any], pick: Callable[[Any], Any]) -> Any:
    """Run one sync operation and append its normalised result (or exception)."""
    try:
        result = call()
    except Exception as exc:
        out.append(_error(op, exc))
        return None
    out.append({"op": op, **pick(result)})
    return result


async def _astep(
    out: Transcript, op: str, call: Callable[[], Awaitable[Any]], pick: Callable[[Any], Any]
) -> Any:
    """Async twin of :func:`_step`."""
    try:
        result = await call()
    except Exception as exc:
        out.append(_error(op, exc))
        return None
    out.append({"op": op, **pick(result)})
    return result


def _data(model: Any) -> dict[str, Any]:
    """The wire dict behind an SDK model (or the dict itself)."""
    if isinstance(model, dict):
        return model
    data: dict[str, Any] = model._data
    return data


def _page(response: Any, key: str = "name") -> dict[str, Any]:
    items = [_data(i) for i in response["items"]]
    return {
        "total": response["pagination"]["totalItems"],
        key + "s": sorted(str(i.get(key)) for i in items),
    }


def _pe(model: Any) -> dict[str, Any]:
    d = _data(model)
    return {"status": d["status"], "currentStep": d["currentStep"], "totalSteps": d["totalSteps"]}


def _columns(model: Any) -> list[list[Any]]:
    return [[c["name"], c["type"], c["nullable"]] for c in _data(model)["columnsJson"]]


def _named(data: bytes, name: str) -> io.BytesIO:
    """A file-like sample with a name (the SDK derives the file type from it)."""
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def _digest(data: Any) -> dict[str, Any]:
    raw = bytes(data) if isinstance(data, bytes | bytearray) else b""
    return {"sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}


# ---------------------------------------------------------------------------- sync


def run_official_scenario_sync(client: ModeratelyAI) -> Transcript:
    """Drive every resource of the official sync client; return the transcript."""
    out: Transcript = []
    team_id = client.team_id

    # users and teams
    users = _step(out, "users.list", client.users.list, lambda r: _page(r, "fullName"))
    user = _step(
        out,
        "users.retrieve",
        lambda: client.users.retrieve(users["items"][0].user_id),
        lambda u: {"fullName": u.full_name},
    )
    _step(
        out,
        "users.update",
        lambda: client.users.update(user.user_id, full_name="Ada Lovelace", nickname="ada"),
        lambda u: {"fullName": u.full_name, "nickname": u.nickname},
    )
    _step(out, "users.teams", user.get_teams, lambda ts: {"names": sorted(t["name"] for t in ts)})
    _step(out, "teams.list", client.teams.list, _page)
    _step(
        out, "teams.retrieve", lambda: client.teams.retrieve(team_id), lambda t: {"name": t["name"]}
    )
    team = _step(
        out,
        "teams.create",
        lambda: client.teams.create(name="Scenario team", description="created by the scenario"),
        lambda t: {"name": t["name"]},
    )
    _step(
        out,
        "teams.update",
        lambda: client.teams.update(team["teamId"], name="Scenario team 2"),
        lambda t: {"name": t["name"]},
    )
    _step(out, "teams.delete", lambda: client.teams.delete(team["teamId"]), lambda r: {"result": r})

    # agents and agent executions
    agent = _step(
        out,
        "agents.create",
        lambda: client.agents.create(name="Researcher", description="Finds things"),
        lambda a: {
            "name": a["name"],
            "description": a["description"],
            "ownTeam": a["teamId"] == team_id,
        },
    )
    agent_id = agent["agentId"]
    _step(out, "agents.list", client.agents.list, _page)
    _step(
        out,
        "agents.update",
        lambda: client.agents.update(agent_id, name="Researcher v2"),
        lambda a: {"name": a["name"]},
    )
    run = _step(
        out,
        "agent_executions.create",
        lambda: client.agent_executions.create(agent_id=agent_id, input_data={"question": "why?"}),
        lambda e: {"status": e["status"], "input": e["agentInput"]},
    )
    _step(
        out,
        "agent_executions.wait",
        lambda: client.agent_executions.wait_for_completion(
            run["agentExecutionId"], timeout=30, poll_interval=0.01
        ),
        lambda e: {
            "status": e["status"],
            "echo": e["agentOutput"]["input"],
            "thoughts": len(e["thoughts"]),
        },
    )
    _step(
        out,
        "agent_executions.list",
        lambda: client.agent_executions.list(agent_id=agent_id, status="completed"),
        lambda r: {"total": r["pagination"]["totalItems"]},
    )
    failing = client.agent_executions.create(
        agent_id=agent_id, input_data={"__sim__": {"outcome": "failed", "error": "tool crashed"}}
    )
    _step(
        out,
        "agent_executions.wait_failed",
        lambda: client.agent_executions.wait_for_completion(
            failing["agentExecutionId"], timeout=30, poll_interval=0.01
        ),
        lambda e: {"status": e["status"], "summary": e["agentOutputSummary"]},
    )
    slow = client.agent_executions.create(agent_id=agent_id, input_data=dict(SLOW))
    _step(
        out,
        "agent_executions.cancel",
        lambda: client.agent_executions.cancel(slow["agentExecutionId"]),
        lambda e: {"status": e["status"]},
    )
    _step(
        out,
        "agent_executions.cancel_again",
        lambda: client.agent_executions.cancel(slow["agentExecutionId"]),
        lambda e: {"status": e["status"]},
    )
    _step(
        out,
        "agents.retrieve",
        lambda: client.agents.retrieve(agent_id),
        lambda a: {k: a[k] for k in ("name", "totalRuns", "successfulRuns", "successRate")},
    )

    # datasets, data versions, schema versions
    dataset = _step(
        out,
        "datasets.create",
        lambda: client.datasets.create(name="Scores", description="exam scores"),
        lambda d: {"name": d.name, "current": d.current_data_version_id},
    )
    _step(out, "datasets.list", lambda: client.datasets.list(name_like="scor"), _page)
    _step(
        out,
        "datasets.upload_data",
        lambda: dataset.upload_data(CSV_V1, filename="scores.csv"),
        lambda v: {
            "versionNo": v.version_no,
            "status": v.status,
            "rows": v.row_count,
            "type": v.file_type,
        },
    )
    _step(
        out,
        "datasets.upload_data_bad_type",
        lambda: dataset.upload_data(b"x", filename="scores.txt"),
        lambda v: {"versionNo": v.version_no},
    )
    fresh = _step(
        out,
        "datasets.retrieve",
        lambda: client.datasets.retrieve(dataset.dataset_id),
        lambda d: {"hasCurrent": d.current_data_version_id is not None, "records": d.record_count},
    )
    _step(
        out,
        "datasets.download_data",
        fresh.download_data,
        lambda b: {**_digest(b), "same": b == CSV_V1},
    )
    _step(
        out,
        "datasets.upload_data_v2",
        lambda: dataset.upload_data(CSV_V2, filename="scores.csv"),
        lambda v: {"versionNo": v.version_no, "status": v.status, "rows": v.row_count},
    )
    _step(
        out,
        "datasets.list_data_versions",
        dataset.list_data_versions,
        lambda vs: {"versions": [[v.version_no, v.status] for v in vs]},
    )
    schema = _step(
        out,
        "datasets.create_schema",
        lambda: dataset.create_schema(
            [{"name": "id", "type": "int"}, {"name": "name", "type": "str", "required": False}]
        ),
        lambda s: {"status": s.status, "versionNo": s.version_no, "columns": _columns(s)},
    )
    _step(out, "schema.activate", schema.activate, lambda s: {"status": s.status})
    _step(
        out,
        "schema.add_column",
        lambda: schema.add_column("score", "float", required=False),
        lambda s: {"columns": _columns(s)},
    )
    _step(
        out,
        "datasets.create_schema_from_sample_bytes",
        lambda: dataset.create_schema_from_sample(CSV_V1),
        lambda s: {"versionNo": s.version_no},
    )
    _step(
        out,
        "datasets.create_schema_from_sample",
        lambda: dataset.create_schema_from_sample(_named(CSV_V1, "sample.csv")),
        lambda s: {"versionNo": s.version_no, "columns": _columns(s)},
    )
    _step(
        out,
        "datasets.get_current_schema",
        dataset.get_current_schema,
        lambda s: {"versionNo": s.version_no, "status": s.status},
    )
    _step(
        out,
        "datasets.list_schema_versions",
        dataset.list_schema_versions,
        lambda vs: {"versions": [[v.version_no, v.status] for v in vs]},
    )
    _step(
        out,
        "datasets.update",
        lambda: client.datasets.update(
            dataset.dataset_id, description="updated", should_process=True
        ),
        lambda d: {"description": d.description, "processing": d.processing_status},
    )

    # files
    uploaded = _step(
        out,
        "files.upload",
        lambda: client.files.upload(NOTES, name="notes.txt", metadata={"source": "scenario"}),
        lambda f: {
            "name": f.name,
            "mime": f.mime_type,
            "size": f.file_size,
            "status": f.status,
            "ready": f.is_ready(),
            "metadata": f.metadata,
        },
    )
    file_id = uploaded.file_id
    _step(out, "files.list", client.files.list, lambda r: _page(r, "fileName"))
    _step(
        out,
        "files.retrieve",
        lambda: client.files.retrieve(file_id),
        lambda f: {"hashMatches": f.file_hash == hashlib.sha256(NOTES).hexdigest()},
    )
    _step(
        out,
        "files.download",
        lambda: client.files.download(file_id),
        lambda b: {**_digest(b), "same": b == NOTES},
    )
    _step(out, "files.model_download", uploaded.download, lambda b: {"same": b == NOTES})
    _step(out, "files.delete", lambda: client.files.delete(file_id), lambda r: {"result": r})
    _step(
        out,
        "files.retrieve_deleted",
        lambda: client.files.retrieve(file_id),
        lambda f: {"name": f.name},
    )

    # pipelines, configuration versions, executions
    pipeline = _step(
        out,
        "pipelines.create",
        lambda: client.pipelines.create(name="Summariser", description="summarises documents"),
        lambda p: {"name": p.name},
    )
    pipeline_id = pipeline.pipeline_id
    _step(out, "pipelines.list", lambda: client.pipelines.list(pipeline_ids=[pipeline_id]), _page)
    _step(
        out,
        "pipelines.update",
        lambda: client.pipelines.update(pipeline_id, description="v2"),
        lambda p: {"description": p.description},
    )
    pcv = _step(
        out,
        "pipeline.create_configuration_version",
        lambda: pipeline.create_configuration_version(configuration=CONFIG),
        lambda v: {"version": v.version, "status": v.status},
    )
    pcv_id = pcv.configuration_version_id
    pcvs = client.pipeline_configuration_versions
    _step(
        out,
        "pcv.list",
        lambda: pcvs.list(pipeline_ids=[pipeline_id]),
        lambda r: {"total": r["pagination"]["totalItems"]},
    )
    _step(
        out,
        "pcv.retrieve",
        lambda: pcvs.retrieve(pcv_id),
        lambda v: {"version": _data(v)["version"]},
    )
    _step(
        out,
        "pcv.update",
        lambda: pcvs.update(pcv_id, configuration={**CONFIG, "description": "edited"}),
        lambda v: {
            "description": _data(v)["configuration"].get("description"),
            "status": _data(v)["status"],
        },
    )
    _step(
        out,
        "pcv.validate",
        lambda: pcvs.validate(configuration=CONFIG),
        lambda r: {
            "valid": r["valid"],
            "errors": len(r["errors"]),
            "hasInputSchema": "inputSchema" in r,
        },
    )
    _step(
        out,
        "pcv.validate_bad",
        lambda: pcvs.validate(configuration=BAD_CONFIG),
        lambda r: {"valid": r["valid"], "errorTypes": sorted(e["errorType"] for e in r["errors"])},
    )
    _step(out, "pcv.get_schema", pcvs.get_schema, lambda s: {"required": s["required"]})
    clone = _step(
        out,
        "pcv.clone",
        lambda: pcvs.clone(pcv_id),
        lambda v: {"version": _data(v)["version"], "status": _data(v)["status"]},
    )
    _step(
        out,
        "pcv.delete",
        lambda: pcvs.delete(_data(clone)["pipelineConfigurationVersionId"]),
        lambda r: {"result": r},
    )
    _step(
        out,
        "pcv.make_current",
        lambda: pcvs.update(pcv_id, status="current"),
        lambda v: {"status": _data(v)["status"]},
    )
    _step(out, "pcv.delete_current", lambda: pcvs.delete(pcv_id), lambda r: {"result": r})
    _step(
        out,
        "pipeline.list_configuration_versions",
        pipeline.list_configuration_versions,
        lambda vs: {"versions": [[v.version, v.status] for v in vs]},
    )

    pes = client.pipeline_executions
    execution = _step(
        out,
        "pipeline_executions.create",
        lambda: pes.create(
            pipeline_configuration_version_id=pcv_id,
            pipeline_input={"documents": ["a", "b"]},
            pipeline_input_summary="2 documents",
        ),
        _pe,
    )
    done = _step(
        out,
        "pipeline_executions.wait",
        lambda: execution.wait_for_completion(timeout=30, poll_interval=0.01, show_progress=False),
        lambda e: {**_pe(e), "progress": e.progress_data.get("message")},
    )
    _step(
        out,
        "pipeline_executions.get_output",
        lambda: pes.get_output(done.execution_id),
        lambda o: {"output": o},
    )
    _step(out, "pipeline_executions.model_get_output", done.get_output, lambda o: {"output": o})
    stored = pipeline.execute(
        configuration_version_id=pcv_id,
        pipeline_input={"__sim__": {"outputStorage": "s3"}, "documents": ["c"]},
        pipeline_input_summary="stored output",
        block=True,
        poll_interval=0.01,
        timeout=30,
        show_progress=False,
    )
    _step(
        out,
        "pipeline_executions.get_output_s3",
        lambda: pes.get_output(stored.execution_id),
        lambda o: {"output": o},
    )
    failing_pe = pes.create(
        pipeline_configuration_version_id=pcv_id,
        pipeline_input={"__sim__": {"outcome": "failed", "error": "block llm crashed"}},
        pipeline_input_summary="will fail",
    )
    _step(
        out,
        "pipeline_executions.wait_failed",
        lambda: failing_pe.wait_for_completion(timeout=30, poll_interval=0.01, show_progress=False),
        _pe,
    )
    slow_pe = pes.create(
        pipeline_configuration_version_id=pcv_id,
        pipeline_input=dict(SLOW),
        pipeline_input_summary="slow",
    )
    _step(
        out,
        "pipeline_executions.cancel",
        lambda: pes.cancel(slow_pe.execution_id, reason="not needed"),
        lambda e: {
            "status": _data(e)["status"],
            "progress": _data(e)["progressData"].get("message"),
        },
    )
    _step(out, "pipeline_executions.cancel_again", lambda: pes.cancel(slow_pe.execution_id), _pe)
    _step(
        out,
        "pipeline_executions.wait_cancelled",
        lambda: slow_pe.wait_for_completion(timeout=30, poll_interval=0.01, show_progress=False),
        _pe,
    )
    paused = pes.create(
        pipeline_configuration_version_id=pcv_id,
        pipeline_input=dict(SLOW),
        pipeline_input_summary="paused",
    )
    _step(
        out,
        "pipeline_executions.pause",
        lambda: pes.update(paused.execution_id, status="paused"),
        lambda e: {"status": _data(e)["status"], "pausedAt": _data(e)["pausedAt"] is not None},
    )
    _step(
        out,
        "pipeline_executions.wait_paused",
        lambda: paused.wait_for_completion(timeout=0.05, poll_interval=0.02, show_progress=False),
        _pe,
    )
    _step(
        out,
        "pipeline_executions.list",
        lambda: pes.list(pipeline_ids=[pipeline_id], statuses=["completed", "failed"]),
        lambda r: {
            "total": r["pagination"]["totalItems"],
            "statuses": sorted(_data(i)["status"] for i in r["items"]),
        },
    )
    _step(
        out,
        "pipeline.list_executions",
        pipeline.list_executions,
        lambda es: {"statuses": sorted(e.status for e in es)},
    )
    _step(
        out,
        "pipelines.retrieve",
        lambda: client.pipelines.retrieve(pipeline_id),
        lambda p: {
            "totalRuns": p.total_runs,
            "successfulRuns": p.successful_runs,
            "successRate": p.success_rate,
        },
    )

    # clean-up
    _step(
        out,
        "pipelines.delete",
        lambda: client.pipelines.delete(pipeline_id),
        lambda r: {"result": r},
    )
    _step(
        out,
        "pipelines.retrieve_deleted",
        lambda: client.pipelines.retrieve(pipeline_id),
        lambda p: {"name": p.name},
    )
    _step(out, "agents.delete", lambda: client.agents.delete(agent_id), lambda r: {"result": r})
    _step(out, "datasets.delete", dataset.delete, lambda r: {"result": r})
    return out


# ---------------------------------------------------------------------------- async


async def _poll_agent(client: AsyncModeratelyAI, execution_id: str) -> dict[str, Any]:
    """The async SDK has no agent wait: poll like the sync one does."""
    deadline = time.monotonic() + 30
    while True:
        execution: dict[str, Any] = await client.agent_executions.retrieve(execution_id)
        if (
            execution["status"] in ("completed", "failed", "cancelled")
            or time.monotonic() > deadline
        ):
            return execution
        await asyncio.sleep(0.01)


async def run_official_scenario_async(client: AsyncModeratelyAI) -> Transcript:
    """Async twin of :func:`run_official_scenario_sync` (same logical operations).

    Where the async SDK lacks an operation, the nearest SDK call is used (agent wait:
    polling ``retrieve``; schema activate/add column: the schema-version resource).
    Async-only operations are appended at the end under ``async.*``.
    """
    out: Transcript = []
    team_id = client.team_id

    users = await _astep(out, "users.list", client.users.list, lambda r: _page(r, "fullName"))
    user = await _astep(
        out,
        "users.retrieve",
        lambda: client.users.retrieve(users["items"][0].user_id),
        lambda u: {"fullName": u.full_name},
    )
    await _astep(
        out,
        "users.update",
        lambda: client.users.update(user.user_id, full_name="Ada Lovelace", nickname="ada"),
        lambda u: {"fullName": u.full_name, "nickname": u.nickname},
    )
    await _astep(
        out, "users.teams", user.get_teams, lambda ts: {"names": sorted(t["name"] for t in ts)}
    )
    await _astep(out, "teams.list", client.teams.list, _page)
    await _astep(
        out, "teams.retrieve", lambda: client.teams.retrieve(team_id), lambda t: {"name": t["name"]}
    )
    team = await _astep(
        out,
        "teams.create",
        lambda: client.teams.create(name="Scenario team", description="created by the scenario"),
        lambda t: {"name": t["name"]},
    )
    await _astep(
        out,
        "teams.update",
        lambda: client.teams.update(team["teamId"], name="Scenario team 2"),
        lambda t: {"name": t["name"]},
    )
    await _astep(
        out, "teams.delete", lambda: client.teams.delete(team["teamId"]), lambda r: {"result": r}
    )

    agent = await _astep(
        out,
        "agents.create",
        lambda: client.agents.create(name="Researcher", description="Finds things"),
        lambda a: {
            "name": a["name"],
            "description": a["description"],
            "ownTeam": a["teamId"] == team_id,
        },
    )
    agent_id = agent["agentId"]
    await _astep(out, "agents.list", client.agents.list, _page)
    await _astep(
        out,
        "agents.update",
        lambda: client.agents.update(agent_id, name="Researcher v2"),
        lambda a: {"name": a["name"]},
    )
    run = await _astep(
        out,
        "agent_executions.create",
        lambda: client.agent_executions.create(agent_id=agent_id, input_data={"question": "why?"}),
        lambda e: {"status": e["status"], "input": e["agentInput"]},
    )
    await _astep(
        out,
        "agent_executions.wait",
        lambda: _poll_agent(client, run["agentExecutionId"]),
        lambda e: {
            "status": e["status"],
            "echo": e["agentOutput"]["input"],
            "thoughts": len(e["thoughts"]),
        },
    )
    await _astep(
        out,
        "agent_executions.list",
        lambda: client.agent_executions.list(agent_id=agent_id, status="completed"),
        lambda r: {"total": r["pagination"]["totalItems"]},
    )
    failing = await client.agent_executions.create(
        agent_id=agent_id, input_data={"__sim__": {"outcome": "failed", "error": "tool crashed"}}
    )
    await _astep(
        out,
        "agent_executions.wait_failed",
        lambda: _poll_agent(client, failing["agentExecutionId"]),
        lambda e: {"status": e["status"], "summary": e["agentOutputSummary"]},
    )
    slow = await client.agent_executions.create(agent_id=agent_id, input_data=dict(SLOW))
    await _astep(
        out,
        "agent_executions.cancel",
        lambda: client.agent_executions.cancel(slow["agentExecutionId"]),
        lambda e: {"status": e["status"]},
    )
    await _astep(
        out,
        "agent_executions.cancel_again",
        lambda: client.agent_executions.cancel(slow["agentExecutionId"]),
        lambda e: {"status": e["status"]},
    )
    await _astep(
        out,
        "agents.retrieve",
        lambda: client.agents.retrieve(agent_id),
        lambda a: {k: a[k] for k in ("name", "totalRuns", "successfulRuns", "successRate")},
    )
    await _astep(
        out,
        "async.agent_executions.delete",
        lambda: client.agent_executions.delete(run["agentExecutionId"]),
        lambda r: {"result": r},
    )

    dataset = await _astep(
        out,
        "datasets.create",
        lambda: client.datasets.create(name="Scores", description="exam scores"),
        lambda d: {"name": d.name, "current": d.current_data_version_id},
    )
    await _astep(out, "datasets.list", lambda: client.datasets.list(name_like="scor"), _page)
    await _astep(
        out,
        "datasets.upload_data",
        lambda: dataset.upload_data(CSV_V1, filename="scores.csv"),
        lambda v: {
            "versionNo": v.version_no,
            "status": v.status,
            "rows": v.row_count,
            "type": v.file_type,
        },
    )
    await _astep(
        out,
        "datasets.upload_data_bad_type",
        lambda: dataset.upload_data(b"x", filename="scores.txt"),
        lambda v: {"versionNo": v.version_no},
    )
    fresh = await _astep(
        out,
        "datasets.retrieve",
        lambda: client.datasets.retrieve(dataset.dataset_id),
        lambda d: {"hasCurrent": d.current_data_version_id is not None, "records": d.record_count},
    )
    await _astep(
        out,
        "datasets.download_data",
        fresh.download_data,
        lambda b: {**_digest(b), "same": b == CSV_V1},
    )
    await _astep(
        out,
        "datasets.upload_data_v2",
        lambda: dataset.upload_data(CSV_V2, filename="scores.csv"),
        lambda v: {"versionNo": v.version_no, "status": v.status, "rows": v.row_count},
    )
    await _astep(
        out,
        "datasets.list_data_versions",
        dataset.list_data_versions,
        lambda vs: {"versions": [[v.version_no, v.status] for v in vs]},
    )
    schema = await _astep(
        out,
        "datasets.create_schema",
        lambda: dataset.create_schema(
            [{"name": "id", "type": "int"}, {"name": "name", "type": "str", "required": False}]
        ),
        lambda s: {"status": s.status, "versionNo": s.version_no, "columns": _columns(s)},
    )
    schemas = AsyncDatasetSchemaVersions(client)
    schema_id = schema.dataset_schema_version_id
    await _astep(
        out,
        "schema.activate",
        lambda: schemas.update(schema_id, status="current"),
        lambda s: {"status": s.status},
    )
    await _astep(
        out,
        "schema.add_column",
        lambda: schemas.update(
            schema_id,
            columns=[
                *_data(schema)["columnsJson"],
                {"name": "score", "type": "float", "nullable": True, "pos": 3},
            ],
        ),
        lambda s: {"columns": _columns(s)},
    )
    await _astep(
        out,
        "datasets.create_schema_from_sample_bytes",
        lambda: dataset.create_schema_from_sample(CSV_V1),
        lambda s: {"versionNo": s.version_no},
    )
    await _astep(
        out,
        "datasets.create_schema_from_sample",
        lambda: dataset.create_schema_from_sample(_named(CSV_V1, "sample.csv")),
        lambda s: {"versionNo": s.version_no, "columns": _columns(s)},
    )
    await _astep(
        out,
        "datasets.get_current_schema",
        dataset.get_current_schema,
        lambda s: {"versionNo": s.version_no, "status": s.status},
    )
    await _astep(
        out,
        "datasets.list_schema_versions",
        dataset.list_schema_versions,
        lambda vs: {"versions": [[v.version_no, v.status] for v in vs]},
    )
    await _astep(
        out,
        "datasets.update",
        lambda: client.datasets.update(
            dataset.dataset_id, description="updated", should_process=True
        ),
        lambda d: {"description": d.description, "processing": d.processing_status},
    )

    uploaded = await _astep(
        out,
        "files.upload",
        lambda: client.files.upload(NOTES, name="notes.txt", metadata={"source": "scenario"}),
        lambda f: {
            "name": f.name,
            "mime": f.mime_type,
            "size": f.file_size,
            "status": f.status,
            "ready": f.is_ready(),
            "metadata": f.metadata,
        },
    )
    file_id = uploaded.file_id
    await _astep(out, "files.list", client.files.list, lambda r: _page(r, "fileName"))
    await _astep(
        out,
        "files.retrieve",
        lambda: client.files.retrieve(file_id),
        lambda f: {"hashMatches": f.file_hash == hashlib.sha256(NOTES).hexdigest()},
    )
    await _astep(
        out,
        "files.download",
        lambda: client.files.download(file_id),
        lambda b: {**_digest(b), "same": b == NOTES},
    )
    await _astep(out, "files.model_download", uploaded.download, lambda b: {"same": b == NOTES})
    await _astep(out, "files.delete", lambda: client.files.delete(file_id), lambda r: {"result": r})
    await _astep(
        out,
        "files.retrieve_deleted",
        lambda: client.files.retrieve(file_id),
        lambda f: {"name": f.name},
    )

    pipeline = await _astep(
        out,
        "pipelines.create",
        lambda: client.pipelines.create(name="Summariser", description="summarises documents"),
        lambda p: {"name": p.name},
    )
    pipeline_id = pipeline.pipeline_id
    await _astep(
        out, "pipelines.list", lambda: client.pipelines.list(pipeline_ids=[pipeline_id]), _page
    )
    await _astep(
        out,
        "pipelines.update",
        lambda: client.pipelines.update(pipeline_id, description="v2"),
        lambda p: {"description": p.description},
    )
    pcv = await _astep(
        out,
        "pipeline.create_configuration_version",
        lambda: pipeline.create_configuration_version(configuration=CONFIG),
        lambda v: {"version": v.version, "status": v.status},
    )
    pcv_id = pcv.configuration_version_id
    pcvs = client.pipeline_configuration_versions
    await _astep(
        out,
        "pcv.list",
        lambda: pcvs.list(pipeline_ids=[pipeline_id]),
        lambda r: {"total": r["pagination"]["totalItems"]},
    )
    await _astep(
        out,
        "pcv.retrieve",
        lambda: pcvs.retrieve(pcv_id),
        lambda v: {"version": _data(v)["version"]},
    )
    await _astep(
        out,
        "pcv.update",
        lambda: pcvs.update(pcv_id, configuration={**CONFIG, "description": "edited"}),
        lambda v: {
            "description": _data(v)["configuration"].get("description"),
            "status": _data(v)["status"],
        },
    )
    await _astep(
        out,
        "pcv.validate",
        lambda: pcvs.validate(configuration=CONFIG),
        lambda r: {
            "valid": r["valid"],
            "errors": len(r["errors"]),
            "hasInputSchema": "inputSchema" in r,
        },
    )
    await _astep(
        out,
        "pcv.validate_bad",
        lambda: pcvs.validate(configuration=BAD_CONFIG),
        lambda r: {"valid": r["valid"], "errorTypes": sorted(e["errorType"] for e in r["errors"])},
    )
    await _astep(out, "pcv.get_schema", pcvs.get_schema, lambda s: {"required": s["required"]})
    clone = await _astep(
        out,
        "pcv.clone",
        lambda: pcvs.clone(pcv_id),
        lambda v: {"version": _data(v)["version"], "status": _data(v)["status"]},
    )
    await _astep(
        out,
        "pcv.delete",
        lambda: pcvs.delete(_data(clone)["pipelineConfigurationVersionId"]),
        lambda r: {"result": r},
    )
    await _astep(
        out,
        "pcv.make_current",
        lambda: pcvs.update(pcv_id, status="current"),
        lambda v: {"status": _data(v)["status"]},
    )
    await _astep(out, "pcv.delete_current", lambda: pcvs.delete(pcv_id), lambda r: {"result": r})
    await _astep(
        out,
        "pipeline.list_configuration_versions",
        pipeline.list_configuration_versions,
        lambda vs: {"versions": [[v.version, v.status] for v in vs]},
    )

    pes = client.pipeline_executions
    execution = await _astep(
        out,
        "pipeline_executions.create",
        lambda: pes.create(
            pipeline_configuration_version_id=pcv_id,
            pipeline_input={"documents": ["a", "b"]},
            pipeline_input_summary="2 documents",
        ),
        _pe,
    )
    done = await _astep(
        out,
        "pipeline_executions.wait",
        lambda: execution.wait_for_completion(timeout=30, poll_interval=0.01, show_progress=False),
        lambda e: {**_pe(e), "progress": e.progress_data.get("message")},
    )
    await _astep(
        out,
        "pipeline_executions.get_output",
        lambda: pes.get_output(done.execution_id),
        lambda o: {"output": o},
    )
    await _astep(
        out, "pipeline_executions.model_get_output", done.get_output, lambda o: {"output": o}
    )
    stored = await pipeline.execute(
        configuration_version_id=pcv_id,
        pipeline_input={"__sim__": {"outputStorage": "s3"}, "documents": ["c"]},
        pipeline_input_summary="stored output",
        block=True,
        poll_interval=0.01,
        timeout=30,
        show_progress=False,
    )
    await _astep(
        out,
        "pipeline_executions.get_output_s3",
        lambda: pes.get_output(stored.execution_id),
        lambda o: {"output": o},
    )
    failing_pe = await pes.create(
        pipeline_configuration_version_id=pcv_id,
        pipeline_input={"__sim__": {"outcome": "failed", "error": "block llm crashed"}},
        pipeline_input_summary="will fail",
    )
    await _astep(
        out,
        "pipeline_executions.wait_failed",
        lambda: failing_pe.wait_for_completion(timeout=30, poll_interval=0.01, show_progress=False),
        _pe,
    )
    slow_pe = await pes.create(
        pipeline_configuration_version_id=pcv_id,
        pipeline_input=dict(SLOW),
        pipeline_input_summary="slow",
    )
    await _astep(
        out,
        "pipeline_executions.cancel",
        lambda: pes.cancel(slow_pe.execution_id, reason="not needed"),
        lambda e: {
            "status": _data(e)["status"],
            "progress": _data(e)["progressData"].get("message"),
        },
    )
    await _astep(
        out, "pipeline_executions.cancel_again", lambda: pes.cancel(slow_pe.execution_id), _pe
    )
    await _astep(
        out,
        "pipeline_executions.wait_cancelled",
        lambda: slow_pe.wait_for_completion(timeout=30, poll_interval=0.01, show_progress=False),
        _pe,
    )
    paused = await pes.create(
        pipeline_configuration_version_id=pcv_id,
        pipeline_input=dict(SLOW),
        pipeline_input_summary="paused",
    )
    await _astep(
        out,
        "pipeline_executions.pause",
        lambda: pes.update(paused.execution_id, status="paused"),
        lambda e: {"status": _data(e)["status"], "pausedAt": _data(e)["pausedAt"] is not None},
    )
    await _astep(
        out,
        "pipeline_executions.wait_paused",
        lambda: paused.wait_for_completion(timeout=0.05, poll_interval=0.02, show_progress=False),
        _pe,
    )
    await _astep(
        out,
        "pipeline_executions.list",
        lambda: pes.list(pipeline_ids=[pipeline_id], statuses=["completed", "failed"]),
        lambda r: {
            "total": r["pagination"]["totalItems"],
            "statuses": sorted(_data(i)["status"] for i in r["items"]),
        },
    )
    await _astep(
        out,
        "pipeline.list_executions",
        pipeline.list_executions,
        lambda es: {"statuses": sorted(e.status for e in es)},
    )
    await _astep(
        out,
        "pipelines.retrieve",
        lambda: client.pipelines.retrieve(pipeline_id),
        lambda p: {
            "totalRuns": p.total_runs,
            "successfulRuns": p.successful_runs,
            "successRate": p.success_rate,
        },
    )

    await _astep(
        out,
        "pipelines.delete",
        lambda: client.pipelines.delete(pipeline_id),
        lambda r: {"result": r},
    )
    await _astep(
        out,
        "pipelines.retrieve_deleted",
        lambda: client.pipelines.retrieve(pipeline_id),
        lambda p: {"name": p.name},
    )
    await _astep(
        out, "agents.delete", lambda: client.agents.delete(agent_id), lambda r: {"result": r}
    )
    await _astep(out, "datasets.delete", dataset.delete, lambda r: {"result": r})

    # async-only surface
    second = await client.files.upload(NOTES, name="second.txt")
    await _astep(
        out,
        "async.files.update",
        lambda: client.files.update(second.file_id, name="renamed.txt", metadata={"k": "v"}),
        lambda f: {"name": f.name, "metadata": f.metadata},
    )
    await _astep(
        out,
        "async.files.get_upload_url",
        lambda: client.files.get_upload_url(filename="raw.bin", file_size=3),
        lambda r: {"keys": sorted(r)},
    )
    return out


# ---------------------------------------------------------------------------- expectations


def _by_op(transcript: Transcript) -> dict[str, dict[str, Any]]:
    ops = [entry["op"] for entry in transcript]
    assert len(ops) == len(set(ops)), "operation names must be unique"
    return {entry["op"]: {k: v for k, v in entry.items() if k != "op"} for entry in transcript}


def _check_common(t: dict[str, dict[str, Any]]) -> None:
    """Expectations shared by the sync and async transcripts."""
    assert t["users.list"] == {"total": 1, "fullNames": ["Simulated User"]}
    assert t["users.update"] == {"fullName": "Ada Lovelace", "nickname": "ada"}
    assert t["users.teams"] == {"names": ["Simulated Team"]}
    assert t["teams.create"] == {"name": "Scenario team"}
    assert t["teams.update"] == {"name": "Scenario team 2"}
    assert t["teams.delete"] == {"result": None}
    assert t["agents.create"] == {
        "name": "Researcher",
        "description": "Finds things",
        "ownTeam": True,
    }
    assert t["agent_executions.create"] == {"status": "pending", "input": {"question": "why?"}}
    assert t["agent_executions.wait"] == {
        "status": "completed",
        "echo": {"question": "why?"},
        "thoughts": 3,
    }
    assert t["agent_executions.list"] == {"total": 1}
    assert t["agent_executions.wait_failed"] == {"status": "failed", "summary": "tool crashed"}
    assert t["agent_executions.cancel"] == {"status": "cancelled"}
    # §7 #14: the spec envelope is nested, so the SDK only says "HTTP 400"
    assert t["agent_executions.cancel_again"] == {
        "error": "APIError",
        "status": 400,
        "message": "HTTP 400 | Status: 400",
    }
    assert t["agents.retrieve"] == {
        "name": "Researcher v2",
        "totalRuns": 3,
        "successfulRuns": 1,
        "successRate": pytest.approx(1 / 3, abs=1e-3),
    }
    assert t["datasets.create"] == {"name": "Scores", "current": None}
    assert t["datasets.list"] == {"total": 1, "names": ["Scores"]}
    assert t["datasets.upload_data"] == {
        "versionNo": 1,
        "status": "current",
        "rows": 3,
        "type": "csv",
    }
    # §5.3: an unknown extension fails in the SDK before any request
    assert t["datasets.upload_data_bad_type"]["error"] == "ValueError"
    assert t["datasets.retrieve"] == {"hasCurrent": True, "records": 3}
    assert t["datasets.download_data"]["same"] is True
    assert t["datasets.upload_data_v2"] == {"versionNo": 2, "status": "current", "rows": 2}
    assert t["datasets.list_data_versions"] == {"versions": [[1, "archived"], [2, "current"]]}
    assert t["datasets.create_schema"] == {
        "status": "draft",
        "versionNo": 1,
        "columns": [["id", "integer", False], ["name", "string", True]],
    }
    assert t["schema.activate"] == {"status": "current"}
    assert t["schema.add_column"] == {
        "columns": [["id", "integer", False], ["name", "string", True], ["score", "float", True]]
    }
    # the sample helper never forwards a file name, so bytes cannot name their type
    assert t["datasets.create_schema_from_sample_bytes"]["error"] == "ValueError"
    assert t["datasets.create_schema_from_sample"] == {
        "versionNo": 2,
        "columns": [["id", "string", True], ["name", "string", True], ["score", "string", True]],
    }
    assert t["datasets.get_current_schema"] == {"versionNo": 1, "status": "current"}
    assert t["datasets.list_schema_versions"] == {"versions": [[2, "draft"], [1, "current"]]}
    assert t["datasets.update"] == {"description": "updated", "processing": "in_progress"}
    assert t["files.upload"] == {
        "name": "notes.txt",
        "mime": "text/plain",
        "size": len(NOTES),
        "status": "completed",
        "ready": True,
        "metadata": {"source": "scenario"},
    }
    assert t["files.list"] == {"total": 1, "fileNames": ["notes.txt"]}
    assert t["files.retrieve"] == {"hashMatches": True}
    assert t["files.download"]["same"] is True
    assert t["files.model_download"] == {"same": True}
    assert t["files.delete"] == {"result": None}
    assert t["files.retrieve_deleted"] == {
        "error": "APIError",
        "status": 404,
        "message": "HTTP 404 | Status: 404",
    }
    assert t["pipelines.create"] == {"name": "Summariser"}
    assert t["pipelines.list"] == {"total": 1, "names": ["Summariser"]}
    assert t["pipelines.update"] == {"description": "v2"}
    assert t["pipeline.create_configuration_version"] == {"version": 1, "status": "draft"}
    assert t["pcv.list"] == {"total": 1}
    assert t["pcv.update"] == {"description": "edited", "status": "draft"}
    assert t["pcv.validate"] == {"valid": True, "errors": 0, "hasInputSchema": True}
    assert t["pcv.validate_bad"] == {
        "valid": False,
        "errorTypes": ["unknown_block", "unknown_block_type"],
    }
    assert t["pcv.get_schema"] == {"required": ["id", "name", "blocks"]}
    assert t["pcv.clone"] == {"version": 2, "status": "draft"}
    assert t["pcv.delete"] == {"result": None}
    assert t["pcv.make_current"] == {"status": "current"}
    assert t["pcv.delete_current"] == {
        "error": "APIError",
        "status": 400,
        "message": "HTTP 400 | Status: 400",
    }
    assert t["pipeline.list_configuration_versions"] == {"versions": [[1, "current"]]}
    assert t["pipeline_executions.create"] == {
        "status": "pending",
        "currentStep": 0,
        "totalSteps": 3,
    }
    assert t["pipeline_executions.wait"] == {
        "status": "completed",
        "currentStep": 3,
        "totalSteps": 3,
        "progress": "Pipeline completed",
    }
    inline = {"result": "ok", "steps": 3, "input": {"documents": ["a", "b"]}}
    assert t["pipeline_executions.get_output"] == {"output": inline}
    assert t["pipeline_executions.model_get_output"] == {"output": inline}
    assert t["pipeline_executions.get_output_s3"] == {
        "output": {"result": "ok", "steps": 3, "input": {"documents": ["c"]}}
    }
    # §5.6: a failed pipeline wait raises a bare Exception with progressData.error
    assert t["pipeline_executions.wait_failed"] == {
        "error": "Exception",
        "status": None,
        "message": "Pipeline execution failed: block llm crashed",
    }
    assert t["pipeline_executions.cancel"] == {
        "status": "cancelled",
        "progress": "Cancelled: not needed",
    }
    assert t["pipeline_executions.cancel_again"]["status"] == 400
    assert t["pipeline_executions.wait_cancelled"] == {
        "error": "Exception",
        "status": None,
        "message": "Pipeline execution was cancelled",
    }
    assert t["pipeline_executions.pause"] == {"status": "paused", "pausedAt": True}
    # §5.6: paused never ends; the builtin TimeoutError reports the status
    assert t["pipeline_executions.wait_paused"]["error"] == "TimeoutError"
    assert t["pipeline_executions.wait_paused"]["message"].endswith("Current status: paused")
    assert t["pipeline_executions.list"] == {
        "total": 3,
        "statuses": ["completed", "completed", "failed"],
    }
    assert t["pipeline.list_executions"] == {
        "statuses": ["cancelled", "completed", "completed", "failed", "paused"]
    }
    assert t["pipelines.retrieve"] == {"totalRuns": 5, "successfulRuns": 2, "successRate": 0.4}
    assert t["pipelines.delete"] == {"result": None}
    assert t["pipelines.retrieve_deleted"]["status"] == 404
    assert t["agents.delete"] == {"result": None}
    assert t["datasets.delete"] == {"result": None}


def _sync_client(sim: Simulator, **kw: Any) -> ModeratelyAI:
    return ModeratelyAI(
        api_key=sim.api_key,
        team_id=sim.team_id,
        base_url=sim.url,
        retry_config=RetryConfig(max_backoff=0),
        **kw,
    )


def _async_client(sim: Simulator, **kw: Any) -> AsyncModeratelyAI:
    return AsyncModeratelyAI(api_key=sim.api_key, team_id=sim.team_id, base_url=sim.url, **kw)


# ---------------------------------------------------------------------------- tests


def test_sync_scenario(threaded_sim: Simulator) -> None:
    with _sync_client(threaded_sim) as client:
        transcript = run_official_scenario_sync(client)
    t = _by_op(transcript)
    _check_common(t)
    # sync-only: the PCV update/cancel return raw dicts (§7 #28) – already normalised above
    assert "async.files.update" not in t
    log = threaded_sim.requests
    # §1.5 / §7 #4: teamIds on every API request, storage requests carry none
    api_calls = [r for r in log if not r.path.startswith("/_storage/")]
    storage = [r for r in log if r.path.startswith("/_storage/")]
    assert api_calls and all(
        r.query_dict().get("teamIds") == [threaded_sim.team_id] for r in api_calls
    )
    assert storage and all("Authorization" not in r.headers for r in storage)
    assert all("teamIds" not in r.query_dict() for r in storage)
    # §1.3 headers, redacted in the log
    first = api_calls[0]
    assert first.headers["Authorization"] == f"Bearer {REDACTED}"
    assert first.headers["User-Agent"] == "moderatelyai-python/0.1.0"
    assert first.headers["Content-Type"] == "application/json"
    assert threaded_sim.api_key not in repr(log)
    # §7 #1 snake_case paging from users.list; #5 team_id from sync agents.create
    users_list = next(r for r in api_calls if r.path == "/users")
    assert users_list.query_dict()["page_size"] == ["10"] and users_list.query_dict()[
        "order_by"
    ] == ["created_at"]
    agent_create = next(r for r in api_calls if r.method == "POST" and r.path == "/agents")
    assert "team_id" in agent_create.json and "teamId" not in agent_create.json
    # §7 #6 / #7: legacy agent-execution body and POST cancel
    assert any(
        r.method == "POST"
        and r.path.endswith("/cancel")
        and r.path.startswith("/agent-executions/")
        for r in log
    )
    agent_exec = next(r for r in api_calls if r.method == "POST" and r.path == "/agent-executions")
    assert set(agent_exec.json) == {"agent_id", "input_data"}
    # §7 #11: the resource clone sends an empty body
    clone = next(r for r in api_calls if r.path.endswith("/clone"))
    assert clone.body_size == 0 and clone.status == 201


async def test_async_scenario(threaded_sim: Simulator) -> None:
    async with _async_client(threaded_sim) as client:
        transcript = await run_official_scenario_async(client)
    t = _by_op(transcript)
    _check_common(t)
    assert t["async.files.update"] == {"name": "renamed.txt", "metadata": {"k": "v"}}
    # §7 #10: snake_case get_upload_url body; the spec (and the simulator) reject it
    assert t["async.files.get_upload_url"] == {
        "error": "APIError",
        "status": 400,
        "message": "HTTP 400 | Status: 400",
    }
    assert t["async.agent_executions.delete"] == {"result": None}
    log = threaded_sim.requests
    # §7 #7: the async client cancels agent executions with PATCH
    assert any(r.method == "PATCH" and r.path.endswith("/cancel") for r in log)
    agent_create = next(r for r in log if r.method == "POST" and r.path == "/agents")
    assert "teamId" in agent_create.json
    datasets_list = next(r for r in log if r.method == "GET" and r.path == "/datasets")
    assert datasets_list.query_dict()["name_like"] == ["scor"]


def test_sync_and_async_transcripts_agree(threaded_sim: Simulator) -> None:
    with _sync_client(threaded_sim) as client:
        sync_t = _by_op(run_official_scenario_sync(client))
    second = Simulator(seed=2024, clock="manual", step_seconds=1.0, advance_on_poll=True)
    with second.serve_in_thread() as other:

        async def run() -> Transcript:
            async with _async_client(other) as aclient:
                return await run_official_scenario_async(aclient)

        async_t = _by_op(asyncio.run(run()))
    shared = set(sync_t) & set(async_t)
    assert len(shared) > 60
    differing = {op for op in shared if sync_t[op] != async_t[op]}
    assert differing == set(), {op: (sync_t[op], async_t[op]) for op in differing}


# ---------------------------------------------------------------------------- deviations


def test_env_vars_sync_honoured_async_ignores_base_url(
    threaded_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in threaded_sim.info().items():
        monkeypatch.setenv(key, value)
    with ModeratelyAI() as client:
        assert client.base_url == threaded_sim.url
        assert client.teams.retrieve(threaded_sim.team_id)["name"] == "Simulated Team"
    aclient = AsyncModeratelyAI()
    try:
        assert aclient.base_url == "https://api.moderately.ai"  # §1.4: MODERATELY_BASE_URL ignored
    finally:
        asyncio.run(aclient.close())


async def test_wrong_key_sync_authentication_error_async_api_error(threaded_sim: Simulator) -> None:
    with (
        ModeratelyAI(
            api_key="wrong", team_id=threaded_sim.team_id, base_url=threaded_sim.url
        ) as client,
        pytest.raises(AuthenticationError),
    ):
        client.datasets.list()
    async with AsyncModeratelyAI(
        api_key="wrong", team_id=threaded_sim.team_id, base_url=threaded_sim.url
    ) as aclient:
        with pytest.raises(APIError) as info:
            await aclient.datasets.list()
    assert info.value.status_code == 401
    assert info.value.response_data["error"]["code"] == "UNAUTHORIZED"
    assert [r.status for r in threaded_sim.requests] == [401, 401]


def test_custom_http_client_loses_auth(threaded_sim: Simulator) -> None:
    with (
        httpx.Client() as raw,
        _sync_client(threaded_sim, http_client=raw) as client,
        pytest.raises(AuthenticationError),
    ):
        client.teams.list()
    assert "Authorization" not in threaded_sim.requests[-1].headers


def test_sync_retries_429_and_503_but_not_500(threaded_sim: Simulator) -> None:
    with _sync_client(threaded_sim) as client:
        threaded_sim.rate_limit_next(2, retry_after=7)
        assert client.teams.retrieve(threaded_sim.team_id)["name"] == "Simulated Team"
        assert [r.status for r in threaded_sim.requests] == [429, 429, 200]
        threaded_sim.clear_requests()
        threaded_sim.rate_limit_next(4, retry_after=7)
        with pytest.raises(RateLimitError) as info:
            client.teams.list()
        assert info.value.retry_after == 7
        assert len(threaded_sim.requests) == 4
        threaded_sim.clear_requests()
        threaded_sim.fail_next(1, 503, "/teams")
        client.teams.list()
        assert [r.status for r in threaded_sim.requests] == [503, 200]
        threaded_sim.clear_requests()
        threaded_sim.fail_next(1, 500)
        with pytest.raises(APIError) as err:
            client.teams.list()
        assert err.value.status_code == 500 and len(threaded_sim.requests) == 1
        # §7 #18: a POST is replayed too
        threaded_sim.clear_requests()
        threaded_sim.fail_next(1, 502, "/pipelines", method="POST")
        client.pipelines.create(name="replayed")
        assert [(r.method, r.status) for r in threaded_sim.requests] == [
            ("POST", 502),
            ("POST", 201),
        ]


async def test_async_does_not_retry_statuses(threaded_sim: Simulator) -> None:
    async with _async_client(threaded_sim) as client:
        threaded_sim.rate_limit_next(1, retry_after=3)
        with pytest.raises(APIError) as info:
            await client.teams.list()
        assert info.value.status_code == 429 and not isinstance(info.value, RateLimitError)
        threaded_sim.fail_next(1, 503)
        with pytest.raises(APIError):
            await client.teams.list()
    assert [r.status for r in threaded_sim.requests] == [429, 503]


async def test_flat_errors_reach_validation_error(threaded_sim: Simulator) -> None:
    threaded_sim.flat_errors = True
    with _sync_client(threaded_sim) as client, pytest.raises(ValidationError) as info:
        client.pipeline_executions.create(
            pipeline_configuration_version_id="missing",
            pipeline_input=[],
            pipeline_input_summary="x",  # type: ignore[arg-type]
        )
    assert info.value.validation_details[0]["field"] == "pipelineInput"
    async with _async_client(threaded_sim) as aclient:
        with pytest.raises(ValidationError):
            await aclient.datasets.create(name="")


def test_storage_put_failure_wraps_and_leaves_file_pending(threaded_sim: Simulator) -> None:
    threaded_sim.fail_storage_put_next(1, 500)
    with _sync_client(threaded_sim) as client:
        with pytest.raises(APIError, match="Failed to upload file to presigned URL"):
            client.files.upload(b"abc", name="x.bin")
        files = client.files.list()
    assert [f.status for f in files["items"]] == ["pending"]
    put = next(r for r in threaded_sim.requests if r.method == "PUT")
    assert put.status == 500 and put.query_dict()["X-Amz-Signature"] == [REDACTED]


def test_output_gzip_without_content_encoding(threaded_sim: Simulator) -> None:
    threaded_sim.inline_output_limit = 10
    with _sync_client(threaded_sim) as client:
        pipeline = client.pipelines.create(name="big")
        pcv = pipeline.create_configuration_version(configuration=CONFIG)
        big = {"rows": list(range(200))}
        done = pcv.execute(
            pipeline_input={"__sim__": {"output": big}},
            pipeline_input_summary="big",
            block=True,
            poll_interval=0.01,
            show_progress=False,
        )
        raw = client._request(
            method="GET", path=f"/pipeline-executions/{done.execution_id}/output", cast_type=dict
        )
        assert raw["type"] == "s3" and raw["metadata"]["compressionType"] == "gzip"
        with httpx.Client() as plain:
            blob = plain.get(raw["downloadUrl"])
        assert "content-encoding" not in blob.headers
        assert json.loads(gzip.decompress(blob.content)) == big
        assert client.pipeline_executions.get_output(done.execution_id) == big

    async def model_output() -> Any:
        async with _async_client(threaded_sim) as aclient:
            model = await aclient.pipeline_executions.retrieve(done.execution_id)
            return await model.get_output()

    assert asyncio.run(model_output()) == big


def test_sdk_version_is_the_one_documented() -> None:
    assert moderatelyai_sdk.__version__ == "0.2.7"


async def test_async_download_returns_the_s3_error_document(threaded_sim: Simulator) -> None:
    async with _async_client(threaded_sim) as client:
        uploaded = await client.files.upload(NOTES, name="late.txt")
        threaded_sim.fail_next(1, 403, "/_storage/", method="GET")
        # the async resource never checks the status: the S3 XML error comes back as content
        content = await client.files.download(uploaded.file_id)
        assert content.startswith(b"<?xml") and b"<Code>AccessDenied</Code>" in content
        threaded_sim.fail_next(1, 403, "/_storage/", method="GET")
        with pytest.raises(APIError, match="Failed to download file from URL"):
            await uploaded.download()  # the model calls raise_for_status()
        assert await uploaded.download() == NOTES
