"""Confirmations: which notifications a command waits for, and the Jobs that wait (§11.3).

Each awaited response is an :class:`Expected` (success code, failure code, pipeline, and for
instance-level codes the signature and instance). A :class:`Confirmation` groups the responses
one command needs; it is registered *before* the command is published, fed every notification
by the session, and resolved by push: on the last success it applies the staged change, on a
failure code it records the reason. Matching follows the official SDK (integer code, pipeline
name exact, signature case-insensitive) and adds the node: the notification must come from the
pipeline's node (``EE_SENDER``, verified by default) with its alias (or address) in the path.

:class:`TrackedJob` is a :class:`tether.Job` driven only by those pushes (``poll=None``); its
timeouts and failures are raised as the typed errors of :mod:`tether.ratio1.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs

from tether._core.errors import JobFailedError, JobTimeoutError
from tether._core.jobs import Job, JobState, PollPolicy, ResumeToken, Signal
from tether.ratio1._jsonutil import as_dict, as_list
from tether.ratio1._protocol.constants import NOTIFICATION_CODES
from tether.ratio1.errors import ConfirmationFailedError, ConfirmationTimeoutError
from tether.ratio1.models import Notification

__all__ = [
    "Confirmation",
    "ConfirmationRegistry",
    "Expected",
    "TrackedJob",
    "archive_ok",
    "command_ok",
    "config_ok",
    "pipeline_ok",
]

T = TypeVar("T")
logger = logging.getLogger("tether.ratio1")
PLATFORM: Final = "ratio1"


@attrs.frozen(slots=True)
class Expected:
    """One awaited response: a success code and its failure code, for a pipeline or instance."""

    ok: int
    fail: int
    pipeline: str
    signature: str | None = None
    instance: str | None = None

    def describe(self) -> str:
        """``"PLUGIN_CONFIG_OK pipe/SIG/inst"``."""
        tag = NOTIFICATION_CODES.TAGS.get(self.ok, str(self.ok))
        where = self.pipeline
        if self.signature is not None:
            where += f"/{self.signature}/{self.instance}"
        return f"{tag} {where}"

    def matches(self, notification: Notification) -> bool:
        """Whether *notification* concerns this response (the code is checked by the caller)."""
        if notification.pipeline != self.pipeline:
            return False
        if self.signature is None:
            return True  # pipeline-level: path[2] and path[3] are not checked (§11.3)
        return (
            notification.signature is not None
            and notification.signature.upper() == self.signature
            and notification.instance == self.instance
        )


def pipeline_ok(pipeline: str) -> Expected:
    """``PIPELINE_OK`` (1) / ``PIPELINE_FAILED`` (-1)."""
    return Expected(NOTIFICATION_CODES.PIPELINE_OK, NOTIFICATION_CODES.PIPELINE_FAILED, pipeline)


def config_ok(pipeline: str, signature: str, instance: str) -> Expected:
    """``PLUGIN_CONFIG_OK`` (100) / ``PLUGIN_CONFIG_FAILED`` (-100)."""
    return Expected(
        NOTIFICATION_CODES.PLUGIN_CONFIG_OK,
        NOTIFICATION_CODES.PLUGIN_CONFIG_FAILED,
        pipeline,
        signature.upper(),
        instance,
    )


def command_ok(pipeline: str, signature: str, instance: str) -> Expected:
    """``PLUGIN_INSTANCE_COMMAND_OK`` (101) / ``..._FAILED`` (-101)."""
    return Expected(
        NOTIFICATION_CODES.PLUGIN_INSTANCE_COMMAND_OK,
        NOTIFICATION_CODES.PLUGIN_INSTANCE_COMMAND_FAILED,
        pipeline,
        signature.upper(),
        instance,
    )


def archive_ok(pipeline: str) -> Expected:
    """``PIPELINE_ARCHIVE_OK`` (4) / ``PIPELINE_ARCHIVE_FAILED`` (-4)."""
    return Expected(
        NOTIFICATION_CODES.PIPELINE_ARCHIVE_OK, NOTIFICATION_CODES.PIPELINE_ARCHIVE_FAILED, pipeline
    )


class Confirmation:
    """The responses one command waits for, resolved by pushed notifications.

    Attributes:
        node: the node address the responses must come from.
        pending: responses not received yet.
        failure: ``(code, reason)`` once a failure code arrived.
        started: loop times (``finished`` is ``None`` until resolved).
        finished: loop times (``finished`` is ``None`` until resolved).
    """

    def __init__(
        self,
        *,
        node: str,
        expected: Iterable[Expected],
        timeout: float,
        signal: Signal,
        on_success: Callable[[], None] | None = None,
        on_failure: Callable[[int, str], None] | None = None,
        reports: Mapping[Expected, Mapping[str, Any]] | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.node = node
        self.expected: tuple[Expected, ...] = tuple(dict.fromkeys(expected))
        self.pending: set[Expected] = set(self.expected)
        self.received: list[int] = []
        self.failure: tuple[int, str] | None = None
        self.started = loop.time()
        self.deadline = self.started + timeout
        self.finished: float | None = None
        self.signal = signal
        self._on_success = on_success
        self._on_failure = on_failure
        self._reports: dict[Expected, Mapping[str, Any]] = dict(reports or {})

    def __repr__(self) -> str:
        state = "failed" if self.failure else "done" if self.done else "waiting"
        return f"<Confirmation {state} missing={self.missing}>"

    @property
    def done(self) -> bool:
        """Every response arrived."""
        return not self.pending and self.failure is None

    @property
    def resolved(self) -> bool:
        """Done or failed."""
        return self.failure is not None or not self.pending

    @property
    def missing(self) -> list[str]:
        """The responses still awaited, described."""
        return [e.describe() for e in self.expected if e in self.pending]

    @property
    def elapsed(self) -> float:
        """Seconds from registration to resolution (or to now)."""
        end = self.finished if self.finished is not None else asyncio.get_running_loop().time()
        return end - self.started

    def feed(self, notification: Notification) -> bool:
        """Take a notification from this node; return whether it resolved this confirmation."""
        code = notification.code
        if code is None or self.resolved:
            return False
        changed = False
        for expected in list(self.pending):
            if not expected.matches(notification):
                continue
            if code == expected.ok:
                self.pending.discard(expected)
                self.received.append(code)
                changed = True
            elif code == expected.fail:
                text = notification.message if expected.signature is None else notification.info
                if text is None:
                    text = notification.message if notification.message is not None else ""
                reason = text if isinstance(text, str) else repr(text)
                self.failure = (code, reason or NOTIFICATION_CODES.TAGS.get(code, str(code)))
                changed = True
                break
        if not changed:
            return False
        if self.resolved:
            self._resolve()
        self.signal.notify()
        return self.resolved

    def feed_report(
        self,
        pipelines: Mapping[str, Mapping[str, Any]],
        statuses: Sequence[Mapping[str, Any]],
        received: float,
    ) -> bool:
        """Take the node's own report (``SET_CONFIG``) of its pipelines and plugin statuses.

        A ``PLUGIN_CONFIG_OK`` still awaited is satisfied when the node, in a report received
        after the command, lists the instance with the configuration that was sent *and* a
        status showing an execution after its last (re)configuration: what code 100 says.
        This is what lets a deploy be retried after its confirmation was lost: a node does not
        send code 100 again for an instance whose configuration did not change.
        """
        if self.resolved or received < self.started or not self._reports:
            return False
        changed = False
        for expected, sent in self._reports.items():
            if expected not in self.pending:
                continue
            if _reported_running(expected, sent, pipelines, statuses):
                self.pending.discard(expected)
                self.received.append(expected.ok)
                changed = True
        if not changed:
            return False
        if self.resolved:
            self._resolve()
        self.signal.notify()
        return self.resolved

    def _resolve(self) -> None:
        self.finished = asyncio.get_running_loop().time()
        try:
            if self.failure is not None:
                if self._on_failure is not None:
                    self._on_failure(*self.failure)
            elif self._on_success is not None:
                self._on_success()
        except Exception:
            logger.exception("applying a confirmation failed")


def _reported_running(
    expected: Expected,
    sent: Mapping[str, Any],
    pipelines: Mapping[str, Mapping[str, Any]],
    statuses: Sequence[Mapping[str, Any]],
) -> bool:
    pipeline = pipelines.get(expected.pipeline)
    if pipeline is None:
        return False
    found: Mapping[str, Any] | None = None
    for plugin in as_list(pipeline.get("PLUGINS")):
        entry = as_dict(plugin)
        if entry is None or str(entry.get("SIGNATURE", "")).upper() != expected.signature:
            continue
        for item in as_list(entry.get("INSTANCES")):
            config = as_dict(item)
            if config is not None and config.get("INSTANCE_ID") == expected.instance:
                found = config
    if found is None or any(found.get(k) != v for k, v in sent.items()):
        return False
    for status in statuses:
        if (
            status.get("STREAM_ID") == expected.pipeline
            and str(status.get("SIGNATURE", "")).upper() == expected.signature
            and status.get("INSTANCE_ID") == expected.instance
        ):
            executed = status.get("EXEC_TIMESTAMP")
            configured = status.get("LAST_CONFIG_TIMESTAMP")
            if isinstance(executed, str) and (
                not isinstance(configured, str) or executed >= configured
            ):
                return True
    return False


class ConfirmationRegistry:
    """The session's open confirmations, fed every notification."""

    def __init__(self) -> None:
        self._open: list[Confirmation] = []

    def __len__(self) -> int:
        return len(self._open)

    def add(self, confirmation: Confirmation) -> None:
        """Register (before the command is published)."""
        self._open.append(confirmation)

    def discard(self, confirmation: Confirmation) -> None:
        """Forget a confirmation (its wait ended)."""
        if confirmation in self._open:
            self._open.remove(confirmation)

    def feed(self, notification: Notification, alias_matches: Callable[[str], bool]) -> None:
        """Offer *notification* to every open confirmation of its node; purge expired ones."""
        if not self._open:
            return
        now = asyncio.get_running_loop().time()
        keep: list[Confirmation] = []
        for confirmation in self._open:
            if confirmation.resolved:
                continue
            if now > confirmation.deadline:
                confirmation.signal.notify()  # a late reply is ignored, like the official SDK
                continue
            if notification.node == confirmation.node and alias_matches(confirmation.node):
                confirmation.feed(notification)
                if confirmation.resolved:
                    continue
            keep.append(confirmation)
        self._open = keep

    def feed_report(
        self,
        node: str,
        pipelines: Mapping[str, Mapping[str, Any]],
        statuses: Sequence[Mapping[str, Any]],
    ) -> None:
        """Offer a node's ``SET_CONFIG`` report to its open confirmations."""
        if not self._open:
            return
        received = asyncio.get_running_loop().time()
        for confirmation in self._open:
            if confirmation.node == node:
                confirmation.feed_report(pipelines, statuses, received)
        self._open = [c for c in self._open if not c.resolved]

    def close(self) -> None:
        """Forget everything and wake the waiters (the session is closing)."""
        for confirmation in self._open:
            confirmation.signal.notify()
        self._open.clear()


class TrackedJob(Job[T]):
    """A push-driven :class:`~tether.Job` whose errors are the typed Ratio1 errors.

    Args:
        check: returns the current :class:`~tether.JobState` (never blocks).
        signal: notified on every relevant event.
        timeout: the default deadline of :meth:`wait`.
        describe: ``"deploy of pipeline 'p' on node-01"``.
        kind: the resume token kind (``deploy``, ``command``, ``close``, ``exec``...).
        on_timeout: builds the timeout error (it sees the last state).
        on_failure: builds the failure error from the generic one.
        data: what the resume token records (informative: a confirmation cannot be resumed in
            another process, since the notification is pushed to this session only).
    """

    def __init__(
        self,
        check: Callable[[], Awaitable[JobState[T]]],
        *,
        signal: Signal,
        timeout: float,
        describe: str,
        kind: str,
        on_timeout: Callable[[JobTimeoutError], ConfirmationTimeoutError],
        on_failure: Callable[[JobFailedError], ConfirmationFailedError],
        data: dict[str, Any] | None = None,
    ) -> None:
        job_id = uuid.uuid4().hex[:16]
        super().__init__(
            check,
            job_id=job_id,
            token=ResumeToken(PLATFORM, kind, data or {}),
            signal=signal,
            poll=None,
            timeout=timeout,
            describe=describe,
        )
        self._on_timeout = on_timeout
        self._on_failure = on_failure

    async def wait(self, timeout: float | None = None, poll: PollPolicy | None = None) -> T:
        """Wait until confirmed and return the result.

        Raises:
            ConfirmationTimeoutError: (a subclass of it) not confirmed within *timeout*.
            ConfirmationFailedError: (a subclass of it) the node answered with a failure code.
            JobCancelledError: the session was closed first.
        """
        try:
            return await super().wait(timeout, poll)
        except (ConfirmationTimeoutError, ConfirmationFailedError):
            raise
        except JobTimeoutError as exc:
            raise self._on_timeout(exc) from None
        except JobFailedError as exc:
            raise self._on_failure(exc) from None


def finished_job(value: T, *, describe: str, kind: str) -> Job[T]:
    """A job that is already done (nothing had to be sent or awaited)."""

    async def check() -> JobState[T]:
        from tether._core.jobs import JobStatus

        return JobState(JobStatus.SUCCEEDED, raw_status="done", result=value)

    return Job(
        check,
        job_id=uuid.uuid4().hex[:16],
        token=ResumeToken(PLATFORM, kind, {}),
        signal=Signal(),
        poll=None,
        describe=describe,
    )
