"""One simulated Ratio1 edge node: MQTT connection, command handling, plugin instances."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import aiomqtt
import attrs

from tether.ratio1._protocol.compression import decode_code
from tether.ratio1._protocol.constants import (
    COMMANDS,
    NOTIFICATION_CODES,
    PLUGIN_SIGNATURES,
    STATUS_TYPE,
)
from tether.ratio1._protocol.envelope import (
    IncomingCommand,
    MessageKind,
    NodeInfo,
    PayloadPath,
    PipelineMeta,
    build_heartbeat,
    build_netmon,
    build_notification,
    build_payload,
    build_set_config,
    format_timestamp,
    heartbeat_status,
    netmon_entry,
    open_command,
    open_message,
)
from tether.ratio1._protocol.errors import CompressionError, ProtocolError
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import sign_message
from tether.testing.ratio1._sandbox import SandboxPlugin, run_custom_code

if TYPE_CHECKING:
    from tether.testing.ratio1 import Simulator

__all__ = ["NodeStats", "SimulatedNode"]

logger = logging.getLogger("tether.testing.ratio1")

_CONFIRMATION_CODES: Final = frozenset(
    {
        NOTIFICATION_CODES.PIPELINE_OK,
        NOTIFICATION_CODES.PIPELINE_FAILED,
        NOTIFICATION_CODES.PIPELINE_ARCHIVE_OK,
        NOTIFICATION_CODES.PIPELINE_ARCHIVE_FAILED,
        NOTIFICATION_CODES.PLUGIN_CONFIG_OK,
        NOTIFICATION_CODES.PLUGIN_CONFIG_FAILED,
        NOTIFICATION_CODES.PLUGIN_INSTANCE_COMMAND_OK,
        NOTIFICATION_CODES.PLUGIN_INSTANCE_COMMAND_FAILED,
    }
)
_MIN_TICK: Final = 0.01
"""Shortest sleep of an instance loop; faster rates send several payloads per tick."""
_WEB_APP_SIGNATURES: Final = frozenset(
    {
        PLUGIN_SIGNATURES.GENERIC_WEB_APP,
        PLUGIN_SIGNATURES.CUSTOM_WEBAPI_01,
        PLUGIN_SIGNATURES.CONTAINER_APP_RUNNER,
        PLUGIN_SIGNATURES.WORKER_APP_RUNNER,
        PLUGIN_SIGNATURES.GENERIC_HTTP_SERVER,
    }
)


@attrs.define
class NodeStats:
    """Counters a test can assert on."""

    commands: int = 0
    """Commands accepted and handled."""
    bad_signatures: int = 0
    """Commands / NET_CONFIG requests whose signature did not verify."""
    rejected: int = 0
    """Messages dropped (bad signature on a secured node, not whitelisted, undecryptable)."""
    heartbeats: int = 0
    net_summaries: int = 0
    payloads: int = 0
    notifications: int = 0
    dropped_confirmations: int = 0
    config_replies: int = 0


@attrs.define(eq=False)
class _Instance:
    pipeline: str
    signature: str
    instance_id: str
    config: dict[str, Any]
    init_time: str
    last_config_time: str
    pending_config_ok: bool = True
    iteration: int = 0
    payload_count: int = 0
    exec_time: str | None = None
    last_payload_time: str | None = None
    processed_requests: set[str] = attrs.field(factory=set[str])
    obj_cache: dict[str, Any] = attrs.field(factory=dict[str, Any])
    wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def path_key(self) -> tuple[str, str, str]:
        return (self.pipeline, self.signature.upper(), self.instance_id)

    def status(self) -> dict[str, Any]:
        return {
            "STREAM_ID": self.pipeline,
            "SIGNATURE": self.signature,
            "INSTANCE_ID": self.instance_id,
            "FREQUENCY": None,
            "INIT_TIMESTAMP": self.init_time,
            "EXEC_TIMESTAMP": self.exec_time,
            "LAST_CONFIG_TIMESTAMP": self.last_config_time,
            "FIRST_ERROR_TIME": None,
            "LAST_ERROR_TIME": None,
            "OUTSIDE_WORKING_HOURS": False,
            "CURRENT_PROCESS_ITERATION": self.iteration,
            "CURRENT_EXEC_ITERATION": self.iteration,
            "LAST_PAYLOAD_TIME": self.last_payload_time,
            "TOTAL_PAYLOAD_COUNT": self.payload_count,
            "INFO": None,
            "PROCESS_DELAY": self.config.get("PROCESS_DELAY"),
        }


async def _cancel_all(tasks: Collection[asyncio.Task[None]]) -> None:
    """Cancel *tasks* and wait for them; cancel again while any survives.

    aiomqtt's ``publish`` awaits ``asyncio.wait_for``, which on Python 3.11 can swallow a
    cancellation that races with its completion; a single ``cancel()`` is then lost.
    """
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)


def _dict(value: object) -> dict[str, Any] | None:
    """*value* as a JSON object (a copy), or ``None``."""
    if isinstance(value, dict):
        return dict(cast("dict[str, Any]", value))
    return None


def _list(value: object) -> list[Any]:
    """*value* as a JSON array, or an empty list."""
    items: Any = value
    return list(items) if isinstance(value, list) else []


def _instances_of(config: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """``(SIGNATURE upper, INSTANCE_ID) → (signature as sent, instance config)``."""
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for plugin in _list(config.get("PLUGINS")):
        entry = _dict(plugin)
        if entry is None or not isinstance(entry.get("SIGNATURE"), str):
            continue
        signature: str = entry["SIGNATURE"]
        for inst in _list(entry.get("INSTANCES")):
            conf = _dict(inst)
            if conf is not None and isinstance(conf.get("INSTANCE_ID"), str):
                found[(signature.upper(), conf["INSTANCE_ID"])] = (signature, conf)
    return found


class SimulatedNode:
    """A simulated edge node. Build it through :class:`~tether.testing.ratio1.Simulator`.

    Misbehaviour switches (change them at any time):

    - ``drop_confirmations``: ``True`` withholds every confirmation code (1, 4, 100, 101 and
      their failures); a collection of ints withholds only those codes.
    - ``forge_signatures``: sign with a wrong key (``EE_SENDER`` still claims this node).
    - ``unsigned``: send messages without any signature block.
    - ``fail_deploys``: answer ``UPDATE_CONFIG`` with ``PIPELINE_FAILED`` (-1).
    - ``payload_rate``: payloads per second per plain instance (overrides ``PROCESS_DELAY``).
    - ``encrypt_payloads``: encrypt instance payloads to the pipeline's initiator.
    """

    def __init__(
        self,
        simulator: Simulator,
        *,
        index: int,
        identity: Identity,
        alias: str,
        is_supervisor: bool,
    ) -> None:
        self.index = index
        self.identity = identity
        self.alias = alias
        self.is_supervisor = is_supervisor
        self.info = NodeInfo(identity=identity, alias=alias)
        self._sim = simulator
        self.drop_confirmations: bool | Collection[int] = simulator.drop_confirmations
        self.forge_signatures = simulator.forge_signatures
        self.unsigned = simulator.unsigned
        self.fail_deploys = simulator.fail_deploys
        self.payload_rate = simulator.payload_rate
        self.encrypt_payloads = simulator.encrypt_payloads
        self.secured = simulator.secured
        self.whitelist: list[str] = list(simulator.whitelist)
        self.stats = NodeStats()
        self.commands: list[IncomingCommand] = []
        """Every command this node accepted, in order."""
        self.pipelines: dict[str, dict[str, Any]] = {}
        """Stored pipeline configs (what ``SET_CONFIG`` reports), by name."""
        self.peers: set[str] = set()
        """Clients that asked for the config (they get ``SET_CONFIG`` pushes)."""
        self._forger = Identity.from_seed(f"tether-simulator-forger/{identity.address}")
        self._instances: dict[tuple[str, str, str], _Instance] = {}
        self._seq = 0
        self._started = time.monotonic()
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._online = False

    def __repr__(self) -> str:
        state = "online" if self._online else "offline"
        return f"<SimulatedNode {self.alias} {self.address} {state}>"

    # -- identity ------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The node address (``EE_SENDER``)."""
        return self.identity.address

    @property
    def online(self) -> bool:
        """Whether the node is connected and running."""
        return self._online

    @property
    def instances(self) -> list[tuple[str, str, str]]:
        """``(pipeline, SIGNATURE, instance id)`` of every running instance."""
        return sorted(self._instances)

    def network_entry(self) -> dict[str, Any]:
        """This node's ``CURRENT_NETWORK`` entry."""
        return netmon_entry(
            self.address,
            self.alias,
            eth_address=self.identity.eth_address,
            online=self._online,
            is_supervisor=self.is_supervisor,
            whitelist=self.whitelist,
            secured=self.secured,
            version=self.info.version,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def come_online(self) -> None:
        """Connect, subscribe and start heartbeats, summaries and instances."""
        if self._online:
            return
        host, port = self._sim.broker_host, self._sim.broker_port
        client = aiomqtt.Client(
            host,
            port,
            username=self._sim.username,
            password=self._sim.password,
            identifier=f"{self.alias}-{uuid.uuid4().hex[:8]}",
            max_queued_incoming_messages=10_000,
        )
        await client.__aenter__()
        self._client = client
        topics = self._sim.topics
        for topic in {
            topics.config_for(self.address),
            topics.config_for(self.alias),
            topics.payloads_for(self.address),
        }:
            await client.subscribe(topic)
        self._online = True
        self._loops = [
            asyncio.create_task(self._read_loop(client), name=f"{self.alias}-reader"),
            asyncio.create_task(self._heartbeat_loop(), name=f"{self.alias}-heartbeat"),
        ]
        if self.is_supervisor:
            self._loops.append(
                asyncio.create_task(self._netmon_loop(), name=f"{self.alias}-netmon")
            )
        for instance in self._instances.values():
            self._start_instance(instance)

    async def go_offline(self) -> None:
        """Stop everything and disconnect (stored pipelines are kept for :meth:`come_online`)."""
        if not self._online:
            return
        self._online = False
        tasks = [*self._loops, *self._tasks]
        for instance in self._instances.values():
            if instance.task is not None:
                tasks.append(instance.task)
                instance.task = None
        await _cancel_all(tasks)
        self._loops.clear()
        self._tasks.clear()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)

    # -- publishing ----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _seal(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.unsigned:
            sealed = dict(message)
            sealed["EE_SENDER"] = self.address
            sealed["EE_ETH_SENDER"] = self.identity.eth_address
            return sealed
        if self.forge_signatures:
            sealed = sign_message(message, self._forger)
            sealed["EE_SENDER"] = self.address
            sealed["EE_ETH_SENDER"] = self.identity.eth_address
            return sealed
        return sign_message(message, self.identity)

    async def _publish(self, topic: str, message: dict[str, Any]) -> None:
        client = self._client
        if client is None or not self._online:
            return
        data = json.dumps(self._seal(message), ensure_ascii=False).encode("utf-8")
        try:
            await client.publish(topic, data)
        except aiomqtt.MqttError as exc:
            logger.debug("%s: publish on %s failed: %s", self.alias, topic, exc)

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=f"{self.alias}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _meta(self, pipeline: str | None) -> PipelineMeta:
        config = self.pipelines.get(pipeline or "")
        if config is None:
            return PipelineMeta()
        return PipelineMeta(
            session_id=config.get("SESSION_ID"),
            initiator_id=config.get("INITIATOR_ID"),
            initiator_addr=config.get("INITIATOR_ADDR"),
            modified_by_id=config.get("MODIFIED_BY_ID"),
            modified_by_addr=config.get("MODIFIED_BY_ADDR"),
        )

    async def notify(
        self,
        code: int | None,
        text: str,
        *,
        pipeline: str | None = None,
        signature: str | None = None,
        instance: str | None = None,
        info: Any = None,
        notification_type: str | None = None,
    ) -> None:
        """Publish a notification on ``<root>/notif`` (subject to ``drop_confirmations``)."""
        drop = self.drop_confirmations
        if code is not None and (
            (drop is True and code in _CONFIRMATION_CODES)
            or (not isinstance(drop, bool) and code in drop)
        ):
            self.stats.dropped_confirmations += 1
            return
        message = build_notification(
            self.info,
            code=code,
            text=text,
            path=PayloadPath(self.alias, pipeline, signature, instance),
            meta=self._meta(pipeline),
            info=info,
            notification_type=notification_type,
            seq=self._next_seq(),
            sign=False,
        )
        self.stats.notifications += 1
        await self._publish(self._sim.topics.notif, message)

    async def send_payload(self, instance: _Instance, data: Mapping[str, Any]) -> None:
        """Publish one instance payload (encrypted to the initiator when configured)."""
        meta = self._meta(instance.pipeline)
        path = PayloadPath(self.alias, instance.pipeline, instance.signature, instance.instance_id)
        topics = self._sim.topics
        dest = meta.initiator_addr if self.encrypt_payloads else None
        message = build_payload(
            self.info,
            data,
            path=path,
            meta=meta,
            encrypt_to=dest,
            seq=self._next_seq(),
            sign=False,
        )
        instance.payload_count += 1
        instance.last_payload_time = format_timestamp()
        self.stats.payloads += 1
        await self._publish(topics.payloads_for(dest) if dest else topics.payloads, message)

    async def send_heartbeat(self) -> None:
        """Publish one heartbeat on ``<root>/ctrl`` and ``<root>/ctrl/<addr>``."""
        status = heartbeat_status(
            self.info,
            whitelist=self.whitelist,
            secured=self.secured,
            is_supervisor=self.is_supervisor,
            heartbeat_interval=self._sim.heartbeat_interval,
            active_plugins=[i.status() for i in self._instances.values()],
            uptime=time.monotonic() - self._started,
            counters=(0, sum(i.payload_count for i in self._instances.values()), 0),
        )
        message = build_heartbeat(
            self.info,
            status,
            version=self._sim.heartbeat_version,
            seq=self._next_seq(),
            sign=False,
        )
        self.stats.heartbeats += 1
        topics = self._sim.topics
        sealed = json.dumps(self._seal(message), ensure_ascii=False).encode("utf-8")
        client = self._client
        if client is None or not self._online:
            return
        with contextlib.suppress(aiomqtt.MqttError):
            await client.publish(topics.ctrl, sealed)
            await client.publish(topics.ctrl_for(self.address), sealed)

    async def send_net_summary(self) -> None:
        """Publish one NET_MON_01 summary listing every node of the simulator."""
        network = {node.alias: node.network_entry() for node in self._sim.nodes}
        message = build_netmon(
            self.info,
            network,
            compress=self._sim.compress_net_summary,
            seq=self._next_seq(),
            sign=False,
        )
        self.stats.net_summaries += 1
        await self._publish(self._sim.topics.payloads, message)

    async def push_config(self, requester: str) -> None:
        """Send ``SET_CONFIG`` (encrypted, single-recipient) to *requester*."""
        message = build_set_config(
            self.info,
            requester,
            pipelines=list(self.pipelines.values()),
            plugin_statuses=[i.status() for i in self._instances.values()],
            seq=self._next_seq(),
            sign=False,
        )
        self.stats.config_replies += 1
        await self._publish(self._sim.topics.payloads_for(requester), message)

    # -- loops ---------------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while self._online:
            await self.send_heartbeat()
            await asyncio.sleep(self._sim.heartbeat_interval)

    async def _netmon_loop(self) -> None:
        while self._online:
            await self.send_net_summary()
            await asyncio.sleep(self._sim.net_summary_interval)

    async def _read_loop(self, client: aiomqtt.Client) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            async for message in client.messages:
                payload = bytes(message.payload)
                try:
                    await self._dispatch(message.topic.value, payload)
                except ProtocolError as exc:
                    self.stats.rejected += 1
                    logger.debug("%s: dropped message on %s: %s", self.alias, message.topic, exc)

    async def _dispatch(self, topic: str, payload: bytes) -> None:
        found = self._sim.topics.match(topic)
        if found is None:
            return
        if found.channel.name == "CONFIG":
            await self._on_command(payload)
        elif found.channel.name == "ADDRESSED_PAYLOADS":
            await self._on_addressed_payload(payload, topic)

    # -- NET_CONFIG ----------------------------------------------------------------------------

    async def _on_addressed_payload(self, payload: bytes, topic: str) -> None:
        incoming = open_message(
            payload, identity=self.identity, topic=topic, topics=self._sim.topics
        )
        if incoming.kind is not MessageKind.NET_CONFIG_REQUEST or incoming.sender is None:
            return
        if not incoming.decrypted:  # nodes drop unencrypted NET_CONFIG
            self.stats.rejected += 1
            return
        if not incoming.verified:
            self.stats.bad_signatures += 1
            if self.secured:
                self.stats.rejected += 1
                return
        if self.secured and incoming.sender not in self.whitelist:
            self.stats.rejected += 1
            return
        self.peers.add(incoming.sender)
        await self.push_config(incoming.sender)

    # -- commands ------------------------------------------------------------------------------

    async def _on_command(self, payload: bytes) -> None:
        command = open_command(payload, self.identity, aliases=[self.alias])
        if not command.verified:
            self.stats.bad_signatures += 1
            if self.secured:
                self.stats.rejected += 1
                return
            await self.notify(
                NOTIFICATION_CODES.COMM_RECEIVED_BAD_COMMAND,
                f"Received command with bad signature from {command.sender}",
                info=str(command.signature_error),
                notification_type=STATUS_TYPE.STATUS_EXCEPTION,
            )
        if self.secured and command.sender not in self.whitelist:
            self.stats.rejected += 1
            return
        self.stats.commands += 1
        self.commands.append(command)
        action = command.action
        if action == COMMANDS.UPDATE_CONFIG:
            await self._update_config(command)
        elif action in (COMMANDS.UPDATE_PIPELINE_INSTANCE, COMMANDS.BATCH_UPDATE_PIPELINE_INSTANCE):
            await self._update_instances(command)
        elif action == COMMANDS.PIPELINE_COMMAND:
            await self._pipeline_command(command)
        elif action in (COMMANDS.ARCHIVE_CONFIG, COMMANDS.DELETE_CONFIG):
            await self._archive(command, str(command.payload))
        elif action in (COMMANDS.ARCHIVE_CONFIG_ALL, COMMANDS.DELETE_CONFIG_ALL):
            for name in list(self.pipelines):
                await self._archive(command, name)
        elif action in (COMMANDS.FULL_HEARTBEAT, COMMANDS.TIMERS_ONLY_HEARTBEAT):
            await self.send_heartbeat()
        elif action not in (COMMANDS.STOP, COMMANDS.RESTART, COMMANDS.RELOAD_CONFIG_FROM_DISK):
            await self.notify(
                None,
                f"Unknown command {action!r}",
                notification_type=STATUS_TYPE.STATUS_EXCEPTION,
            )

    def _schedule_config_push(self, sender: str) -> None:
        async def push() -> None:
            await asyncio.sleep(self._sim.config_push_delay)
            for peer in sorted({sender, *self.peers}):
                await self.push_config(peer)

        self._spawn(push(), "config-push")

    def _touch(self, config: dict[str, Any], command: IncomingCommand) -> None:
        config["MODIFIED_BY_ID"] = command.initiator_id
        config["MODIFIED_BY_ADDR"] = command.sender
        config["SESSION_ID"] = command.session_id
        config["LAST_UPDATE_TIME"] = format_timestamp()

    async def _update_config(self, command: IncomingCommand) -> None:
        payload = _dict(command.payload)
        if payload is None or not isinstance(payload.get("NAME"), str):
            await self.notify(
                NOTIFICATION_CODES.PIPELINE_FAILED,
                "UPDATE_CONFIG without a pipeline NAME",
                info="the payload must be a pipeline config with NAME",
            )
            return
        new = payload
        name: str = new["NAME"]
        if self.fail_deploys:
            await self.notify(
                NOTIFICATION_CODES.PIPELINE_FAILED,
                f"Pipeline '{name}' rejected by the simulator (fail_deploys)",
                pipeline=name,
                info="fail_deploys is set",
            )
            return
        old = self.pipelines.get(name)
        new["INITIATOR_ID"] = old["INITIATOR_ID"] if old else command.initiator_id
        new["INITIATOR_ADDR"] = old["INITIATOR_ADDR"] if old else command.sender
        self._touch(new, command)
        self.pipelines[name] = new
        await self.notify(
            NOTIFICATION_CODES.PIPELINE_OK,
            f"Successfully updated new configuration for pipeline '{name}' "
            f"initiated by '{command.initiator_id}'",
            pipeline=name,
        )
        wanted = _instances_of(new)
        for key in [k for k in self._instances if k[0] == name and (k[1], k[2]) not in wanted]:
            await self._stop_instance(self._instances.pop(key))
        for (sig_upper, inst_id), (signature, conf) in wanted.items():
            existing = self._instances.get((name, sig_upper, inst_id))
            if existing is None:
                stamp = format_timestamp()
                instance = _Instance(name, signature, inst_id, conf, stamp, stamp)
                self._instances[instance.path_key] = instance
                self._start_instance(instance)
            elif existing.config != conf:
                self._reconfigure(existing, conf)
        self._schedule_config_push(command.sender)

    def _reconfigure(self, instance: _Instance, config: dict[str, Any]) -> None:
        instance.config = config
        instance.last_config_time = format_timestamp()
        instance.pending_config_ok = True
        instance.wake.set()

    def _store_instance_config(self, instance: _Instance) -> None:
        pipeline = self.pipelines.get(instance.pipeline)
        if pipeline is None:
            return
        for plugin in _list(pipeline.get("PLUGINS")):
            entry: Any = plugin
            if str(entry.get("SIGNATURE", "")).upper() != instance.signature.upper():
                continue
            instances: list[Any] = entry.get("INSTANCES") or []
            for i, inst in enumerate(instances):
                if _dict(inst) is not None and inst.get("INSTANCE_ID") == instance.instance_id:
                    instances[i] = dict(instance.config)

    async def _update_instances(self, command: IncomingCommand) -> None:
        batch = command.action == COMMANDS.BATCH_UPDATE_PIPELINE_INSTANCE
        items = _list(command.payload) if batch else [command.payload]
        touched: set[str] = set()
        for raw_item in items:
            item = _dict(raw_item)
            if item is None:
                continue
            name = str(item.get("NAME"))
            signature = str(item.get("SIGNATURE"))
            inst_id = str(item.get("INSTANCE_ID"))
            delta = _dict(item.get("INSTANCE_CONFIG")) or {}
            instance = self._instances.get((name, signature.upper(), inst_id))
            if instance is None:
                await self.notify(
                    NOTIFICATION_CODES.PIPELINE_FAILED,
                    f"Instance {name}/{signature}/{inst_id} does not exist",
                    pipeline=name,
                    signature=signature,
                    instance=inst_id,
                    info=f"no instance {inst_id!r} of {signature!r} in pipeline {name!r}",
                )
                continue
            instance_command = delta.pop(COMMANDS.INSTANCE_COMMAND, None)
            pipeline = self.pipelines.get(name)
            if pipeline is not None:
                self._touch(pipeline, command)
                touched.add(name)
            await self.notify(
                NOTIFICATION_CODES.PIPELINE_OK,
                f"Instance {name}/{signature}/{inst_id} updated",
                pipeline=name,
                signature=instance.signature,
                instance=inst_id,
            )
            if instance_command is not None:
                await self._run_instance_command(instance, instance_command)
            if delta:
                merged = {**instance.config, **delta}
                self._reconfigure(instance, merged)
                self._store_instance_config(instance)
        if batch:
            await self.notify(None, f"Batch update of {len(items)} instance(s) processed")
        if touched:
            self._schedule_config_push(command.sender)

    async def _run_instance_command(self, instance: _Instance, command: Any) -> None:
        body = _dict(command) or {}
        await self.notify(
            NOTIFICATION_CODES.PLUGIN_INSTANCE_COMMAND_OK,
            f"Command {command!r} executed.",
            pipeline=instance.pipeline,
            signature=instance.signature,
            instance=instance.instance_id,
        )
        request = body.get("SDK_REQUEST")
        if request is not None:
            echo = _dict(body.get("COMMAND_PARAMS")) or {}
            echo["SDK_REQUEST"] = request
            await self.send_payload(
                instance,
                {"COMMAND_PARAMS": echo, "COMMAND_RESULT": "ack", "RECEIVED_COMMAND": command},
            )

    async def _pipeline_command(self, command: IncomingCommand) -> None:
        payload = _dict(command.payload) or {}
        name = payload.get("NAME")
        pipeline = self.pipelines.get(str(name))
        if pipeline is None:
            await self.notify(
                None,
                f"PIPELINE_COMMAND for unknown pipeline {name!r}",
                notification_type=STATUS_TYPE.STATUS_EXCEPTION,
            )
            return
        pipeline["PIPELINE_COMMAND"] = payload.get("PIPELINE_COMMAND")
        self._touch(pipeline, command)
        await self.notify(None, f"Pipeline command received for '{name}'", pipeline=str(name))

    async def _archive(self, command: IncomingCommand, name: str) -> None:
        if self.pipelines.pop(name, None) is None:
            await self.notify(
                NOTIFICATION_CODES.PIPELINE_ARCHIVE_FAILED,
                f"Pipeline '{name}' does not exist",
                pipeline=name,
                info=f"no pipeline {name!r}",
            )
            return
        for key in [k for k in self._instances if k[0] == name]:
            await self._stop_instance(self._instances.pop(key))
        await self.notify(
            NOTIFICATION_CODES.PIPELINE_ARCHIVE_OK, f"Pipeline '{name}' archived", pipeline=name
        )
        self._schedule_config_push(command.sender)

    # -- instances -----------------------------------------------------------------------------

    def _start_instance(self, instance: _Instance) -> None:
        if not self._online or instance.task is not None:
            return
        instance.task = asyncio.create_task(
            self._instance_loop(instance), name=f"{self.alias}-{instance.instance_id}"
        )

    async def _stop_instance(self, instance: _Instance) -> None:
        task, instance.task = instance.task, None
        if task is not None:
            await _cancel_all([task])

    def _delay(self, instance: _Instance) -> float:
        signature = instance.signature.upper()
        if self.payload_rate and signature not in (
            PLUGIN_SIGNATURES.REST_CUSTOM_EXEC_01,
            *_WEB_APP_SIGNATURES,
        ):
            return 1.0 / self.payload_rate
        delay = instance.config.get("PROCESS_DELAY")
        if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay > 0:
            return float(delay)
        return self._sim.process_delay

    async def _instance_loop(self, instance: _Instance) -> None:
        last = time.monotonic()
        credit = 1.0
        while self._online and instance.task is not None:
            delay = self._delay(instance)
            due = 1
            if self.payload_rate and delay < _MIN_TICK:
                # high rates: each tick sends the payloads that fell due since the last one
                now = time.monotonic()
                credit += (now - last) * self.payload_rate
                last = now
                due = int(credit)
                credit -= due
            for _ in range(due):
                await self._execute(instance)
            if instance.pending_config_ok:
                instance.pending_config_ok = False
                await self.notify(
                    NOTIFICATION_CODES.PLUGIN_CONFIG_OK,
                    f" >>>>>>> Instance {instance.pipeline}/{instance.signature}/"
                    f"{instance.instance_id} exec ok post config "
                    f"(itr {instance.iteration}). <<<<<<<",
                    pipeline=instance.pipeline,
                    signature=instance.signature,
                    instance=instance.instance_id,
                )
            await self._sleep(instance, max(delay, _MIN_TICK))

    @staticmethod
    async def _sleep(instance: _Instance, seconds: float) -> None:
        """Sleep *seconds* or until the instance is reconfigured (cancellation-safe)."""
        instance.wake.clear()
        timer = asyncio.get_running_loop().call_later(seconds, instance.wake.set)
        try:
            await instance.wake.wait()
        finally:
            timer.cancel()

    def _plugin(self, instance: _Instance) -> SandboxPlugin:
        return SandboxPlugin(
            node_id=self.alias,
            node_addr=self.address,
            pipeline=instance.pipeline,
            instance_id=instance.instance_id,
            config=instance.config,
            obj_cache=instance.obj_cache,
        )

    async def _run_code(self, instance: _Instance, encoded: Any) -> tuple[Any, str | None]:
        if not isinstance(encoded, str):
            return None, "no CODE in the request"
        try:
            source = decode_code(encoded)
        except CompressionError as exc:
            return None, f"CODE does not decode: {exc}"
        outcome = await run_custom_code(
            source, self._plugin(instance), timeout=self._sim.custom_code_timeout
        )
        return outcome.result, outcome.error

    async def _execute(self, instance: _Instance) -> None:
        instance.iteration += 1
        instance.exec_time = format_timestamp()
        signature = instance.signature.upper()
        config = instance.config
        if signature == PLUGIN_SIGNATURES.REST_CUSTOM_EXEC_01:
            request = _dict(config.get("REQUEST"))
            if request is None:
                return
            key = json.dumps(request, sort_keys=True, default=str)
            if key in instance.processed_requests:
                return
            instance.processed_requests.add(key)
            code = (_dict(request.get("DATA")) or {}).get("CODE")
            result, error = await self._run_code(instance, code)
            await self.send_payload(
                instance,
                {
                    str(config.get("RESULT_KEY") or "REST_EXECUTION_RESULT"): result,
                    str(config.get("ERROR_KEY") or "REST_EXECUTION_ERROR"): error,
                    "TIMESTAMP": request.get("TIMESTAMP"),
                },
            )
        elif signature == PLUGIN_SIGNATURES.CUSTOM_EXEC_01:
            result, error = await self._run_code(instance, config.get("CODE"))
            await self.send_payload(
                instance, {"EXEC_RESULT": result, "EXEC_ERRORS": error, "EXEC_INFO": None}
            )
        elif signature in _WEB_APP_SIGNATURES:
            url = f"https://{instance.instance_id}.{self.alias}.tether-sim.invalid/"
            await self.send_payload(instance, {"APP_URL": url})
        else:
            echo = {k: v for k, v in config.items() if k != "INSTANCE_ID"}
            await self.send_payload(instance, {"ITER": instance.iteration, "CONFIG_ECHO": echo})
