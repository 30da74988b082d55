"""One contract for everything that finishes later, and one engine that waits for it.

A :class:`Job` wraps a platform's "check once" function. ``await job`` (or
``await job.wait(timeout=...)``) returns the result or raises a typed error; ``status()`` checks
once; ``cancel()`` works where the platform allows; ``resume_token`` is versioned JSON that a
platform client turns back into a job in another process.

The engine checks at once (no sleep before the first check), then backs off with jitter up to
a cap, honours the server's hint of when to look again, and stops at the deadline with
:class:`~tether.JobTimeoutError` — never a silent return. Where the platform pushes (MQTT), a
:class:`Signal` wakes the wait early; polling remains the fallback (or is switched off with
``poll=None`` when the push path is authoritative).
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import logging
import random
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, Concatenate, Final, Generic, ParamSpec, Self, TypeVar, overload

import attrs

from tether._core.blocking import Facade, loop_thread
from tether._core.errors import (
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
    TetherError,
    ValidationError,
)

__all__ = [
    "BlockingJob",
    "BlockingJobMethod",
    "BoundBlockingJobMethod",
    "BoundJobMethod",
    "JobMethod",
    "Job",
    "JobState",
    "JobStatus",
    "PollPolicy",
    "Progress",
    "ResumeToken",
    "Signal",
]

T = TypeVar("T")
logger = logging.getLogger("tether.jobs")

TOKEN_VERSION: Final = 1


class JobStatus(enum.Enum):
    """Where a job is, in tether's platform-neutral terms."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        """Whether the job will not change any more."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@attrs.frozen
class Progress:
    """How far a job got: ``current`` of ``total`` steps, and the platform's words."""

    current: float | None = None
    total: float | None = None
    message: str | None = None

    @property
    def fraction(self) -> float | None:
        """``current / total`` in ``[0, 1]`` when both are known."""
        if self.current is None or not self.total:
            return None
        return max(0.0, min(1.0, self.current / self.total))


@attrs.frozen
class JobState(Generic[T]):
    """What one check of a job found.

    Attributes:
        status: the platform-neutral status.
        raw_status: the platform's own word for it (e.g. ``"RUNNABLE"``).
        result: the result, when ``status`` is ``SUCCEEDED``.
        progress: how far it got, when the platform says.
        detail: the platform's object (model or raw), for errors and callbacks.
        error: the platform's description of a failure.
        retry_after: seconds the platform suggests before the next check.
    """

    status: JobStatus
    raw_status: str | None = None
    result: T | None = None
    progress: Progress | None = None
    detail: Any = None
    error: str | None = None
    retry_after: float | None = None


@attrs.frozen
class PollPolicy:
    """How often to check: start at ``initial``, multiply by ``factor``, cap at ``maximum``.

    Each sleep is jittered by ±``jitter`` (a fraction) so that many waiters do not check in
    lockstep; a server hint (``retry_after``) is honoured within ``[initial, maximum]``.
    """

    initial: float = 0.2
    factor: float = 1.5
    maximum: float = 5.0
    jitter: float = 0.1

    def __attrs_post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1:
            raise ValidationError(
                "poll policy needs 0 < initial <= maximum and factor >= 1, got "
                f"initial={self.initial}, maximum={self.maximum}, factor={self.factor}"
            )

    def delay(self, attempt: int, hint: float | None = None) -> float:
        """Seconds to sleep before check number *attempt* + 1."""
        if hint is not None:
            base = min(max(hint, self.initial), self.maximum)
        else:
            base = min(self.initial * self.factor**attempt, self.maximum)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


class Signal:
    """A push notification that something about a job changed.

    The side that receives pushes (an MQTT listener) calls :meth:`notify`; a waiting job wakes
    and checks at once. Cheap, loop-bound, many waiters.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()

    async def wait(self) -> None:
        """Wait for the next :meth:`notify` (returns at once if one is pending)."""
        await self._event.wait()
        self._event.clear()


@attrs.frozen
class ResumeToken:
    """The versioned, JSON-only description of a job, to wait for it in another process.

    ``str(token)`` is URL-safe text; :meth:`parse` reads it back. Never pickle.
    """

    platform: str
    kind: str
    data: Mapping[str, Any]
    version: int = TOKEN_VERSION

    def __str__(self) -> str:
        payload = json.dumps(
            {"v": self.version, "platform": self.platform, "kind": self.kind, "data": self.data},
            separators=(",", ":"),
            sort_keys=True,
        )
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def parse(cls, text: str, *, platform: str | None = None) -> ResumeToken:
        """Read a token made by ``str(token)``; check its platform when given."""
        try:
            padded = text + "=" * (-len(text) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
            version = payload["v"]
            token = cls(
                platform=str(payload["platform"]),
                kind=str(payload["kind"]),
                data=dict(payload["data"]),
                version=int(version),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"not a tether resume token: {text[:40]!r}") from exc
        if token.version != TOKEN_VERSION:
            raise ValidationError(
                f"resume token version {token.version} is not supported by this tether"
                f" (supports {TOKEN_VERSION})"
            )
        if platform is not None and token.platform != platform:
            raise ValidationError(
                f"resume token is for platform {token.platform!r}, not {platform!r}"
            )
        return token


ProgressCallback = Callable[[JobState[Any]], Any]


class Job(Generic[T]):
    """A handle on work that finishes later.

    Args:
        check: checks the job once and returns its :class:`JobState`.
        job_id: the platform's id.
        token: the resume token describing this job.
        cancel: asks the platform to cancel; ``None`` when it cannot.
        signal: a :class:`Signal` that pushes wake-ups (MQTT); optional.
        poll: the :class:`PollPolicy`; ``None`` to rely on ``signal`` alone.
        timeout: default deadline in seconds for :meth:`wait` (``None``: no default).
        describe: a short human name for messages (``"run 42"``).

    Example::

        job = await client.jobs.run("stirring", unit="pio1", experiment="exp")
        result = await job                       # the typed result
        result = await job.wait(timeout=30)      # or with a deadline
    """

    def __init__(
        self,
        check: Callable[[], Awaitable[JobState[T]]],
        *,
        job_id: str,
        token: ResumeToken,
        cancel: Callable[[], Awaitable[Any]] | None = None,
        signal: Signal | None = None,
        poll: PollPolicy | None = PollPolicy(),
        timeout: float | None = 600.0,
        describe: str | None = None,
    ) -> None:
        if poll is None and signal is None:
            raise ValidationError("a job needs a poll policy, a push signal, or both")
        self._check = check
        self._cancel = cancel
        self._signal = signal
        self._poll = poll
        self._timeout = timeout
        self._callbacks: list[ProgressCallback] = []
        self._last: JobState[T] | None = None
        self.id = job_id
        self.resume_token = str(token)
        self.token = token
        self.describe = describe or f"job {job_id}"

    def __repr__(self) -> str:
        status = self._last.status.value if self._last else "unchecked"
        return f"<Job {self.describe} {status}>"

    @property
    def last_state(self) -> JobState[T] | None:
        """The state seen by the most recent check (``None`` before the first)."""
        return self._last

    @property
    def cancellable(self) -> bool:
        """Whether :meth:`cancel` is supported for this job."""
        return self._cancel is not None

    def on_progress(self, callback: ProgressCallback) -> None:
        """Call *callback(state)* whenever status or progress changes during a wait."""
        self._callbacks.append(callback)

    async def status(self) -> JobState[T]:
        """Check the job once and return what was found."""
        state = await self._check()
        self._observe(state)
        return state

    async def cancel(self) -> None:
        """Ask the platform to cancel the job.

        Raises:
            TetherError: when the platform offers no way to cancel this kind of job.
        """
        if self._cancel is None:
            raise TetherError(f"{self.describe} cannot be cancelled on this platform")
        await self._cancel()
        if self._signal is not None:
            self._signal.notify()

    def __await__(self) -> Generator[Any, None, T]:
        return self.wait().__await__()

    async def wait(self, timeout: float | None = None, poll: PollPolicy | None = None) -> T:
        """Wait until the job ends and return its result.

        Args:
            timeout: deadline in seconds (default: the job's default timeout).
            poll: override the poll policy for this wait.

        Raises:
            JobFailedError: the job failed.
            JobCancelledError: the job was cancelled.
            JobTimeoutError: the deadline passed first (the job may still be running).
        """
        limit = self._timeout if timeout is None else timeout
        if limit is not None and limit <= 0:
            raise ValidationError(f"timeout must be > 0 seconds, got {limit}")
        policy = poll if poll is not None else self._poll
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                return await self._wait(policy)
        except TimeoutError:
            if not deadline.expired():
                raise
            last = self._last
            raise JobTimeoutError(
                f"{self.describe} did not finish within {limit}s"
                + (f" (last status: {last.raw_status or last.status.value})" if last else ""),
                job_id=self.id,
                status=last.raw_status if last else None,
                detail=last.detail if last else None,
            ) from None

    async def _wait(self, policy: PollPolicy | None) -> T:
        attempt = 0
        while True:
            state = await self.status()
            if state.status.done:
                return self._outcome(state)
            delay = None if policy is None else policy.delay(attempt, state.retry_after)
            attempt += 1
            if self._signal is None:
                await asyncio.sleep(delay if delay is not None else 0)
            else:
                try:
                    async with asyncio.timeout(delay):
                        await self._signal.wait()
                except TimeoutError:
                    pass

    def _observe(self, state: JobState[T]) -> None:
        previous = self._last
        self._last = state
        if not self._callbacks:
            return
        if previous is not None and (previous.status, previous.raw_status, previous.progress) == (
            state.status,
            state.raw_status,
            state.progress,
        ):
            return
        for callback in self._callbacks:
            try:
                callback(state)
            except Exception:
                logger.exception("progress callback of %s raised", self.describe)

    def _outcome(self, state: JobState[T]) -> T:
        word = state.raw_status or state.status.value
        if state.status is JobStatus.SUCCEEDED:
            return state.result  # type: ignore[return-value]  # SUCCEEDED carries the result
        if state.status is JobStatus.CANCELLED:
            raise JobCancelledError(
                f"{self.describe} was cancelled" + (f": {state.error}" if state.error else ""),
                job_id=self.id,
                status=word,
                detail=state.detail,
            )
        raise JobFailedError(
            f"{self.describe} failed" + (f": {state.error}" if state.error else f" ({word})"),
            job_id=self.id,
            status=word,
            detail=state.detail,
        )


class BlockingJob(Facade[Job[T]], mirrors=Job):
    """The blocking handle on a :class:`Job`: same methods, they block.

    Example::

        job = client.jobs.run("stirring", unit="pio1", experiment="exp")
        result = job.wait(timeout=30)
    """

    id: str
    resume_token: str
    token: ResumeToken
    describe: str

    def wait(self, timeout: float | None = None, poll: PollPolicy | None = None) -> T:
        """Wait until the job ends and return its result (see :meth:`Job.wait`)."""
        return self._run(self._wrapped.wait, timeout, poll)

    def status(self) -> JobState[T]:
        """Check the job once and return what was found."""
        return self._run(self._wrapped.status)

    def cancel(self) -> None:
        """Ask the platform to cancel the job."""
        self._run(self._wrapped.cancel)

    def on_progress(self, callback: ProgressCallback) -> None:
        """Call *callback(state)* whenever status or progress changes during a wait.

        The callback runs on tether's loop thread; keep it short.
        """
        self._wrapped.on_progress(callback)

    @property
    def last_state(self) -> JobState[T] | None:
        """The state seen by the most recent check."""
        return self._wrapped.last_state

    @property
    def cancellable(self) -> bool:
        """Whether :meth:`cancel` is supported for this job."""
        return self._wrapped.cancellable

    def __repr__(self) -> str:
        return repr(self._wrapped).replace("<Job", "<BlockingJob", 1)


# --- operations that finish later, declared once ---------------------------------------------

R = TypeVar("R")
P = ParamSpec("P")


class JobMethod(Generic[R, P, T]):
    """Declares an operation that finishes later.

    Decorate an ``async def`` that *starts* the work and returns its :class:`Job`. Calling the
    attribute waits for the result (the common path); ``.start(...)`` returns the job instead,
    to await later, watch progress, cancel or hand on as a resume token::

        class AsyncJobs(AsyncResource):
            @JobMethod
            async def running(self, unit: str = "$broadcast") -> Job[FanOut[list[RunningJob]]]:
                ...

        jobs = await client.jobs.running()                # the result
        job = await client.jobs.running.start("pio1")     # the Job
    """

    def __init__(self, start: Callable[Concatenate[R, P], Awaitable[Job[T]]]) -> None:
        self.start_function = start
        self.__doc__ = start.__doc__
        self.__name__ = start.__name__
        self.__qualname__ = start.__qualname__
        self.__wrapped__ = start

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: R, owner: type[Any]) -> BoundJobMethod[P, T]: ...

    def __get__(self, instance: R | None, owner: type[Any]) -> Self | BoundJobMethod[P, T]:
        if instance is None:
            return self
        return BoundJobMethod(self, instance)


class BoundJobMethod(Generic[P, T]):
    """A :class:`JobMethod` bound to its resource: call it for the result, or ``start()``."""

    def __init__(self, method: JobMethod[Any, P, T], instance: Any) -> None:
        self._method = method
        self._instance = instance
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__

    async def start(self, *args: P.args, **kwargs: P.kwargs) -> Job[T]:
        """Start the operation and return its :class:`Job` without waiting."""
        return await self._method.start_function(self._instance, *args, **kwargs)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        job = await self._method.start_function(self._instance, *args, **kwargs)
        return await job.wait()

    def __repr__(self) -> str:
        return f"<job method {self._method.__qualname__} of {self._instance!r}>"


class BlockingJobMethod(Generic[P, T]):
    """The blocking twin of a :class:`JobMethod`; declare it in the facade class::

        class Jobs(Facade[AsyncJobs], mirrors=AsyncJobs):
            running = BlockingJobMethod(AsyncJobs.running)

    ``client.jobs.running()`` returns the result; ``client.jobs.running.start()`` returns a
    :class:`BlockingJob`.
    """

    def __init__(self, method: JobMethod[Any, P, T]) -> None:
        self.method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__
        self.__wrapped__ = method.start_function

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: Facade[Any], owner: type[Any]) -> BoundBlockingJobMethod[P, T]: ...

    def __get__(
        self, instance: Facade[Any] | None, owner: type[Any]
    ) -> Self | BoundBlockingJobMethod[P, T]:
        if instance is None:
            return self
        bound: BoundJobMethod[P, T] = BoundJobMethod(self.method, instance._wrapped)
        return BoundBlockingJobMethod(bound)


class BoundBlockingJobMethod(Generic[P, T]):
    """A :class:`BlockingJobMethod` bound to its facade."""

    def __init__(self, bound: BoundJobMethod[P, T]) -> None:
        self._bound = bound
        self.__doc__ = bound.__doc__

    def start(self, *args: P.args, **kwargs: P.kwargs) -> BlockingJob[T]:
        """Start the operation and return its :class:`BlockingJob` without waiting."""
        job = loop_thread().run(self._bound.start, *args, **kwargs)
        return BlockingJob(job)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return loop_thread().run(self._bound, *args, **kwargs)
