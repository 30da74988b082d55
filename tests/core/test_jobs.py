"""The Job contract and the polling engine."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tether import (
    BlockingJob,
    BlockingJobMethod,
    Job,
    JobCancelledError,
    JobFailedError,
    JobMethod,
    JobState,
    JobStatus,
    JobTimeoutError,
    PollPolicy,
    Progress,
    TetherError,
    ValidationError,
)
from tether._core.blocking import Facade, to_blocking
from tether._core.jobs import ResumeToken, Signal

FAST = PollPolicy(initial=0.01, factor=1.5, maximum=0.05)
TOKEN = ResumeToken("toy", "task", {"id": "t1"})


def scripted(states: list[JobState[Any]], calls: list[float]) -> Any:
    async def check() -> JobState[Any]:
        calls.append(time.perf_counter())
        return states.pop(0) if len(states) > 1 else states[0]

    return check


async def test_first_check_is_immediate_and_result_returned() -> None:
    calls: list[float] = []
    states = [
        JobState(JobStatus.PENDING, "queued"),
        JobState(JobStatus.RUNNING, "running", progress=Progress(1, 2)),
        JobState(JobStatus.SUCCEEDED, "done", result={"answer": 42}),
    ]
    job: Job[dict[str, int]] = Job(scripted(states, calls), job_id="t1", token=TOKEN, poll=FAST)
    seen: list[str | None] = []
    job.on_progress(lambda s: seen.append(s.raw_status))
    started = time.perf_counter()
    assert await job == {"answer": 42}
    assert calls[0] - started < 0.01  # no sleep before the first check
    assert seen == ["queued", "running", "done"]
    assert job.last_state is not None and job.last_state.status is JobStatus.SUCCEEDED


async def test_failure_and_cancellation_are_typed() -> None:
    failed: Job[None] = Job(
        scripted([JobState(JobStatus.FAILED, "FAILED", error="boom", detail={"x": 1})], []),
        job_id="r1",
        token=TOKEN,
        poll=FAST,
        describe="run r1",
    )
    with pytest.raises(JobFailedError) as info:
        await failed.wait()
    assert info.value.job_id == "r1" and info.value.status == "FAILED"
    assert info.value.detail == {"x": 1}
    assert "run r1 failed: boom" in str(info.value)
    cancelled: Job[None] = Job(
        scripted([JobState(JobStatus.CANCELLED, "cancelled")], []), job_id="r2", token=TOKEN
    )
    with pytest.raises(JobCancelledError):
        await cancelled


async def test_deadline_raises_never_returns_silently() -> None:
    job: Job[None] = Job(
        scripted([JobState(JobStatus.RUNNING, "RUNNING")], []), job_id="t", token=TOKEN, poll=FAST
    )
    started = time.perf_counter()
    with pytest.raises(JobTimeoutError) as info:
        await job.wait(timeout=0.2)
    assert 0.19 < time.perf_counter() - started < 0.5
    assert info.value.status == "RUNNING"
    assert isinstance(info.value, TimeoutError)


def test_backoff_grows_and_caps() -> None:
    policy = PollPolicy(initial=0.01, factor=2, maximum=0.04, jitter=0)
    assert [policy.delay(n) for n in range(5)] == [0.01, 0.02, 0.04, 0.04, 0.04]
    jittered = PollPolicy(initial=1, factor=1, maximum=1, jitter=0.1)
    samples = {round(jittered.delay(0), 6) for _ in range(50)}
    assert len(samples) > 1  # jitter spreads waiters
    assert all(0.9 <= s <= 1.1 for s in samples)
    assert policy.delay(0, hint=10) == 0.04  # a server hint is clamped to the bounds
    assert policy.delay(0, hint=0) == 0.01


async def test_polling_respects_the_policy_under_a_deadline() -> None:
    calls: list[float] = []
    job: Job[None] = Job(
        scripted([JobState(JobStatus.RUNNING)], calls),
        job_id="t",
        token=TOKEN,
        poll=PollPolicy(initial=0.05, factor=1, maximum=0.05, jitter=0),
    )
    with pytest.raises(JobTimeoutError):
        await job.wait(timeout=0.3)
    assert 3 <= len(calls) <= 7  # ~every 50 ms, never a busy loop


async def test_server_hint_is_honoured_within_bounds() -> None:
    calls: list[float] = []
    job: Job[None] = Job(
        scripted([JobState(JobStatus.RUNNING, retry_after=0.15)], calls),
        job_id="t",
        token=TOKEN,
        poll=PollPolicy(initial=0.01, maximum=1.0, jitter=0),
    )
    with pytest.raises(JobTimeoutError):
        await job.wait(timeout=0.4)
    assert len(calls) <= 4


async def test_push_signal_finishes_early_without_polling() -> None:
    signal = Signal()
    box: dict[str, Any] = {"state": JobState(JobStatus.RUNNING)}
    checks = 0

    async def check() -> JobState[Any]:
        nonlocal checks
        checks += 1
        return box["state"]

    job: Job[str] = Job(check, job_id="t", token=TOKEN, signal=signal, poll=None)

    async def finish_soon() -> None:
        await asyncio.sleep(0.05)
        box["state"] = JobState(JobStatus.SUCCEEDED, result="pushed")
        signal.notify()

    started = time.perf_counter()
    task = asyncio.create_task(finish_soon())
    assert await job.wait(timeout=5) == "pushed"
    await task
    assert time.perf_counter() - started < 0.5
    assert checks == 2  # once at start, once when pushed: no polling in between


async def test_cancel_supported_or_clear_error() -> None:
    cancelled: list[bool] = []

    async def do_cancel() -> None:
        cancelled.append(True)

    job: Job[None] = Job(
        scripted([JobState(JobStatus.RUNNING)], []), job_id="t", token=TOKEN, cancel=do_cancel
    )
    await job.cancel()
    assert cancelled == [True] and job.cancellable
    plain: Job[None] = Job(scripted([JobState(JobStatus.RUNNING)], []), job_id="t", token=TOKEN)
    with pytest.raises(TetherError, match="cannot be cancelled"):
        await plain.cancel()


def test_resume_token_round_trip_and_validation() -> None:
    token = ResumeToken("pioreactor", "task", {"task_id": "abc", "unit": "$broadcast"})
    text = str(token)
    assert "{" not in text  # URL-safe text, not raw JSON
    assert ResumeToken.parse(text, platform="pioreactor") == token
    with pytest.raises(ValidationError, match="platform"):
        ResumeToken.parse(text, platform="abeja")
    with pytest.raises(ValidationError):
        ResumeToken.parse("not-a-token")
    import base64
    import json

    future = base64.urlsafe_b64encode(
        json.dumps({"v": 99, "platform": "x", "kind": "k", "data": {}}).encode()
    ).decode()
    with pytest.raises(ValidationError, match="version 99"):
        ResumeToken.parse(future)


def test_poll_policy_validation() -> None:
    with pytest.raises(ValidationError):
        PollPolicy(initial=0)
    with pytest.raises(ValidationError):
        Job(scripted([JobState(JobStatus.RUNNING)], []), job_id="t", token=TOKEN, poll=None)


def test_blocking_job_waits_on_the_loop_thread() -> None:
    async def make() -> Job[int]:
        states = [JobState(JobStatus.RUNNING), JobState(JobStatus.SUCCEEDED, result=7)]
        return Job(scripted(states, []), job_id="b", token=TOKEN, poll=FAST)

    from tether._core.blocking import loop_thread

    job = to_blocking(loop_thread().run(make))
    assert isinstance(job, BlockingJob)
    assert job.id == "b"
    assert job.status().status is JobStatus.RUNNING
    assert job.wait(timeout=5) == 7
    assert "BlockingJob" in repr(job)


class _Ops:
    """A resource-like object with one operation that finishes later."""

    def __init__(self) -> None:
        self.started: list[int] = []

    @JobMethod
    async def compute(self, x: int, *, fail: bool = False) -> Job[int]:
        """Compute x * 2, later."""
        self.started.append(x)
        states: list[JobState[int]] = [
            JobState(JobStatus.RUNNING),
            JobState(JobStatus.FAILED, error="nope")
            if fail
            else JobState(JobStatus.SUCCEEDED, result=x * 2),
        ]
        return Job(scripted(states, []), job_id=f"c{x}", token=TOKEN, poll=FAST)


class _BlockingOps(Facade[_Ops]):
    compute = BlockingJobMethod(_Ops.compute)


async def test_job_method_call_waits_and_start_returns_the_job() -> None:
    ops = _Ops()
    assert await ops.compute(21) == 42
    job = await ops.compute.start(5)
    assert isinstance(job, Job) and job.id == "c5"
    assert await job == 10
    with pytest.raises(JobFailedError):
        await ops.compute(1, fail=True)
    assert ops.started == [21, 5, 1]
    assert _Ops.compute.__doc__ == "Compute x * 2, later."


def test_blocking_job_method() -> None:
    ops = _BlockingOps(_Ops())
    assert ops.compute(4) == 8
    job = ops.compute.start(6)
    assert isinstance(job, BlockingJob)
    assert job.wait(timeout=5) == 12
