"""Pipelines, configuration versions and executions (Jobs), and agent executions."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tether import (
    BadRequestError,
    JobState,
    JobStatus,
    JobTimeoutError,
    NotFoundError,
    RetryPolicy,
    ValidationError,
)
from tether.moderately import (
    AsyncModeratelyAI,
    ExecutionCancelledError,
    ExecutionFailedError,
    ExecutionPausedError,
    ModeratelyAI,
    PipelineExecution,
)
from tether.testing.moderately import Simulator

CONFIG: dict[str, Any] = {
    "id": "cfg-summariser",
    "name": "Summariser",
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
BAD_CONFIG: dict[str, Any] = {"id": "bad", "name": "Bad", "blocks": {"x": {"type": "teleporter"}}}
SLOW: dict[str, Any] = {"__sim__": {"stepSeconds": 3600}}


@pytest.fixture
async def polled() -> AsyncIterator[Simulator]:
    """Executions advance one step per poll, on a frozen clock."""
    async with Simulator(seed=77, clock="manual", advance_on_poll=True) as sim:
        yield sim


@pytest.fixture
async def client(polled: Simulator) -> AsyncIterator[AsyncModeratelyAI]:
    async with AsyncModeratelyAI(
        api_key=polled.api_key,
        team_id=polled.team_id,
        base_url=polled.url,
        retries=RetryPolicy(max_retries=0),
    ) as made:
        yield made


async def _version(client: AsyncModeratelyAI) -> str:
    pipeline = await client.pipelines.create(name="Summariser")
    version = await client.pipelines.create_configuration_version(pipeline, configuration=CONFIG)
    return version.configuration_version_id


async def _start(client: AsyncModeratelyAI, version: str, data: Any = None) -> PipelineExecution:
    return await client.pipeline_executions.create(
        pipeline_configuration_version_id=version,
        pipeline_input=data if data is not None else {"documents": ["a"]},
        pipeline_input_summary="test",
    )


# --- configuration versions ----------------------------------------------------------------------


async def test_configuration_version_lifecycle(
    client: AsyncModeratelyAI, polled: Simulator
) -> None:
    pipeline = await client.pipelines.create(name="Lifecycle", description="v1")
    assert (await client.pipelines.update(pipeline, description="v2")).description == "v2"
    pcvs = client.pipeline_configuration_versions
    version = await pcvs.create(pipeline_id=pipeline.pipeline_id, configuration=CONFIG)
    assert (version.version, version.status) == (1, "draft")
    assert version.block_ids() == ["in", "llm", "out"]
    edited = await pcvs.update(version, configuration={**CONFIG, "description": "edited"})
    assert edited.configuration["description"] == "edited"
    valid = await pcvs.validate(configuration=CONFIG)
    assert valid.valid and valid.errors == [] and valid.input_schema is not None
    invalid = await pcvs.validate(configuration=BAD_CONFIG)
    assert not invalid.valid and invalid.error_types() == ["unknown_block_type"]
    schema = await pcvs.get_schema()
    assert schema is not None and schema["required"] == ["id", "name", "blocks"]
    clone = await pcvs.clone(version)
    assert (clone.version, clone.status) == (2, "draft")
    clone_call = next(r for r in polled.requests if r.path.endswith("/clone"))
    assert clone_call.json == {}  # §7 #11: the spec's body, not an empty one
    await pcvs.delete(clone)
    current = await pcvs.update(version, status="current")
    assert current.status == "current"
    with pytest.raises(BadRequestError):
        await pcvs.delete(version)
    listed = await client.pipelines.list_configuration_versions(pipeline).to_list()
    assert [(v.version, v.status) for v in listed] == [(1, "current")]
    assert (await pcvs.get_pipeline(version.configuration_version_id)).name == "Lifecycle"
    assert (await pcvs.list(pipeline_ids=[pipeline.pipeline_id]))["pagination"]["totalItems"] == 1
    with pytest.raises(ValidationError):
        await pcvs.update(version)
    other = await client.pipelines.create(name="Other")
    with pytest.raises(ValidationError, match="belongs to pipeline"):
        await client.pipelines.execute(
            other,
            configuration_version_id=version.configuration_version_id,
            pipeline_input={},
            pipeline_input_summary="x",
        )
    await client.pipelines.delete(pipeline)
    with pytest.raises(NotFoundError):
        await client.pipelines.retrieve(pipeline)


# --- executions ----------------------------------------------------------------------------------


async def test_wait_reports_progress_and_returns_the_completed_execution(
    client: AsyncModeratelyAI,
) -> None:
    version = await _version(client)
    execution = await _start(client, version)
    assert (execution.status, execution.current_step, execution.total_steps) == ("pending", 0, 3)
    seen: list[JobState[Any]] = []
    done = await client.pipeline_executions.wait_for_completion(
        execution, poll_interval=0.01, on_progress=seen.append
    )
    assert done.is_completed and done.progress_percentage == 100.0
    assert done.progress_message == "Pipeline completed"
    steps = [(s.status, s.progress.current if s.progress else None) for s in seen]
    assert steps == [
        (JobStatus.RUNNING, 1),
        (JobStatus.RUNNING, 2),
        (JobStatus.RUNNING, 3),
        (JobStatus.SUCCEEDED, 3),
    ]
    assert seen[0].progress is not None and seen[0].progress.fraction == pytest.approx(1 / 3)
    output = await client.pipeline_executions.get_output(done)
    assert output == {"result": "ok", "steps": 3, "input": {"documents": ["a"]}}


async def test_stored_outputs_are_downloaded_and_decoded(
    client: AsyncModeratelyAI, polled: Simulator, tmp_path: Path
) -> None:
    version = await _version(client)
    big = {"rows": list(range(300))}
    gz = await client.pipeline_executions.run(
        pipeline_configuration_version_id=version,
        pipeline_input={"__sim__": {"output": big, "outputStorage": "s3"}},
        pipeline_input_summary="gzip",
        poll_interval=0.01,
    )
    assert gz.has_stored_output and gz.pipeline_output is None
    assert await client.pipeline_executions.get_output(gz) == big
    plain = await client.pipeline_executions.run(
        pipeline_configuration_version_id=version,
        pipeline_input={"__sim__": {"output": big, "outputStorage": "s3", "compression": "none"}},
        pipeline_input_summary="plain",
        poll_interval=0.01,
    )
    assert await client.pipeline_executions.get_output(plain.execution_id) == big
    decoded = await client.pipeline_executions.download_output(gz, path=tmp_path / "out.json")
    assert json.loads(decoded.read_text()) == big
    raw = await client.pipeline_executions.download_output(
        gz, path=tmp_path / "out.json.gz", decompress=False
    )
    assert json.loads(gzip.decompress(raw.read_bytes())) == big
    inline = await client.pipeline_executions.run(
        pipeline_configuration_version_id=version,
        pipeline_input={"x": 1},
        pipeline_input_summary="inline",
        poll_interval=0.01,
    )
    written = await client.pipeline_executions.download_output(inline, path=tmp_path / "i.json")
    assert json.loads(written.read_text())["input"] == {"x": 1}
    storage = [r for r in polled.requests if r.path.startswith("/_storage/")]
    assert storage and all("Authorization" not in r.headers for r in storage)
    pending = await _start(client, version, SLOW)
    with pytest.raises(NotFoundError):
        await client.pipeline_executions.get_output(pending)


async def test_failure_and_cancellation_raise_typed_errors(
    client: AsyncModeratelyAI,
) -> None:
    version = await _version(client)
    failing = await _start(client, version, {"__sim__": {"outcome": "failed", "error": "llm down"}})
    with pytest.raises(ExecutionFailedError) as failed:
        await client.pipeline_executions.wait_for_completion(failing, poll_interval=0.01)
    assert failed.value.error == "llm down" and failed.value.status == "failed"
    assert isinstance(failed.value.detail, PipelineExecution) and failed.value.detail.is_failed
    assert "llm down" in str(failed.value)

    slow = await _start(client, version, SLOW)
    cancelled = await client.pipeline_executions.cancel(slow, reason="not needed")
    assert cancelled.is_cancelled and cancelled.progress_message == "Cancelled: not needed"
    with pytest.raises(BadRequestError):
        await client.pipeline_executions.cancel(slow)
    with pytest.raises(ExecutionCancelledError) as info:
        await client.pipeline_executions.wait_for_completion(slow, poll_interval=0.01)
    assert "not needed" in str(info.value)

    other = await _start(client, version, SLOW)
    job = await client.pipeline_executions.wait_for_completion.start(other, poll_interval=0.01)
    assert job.cancellable
    await job.cancel()
    with pytest.raises(ExecutionCancelledError):
        await job


async def test_paused_is_waited_out_only_for_paused_timeout(
    client: AsyncModeratelyAI, polled: Simulator
) -> None:
    version = await _version(client)
    paused = await _start(client, version, SLOW)
    updated = await client.pipeline_executions.update(paused, status="paused")
    assert updated.is_paused and updated.paused_at is not None
    with pytest.raises(ExecutionPausedError) as info:
        await client.pipeline_executions.wait_for_completion(
            paused, poll_interval=0.02, paused_timeout=0.15
        )
    assert info.value.paused_for >= 0.15 and info.value.status == "paused"
    assert "resume it" in str(info.value)

    # resumed within paused_timeout: the wait carries on to the end
    job = await client.pipeline_executions.wait_for_completion.start(
        paused, poll_interval=0.02, paused_timeout=5
    )
    waiting = asyncio.ensure_future(job.wait())
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert job.last_state is not None and job.last_state.raw_status == "paused"
    await client.pipeline_executions.update(paused, status="running")
    done = await asyncio.wait_for(waiting, 10)
    assert done.is_completed

    # paused_timeout=None: bounded only by the overall deadline
    again = await _start(client, version, SLOW)
    polled.pause_execution(again.execution_id)
    with pytest.raises(JobTimeoutError):
        await client.pipeline_executions.wait_for_completion(
            again, poll_interval=0.02, paused_timeout=None, timeout=0.2
        )


async def test_deadline_and_validation(client: AsyncModeratelyAI) -> None:
    version = await _version(client)
    slow = await _start(client, version, {"__sim__": {"steps": 100_000}})
    with pytest.raises(ValidationError):
        await client.pipeline_executions.wait_for_completion(slow, timeout=0)
    with pytest.raises(ValidationError):
        await client.pipeline_executions.wait_for_completion(slow, poll_interval=-1)
    with pytest.raises(JobTimeoutError) as info:
        await client.pipeline_executions.wait_for_completion(slow, timeout=0.2, poll_interval=0.02)
    assert info.value.status == "running" and info.value.job_id == slow.execution_id
    assert "did not finish within 0.2s" in str(info.value)


async def test_resume_token_in_another_client(client: AsyncModeratelyAI, polled: Simulator) -> None:
    version = await _version(client)
    execution = await _start(client, version)
    job = await client.pipeline_executions.wait_for_completion.start(execution)
    token = job.resume_token
    async with AsyncModeratelyAI(
        api_key=polled.api_key, team_id=polled.team_id, base_url=polled.url
    ) as other:
        resumed = await other.pipeline_executions.job(token, poll_interval=0.01)
        done = await resumed.wait(timeout=10)
    assert done.execution_id == execution.execution_id and done.is_completed
    with pytest.raises(ValidationError):
        await client.pipeline_executions.job("not-a-token")


async def test_execute_helpers_lists_and_statistics(client: AsyncModeratelyAI) -> None:
    pipeline = await client.pipelines.create(name="Helpers")
    version = await client.pipelines.create_configuration_version(pipeline, configuration=CONFIG)
    started = await client.pipelines.execute(
        pipeline,
        configuration_version_id=version.configuration_version_id,
        pipeline_input={"d": 1},
        pipeline_input_summary="not blocking",
    )
    assert started.is_pending
    done = await client.pipelines.execute(
        pipeline,
        configuration_version_id=version.configuration_version_id,
        pipeline_input={"d": 2},
        pipeline_input_summary="blocking",
        block=True,
        poll_interval=0.01,
    )
    assert done.is_completed
    via_version = await client.pipeline_configuration_versions.execute(
        version, pipeline_input={"d": 3}, pipeline_input_summary="v", block=True, poll_interval=0.01
    )
    assert via_version.is_completed
    latest = await client.pipelines.get_latest_execution(pipeline)
    assert latest is not None and latest.execution_id == via_version.execution_id
    latest_v = await client.pipeline_configuration_versions.get_latest_execution(version)
    assert latest_v is not None and latest_v.execution_id == via_version.execution_id
    completed = await client.pipeline_executions.list(
        pipeline_ids=[pipeline.pipeline_id], statuses=["completed", "failed"]
    ).to_list()
    assert sorted(e.pipeline_input["d"] for e in completed) == [2, 3]
    mine = await client.pipelines.list_executions(pipeline).to_list()
    assert len(mine) == 3
    of_version = await client.pipeline_configuration_versions.list_executions(version).to_list()
    assert len(of_version) == 3
    stats = await client.pipelines.retrieve(pipeline)
    assert (stats.total_runs, stats.successful_runs) == (3, 2)


def test_blocking_wait_shows_progress_on_request(
    threaded_sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    with ModeratelyAI(
        api_key=threaded_sim.api_key, team_id=threaded_sim.team_id, base_url=threaded_sim.url
    ) as client:
        pipeline = client.pipelines.create(name="Shown")
        version = client.pipelines.create_configuration_version(pipeline, configuration=CONFIG)
        execution = client.pipeline_executions.create(
            pipeline_configuration_version_id=version.configuration_version_id,
            pipeline_input={},
            pipeline_input_summary="shown",
        )
        done = client.pipeline_executions.wait_for_completion(
            execution, poll_interval=0.01, show_progress=True
        )
        job = client.pipeline_executions.run.start(
            pipeline_configuration_version_id=version.configuration_version_id,
            pipeline_input={},
            pipeline_input_summary="job",
            poll_interval=0.01,
        )
        states: list[JobState[Any]] = []
        job.on_progress(states.append)
        finished = job.wait(timeout=10)
    assert done.is_completed and finished.is_completed
    assert states[-1].status is JobStatus.SUCCEEDED
    err = capsys.readouterr().err
    assert "pipeline execution" in err and "3/3" in err


# --- agent executions ----------------------------------------------------------------------------


async def test_agent_runs(client: AsyncModeratelyAI, polled: Simulator) -> None:
    agent = await client.agents.create(name="Researcher", description="Finds things")
    with pytest.raises(ValidationError, match="no configuration version"):
        await client.agent_executions.create(agent_id=agent.agent_id, input_data={"q": "?"})
    acvs = client.agent_configuration_versions
    config = await acvs.create(
        agent_id=agent.agent_id,
        instructions="Answer with sources.",
        version_number=1,
        llm_config={"thought_llm": {"provider": "openai", "model_tier": "large"}},
        tool_config=[{"type": "GetDateTool"}],
        execution_config={"max_actions": 5},
    )
    assert config.is_current and (await acvs.current(agent)) == config
    assert [v.version_number for v in await acvs.list(agent_ids=[agent.agent_id])] == [1]
    patched = await acvs.update(config, instructions="Be brief.")
    assert patched.instructions == "Be brief."
    assert (await acvs.retrieve(config)).instructions == "Be brief."

    run = await client.agent_executions.create(agent_id=agent.agent_id, input_data={"q": "why?"})
    sent = next(r for r in polled.requests if r.method == "POST" and r.path == "/agent-executions")
    assert sent.json == {
        "agentConfigurationVersionId": config.agent_configuration_version_id,
        "agentInput": {"q": "why?"},
        "agentInputSummary": '{"q":"why?"}',
    }
    done = await client.agent_executions.wait_for_completion(run, poll_interval=0.01)
    assert done.status == "completed" and done.agent_output is not None
    assert len(done.thoughts) == 3
    listed = await client.agent_executions.list(agent_id=agent.agent_id, status="completed")
    assert listed["pagination"]["totalItems"] == 1
    states = await client.agent_executions.memory_states(run).to_list()
    assert [s.version for s in states] == [1, 2, 3]
    assert (await client.agent_executions.memory_state(run, 2)).state["step"] == 2
    tail = await client.agent_executions.live_tail(run)
    assert tail.execution["status"] == "completed" and tail.total_versions == 3

    failing = await client.agent_executions.create(
        agent_configuration_version_id=config.agent_configuration_version_id,
        agent_input={"__sim__": {"outcome": "failed", "error": "tool crashed"}},
        agent_input_summary="fails",
    )
    with pytest.raises(ExecutionFailedError) as info:
        await client.agent_executions.wait_for_completion(failing, poll_interval=0.01)
    assert info.value.error == "tool crashed"

    slow = await client.agent_executions.create(agent_id=agent.agent_id, input_data=SLOW)
    cancelled = await client.agent_executions.cancel(slow)
    assert cancelled.status == "cancelled"
    with pytest.raises(ExecutionCancelledError):
        await client.agent_executions.wait_for_completion(slow, poll_interval=0.01)
    await client.agent_executions.delete(run)
    with pytest.raises(NotFoundError):
        await client.agent_executions.retrieve(run)
    stats = await client.agents.retrieve(agent)
    assert (stats.total_runs, stats.successful_runs) == (2, 0)
    assert (await client.agents.update(agent, name="Renamed")).name == "Renamed"
    assert [a.name for a in await client.agents.list().to_list()] == ["Renamed"]
    with pytest.raises(ValidationError):
        await client.agent_executions.create(input_data={})
    with pytest.raises(ValidationError):
        await client.agent_executions.create(agent_id="a", input_data={}, agent_input={})
    await client.agents.delete(agent)
