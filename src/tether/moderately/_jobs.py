"""Waiting on pipeline and agent executions: one :class:`~tether.Job` contract for both.

The check runs at once (no sleep before the first look), then backs off per the poll policy.
Statuses map as: ``pending`` → PENDING; ``running`` → RUNNING; ``completed`` → the result;
``failed`` → :class:`ExecutionFailedError`; ``cancelled`` → :class:`ExecutionCancelledError`.

``paused`` is handled deliberately: it is not terminal (the platform can resume it), so the
wait keeps polling, but only for ``paused_timeout`` seconds of continuous pause; then it raises
:class:`ExecutionPausedError` (the execution stays paused on the platform). The overall
``timeout`` still applies and raises :class:`~tether.JobTimeoutError`. With
``paused_timeout=None`` a pause is waited out like running time, bounded only by ``timeout``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, Generic, TypeVar

from tether._core.errors import ValidationError
from tether._core.jobs import (
    Job,
    JobState,
    JobStatus,
    PollPolicy,
    Progress,
    ProgressCallback,
    ResumeToken,
)
from tether.moderately._errors import (
    ExecutionCancelledError,
    ExecutionFailedError,
    ExecutionPausedError,
)
from tether.moderately.models import AgentExecution, ExecutionStatus, PipelineExecution

__all__ = [
    "DEFAULT_PAUSED_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "ExecutionJob",
    "ProgressDisplay",
    "execution_job",
    "poll_policy",
]

T = TypeVar("T", bound=PipelineExecution | AgentExecution)

PLATFORM: Final = "moderately"
DEFAULT_WAIT_TIMEOUT: Final = 600.0
DEFAULT_PAUSED_TIMEOUT: Final = 300.0

_BY_STATUS: Final = {
    ExecutionStatus.PENDING: JobStatus.PENDING,
    ExecutionStatus.RUNNING: JobStatus.RUNNING,
    ExecutionStatus.PAUSED: JobStatus.RUNNING,
    ExecutionStatus.COMPLETED: JobStatus.SUCCEEDED,
    ExecutionStatus.FAILED: JobStatus.FAILED,
    ExecutionStatus.CANCELLED: JobStatus.CANCELLED,
}


def poll_policy(poll_interval: float | None) -> PollPolicy:
    """A fixed interval when given (±10 % jitter), else backoff from 0.5 s up to 5 s."""
    if poll_interval is None:
        return PollPolicy(initial=0.5, factor=1.5, maximum=5.0)
    if poll_interval <= 0:
        raise ValidationError(f"poll_interval must be > 0 seconds, got {poll_interval}")
    return PollPolicy(initial=poll_interval, factor=1.0, maximum=poll_interval)


class ProgressDisplay:
    """Shows a job's progress on stderr: a rich progress bar when rich is installed, else one
    line per change. Used by ``show_progress=True``."""

    def __init__(self, describe: str) -> None:
        self._describe = describe
        self._bar: Any = None
        self._task: Any = None
        self._closed = False
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        except ImportError:  # pragma: no cover - rich is optional
            return
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[message]}"),
            console=Console(stderr=True),
            auto_refresh=False,
            transient=False,
        )

    def __call__(self, state: JobState[Any]) -> None:
        if self._closed:
            return
        progress = state.progress or Progress()
        word = state.raw_status or state.status.value
        message = progress.message or word
        if self._bar is None:
            steps = f" {progress.current:g}/{progress.total:g}" if progress.total else ""
            print(f"{self._describe}: {word}{steps} {message}", file=sys.stderr, flush=True)
        else:
            if self._task is None:
                self._bar.start()
                self._task = self._bar.add_task(self._describe, total=None, message="")
            self._bar.update(
                self._task,
                total=progress.total or None,
                completed=progress.current or 0,
                message=f"[{word}] {message}",
            )
            self._bar.refresh()
        if state.status.done:
            self.close()

    def close(self) -> None:
        """Stop the display (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None and self._task is not None:
            self._bar.stop()


class ExecutionJob(Job[T], Generic[T]):
    """A :class:`~tether.Job` on an execution, raising the execution-specific error types."""

    def __init__(
        self,
        check: Callable[[], Awaitable[JobState[T]]],
        *,
        display: ProgressDisplay | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(check, **kwargs)
        self._display = display

    async def wait(self, timeout: float | None = None, poll: PollPolicy | None = None) -> T:
        """Wait until the execution ends and return it (see :meth:`tether.Job.wait`).

        Raises:
            ExecutionFailedError: it failed (``error`` says why).
            ExecutionCancelledError: it was cancelled.
            ExecutionPausedError: it stayed paused longer than ``paused_timeout``.
            JobTimeoutError: the deadline passed first (it may still be running).
        """
        try:
            return await super().wait(timeout, poll)
        finally:
            if self._display is not None:
                self._display.close()

    def _outcome(self, state: JobState[T]) -> T:
        word = state.raw_status or state.status.value
        if state.status is JobStatus.FAILED:
            raise ExecutionFailedError(
                f"{self.describe} failed" + (f": {state.error}" if state.error else ""),
                job_id=self.id,
                status=word,
                detail=state.detail,
                error=state.error,
            )
        if state.status is JobStatus.CANCELLED:
            raise ExecutionCancelledError(
                f"{self.describe} was cancelled" + (f": {state.error}" if state.error else ""),
                job_id=self.id,
                status=word,
                detail=state.detail,
            )
        return super()._outcome(state)


def _state(
    model: T, progress: Progress, error: str | None, *, paused_for: float | None
) -> JobState[T]:
    status = _BY_STATUS.get(model.status, JobStatus.RUNNING)
    return JobState(
        status=status,
        raw_status=str(model.status),
        result=model if status is JobStatus.SUCCEEDED else None,
        progress=progress,
        detail=model,
        error=error if status in (JobStatus.FAILED, JobStatus.CANCELLED) else None,
    )


def pipeline_progress(execution: PipelineExecution) -> Progress:
    """Progress of a pipeline execution: ``currentStep`` of ``totalSteps`` and its message."""
    return Progress(
        current=execution.current_step,
        total=execution.total_steps,
        message=execution.progress_message,
    )


def agent_progress(execution: AgentExecution) -> Progress:
    """Progress of an agent run: ``currentStep`` (of ``maxActions`` when set), last thought."""
    last = execution.thoughts[-1].text if execution.thoughts else None
    return Progress(current=execution.current_step, total=execution.max_actions, message=last)


def pipeline_error(execution: PipelineExecution) -> str | None:
    """Why a pipeline execution failed or was cancelled."""
    if execution.status == ExecutionStatus.CANCELLED:
        reason = execution.progress_data.get("cancelReason")
        return str(reason) if reason else None
    return execution.error_message


def agent_error(execution: AgentExecution) -> str | None:
    """Why an agent run failed: its output summary, else its last thought."""
    if execution.status == ExecutionStatus.CANCELLED:
        return None
    if execution.agent_output_summary:
        return execution.agent_output_summary
    return execution.thoughts[-1].text if execution.thoughts else None


def execution_job(
    *,
    kind: str,
    execution_id: str,
    fetch: Callable[[], Awaitable[T]],
    progress: Callable[[T], Progress],
    error: Callable[[T], str | None],
    cancel: Callable[[], Awaitable[Any]] | None,
    timeout: float | None,
    poll_interval: float | None,
    paused_timeout: float | None,
    show_progress: bool,
    on_progress: ProgressCallback | None,
) -> ExecutionJob[T]:
    """Build the Job for an execution (*kind*: ``pipeline_execution`` or ``agent_execution``)."""
    if timeout is not None and timeout <= 0:
        raise ValidationError(f"timeout must be > 0 seconds or None, got {timeout}")
    if paused_timeout is not None and paused_timeout < 0:
        raise ValidationError(f"paused_timeout must be >= 0 seconds or None, got {paused_timeout}")
    policy = poll_policy(poll_interval)
    describe = f"{kind.replace('_', ' ')} {execution_id}"
    paused_since: list[float] = []

    async def check() -> JobState[T]:
        model = await fetch()
        paused_for: float | None = None
        if model.status == ExecutionStatus.PAUSED:
            if not paused_since:
                paused_since.append(time.monotonic())
            paused_for = time.monotonic() - paused_since[0]
            if paused_timeout is not None and paused_for >= paused_timeout:
                raise ExecutionPausedError(
                    f"{describe} has been paused for {paused_for:.1f}s, longer than"
                    f" paused_timeout={paused_timeout}s; resume it and wait again",
                    job_id=execution_id,
                    detail=model,
                    paused_for=paused_for,
                )
        else:
            paused_since.clear()
        return _state(model, progress(model), error(model), paused_for=paused_for)

    display = ProgressDisplay(describe) if show_progress else None
    job: ExecutionJob[T] = ExecutionJob(
        check,
        display=display,
        job_id=execution_id,
        token=ResumeToken(platform=PLATFORM, kind=kind, data={"id": execution_id}),
        cancel=cancel,
        poll=policy,
        timeout=timeout,
        describe=describe,
    )
    if display is not None:
        job.on_progress(display)
    if on_progress is not None:
        job.on_progress(on_progress)
    return job
