"""The Ratio1 session: one MQTT connection, verified messages, presence, pipelines.

:class:`AsyncSession` is the asyncio implementation; :class:`Session` is its blocking twin
(same methods, same names as the official ``ratio1.Session``)::

    async with AsyncSession(host="127.0.0.1", port=1883, name="me") as session:
        await session.wait_for_node(node, timeout=15)
        pipeline = await session.create_pipeline(node=node, name="demo")
        pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
        await pipeline.deploy()
        async with session.payloads(pipeline="demo") as payloads:
            async for payload in payloads:
                print(payload["ITER"])

Every incoming message is verified by default (``verify=False`` opts out): unsigned or forged
messages are dropped, counted in :attr:`AsyncSession.stats` and reported on
:meth:`AsyncSession.rejections`. Messages encrypted to the session are decrypted, compressed
heartbeats and network summaries are decoded. Nothing is read from or written to the home
directory, and no remote auth service (dAuth) is ever called.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Self, cast

from tether._core.blocking import BlockingContextManager, Facade, iterate, loop_thread
from tether._core.errors import ValidationError
from tether._core.jobs import Job, Signal
from tether._core.mqtt import IncomingMessage as MQTTMessage
from tether._core.mqtt import MQTTConnection, MQTTSettings, Subscription
from tether.ratio1._code import CustomCode, method_data
from tether.ratio1._config import ConnectionSettings, resolve_identity, resolve_settings
from tether.ratio1._confirmations import Confirmation, ConfirmationRegistry, Expected
from tether.ratio1._instance import AsyncInstance, Instance, blocking_instance, on_loop
from tether.ratio1._pipeline import (
    _PLACEHOLDER_URLS,
    AsyncPipeline,
    Pipeline,
    PipelineDataCallback,
    PipelineNotificationCallback,
    blocking_callback,
    blocking_pipeline,
)
from tether.ratio1._presence import DEFAULT_ONLINE_TIMEOUT, Presence, canonical_address
from tether.ratio1._protocol.addresses import decode_address, eth_address
from tether.ratio1._protocol.compression import decode_heartbeat, decode_netmon
from tether.ratio1._protocol.constants import ADMIN_PIPELINE, PLUGIN_SIGNATURES
from tether.ratio1._protocol.crypto import decrypt
from tether.ratio1._protocol.envelope import Topics, build_command, build_net_config_request
from tether.ratio1._protocol.errors import ProtocolError
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._streams import EventStream, StreamRegistry
from tether.ratio1._validation import (
    as_dict,
    as_list,
    check_config,
    check_identifier,
    check_name,
    check_node_ref,
    upper_keys,
)
from tether.ratio1._verify import check_signature, verify_fast
from tether.ratio1.errors import NodeOfflineError, PipelineNotFoundError, SessionClosedError
from tether.ratio1.models import (
    AppInfo,
    Heartbeat,
    NetworkNode,
    NetworkReport,
    Notification,
    Payload,
    RejectedMessage,
    SessionStats,
)

__all__ = ["AsyncSession", "Session"]

logger = logging.getLogger("tether.ratio1")

PayloadCallback = Callable[
    ["AsyncSession", str, "str | None", "str | None", "str | None", Payload], object
]
"""``on_payload(session, node_addr, pipeline, signature, instance, payload)``."""
NotificationCallback = Callable[["AsyncSession", str, Notification], object]
"""``on_notification(session, node_addr, notification)``."""
HeartbeatCallback = Callable[["AsyncSession", str, Heartbeat], object]
"""``on_heartbeat(session, node_addr, heartbeat)``."""

WEB_APP_SIGNATURES: Final = (
    PLUGIN_SIGNATURES.GENERIC_WEB_APP,
    PLUGIN_SIGNATURES.CUSTOM_WEBAPI_01,
    PLUGIN_SIGNATURES.CONTAINER_APP_RUNNER,
    PLUGIN_SIGNATURES.WORKER_APP_RUNNER,
    PLUGIN_SIGNATURES.GENERIC_HTTP_SERVER,
)
_UNSIGNED_REASONS: Final = frozenset({"missing_sender", "missing_signature"})
_QUEUE: Final = 10_000


async def _cancel_all(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Cancel *tasks* until they end (aiomqtt on 3.11 can swallow one cancellation)."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)


def _path(raw: object) -> tuple[str | None, str | None, str | None, str | None] | None:
    if raw is None:
        return (None, None, None, None)
    items = as_list(raw)
    if not isinstance(raw, list) or len(items) != 4:
        return None
    a, b, c, d = (None if v is None else str(v) for v in items)
    return (a, b, c, d)


def _is_admin(pipeline: str | None, signature: str | None, wanted: str) -> bool:
    return (
        pipeline is not None
        and signature is not None
        and pipeline.lower() == ADMIN_PIPELINE
        and signature.upper() == wanted
    )


class AsyncSession:
    """An asyncio session on the Ratio1 network (the official ``ratio1.Session``, async).

    Args:
        host: the broker host (else ``EE_MQTT_HOST`` and the official SDK's other variables,
            see :func:`~tether.ratio1.resolve_settings`). There is no default broker.
        port: the broker port (else ``EE_MQTT_PORT``...; default 1883, 8883 with TLS).
        user: the MQTT user (else ``EE_MQTT_USER``...; default anonymous).
        pwd: the MQTT password (else ``EE_MQTT``...). Never shown in reprs, logs or errors.
        secured: TLS (else ``EE_SECURED``...; default off).
        name: the client alias (``INITIATOR_ID``/``SESSION_ID``; else ``EE_SDK_ALIAS``, else
            ``tether-<random>``).
        encrypt_comms: encrypt commands to nodes (default, like the official SDK).
        root_topic: the topic root (``naeural``; ``EE_ROOT_TOPIC`` when not given).
        cert_path: a CA file for TLS (else ``EE_CERT_PATH``, else the system trust store).
        on_payload: ``on_payload(session, node, pipeline, signature, instance, payload)``.
        on_notification: ``on_notification(session, node, notification)``.
        on_heartbeat: ``on_heartbeat(session, node, heartbeat)``. Callbacks run on the event
            loop; a coroutine function's result is scheduled as a task.
        identity: the session key.
        pem_path: a PEM file holding the key: loaded when it exists, created (mode 0600)
            when it does not. Without *identity* and *pem_path*, an ephemeral in-memory key
            is used: a new address each run, which nodes with a whitelist do not accept.
        pem_password: the password of the PEM file.
        verify: verify every incoming signature (default ``True``); ``False`` trusts
            ``EE_SENDER`` as the official SDK does.
        online_timeout: a node is online while seen within this many seconds (60).
        connect_timeout: how long :meth:`connect` waits for the broker.
        config_refresh_interval: minimum seconds between automatic ``GET_CONFIG`` requests to
            one node (300, as the official SDK); explicit requests ignore it.
        env: the environment to read settings from (default ``os.environ``).

    Example::

        async with AsyncSession(host="127.0.0.1", port=1883, pem_path="me.pem") as session:
            await session.wait_for_any_node()
    """

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        pwd: str | None = None,
        secured: bool | None = None,
        name: str | None = None,
        encrypt_comms: bool = True,
        root_topic: str | None = None,
        cert_path: str | None = None,
        on_payload: PayloadCallback | None = None,
        on_notification: NotificationCallback | None = None,
        on_heartbeat: HeartbeatCallback | None = None,
        identity: Identity | None = None,
        pem_path: str | os.PathLike[str] | None = None,
        pem_password: str | None = None,
        verify: bool = True,
        online_timeout: float = DEFAULT_ONLINE_TIMEOUT,
        connect_timeout: float = 10.0,
        config_refresh_interval: float = 300.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not online_timeout > 0:
            raise ValidationError(f"online_timeout must be positive, not {online_timeout!r}")
        if not connect_timeout > 0:
            raise ValidationError(f"connect_timeout must be positive, not {connect_timeout!r}")
        for label, callback in (
            ("on_payload", on_payload),
            ("on_notification", on_notification),
            ("on_heartbeat", on_heartbeat),
        ):
            if callback is not None and not callable(callback):
                raise ValidationError(f"{label} must be callable")
        self.settings: ConnectionSettings = resolve_settings(
            host=host,
            port=port,
            user=user,
            pwd=pwd,
            secured=secured,
            cert_path=cert_path,
            root_topic=root_topic,
            name=name,
            env=env,
        )
        self._env: Mapping[str, str] = os.environ if env is None else env
        self.identity: Identity = resolve_identity(identity, pem_path, pem_password)
        self.topics = Topics(self.settings.root_topic)
        self.encrypt_comms = encrypt_comms
        self.verify = verify
        self.connect_timeout = connect_timeout
        self.config_refresh_interval = config_refresh_interval
        self._presence = Presence(own_address=self.identity.address, online_timeout=online_timeout)
        self._on_payload = on_payload
        self._on_notification = on_notification
        self._on_heartbeat = on_heartbeat
        self._confirmations = ConfirmationRegistry()
        self._routes: dict[tuple[str, str], AsyncPipeline] = {}
        self._node_configs: dict[str, dict[str, dict[str, Any]]] = {}
        self._node_statuses: dict[str, list[dict[str, Any]]] = {}
        self._config_received: dict[str, float] = {}
        self._config_requested: dict[str, float] = {}
        self._payload_streams: StreamRegistry[Payload] = StreamRegistry()
        self._notification_streams: StreamRegistry[Notification] = StreamRegistry()
        self._heartbeat_streams: StreamRegistry[Heartbeat] = StreamRegistry()
        self._rejection_streams: StreamRegistry[RejectedMessage] = StreamRegistry()
        self._conn: MQTTConnection | None = None
        self._consumers: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._closed_signal: asyncio.Event | None = None
        self._facade: Session | None = None
        self._received = 0
        self._verified = 0
        self._unsigned = 0
        self._forged = 0
        self._undecryptable = 0
        self._malformed = 0
        self._payloads = 0
        self._notifications = 0
        self._heartbeats = 0
        self._net_summaries = 0
        self._net_configs = 0
        self._stream_drops = 0
        self._callback_errors = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self.connected else "not connected"
        return (
            f"<AsyncSession {self.settings.name!r} {self.identity.address} "
            f"broker={self.settings.host}:{self.settings.port} {state}>"
        )

    # -- lifetime --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The client alias (``INITIATOR_ID``)."""
        return self.settings.name

    @property
    def address(self) -> str:
        """This session's Ratio1 address (``0xai_...``)."""
        return self.identity.address

    @property
    def client_address(self) -> str:
        """Alias of :attr:`address` (the official SDK's name)."""
        return self.identity.address

    def get_client_address(self) -> str:
        """This session's Ratio1 address."""
        return self.identity.address

    @property
    def connected(self) -> bool:
        """The MQTT connection is up and subscribed."""
        return self._conn is not None and self._conn.connected

    @property
    def closed(self) -> bool:
        """:meth:`close` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosedError("this Ratio1 session is closed; create a new one")

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect to the broker and subscribe (idempotent).

        Unlike the official constructor, this does not wait for the first network summary:
        call :meth:`wait_for_any_node` or :meth:`wait_for_node`.

        Raises:
            MQTTConnectError: the broker cannot be reached (MQTTAuthenticationError: refused
                credentials).
            SessionClosedError: the session was closed.
        """
        self._check_open()
        if self._conn is not None:
            return
        settings = self.settings
        tls = settings.tls_context()
        conn = MQTTConnection(
            MQTTSettings(
                host=settings.host,
                port=settings.port,
                username=settings.user,
                password=settings.password,
                tls=tls if tls is not None else False,
                client_id=f"{settings.name}_{uuid.uuid4().hex[:8]}",
                connect_timeout=self.connect_timeout,
                max_queued_incoming=_QUEUE,
            )
        )
        self._conn = conn
        self._closed_signal = asyncio.Event()
        plan: list[tuple[Subscription[MQTTMessage], Callable[[MQTTMessage], None]]] = [
            (
                conn.subscribe(self.topics.ctrl, qos=settings.heartbeat_qos, maxsize=_QUEUE),
                self._on_heartbeat_message,
            ),
            (conn.subscribe(self.topics.notif, maxsize=_QUEUE), self._on_notification_message),
            (conn.subscribe(self.topics.payloads, maxsize=_QUEUE), self._on_payload_message),
        ]
        if settings.addressed_payloads:
            plan.append(
                (
                    conn.subscribe(self.topics.payloads_for(self.address), maxsize=_QUEUE),
                    self._on_payload_message,
                )
            )
        try:
            for subscription, handler in plan:
                await subscription.__aenter__()
                self._consumers.append(
                    asyncio.get_running_loop().create_task(
                        self._consume(subscription, handler),
                        name=f"tether.ratio1 {subscription.topic_filter}",
                    )
                )
            await conn.connect()
        except BaseException:
            await _cancel_all(self._consumers)
            self._consumers.clear()
            await conn.close()
            self._conn = None
            raise
        logger.info(
            "Ratio1 session %r (%s) connected to %s:%d",
            settings.name,
            self.address,
            settings.host,
            settings.port,
        )

    async def _consume(
        self, subscription: Subscription[MQTTMessage], handler: Callable[[MQTTMessage], None]
    ) -> None:
        async for message in subscription:
            try:
                handler(message)
            except Exception:
                logger.exception("handling a message on %s failed", message.topic)

    async def close(self, close_pipelines: bool = False, wait_close: bool = True) -> None:
        """Close the session: stop receiving, end streams, disconnect. Idempotent.

        Args:
            close_pipelines: first archive every pipeline this session created or attached
                (``ARCHIVE_CONFIG``); by default they keep running on the nodes.
            wait_close: with *close_pipelines*, wait for the archive confirmations.
        """
        if self._closed:
            return
        if close_pipelines and self._conn is not None:
            await self._close_pipelines(wait_close)
        self._closed = True
        current = asyncio.current_task()
        self._confirmations.close()
        for pipeline in list(self._routes.values()):
            pipeline._signal.notify()
        await _cancel_all([t for t in self._consumers if t is not current])
        await _cancel_all([t for t in self._background if t is not current])
        self._consumers.clear()
        for registry in (
            self._payload_streams,
            self._notification_streams,
            self._heartbeat_streams,
            self._rejection_streams,
        ):
            registry.close_all()
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        if self._closed_signal is not None:
            self._closed_signal.set()
        self._presence.wake()
        logger.info("Ratio1 session %r closed", self.settings.name)

    async def aclose(self) -> None:
        """Close the session (pipelines keep running on the nodes)."""
        await self.close()

    async def _close_pipelines(self, wait: bool) -> None:
        jobs: list[Job[None]] = []
        for pipeline in list(self._routes.values()):
            if pipeline.closed:
                continue
            try:
                jobs.append(await pipeline.close.start(wait_confirmation=wait))
            except Exception as exc:
                logger.warning("could not close pipeline %s: %s", pipeline.name, exc)
        if wait:
            outcomes = await asyncio.gather(*(job.wait() for job in jobs), return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    logger.warning("closing a pipeline failed: %s", outcome)

    def _spawn(self, coroutine: Any, name: str = "tether.ratio1 task") -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._background.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a background task failed", exc_info=task.exception())

    def _call(self, callback: Callable[..., object], *args: Any) -> None:
        try:
            result = callback(*args)
        except Exception:
            self._callback_errors += 1
            logger.exception("a Ratio1 callback raised")
            return
        if inspect.isawaitable(result):
            self._spawn(_await_callback(self, result), name="tether.ratio1 callback")

    # -- receiving ---------------------------------------------------------------------------------

    def _reject(self, topic: str, sender: object, reason: str, detail: str) -> None:
        if reason in _UNSIGNED_REASONS:
            self._unsigned += 1
            count = self._unsigned
        elif reason == "undecryptable":
            self._undecryptable += 1
            count = self._undecryptable
        elif reason == "malformed":
            self._malformed += 1
            count = self._malformed
        else:
            self._forged += 1
            count = self._forged
        loud = count == 10 ** (len(str(count)) - 1)
        logger.log(
            logging.WARNING if loud else logging.DEBUG,
            "dropped a message on %s (%s: %s); %d dropped for this reason so far",
            topic,
            reason,
            detail,
            count,
        )
        if self._rejection_streams.streams:
            self._rejection_streams.offer(
                RejectedMessage(
                    topic=topic,
                    sender=sender if isinstance(sender, str) else None,
                    reason=reason,
                    detail=detail,
                    received_at=time.time(),
                )
            )

    def _open(
        self, message: MQTTMessage
    ) -> (
        tuple[dict[str, Any], str, bool, tuple[str | None, str | None, str | None, str | None]]
        | None
    ):
        """Parse, verify and decrypt; ``(data, node address, encrypted, path)`` or ``None``."""
        self._received += 1
        topic = message.topic
        try:
            data: Any = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError):
            self._reject(topic, None, "malformed", "not JSON")
            return None
        if not isinstance(data, dict):
            self._reject(topic, None, "malformed", "not a JSON object")
            return None
        message_data = cast("dict[str, Any]", data)
        sender = message_data.get("EE_SENDER")
        if self.verify:
            if not verify_fast(message_data):
                error = check_signature(message_data)
                if error is not None:
                    self._reject(topic, sender, error.reason, str(error))
                    return None
            self._verified += 1
        if not isinstance(sender, str):
            self._reject(topic, sender, "missing_sender", "no EE_SENDER")
            return None
        node = canonical_address(sender)
        if node is None:
            self._reject(topic, sender, "bad_sender", "EE_SENDER is not an address")
            return None
        if node == self.identity.address:
            return None  # our own message echoed back
        encrypted = (
            bool(message_data.get("EE_IS_ENCRYPTED")) and "EE_ENCRYPTED_DATA" in message_data
        )
        if encrypted and self._addressed_to_me(message_data.get("EE_DEST")):
            try:
                inner: Any = json.loads(
                    decrypt(self.identity, message_data["EE_ENCRYPTED_DATA"], sender)
                )
            except (ProtocolError, ValueError) as exc:
                self._reject(topic, sender, "undecryptable", str(exc))
                return None
            if not isinstance(inner, dict):
                self._reject(topic, sender, "undecryptable", "decrypted data is not an object")
                return None
            merged = {**cast("dict[str, Any]", inner), **message_data}
            merged.pop("EE_ENCRYPTED_DATA", None)
            message_data = merged
        path = _path(message_data.get("EE_PAYLOAD_PATH"))
        if path is None:
            self._reject(topic, sender, "malformed", "EE_PAYLOAD_PATH is not a list of 4")
            return None
        return message_data, node, encrypted, path

    def _addressed_to_me(self, dest: object) -> bool:
        mine = self.identity.address
        if isinstance(dest, str):
            return dest == mine or canonical_address(dest) == mine
        for item in as_list(dest):
            if isinstance(item, str) and (item == mine or canonical_address(item) == mine):
                return True
        return False

    def _on_heartbeat_message(self, message: MQTTMessage) -> None:
        opened = self._open(message)
        if opened is None:
            return
        data, node, _, _ = opened
        try:
            body = decode_heartbeat(data)
        except ProtocolError as exc:
            self._reject(message.topic, node, "malformed", f"heartbeat does not decode: {exc}")
            return
        alias = body.get("EE_ID")
        if not alias:
            self._reject(message.topic, node, "malformed", "heartbeat without EE_ID")
            return
        self._heartbeats += 1
        self._presence.heartbeat(node, body)
        streams = as_list(body.get("CONFIG_STREAMS"))
        if streams:  # legacy nodes publish their pipelines here
            self._store_configs(node, streams, as_list(body.get("ACTIVE_PLUGINS")))
        heartbeat = Heartbeat(node, str(alias), body, self.verify, time.time())
        if self._on_heartbeat is not None:
            self._call(self._on_heartbeat, self, node, heartbeat)
        if self._heartbeat_streams.streams:
            self._heartbeat_streams.offer(heartbeat)

    def _on_notification_message(self, message: MQTTMessage) -> None:
        opened = self._open(message)
        if opened is None:
            return
        data, node, encrypted, (alias, pipeline, signature, instance) = opened
        code: Any = data.get("NOTIFICATION_CODE")
        if not isinstance(code, int) or isinstance(code, bool):
            code = None
        tag = data.get("NOTIFICATION_TAG")
        kind = data.get("NOTIFICATION_TYPE")
        text = data.get("NOTIFICATION")
        notification = Notification(
            node,
            alias,
            pipeline,
            signature,
            instance,
            code,
            tag if isinstance(tag, str) else None,
            kind if isinstance(kind, str) else None,
            text if isinstance(text, str) else None,
            data.get("INFO"),
            data,
            self.verify,
            encrypted,
            time.time(),
        )
        self._notifications += 1
        if code is not None and len(self._confirmations):
            known = self._presence.alias_of.get(node)
            self._confirmations.feed(
                notification,
                lambda _node: known is None or alias in (known, node),
            )
        if pipeline is not None:
            route = self._routes.get((node, pipeline))
            if route is not None:
                route._dispatch_notification(notification)
        if self._on_notification is not None:
            self._call(self._on_notification, self, node, notification)
        if self._notification_streams.streams:
            self._notification_streams.offer(notification)

    def _on_payload_message(self, message: MQTTMessage) -> None:
        opened = self._open(message)
        if opened is None:
            return
        data, node, encrypted, (alias, pipeline, signature, instance) = opened
        if signature is not None and pipeline is not None and pipeline.lower() == ADMIN_PIPELINE:
            if _is_admin(pipeline, signature, PLUGIN_SIGNATURES.NET_MON_01):
                data = self._on_net_summary(message.topic, node, data)
            elif _is_admin(pipeline, signature, PLUGIN_SIGNATURES.NET_CONFIG_MONITOR):
                self._on_net_config(node, data, encrypted)
        payload = Payload(
            node, alias, pipeline, signature, instance, data, self.verify, encrypted, time.time()
        )
        self._payloads += 1
        if pipeline is not None:
            route = self._routes.get((node, pipeline))
            if route is not None:
                route._dispatch_payload(payload)
        if self._on_payload is not None:
            self._call(self._on_payload, self, node, pipeline, signature, instance, payload)
        if self._payload_streams.streams:
            self._payload_streams.offer(payload)

    def _on_net_summary(self, topic: str, node: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            body = decode_netmon(data)
        except ProtocolError as exc:
            self._reject(topic, node, "malformed", f"NET_MON_01 does not decode: {exc}")
            return data
        network = body.get("CURRENT_NETWORK")
        if not isinstance(network, dict) or not network:
            return body
        self._net_summaries += 1
        online = self._presence.net_summary(node, cast("dict[str, Any]", network))
        now = time.monotonic()
        first = not self._config_requested
        can_send = self._presence.can_send
        wanted = [
            address
            for address in online
            if can_send.get(address)
            and address != self.identity.address
            and (
                first
                or now - self._config_requested.get(address, -math.inf)
                > self.config_refresh_interval
            )
        ]
        if wanted:
            for address in wanted:
                self._config_requested[address] = now
            self._spawn(self._request_configs(wanted), name="tether.ratio1 GET_CONFIG")
        return body

    def _on_net_config(self, node: str, data: dict[str, Any], encrypted: bool) -> None:
        net = data.get("NET_CONFIG_DATA")
        if not isinstance(net, dict):
            return
        net_data = cast("dict[str, Any]", net)
        if net_data.get("OP") != "SET_CONFIG":
            return  # a client is not a config provider: GET_CONFIG requests are ignored
        if not encrypted or not self._addressed_to_me(data.get("EE_DEST")):
            logger.debug("ignored a SET_CONFIG from %s that was not encrypted to us", node)
            return
        pipelines = net_data.get("PIPELINES")
        statuses = net_data.get("PLUGIN_STATUSES")
        self._store_configs(
            node,
            as_list(pipelines),
            as_list(statuses),
        )
        self._net_configs += 1

    def _store_configs(self, node: str, pipelines: list[Any], statuses: list[Any]) -> None:
        configs: dict[str, dict[str, Any]] = {}
        for item in pipelines:
            if isinstance(item, dict):
                config = cast("dict[str, Any]", item)
                name = config.get("NAME")
                if isinstance(name, str):
                    configs[name] = config
        status_items = [cast("dict[str, Any]", s) for s in statuses if isinstance(s, dict)]
        self._node_configs[node] = configs
        self._node_statuses[node] = status_items
        self._config_received[node] = asyncio.get_running_loop().time()
        for (route_node, _), pipeline in self._routes.items():
            if route_node == node:
                pipeline._update_statuses(status_items)
        self._confirmations.feed_report(node, configs, status_items)
        self._presence.wake()

    # -- sending -----------------------------------------------------------------------------------

    def _require_connection(self) -> MQTTConnection:
        self._check_open()
        if self._conn is None:
            raise SessionClosedError("the session is not connected: `await session.connect()`")
        return self._conn

    async def _send_command(
        self, node: str, action: str, payload: Any, *, session_id: str | None = None
    ) -> None:
        conn = self._require_connection()
        message = build_command(
            self.identity,
            node,
            action,
            payload,
            session_id=session_id or self.name,
            initiator_id=self.name,
            encrypt=self.encrypt_comms,
        )
        await conn.publish(
            self.topics.config_for(node), json.dumps(message), qos=self.settings.command_qos
        )

    async def _request_configs(self, nodes: Sequence[str]) -> None:
        conn = self._require_connection()
        message = build_net_config_request(
            self.identity, list(nodes), session_id=self.name, initiator_id=self.name
        )
        text = json.dumps(message)
        now = time.monotonic()
        for node in nodes:
            self._config_requested[node] = now
            await conn.publish(self.topics.payloads_for(node), text)

    def _register(
        self,
        *,
        node: str,
        expected: Sequence[Expected],
        timeout: float,
        signal: Signal,
        on_success: Callable[[], None] | None = None,
        on_failure: Callable[[int, str], None] | None = None,
        reports: Mapping[Expected, Mapping[str, Any]] | None = None,
    ) -> Confirmation:
        if not timeout > 0:
            raise ValidationError(f"timeout must be positive, not {timeout!r}")
        confirmation = Confirmation(
            node=node,
            expected=expected,
            timeout=timeout,
            signal=signal,
            on_success=on_success,
            on_failure=on_failure,
            reports=reports,
        )
        self._confirmations.add(confirmation)
        return confirmation

    def _forget(self, pipeline: AsyncPipeline) -> None:
        key = (pipeline.node_addr, pipeline.name)
        if self._routes.get(key) is pipeline:
            del self._routes[key]

    # -- presence ----------------------------------------------------------------------------------

    def _resolve(self, node: str) -> str | None:
        return self._presence.resolve(check_node_ref(node))

    def _is_online(self, node: str) -> bool:
        address = self._presence.resolve(node)
        return address is not None and self._presence.is_online(address)

    async def wait_for_any_node(self, timeout: float = 15, verbose: bool = True) -> bool:
        """Wait until any node is online (push-driven); return whether one is.

        Example::

            if not await session.wait_for_any_node(timeout=10):
                raise SystemExit("no Ratio1 node in sight")
        """
        self._check_open()
        found = await self._presence.wait_until(lambda: bool(self._presence.active()), timeout)
        if verbose:
            logger.info("nodes online: %s", self._presence.active() if found else "none")
        return found

    async def wait_for_node(self, node: str, /, timeout: float = 15, verbose: bool = True) -> bool:
        """Wait until *node* (address, alias or ETH address) is online; return whether it is.

        Raises:
            ValidationError: *node* is a malformed address.
        """
        check_node_ref(node)
        self._check_open()
        found = await self._presence.wait_until(lambda: self._is_online(node), timeout)
        if verbose:
            logger.info("node %s is %s", node, "online" if found else "not online")
        return found

    def get_active_nodes(self) -> list[str]:
        """Addresses of the nodes seen (heartbeat or NET_MON) within the online window."""
        return self._presence.active()

    def get_allowed_nodes(self) -> list[str]:
        """Online nodes this session may send commands to (not secured, or whitelisted)."""
        can_send = self._presence.can_send
        return [a for a in self._presence.active() if can_send.get(a)]

    def get_active_supervisors(self) -> list[str]:
        """Online supervisor (oracle) nodes."""
        return self._presence.supervisors()

    def check_node_online(self, node: str, /) -> bool:
        """Whether *node* is online now."""
        check_node_ref(node)
        return self._is_online(node)

    def get_node_alias(self, node_addr: str) -> str | None:
        """The alias the node announces (``EE_ID``), or ``None``."""
        address = canonical_address(node_addr) if isinstance(node_addr, str) else None  # pyright: ignore[reportUnnecessaryIsInstance]
        return self._presence.alias_of.get(address) if address is not None else None

    def get_node_address(self, node: str) -> str | None:
        """The address of *node* (an address, alias or ETH address), or ``None``."""
        return self._resolve(node)

    def get_addr_by_name(self, name: str) -> str | None:
        """The address of the node with alias *name* (last announced), or ``None``."""
        return self._resolve(name)

    def get_addr_by_eth_address(self, eth_address: str) -> str | None:
        """The node address behind an EVM address it announced, or ``None``."""
        return self._presence.address_of_eth.get(eth_address)

    def get_eth_address_by_addr(self, node_addr: str) -> str:
        """The EIP-55 EVM address of a node address (derived from its key).

        Raises:
            ValidationError: a malformed address.
        """
        check_node_ref(node_addr, "node_addr")
        try:
            return eth_address(decode_address(node_addr))
        except ProtocolError as exc:
            raise ValidationError(str(exc)) from None

    def is_peered(self, node: str) -> bool:
        """Whether this session may send commands to *node*."""
        address = self._resolve(node)
        return address is not None and bool(self._presence.can_send.get(address))

    def get_last_seen_time(self, node: str) -> float | None:
        """When *node* was last seen (``time.time()`` scale), or ``None``."""
        address = self._resolve(node)
        if address is None:
            return None
        ago = self._presence.seconds_since_seen(address)
        return None if ago is None else time.time() - ago

    def get_last_hb(self) -> dict[str, dict[str, Any]]:
        """The last (decoded) heartbeat of each node, by address."""
        return {k: dict(v) for k, v in self._presence.last_heartbeat.items()}

    def get_active_pipelines(self, node: str) -> dict[str, dict[str, Any]] | None:
        """The pipeline configs the node last reported (``SET_CONFIG``), by name; ``None``
        when it never reported."""
        address = self._resolve(node)
        if address is None or address not in self._node_configs:
            return None
        return {k: dict(v) for k, v in self._node_configs[address].items()}

    # -- network summaries and configs ---------------------------------------------------------

    async def get_network_known_nodes(
        self,
        timeout: float = 10,
        online_only: bool = False,
        supervisors_only: bool = False,
        min_supervisors: int = 1,
        allowed_only: bool = False,
        supervisor: str | None = None,
        alias_filter: str | None = None,
    ) -> NetworkReport:
        """The network as the best-informed supervisor reports it (NET_MON_01).

        Waits (push-driven, up to *timeout*) until *min_supervisors* supervisors (or the named
        *supervisor*) have reported. The official SDK waits for 2 by default and returns a
        pandas DataFrame; this returns a typed :class:`NetworkReport`.
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        started = loop.time()
        wanted = self._resolve(supervisor) if supervisor is not None else None
        network = self._presence.network

        def reported() -> bool:
            if supervisor is not None:
                return wanted is not None and wanted in network
            return len(network) >= min_supervisors

        complete = await self._presence.wait_until(reported, timeout)
        elapsed = loop.time() - started
        reporter: str | None = None
        best: dict[str, dict[str, Any]] = {}
        if wanted is not None and wanted in network:
            reporter, best = wanted, network[wanted]
        else:
            for candidate, entries in network.items():
                if len(entries) > len(best):
                    reporter, best = candidate, entries
        nodes: list[NetworkNode] = []
        for entry in best.values():
            node = _network_node(entry, self.identity.address)
            if node is None:
                continue
            if online_only and not node.online:
                continue
            if supervisors_only and not node.is_supervisor:
                continue
            if allowed_only and not node.peered:
                continue
            if alias_filter is not None and alias_filter.lower() not in (node.alias or "").lower():
                continue
            nodes.append(node)
        return NetworkReport(
            nodes=tuple(nodes),
            reporter=reporter,
            reporter_alias=self._presence.alias_of.get(reporter) if reporter else None,
            nr_supervisors=len(network),
            elapsed=elapsed,
            complete=complete,
        )

    async def wait_for_node_configs(
        self,
        node: str,
        /,
        timeout: float = 15,
        verbose: bool = True,
        attempt_additional_requests: bool = True,
    ) -> bool:
        """Ask *node* for its pipelines (``GET_CONFIG``) and wait for a fresh ``SET_CONFIG``.

        With ``attempt_additional_requests=False`` nothing is sent and any config already
        received counts. Returns whether a config arrived (a node only answers clients it
        allows).
        """
        self._check_open()
        address = self._resolve(node)
        if address is None:
            return False
        if not attempt_additional_requests:
            return await self._presence.wait_until(lambda: address in self._node_configs, timeout)
        loop = asyncio.get_running_loop()
        asked = loop.time()

        def fresh() -> bool:
            return self._config_received.get(address, -math.inf) >= asked

        await self._request_configs([address])
        found = await self._presence.wait_until(fresh, timeout / 2)
        if not found:
            await self._request_configs([address])
            found = await self._presence.wait_until(fresh, timeout - (loop.time() - asked))
        if verbose:
            logger.info("configs of %s %s", node, "received" if found else "not received")
        return found

    async def get_nodes_apps(
        self,
        node: str | None = None,
        alias_filter: str | None = None,
        app_filter: str | None = None,
        supervisors_only: bool = False,
        owner: str | None = None,
        show_full: bool = False,
        timeout: float = 15,
    ) -> list[AppInfo]:
        """The apps (pipeline instances) running on *node*, or on every online node.

        Always asks for fresh configs (the official SDK reuses a cache up to 300 s old for
        one node). Returns typed rows instead of a DataFrame; nodes that do not allow this
        client are skipped.

        Raises:
            NodeOfflineError: the given *node* is not online within *timeout*.
        """
        self._check_open()
        if node is None:
            nodes = self.get_active_supervisors() if supervisors_only else self.get_active_nodes()
            if alias_filter is not None:
                nodes = [
                    n
                    for n in nodes
                    if alias_filter.lower() in (self.get_node_alias(n) or "").lower()
                ]
        else:
            if not await self.wait_for_node(node, timeout=timeout, verbose=False):
                raise NodeOfflineError(f"node {node} is not online", node=node)
            address = self._resolve(node)
            nodes = [address] if address is not None else []
        nodes = [n for n in nodes if self._presence.can_send.get(n)]
        if not nodes:
            return []
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await self._request_configs(nodes)
        await self._presence.wait_until(
            lambda: all(self._config_received.get(n, -math.inf) >= asked for n in nodes), timeout
        )
        rows: list[AppInfo] = []
        needle = app_filter.lower() if app_filter is not None else None
        for address in nodes:
            statuses = {
                (s.get("STREAM_ID"), str(s.get("SIGNATURE", "")).upper(), s.get("INSTANCE_ID")): s
                for s in self._node_statuses.get(address, [])
            }
            for name, config in self._node_configs.get(address, {}).items():
                if not show_full and name.lower() == ADMIN_PIPELINE:
                    continue
                initiator = config.get("INITIATOR_ADDR")
                if owner is not None and owner != initiator:
                    continue
                for plugin in as_list(config.get("PLUGINS")):
                    if not isinstance(plugin, dict):
                        continue
                    signature = str(cast("dict[str, Any]", plugin).get("SIGNATURE", ""))
                    for raw in cast(
                        "list[Any]", cast("dict[str, Any]", plugin).get("INSTANCES") or []
                    ):
                        if not isinstance(raw, dict):
                            continue
                        instance_id = str(cast("dict[str, Any]", raw).get("INSTANCE_ID"))
                        if (
                            needle is not None
                            and needle not in name.lower()
                            and needle not in signature.lower()
                        ):
                            continue
                        status = statuses.get((name, signature.upper(), instance_id))
                        rows.append(
                            AppInfo(
                                node=address,
                                node_alias=self.get_node_alias(address),
                                owner=initiator if isinstance(initiator, str) else None,
                                owner_alias=_str(config.get("INITIATOR_ID")),
                                app=name,
                                plugin=signature,
                                instance_id=instance_id,
                                started=_str(status.get("INIT_TIMESTAMP")) if status else None,
                                last_exec=_str(status.get("EXEC_TIMESTAMP")) if status else None,
                                last_data=_str(status.get("LAST_PAYLOAD_TIME")) if status else None,
                                last_error=_str(status.get("LAST_ERROR_TIME")) if status else None,
                                status=status,
                            )
                        )
        return rows

    # -- pipelines -------------------------------------------------------------------------------

    async def _online_address(self, node: str, max_wait_time: float) -> str:
        check_node_ref(node)
        if not await self.wait_for_node(node, timeout=max_wait_time, verbose=False):
            raise NodeOfflineError(
                f"node {node} was not seen online in the last {self._presence.online_timeout:g}s"
                " (no heartbeat or network summary lists it)",
                node=node,
            )
        address = self._presence.resolve(node)
        assert address is not None
        return address

    async def create_pipeline(
        self,
        *,
        node: str,
        name: str,
        data_source: str = "Void",
        config: Mapping[str, Any] | None = None,
        plugins: Sequence[Mapping[str, Any]] | None = None,
        on_data: PipelineDataCallback | None = None,
        on_notification: PipelineNotificationCallback | None = None,
        max_wait_time: float = 0,
        **kwargs: Any,
    ) -> AsyncPipeline:
        """Create a pipeline on *node* (staged: nothing is sent until ``deploy()``).

        *node* is an address, alias or ETH address and must be online (waiting up to
        *max_wait_time* seconds). *data_source* becomes ``TYPE``; *config* and ``**kwargs``
        become upper-case pipeline config keys.

        Raises:
            NodeOfflineError: the node is not online.
            ValidationError: a malformed address or name, or a config that is not JSON.
        """
        self._check_open()
        check_name(name, "name")
        check_name(data_source, "data_source")
        staged = upper_keys(check_config(config, "config"))
        staged["TYPE"] = data_source
        staged.update(upper_keys(check_config(kwargs, "kwargs")))
        items = [check_config(p, "plugins[]") for p in (plugins or ())]
        address = await self._online_address(node, max_wait_time)
        return self._add_pipeline(
            AsyncPipeline(
                self,
                node_addr=address,
                name=name,
                config=staged,
                plugins=items,
                on_data=on_data,
                on_notification=on_notification,
            )
        )

    def _add_pipeline(self, pipeline: AsyncPipeline) -> AsyncPipeline:
        key = (pipeline.node_addr, pipeline.name)
        previous = self._routes.get(key)
        if previous is not None and previous is not pipeline:
            logger.warning(
                "pipeline %r on %s was already created in this session; the new object replaces"
                " it for callbacks",
                pipeline.name,
                pipeline.node_addr,
            )
        self._routes[key] = pipeline
        return pipeline

    async def attach_to_pipeline(
        self,
        *,
        node: str,
        name: str,
        on_data: PipelineDataCallback | None = None,
        on_notification: PipelineNotificationCallback | None = None,
        max_wait_time: float = 0,
        timeout: float = 10,
    ) -> AsyncPipeline:
        """Attach to a pipeline that runs on *node* (to add callbacks, change or close it).

        The node's pipelines are asked for afresh (``GET_CONFIG``) when this session does not
        know the pipeline yet, and awaited up to *timeout* seconds.

        Raises:
            NodeOfflineError: the node is not online.
            PipelineNotFoundError: the node does not report this pipeline (or does not answer:
                it only answers clients it allows).
        """
        self._check_open()
        check_name(name, "name")
        address = await self._online_address(node, max_wait_time)
        existing = self._routes.get((address, name))
        if existing is not None and not existing.closed:
            if on_data is not None:
                existing._on_data.append(on_data)
            if on_notification is not None:
                existing._on_notification.append(on_notification)
            return existing
        config = self._node_configs.get(address, {}).get(name)
        if config is None:
            answered = await self.wait_for_node_configs(address, timeout=timeout, verbose=False)
            config = self._node_configs.get(address, {}).get(name)
            if config is None:
                why = "does not report it" if answered else "did not answer GET_CONFIG"
                raise PipelineNotFoundError(
                    f"cannot attach to pipeline {name!r}: node {node} {why}",
                    node=address,
                    pipeline=name,
                )
        plugins = [d for p in as_list(config.get("PLUGINS")) if (d := as_dict(p)) is not None]
        signatures = {str(p.get("SIGNATURE", "")).upper() for p in plugins}
        pipeline = AsyncPipeline(
            self,
            node_addr=address,
            name=name,
            config=config,
            plugins=plugins,
            on_data=on_data,
            on_notification=on_notification,
            is_attached=True,
            webapp=bool(signatures & set(WEB_APP_SIGNATURES)),
        )
        pipeline._update_statuses(self._node_statuses.get(address, []))
        return self._add_pipeline(pipeline)

    async def create_or_attach_to_pipeline(
        self,
        *,
        node: str,
        name: str,
        data_source: str = "Void",
        config: Mapping[str, Any] | None = None,
        plugins: Sequence[Mapping[str, Any]] | None = None,
        on_data: PipelineDataCallback | None = None,
        on_notification: PipelineNotificationCallback | None = None,
        max_wait_time: float = 0,
        timeout: float = 10,
        **kwargs: Any,
    ) -> AsyncPipeline:
        """Attach to the pipeline (staging *config*, *plugins* and ``**kwargs`` on it) or
        create it when the node does not report it."""
        try:
            pipeline = await self.attach_to_pipeline(
                node=node,
                name=name,
                on_data=on_data,
                on_notification=on_notification,
                max_wait_time=max_wait_time,
                timeout=timeout,
            )
        except PipelineNotFoundError:
            return await self.create_pipeline(
                node=node,
                name=name,
                data_source=data_source,
                config=config,
                plugins=plugins,
                on_data=on_data,
                on_notification=on_notification,
                max_wait_time=max_wait_time,
                **kwargs,
            )
        changes = {**check_config(config, "config"), **upper_keys(check_config(kwargs, "kwargs"))}
        if changes:
            pipeline.update_acquisition_parameters(changes)
        for plugin in plugins or ():
            signature = plugin.get("SIGNATURE")
            for raw in as_list(plugin.get("INSTANCES")):
                if isinstance(signature, str) and isinstance(raw, dict):
                    item = dict(cast("dict[str, Any]", raw))
                    instance_id = item.pop("INSTANCE_ID", None)
                    if isinstance(instance_id, str):
                        pipeline.create_or_attach_to_plugin_instance(
                            signature=signature, instance_id=instance_id, config=item
                        )
        return pipeline

    async def close_pipeline(self, node_addr: str, pipeline_name: str) -> None:
        """Archive a pipeline: confirmed when this session knows it, else sent unconfirmed."""
        address = self._resolve(node_addr)
        if address is None:
            raise NodeOfflineError(f"unknown node {node_addr}", node=node_addr)
        pipeline = self._routes.get((address, pipeline_name))
        if pipeline is not None and not pipeline.closed:
            await pipeline.close()
            return
        from tether.ratio1._protocol.constants import COMMANDS

        await self._send_command(address, COMMANDS.ARCHIVE_CONFIG, pipeline_name)

    async def create_chain_dist_custom_job(
        self,
        main_node_process_real_time_collected_data: CustomCode,
        main_node_finish_condition: CustomCode,
        main_node_finish_condition_kwargs: Mapping[str, Any],
        main_node_aggregate_collected_data: CustomCode,
        worker_node_code: CustomCode,
        nr_remote_worker_nodes: int,
        node: str | None = None,
        worker_node_plugin_config: Mapping[str, Any] | None = None,
        worker_node_pipeline_config: Mapping[str, Any] | None = None,
        on_data: Callable[[AsyncPipeline, Payload], object] | None = None,
        on_notification: Callable[[AsyncPipeline, Notification], object] | None = None,
        deploy: bool = False,
    ) -> tuple[AsyncPipeline, AsyncInstance]:
        """Create a chain-distributed job: a pipeline with one ``..._CHAIN_DIST`` instance whose
        main node spreads *worker_node_code* over *nr_remote_worker_nodes* nodes (§18).

        Code arguments are code (see ``create_custom_plugin_instance``) or
        :class:`~tether.ratio1.DistributedCustomCodePresets` names. With ``deploy=True`` the
        pipeline is deployed (confirmed) before returning.

        Raises:
            ValidationError: no *node*, bad code, or a config that is not JSON.
        """
        if node is None:
            raise ValidationError("create_chain_dist_custom_job needs node= (the main node)")
        pipeline = await self.create_pipeline(
            node=node, name=f"chain_dist_{uuid.uuid4().hex[:8]}", data_source="Void"
        )
        instance = pipeline.create_chain_dist_custom_plugin_instance(
            main_node_process_real_time_collected_data=main_node_process_real_time_collected_data,
            main_node_finish_condition=main_node_finish_condition,
            main_node_aggregate_collected_data=main_node_aggregate_collected_data,
            worker_node_code=worker_node_code,
            nr_remote_worker_nodes=nr_remote_worker_nodes,
            worker_node_plugin_config=worker_node_plugin_config,
            worker_node_pipeline_config=worker_node_pipeline_config,
            on_data=on_data,
            on_notification=on_notification,
            finish_condition_kwargs=check_config(
                main_node_finish_condition_kwargs, "main_node_finish_condition_kwargs"
            ),
        )
        if deploy:
            await pipeline.deploy()
        return pipeline, instance

    async def create_web_app(
        self,
        *,
        node: str,
        name: str = "Ratio1 Web App",
        signature: str = PLUGIN_SIGNATURES.GENERIC_WEB_APP,
        tunnel_engine: str = "ngrok",
        tunnel_engine_enabled: bool = True,
        cloudflare_token: str | None = None,
        ngrok_edge_label: str | None = None,
        ngrok_use_api: bool = True,
        endpoints: Sequence[Mapping[str, Any]] | None = None,
        extra_debug: bool = False,
        data_source: str = "Void",
        summary: str = "Ratio1 WebApp created via SDK",
        description: str | None = None,
        **kwargs: Any,
    ) -> tuple[AsyncPipeline, AsyncInstance]:
        """Create a web app: a pipeline named after *name* (lower case, ``_`` for spaces) with
        one web-app instance. ``await pipeline.deploy()`` then returns its ``app_url``.

        *signature* must be a web-app signature (``PLUGIN_SIGNATURES.GENERIC_WEB_APP``,
        ``CUSTOM_WEBAPI_01``, ``CONTAINER_APP_RUNNER``, ``WORKER_APP_RUNNER``,
        ``GENERIC_HTTP_SERVER``). *endpoints* are ``{"function": f, "method": "get"}`` dicts.
        Without an ngrok edge label / Cloudflare token (arguments, or ``EE_NGROK_EDGE_LABEL``
        / ``EE_CLOUDFLARE_TOKEN``) the node generates a URL.

        Raises:
            ValidationError: an unknown signature or tunnel engine, bad endpoints, a config
                that is not JSON.
        """
        sig = check_identifier(signature, WEB_APP_SIGNATURES, "signature")
        if tunnel_engine not in ("ngrok", "cloudflare"):
            raise ValidationError(
                f"tunnel_engine must be 'ngrok' or 'cloudflare', not {tunnel_engine!r}"
            )
        check_name(name, "name")
        config: dict[str, Any] = {
            "TUNNEL_ENGINE": tunnel_engine,
            "TUNNEL_ENGINE_ENABLED": tunnel_engine_enabled,
        }
        preset: str | None = None
        if not tunnel_engine_enabled:
            preset = _PLACEHOLDER_URLS[0]
        elif tunnel_engine == "cloudflare":
            token = cloudflare_token or self._env.get("EE_CLOUDFLARE_TOKEN") or None
            if token is not None:
                preset = _PLACEHOLDER_URLS[1]
                config["CLOUDFLARE_TOKEN"] = token
        else:
            label = ngrok_edge_label or self._env.get("EE_NGROK_EDGE_LABEL") or None
            if label is not None:
                preset = _PLACEHOLDER_URLS[2]
                config["NGROK_EDGE_LABEL"] = label
        config["API_TITLE"] = name
        config["API_SUMMARY"] = summary
        config["API_DESCRIPTION"] = description
        if tunnel_engine_enabled and tunnel_engine == "ngrok":
            config["NGROK_USE_API"] = ngrok_use_api
        if kwargs.pop("signature", None) is not None:
            logger.warning("create_web_app variants set their own signature; ignoring `signature`")
        config.update(upper_keys(check_config(kwargs, "kwargs")))
        if endpoints is not None:
            config["ENDPOINTS"] = [_endpoint(e) for e in endpoints]
        check_name(data_source, "data_source")
        address = await self._online_address(node, 0)
        pipeline = self._add_pipeline(
            AsyncPipeline(
                self,
                node_addr=address,
                name=name.replace(" ", "_").lower(),
                config={"TYPE": data_source},
                webapp=True,
            )
        )
        pipeline.app_url = preset
        if extra_debug:
            logger.info("web app %s on %s: %s", pipeline.name, address, config)
        instance = pipeline.create_plugin_instance(
            signature=sig, instance_id=uuid.uuid4().hex[:8], config=config
        )
        return pipeline, instance

    async def create_custom_webapi(
        self,
        *,
        node: str,
        name: str = "Ratio1 Custom Web API",
        tunnel_engine: str = "ngrok",
        tunnel_engine_enabled: bool = True,
        ngrok_edge_label: str | None = None,
        cloudflare_token: str | None = None,
        endpoints: Sequence[Mapping[str, Any]] | None = None,
        extra_debug: bool = False,
        summary: str = "Ratio1 Web API created via SDK",
        description: str | None = None,
        **kwargs: Any,
    ) -> tuple[AsyncPipeline, AsyncInstance]:
        """:meth:`create_web_app` with ``CUSTOM_CODE_FASTAPI_01`` (each endpoint's code runs on
        the node)."""
        return await self.create_web_app(
            node=node,
            name=name,
            signature=PLUGIN_SIGNATURES.CUSTOM_WEBAPI_01,
            tunnel_engine=tunnel_engine,
            tunnel_engine_enabled=tunnel_engine_enabled,
            cloudflare_token=cloudflare_token,
            ngrok_edge_label=ngrok_edge_label,
            endpoints=endpoints,
            extra_debug=extra_debug,
            summary=summary,
            description=description,
            **kwargs,
        )

    async def create_container_web_app(
        self,
        *,
        node: str,
        name: str = "Ratio1 Container Web App",
        tunnel_engine_enabled: bool = True,
        tunnel_engine: str = "ngrok",
        cloudflare_token: str | None = None,
        ngrok_edge_label: str | None = None,
        extra_debug: bool = False,
        summary: str = "Ratio1 Container WebApp created via SDK",
        description: str | None = None,
        **kwargs: Any,
    ) -> tuple[AsyncPipeline, AsyncInstance]:
        """:meth:`create_web_app` with ``CONTAINER_APP_RUNNER`` (``IMAGE``, ``PORT``... in
        ``**kwargs``)."""
        return await self.create_web_app(
            node=node,
            name=name,
            signature=PLUGIN_SIGNATURES.CONTAINER_APP_RUNNER,
            tunnel_engine=tunnel_engine,
            tunnel_engine_enabled=tunnel_engine_enabled,
            cloudflare_token=cloudflare_token,
            ngrok_edge_label=ngrok_edge_label,
            extra_debug=extra_debug,
            summary=summary,
            description=description,
            **kwargs,
        )

    async def create_worker_web_app(
        self,
        *,
        node: str,
        name: str = "Ratio1 Worker Web App",
        tunnel_engine_enabled: bool = True,
        tunnel_engine: str = "cloudflare",
        cloudflare_token: str | None = None,
        ngrok_edge_label: str | None = None,
        extra_debug: bool = False,
        summary: str = "Ratio1 Worker WebApp created via SDK",
        description: str | None = None,
        vcs_data: Mapping[str, Any] | None = None,
        image: str = "node:22",
        build_and_run_commands: Sequence[str] | None = None,
        cr_data: Mapping[str, Any] | None = None,
        env: Mapping[str, Any] | None = None,
        dynamic_env: Mapping[str, Any] | None = None,
        port: int | None = None,
        endpoint_url: str | None = None,
        endpoint_poll_interval: float = 30,
        container_resources: Mapping[str, Any] | None = None,
        volumes: Mapping[str, Any] | None = None,
        file_volumes: Mapping[str, Any] | None = None,
        restart_policy: str = "always",
        image_pull_policy: str = "always",
        image_poll_interval: float = 300,
        vcs_poll_interval: float = 60,
        **kwargs: Any,
    ) -> tuple[AsyncPipeline, AsyncInstance]:
        """:meth:`create_web_app` with ``WORKER_APP_RUNNER``: a container that builds and runs
        a repository (*vcs_data* is required).

        Raises:
            ValidationError: no *vcs_data*.
        """
        if vcs_data is None:
            raise ValidationError("vcs_data is required for worker web apps (the repository)")
        worker: dict[str, Any] = {
            "VCS_DATA": {**check_config(vcs_data, "vcs_data"), "POLL_INTERVAL": vcs_poll_interval},
            "IMAGE": image,
            "BUILD_AND_RUN_COMMANDS": list(
                build_and_run_commands
                if build_and_run_commands is not None
                else ["npm install", "npm run build", "npm start"]
            ),
            "CR_DATA": check_config(cr_data, "cr_data")
            if cr_data is not None
            else {"SERVER": "docker.io", "USERNAME": None, "PASSWORD": None},
            "ENV": check_config(env, "env"),
            "DYNAMIC_ENV": check_config(dynamic_env, "dynamic_env"),
            "PORT": port,
            "ENDPOINT_URL": endpoint_url,
            "ENDPOINT_POLL_INTERVAL": endpoint_poll_interval,
            "CONTAINER_RESOURCES": check_config(container_resources, "container_resources")
            if container_resources is not None
            else {"cpu": 1, "gpu": 0, "memory": "512m", "ports": []},
            "VOLUMES": check_config(volumes, "volumes"),
            "FILE_VOLUMES": check_config(file_volumes, "file_volumes"),
            "RESTART_POLICY": restart_policy,
            "IMAGE_PULL_POLICY": image_pull_policy,
            "IMAGE_POLL_INTERVAL": image_poll_interval,
            "CAR_VERBOSE": 100,
        }
        return await self.create_web_app(
            node=node,
            name=name,
            signature=PLUGIN_SIGNATURES.WORKER_APP_RUNNER,
            tunnel_engine=tunnel_engine,
            tunnel_engine_enabled=tunnel_engine_enabled,
            cloudflare_token=cloudflare_token,
            ngrok_edge_label=ngrok_edge_label,
            extra_debug=extra_debug,
            summary=summary,
            description=description,
            **worker,
            **kwargs,
        )

    # -- streams --------------------------------------------------------------------------------

    def payloads(
        self,
        *,
        node: str | None = None,
        pipeline: str | None = None,
        signature: str | None = None,
        instance: str | None = None,
        maxsize: int = 1000,
    ) -> EventStream[Payload]:
        """A typed live stream of (verified) payloads, optionally filtered.

        *node* is an address or an alias. Network summaries (NET_MON_01) and config replies
        of ``admin_pipeline`` are payloads too (filter by *pipeline* to skip them).

        Example::

            async with session.payloads(pipeline="demo") as payloads:
                async for payload in payloads:
                    ...
        """
        node_match = _node_filter(node)
        sig = signature.upper() if signature is not None else None

        def accept(item: Payload) -> bool:
            return (
                (node_match is None or node_match(item.node, item.alias))
                and (pipeline is None or item.pipeline == pipeline)
                and (sig is None or (item.signature or "").upper() == sig)
                and (instance is None or item.instance == instance)
            )

        return EventStream(
            self, self._payload_streams, accept, maxsize=maxsize, describe="payload stream"
        )

    def notifications(
        self,
        *,
        node: str | None = None,
        pipeline: str | None = None,
        code: int | None = None,
        maxsize: int = 1000,
    ) -> EventStream[Notification]:
        """A typed live stream of (verified) notifications, optionally filtered."""
        node_match = _node_filter(node)

        def accept(item: Notification) -> bool:
            return (
                (node_match is None or node_match(item.node, item.alias))
                and (pipeline is None or item.pipeline == pipeline)
                and (code is None or item.code == code)
            )

        return EventStream(
            self,
            self._notification_streams,
            accept,
            maxsize=maxsize,
            describe="notification stream",
        )

    def heartbeats(self, *, node: str | None = None, maxsize: int = 1000) -> EventStream[Heartbeat]:
        """A typed live stream of (verified, decoded) heartbeats."""
        node_match = _node_filter(node)

        def accept(item: Heartbeat) -> bool:
            return node_match is None or node_match(item.node, item.alias)

        return EventStream(
            self, self._heartbeat_streams, accept, maxsize=maxsize, describe="heartbeat stream"
        )

    def rejections(self, *, maxsize: int = 1000) -> EventStream[RejectedMessage]:
        """A live stream of the messages the session dropped (bad or missing signatures...)."""
        return EventStream(
            self, self._rejection_streams, lambda _: True, maxsize=maxsize, describe="rejections"
        )

    @property
    def stats(self) -> SessionStats:
        """A snapshot of the session's counters."""
        open_drops = sum(
            s.dropped
            for registry in (
                self._payload_streams,
                self._notification_streams,
                self._heartbeat_streams,
                self._rejection_streams,
            )
            for s in registry.streams
        )
        return SessionStats(
            received=self._received,
            verified=self._verified,
            unsigned=self._unsigned,
            forged=self._forged,
            undecryptable=self._undecryptable,
            malformed=self._malformed,
            payloads=self._payloads,
            notifications=self._notifications,
            heartbeats=self._heartbeats,
            net_summaries=self._net_summaries,
            net_configs=self._net_configs,
            stream_drops=self._stream_drops + open_drops,
            callback_errors=self._callback_errors,
            mqtt=self._conn.stats if self._conn is not None else None,
        )

    # -- waiting ----------------------------------------------------------------------------------

    async def _hold(self, wait: bool | float | Callable[[], bool], stop_on_close: bool) -> None:
        closed = self._closed_signal
        if isinstance(wait, bool):
            if wait:
                if closed is None:
                    raise SessionClosedError("the session is not connected")
                await closed.wait()
            return
        if callable(wait):
            while True:  # the caller's predicate can only be polled
                if not wait() or (stop_on_close and self._closed):
                    return
                await asyncio.sleep(0.1)
        seconds = float(wait)
        if seconds < 0:
            raise ValidationError(f"wait must not be negative, not {wait!r}")
        if seconds == 0:
            seconds = math.inf
        if stop_on_close and closed is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(None if math.isinf(seconds) else seconds):
                    await closed.wait()
        else:
            await asyncio.sleep(seconds if not math.isinf(seconds) else 1e9)

    async def run(
        self,
        wait: bool | float | Callable[[], bool] = True,
        close_session: bool = True,
        close_pipelines: bool = False,
    ) -> None:
        """Keep the session running: ``True`` until closed, a number of seconds (``0`` =
        forever), or while ``wait()`` returns true; then close it (``close_session``)."""
        try:
            await self._hold(wait, stop_on_close=True)
        finally:
            if close_session:
                await asyncio.shield(self.close(close_pipelines=close_pipelines))

    async def sleep(
        self,
        wait: bool | float | Callable[[], bool] = True,
        close_session: bool = True,
        close_pipelines: bool = False,
    ) -> None:
        """Like :meth:`run`, but a close from elsewhere does not end the wait early."""
        try:
            await self._hold(wait, stop_on_close=False)
        finally:
            if close_session:
                await asyncio.shield(self.close(close_pipelines=close_pipelines))

    async def wait(
        self,
        seconds: float = 10,
        close_session_on_timeout: bool = True,
        close_pipeline_on_timeout: bool = False,
    ) -> None:
        """Wait *seconds*, then (by default) close the session."""
        await self.run(
            wait=seconds,
            close_session=close_session_on_timeout,
            close_pipelines=close_pipeline_on_timeout,
        )


async def _await_callback(session: AsyncSession, awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        session._callback_errors += 1
        logger.exception("a Ratio1 callback raised")


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _node_filter(node: str | None) -> Callable[[str, str | None], bool] | None:
    if node is None:
        return None
    check_node_ref(node)
    address = canonical_address(node) if node.startswith(("0xai_", "aixp_")) else None
    if address is not None:
        return lambda sender, _alias: sender == address
    return lambda _sender, alias: alias == node


def _network_node(entry: Mapping[str, Any], own_address: str) -> NetworkNode | None:
    address = entry.get("address")
    if not isinstance(address, str):
        return None
    canonical = canonical_address(address) or address
    whitelist = entry.get("whitelist")
    allowed = [str(a) for a in as_list(whitelist)]
    secured = bool(entry.get("secured"))
    seen = entry.get("last_seen_sec")
    return NetworkNode(
        address=canonical,
        alias=_str(entry.get("eeid")),
        eth_address=_str(entry.get("eth_address")),
        online=entry.get("working") == "ONLINE",
        is_supervisor=bool(entry.get("is_supervisor")),
        peered=not secured or own_address in allowed or canonical == own_address,
        secured=secured,
        version=_str(entry.get("version")),
        last_seen_sec=float(seen) if isinstance(seen, (int, float)) else None,
        uptime=_str(entry.get("uptime")),
        zone=_str(entry.get("node_utc")),
        raw=dict(entry),
    )


def _endpoint(endpoint: Mapping[str, Any]) -> dict[str, Any]:
    function = endpoint.get("function")
    if not callable(function):
        raise ValidationError('each endpoint must be {"function": <function>, "method": "get"}')
    method = endpoint.get("method", "get")
    if not isinstance(method, str) or method.lower() not in ("get", "post", "put", "delete"):
        raise ValidationError(f"endpoint method must be get, post, put or delete, not {method!r}")
    unknown = set(endpoint) - {"function", "method", "endpoint_type"}
    if unknown or endpoint.get("endpoint_type", "default") != "default":
        raise ValidationError(
            f"unsupported endpoint options: {sorted(unknown) or ['endpoint_type']}"
        )
    name, args, code = method_data(cast("Callable[..., Any]", function))
    return {"NAME": name, "CODE": code, "METHOD": method.lower(), "ARGS": args}


# --- blocking twin -----------------------------------------------------------------------------


def _session_callback(session: Session, callback: Callable[..., object] | None) -> Any:
    if callback is None:
        return None

    def wrapper(_async_session: Any, *rest: Any) -> object:
        return callback(session, *rest)

    return wrapper


def _blocking_stream(stream: EventStream[Any]) -> BlockingContextManager[Iterator[Any]]:
    return BlockingContextManager(stream, convert=iterate)


class Session(Facade[AsyncSession], mirrors=AsyncSession):
    """The blocking Ratio1 session (the official ``ratio1.Session``'s names), connected on
    construction.

    Every method runs the :class:`AsyncSession` implementation on tether's loop thread.
    Callbacks run on that thread too and receive the blocking objects (this ``Session``,
    :class:`Pipeline`); keep them short and do not call blocking methods from them.

    Example::

        with Session(host="127.0.0.1", port=1883, name="me") as session:
            session.wait_for_node(node)
            pipeline = session.create_pipeline(node=node, name="demo")
            pipeline.create_plugin_instance(signature="SAMPLE_PLUGIN_01", instance_id="a")
            pipeline.deploy()
    """

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        pwd: str | None = None,
        secured: bool | None = None,
        name: str | None = None,
        encrypt_comms: bool = True,
        root_topic: str | None = None,
        cert_path: str | None = None,
        on_payload: Callable[[Session, str, str | None, str | None, str | None, Payload], object]
        | None = None,
        on_notification: Callable[[Session, str, Notification], object] | None = None,
        on_heartbeat: Callable[[Session, str, Heartbeat], object] | None = None,
        identity: Identity | None = None,
        pem_path: str | os.PathLike[str] | None = None,
        pem_password: str | None = None,
        verify: bool = True,
        online_timeout: float = DEFAULT_ONLINE_TIMEOUT,
        connect_timeout: float = 10.0,
        config_refresh_interval: float = 300.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        wrapped = AsyncSession(
            host=host,
            port=port,
            user=user,
            pwd=pwd,
            secured=secured,
            name=name,
            encrypt_comms=encrypt_comms,
            root_topic=root_topic,
            cert_path=cert_path,
            on_payload=_session_callback(self, on_payload),
            on_notification=_session_callback(self, on_notification),
            on_heartbeat=_session_callback(self, on_heartbeat),
            identity=identity,
            pem_path=pem_path,
            pem_password=pem_password,
            verify=verify,
            online_timeout=online_timeout,
            connect_timeout=connect_timeout,
            config_refresh_interval=config_refresh_interval,
            env=env,
        )
        super().__init__(wrapped)
        wrapped._facade = self
        runner = loop_thread()
        runner.run(wrapped.connect)
        runner.track(wrapped)

    def __repr__(self) -> str:
        return repr(self._wrapped).replace("<AsyncSession", "<Session", 1)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- state ------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The client alias (``INITIATOR_ID``)."""
        return self._wrapped.name

    @property
    def address(self) -> str:
        """This session's Ratio1 address."""
        return self._wrapped.address

    @property
    def client_address(self) -> str:
        """Alias of :attr:`address`."""
        return self._wrapped.client_address

    @property
    def identity(self) -> Identity:
        """The session key."""
        return self._wrapped.identity

    @property
    def settings(self) -> ConnectionSettings:
        """The resolved broker settings (the password is never shown)."""
        return self._wrapped.settings

    @property
    def connected(self) -> bool:
        """The MQTT connection is up and subscribed."""
        return self._wrapped.connected

    @property
    def closed(self) -> bool:
        """:meth:`close` was called."""
        return self._wrapped.closed

    @property
    def stats(self) -> SessionStats:
        """A snapshot of the session's counters."""
        return on_loop(lambda: self._wrapped.stats)

    def get_client_address(self) -> str:
        """This session's Ratio1 address."""
        return self._wrapped.get_client_address()

    # -- lifetime ---------------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect to the broker and subscribe (idempotent).

        Unlike the official constructor, this does not wait for the first network summary:
        call :meth:`wait_for_any_node` or :meth:`wait_for_node`.

        Raises:
            MQTTConnectError: the broker cannot be reached (MQTTAuthenticationError: refused
                credentials).
            SessionClosedError: the session was closed.
        """
        return self._run(self._wrapped.connect)

    def close(self, close_pipelines: bool = False, wait_close: bool = True) -> None:
        """Close the session: stop receiving, end streams, disconnect. Idempotent.

        Args:
            close_pipelines: first archive every pipeline this session created or attached
                (``ARCHIVE_CONFIG``); by default they keep running on the nodes.
            wait_close: with *close_pipelines*, wait for the archive confirmations.
        """
        runner = loop_thread()
        runner.run(self._wrapped.close, close_pipelines, wait_close)
        runner.untrack(self._wrapped)

    def run(
        self,
        wait: bool | float | Callable[[], bool] = True,
        close_session: bool = True,
        close_pipelines: bool = False,
    ) -> None:
        """Keep the session running: ``True`` until closed, a number of seconds (``0`` =
        forever), or while ``wait()`` returns true; then close it (``close_session``).

        Ctrl-C ends the wait (and still closes, like the official SDK).
        """
        try:
            self._run(self._wrapped.run, wait, False, False)
        except KeyboardInterrupt:
            logger.info("interrupted; stopping")
        if close_session:
            self.close(close_pipelines)

    def sleep(
        self,
        wait: bool | float | Callable[[], bool] = True,
        close_session: bool = True,
        close_pipelines: bool = False,
    ) -> None:
        """Like :meth:`run`, but a close from elsewhere does not end the wait early."""
        try:
            self._run(self._wrapped.sleep, wait, False, False)
        except KeyboardInterrupt:
            logger.info("interrupted; stopping")
        if close_session:
            self.close(close_pipelines)

    def wait(
        self,
        seconds: float = 10,
        close_session_on_timeout: bool = True,
        close_pipeline_on_timeout: bool = False,
    ) -> None:
        """Wait *seconds*, then (by default) close the session."""
        self.run(
            wait=seconds,
            close_session=close_session_on_timeout,
            close_pipelines=close_pipeline_on_timeout,
        )

    # -- presence ----------------------------------------------------------------------------------

    def wait_for_any_node(self, timeout: float = 15, verbose: bool = True) -> bool:
        """Wait until any node is online (push-driven); return whether one is.

        Example::

            if not session.wait_for_any_node(timeout=10):
                raise SystemExit("no Ratio1 node in sight")
        """
        return self._run(self._wrapped.wait_for_any_node, timeout, verbose)

    def wait_for_node(self, node: str, /, timeout: float = 15, verbose: bool = True) -> bool:
        """Wait until *node* (address, alias or ETH address) is online; return whether it is.

        Raises:
            ValidationError: *node* is a malformed address.
        """
        return self._run(self._wrapped.wait_for_node, node, timeout, verbose)

    def get_active_nodes(self) -> list[str]:
        """Addresses of the nodes seen (heartbeat or NET_MON) within the online window."""
        return on_loop(self._wrapped.get_active_nodes)

    def get_allowed_nodes(self) -> list[str]:
        """Online nodes this session may send commands to (not secured, or whitelisted)."""
        return on_loop(self._wrapped.get_allowed_nodes)

    def get_active_supervisors(self) -> list[str]:
        """Online supervisor (oracle) nodes."""
        return on_loop(self._wrapped.get_active_supervisors)

    def check_node_online(self, node: str, /) -> bool:
        """Whether *node* is online now."""
        return on_loop(self._wrapped.check_node_online, node)

    def get_node_alias(self, node_addr: str) -> str | None:
        """The alias the node announces (``EE_ID``), or ``None``."""
        return on_loop(self._wrapped.get_node_alias, node_addr)

    def get_node_address(self, node: str) -> str | None:
        """The address of *node* (an address, alias or ETH address), or ``None``."""
        return on_loop(self._wrapped.get_node_address, node)

    def get_addr_by_name(self, name: str) -> str | None:
        """The address of the node with alias *name* (last announced), or ``None``."""
        return on_loop(self._wrapped.get_addr_by_name, name)

    def get_addr_by_eth_address(self, eth_address: str) -> str | None:
        """The node address behind an EVM address it announced, or ``None``."""
        return on_loop(self._wrapped.get_addr_by_eth_address, eth_address)

    def get_eth_address_by_addr(self, node_addr: str) -> str:
        """The EIP-55 EVM address of a node address (derived from its key).

        Raises:
            ValidationError: a malformed address.
        """
        return on_loop(self._wrapped.get_eth_address_by_addr, node_addr)

    def is_peered(self, node: str) -> bool:
        """Whether this session may send commands to *node*."""
        return on_loop(self._wrapped.is_peered, node)

    def get_last_seen_time(self, node: str) -> float | None:
        """When *node* was last seen (``time.time()`` scale), or ``None``."""
        return on_loop(self._wrapped.get_last_seen_time, node)

    def get_last_hb(self) -> dict[str, dict[str, Any]]:
        """The last (decoded) heartbeat of each node, by address."""
        return on_loop(self._wrapped.get_last_hb)

    def get_active_pipelines(self, node: str) -> dict[str, dict[str, Any]] | None:
        """The pipeline configs the node last reported (``SET_CONFIG``), by name; ``None``
        when it never reported."""
        return on_loop(self._wrapped.get_active_pipelines, node)

    def get_network_known_nodes(
        self,
        timeout: float = 10,
        online_only: bool = False,
        supervisors_only: bool = False,
        min_supervisors: int = 1,
        allowed_only: bool = False,
        supervisor: str | None = None,
        alias_filter: str | None = None,
    ) -> NetworkReport:
        """The network as the best-informed supervisor reports it (NET_MON_01).

        Waits (push-driven, up to *timeout*) until *min_supervisors* supervisors (or the named
        *supervisor*) have reported. The official SDK waits for 2 by default and returns a
        pandas DataFrame; this returns a typed :class:`NetworkReport`.
        """
        return self._run(
            self._wrapped.get_network_known_nodes,
            timeout,
            online_only,
            supervisors_only,
            min_supervisors,
            allowed_only,
            supervisor,
            alias_filter,
        )

    def wait_for_node_configs(
        self,
        node: str,
        /,
        timeout: float = 15,
        verbose: bool = True,
        attempt_additional_requests: bool = True,
    ) -> bool:
        """Ask *node* for its pipelines (``GET_CONFIG``) and wait for a fresh ``SET_CONFIG``.

        With ``attempt_additional_requests=False`` nothing is sent and any config already
        received counts. Returns whether a config arrived (a node only answers clients it
        allows).
        """
        return self._run(
            self._wrapped.wait_for_node_configs, node, timeout, verbose, attempt_additional_requests
        )

    def get_nodes_apps(
        self,
        node: str | None = None,
        alias_filter: str | None = None,
        app_filter: str | None = None,
        supervisors_only: bool = False,
        owner: str | None = None,
        show_full: bool = False,
        timeout: float = 15,
    ) -> list[AppInfo]:
        """The apps (pipeline instances) running on *node*, or on every online node.

        Always asks for fresh configs (the official SDK reuses a cache up to 300 s old for
        one node). Returns typed rows instead of a DataFrame; nodes that do not allow this
        client are skipped.

        Raises:
            NodeOfflineError: the given *node* is not online within *timeout*.
        """
        return self._run(
            self._wrapped.get_nodes_apps,
            node,
            alias_filter,
            app_filter,
            supervisors_only,
            owner,
            show_full,
            timeout,
        )

    # -- pipelines -------------------------------------------------------------------------------

    def create_pipeline(
        self,
        *,
        node: str,
        name: str,
        data_source: str = "Void",
        config: Mapping[str, Any] | None = None,
        plugins: Sequence[Mapping[str, Any]] | None = None,
        on_data: Callable[[Pipeline, str | None, str | None, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        max_wait_time: float = 0,
        **kwargs: Any,
    ) -> Pipeline:
        """Create a pipeline on *node* (staged: nothing is sent until ``deploy()``).

        *node* is an address, alias or ETH address and must be online (waiting up to
        *max_wait_time* seconds). *data_source* becomes ``TYPE``; *config* and ``**kwargs``
        become upper-case pipeline config keys.

        Raises:
            NodeOfflineError: the node is not online.
            ValidationError: a malformed address or name, or a config that is not JSON.
        """
        created = self._run(
            self._wrapped.create_pipeline,
            node=node,
            name=name,
            data_source=data_source,
            config=config,
            plugins=plugins,
            on_data=blocking_callback(on_data),
            on_notification=blocking_callback(on_notification),
            max_wait_time=max_wait_time,
            **kwargs,
        )
        return blocking_pipeline(created)

    def attach_to_pipeline(
        self,
        *,
        node: str,
        name: str,
        on_data: Callable[[Pipeline, str | None, str | None, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        max_wait_time: float = 0,
        timeout: float = 10,
    ) -> Pipeline:
        """Attach to a pipeline that runs on *node* (to add callbacks, change or close it).

        The node's pipelines are asked for afresh (``GET_CONFIG``) when this session does not
        know the pipeline yet, and awaited up to *timeout* seconds.

        Raises:
            NodeOfflineError: the node is not online.
            PipelineNotFoundError: the node does not report this pipeline (or does not answer:
                it only answers clients it allows).
        """
        found = self._run(
            self._wrapped.attach_to_pipeline,
            node=node,
            name=name,
            on_data=blocking_callback(on_data),
            on_notification=blocking_callback(on_notification),
            max_wait_time=max_wait_time,
            timeout=timeout,
        )
        return blocking_pipeline(found)

    def create_or_attach_to_pipeline(
        self,
        *,
        node: str,
        name: str,
        data_source: str = "Void",
        config: Mapping[str, Any] | None = None,
        plugins: Sequence[Mapping[str, Any]] | None = None,
        on_data: Callable[[Pipeline, str | None, str | None, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        max_wait_time: float = 0,
        timeout: float = 10,
        **kwargs: Any,
    ) -> Pipeline:
        """Attach to the pipeline (staging *config*, *plugins* and ``**kwargs`` on it) or
        create it when the node does not report it."""
        found = self._run(
            self._wrapped.create_or_attach_to_pipeline,
            node=node,
            name=name,
            data_source=data_source,
            config=config,
            plugins=plugins,
            on_data=blocking_callback(on_data),
            on_notification=blocking_callback(on_notification),
            max_wait_time=max_wait_time,
            timeout=timeout,
            **kwargs,
        )
        return blocking_pipeline(found)

    def close_pipeline(self, node_addr: str, pipeline_name: str) -> None:
        """Archive a pipeline: confirmed when this session knows it, else sent unconfirmed."""
        return self._run(self._wrapped.close_pipeline, node_addr, pipeline_name)

    def create_chain_dist_custom_job(
        self,
        main_node_process_real_time_collected_data: CustomCode,
        main_node_finish_condition: CustomCode,
        main_node_finish_condition_kwargs: Mapping[str, Any],
        main_node_aggregate_collected_data: CustomCode,
        worker_node_code: CustomCode,
        nr_remote_worker_nodes: int,
        node: str | None = None,
        worker_node_plugin_config: Mapping[str, Any] | None = None,
        worker_node_pipeline_config: Mapping[str, Any] | None = None,
        on_data: Callable[[Pipeline, Payload], object] | None = None,
        on_notification: Callable[[Pipeline, Notification], object] | None = None,
        deploy: bool = False,
    ) -> tuple[Pipeline, Instance]:
        """Create a chain-distributed job: a pipeline with one ``..._CHAIN_DIST`` instance whose
        main node spreads *worker_node_code* over *nr_remote_worker_nodes* nodes (§18).

        Code arguments are code (see ``create_custom_plugin_instance``) or
        :class:`~tether.ratio1.DistributedCustomCodePresets` names. With ``deploy=True`` the
        pipeline is deployed (confirmed) before returning.

        Raises:
            ValidationError: no *node*, bad code, or a config that is not JSON.
        """
        pipeline, instance = self._run(
            self._wrapped.create_chain_dist_custom_job,
            main_node_process_real_time_collected_data,
            main_node_finish_condition,
            main_node_finish_condition_kwargs,
            main_node_aggregate_collected_data,
            worker_node_code,
            nr_remote_worker_nodes,
            node,
            worker_node_plugin_config,
            worker_node_pipeline_config,
            blocking_callback(on_data),
            blocking_callback(on_notification),
            deploy,
        )
        return blocking_pipeline(pipeline), blocking_instance(instance)

    def create_web_app(
        self,
        *,
        node: str,
        name: str = "Ratio1 Web App",
        signature: str = PLUGIN_SIGNATURES.GENERIC_WEB_APP,
        tunnel_engine: str = "ngrok",
        tunnel_engine_enabled: bool = True,
        cloudflare_token: str | None = None,
        ngrok_edge_label: str | None = None,
        ngrok_use_api: bool = True,
        endpoints: Sequence[Mapping[str, Any]] | None = None,
        extra_debug: bool = False,
        data_source: str = "Void",
        summary: str = "Ratio1 WebApp created via SDK",
        description: str | None = None,
        **kwargs: Any,
    ) -> tuple[Pipeline, Instance]:
        """Create a web app: a pipeline named after *name* (lower case, ``_`` for spaces) with
        one web-app instance. ``await pipeline.deploy()`` then returns its ``app_url``.

        *signature* must be a web-app signature (``PLUGIN_SIGNATURES.GENERIC_WEB_APP``,
        ``CUSTOM_WEBAPI_01``, ``CONTAINER_APP_RUNNER``, ``WORKER_APP_RUNNER``,
        ``GENERIC_HTTP_SERVER``). *endpoints* are ``{"function": f, "method": "get"}`` dicts.
        Without an ngrok edge label / Cloudflare token (arguments, or ``EE_NGROK_EDGE_LABEL``
        / ``EE_CLOUDFLARE_TOKEN``) the node generates a URL.

        Raises:
            ValidationError: an unknown signature or tunnel engine, bad endpoints, a config
                that is not JSON.
        """
        pipeline, instance = self._run(
            self._wrapped.create_web_app,
            node=node,
            name=name,
            signature=signature,
            tunnel_engine=tunnel_engine,
            tunnel_engine_enabled=tunnel_engine_enabled,
            cloudflare_token=cloudflare_token,
            ngrok_edge_label=ngrok_edge_label,
            ngrok_use_api=ngrok_use_api,
            endpoints=endpoints,
            extra_debug=extra_debug,
            data_source=data_source,
            summary=summary,
            description=description,
            **kwargs,
        )
        return blocking_pipeline(pipeline), blocking_instance(instance)

    def create_custom_webapi(
        self,
        *,
        node: str,
        name: str = "Ratio1 Custom Web API",
        tunnel_engine: str = "ngrok",
        tunnel_engine_enabled: bool = True,
        ngrok_edge_label: str | None = None,
        cloudflare_token: str | None = None,
        endpoints: Sequence[Mapping[str, Any]] | None = None,
        extra_debug: bool = False,
        summary: str = "Ratio1 Web API created via SDK",
        description: str | None = None,
        **kwargs: Any,
    ) -> tuple[Pipeline, Instance]:
        """:meth:`create_web_app` with ``CUSTOM_CODE_FASTAPI_01`` (each endpoint's code runs on
        the node)."""
        pipeline, instance = self._run(
            self._wrapped.create_custom_webapi,
            node=node,
            name=name,
            tunnel_engine=tunnel_engine,
            tunnel_engine_enabled=tunnel_engine_enabled,
            ngrok_edge_label=ngrok_edge_label,
            cloudflare_token=cloudflare_token,
            endpoints=endpoints,
            extra_debug=extra_debug,
            summary=summary,
            description=description,
            **kwargs,
        )
        return blocking_pipeline(pipeline), blocking_instance(instance)

    def create_container_web_app(
        self,
        *,
        node: str,
        name: str = "Ratio1 Container Web App",
        tunnel_engine_enabled: bool = True,
        tunnel_engine: str = "ngrok",
        cloudflare_token: str | None = None,
        ngrok_edge_label: str | None = None,
        extra_debug: bool = False,
        summary: str = "Ratio1 Container WebApp created via SDK",
        description: str | None = None,
        **kwargs: Any,
    ) -> tuple[Pipeline, Instance]:
        """:meth:`create_web_app` with ``CONTAINER_APP_RUNNER`` (``IMAGE``, ``PORT``... in
        ``**kwargs``)."""
        pipeline, instance = self._run(
            self._wrapped.create_container_web_app,
            node=node,
            name=name,
            tunnel_engine_enabled=tunnel_engine_enabled,
            tunnel_engine=tunnel_engine,
            cloudflare_token=cloudflare_token,
            ngrok_edge_label=ngrok_edge_label,
            extra_debug=extra_debug,
            summary=summary,
            description=description,
            **kwargs,
        )
        return blocking_pipeline(pipeline), blocking_instance(instance)

    def create_worker_web_app(
        self,
        *,
        node: str,
        name: str = "Ratio1 Worker Web App",
        tunnel_engine_enabled: bool = True,
        tunnel_engine: str = "cloudflare",
        cloudflare_token: str | None = None,
        ngrok_edge_label: str | None = None,
        extra_debug: bool = False,
        summary: str = "Ratio1 Worker WebApp created via SDK",
        description: str | None = None,
        vcs_data: Mapping[str, Any] | None = None,
        image: str = "node:22",
        build_and_run_commands: Sequence[str] | None = None,
        cr_data: Mapping[str, Any] | None = None,
        env: Mapping[str, Any] | None = None,
        dynamic_env: Mapping[str, Any] | None = None,
        port: int | None = None,
        endpoint_url: str | None = None,
        endpoint_poll_interval: float = 30,
        container_resources: Mapping[str, Any] | None = None,
        volumes: Mapping[str, Any] | None = None,
        file_volumes: Mapping[str, Any] | None = None,
        restart_policy: str = "always",
        image_pull_policy: str = "always",
        image_poll_interval: float = 300,
        vcs_poll_interval: float = 60,
        **kwargs: Any,
    ) -> tuple[Pipeline, Instance]:
        """:meth:`create_web_app` with ``WORKER_APP_RUNNER``: a container that builds and runs
        a repository (*vcs_data* is required).

        Raises:
            ValidationError: no *vcs_data*.
        """
        pipeline, instance = self._run(
            self._wrapped.create_worker_web_app,
            node=node,
            name=name,
            tunnel_engine_enabled=tunnel_engine_enabled,
            tunnel_engine=tunnel_engine,
            cloudflare_token=cloudflare_token,
            ngrok_edge_label=ngrok_edge_label,
            extra_debug=extra_debug,
            summary=summary,
            description=description,
            vcs_data=vcs_data,
            image=image,
            build_and_run_commands=build_and_run_commands,
            cr_data=cr_data,
            env=env,
            dynamic_env=dynamic_env,
            port=port,
            endpoint_url=endpoint_url,
            endpoint_poll_interval=endpoint_poll_interval,
            container_resources=container_resources,
            volumes=volumes,
            file_volumes=file_volumes,
            restart_policy=restart_policy,
            image_pull_policy=image_pull_policy,
            image_poll_interval=image_poll_interval,
            vcs_poll_interval=vcs_poll_interval,
            **kwargs,
        )
        return blocking_pipeline(pipeline), blocking_instance(instance)

    # -- streams ----------------------------------------------------------------------------------

    def payloads(
        self,
        *,
        node: str | None = None,
        pipeline: str | None = None,
        signature: str | None = None,
        instance: str | None = None,
        maxsize: int = 1000,
    ) -> BlockingContextManager[Iterator[Payload]]:
        """A typed live stream of (verified) payloads, optionally filtered.

        *node* is an address or an alias. Network summaries (NET_MON_01) and config replies
        of ``admin_pipeline`` are payloads too (filter by *pipeline* to skip them).

        Example::

            with session.payloads(pipeline="demo") as payloads:
                for payload in payloads:
                    ...
        """
        stream = self._wrapped.payloads(
            node=node, pipeline=pipeline, signature=signature, instance=instance, maxsize=maxsize
        )
        return _blocking_stream(stream)

    def notifications(
        self,
        *,
        node: str | None = None,
        pipeline: str | None = None,
        code: int | None = None,
        maxsize: int = 1000,
    ) -> BlockingContextManager[Iterator[Notification]]:
        """A typed live stream of (verified) notifications, optionally filtered."""
        stream = self._wrapped.notifications(
            node=node, pipeline=pipeline, code=code, maxsize=maxsize
        )
        return _blocking_stream(stream)

    def heartbeats(
        self, *, node: str | None = None, maxsize: int = 1000
    ) -> BlockingContextManager[Iterator[Heartbeat]]:
        """A typed live stream of (verified, decoded) heartbeats."""
        return _blocking_stream(self._wrapped.heartbeats(node=node, maxsize=maxsize))

    def rejections(
        self, *, maxsize: int = 1000
    ) -> BlockingContextManager[Iterator[RejectedMessage]]:
        """A live stream of the messages the session dropped (bad or missing signatures...)."""
        return _blocking_stream(self._wrapped.rejections(maxsize=maxsize))
