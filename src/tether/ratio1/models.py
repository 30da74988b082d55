"""Typed models of what a Ratio1 session receives and reports.

Messages (:class:`Payload`, :class:`Notification`, :class:`Heartbeat`) are attrs models that
also read like the official SDK's ``Payload`` dict: ``payload["EE_PAYLOAD_PATH"]``,
``payload.get("ITER")`` and ``dict(payload)`` work on the full merged message (decrypted,
decompressed), while the routing fields are typed attributes::

    async for payload in stream:
        print(payload.alias, payload.pipeline, payload.instance, payload["ITER"])
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from tether._core.mqtt import MQTTStats

__all__ = [
    "AppInfo",
    "DeployResult",
    "Heartbeat",
    "InstanceStatus",
    "NetworkNode",
    "NetworkReport",
    "Notification",
    "Payload",
    "RejectedMessage",
    "SessionStats",
]


class _MessageView(Mapping[str, Any]):
    """Read-only mapping access to ``data`` (the whole merged message)."""

    __slots__ = ()
    data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@attrs.frozen(slots=True, eq=False)
class Payload(_MessageView):
    """A payload from a plugin instance (or a node's admin pipeline: NET_MON_01, NET_CONFIG).

    Attributes:
        node: the sending node's address (``EE_SENDER``; authenticated when ``verified``).
        alias: the node alias from ``EE_PAYLOAD_PATH[0]``.
        pipeline: the rest of the path.
        signature: the rest of the path.
        instance: the rest of the path.
        data: the whole message, decrypted and merged (what ``payload[key]`` reads).
        verified: the signature was checked and is valid.
        encrypted: the message arrived encrypted (and was decrypted when addressed to us).
        received_at: ``time.time()`` when it was processed.
    """

    node: str
    alias: str | None
    pipeline: str | None
    signature: str | None
    instance: str | None
    data: dict[str, Any] = attrs.field(repr=False)
    verified: bool = False
    encrypted: bool = False
    received_at: float = 0.0

    @property
    def path(self) -> tuple[str | None, str | None, str | None, str | None]:
        """``(alias, pipeline, signature, instance)``: ``EE_PAYLOAD_PATH``."""
        return (self.alias, self.pipeline, self.signature, self.instance)


@attrs.frozen(slots=True, eq=False)
class Notification(_MessageView):
    """A node notification (deploy confirmations, failures, plugin events).

    Attributes:
        node: the sending node's address.
        alias: ``EE_PAYLOAD_PATH``.
        pipeline: ``EE_PAYLOAD_PATH``.
        signature: ``EE_PAYLOAD_PATH``.
        instance: ``EE_PAYLOAD_PATH``.
        code: ``NOTIFICATION_CODE`` when it is an integer (``1``, ``100``, ``-1``...).
        tag: ``NOTIFICATION_TAG`` (``"PIPELINE_OK"``...).
        notification_type: ``"NORMAL"``, ``"EXCEPTION"``, ``"ABNORMAL FUNCTIONING"``...
        message: the ``NOTIFICATION`` text.
        info: ``INFO`` (failure details).
        data: as in :class:`Payload`.
        verified: as in :class:`Payload`.
        encrypted: as in :class:`Payload`.
        received_at: as in :class:`Payload`.
    """

    node: str
    alias: str | None
    pipeline: str | None
    signature: str | None
    instance: str | None
    code: int | None
    tag: str | None
    notification_type: str | None
    message: str | None
    info: Any = attrs.field(repr=False)
    data: dict[str, Any] = attrs.field(repr=False)
    verified: bool = False
    encrypted: bool = False
    received_at: float = 0.0


@attrs.frozen(slots=True, eq=False)
class Heartbeat(_MessageView):
    """A node heartbeat, decompressed (v2 ``ENCODED_DATA`` merged in).

    Attributes:
        node: the node address; alias: its ``EE_ID``.
        data: as in :class:`Payload`.
        verified: as in :class:`Payload`.
        received_at: as in :class:`Payload`.
    """

    node: str
    alias: str
    data: dict[str, Any] = attrs.field(repr=False)
    verified: bool = False
    received_at: float = 0.0

    @property
    def is_supervisor(self) -> bool:
        """``EE_IS_SUPER``."""
        return bool(self.data.get("EE_IS_SUPER"))

    @property
    def secured(self) -> bool:
        """``SECURED``: the node drops badly signed commands and enforces its whitelist."""
        return bool(self.data.get("SECURED"))

    @property
    def whitelist(self) -> tuple[str, ...]:
        """``EE_WHITELIST``: client addresses the node accepts."""
        value = self.data.get("EE_WHITELIST")
        return tuple(str(v) for v in value) if isinstance(value, list) else ()  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]

    @property
    def version(self) -> str | None:
        """The node software version."""
        value = self.data.get("VERSION", self.data.get("EE_VERSION"))
        return None if value is None else str(value)


@attrs.frozen(slots=True)
class RejectedMessage:
    """A message the session dropped, and why (verification on by default).

    Attributes:
        topic: where it arrived.
        sender: the ``EE_SENDER`` it claimed (unauthenticated), if any.
        reason: ``missing_signature``, ``invalid_signature``, ``corrupted_digest``,
            ``bad_sender``, ``undecryptable``, ``malformed``...
        detail: a one-line explanation.
        received_at: ``time.time()``.
    """

    topic: str
    sender: str | None
    reason: str
    detail: str
    received_at: float


@attrs.frozen(slots=True)
class SessionStats:
    """Counters of one session (a snapshot).

    Attributes:
        received: messages handed to the session by the MQTT layer.
        verified: messages whose signature verified.
        unsigned: dropped: no ``EE_SIGN`` / ``EE_SENDER``.
        forged: dropped: the signature or digest does not match the sender.
        undecryptable: dropped: encrypted to us but would not decrypt.
        malformed: dropped: not JSON, bad path, heartbeat without ``EE_ID``...
        payloads: delivered messages of each kind.
        notifications: delivered messages of each kind.
        heartbeats: delivered messages of each kind.
        net_summaries: NET_MON_01 summaries and ``SET_CONFIG`` replies processed.
        net_configs: NET_MON_01 summaries and ``SET_CONFIG`` replies processed.
        stream_drops: messages dropped by full user streams.
        callback_errors: exceptions raised by user callbacks (logged).
        mqtt: the MQTT connection's own counters.
    """

    received: int
    verified: int
    unsigned: int
    forged: int
    undecryptable: int
    malformed: int
    payloads: int
    notifications: int
    heartbeats: int
    net_summaries: int
    net_configs: int
    stream_drops: int
    callback_errors: int
    mqtt: MQTTStats | None = None

    @property
    def rejected(self) -> int:
        """Every message dropped before delivery."""
        return self.unsigned + self.forged + self.undecryptable + self.malformed


@attrs.frozen(slots=True)
class DeployResult:
    """What a confirmed (or sent) deploy did.

    Attributes:
        pipeline: the pipeline name; node: the node address.
        command: ``"UPDATE_CONFIG"``, ``"BATCH_UPDATE_PIPELINE_INSTANCE"``, or ``None`` when
            nothing was staged (nothing was sent).
        confirmed: every expected confirmation arrived (``False`` with
            ``with_confirmation=False`` / ``wait_confirmation=False``).
        elapsed: seconds from sending to the last confirmation.
        app_url: for web apps, the ``APP_URL`` the node reported.
    """

    pipeline: str
    node: str
    command: str | None
    confirmed: bool
    elapsed: float = 0.0
    app_url: str | None = None


@attrs.frozen(slots=True, eq=False)
class InstanceStatus(_MessageView):
    """The last status a node reported for a plugin instance (``PLUGIN_STATUSES`` item).

    ``status["TOTAL_PAYLOAD_COUNT"]`` reads the raw item, like the official ``get_status()``.
    """

    signature: str
    instance_id: str
    data: dict[str, Any] = attrs.field(repr=False)

    @property
    def total_payload_count(self) -> int | None:
        """``TOTAL_PAYLOAD_COUNT``."""
        value = self.data.get("TOTAL_PAYLOAD_COUNT")
        return value if isinstance(value, int) else None


@attrs.frozen(slots=True)
class NetworkNode:
    """One node of a NET_MON_01 network summary.

    Attributes:
        address: the node's identity as the supervisor reports it.
        alias: the node's identity as the supervisor reports it.
        eth_address: the node's identity as the supervisor reports it.
        online: ``working == "ONLINE"``.
        is_supervisor: an oracle/supervisor node.
        peered: this client may send to it (not secured, or whitelisted).
        secured: as reported.
        version: as reported.
        last_seen_sec: as reported.
        uptime: as reported.
        zone: as reported.
        raw: the whole entry.
    """

    address: str
    alias: str | None
    eth_address: str | None
    online: bool
    is_supervisor: bool
    peered: bool
    secured: bool
    version: str | None
    last_seen_sec: float | None
    uptime: str | None
    zone: str | None
    raw: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen(slots=True)
class NetworkReport:
    """The network as the best-informed supervisor reports it (``get_network_known_nodes``).

    Attributes:
        nodes: the nodes, after the filters.
        reporter: the supervisor whose summary was used; reporter_alias: its alias.
        nr_supervisors: how many supervisors have reported so far.
        elapsed: seconds spent waiting for reports.
        complete: ``min_supervisors`` (or the named supervisor) reported in time.
    """

    nodes: tuple[NetworkNode, ...]
    reporter: str | None
    reporter_alias: str | None
    nr_supervisors: int
    elapsed: float
    complete: bool


@attrs.frozen(slots=True)
class AppInfo:
    """One running plugin instance of a node's pipelines (``get_nodes_apps``).

    Attributes:
        node: the node.
        node_alias: the node.
        owner: ``INITIATOR_ADDR`` / ``INITIATOR_ID`` of the pipeline.
        owner_alias: ``INITIATOR_ADDR`` / ``INITIATOR_ID`` of the pipeline.
        app: the pipeline name; plugin: the signature; instance_id: the instance.
        started: timestamps from the instance status.
        last_exec: timestamps from the instance status.
        last_data: timestamps from the instance status.
        last_error: timestamps from the instance status.
        status: the raw status item (``None`` when the node reported none).
    """

    node: str
    node_alias: str | None
    owner: str | None
    owner_alias: str | None
    app: str
    plugin: str
    instance_id: str
    started: str | None
    last_exec: str | None
    last_data: str | None
    last_error: str | None
    status: Mapping[str, Any] | None = attrs.field(repr=False)
