"""Pipelines: staged changes, confirmed deploys, ``wait_exec``, close (§11, §13–§17).

Everything you change on a pipeline or its instances is staged locally; :meth:`deploy` sends
one command (``UPDATE_CONFIG`` or ``BATCH_UPDATE_PIPELINE_INSTANCE``, chosen like the official
SDK) and its job ends when the node has confirmed every change. A deploy that is not confirmed
in time raises :class:`~tether.ratio1.DeployTimeoutError` and **keeps** the proposal, so
``await pipeline.deploy()`` again resends it (the official SDK silently discards it)::

    pipeline = await session.create_pipeline(node=node, name="demo")
    pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
    try:
        await pipeline.deploy(timeout=10)
    except DeployTimeoutError:
        await pipeline.deploy(timeout=30)     # the same change, sent again
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from tether._core.blocking import Facade
from tether._core.errors import JobTimeoutError, ValidationError
from tether._core.jobs import BlockingJobMethod, Job, JobMethod, JobState, JobStatus, Signal
from tether.ratio1._code import CustomCode, encode_custom_code
from tether.ratio1._confirmations import (
    Confirmation,
    Expected,
    TrackedJob,
    archive_ok,
    config_ok,
    finished_job,
    pipeline_ok,
)
from tether.ratio1._instance import (
    AsyncInstance,
    Instance,
    InstanceDataCallback,
    InstanceNotificationCallback,
    _failed,
    _failure_factory,
    _running,
    _timeout_factory,
    blocking_instance,
    on_loop,
)
from tether.ratio1._jsonutil import as_list
from tether.ratio1._protocol.constants import COMMANDS, PAYLOAD_DATA, PLUGIN_SIGNATURES
from tether.ratio1._validation import check_config, check_name, check_signature, upper_keys
from tether.ratio1.errors import (
    CloseFailedError,
    CloseTimeoutError,
    ConfirmationTimeoutError,
    DeployFailedError,
    DeployTimeoutError,
    ResponseTimeoutError,
    SessionClosedError,
)
from tether.ratio1.models import DeployResult, Notification, Payload

if TYPE_CHECKING:
    from tether.ratio1._session import AsyncSession

__all__ = [
    "AsyncPipeline",
    "Pipeline",
    "PipelineDataCallback",
    "PipelineNotificationCallback",
    "blocking_callback",
    "blocking_pipeline",
]

logger = logging.getLogger("tether.ratio1")
T = TypeVar("T")

PipelineDataCallback = Callable[["AsyncPipeline", "str | None", "str | None", Payload], object]
"""``on_data(pipeline, signature, instance_id, payload)`` of a pipeline."""
PipelineNotificationCallback = Callable[["AsyncPipeline", Notification], object]
"""``on_notification(pipeline, notification)`` of a pipeline."""
CustomExecCallback = Callable[["AsyncPipeline", Any, Payload], object]
"""``on_data(pipeline, exec_result, payload)`` of a ``CUSTOM_EXEC_01`` instance."""

_PLACEHOLDER_URLS = ("TUNNEL_ENGINE_DISABLED", "URL_DEFINED_IN_CLOUDFLARE_TOKEN",
                     "URL_DEFINED_IN_NGROK_EDGE_LABEL")  # fmt: skip


class AsyncPipeline:
    """A pipeline on one node. Create it with :meth:`AsyncSession.create_pipeline` (or attach).

    Attributes:
        session: the owning session.
        node_addr: the node's address.
        name: the pipeline name.
        config: the pipeline configuration the node confirmed (``TYPE``...).
        proposed_config: staged pipeline-level changes, or ``None``.
        app_url: for web apps, the URL the node reported (``APP_URL``).
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        node_addr: str,
        name: str,
        config: Mapping[str, Any] | None = None,
        plugins: Sequence[Mapping[str, Any]] = (),
        on_data: PipelineDataCallback | None = None,
        on_notification: PipelineNotificationCallback | None = None,
        is_attached: bool = False,
        webapp: bool = False,
    ) -> None:
        self.session = session
        self.node_addr = node_addr
        self.name = name
        self.config: dict[str, Any] = {}
        self.proposed_config: dict[str, Any] | None = None
        base = {
            k.upper(): v for k, v in (config or {}).items() if k.upper() not in ("NAME", "PLUGINS")
        }
        if is_attached:
            self.config = base
        else:
            self.proposed_config = base or None
        self.instances: list[AsyncInstance] = []
        self._removed: list[AsyncInstance] = []
        self._on_data: list[PipelineDataCallback] = [on_data] if on_data is not None else []
        self._on_notification: list[PipelineNotificationCallback] = (
            [on_notification] if on_notification is not None else []
        )
        self._signal = Signal()
        self._last_ok: bool | None = None
        self._closed = False
        self._webapp = webapp
        self.app_url: str | None = None
        self._exec_results: dict[str, tuple[Any, Any]] = {}
        self._last_sent: Any = None
        self._facade: Pipeline | None = None
        for plugin in plugins:
            signature = plugin.get("SIGNATURE")
            if not isinstance(signature, str):
                continue
            for raw in as_list(plugin.get("INSTANCES")):
                if not isinstance(raw, dict):
                    continue
                item = {str(k).upper(): v for k, v in cast("dict[str, Any]", raw).items()}
                instance_id = item.pop("INSTANCE_ID", None)
                if not isinstance(instance_id, str):
                    continue
                self.instances.append(
                    AsyncInstance(
                        self,
                        signature=signature,
                        instance_id=instance_id,
                        config=item,
                        is_attached=is_attached,
                    )
                )

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self.instances)} instances"
        return f"<AsyncPipeline {self.name!r} on {self.node_addr} {state}>"

    # -- state -----------------------------------------------------------------------------------

    @property
    def lst_plugin_instances(self) -> list[AsyncInstance]:
        """The instances (the official SDK's name for :attr:`instances`)."""
        return self.instances

    @property
    def node_alias(self) -> str | None:
        """The node's alias, as its heartbeats and summaries report it."""
        return self.session.get_node_alias(self.node_addr)

    @property
    def node_id(self) -> str | None:
        """Alias of :attr:`node_alias`."""
        return self.node_alias

    @property
    def was_last_operation_successful(self) -> bool | None:
        """``True``/``False`` once the last deploy or close was confirmed/refused; ``None`` while
        waiting (or before any)."""
        return self._last_ok

    @property
    def closed(self) -> bool:
        """The pipeline was archived (or its session closed)."""
        return self._closed or self.session.closed

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosedError(f"pipeline {self.name!r} was closed")
        self.session._check_open()

    def get_full_config(self) -> dict[str, Any]:
        """``{NAME, PLUGINS: [...], **config}`` as the node has it (confirmed state)."""
        plugins: dict[str, list[dict[str, Any]]] = {}
        for instance in self.instances:
            if instance.deployed:
                plugins.setdefault(instance.signature, []).append(
                    {"INSTANCE_ID": instance.instance_id, **instance.config}
                )
        return {
            "NAME": self.name,
            "PLUGINS": [{"SIGNATURE": s, "INSTANCES": i} for s, i in plugins.items()],
            **self.config,
        }

    def _proposed_pipeline(self) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for instance in self.instances:
            groups.setdefault(instance.signature, []).append(instance.full_config())
        return {
            "NAME": self.name,
            "DEFAULT_PLUGIN": False,
            "PLUGINS": [{"SIGNATURE": s, "INSTANCES": i} for s, i in groups.items()],
            **self.config,
            **(self.proposed_config or {}),
        }

    def _find(self, signature: str, instance_id: str) -> AsyncInstance | None:
        upper = signature.upper()
        for instance in self.instances:
            if instance.signature == upper and instance.instance_id == instance_id:
                return instance
        return None

    # -- staging (no traffic) --------------------------------------------------------------------

    def create_plugin_instance(
        self,
        *,
        signature: str,
        instance_id: str,
        config: Mapping[str, Any] | None = None,
        on_data: InstanceDataCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
        **kwargs: Any,
    ) -> AsyncInstance:
        """Stage a new plugin instance (sent by :meth:`deploy`).

        Config keys (``config`` and ``**kwargs``) are upper-cased.

        Raises:
            ValidationError: a malformed signature or id, a config that is not JSON, or an
                instance that already exists.
        """
        self._check_open()
        sig = check_signature(signature)
        check_name(instance_id, "instance_id")
        staged = upper_keys(check_config(config, "config"))
        staged.update(upper_keys(check_config(kwargs, "kwargs")))
        if self._find(sig, instance_id) is not None:
            raise ValidationError(f"plugin {sig} with instance {instance_id!r} already exists")
        instance = AsyncInstance(
            self,
            signature=sig,
            instance_id=instance_id,
            config=staged,
            on_data=on_data,
            on_notification=on_notification,
        )
        self.instances.append(instance)
        return instance

    def create_custom_plugin_instance(
        self,
        *,
        instance_id: str,
        custom_code: CustomCode,
        config: Mapping[str, Any] | None = None,
        on_data: CustomExecCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
        **kwargs: Any,
    ) -> AsyncInstance:
        """Stage a ``CUSTOM_EXEC_01`` instance that runs *custom_code* every ``PROCESS_DELAY``.

        *custom_code* is source text, a file path, or a function whose body is the code (the
        node binds ``plugin``). ``on_data(pipeline, exec_result, payload)`` gets each result.

        Raises:
            ValidationError: the code does not parse or uses something the nodes refuse.
        """
        code = encode_custom_code(custom_code)
        return self.create_plugin_instance(
            signature=PLUGIN_SIGNATURES.CUSTOM_EXEC_01,
            instance_id=instance_id,
            config={"CODE": code, **check_config(config, "config")},
            on_data=self._exec_callback(instance_id, on_data) if on_data is not None else None,
            on_notification=on_notification,
            **kwargs,
        )

    def _exec_callback(self, instance_id: str, on_data: CustomExecCallback) -> InstanceDataCallback:
        def callback(pipeline: AsyncPipeline, payload: Payload) -> object:
            result = payload.data.get("EXEC_RESULT", payload.data.get("EXEC_INFO"))
            error = payload.data.get("EXEC_ERRORS")
            if error is not None:
                logger.warning("CUSTOM_EXEC_01 %s reported an error: %s", instance_id, error)
            if result is not None:
                return on_data(pipeline, result, payload)
            return None

        return callback

    def create_chain_dist_custom_plugin_instance(
        self,
        *,
        main_node_process_real_time_collected_data: CustomCode,
        main_node_finish_condition: CustomCode,
        main_node_aggregate_collected_data: CustomCode,
        worker_node_code: CustomCode,
        nr_remote_worker_nodes: int,
        instance_id: str | None = None,
        worker_node_pipeline_config: Mapping[str, Any] | None = None,
        worker_node_plugin_signature: str = PLUGIN_SIGNATURES.CUSTOM_EXEC_01,
        worker_node_plugin_config: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        on_data: InstanceDataCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
        **kwargs: Any,
    ) -> AsyncInstance:
        """Stage a chain-distributed job instance (``..._CUSTOM_EXEC_CHAIN_DIST``, §18).

        Each code argument is code (as in :meth:`create_custom_plugin_instance`) or a
        :class:`~tether.ratio1.DistributedCustomCodePresets` name.
        """
        count = cast(object, nr_remote_worker_nodes)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(
                f"nr_remote_worker_nodes must be a positive integer, not {count!r}"
            )
        worker_signature = check_signature(
            worker_node_plugin_signature, "worker_node_plugin_signature"
        )
        if instance_id is None:
            instance_id = f"{self.name}_chain_dist_custom_exec_{uuid.uuid4().hex[:8]}"
        chain_config = {
            "CUSTOM_CODE_PROCESS_REAL_TIME_COLLECTED_DATA": encode_custom_code(
                main_node_process_real_time_collected_data,
                what="main_node_process_real_time_collected_data",
            ),
            "CUSTOM_CODE_FINISH_CONDITION": encode_custom_code(
                main_node_finish_condition, what="main_node_finish_condition"
            ),
            "CUSTOM_CODE_AGGREGATE_COLLECTED_DATA": encode_custom_code(
                main_node_aggregate_collected_data, what="main_node_aggregate_collected_data"
            ),
            "CUSTOM_CODE_REMOTE_NODE": encode_custom_code(
                worker_node_code, what="worker_node_code"
            ),
            "NR_REMOTE_NODES": nr_remote_worker_nodes,
            "NODE_PIPELINE_CONFIG": {
                "stream_type": "Void",
                **check_config(worker_node_pipeline_config, "worker_node_pipeline_config"),
            },
            "NODE_PLUGIN_SIGNATURE": worker_signature,
            "NODE_PLUGIN_CONFIG": check_config(
                worker_node_plugin_config, "worker_node_plugin_config"
            ),
            **check_config(config, "config"),
        }
        return self.create_plugin_instance(
            signature=PLUGIN_SIGNATURES.CHAIN_DIST_CUSTOM_JOB_01,
            instance_id=instance_id,
            config=chain_config,
            on_data=on_data,
            on_notification=on_notification,
            **kwargs,
        )

    def attach_to_plugin_instance(
        self,
        signature: str,
        instance_id: str,
        on_data: InstanceDataCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
    ) -> AsyncInstance:
        """Add callbacks to an existing instance of this pipeline and return it.

        Raises:
            ValidationError: no such instance.
        """
        instance = self._find(check_signature(signature), instance_id)
        if instance is None:
            raise ValidationError(
                f"pipeline {self.name!r} has no instance {signature.upper()}/{instance_id!r}"
            )
        if on_data is not None:
            instance._on_data.append(on_data)
        if on_notification is not None:
            instance._on_notification.append(on_notification)
        return instance

    def attach_to_custom_plugin_instance(
        self,
        instance_id: str,
        on_data: CustomExecCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
    ) -> AsyncInstance:
        """:meth:`attach_to_plugin_instance` for a ``CUSTOM_EXEC_01`` instance."""
        callback = self._exec_callback(instance_id, on_data) if on_data is not None else None
        return self.attach_to_plugin_instance(
            PLUGIN_SIGNATURES.CUSTOM_EXEC_01, instance_id, callback, on_notification
        )

    def create_or_attach_to_plugin_instance(
        self,
        *,
        signature: str,
        instance_id: str,
        config: Mapping[str, Any] | None = None,
        on_data: InstanceDataCallback | None = None,
        on_notification: InstanceNotificationCallback | None = None,
        **kwargs: Any,
    ) -> AsyncInstance:
        """Attach to the instance (and stage *config* on it) or create it."""
        existing = self._find(check_signature(signature), instance_id)
        if existing is None:
            return self.create_plugin_instance(
                signature=signature,
                instance_id=instance_id,
                config=config,
                on_data=on_data,
                on_notification=on_notification,
                **kwargs,
            )
        self.attach_to_plugin_instance(signature, instance_id, on_data, on_notification)
        existing.update_instance_config(config, **kwargs)
        return existing

    def remove_plugin_instance(self, instance: AsyncInstance) -> None:
        """Stage the removal of *instance* (sent by the next :meth:`deploy`).

        Raises:
            ValidationError: the instance is not part of this pipeline.
        """
        self._check_open()
        if instance not in self.instances:
            raise ValidationError(f"{instance!r} is not an instance of pipeline {self.name!r}")
        self.instances.remove(instance)
        if instance.deployed or instance._sent:  # the node has it, or may have it
            instance._removal_pending = True
            self._removed.append(instance)

    def detach_from_instance(self, instance: AsyncInstance) -> None:
        """Remove every callback of *instance* (it keeps running on the node)."""
        instance._on_data.clear()
        instance._on_notification.clear()
        instance._temporary.clear()

    def update_acquisition_parameters(
        self, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Stage pipeline-level (data source) changes; sent by :meth:`deploy`."""
        self._check_open()
        staged = upper_keys(check_config(config, "config"))
        staged.update(upper_keys(check_config(kwargs, "kwargs")))
        proposed = {**(self.proposed_config or {}), **staged}
        for key, value in self.config.items():
            if key in proposed and proposed[key] == value:
                del proposed[key]
        proposed.pop("NAME", None)
        proposed.pop("PLUGINS", None)
        self.proposed_config = proposed or None

    # -- message routing -------------------------------------------------------------------------

    def _dispatch_payload(self, payload: Payload) -> None:
        session = self.session
        for callback in self._on_data:
            session._call(callback, self, payload.signature, payload.instance, payload)
        data = payload.data
        if self._webapp and self.app_url is None:
            url = data.get("APP_URL", data.get("NGROK_URL"))
            if isinstance(url, str):
                self.app_url = url
                self._signal.notify()
        signature = payload.signature.upper() if payload.signature else None
        if (
            signature == PLUGIN_SIGNATURES.REST_CUSTOM_EXEC_01
            and payload.instance is not None
            and payload.instance not in self._exec_results
            and "REST_EXECUTION_RESULT" in data
            and "REST_EXECUTION_ERROR" in data
        ):
            self._exec_results[payload.instance] = (
                data["REST_EXECUTION_RESULT"],
                data["REST_EXECUTION_ERROR"],
            )
            self._signal.notify()
        for instance in self.instances:
            if instance.signature == signature and instance.instance_id == payload.instance:
                instance._dispatch_payload(payload)

    def _dispatch_notification(self, notification: Notification) -> None:
        session = self.session
        for callback in self._on_notification:
            session._call(callback, self, notification)
        signature = notification.signature.upper() if notification.signature else None
        for instance in self.instances:
            if instance.signature == signature and instance.instance_id == notification.instance:
                instance._dispatch_notification(notification)

    def _update_statuses(self, statuses: Sequence[Mapping[str, Any]]) -> None:
        for status in statuses:
            if status.get("STREAM_ID") != self.name:
                continue
            signature = status.get("SIGNATURE")
            instance_id = status.get("INSTANCE_ID")
            if isinstance(signature, str) and isinstance(instance_id, str):
                instance = self._find(signature, instance_id)
                if instance is not None:
                    instance.last_known_status = dict(status)

    # -- deploy ----------------------------------------------------------------------------------

    async def _send_deploy(
        self, *, timeout: float, with_confirmation: bool, verbose: bool = False
    ) -> tuple[str | None, Confirmation | None]:
        """Send the staged changes; return the command sent and its confirmation."""
        self._check_open()
        session = self.session
        tainted = [i for i in self.instances if i.tainted]
        removed = list(self._removed)
        pipeline_changed = self.proposed_config is not None
        if not (pipeline_changed or removed or tainted):
            return None, None
        new = [i for i in tainted if not i.deployed]
        if pipeline_changed or removed or new:
            command = COMMANDS.UPDATE_CONFIG
            payload: Any = self._proposed_pipeline()
        else:
            command = COMMANDS.BATCH_UPDATE_PIPELINE_INSTANCE
            payload = [
                {
                    PAYLOAD_DATA.NAME: self.name,
                    PAYLOAD_DATA.SIGNATURE: i.signature,
                    PAYLOAD_DATA.INSTANCE_ID: i.instance_id,
                    PAYLOAD_DATA.INSTANCE_CONFIG: {
                        "INSTANCE_ID": i.instance_id,
                        **(i.proposed_config or {}),
                    },
                }
                for i in tainted
            ]
        if verbose:
            logger.info("deploying %s to %s: %s", self.name, self.node_addr, payload)
        for instance in tainted:
            instance._sent = True
        sent_pipeline = dict(self.proposed_config or {})
        sent_instances = [(i, dict(i.proposed_config or {})) for i in tainted]
        expected: list[Expected] = []
        reports: dict[Expected, dict[str, Any]] = {}
        for instance in tainted:
            expected.append(pipeline_ok(self.name))
            wanted = config_ok(self.name, instance.signature, instance.instance_id)
            expected.append(wanted)
            reports[wanted] = instance.full_config()
        if removed or pipeline_changed:
            expected.append(pipeline_ok(self.name))

        def applied() -> None:
            self._apply(sent_pipeline, sent_instances, removed)

        def refused(code: int, reason: str) -> None:
            self._last_ok = False
            for instance, _ in sent_instances:
                instance._last_ok = False
            logger.warning("deploy of %s was refused (%d): %s", self.name, code, reason)

        confirmation: Confirmation | None = None
        if with_confirmation:
            confirmation = session._register(
                node=self.node_addr,
                expected=expected,
                timeout=timeout,
                signal=self._signal,
                on_success=applied,
                on_failure=refused,
                reports=reports,
            )
        retry = payload == self._last_sent
        self._last_sent = payload
        self._last_ok = None
        for instance, _ in sent_instances:
            instance._last_ok = None
        try:
            await session._send_command(self.node_addr, command, payload)
        except BaseException:
            if confirmation is not None:
                session._confirmations.discard(confirmation)
            raise
        if retry and confirmation is not None:
            # The node may have applied the first attempt and lost only the confirmation; it
            # will not send code 100 again for an unchanged instance: ask for its report.
            await session._request_configs([self.node_addr])
        if not with_confirmation:
            applied()
        return command, confirmation

    def _apply(
        self,
        sent_pipeline: Mapping[str, Any],
        sent_instances: Sequence[tuple[AsyncInstance, Mapping[str, Any]]],
        removed: Sequence[AsyncInstance],
    ) -> None:
        self.config.update(sent_pipeline)
        proposed = self.proposed_config
        if proposed is not None:
            for key, value in sent_pipeline.items():
                if key in proposed and proposed[key] == value:
                    del proposed[key]
            if not proposed:
                self.proposed_config = None
        for instance, sent in sent_instances:
            instance._apply(sent)
        for instance in removed:
            instance._removal_pending = False
            if instance in self._removed:
                self._removed.remove(instance)
        self._last_sent = None
        self._last_ok = True

    @JobMethod
    async def deploy(
        self,
        with_confirmation: bool = True,
        wait_confirmation: bool = True,
        timeout: float = 10,
        verbose: bool = False,
    ) -> Job[DeployResult]:
        """Send every staged change; the job ends when the node confirmed them all.

        ``UPDATE_CONFIG`` (the whole pipeline) is sent when the pipeline config changed, an
        instance was added or removed; ``BATCH_UPDATE_PIPELINE_INSTANCE`` (only the changed
        keys) when only existing instances changed; nothing when nothing is staged. Each new
        or changed instance waits for codes 1 + 100, a removal or pipeline change for 1. For a
        web app the job also waits for the node's ``APP_URL`` (``result.app_url``).

        ``await pipeline.deploy()`` waits; ``.start()`` returns the Job. With
        ``with_confirmation=False`` the change is applied locally at once (nothing awaited);
        with ``wait_confirmation=False`` the job ends once sent and the confirmation still
        applies the change when it arrives.

        Raises:
            DeployTimeoutError: not confirmed within *timeout* seconds. **The proposal is
                kept**: deploy again to resend it.
            DeployFailedError: the node answered ``-1`` / ``-100`` (the proposal is kept).
            ResponseTimeoutError: a web app was confirmed but reported no URL in time.
        """
        describe = f"deploy of pipeline {self.name!r} on {self.node_alias or self.node_addr}"
        command, confirmation = await self._send_deploy(
            timeout=timeout, with_confirmation=with_confirmation, verbose=verbose
        )
        url_needed = self._webapp and self.app_url is None
        if confirmation is None or not wait_confirmation:
            return finished_job(
                DeployResult(self.name, self.node_addr, command, False, 0.0, self.app_url),
                describe=describe,
                kind="deploy",
            )
        session = self.session

        async def check() -> JobState[DeployResult]:
            if session.closed:
                return JobState(JobStatus.CANCELLED, error="the session was closed")
            if confirmation.failure is not None:
                return _failed(confirmation)
            if not confirmation.done:
                return _running(confirmation)
            if url_needed and self.app_url is None:
                return JobState(JobStatus.RUNNING, raw_status="waiting for APP_URL")
            result = DeployResult(
                self.name, self.node_addr, command, True, confirmation.elapsed, self.app_url
            )
            return JobState(JobStatus.SUCCEEDED, raw_status="confirmed", result=result)

        deploy_timeout = _timeout_factory(DeployTimeoutError, confirmation, session)

        def on_timeout(exc: JobTimeoutError) -> ConfirmationTimeoutError:
            if confirmation.done and url_needed:
                return ResponseTimeoutError(
                    f"{describe} was confirmed but the node reported no APP_URL within "
                    f"{timeout:g}s",
                    missing=["payload with APP_URL"],
                    job_id=exc.job_id,
                    status=exc.status,
                )
            return deploy_timeout(exc)

        return TrackedJob(
            check,
            signal=self._signal,
            timeout=timeout,
            describe=describe,
            kind="deploy",
            on_timeout=on_timeout,
            on_failure=_failure_factory(DeployFailedError, confirmation),
            data={"node": self.node_addr, "pipeline": self.name, "command": command},
        )

    @JobMethod
    async def wait_exec(
        self,
        *,
        custom_code: CustomCode,
        instance_config: Mapping[str, Any] | None = None,
        timeout: float = 10,
    ) -> Job[tuple[Any, Any]]:
        """Run *custom_code* once on the node (``REST_CUSTOM_EXEC_01``); return ``(result,
        error)``.

        The code's ``return`` value is the result; ``error`` is the node's error text or
        ``None``. Unlike the official SDK, the temporary instance is removed again after the
        result (a confirmed ``UPDATE_CONFIG``), and a missing result raises instead of
        returning ``(None, None)``. *timeout* bounds the whole exchange.

        Raises:
            ResponseTimeoutError: no result within *timeout* seconds.
            DeployFailedError: the node refused the instance.
            ValidationError: the code does not parse or uses something the nodes refuse.
        """
        code = encode_custom_code(custom_code)
        extra = check_config(instance_config, "instance_config")
        instance_id = f"{self.name}_rest_custom_exec_synchronous_{uuid.uuid4().hex[:8]}"
        request: dict[str, Any] = {
            "REQUEST": {
                "DATA": {"CODE": code},
                "TIMESTAMP": _local_time(),
            },
            "RESULT_KEY": "REST_EXECUTION_RESULT",
            "ERROR_KEY": "REST_EXECUTION_ERROR",
            **extra,
        }
        if self._proposed_pipeline().get("TYPE") == "Void":
            request["ALLOW_EMPTY_INPUTS"] = True
            request["RUN_WITHOUT_IMAGE"] = True
        instance = self.create_plugin_instance(
            signature=PLUGIN_SIGNATURES.REST_CUSTOM_EXEC_01, instance_id=instance_id, config=request
        )
        try:
            _, confirmation = await self._send_deploy(timeout=timeout, with_confirmation=True)
        except BaseException:
            if instance in self.instances and not instance.deployed:
                self.instances.remove(instance)
            raise
        assert confirmation is not None
        session = self.session
        describe = f"wait_exec on pipeline {self.name!r}"
        loop = asyncio.get_running_loop()
        job_deadline = loop.time() + timeout
        outcome: tuple[Any, Any] | None = None
        removal: Confirmation | None = None
        removal_deadline = 0.0

        async def check() -> JobState[tuple[Any, Any]]:
            nonlocal outcome, removal, removal_deadline
            if session.closed:
                return JobState(JobStatus.CANCELLED, error="the session was closed")
            if outcome is None:
                if confirmation.failure is not None:
                    return _failed(confirmation)
                outcome = self._exec_results.pop(instance_id, None)
                if outcome is None:
                    return JobState(JobStatus.RUNNING, raw_status="waiting for the result")
                removal = await self._remove_exec_instance(instance, timeout)
                # wait (briefly) for the node to confirm the removal, never past the deadline
                removal_deadline = min(loop.time() + 2.0, job_deadline - 0.05)
                loop.call_later(max(removal_deadline - loop.time(), 0), self._signal.notify)
            if removal is not None and not removal.resolved and loop.time() < removal_deadline:
                return JobState(JobStatus.RUNNING, raw_status="removing the temporary instance")
            return JobState(JobStatus.SUCCEEDED, raw_status="executed", result=outcome)

        def on_timeout(exc: JobTimeoutError) -> ConfirmationTimeoutError:
            missing = confirmation.missing or ["payload with REST_EXECUTION_RESULT"]
            return ResponseTimeoutError(
                f"{describe} got no result within {timeout:g}s; not received: {', '.join(missing)}",
                missing=missing,
                job_id=exc.job_id,
                status=exc.status,
            )

        return TrackedJob(
            check,
            signal=self._signal,
            timeout=timeout,
            describe=describe,
            kind="exec",
            on_timeout=on_timeout,
            on_failure=_failure_factory(DeployFailedError, confirmation),
            data={"node": self.node_addr, "pipeline": self.name, "instance": instance_id},
        )

    async def _remove_exec_instance(
        self, instance: AsyncInstance, timeout: float
    ) -> Confirmation | None:
        if instance not in self.instances or self._closed:
            return None
        try:
            self.remove_plugin_instance(instance)
            _, confirmation = await self._send_deploy(timeout=timeout, with_confirmation=True)
        except Exception as exc:  # the result is what matters; the removal stays staged
            logger.warning("could not remove the wait_exec instance %s: %s", instance, exc)
            return None
        return confirmation

    async def send_pipeline_command(
        self,
        command: str | Mapping[str, Any],
        payload: Mapping[str, Any] | None = None,
        command_params: Mapping[str, Any] | None = None,
        wait_confirmation: bool = True,
        timeout: float = 10,
    ) -> None:
        """Send a ``PIPELINE_COMMAND`` (``{command: True, **payload, COMMAND_PARAMS: ...}``).

        Nodes confirm it with a notification that has no code, so nothing can be awaited
        (the official SDK awaits nothing either); this returns once the command is published.
        ``wait_confirmation`` and ``timeout`` are accepted for compatibility.
        """
        self._check_open()
        body: dict[str, Any]
        if isinstance(command, str):
            if not command:
                raise ValidationError("command must not be empty")
            body = {command: True}
        else:
            body = check_config(command, "command")
        body.update(check_config(payload, "payload"))
        if command_params is not None:
            body[COMMANDS.COMMAND_PARAMS] = check_config(command_params, "command_params")
        await self.session._send_command(
            self.node_addr,
            COMMANDS.PIPELINE_COMMAND,
            {PAYLOAD_DATA.NAME: self.name, COMMANDS.PIPELINE_COMMAND: body},
        )

    @JobMethod
    async def close(self, wait_confirmation: bool = True, timeout: float = 10) -> Job[None]:
        """Archive the pipeline on the node (``ARCHIVE_CONFIG``); the job ends on code 4.

        Raises:
            CloseTimeoutError: not confirmed within *timeout* seconds.
            CloseFailedError: the node answered ``PIPELINE_ARCHIVE_FAILED``.
        """
        self._check_open()
        session = self.session
        describe = f"close of pipeline {self.name!r} on {self.node_alias or self.node_addr}"
        confirmation: Confirmation | None = None
        if wait_confirmation:
            confirmation = session._register(
                node=self.node_addr,
                expected=[archive_ok(self.name)],
                timeout=timeout,
                signal=self._signal,
                on_success=self._archived,
                on_failure=self._archive_failed,
            )
        self._last_ok = None
        try:
            await session._send_command(self.node_addr, COMMANDS.ARCHIVE_CONFIG, self.name)
        except BaseException:
            if confirmation is not None:
                session._confirmations.discard(confirmation)
            raise
        if confirmation is None:
            return finished_job(None, describe=describe, kind="close")

        async def check() -> JobState[None]:
            if confirmation.failure is not None:
                return _failed(confirmation)
            if confirmation.done:
                return JobState(JobStatus.SUCCEEDED, raw_status="archived")
            if session.closed:
                return JobState(JobStatus.CANCELLED, error="the session was closed")
            return _running(confirmation)

        return TrackedJob(
            check,
            signal=self._signal,
            timeout=timeout,
            describe=describe,
            kind="close",
            on_timeout=_timeout_factory(CloseTimeoutError, confirmation, session),
            on_failure=_failure_factory(CloseFailedError, confirmation),
            data={"node": self.node_addr, "pipeline": self.name},
        )

    def _archived(self) -> None:
        self._last_ok = True
        self._closed = True
        self.session._forget(self)

    def _archive_failed(self, code: int, reason: str) -> None:
        self._last_ok = False
        logger.warning("closing %s failed (%d): %s", self.name, code, reason)


def _local_time() -> str:
    import datetime as dt

    return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


# --- blocking twin ---------------------------------------------------------------------------


def blocking_pipeline(pipeline: AsyncPipeline) -> Pipeline:
    """The (cached) blocking twin of *pipeline*."""
    if pipeline._facade is None:
        pipeline._facade = Pipeline(pipeline)
    return pipeline._facade


def _to_blocking(value: Any) -> Any:
    if isinstance(value, AsyncPipeline):
        return blocking_pipeline(value)
    if isinstance(value, AsyncInstance):
        return blocking_instance(value)
    return value


def blocking_callback(callback: Callable[..., object] | None) -> Any:
    """Wrap a blocking-API callback: its first argument becomes the blocking twin."""
    if callback is None:
        return None

    def wrapper(first: Any, *rest: Any) -> object:
        return callback(_to_blocking(first), *rest)

    wrapper.__wrapped__ = callback  # type: ignore[attr-defined]
    return wrapper


class Pipeline(Facade[AsyncPipeline], mirrors=AsyncPipeline):
    """Blocking twin of :class:`AsyncPipeline`: the same methods, they block.

    Callbacks run on tether's loop thread and receive the blocking :class:`Pipeline`; keep
    them short and do not call blocking methods from them.
    """

    deploy = BlockingJobMethod(AsyncPipeline.deploy)
    wait_exec = BlockingJobMethod(AsyncPipeline.wait_exec)
    close = BlockingJobMethod(AsyncPipeline.close)

    @property
    def session(self) -> Any:
        """The owning (blocking) session."""
        return self._wrapped.session._facade

    @property
    def node_addr(self) -> str:
        """The node's address."""
        return self._wrapped.node_addr

    @property
    def name(self) -> str:
        """The pipeline name."""
        return self._wrapped.name

    @property
    def config(self) -> dict[str, Any]:
        """The pipeline configuration the node confirmed."""
        return self._wrapped.config

    @property
    def proposed_config(self) -> dict[str, Any] | None:
        """Staged pipeline-level changes, or ``None``."""
        return self._wrapped.proposed_config

    @property
    def app_url(self) -> str | None:
        """For web apps, the URL the node reported."""
        return self._wrapped.app_url

    @property
    def instances(self) -> list[Instance]:
        """The instances."""
        return [blocking_instance(i) for i in self._wrapped.instances]

    @property
    def lst_plugin_instances(self) -> list[Instance]:
        """The instances (the official SDK's name)."""
        return self.instances

    @property
    def node_alias(self) -> str | None:
        """The node's alias."""
        return self._wrapped.node_alias

    @property
    def node_id(self) -> str | None:
        """Alias of :attr:`node_alias`."""
        return self._wrapped.node_id

    @property
    def was_last_operation_successful(self) -> bool | None:
        """See :attr:`AsyncPipeline.was_last_operation_successful`."""
        return self._wrapped.was_last_operation_successful

    @property
    def closed(self) -> bool:
        """The pipeline was archived (or its session closed)."""
        return self._wrapped.closed

    def get_full_config(self) -> dict[str, Any]:
        """``{NAME, PLUGINS: [...], **config}`` as the node has it (confirmed state)."""
        return on_loop(self._wrapped.get_full_config)

    def create_plugin_instance(
        self,
        *,
        signature: str,
        instance_id: str,
        config: Mapping[str, Any] | None = None,
        on_data: Callable[[Pipeline, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        **kwargs: Any,
    ) -> Instance:
        """Stage a new plugin instance (sent by :meth:`deploy`).

        Config keys (``config`` and ``**kwargs``) are upper-cased.

        Raises:
            ValidationError: a malformed signature or id, a config that is not JSON, or an
                instance that already exists.
        """
        created = on_loop(
            self._wrapped.create_plugin_instance,
            signature=signature,
            instance_id=instance_id,
            config=config,
            on_data=blocking_callback(on_data),
            on_notification=blocking_callback(on_notification),
            **kwargs,
        )
        return blocking_instance(created)

    def create_custom_plugin_instance(
        self,
        *,
        instance_id: str,
        custom_code: CustomCode,
        config: Mapping[str, Any] | None = None,
        on_data: Callable[[Pipeline, Any, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        **kwargs: Any,
    ) -> Instance:
        """Stage a ``CUSTOM_EXEC_01`` instance that runs *custom_code* every ``PROCESS_DELAY``.

        *custom_code* is source text, a file path, or a function whose body is the code (the
        node binds ``plugin``). ``on_data(pipeline, exec_result, payload)`` gets each result.

        Raises:
            ValidationError: the code does not parse or uses something the nodes refuse.
        """
        created = on_loop(
            self._wrapped.create_custom_plugin_instance,
            instance_id=instance_id,
            custom_code=custom_code,
            config=config,
            on_data=blocking_callback(on_data),
            on_notification=blocking_callback(on_notification),
            **kwargs,
        )
        return blocking_instance(created)

    def create_chain_dist_custom_plugin_instance(
        self,
        *,
        main_node_process_real_time_collected_data: CustomCode,
        main_node_finish_condition: CustomCode,
        main_node_aggregate_collected_data: CustomCode,
        worker_node_code: CustomCode,
        nr_remote_worker_nodes: int,
        instance_id: str | None = None,
        worker_node_pipeline_config: Mapping[str, Any] | None = None,
        worker_node_plugin_signature: str = PLUGIN_SIGNATURES.CUSTOM_EXEC_01,
        worker_node_plugin_config: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        on_data: Callable[[Pipeline, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        **kwargs: Any,
    ) -> Instance:
        """Stage a chain-distributed job instance (``..._CUSTOM_EXEC_CHAIN_DIST``, §18).

        Each code argument is code (as in :meth:`create_custom_plugin_instance`) or a
        :class:`~tether.ratio1.DistributedCustomCodePresets` name.
        """
        created = on_loop(
            self._wrapped.create_chain_dist_custom_plugin_instance,
            main_node_process_real_time_collected_data=main_node_process_real_time_collected_data,
            main_node_finish_condition=main_node_finish_condition,
            main_node_aggregate_collected_data=main_node_aggregate_collected_data,
            worker_node_code=worker_node_code,
            nr_remote_worker_nodes=nr_remote_worker_nodes,
            instance_id=instance_id,
            worker_node_pipeline_config=worker_node_pipeline_config,
            worker_node_plugin_signature=worker_node_plugin_signature,
            worker_node_plugin_config=worker_node_plugin_config,
            config=config,
            on_data=blocking_callback(on_data),
            on_notification=blocking_callback(on_notification),
            **kwargs,
        )
        return blocking_instance(created)

    def attach_to_plugin_instance(
        self,
        signature: str,
        instance_id: str,
        on_data: Callable[[Pipeline, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
    ) -> Instance:
        """Add callbacks to an existing instance of this pipeline and return it.

        Raises:
            ValidationError: no such instance.
        """
        found = on_loop(
            self._wrapped.attach_to_plugin_instance,
            signature,
            instance_id,
            blocking_callback(on_data),
            blocking_callback(on_notification),
        )
        return blocking_instance(found)

    def attach_to_custom_plugin_instance(
        self,
        instance_id: str,
        on_data: Callable[[Pipeline, Any, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
    ) -> Instance:
        """:meth:`attach_to_plugin_instance` for a ``CUSTOM_EXEC_01`` instance."""
        found = on_loop(
            self._wrapped.attach_to_custom_plugin_instance,
            instance_id,
            blocking_callback(on_data),
            blocking_callback(on_notification),
        )
        return blocking_instance(found)

    def create_or_attach_to_plugin_instance(
        self,
        *,
        signature: str,
        instance_id: str,
        config: Mapping[str, Any] | None = None,
        on_data: Callable[[Pipeline, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        **kwargs: Any,
    ) -> Instance:
        """Attach to the instance (and stage *config* on it) or create it."""
        found = on_loop(
            self._wrapped.create_or_attach_to_plugin_instance,
            signature=signature,
            instance_id=instance_id,
            config=config,
            on_data=blocking_callback(on_data),
            on_notification=blocking_callback(on_notification),
            **kwargs,
        )
        return blocking_instance(found)

    def remove_plugin_instance(self, instance: Instance) -> None:
        """Stage the removal of *instance* (sent by the next :meth:`deploy`).

        Raises:
            ValidationError: the instance is not part of this pipeline.
        """
        return on_loop(self._wrapped.remove_plugin_instance, instance._wrapped)

    def detach_from_instance(self, instance: Instance) -> None:
        """Remove every callback of *instance* (it keeps running on the node)."""
        return on_loop(self._wrapped.detach_from_instance, instance._wrapped)

    def update_acquisition_parameters(
        self, config: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Stage pipeline-level (data source) changes; sent by :meth:`deploy`."""
        return on_loop(self._wrapped.update_acquisition_parameters, config, **kwargs)

    def send_pipeline_command(
        self,
        command: str | Mapping[str, Any],
        payload: Mapping[str, Any] | None = None,
        command_params: Mapping[str, Any] | None = None,
        wait_confirmation: bool = True,
        timeout: float = 10,
    ) -> None:
        """Send a ``PIPELINE_COMMAND`` (``{command: True, **payload, COMMAND_PARAMS: ...}``).

        Nodes confirm it with a notification that has no code, so nothing can be awaited
        (the official SDK awaits nothing either); this returns once the command is published.
        ``wait_confirmation`` and ``timeout`` are accepted for compatibility.
        """
        return self._run(
            self._wrapped.send_pipeline_command,
            command,
            payload,
            command_params,
            wait_confirmation,
            timeout,
        )

    def __repr__(self) -> str:
        return repr(self._wrapped).replace("<AsyncPipeline", "<Pipeline", 1)
