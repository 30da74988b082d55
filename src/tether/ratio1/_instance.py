"""Plugin instances: staged configuration, callbacks, instance commands (§12).

Changes to an instance are *staged* locally (no traffic) and sent by ``pipeline.deploy()``.
Instance commands are sent at once and confirmed by codes 1 + 101, as a :class:`tether.Job`::

    instance = pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
    await pipeline.deploy()
    await instance.send_instance_command("RESTART")
    reply = await instance.send_instance_command_and_wait_for_response_payload("PING")
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import attrs

from tether._core.blocking import Facade
from tether._core.errors import JobFailedError, JobTimeoutError
from tether._core.jobs import BlockingJobMethod, Job, JobMethod, JobState, JobStatus, Progress
from tether.ratio1._confirmations import (
    Confirmation,
    TrackedJob,
    command_ok,
    finished_job,
    pipeline_ok,
)
from tether.ratio1._protocol.constants import COMMANDS, PAYLOAD_DATA
from tether.ratio1._validation import check_config, upper_keys
from tether.ratio1.errors import (
    CommandFailedError,
    CommandTimeoutError,
    ConfirmationFailedError,
    ConfirmationTimeoutError,
    ResponseTimeoutError,
)
from tether.ratio1.models import InstanceStatus, Notification, Payload

if TYPE_CHECKING:
    from tether.ratio1._pipeline import AsyncPipeline, Pipeline

__all__ = ["AsyncInstance", "Instance", "InstanceDataCallback", "InstanceNotificationCallback"]

logger = logging.getLogger("tether.ratio1")

InstanceDataCallback = Callable[["AsyncPipeline", Payload], object]
"""``on_data(pipeline, payload)`` of an instance."""
InstanceNotificationCallback = Callable[["AsyncPipeline", Notification], object]
"""``on_notification(pipeline, notification)`` of an instance."""

P = ParamSpec("P")
R = TypeVar("R")


@attrs.define(eq=False)
class _ResponseWaiter:
    key: str
    uid: str
    payload: Payload | None = None


class AsyncInstance:
    """One plugin instance of an :class:`AsyncPipeline`. Create it through the pipeline.

    Attributes:
        pipeline: the pipeline it belongs to.
        signature: the plugin signature (upper case).
        instance_id: the instance id.
        config: the configuration the node confirmed (without ``INSTANCE_ID``).
        proposed_config: staged changes not deployed (or not confirmed) yet, or ``None``.
        last_known_status: the last ``PLUGIN_STATUSES`` item the node reported.
    """

    def __init__(
        self,
        pipeline: AsyncPipeline,
        *,
        signature: str,
        instance_id: str,
        config: Mapping[str, Any] | None = None,
        on_data: InstanceDataCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
        is_attached: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.signature = signature.upper()
        self.instance_id = instance_id
        self.config: dict[str, Any] = {}
        self.proposed_config: dict[str, Any] | None = None
        if is_attached:
            self.config = {k: v for k, v in (config or {}).items() if k != "INSTANCE_ID"}
        else:
            self.proposed_config = {k: v for k, v in (config or {}).items() if k != "INSTANCE_ID"}
        self._deployed = is_attached
        self._sent = is_attached
        self._removal_pending = False
        self._on_data: list[InstanceDataCallback] = [on_data] if on_data is not None else []
        self._on_notification: list[InstanceNotificationCallback] = (
            [on_notification] if on_notification is not None else []
        )
        self._temporary: dict[object, tuple[Any, Any]] = {}
        self._waiters: list[_ResponseWaiter] = []
        self._last_ok: bool | None = None
        self.last_known_status: dict[str, Any] | None = None
        self._facade: Instance | None = None

    def __repr__(self) -> str:
        return (
            f"<AsyncInstance {self.pipeline.node_addr}/{self.pipeline.name}/{self.signature}/"
            f"{self.instance_id}>"
        )

    # -- state ---------------------------------------------------------------------------------

    @property
    def was_last_operation_successful(self) -> bool | None:
        """``True``/``False`` once the last deploy or command was confirmed/refused; ``None``
        while waiting (or before any)."""
        return self._last_ok

    @property
    def deployed(self) -> bool:
        """The node confirmed this instance at least once (or it was attached)."""
        return self._deployed

    @property
    def tainted(self) -> bool:
        """There are staged changes to deploy."""
        return self.proposed_config is not None

    def full_config(self) -> dict[str, Any]:
        """``{"INSTANCE_ID": ..., **config, **proposed_config}``: what a deploy would send."""
        return {"INSTANCE_ID": self.instance_id, **self.config, **(self.proposed_config or {})}

    def _apply(self, sent: Mapping[str, Any]) -> None:
        """The node confirmed *sent*: make it the applied config, keep later changes staged."""
        self.config.update(sent)
        self._deployed = True
        self._last_ok = True
        proposed = self.proposed_config
        if proposed is not None:
            for key, value in sent.items():
                if key in proposed and proposed[key] == value:
                    del proposed[key]
            if not proposed:
                self.proposed_config = None

    def get_status(self) -> InstanceStatus | None:
        """The last status the node reported for this instance (``SET_CONFIG``), or ``None``.

        Ask for a fresh one with ``await session.wait_for_node_configs(node)``.
        """
        if self.last_known_status is None:
            return None
        return InstanceStatus(self.signature, self.instance_id, dict(self.last_known_status))

    # -- staging (no traffic) ------------------------------------------------------------------

    def update_instance_config(
        self, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Stage configuration changes (merged over the current config; nothing is sent).

        Keys are upper-cased. Values equal to the applied config are dropped. ``deploy()``
        sends them.

        Raises:
            ValidationError: the config is not JSON-serialisable.
        """
        self.pipeline._check_open()
        staged = upper_keys(check_config(config, "config"))
        staged.update(upper_keys(check_config(kwargs, "kwargs")))
        proposed = {**(self.proposed_config or {}), **staged}
        for key, value in self.config.items():
            if key in proposed and proposed[key] == value:
                del proposed[key]
        proposed.pop("INSTANCE_ID", None)
        self.proposed_config = proposed or None

    def close(self) -> None:
        """Stage the removal of this instance (sent by the next ``deploy()``)."""
        self.pipeline.remove_plugin_instance(self)

    def stop(self) -> None:
        """Alias of :meth:`close`."""
        self.close()

    # -- callbacks -------------------------------------------------------------------------------

    def temporary_attach(
        self,
        on_data: InstanceDataCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
    ) -> object:
        """Add callbacks until :meth:`temporary_detach`; returns the attachment token."""
        attachment = object()
        self._temporary[attachment] = (on_data, on_notification)
        return attachment

    def temporary_detach(self, attachment: object) -> None:
        """Remove the callbacks added by :meth:`temporary_attach` (idempotent)."""
        self._temporary.pop(attachment, None)

    def _dispatch_payload(self, payload: Payload) -> None:
        session = self.pipeline.session
        for callback in self._on_data:
            session._call(callback, self.pipeline, payload)
        for on_data, _ in list(self._temporary.values()):
            if on_data is not None:
                session._call(on_data, self.pipeline, payload)
        if self._waiters:
            for waiter in self._waiters:
                if waiter.payload is not None:
                    continue
                params = payload.data.get(waiter.key)
                if isinstance(params, dict) and params.get("SDK_REQUEST") == waiter.uid:  # pyright: ignore[reportUnknownMemberType]
                    waiter.payload = payload
                    self.pipeline._signal.notify()

    def _dispatch_notification(self, notification: Notification) -> None:
        session = self.pipeline.session
        for callback in self._on_notification:
            session._call(callback, self.pipeline, notification)
        for _, on_notification in list(self._temporary.values()):
            if on_notification is not None:
                session._call(on_notification, self.pipeline, notification)

    # -- commands --------------------------------------------------------------------------------

    async def _send_command(
        self,
        command: str | Mapping[str, Any],
        payload: Mapping[str, Any] | None,
        command_params: Mapping[str, Any] | None,
        session_id: str | None,
        timeout: float,
        register: bool,
    ) -> Confirmation | None:
        pipeline = self.pipeline
        pipeline._check_open()
        params = check_config(command_params, "command_params")
        body: dict[str, Any]
        if isinstance(command, str):
            if not command:
                from tether._core.errors import ValidationError

                raise ValidationError("command must not be empty")
            params[command] = True
            body = {}
        else:
            body = check_config(command, "command")
        body.update(check_config(payload, "payload"))
        body[COMMANDS.COMMAND_PARAMS] = params
        message = {
            PAYLOAD_DATA.NAME: pipeline.name,
            PAYLOAD_DATA.SIGNATURE: self.signature,
            PAYLOAD_DATA.INSTANCE_ID: self.instance_id,
            PAYLOAD_DATA.INSTANCE_CONFIG: {COMMANDS.INSTANCE_COMMAND: body},
        }
        confirmation: Confirmation | None = None
        if register:
            confirmation = pipeline.session._register(
                node=pipeline.node_addr,
                expected=[
                    pipeline_ok(pipeline.name),
                    command_ok(pipeline.name, self.signature, self.instance_id),
                ],
                timeout=timeout,
                signal=pipeline._signal,
                on_success=self._command_succeeded,
                on_failure=self._command_failed,
            )
        self._last_ok = None
        try:
            await pipeline.session._send_command(
                pipeline.node_addr,
                COMMANDS.UPDATE_PIPELINE_INSTANCE,
                message,
                session_id=session_id,
            )
        except BaseException:
            if confirmation is not None:
                pipeline.session._confirmations.discard(confirmation)
            raise
        return confirmation

    def _command_succeeded(self) -> None:
        self._last_ok = True

    def _command_failed(self, code: int, reason: str) -> None:
        self._last_ok = False
        logger.warning(
            "instance command on %s/%s/%s failed (%d): %s",
            self.pipeline.name,
            self.signature,
            self.instance_id,
            code,
            reason,
        )

    def _describe(self, what: str) -> str:
        return f"{what} on {self.pipeline.name}/{self.signature}/{self.instance_id}"

    @JobMethod
    async def send_instance_command(
        self,
        command: str | Mapping[str, Any],
        payload: Mapping[str, Any] | None = None,
        command_params: Mapping[str, Any] | None = None,
        wait_confirmation: bool = True,
        session_id: str | None = None,
        timeout: float = 10,
    ) -> Job[None]:
        """Send an instance command; the job ends when the node confirms it (codes 1 + 101).

        The wire carries ``INSTANCE_COMMAND: {**payload, "COMMAND_PARAMS": {command: True,
        **command_params}}`` (a dict *command* is used as the base instead).
        ``await instance.send_instance_command(...)`` waits; ``.start(...)`` returns the Job.
        With ``wait_confirmation=False`` the job ends once the command is published.

        Raises:
            CommandTimeoutError: not confirmed within *timeout* seconds.
            CommandFailedError: the node answered ``-1`` / ``-101``.
            ValidationError: a payload that is not JSON-serialisable.
        """
        describe = self._describe(f"command {command!r}")
        confirmation = await self._send_command(
            command, payload, command_params, session_id, timeout, register=wait_confirmation
        )
        if confirmation is None:
            return finished_job(None, describe=describe, kind="command")
        session = self.pipeline.session

        async def check() -> JobState[None]:
            if session.closed:
                return JobState(JobStatus.CANCELLED, error="the session was closed")
            if confirmation.failure is not None:
                return _failed(confirmation)
            if confirmation.done:
                return JobState(JobStatus.SUCCEEDED, raw_status="confirmed")
            return _running(confirmation)

        return TrackedJob(
            check,
            signal=self.pipeline._signal,
            timeout=timeout,
            describe=describe,
            kind="command",
            on_timeout=_timeout_factory(CommandTimeoutError, confirmation, session),
            on_failure=_failure_factory(CommandFailedError, confirmation),
            data={"node": self.pipeline.node_addr, "pipeline": self.pipeline.name},
        )

    @JobMethod
    async def send_instance_command_and_wait_for_response_payload(
        self,
        command: str | Mapping[str, Any],
        payload: Mapping[str, Any] | None = None,
        command_params: Mapping[str, Any] | None = None,
        timeout_command: float = 10,
        timeout_response_payload: float = 3,
        response_params_key: str = "COMMAND_PARAMS",
    ) -> Job[Payload]:
        """Send an instance command with an ``SDK_REQUEST`` id and wait for the payload that
        echoes it in ``payload[response_params_key]["SDK_REQUEST"]``.

        Like the official SDK, the command confirmation is awaited up to *timeout_command*
        seconds, then the response up to *timeout_response_payload* seconds more; the job
        returns the response :class:`Payload` (the official SDK returns ``None`` on timeout).

        Raises:
            CommandTimeoutError: the command was not confirmed (codes 1 + 101) in time.
            ResponseTimeoutError: confirmed, but no response payload arrived in time.
            CommandFailedError: the node refused the command.
        """
        uid = uuid.uuid4().hex[:8]
        body = check_config(payload, "payload")
        body["SDK_REQUEST"] = uid
        waiter = _ResponseWaiter(response_params_key, uid)
        self._waiters.append(waiter)
        timeout = timeout_command + timeout_response_payload
        try:
            confirmation = await self._send_command(
                command, body, command_params, None, timeout_command, register=True
            )
        except BaseException:
            self._waiters.remove(waiter)
            raise
        assert confirmation is not None
        session = self.pipeline.session
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        describe = self._describe(f"command {command!r}")
        answer_by: float | None = None
        wake = self.pipeline._signal.notify
        loop.call_later(max(confirmation.deadline - loop.time(), 0) + 0.001, wake)

        def no_response() -> ResponseTimeoutError:
            return ResponseTimeoutError(
                f"{describe} was confirmed but no response payload echoed SDK_REQUEST {uid!r} "
                f"within {timeout_response_payload:g}s",
                missing=[f"payload with {response_params_key}.SDK_REQUEST={uid}"],
            )

        async def check() -> JobState[Payload]:
            nonlocal answer_by
            if session.closed:
                self._drop_waiter(waiter)
                return JobState(JobStatus.CANCELLED, error="the session was closed")
            if confirmation.failure is not None:
                self._drop_waiter(waiter)
                return _failed(confirmation)
            if confirmation.done and waiter.payload is not None:
                self._drop_waiter(waiter)
                return JobState(JobStatus.SUCCEEDED, raw_status="answered", result=waiter.payload)
            if loop.time() > deadline:
                self._drop_waiter(waiter)
            if not confirmation.done:
                if loop.time() >= confirmation.deadline:
                    self._drop_waiter(waiter)
                    late = JobTimeoutError(
                        f"{describe} was not confirmed within {timeout_command:g}s"
                    )
                    raise _timeout_factory(CommandTimeoutError, confirmation, session)(late)
                return _running(confirmation)
            # like the official SDK: the response is awaited for timeout_response_payload
            # seconds after the confirmations
            if answer_by is None:
                answer_by = (confirmation.finished or loop.time()) + timeout_response_payload
                loop.call_later(max(answer_by - loop.time(), 0) + 0.001, wake)
            if loop.time() >= answer_by:
                self._drop_waiter(waiter)
                raise no_response()
            return JobState(JobStatus.RUNNING, raw_status="waiting for the response payload")

        def on_timeout(exc: JobTimeoutError) -> ConfirmationTimeoutError:
            self._drop_waiter(waiter)
            if confirmation.done:
                return no_response()
            return _timeout_factory(CommandTimeoutError, confirmation, session)(exc)

        return TrackedJob(
            check,
            signal=self.pipeline._signal,
            timeout=timeout,
            describe=self._describe(f"command {command!r}"),
            kind="command_response",
            on_timeout=on_timeout,
            on_failure=_failure_factory(CommandFailedError, confirmation),
            data={"node": self.pipeline.node_addr, "pipeline": self.pipeline.name, "uid": uid},
        )

    def _drop_waiter(self, waiter: _ResponseWaiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)


# --- shared job helpers --------------------------------------------------------------------------


def _running(confirmation: Confirmation) -> JobState[Any]:
    total = len(confirmation.expected)
    return JobState(
        JobStatus.RUNNING,
        raw_status="waiting for " + ", ".join(confirmation.missing),
        progress=Progress(total - len(confirmation.pending), total),
        detail=confirmation,
    )


def _failed(confirmation: Confirmation) -> JobState[Any]:
    assert confirmation.failure is not None
    code, reason = confirmation.failure
    from tether.ratio1._protocol.constants import NOTIFICATION_CODES

    return JobState(
        JobStatus.FAILED,
        raw_status=NOTIFICATION_CODES.TAGS.get(code, str(code)),
        error=reason,
        detail=confirmation,
    )


def _timeout_factory(
    error: type[ConfirmationTimeoutError], confirmation: Confirmation, session: Any
) -> Callable[[JobTimeoutError], ConfirmationTimeoutError]:
    def build(exc: JobTimeoutError) -> ConfirmationTimeoutError:
        if asyncio.get_running_loop().time() >= confirmation.deadline:
            session._confirmations.discard(confirmation)
        missing = confirmation.missing
        return error(
            f"{exc.message}; not received: {', '.join(missing) or 'nothing'}",
            missing=missing,
            job_id=exc.job_id,
            status=exc.status,
            detail=confirmation,
        )

    return build


def _failure_factory(
    error: type[ConfirmationFailedError], confirmation: Confirmation
) -> Callable[[JobFailedError], ConfirmationFailedError]:
    def build(exc: JobFailedError) -> ConfirmationFailedError:
        code, reason = confirmation.failure or (None, None)
        return error(exc.message, code=code, reason=reason, job_id=exc.job_id, status=exc.status)

    return build


# --- blocking twin ---------------------------------------------------------------------------


class Instance(Facade[AsyncInstance], mirrors=AsyncInstance):
    """Blocking twin of :class:`AsyncInstance`: the same methods, they block.

    Callbacks run on tether's loop thread and receive the blocking :class:`Pipeline`; keep
    them short and do not call blocking methods from them.
    """

    send_instance_command = BlockingJobMethod(AsyncInstance.send_instance_command)
    send_instance_command_and_wait_for_response_payload = BlockingJobMethod(
        AsyncInstance.send_instance_command_and_wait_for_response_payload
    )

    @property
    def pipeline(self) -> Pipeline:
        """The pipeline it belongs to."""
        from tether.ratio1._pipeline import blocking_pipeline

        return blocking_pipeline(self._wrapped.pipeline)

    @property
    def signature(self) -> str:
        """The plugin signature (upper case)."""
        return self._wrapped.signature

    @property
    def instance_id(self) -> str:
        """The instance id."""
        return self._wrapped.instance_id

    @property
    def config(self) -> dict[str, Any]:
        """The configuration the node confirmed."""
        return self._wrapped.config

    @property
    def proposed_config(self) -> dict[str, Any] | None:
        """Staged changes, or ``None``."""
        return self._wrapped.proposed_config

    @property
    def was_last_operation_successful(self) -> bool | None:
        """See :attr:`AsyncInstance.was_last_operation_successful`."""
        return self._wrapped.was_last_operation_successful

    @property
    def deployed(self) -> bool:
        """The node confirmed this instance at least once (or it was attached)."""
        return self._wrapped.deployed

    @property
    def tainted(self) -> bool:
        """There are staged changes to deploy."""
        return self._wrapped.tainted

    def full_config(self) -> dict[str, Any]:
        """``{"INSTANCE_ID": ..., **config, **proposed_config}``: what a deploy would send."""
        return self._wrapped.full_config()

    def get_status(self) -> InstanceStatus | None:
        """The last status the node reported for this instance (``SET_CONFIG``), or ``None``.

        Ask for a fresh one with ``await session.wait_for_node_configs(node)``.
        """
        return self._wrapped.get_status()

    def update_instance_config(
        self, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Stage configuration changes (merged over the current config; nothing is sent).

        Keys are upper-cased. Values equal to the applied config are dropped. ``deploy()``
        sends them.

        Raises:
            ValidationError: the config is not JSON-serialisable.
        """
        return on_loop(self._wrapped.update_instance_config, config, **kwargs)

    def close(self) -> None:
        """Stage the removal of this instance (sent by the next ``deploy()``)."""
        return on_loop(self._wrapped.close)

    def stop(self) -> None:
        """Alias of :meth:`close`."""
        return on_loop(self._wrapped.stop)

    def temporary_attach(
        self,
        on_data: Callable[[Pipeline, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
    ) -> object:
        """Add callbacks until :meth:`temporary_detach`; returns the attachment token."""
        from tether.ratio1._pipeline import blocking_callback

        return on_loop(
            self._wrapped.temporary_attach,
            blocking_callback(on_data),
            blocking_callback(on_notification),
        )

    def temporary_detach(self, attachment: object) -> None:
        """Remove the callbacks added by :meth:`temporary_attach` (idempotent)."""
        return on_loop(self._wrapped.temporary_detach, attachment)

    def __repr__(self) -> str:
        return repr(self._wrapped).replace("<AsyncInstance", "<Instance", 1)


def blocking_instance(instance: AsyncInstance) -> Instance:
    """The (cached) blocking twin of *instance*."""
    if instance._facade is None:
        instance._facade = Instance(instance)
    return instance._facade


def on_loop(function: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a synchronous method on tether's loop thread (state is only touched there)."""
    from tether._core.blocking import loop_thread

    async def call() -> R:
        return function(*args, **kwargs)

    return loop_thread().run(call)
