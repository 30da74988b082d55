"""The typed async client (``AsyncAbeja``) against the ABEJA simulator.

Runs, pagination in both orders, logs and recent logs, waiting (a Job), following logs,
retries, credentials and input validation. The simulator is the ``abeja_sim`` fixture (seeded
ids, manual clock, pages of 3 runs and 4 log lines).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import attrs
import pytest
from aiohttp import web

import tether
from tether import (
    JobFailedError,
    JobStatus,
    JobTimeoutError,
    Page,
    PollPolicy,
    ResumeToken,
    RetryPolicy,
    ValidationError,
)
from tether._core.resource import decode
from tether.abeja import (
    AsyncAbeja,
    BadRequest,
    Credential,
    Forbidden,
    LogEvent,
    NotFound,
    Run,
    RunStatus,
    Unauthorized,
)
from tether.abeja._client import shared_converter
from tether.testing.abeja import Simulator

SimFactory = Callable[..., Coroutine[Any, Any, Simulator]]
FAST = PollPolicy(initial=0.005, factor=1.0, maximum=0.005, jitter=0.0)
QUICK_RETRIES = RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.02)


def make_client(sim: Simulator, **options: Any) -> AsyncAbeja:
    settings: dict[str, Any] = {
        "base_url": sim.url,
        "organization_id": sim.organization_id,
        "user_id": sim.user_id,
        "personal_access_token": sim.personal_access_token,
        "timeout": 5,
    }
    settings.update(options)
    return AsyncAbeja(**settings)


@pytest.fixture
async def client(abeja_sim: Simulator) -> AsyncIterator[AsyncAbeja]:
    async with make_client(abeja_sim) as opened:
        yield opened.with_options(retries=QUICK_RETRIES)


async def create_runs(client: AsyncAbeja, sim: Simulator, count: int) -> list[Run]:
    return [
        await client.runs.create(sim.deployment_id, sim.version_id, environment={"I": str(i)})
        for i in range(count)
    ]


# ----------------------------------------------------------------------------- runs


async def test_create_and_retrieve(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    run = await client.runs.create(abeja_sim.deployment_id, abeja_sim.version_id)
    assert run.status is RunStatus.SUBMITTED
    assert run.run_id.startswith("run-") and len(run.run_id) == 20
    assert (run.deployment_id, run.model_version_id) == (
        abeja_sim.deployment_id,
        abeja_sim.version_id,
    )
    assert (run.models, run.model_id, run.input_data, run.retry_count) == ({}, None, None, 5)
    assert run.created_at == datetime(2018, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)
    assert run.created_at.tzinfo is not None
    assert not run.done
    abeja_sim.advance(3)
    again = await client.runs.retrieve(abeja_sim.deployment_id, run.run_id)
    assert again.status is RunStatus.STARTING
    assert again.modified_at is not None and run.modified_at is not None
    assert again.modified_at > run.modified_at
    assert client.converter.unstructure(again) == abeja_sim.runs[run.run_id]


async def test_create_sends_what_the_official_sdk_sends(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    run = await client.runs.create(
        abeja_sim.deployment_id,
        abeja_sim.version_id,
        input_data={"$datalake:1": "ch/file"},
        output_template={"$datalake:1": "ch2"},
        distribution=0,
        retry_count=0,
        environment={"K": "V"},
        model_id="4444444444444",
    )
    post = abeja_sim.requests[-1]
    assert post.body == {
        "version_id": abeja_sim.version_id,
        "environment": {"K": "V"},
        "input_data": {"$datalake:1": "ch/file"},
        "models": {"alias": "4444444444444"},
        "output_template": {"$datalake:1": "ch2"},
        "retry_count": 0,
        "distribution": 0,
    }
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Authorization"] == "Basic <redacted>"
    assert (run.model_id, run.distribution, run.retry_count) == ("4444444444444", 0, 0)
    assert run.user_env_vars == {"K": "V"}
    assert run.input_data == {"$datalake:1": "ch/file"}


async def test_input_data_as_json_string_is_decoded(make_abeja_sim: SimFactory) -> None:
    sim = await make_abeja_sim(input_data_as_string=True)
    async with make_client(sim) as client:
        run = await client.runs.create(
            sim.deployment_id, sim.version_id, input_data={"$datalake:1": "ch/file"}
        )
        assert run.input_data == {"$datalake:1": "ch/file"}
        assert isinstance(run.raw["input_data"], str)
        assert client.converter.unstructure(run) == sim.runs[run.run_id]


async def test_errors_are_typed_both_ways(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    with pytest.raises(NotFound) as missing:
        await client.runs.retrieve(abeja_sim.deployment_id, "run-0000000000000000")
    error = missing.value
    assert isinstance(error, tether.NotFoundError)
    assert (error.status, error.status_code, error.error) == (404, 404, "not_found")
    assert error.error_description == "run not found"
    assert error.error_detail == {"run_id": ["unknown run: run-0000000000000000"]}
    assert error.url is not None and error.url.endswith("/runs/run-0000000000000000")
    assert error.request is not None and error.request.method == "GET"

    with pytest.raises(BadRequest) as bad:
        await client.runs.create(abeja_sim.deployment_id, "ver-0000000000000000")
    assert isinstance(bad.value, tether.BadRequestError)
    assert bad.value.error_detail == {"version_id": ["unknown version: ver-0000000000000000"]}

    abeja_sim.add_organization("9999999999999", accessible=False)
    with pytest.raises(Forbidden):
        await client.runs.retrieve(
            abeja_sim.deployment_id, "run-1", organization_id="9999999999999"
        )


# ----------------------------------------------------------------------------- listing


async def test_list_both_orders_every_page(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    created = [run.run_id for run in await create_runs(client, abeja_sim, 7)]
    newest_first = [run.run_id async for run in client.runs.list(abeja_sim.deployment_id)]
    assert newest_first == created[::-1]
    ascending = client.runs.list(abeja_sim.deployment_id, scan_forward=True)
    assert [run.run_id async for run in ascending] == created
    assert abeja_sim.requests[-1].query["scan_forward"] == "True"  # the official spelling
    explicit = client.runs.list(abeja_sim.deployment_id, scan_forward=False)
    assert [run.run_id for run in await explicit.to_list()] == created[::-1]

    first = await client.runs.list(abeja_sim.deployment_id)
    assert isinstance(first, Page)
    assert [r.run_id for r in first] == created[:-4:-1]
    assert first.has_more and first["next_page_token"] == first.next_cursor
    pages = [p async for p in client.runs.list(abeja_sim.deployment_id).iter_pages()]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert pages[-1].next_cursor is None and "next_page_token" not in pages[-1].raw

    resumed = client.runs.list(abeja_sim.deployment_id, next_page_token=first.next_cursor)
    assert [r.run_id async for r in resumed] == created[-4::-1]
    limited = client.runs.list(abeja_sim.deployment_id, limit=4)
    assert len(await limited.to_list()) == 4


async def test_list_filters_by_status_across_pages(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    runs = await create_runs(client, abeja_sim, 8)
    abeja_sim.set_outcome(runs[0].run_id, "FAILED")
    abeja_sim.advance(abeja_sim.steps_to_finish)
    latest = await create_runs(client, abeja_sim, 4)  # two pages of SUBMITTED first
    failed = client.runs.list(abeja_sim.deployment_id, status=RunStatus.FAILED)
    first = await failed
    assert [r.run_id for r in first] == [runs[0].run_id]
    assert abeja_sim.count_requests("GET") == 4  # pages without a failed run were skipped
    done = client.runs.list(abeja_sim.deployment_id, status=["succeeded", "FAILED"])
    assert {r.run_id async for r in done} == {r.run_id for r in runs}
    pending = client.runs.list(abeja_sim.deployment_id, status="SUBMITTED")
    assert [r.run_id async for r in pending] == [r.run_id for r in latest[::-1]]


# ----------------------------------------------------------------------------- logs


async def finished_run(
    client: AsyncAbeja, sim: Simulator, outcome: Literal["SUCCEEDED", "FAILED"] = "SUCCEEDED"
) -> Run:
    run = await client.runs.create(sim.deployment_id, sim.version_id)
    sim.set_outcome(run.run_id, outcome)
    sim.advance(sim.steps_to_finish)
    return run


async def test_logs_every_page_and_windows(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    run = await finished_run(client, abeja_sim, "FAILED")
    expected = abeja_sim.run_logs(run.run_id)
    assert len(expected) == 7
    events = [e async for e in client.runs.logs(abeja_sim.deployment_id, run.run_id)]
    assert [client.converter.unstructure(e) for e in events] == expected
    assert all(isinstance(e, LogEvent) and e.timestamp.tzinfo is not None for e in events)
    assert events[-1].message.startswith("ERROR: user code exited")
    pages = [p async for p in client.runs.logs(abeja_sim.deployment_id, run.run_id).iter_pages()]
    assert [len(p) for p in pages] == [4, 3]
    assert "next_token" not in pages[-1].raw

    second = events[3].timestamp.replace(microsecond=0)
    tokyo = timezone(timedelta(hours=9))
    window = client.runs.logs(
        abeja_sim.deployment_id,
        run.run_id,
        start_time=second.astimezone(tokyo),
        end_time=second + timedelta(microseconds=999_999),
    )
    in_window = await window.to_list()
    assert in_window == [e for e in events if e.timestamp.replace(microsecond=0) == second]
    assert abeja_sim.requests[-1].query == {
        "start_time": second.strftime("%Y-%m-%dT%H:%M:%S"),
        "end_time": (second + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    # the bounds hold to the microsecond, though the platform takes whole seconds
    assert events[3].timestamp.replace(microsecond=0) == events[5].timestamp.replace(microsecond=0)
    exact = client.runs.logs(
        abeja_sim.deployment_id,
        run.run_id,
        start_time=events[4].timestamp,
        end_time=events[5].timestamp,
    )
    assert await exact.to_list() == events[4:6]
    recent = client.runs.recent_logs(
        abeja_sim.deployment_id,
        run.run_id,
        start_time=events[4].timestamp,
        end_time=events[5].timestamp,
    )
    assert await recent.to_list() == events[5:3:-1]


async def test_recent_logs_backward_and_forward(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    run = await finished_run(client, abeja_sim)
    messages = [e["message"] for e in abeja_sim.run_logs(run.run_id)]
    recent = client.runs.recent_logs(abeja_sim.deployment_id, run.run_id)
    first = await recent
    assert [e.message for e in first] == messages[::-1][:4]
    assert {"next_forward_token", "next_backward_token"} <= set(first.raw)
    assert [e.message async for e in recent] == messages[::-1]

    pages = [p async for p in recent.iter_pages()]
    assert pages[-1].items == []  # past the oldest line: an empty page, tokens kept
    oldest_token = pages[-1]["next_forward_token"]
    forward = client.runs.recent_logs(
        abeja_sim.deployment_id, run.run_id, next_forward_token=oldest_token
    )
    walked = [p async for p in forward.iter_pages()]
    assert [e.message for p in walked for e in reversed(p.items)] == messages
    assert walked[-1].items == []  # the platform answers an empty list at the end


# ----------------------------------------------------------------------------- waiting


async def test_wait_returns_the_final_run_with_progress(make_abeja_sim: SimFactory) -> None:
    sim = await make_abeja_sim(advance_on_poll=1)
    async with make_client(sim) as client:
        run = await client.runs.create(sim.deployment_id, sim.version_id)
        seen: list[tuple[JobStatus, str | None, float | None]] = []

        def record(state: tether.JobState[Run]) -> None:
            fraction = state.progress.fraction if state.progress else None
            seen.append((state.status, state.raw_status, fraction))

        final = await client.runs.wait(sim.deployment_id, run.run_id, poll=FAST, on_progress=record)
        assert isinstance(final, Run) and final.status is RunStatus.SUCCEEDED
        assert [s[1] for s in seen] == ["PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
        assert [s[0] for s in seen] == [JobStatus.PENDING] * 3 + [
            JobStatus.RUNNING,
            JobStatus.SUCCEEDED,
        ]
        assert seen[-1][2] == 1.0


async def test_wait_failed_run_raises_with_the_log_tail(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    run = await finished_run(client, abeja_sim, "FAILED")
    with pytest.raises(JobFailedError) as caught:
        await client.runs.wait(abeja_sim.deployment_id, run.run_id, poll=FAST, log_tail=5)
    error = caught.value
    assert isinstance(error.detail, Run) and error.detail.status is RunStatus.FAILED
    assert (error.job_id, error.status) == (run.run_id, "FAILED")
    lines = str(error).splitlines()
    assert len(lines) == 6 and "last 5 log line(s)" in lines[0]
    assert lines[-1].endswith("ERROR: user code exited with status 1 (simulated failure)")
    assert lines[1].endswith("step 1/2: user code output 3")

    with pytest.raises(JobFailedError) as bare:
        await client.runs.wait(abeja_sim.deployment_id, run.run_id, log_tail=0)
    assert str(bare.value) == f"run {run.run_id} failed: status FAILED"


async def test_wait_has_a_deadline(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    run = await client.runs.create(abeja_sim.deployment_id, abeja_sim.version_id)
    started = time.monotonic()
    with pytest.raises(JobTimeoutError) as caught:
        await client.runs.wait(abeja_sim.deployment_id, run.run_id, timeout=0.1, poll=FAST)
    assert time.monotonic() - started < 2
    assert caught.value.status == "SUBMITTED"
    assert isinstance(caught.value, TimeoutError)
    short = make_client(abeja_sim, wait_timeout=0.05)
    async with short:
        with pytest.raises(JobTimeoutError):
            await short.runs.wait(abeja_sim.deployment_id, run.run_id, poll=FAST)


async def test_wait_start_gives_the_job_and_resumes(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    run = await client.runs.create(abeja_sim.deployment_id, abeja_sim.version_id)
    job = await client.runs.wait.start(abeja_sim.deployment_id, run.run_id, poll=FAST)
    assert isinstance(job, tether.Job) and job.id == run.run_id
    assert not job.cancellable
    state = await job.status()
    assert (state.status, state.raw_status) == (JobStatus.PENDING, "SUBMITTED")
    token = ResumeToken.parse(job.resume_token, platform="abeja")
    assert token.data["run_id"] == run.run_id
    abeja_sim.advance(abeja_sim.steps_to_finish)
    resumed = await client.runs.resume(job.resume_token)
    final = await resumed.wait(timeout=5, poll=FAST)
    assert final.status is RunStatus.SUCCEEDED
    assert (await job).run_id == run.run_id
    with pytest.raises(ValidationError):
        await client.runs.resume(str(ResumeToken("abeja", "task", {})))
    with pytest.raises(ValidationError):
        await client.runs.resume(str(ResumeToken("pioreactor", "run", {})))


async def test_unknown_status_is_kept_and_waited_on(client: AsyncAbeja) -> None:
    raw = {"run_id": "run-1", "status": "ARCHIVED", "new_field": [1, 2]}
    run = client.converter.structure(raw, Run)
    assert run.status == "ARCHIVED" and not run.status.known and not run.done
    assert client.converter.unstructure(run) == raw
    state = await client.runs._state(run, "org", "dep", 0)
    assert (state.status, state.raw_status) == (JobStatus.RUNNING, "ARCHIVED")
    assert {s.value for s in RunStatus} == {
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
    }


def test_models_round_trip_and_change() -> None:
    converter = shared_converter()
    raw = {
        "run_id": "run-1",
        "status": "RUNNING",
        "deployment_id": "2",
        "input_data": '{"$datalake:1": "a/b"}',
        "created_at": "2018-01-01T00:00:00Z",
        "modified_at": "2018-01-01T00:00:00.000000Z",
        "output_template": None,
        "unknown": {"x": 1},
    }
    run = converter.structure(raw, Run)
    assert run.created_at == datetime(2018, 1, 1, tzinfo=UTC)
    assert converter.unstructure(run) == raw  # unchanged fields: exactly as received
    changed = attrs.evolve(run, status=RunStatus.SUCCEEDED, input_data={"$datalake:1": "c"})
    wire = converter.unstructure(changed)
    assert wire["status"] == "SUCCEEDED" and wire["input_data"] == {"$datalake:1": "c"}
    assert wire["unknown"] == {"x": 1} and "distribution" not in wire
    wire["unknown"]["x"] = 2
    assert run.raw["unknown"] == {"x": 1}  # a returned dict never aliases the model
    built = Run(run_id="run-2", status=RunStatus.PENDING)
    assert "distribution" not in converter.unstructure(built)
    assert "raw" not in repr(run)
    event = converter.structure({"message": "hi", "timestamp": "2018-01-01T09:00:00"}, LogEvent)
    assert event.timestamp.tzinfo is UTC
    assert str(event) == "2018-01-01T09:00:00.000000Z hi"
    with pytest.raises(tether.ResponseDecodeError):
        decode(converter, {"status": "RUNNING"}, Run)


# ----------------------------------------------------------------------------- following


async def test_follow_logs_yields_every_line_once_until_the_end(
    make_abeja_sim: SimFactory,
) -> None:
    sim = await make_abeja_sim(running_steps=5, log_lines_per_step=3)
    async with make_client(sim) as client:
        run = await client.runs.create(sim.deployment_id, sim.version_id)
        sim.set_outcome(run.run_id, "FAILED")

        async def drive() -> None:
            while True:
                await asyncio.sleep(0.01)
                sim.advance()

        driver = asyncio.create_task(drive())
        try:
            followed = [
                e
                async for e in client.runs.follow_logs(
                    sim.deployment_id, run.run_id, poll=FAST, timeout=10
                )
            ]
        finally:
            driver.cancel()
        expected = sim.run_logs(run.run_id)
        assert len(expected) == 16
        assert [client.converter.unstructure(e) for e in followed] == expected
        assert followed[-1].message.startswith("ERROR")


async def test_follow_logs_of_a_finished_run_and_an_early_break(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    run = await finished_run(client, abeja_sim)
    abeja_sim.clear_requests()
    events = [e async for e in client.runs.follow_logs(abeja_sim.deployment_id, run.run_id)]
    assert [e.message for e in events] == [e["message"] for e in abeja_sim.run_logs(run.run_id)]
    assert abeja_sim.count_requests() <= 5
    stream = client.runs.follow_logs(abeja_sim.deployment_id, run.run_id)
    async for event in stream:
        assert event.message.startswith("step 1/2")
        break
    await stream.aclose()  # type: ignore[attr-defined]


async def test_follow_logs_has_a_deadline(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    run = await client.runs.create(abeja_sim.deployment_id, abeja_sim.version_id)
    abeja_sim.advance(4)  # RUNNING: three lines, and never ends
    seen: list[str] = []
    with pytest.raises(JobTimeoutError) as caught:
        async for event in client.runs.follow_logs(
            abeja_sim.deployment_id, run.run_id, poll=FAST, timeout=0.4
        ):
            seen.append(event.message)
    assert len(seen) == 3
    assert caught.value.status == "RUNNING" and caught.value.job_id == run.run_id


@pytest.fixture
async def tokenless_logs() -> AsyncIterator[tuple[str, list[str], list[int]]]:
    """A server whose logs omit ``next_token`` at the end even while the run goes on.

    The documented end-of-logs signal is that absence, so a reader must not stop before the
    run ends (nor repeat what it read) on a platform that sends it while the run is running.
    """
    lines: list[str] = []
    polls = [0]

    async def run(_: web.Request) -> web.Response:
        polls[0] += 1
        if polls[0] <= 4:
            lines.extend(f"line {len(lines) + i}" for i in range(3))
        status = "RUNNING" if polls[0] <= 4 else "SUCCEEDED"
        return web.json_response({"run_id": "run-1", "status": status})

    async def logs(request: web.Request) -> web.Response:
        start = int(request.query.get("next_token", "0"))
        page = lines[start : start + 2]
        body: dict[str, Any] = {
            "events": [{"message": m, "timestamp": "2018-01-01T00:00:00Z"} for m in page]
        }
        if start + len(page) < len(lines):
            body["next_token"] = str(start + len(page))
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/organizations/o/deployments/d/runs/run-1", run)
    app.router.add_get("/organizations/o/deployments/d/runs/run-1/logs", logs)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", lines, polls
    finally:
        await runner.cleanup()


async def test_follow_logs_when_the_token_goes_missing_mid_run(
    tokenless_logs: tuple[str, list[str], list[int]],
) -> None:
    url, lines, polls = tokenless_logs
    async with AsyncAbeja(base_url=url, organization_id="o", auth_token="t") as client:
        followed = [
            e.message async for e in client.runs.follow_logs("d", "run-1", poll=FAST, timeout=5)
        ]
    assert followed == lines and len(lines) == 12
    assert polls[0] >= 5


# ----------------------------------------------------------------------------- retries


async def test_create_is_never_replayed(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    for status in (500, 502, 503):
        abeja_sim.fail_next(1, status, method="POST")
        with pytest.raises(tether.InternalServerError) as caught:
            await client.runs.create(abeja_sim.deployment_id, abeja_sim.version_id)
        assert caught.value.status == status
    assert abeja_sim.count_requests("POST") == 3
    assert abeja_sim.runs == {}
    assert isinstance(caught.value, tether.abeja.HttpError)


async def test_create_after_a_read_timeout_is_not_replayed(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    abeja_sim.slow_next(1, 1.0, method="POST")
    with pytest.raises(tether.APITimeoutError):
        await client.with_options(timeout=0.2).runs.create(
            abeja_sim.deployment_id, abeja_sim.version_id
        )
    assert abeja_sim.count_requests("POST") == 1
    assert len(abeja_sim.runs) == 1


async def test_create_is_retried_when_the_server_did_not_process_it(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    abeja_sim.rate_limit_next(1, retry_after=0, method="POST")
    run = await client.runs.create(abeja_sim.deployment_id, abeja_sim.version_id)
    assert abeja_sim.count_requests("POST") == 2
    assert list(abeja_sim.runs) == [run.run_id]


async def test_gets_are_retried_and_retry_after_honoured(
    client: AsyncAbeja, abeja_sim: Simulator
) -> None:
    abeja_sim.fail_next(2, 500, method="GET")
    first = await client.runs.list(abeja_sim.deployment_id)
    assert first.items == []
    assert [r.status for r in abeja_sim.requests] == [500, 500, 200]
    abeja_sim.clear_requests()
    abeja_sim.rate_limit_next(1, retry_after=0.3)
    started = time.monotonic()
    await client.runs.list(abeja_sim.deployment_id)
    assert time.monotonic() - started >= 0.25
    assert [r.status for r in abeja_sim.requests] == [429, 200]
    abeja_sim.clear_requests()
    abeja_sim.fail_next(5, 502, method="GET")
    with pytest.raises(tether.InternalServerError):
        await client.runs.list(abeja_sim.deployment_id)
    assert abeja_sim.count_requests() == 3  # 1 + max_retries
    abeja_sim.clear_faults()
    abeja_sim.clear_requests()
    abeja_sim.fail_next(1, 409, method="GET")
    with pytest.raises(tether.abeja.Conflict):
        await client.runs.list(abeja_sim.deployment_id)
    assert abeja_sim.count_requests() == 1


async def test_timeouts_are_configurable(
    abeja_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABEJA_SDK_CONNECTION_TIMEOUT", "0.4")
    monkeypatch.setenv("ABEJA_SDK_MAX_RETRY_COUNT", "1")
    async with make_client(abeja_sim, timeout=None) as client:
        assert client.http.timeout == 0.4
        assert client.http.retries.max_retries == 1
        abeja_sim.slow_next(1, 5.0, method="GET")
        assert (await client.runs.list(abeja_sim.deployment_id)).items == []
        assert abeja_sim.count_requests("GET") == 2  # timed out once, retried
    async with make_client(abeja_sim, timeout=7, max_retries=0) as client:
        assert (client.http.timeout, client.http.retries.max_retries) == (7.0, 0)
    for name, value in (("ABEJA_SDK_CONNECTION_TIMEOUT", "-1"), ("ABEJA_SDK_MAX_RETRY_COUNT", "x")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=name):
            make_client(abeja_sim, timeout=None, max_retries=None)
        monkeypatch.setenv(name, "1")


# ----------------------------------------------------------------------------- credentials


async def test_every_credential_kind(abeja_sim: Simulator) -> None:
    kinds: list[dict[str, Any]] = [
        {"auth_token": abeja_sim.auth_token},
        {
            "user_id": f"user-{abeja_sim.user_id}",
            "personal_access_token": abeja_sim.personal_access_token,
        },
        {
            "datasource_id": abeja_sim.datasource_id,
            "datasource_secret": abeja_sim.datasource_secret,
        },
    ]
    for credential in kinds:
        async with AsyncAbeja(
            base_url=abeja_sim.url, organization_id=abeja_sim.organization_id, **credential
        ) as client:
            assert (await client.runs.list(abeja_sim.deployment_id)).items == []
    async with AsyncAbeja(
        base_url=abeja_sim.url,
        organization_id=abeja_sim.organization_id,
        auth_token="wrong",
    ) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.runs.list(abeja_sim.deployment_id)
        assert isinstance(caught.value, tether.AuthenticationError)


async def test_credentials_and_settings_from_the_environment(
    abeja_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in abeja_sim.info().items():
        monkeypatch.setenv(key, value)
    async with AsyncAbeja() as client:  # ABEJA_API_URL, ABEJA_ORGANIZATION_ID, user + PAT
        assert client.base_url == abeja_sim.url
        assert client.organization_id == abeja_sim.organization_id
        assert client.credential_kind == "user id + personal access token"
        assert (await client.runs.list(abeja_sim.deployment_id)).items == []
    monkeypatch.setenv("PLATFORM_AUTH_TOKEN", abeja_sim.auth_token)
    async with AsyncAbeja() as client:
        assert client.credential_kind == "platform auth token"
        await client.runs.list(abeja_sim.deployment_id)
    assert abeja_sim.requests[-1].headers["Authorization"] == "Bearer <redacted>"
    # explicit arguments win over the environment
    async with AsyncAbeja(
        organization_id="5555555555555",
        user_id=abeja_sim.user_id,
        personal_access_token="explicit",
        base_url="http://127.0.0.1:9/",
    ) as client:
        assert client.credential_kind == "user id + personal access token"
        assert (client.organization_id, client.base_url) == ("5555555555555", "http://127.0.0.1:9")
    monkeypatch.setenv("PLATFORM_AUTH_TOKEN", "")
    monkeypatch.setenv("ABEJA_PLATFORM_USER_ID", "")
    with pytest.raises(ValidationError, match="no ABEJA credentials"):
        AsyncAbeja()


def test_credential_arguments_are_checked() -> None:
    with pytest.raises(ValidationError, match="together"):
        AsyncAbeja(user_id="1", base_url="http://127.0.0.1:9")
    with pytest.raises(ValidationError, match="one kind"):
        AsyncAbeja(auth_token="t", user_id="1", personal_access_token="p")
    with pytest.raises(ValidationError, match="non-empty"):
        AsyncAbeja(auth_token="")
    with pytest.raises(ValidationError, match="wait_timeout"):
        AsyncAbeja(auth_token="t", wait_timeout=0)
    header = Credential.user("1234567890123", "pat-abc").headers()
    assert header == {"Authorization": "Basic dXNlci0xMjM0NTY3ODkwMTIzOnBhdC1hYmM="}


async def test_credentials_never_in_logs_reprs_or_errors(
    abeja_sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    dep = abeja_sim.deployment_id
    basic = f"user-{abeja_sim.user_id}:{abeja_sim.personal_access_token}"
    secrets = [
        abeja_sim.personal_access_token,
        abeja_sim.auth_token,
        abeja_sim.user_id,
        base64.b64encode(basic.encode()).decode(),
    ]
    shown: list[str] = []
    credentials: list[dict[str, Any]] = [
        {"user_id": abeja_sim.user_id, "personal_access_token": abeja_sim.personal_access_token},
        {"auth_token": abeja_sim.auth_token},
    ]
    for credential in credentials:
        async with AsyncAbeja(
            base_url=abeja_sim.url, organization_id=abeja_sim.organization_id, **credential
        ) as client:
            fast = client.with_options(retries=QUICK_RETRIES)
            shown += [repr(client), repr(fast), repr(client.runs), repr(client.http)]
            shown.append(repr(client._credential))
            run = await fast.runs.create(dep, abeja_sim.version_id)
            abeja_sim.fail_next(1, 503, retry_after=0)
            await fast.runs.retrieve(dep, run.run_id)  # retried, and the retry is logged
            failures: list[tether.APIError] = []
            with pytest.raises(NotFound) as missing:
                await fast.runs.retrieve(dep, "run-0000000000000000")
            failures.append(missing.value)
            abeja_sim.slow_next(1, 0.5)
            impatient = fast.with_options(timeout=0.05, retries=RetryPolicy(max_retries=0))
            with pytest.raises(tether.APITimeoutError) as late:
                await impatient.runs.retrieve(dep, run.run_id)
            failures.append(late.value)
            for error in failures:
                shown += [str(error), repr(error), repr(vars(error))]
    with pytest.raises(ValidationError) as bad:
        AsyncAbeja(
            user_id=abeja_sim.user_id,
            personal_access_token=abeja_sim.personal_access_token,
            auth_token=abeja_sim.auth_token,
        )
    shown.append(str(bad.value))
    text = "\n".join([*shown, caplog.text])
    assert "retry 1/2" in caplog.text  # the retry was logged ...
    assert "run-0000000000000000" in text
    for secret in secrets:
        assert secret not in text  # ... and nothing secret was


# ----------------------------------------------------------------------------- bad input


async def test_bad_input_fails_before_any_request(client: AsyncAbeja, abeja_sim: Simulator) -> None:
    dep, ver = abeja_sim.deployment_id, abeja_sim.version_id
    runs = client.runs
    naive = datetime(2018, 1, 1, 9, 0)
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("retry_count", lambda: runs.create(dep, ver, retry_count=10)),
        ("retry_count", lambda: runs.create(dep, ver, retry_count=-1)),
        ("retry_count", lambda: runs.create(dep, ver, retry_count=True)),  # type: ignore[arg-type]
        ("environment", lambda: runs.create(dep, ver, environment={"A": 1})),  # type: ignore[dict-item]
        ("distribution", lambda: runs.create(dep, ver, distribution="3")),  # type: ignore[arg-type]
        ("input_data", lambda: runs.create(dep, ver, input_data=["x"])),  # type: ignore[arg-type]
        ("version_id", lambda: runs.create(dep, "")),
        ("deployment_id", lambda: runs.retrieve("", "run-1")),
        ("unknown run status 'RUNNNING'", lambda: runs.list(dep, status="RUNNNING")),
        ("unknown run status", lambda: runs.list(dep, status=[RunStatus("ARCHIVED")])),
        ("at least one", lambda: runs.list(dep, status=[])),
        ("scan_forward", lambda: runs.list(dep, scan_forward="yes")),  # type: ignore[arg-type]
        ("limit", lambda: runs.list(dep, limit=0)),
        ("time-zone aware", lambda: runs.logs(dep, "run-1", start_time=naive)),
        ("time-zone aware", lambda: runs.recent_logs(dep, "run-1", end_time=naive)),
        (
            "after end_time",
            lambda: runs.logs(
                dep,
                "run-1",
                start_time=naive.replace(tzinfo=UTC),
                end_time=naive.replace(hour=8, tzinfo=UTC),
            ),
        ),
        ("timeout", lambda: runs.wait(dep, "run-1", timeout=0)),
        ("log_tail", lambda: runs.wait(dep, "run-1", log_tail=-1)),
        ("poll", lambda: runs.wait(dep, "run-1", poll=1.0)),  # type: ignore[arg-type]
    ]
    for expected, call in cases:
        with pytest.raises(ValidationError, match=expected):
            result = call()
            if asyncio.iscoroutine(result):
                await result
    with pytest.raises(ValidationError, match="timeout"):
        async for _ in runs.follow_logs(dep, "run-1", timeout=-1):
            pass
    assert abeja_sim.requests == []


async def test_organization_comes_from_the_client_or_the_call(abeja_sim: Simulator) -> None:
    async with make_client(abeja_sim, organization_id=None) as client:
        with pytest.raises(ValidationError, match="no organization id"):
            await client.runs.retrieve(abeja_sim.deployment_id, "run-1")
        listed = await client.runs.list(
            abeja_sim.deployment_id, organization_id=abeja_sim.organization_id
        )
        assert listed.items == []
    assert repr(client) == (
        f"AsyncAbeja(base_url={abeja_sim.url!r}, organization_id=None,"
        " credential='user id + personal access token')"
    )
