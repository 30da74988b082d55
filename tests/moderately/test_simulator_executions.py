"""Execution progression: steps, statuses, clocks, failure, cancel, pause, output."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from tether.testing.moderately import ExecutionPlan, Simulator

if TYPE_CHECKING:
    from conftest import Api

CONFIG: dict[str, Any] = {
    "id": "cfg",
    "name": "Config",
    "blocks": {
        "load": {"type": "input", "name": "Load"},
        "think": {"type": "llm"},
        "save": {"type": "output"},
    },
}


async def _pcv(api: Api, configuration: dict[str, Any] | None = None) -> str:
    pipeline = await api.ok(
        "POST",
        "/pipelines",
        201,
        json={"teamId": api.sim.team_id, "name": f"p{len(api.sim.requests)}"},
    )
    version = await api.ok(
        "POST",
        "/pipeline-configuration-versions",
        201,
        json={"pipelineId": pipeline["pipelineId"], "configuration": configuration or CONFIG},
    )
    return str(version["pipelineConfigurationVersionId"])


async def _start(
    api: Api, pcv: str, pipeline_input: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {
        "pipelineConfigurationVersionId": pcv,
        "pipelineInput": pipeline_input or {"q": 1},
        "pipelineInputSummary": "s",
        **extra,
    }
    created: dict[str, Any] = await api.ok("POST", "/pipeline-executions", 201, json=body)
    return created


async def _pe(api: Api, execution_id: str) -> dict[str, Any]:
    got: dict[str, Any] = await api.ok("GET", f"/pipeline-executions/{execution_id}")
    return got


async def test_pipeline_progression_on_the_manual_clock(api: Api) -> None:
    pe = await _start(api, await _pcv(api))
    pid = pe["pipelineExecutionId"]
    assert (pe["status"], pe["currentStep"], pe["totalSteps"], pe["progressData"]) == (
        "pending",
        0,
        3,
        {},
    )
    assert (await _pe(api, pid))["status"] == "pending"
    seen = []
    for _ in range(3):
        api.sim.advance()
        current = await _pe(api, pid)
        seen.append((current["status"], current["currentStep"], current["progressData"]["message"]))
    assert seen == [
        ("running", 1, "Running Load (1/3)"),
        ("running", 2, "Running think (2/3)"),
        ("running", 3, "Running save (3/3)"),
    ]
    assert (await _pe(api, pid))["progressData"]["current_block"] == "save"
    api.sim.advance(steps=5)
    done = await _pe(api, pid)
    assert (done["status"], done["currentStep"]) == ("completed", 3)
    assert done["startedAt"] < done["completedAt"]
    assert done["pipelineOutputSummary"] == "Completed 3 steps"
    assert done["failedAt"] is None and done["cancelledAt"] is None
    api.sim.advance(steps=5)
    assert await _pe(api, pid) == done


async def test_timestamps_follow_the_clock_exactly(api_for: type[Api]) -> None:
    epoch = datetime(2024, 1, 15, 10, 45, tzinfo=UTC)
    async with (
        Simulator(seed=1, clock="manual", epoch=epoch) as fixed,
        aiohttp.ClientSession() as session,
    ):
        api = api_for(session, fixed)
        pe = await _start(api, await _pcv(api))
        assert pe["createdAt"] == "2024-01-15T10:45:00.000Z"
        fixed.advance(10.5)
        done = await _pe(api, pe["pipelineExecutionId"])
        # tick 1 at 1 s, the terminal tick 4 at 4 s, although first observed at 10.5 s
        assert done["startedAt"] == "2024-01-15T10:45:01.000Z"
        assert done["completedAt"] == done["updatedAt"] == "2024-01-15T10:45:04.000Z"
        assert fixed.now() == epoch + timedelta(seconds=10.5)


async def test_total_steps_from_body_and_default(api: Api) -> None:
    no_blocks = await _pcv(api, {"id": "x", "name": "x", "blocks": {}})
    assert (await _start(api, no_blocks))["totalSteps"] == 3
    assert (await _start(api, no_blocks, totalSteps=7))["totalSteps"] == 7
    directed = await _start(api, no_blocks, {"__sim__": {"steps": 2}})
    assert directed["totalSteps"] == 2
    api.sim.advance(steps=1)
    assert (await _pe(api, directed["pipelineExecutionId"]))["progressData"][
        "current_block"
    ] == "step-1"


async def test_failure_paths(api: Api) -> None:
    pcv = await _pcv(api)
    api.sim.plan_next_execution(outcome="failed", error="disk full", fail_at_step=2)
    planned = await _start(api, pcv)
    directed = await _start(api, pcv, {"__sim__": {"outcome": "failed", "error": "boom"}})
    api.sim.advance(steps=10)
    first = await _pe(api, planned["pipelineExecutionId"])
    assert (first["status"], first["currentStep"], first["progressData"]["error"]) == (
        "failed",
        2,
        "disk full",
    )
    assert first["failedAt"] is not None and first["completedAt"] is None
    second = await _pe(api, directed["pipelineExecutionId"])
    assert (second["status"], second["currentStep"], second["progressData"]["error"]) == (
        "failed",
        3,
        "boom",
    )
    assert (await api.get(f"/pipeline-executions/{directed['pipelineExecutionId']}/output"))[
        0
    ] == 404
    status, body = await api.post(
        "/pipeline-executions",
        json={
            "pipelineConfigurationVersionId": pcv,
            "pipelineInput": {"__sim__": {"outcome": "exploded"}},
            "pipelineInputSummary": "x",
        },
    )
    assert status == 400 and body["error"]["details"][0]["field"] == "__sim__.outcome"


async def test_cancel(api: Api) -> None:
    pe = await _start(api, await _pcv(api))
    pid = pe["pipelineExecutionId"]
    api.sim.advance()
    cancelled = await api.ok(
        "POST", f"/pipeline-executions/{pid}/cancel", json={"reason": "enough"}
    )
    assert (cancelled["status"], cancelled["currentStep"]) == ("cancelled", 1)
    assert cancelled["progressData"]["cancelReason"] == "enough" and cancelled["cancelledAt"]
    api.sim.advance(steps=9)
    assert (await _pe(api, pid))["status"] == "cancelled"
    status, body = await api.post(f"/pipeline-executions/{pid}/cancel", json={})
    assert status == 400 and "cancel" in body["error"]["message"]
    assert (
        await api.post(
            f"/pipeline-executions/{pid}/cancel",
            data=b"",
            headers={"Content-Type": "application/json"},
        )
    )[0] == 400
    assert (await api.post("/pipeline-executions/ghost/cancel", json={}))[0] == 404


async def test_pause_and_resume_via_patch(api: Api) -> None:
    pe = await _start(api, await _pcv(api))
    pid = pe["pipelineExecutionId"]
    api.sim.advance()
    paused = await api.ok("PATCH", f"/pipeline-executions/{pid}", json={"status": "paused"})
    assert (paused["status"], paused["currentStep"]) == ("paused", 1) and paused["pausedAt"]
    api.sim.advance(steps=10)
    assert (await _pe(api, pid))["status"] == "paused"
    resumed = await api.ok("PATCH", f"/pipeline-executions/{pid}", json={"status": "running"})
    assert (resumed["status"], resumed["currentStep"]) == ("running", 1)
    api.sim.advance()
    assert (await _pe(api, pid))["currentStep"] == 2
    api.sim.advance(steps=2)
    assert (await _pe(api, pid))["status"] == "completed"
    status, body = await api.patch(f"/pipeline-executions/{pid}", json={"status": "running"})
    assert status == 400 and "not allowed" in body["error"]["message"]
    notes = await api.ok(
        "PATCH", f"/pipeline-executions/{pid}", json={"pipelineOutputSummary": "checked"}
    )
    assert notes["pipelineOutputSummary"] == "checked" and notes["status"] == "completed"


async def test_worker_takes_over_with_patch(api: Api) -> None:
    pe = await _start(api, await _pcv(api))
    pid = pe["pipelineExecutionId"]
    worker = await api.ok(
        "PATCH",
        f"/pipeline-executions/{pid}",
        json={
            "status": "running",
            "currentStep": 2,
            "progressData": {"message": "half way"},
            "totalSteps": 4,
        },
    )
    assert (worker["status"], worker["currentStep"], worker["totalSteps"]) == ("running", 2, 4)
    assert worker["startedAt"] is not None
    api.sim.advance(steps=10)
    assert (await _pe(api, pid))["progressData"] == {"message": "half way"}
    finished = await api.ok(
        "PATCH",
        f"/pipeline-executions/{pid}",
        json={
            "status": "completed",
            "pipelineOutput": {"answer": 42},
            "completedAt": "2030-01-01T00:00:00.000Z",
        },
    )
    assert finished["completedAt"] == "2030-01-01T00:00:00.000Z"
    output = await api.ok("GET", f"/pipeline-executions/{pid}/output")
    assert output == {"type": "inline", "data": {"answer": 42}, "summary": None}
    assert (await api.patch(f"/pipeline-executions/{pid}", json={"startedAt": "yesterday"}))[
        0
    ] == 400


async def test_control_api_pause_resume(api: Api) -> None:
    pe = await _start(api, await _pcv(api))
    pid = pe["pipelineExecutionId"]
    api.sim.pause_execution(pid)
    api.sim.advance(steps=10)
    assert api.sim.resource("pipelineExecutions", pid)["status"] == "paused"
    api.sim.resume_execution(pid)
    assert api.sim.resource("pipelineExecutions", pid)["status"] == "pending"
    api.sim.advance(steps=10)
    assert api.sim.resource("pipelineExecutions", pid)["status"] == "completed"
    with pytest.raises(KeyError):
        api.sim.pause_execution("ghost")


async def test_output_inline_and_stored(api: Api) -> None:
    pcv = await _pcv(api)
    small = await _start(api, pcv, {"tiny": True})
    assert (await api.get(f"/pipeline-executions/{small['pipelineExecutionId']}/output"))[0] == 404
    big_output = {"rows": ["x" * 50] * 50}
    big = await _start(api, pcv, {"__sim__": {"output": big_output}})
    plain = await _start(api, pcv, {"__sim__": {"outputStorage": "s3", "compression": "none"}})
    api.sim.advance(steps=10)
    inline = await api.ok("GET", f"/pipeline-executions/{small['pipelineExecutionId']}/output")
    assert inline == {
        "type": "inline",
        "data": {"result": "ok", "steps": 3, "input": {"tiny": True}},
        "summary": "Completed 3 steps",
    }
    stored = await api.ok("GET", f"/pipeline-executions/{big['pipelineExecutionId']}/output")
    assert stored["type"] == "s3" and stored["metadata"]["compressionType"] == "gzip"
    assert stored["metadata"]["fileType"] == "json" and stored["expiresAt"]
    record = await _pe(api, big["pipelineExecutionId"])
    assert record["pipelineOutput"] is None
    assert (
        record["pipelineOutputFileUri"]
        == f"s3://moderately-sim/outputs/{big['pipelineExecutionId']}.json.gz"
    )
    async with api.session.get(stored["downloadUrl"]) as resp:
        blob = await resp.read()
        assert "Content-Encoding" not in resp.headers
        assert resp.headers["Content-Type"] == "application/gzip"
    assert len(blob) == stored["metadata"]["fileSizeBytes"]
    assert json.loads(gzip.decompress(blob)) == big_output
    uncompressed = await api.ok(
        "GET", f"/pipeline-executions/{plain['pipelineExecutionId']}/output"
    )
    assert uncompressed["metadata"]["compressionType"] == "none"
    status, raw = await api.get(uncompressed["downloadUrl"], auth=False)
    assert status == 200 and raw["input"] == {}


async def test_list_filters_and_stats(api: Api) -> None:
    pcv = await _pcv(api)
    ok = await _start(api, pcv)
    bad = await _start(api, pcv, {"__sim__": {"outcome": "failed"}})
    waiting = await _start(api, pcv, {"__sim__": {"stepSeconds": 1000}})
    api.sim.advance(steps=10)
    failed = await api.ok("GET", "/pipeline-executions", params={"status": "failed"})
    assert [e["pipelineExecutionId"] for e in failed["items"]] == [bad["pipelineExecutionId"]]
    several = await api.ok("GET", "/pipeline-executions", params={"statuses": "completed,pending"})
    assert {e["pipelineExecutionId"] for e in several["items"]} == {
        ok["pipelineExecutionId"],
        waiting["pipelineExecutionId"],
    }
    assert (await api.get("/pipeline-executions", params={"statuses": "done"}))[0] == 400
    by_version = await api.ok(
        "GET",
        "/pipeline-executions",
        params={"pipelineConfigurationVersionIds": pcv, "orderBy": "startedAt"},
    )
    assert by_version["pagination"]["totalItems"] == 3
    version = await api.ok("GET", f"/pipeline-configuration-versions/{pcv}")
    pipeline = await api.ok("GET", f"/pipelines/{version['pipelineId']}")
    assert (pipeline["totalRuns"], pipeline["successfulRuns"], pipeline["successRate"]) == (
        3,
        1,
        0.3333,
    )
    assert pipeline["lastRunAt"] == waiting["createdAt"]


async def test_real_clock_and_instant_modes(api_for: type[Api]) -> None:
    async with Simulator(seed=1, step_seconds=0.02) as real, aiohttp.ClientSession() as session:
        api = api_for(session, real)
        pe = await _start(api, await _pcv(api))
        await asyncio.sleep(0.15)
        assert (await _pe(api, pe["pipelineExecutionId"]))["status"] == "completed"
    async with Simulator(seed=1, step_seconds=0) as instant, aiohttp.ClientSession() as session:
        api = api_for(session, instant)
        pe = await _start(api, await _pcv(api))
        assert pe["status"] == "completed"


async def test_advance_on_poll(api_for: type[Api]) -> None:
    async with (
        Simulator(seed=1, clock="manual", advance_on_poll=True) as polled,
        aiohttp.ClientSession() as session,
    ):
        api = api_for(session, polled)
        pe = await _start(api, await _pcv(api))
        statuses = [(await _pe(api, pe["pipelineExecutionId"]))["status"] for _ in range(5)]
        assert statuses == ["running", "running", "running", "completed", "completed"]
        listed = await api.ok("GET", "/pipeline-executions")
        assert listed["items"][0]["status"] == "completed"


def test_plan_object_and_validation() -> None:
    sim = Simulator(seed=1)
    sim.plan_next_execution(ExecutionPlan(outcome="failed"))
    with pytest.raises(ValueError, match="not both"):
        sim.advance(1, steps=1)
    with pytest.raises(ValueError, match="step_seconds"):
        Simulator(step_seconds=-1)
    with pytest.raises(ValueError, match="prefix"):
        Simulator(prefix="nope/")


# ---------------------------------------------------------------------------- agents


async def _agent_acv(api: Api) -> tuple[str, str]:
    agent = await api.ok(
        "POST",
        "/agents",
        201,
        json={"teamId": api.sim.team_id, "name": f"a{len(api.sim.requests)}"},
    )
    acv = await api.ok(
        "POST",
        "/agent-configuration-versions",
        201,
        json={
            "agentId": agent["agentId"],
            "instructions": "Answer",
            "inputSchema": None,
            "outputSchema": None,
            "versionNumber": 1,
            "isCurrent": True,
            "systemPrompt": None,
            "llmConfig": {},
            "toolConfig": [],
            "executionConfig": {},
        },
    )
    return agent["agentId"], acv["agentConfigurationVersionId"]


async def test_agent_execution_spec_body_and_progression(api: Api) -> None:
    agent_id, acv = await _agent_acv(api)
    run = await api.ok(
        "POST",
        "/agent-executions",
        201,
        json={
            "agentConfigurationVersionId": acv,
            "agentInput": {"q": "hi"},
            "agentInputSummary": "greeting",
            "maxActions": 5,
        },
    )
    rid = run["agentExecutionId"]
    assert (run["status"], run["thoughts"], run["currentStep"], run["maxActions"]) == (
        "pending",
        [],
        None,
        5,
    )
    api.sim.advance(steps=2)
    running = await api.ok("GET", f"/agent-executions/{rid}")
    assert (running["status"], running["currentStep"], len(running["thoughts"])) == (
        "running",
        2,
        2,
    )
    tail = await api.ok("GET", f"/agent-executions/{rid}/live-tail")
    assert tail["totalVersions"] == 2 and [s["stepType"] for s in tail["steps"]] == [
        "thought",
        "thought",
    ]
    assert tail["latestMemoryState"]["version"] == 2
    api.sim.advance(steps=5)
    done = await api.ok("GET", f"/agent-executions/{rid}")
    assert done["status"] == "completed" and done["agentOutput"]["answer"] == "Processed: greeting"
    states = await api.ok(
        "GET", f"/agent-executions/{rid}/memory-states", params={"orderDirection": "desc"}
    )
    assert [s["version"] for s in states["items"]] == [3, 2, 1]
    latest = await api.ok(
        "GET", f"/agent-executions/{rid}/memory-states", params={"latest": "true"}
    )
    assert [s["version"] for s in latest["items"]] == [3]
    one = await api.ok("GET", f"/agent-executions/{rid}/memory-states/2")
    assert one["state"]["step"] == 2 and one == states["items"][1]
    assert (await api.get(f"/agent-executions/{rid}/memory-states/9"))[0] == 404
    assert (await api.get(f"/agent-executions/{rid}/memory-states/two"))[0] == 404
    final = await api.ok("GET", f"/agent-executions/{rid}/live-tail")
    assert final["steps"][-1]["stepType"] == "final_answer"
    assert (
        json.loads(final["steps"][-1]["finalAnswer"]["output"])["answer"] == "Processed: greeting"
    )
    agent = await api.ok("GET", f"/agents/{agent_id}")
    assert (agent["totalRuns"], agent["successfulRuns"], agent["successRate"]) == (1, 1, 1.0)


async def test_agent_execution_validation(api: Api) -> None:
    _, acv = await _agent_acv(api)
    status, body = await api.post(
        "/agent-executions",
        json={
            "agentConfigurationVersionId": acv,
            "agentInput": {},
            "agentInputSummary": "x",
            "maxActions": 101,
        },
    )
    assert status == 400 and body["error"]["details"][0]["field"] == "maxActions"
    assert (
        await api.post(
            "/agent-executions",
            json={
                "agentConfigurationVersionId": "ghost",
                "agentInput": {},
                "agentInputSummary": "x",
            },
        )
    )[0] == 404
    assert (await api.post("/agent-executions", json={"agent_id": "ghost"}))[0] == 404


async def test_agent_legacy_body_cancel_delete_and_filters(api: Api) -> None:
    agent = await api.ok("POST", "/agents", 201, json={"teamId": api.sim.team_id, "name": "legacy"})
    first = await api.ok(
        "POST",
        "/agent-executions",
        201,
        json={"agent_id": agent["agentId"], "input_data": {"x": 1}},
    )
    versions = await api.ok(
        "GET", "/agent-configuration-versions", params={"agentIds": agent["agentId"]}
    )
    assert [(v["versionNumber"], v["isCurrent"]) for v in versions] == [(1, True)]
    assert first["agentConfigurationVersionId"] == versions[0]["agentConfigurationVersionId"]
    assert first["agentInputSummary"] == "Run of agent legacy"
    second = await api.ok("POST", "/agent-executions", 201, json={"agent_id": agent["agentId"]})
    assert second["agentInput"] == {}
    cancelled = await api.ok("POST", f"/agent-executions/{first['agentExecutionId']}/cancel")
    assert cancelled["status"] == "cancelled" and cancelled["cancelledAt"]
    patched = await api.ok("PATCH", f"/agent-executions/{second['agentExecutionId']}/cancel")
    assert patched["status"] == "cancelled"
    assert (await api.patch(f"/agent-executions/{second['agentExecutionId']}/cancel"))[0] == 400
    third = await api.ok("POST", "/agent-executions", 201, json={"agent_id": agent["agentId"]})
    api.sim.advance(steps=10)
    by_alias = await api.ok(
        "GET", "/agent-executions", params={"agent_id": agent["agentId"], "status": "cancelled"}
    )
    assert by_alias["pagination"]["totalItems"] == 2 and by_alias["pagination"]["pageSize"] == 20
    with_output = await api.ok("GET", "/agent-executions", params={"hasAgentOutput": "true"})
    assert [e["agentExecutionId"] for e in with_output["items"]] == [third["agentExecutionId"]]
    assert (await api.get("/agent-executions", params={"statuses": "nope"}))[0] == 400
    assert (await api.delete(f"/agent-executions/{first['agentExecutionId']}"))[0] == 204
    assert (await api.get(f"/agent-executions/{first['agentExecutionId']}"))[0] == 404


async def test_agent_failure_and_pause(api: Api) -> None:
    _, acv = await _agent_acv(api)
    body = {"agentConfigurationVersionId": acv, "agentInputSummary": "x"}
    failing = await api.ok(
        "POST",
        "/agent-executions",
        201,
        json={
            **body,
            "agentInput": {"__sim__": {"outcome": "failed", "error": "no tools", "failAtStep": 1}},
        },
    )
    slow = await api.ok("POST", "/agent-executions", 201, json={**body, "agentInput": {}})
    api.sim.advance()
    api.sim.pause_execution(slow["agentExecutionId"])
    api.sim.advance(steps=10)
    failed = await api.ok("GET", f"/agent-executions/{failing['agentExecutionId']}")
    assert (failed["status"], failed["agentOutputSummary"], failed["currentStep"]) == (
        "failed",
        "no tools",
        1,
    )
    assert failed["thoughts"][-1]["text"] == "Error: no tools"
    tail = await api.ok("GET", f"/agent-executions/{failing['agentExecutionId']}/live-tail")
    assert tail["steps"][-1]["stepType"] == "system"
    paused = await api.ok("GET", f"/agent-executions/{slow['agentExecutionId']}")
    assert (paused["status"], paused["currentStep"]) == ("paused", 1) and paused["pausedAt"]
    api.sim.resume_execution(slow["agentExecutionId"])
    api.sim.advance(steps=10)
    assert (await api.ok("GET", f"/agent-executions/{slow['agentExecutionId']}"))[
        "status"
    ] == "completed"
