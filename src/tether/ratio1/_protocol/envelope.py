"""Message envelopes: the topic table, building and opening every message kind (§2, §3).

Builders return the dict that goes on the wire (``json.dumps`` it and publish it on the topic
from :class:`Topics`). Node builders produce the node envelope of §3.1; client builders
produce commands (§3.3) and NET_CONFIG requests (§3.4). Openers parse raw bytes, verify the
signature, decrypt what is addressed to us and decompress heartbeats / NET_MON — and report
every failure in the result instead of dropping the message.

>>> from tether.ratio1._protocol.identity import Identity
>>> client, node = Identity.from_seed("c"), Identity.from_seed("n")
>>> cmd = build_command(client, node.address, "ARCHIVE_CONFIG", "p1", session_id="me")
>>> opened = open_command(json.dumps(cmd), node)
>>> opened.action, opened.payload, opened.verified
('ARCHIVE_CONFIG', 'p1', True)
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import attrs

from tether.ratio1._protocol.addresses import is_valid_address, normalize_address
from tether.ratio1._protocol.compression import (
    compress_text,
    decode_heartbeat,
    decode_netmon,
    encode_netmon,
)
from tether.ratio1._protocol.constants import (
    ADMIN_PIPELINE,
    NOTIFICATION_CODES,
    PLUGIN_SIGNATURES,
    STATUS_TYPE,
    EventType,
)
from tether.ratio1._protocol.crypto import decrypt, encrypt_multi, encrypt_single
from tether.ratio1._protocol.errors import (
    AddressError,
    CompressionError,
    DecryptionError,
    EnvelopeError,
    SignatureError,
)
from tether.ratio1._protocol.identity import Identity
from tether.ratio1._protocol.signing import Verification, sign_message, verify_message

__all__ = [
    "DEFAULT_ROOT_TOPIC",
    "ENCRYPTED_CLEAR_FIELDS",
    "TIMESTAMP_FORMAT",
    "TOPIC_TABLE",
    "Channel",
    "IncomingCommand",
    "IncomingMessage",
    "MessageKind",
    "NodeInfo",
    "PayloadPath",
    "PipelineMeta",
    "TopicMatch",
    "TopicRoute",
    "Topics",
    "build_command",
    "build_heartbeat",
    "build_net_config_request",
    "build_netmon",
    "build_notification",
    "build_payload",
    "build_set_config",
    "encrypt_node_message",
    "format_timestamp",
    "heartbeat_status",
    "netmon_entry",
    "node_envelope",
    "open_command",
    "open_message",
    "parse_json",
]

DEFAULT_ROOT_TOPIC: Final = "naeural"
TIMESTAMP_FORMAT: Final = "%Y-%m-%d %H:%M:%S.%f"

ENCRYPTED_CLEAR_FIELDS: Final = (
    "EE_IS_ENCRYPTED",
    "EE_DEST",
    "EE_PAYLOAD_PATH",
    "EE_VERSION",
    "EE_EVENT_TYPE",
    "SESSION_ID",
    "INITIATOR_ID",
    "INITIATOR_ADDR",
    "MODIFIED_BY_ID",
    "MODIFIED_BY_ADDR",
    "EE_TIMESTAMP",
    "EE_TIMEZONE",
    "EE_TZ",
    "SB_IMPLEMENTATION",
    "EE_MESSAGE_ID",
)
"""Fields a node keeps readable when it encrypts a message (§3.2); ``EE_ID`` is not one."""


# --- topics -----------------------------------------------------------------------------------


class Channel(enum.Enum):
    """The MQTT topics of the protocol."""

    CTRL = "ctrl"
    """``<root>/ctrl``: heartbeats."""
    CTRL_TARGETED = "ctrl/<addr>"
    """``<root>/ctrl/<addr>``: mirrored heartbeats."""
    NOTIF = "notif"
    """``<root>/notif``: notifications."""
    PAYLOADS = "payloads"
    """``<root>/payloads``: broadcast payloads, NET_MON_01."""
    ADDRESSED_PAYLOADS = "<addr>/payloads"
    """``<root>/<addr>/payloads``: payloads with ``EE_DEST`` (NET_CONFIG, encrypted data)."""
    CONFIG = "<addr>/config"
    """``<root>/<addr>/config``: client → node commands."""


class MessageKind(enum.Enum):
    """What a message is, independent of where it travelled."""

    HEARTBEAT = "heartbeat"
    NET_MON = "net_mon"
    PAYLOAD = "payload"
    NOTIFICATION = "notification"
    COMMAND = "command"
    NET_CONFIG_REQUEST = "net_config_request"
    NET_CONFIG_REPLY = "net_config_reply"


@attrs.frozen(slots=True)
class TopicRoute:
    """One row of the topic table: the channel a kind travels on, and who sends it."""

    channel: Channel
    sender: str
    receiver: str


TOPIC_TABLE: Final[Mapping[MessageKind, TopicRoute]] = {
    MessageKind.HEARTBEAT: TopicRoute(Channel.CTRL, "node", "all (mirrored on ctrl/<addr>)"),
    MessageKind.NET_MON: TopicRoute(Channel.PAYLOADS, "supervisor node", "all"),
    MessageKind.PAYLOAD: TopicRoute(Channel.PAYLOADS, "node", "all (or <dest>/payloads)"),
    MessageKind.NOTIFICATION: TopicRoute(Channel.NOTIF, "node", "all"),
    MessageKind.COMMAND: TopicRoute(Channel.CONFIG, "client", "one node"),
    MessageKind.NET_CONFIG_REQUEST: TopicRoute(Channel.ADDRESSED_PAYLOADS, "client", "node"),
    MessageKind.NET_CONFIG_REPLY: TopicRoute(Channel.ADDRESSED_PAYLOADS, "node", "client"),
}
"""Message kind → route (§2)."""


@attrs.frozen(slots=True)
class TopicMatch:
    """A topic resolved to its channel; ``address`` is the ``<addr>`` part where there is one."""

    channel: Channel
    address: str | None = None


@attrs.frozen(slots=True)
class Topics:
    """The topic names under one root (``naeural`` by default).

    >>> Topics().config_for("0xai_X")
    'naeural/0xai_X/config'
    """

    root: str = DEFAULT_ROOT_TOPIC

    @property
    def ctrl(self) -> str:
        """Heartbeats."""
        return f"{self.root}/ctrl"

    @property
    def notif(self) -> str:
        """Notifications."""
        return f"{self.root}/notif"

    @property
    def payloads(self) -> str:
        """Broadcast payloads and NET_MON_01."""
        return f"{self.root}/payloads"

    def ctrl_for(self, address: str) -> str:
        """Heartbeats mirrored for watchers of one node."""
        return f"{self.root}/ctrl/{address}"

    def payloads_for(self, address: str) -> str:
        """Payloads addressed to one party."""
        return f"{self.root}/{address}/payloads"

    def config_for(self, node: str) -> str:
        """Commands for one node (address, or alias in alias mode)."""
        return f"{self.root}/{node}/config"

    def for_kind(self, kind: MessageKind, address: str | None = None) -> str:
        """Return the topic a message of *kind* is published on (*address*: the receiver)."""
        channel = TOPIC_TABLE[kind].channel
        if kind is MessageKind.PAYLOAD and address is not None:
            channel = Channel.ADDRESSED_PAYLOADS
        if channel is Channel.CTRL:
            return self.ctrl
        if channel is Channel.NOTIF:
            return self.notif
        if channel is Channel.PAYLOADS:
            return self.payloads
        if address is None:
            raise EnvelopeError(f"{kind.value} messages need a receiver address for the topic")
        if channel is Channel.CONFIG:
            return self.config_for(address)
        return self.payloads_for(address)

    def match(self, topic: str) -> TopicMatch | None:
        """Resolve *topic* to a :class:`TopicMatch`, or ``None`` when it is not a protocol topic."""
        prefix = self.root + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if parts == ["ctrl"]:
            return TopicMatch(Channel.CTRL)
        if parts == ["notif"]:
            return TopicMatch(Channel.NOTIF)
        if parts == ["payloads"]:
            return TopicMatch(Channel.PAYLOADS)
        if len(parts) == 2 and parts[0] == "ctrl" and parts[1]:
            return TopicMatch(Channel.CTRL_TARGETED, parts[1])
        if len(parts) == 2 and parts[0] and parts[1] == "payloads":
            return TopicMatch(Channel.ADDRESSED_PAYLOADS, parts[0])
        if len(parts) == 2 and parts[0] and parts[1] == "config":
            return TopicMatch(Channel.CONFIG, parts[0])
        return None


# --- shared pieces ----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class PayloadPath:
    """``EE_PAYLOAD_PATH``: ``[node alias, pipeline, plugin signature, instance id]``."""

    node: str | None = None
    pipeline: str | None = None
    signature: str | None = None
    instance: str | None = None

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> PayloadPath:
        """Read the path of *message* (four nulls when absent, like the SDK)."""
        raw = message.get("EE_PAYLOAD_PATH")
        if raw is None:
            return cls()
        if not isinstance(raw, (list, tuple)) or len(raw) != 4:  # pyright: ignore[reportUnknownArgumentType]
            raise EnvelopeError(f"EE_PAYLOAD_PATH must be a list of 4 items, got {raw!r}")
        items = [None if v is None else str(v) for v in cast("list[Any]", raw)]
        return cls(items[0], items[1], items[2], items[3])

    def to_list(self) -> list[str | None]:
        """The wire form."""
        return [self.node, self.pipeline, self.signature, self.instance]


@attrs.frozen(slots=True)
class PipelineMeta:
    """Who created / last changed a pipeline; copied into every message of that pipeline."""

    session_id: str | None = None
    initiator_id: str | None = None
    initiator_addr: str | None = None
    modified_by_id: str | None = None
    modified_by_addr: str | None = None


@attrs.frozen(slots=True)
class NodeInfo:
    """What a node stamps on its messages: its key, its alias and its software version."""

    identity: Identity
    alias: str
    version: str = "2.0.0"
    formatter: str | None = None


def format_timestamp(moment: _dt.datetime | None = None) -> str:
    """Return *moment* (default: now, UTC) as ``"%Y-%m-%d %H:%M:%S.%f"``."""
    return (moment or _dt.datetime.now(_dt.UTC)).strftime(TIMESTAMP_FORMAT)


def _tz_fields(moment: _dt.datetime) -> tuple[str, str]:
    offset = moment.utcoffset() or _dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    label = f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")
    tzname = moment.tzname() or "UTC"
    return label, tzname


def parse_json(raw: bytes | bytearray | str) -> dict[str, Any]:
    """Parse one wire message; raise :class:`EnvelopeError` unless it is a JSON object."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeError(f"message is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EnvelopeError(f"message is a JSON {type(value).__name__}, not an object")
    return value  # pyright: ignore[reportUnknownVariableType]


# --- node → client ----------------------------------------------------------------------------


def node_envelope(
    node: NodeInfo,
    body: Mapping[str, Any],
    *,
    event_type: str,
    path: PayloadPath,
    meta: PipelineMeta | None = None,
    seq: int = 1,
    now: _dt.datetime | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """Return the unsigned, plain node envelope of §3.1 around *body*.

    ``path.node`` is replaced by the node alias; ``STREAM_NAME`` / ``SIGNATURE`` /
    ``INSTANCE_ID`` come from the path.
    """
    moment = now or _dt.datetime.now(_dt.UTC)
    tz_label, tz_name = _tz_fields(moment)
    meta = meta or PipelineMeta()
    message: dict[str, Any] = {
        "EE_TIMESTAMP": moment.strftime(TIMESTAMP_FORMAT),
        "EE_TIMEZONE": tz_label,
        "EE_TZ": tz_name,
        "EE_MESSAGE_SEQ": seq,
        "EE_MESSAGE_ID": message_id or str(uuid.uuid4()),
        "EE_TOTAL_MESSAGES": seq,
        "EE_ADDR": node.identity.address,
        "EE_ID": node.alias,
        "EE_EVENT_TYPE": event_type,
        "EE_VERSION": node.version,
    }
    message.update(body)
    message.update(
        {
            "STREAM_NAME": path.pipeline,
            "SIGNATURE": path.signature,
            "INSTANCE_ID": path.instance,
            "SESSION_ID": meta.session_id,
            "INITIATOR_ID": meta.initiator_id,
            "INITIATOR_ADDR": meta.initiator_addr,
            "MODIFIED_BY_ID": meta.modified_by_id,
            "MODIFIED_BY_ADDR": meta.modified_by_addr,
            "EE_FORMATTER": node.formatter,
            "EE_IS_ENCRYPTED": False,
            "EE_PAYLOAD_PATH": [node.alias, path.pipeline, path.signature, path.instance],
            "SB_IMPLEMENTATION": node.formatter,
        }
    )
    return message


def encrypt_node_message(
    node: NodeInfo, message: Mapping[str, Any], destination: str | Sequence[str]
) -> dict[str, Any]:
    """Return the encrypted form of a plain node *message* (§3.2), unsigned.

    A string *destination* gives the single-recipient format (what real nodes send), a list
    the multi-recipient one.
    """
    inner = {k: v for k, v in message.items() if k not in ("EE_DEST",)}
    text = json.dumps(inner, ensure_ascii=False)
    if isinstance(destination, str):
        data = encrypt_single(node.identity, text, destination)
        dest: str | list[str] = destination
    else:
        dest = list(destination)
        data = encrypt_multi(node.identity, text, dest)
    outer: dict[str, Any] = {"EE_ENCRYPTED_DATA": data, "EE_IS_ENCRYPTED": True, "EE_DEST": dest}
    for key in ENCRYPTED_CLEAR_FIELDS[2:]:
        if key in message:
            outer[key] = message[key]
    return outer


def _finish(message: dict[str, Any], identity: Identity | None) -> dict[str, Any]:
    return sign_message(message, identity) if identity is not None else message


def heartbeat_status(
    node: NodeInfo,
    *,
    whitelist: Sequence[str] = (),
    secured: bool = False,
    is_supervisor: bool = False,
    heartbeat_interval: float = 10.0,
    active_plugins: Sequence[Mapping[str, Any]] = (),
    uptime: float = 0.0,
    counters: tuple[int, int, int] = (0, 0, 0),
    now: _dt.datetime | None = None,
) -> dict[str, Any]:
    """Return the heartbeat status fields of a node (the content of ``ENCODED_DATA``)."""
    stamp = format_timestamp(now)
    inferences, payloads, streams = counters
    return {
        "CURRENT_TIME": stamp,
        "EE_ADDR": node.identity.address,
        "EE_WHITELIST": list(whitelist),
        "EE_IS_SUPER": is_supervisor,
        "EE_FORMATTER": node.formatter,
        "IS_ALERT_RAM": False,
        "NR_INFERENCES": inferences,
        "NR_PAYLOADS": payloads,
        "NR_STREAMS_DATA": streams,
        "PY_VER": "3.11",
        "SECURED": secured,
        "EE_HB_TIME": heartbeat_interval,
        "DEVICE_STATUS": "online",
        "MACHINE_IP": "127.0.0.1",
        "MACHINE_MEMORY": 16.0,
        "AVAILABLE_MEMORY": 8.0,
        "PROCESS_MEMORY": 0.1,
        "CPU_USED": 1.0,
        "CPU_NR_CORES": 2,
        "GPUS": "N/A",
        "GPU_INFO": "",
        "DEFAULT_CUDA": None,
        "CPU": "simulated",
        "TIMESTAMP": stamp,
        "UPTIME": uptime,
        "VERSION": node.version,
        "LOGGER_VERSION": node.version,
        "TOTAL_DISK": 100.0,
        "AVAILABLE_DISK": 50.0,
        "ACTIVE_PLUGINS": [dict(p) for p in active_plugins],
        "STOP_LOG": [],
        "DID": False,
        "COMM_RELAY": "",
        "R1FS_ID": None,
        "R1FS_ONLINE": False,
        "R1FS_RELAY": None,
        "TEMPERATURE_INFO": None,
        "GIT_BRANCH": None,
        "CONDA_ENV": None,
        "CONFIG_STREAMS": [],
        "DCT_STATS": {},
        "COMM_STATS": {},
        "IN_KB": 0.0,
        "OUT_KB": 0.0,
        "SERVING_PIDS": [],
        "LOOPS_TIMINGS": {},
        "TIMERS": "Timers not available in summary",
        "DEVICE_LOG": [],
        "ERROR_LOG": [],
    }


def build_heartbeat(
    node: NodeInfo,
    status: Mapping[str, Any],
    *,
    version: str = "v2",
    seq: int = 1,
    now: _dt.datetime | None = None,
    sign: bool = True,
) -> dict[str, Any]:
    """Return a heartbeat (v2: status compressed into ``ENCODED_DATA``; v1: status in clear)."""
    if version == "v2":
        body: dict[str, Any] = {
            "ENCODED_DATA": compress_text(json.dumps(dict(status))),
            "NR_INFERENCES": status.get("NR_INFERENCES", 0),
            "NR_PAYLOADS": status.get("NR_PAYLOADS", 0),
            "NR_STREAMS_DATA": status.get("NR_STREAMS_DATA", 0),
            "HEARTBEAT_VERSION": "v2",
        }
    elif version == "v1":
        body = {**status, "HEARTBEAT_VERSION": "v1"}
    else:
        raise EnvelopeError(f"heartbeat version must be 'v1' or 'v2', not {version!r}")
    message = node_envelope(
        node, body, event_type=EventType.HEARTBEAT, path=PayloadPath(), seq=seq, now=now
    )
    return _finish(message, node.identity if sign else None)


def netmon_entry(
    address: str,
    alias: str,
    *,
    eth_address: str | None = None,
    online: bool = True,
    is_supervisor: bool = False,
    whitelist: Sequence[str] = (),
    secured: bool = False,
    version: str = "2.0.0",
    last_seen_sec: float = 0.0,
    now: _dt.datetime | None = None,
) -> dict[str, Any]:
    """Return one ``CURRENT_NETWORK`` entry of NET_MON_01 describing a node."""
    return {
        "address": address,
        "eth_address": eth_address,
        "eeid": alias,
        "working": "ONLINE" if online else "LOST STATUS",
        "is_supervisor": is_supervisor,
        "whitelist": list(whitelist),
        "secured": secured,
        "version": version,
        "last_seen_sec": last_seen_sec,
        "uptime": "0:00:00",
        "node_utc": "UTC+0",
        "last_remote_time": format_timestamp(now),
        "r1fs_id": None,
        "r1fs_online": False,
        "r1fs_relay": None,
        "comm_relay": "",
        "total_cpu_cores": 2,
        "total_mem": 16.0,
        "total_disk": 100.0,
    }


def build_netmon(
    node: NodeInfo,
    network: Mapping[str, Mapping[str, Any]],
    *,
    compress: bool = False,
    seq: int = 1,
    now: _dt.datetime | None = None,
    sign: bool = True,
) -> dict[str, Any]:
    """Return a NET_MON_01 summary from a supervisor (*network*: key → :func:`netmon_entry`)."""
    body: dict[str, Any] = {
        "CURRENT_NETWORK": {k: dict(v) for k, v in network.items()},
        "CURRENT_ALERTED": {},
        "CURRENT_RANKING": [],
        "CURRENT_NEW": [],
        "STATUS": "ok",
        "MESSAGE": "ok",
        "IS_SUPERVISOR": True,
    }
    path = PayloadPath(node.alias, ADMIN_PIPELINE, PLUGIN_SIGNATURES.NET_MON_01, "NET_MON_01_INST")
    message = node_envelope(node, body, event_type=EventType.PAYLOAD, path=path, seq=seq, now=now)
    if compress:
        message = encode_netmon(message)
    return _finish(message, node.identity if sign else None)


def build_notification(
    node: NodeInfo,
    *,
    code: int | None,
    text: str,
    path: PayloadPath,
    meta: PipelineMeta | None = None,
    info: Any = None,
    notification_type: str | None = None,
    extra: Mapping[str, Any] | None = None,
    seq: int = 1,
    now: _dt.datetime | None = None,
    sign: bool = True,
) -> dict[str, Any]:
    """Return a notification; *code* is an int from :class:`NOTIFICATION_CODES` (or ``None``)."""
    kind = notification_type or (
        STATUS_TYPE.STATUS_EXCEPTION if code is not None and code < 0 else STATUS_TYPE.STATUS_NORMAL
    )
    body: dict[str, Any] = {
        "MODULE": "tether.testing.ratio1",
        "NOTIFICATION_TYPE": kind,
        "NOTIFICATION": text[:255],
        "NOTIFICATION_CODE": code,
        "NOTIFICATION_TAG": NOTIFICATION_CODES.TAGS.get(code) if code is not None else None,
        "INFO": info,
        "TIMESTAMP": format_timestamp(now),
        "ERROR_CODE": None,
        "DISPLAYED": True,
    }
    if extra:
        body.update(extra)
    message = node_envelope(
        node, body, event_type=EventType.NOTIFICATION, path=path, meta=meta, seq=seq, now=now
    )
    return _finish(message, node.identity if sign else None)


def build_payload(
    node: NodeInfo,
    data: Mapping[str, Any],
    *,
    path: PayloadPath,
    meta: PipelineMeta | None = None,
    encrypt_to: str | Sequence[str] | None = None,
    seq: int = 1,
    now: _dt.datetime | None = None,
    sign: bool = True,
) -> dict[str, Any]:
    """Return an instance payload; with *encrypt_to* it is encrypted (publish it on
    ``Topics.payloads_for(dest)``)."""
    message = node_envelope(
        node, data, event_type=EventType.PAYLOAD, path=path, meta=meta, seq=seq, now=now
    )
    if encrypt_to is not None:
        message = encrypt_node_message(node, message, encrypt_to)
    return _finish(message, node.identity if sign else None)


def build_set_config(
    node: NodeInfo,
    requester: str | Sequence[str],
    *,
    pipelines: Sequence[Mapping[str, Any]],
    plugin_statuses: Sequence[Mapping[str, Any]],
    seq: int = 1,
    now: _dt.datetime | None = None,
    sign: bool = True,
) -> dict[str, Any]:
    """Return the encrypted ``SET_CONFIG`` reply to *requester* (a string → single format)."""
    body = {
        "NET_CONFIG_DATA": {
            "OP": "SET_CONFIG",
            "DEST": requester if isinstance(requester, str) else list(requester),
            "PIPELINES": [dict(p) for p in pipelines],
            "PLUGIN_STATUSES": [dict(s) for s in plugin_statuses],
        }
    }
    path = PayloadPath(
        node.alias,
        ADMIN_PIPELINE,
        PLUGIN_SIGNATURES.NET_CONFIG_MONITOR,
        "NET_CONFIG_MONITOR_INST",
    )
    return build_payload(node, body, path=path, encrypt_to=requester, seq=seq, now=now, sign=sign)


# --- client → node ----------------------------------------------------------------------------


def build_command(
    identity: Identity,
    node_address: str,
    action: str,
    payload: Any,
    *,
    session_id: str,
    initiator_id: str | None = None,
    encrypt: bool = True,
    destination_id: str | None = None,
    now: _dt.datetime | None = None,
) -> dict[str, Any]:
    """Return a signed command for *node_address* (publish on ``Topics.config_for(node)``).

    Encrypted by default (single-recipient, like ``encrypt_comms=True``); ``EE_ID`` is
    *destination_id* or the node address.
    """
    if not is_valid_address(node_address):
        raise AddressError(f"not a node address: {node_address!r}")
    if encrypt:
        plain = json.dumps({"ACTION": action, "PAYLOAD": payload})
        message: dict[str, Any] = {
            "EE_IS_ENCRYPTED": True,
            "EE_ENCRYPTED_DATA": encrypt_single(identity, plain, node_address),
        }
    else:
        message = {"ACTION": action, "PAYLOAD": payload, "EE_IS_ENCRYPTED": False}
    message.update(
        {
            "EE_DEST": node_address,
            "EE_ID": destination_id or node_address,
            "SESSION_ID": session_id,
            "INITIATOR_ID": initiator_id or session_id,
            "EE_SENDER": identity.address,
            "TIME": (now or _dt.datetime.now()).strftime(TIMESTAMP_FORMAT),
        }
    )
    return sign_message(message, identity)


def build_net_config_request(
    identity: Identity,
    node_addresses: Sequence[str],
    *,
    session_id: str,
    initiator_id: str | None = None,
    now: _dt.datetime | None = None,
) -> dict[str, Any]:
    """Return a signed ``GET_CONFIG`` (multi-recipient encrypted); publish it once on
    ``Topics.payloads_for(addr)`` for each address."""
    dest = list(node_addresses)
    body = {"NET_CONFIG_DATA": {"OP": "GET_CONFIG", "DEST": dest}}
    message: dict[str, Any] = {
        "EE_IS_ENCRYPTED": True,
        "EE_ENCRYPTED_DATA": encrypt_multi(identity, json.dumps(body), dest),
        "EE_DEST": dest,
        "EE_ID": None,
        "SESSION_ID": session_id,
        "INITIATOR_ID": initiator_id or session_id,
        "EE_SENDER": identity.address,
        "TIME": (now or _dt.datetime.now()).strftime(TIMESTAMP_FORMAT),
        "EE_PAYLOAD_PATH": [
            identity.address,
            ADMIN_PIPELINE,
            PLUGIN_SIGNATURES.NET_CONFIG_MONITOR,
            None,
        ],
    }
    return sign_message(message, identity)


# --- opening received messages ----------------------------------------------------------------


@attrs.frozen(slots=True)
class IncomingMessage:
    """A received message, opened.

    Attributes:
        kind: what it is.
        data: the merged view: decrypted fields (outer ones win), heartbeat / NET_MON bodies
            decoded. This is what callbacks should see.
        raw: the message exactly as parsed from the wire (what the signature covers).
        sender: ``EE_SENDER`` (unauthenticated unless ``verified``).
        path: ``EE_PAYLOAD_PATH``.
        encrypted: the message arrived encrypted.
        decrypted: it was encrypted to us and decrypted.
        verification: set when the signature verified.
        signature_error: set when verification was requested and failed.
        decryption_error: set when it was addressed to us but did not decrypt.
        decode_error: set when a compressed body did not decode.
    """

    kind: MessageKind
    data: dict[str, Any]
    raw: dict[str, Any]
    sender: str | None
    path: PayloadPath
    encrypted: bool = False
    decrypted: bool = False
    verification: Verification | None = None
    signature_error: SignatureError | None = None
    decryption_error: DecryptionError | None = None
    decode_error: CompressionError | None = None

    @property
    def verified(self) -> bool:
        """Whether the signature verified."""
        return self.verification is not None

    @property
    def notification_code(self) -> int | None:
        """``NOTIFICATION_CODE`` when it is an int (a string ``"1"`` matches nothing)."""
        code = self.data.get("NOTIFICATION_CODE")
        return code if isinstance(code, int) and not isinstance(code, bool) else None


def _addressed_to(message: Mapping[str, Any], address: str) -> bool:
    dest = message.get("EE_DEST")
    candidates: list[Any] = [dest] if isinstance(dest, str) else []
    if isinstance(dest, list):
        candidates = cast(Any, dest)
    mine = normalize_address(address)
    for item in candidates:
        if not isinstance(item, str):
            continue
        if item == address:
            return True
        try:
            if normalize_address(item) == mine:
                return True
        except AddressError:
            continue
    return False


def _kind(channel: Channel | None, data: Mapping[str, Any], path: PayloadPath) -> MessageKind:
    if channel in (Channel.CTRL, Channel.CTRL_TARGETED):
        return MessageKind.HEARTBEAT
    if channel is Channel.NOTIF:
        return MessageKind.NOTIFICATION
    if channel is Channel.CONFIG:
        return MessageKind.COMMAND
    if channel is None:
        event = data.get("EE_EVENT_TYPE")
        if event == EventType.HEARTBEAT:
            return MessageKind.HEARTBEAT
        if event == EventType.NOTIFICATION:
            return MessageKind.NOTIFICATION
        if "ACTION" in data or ("EE_DEST" in data and "TIME" in data and path.pipeline is None):
            return MessageKind.COMMAND
    if path.signature == PLUGIN_SIGNATURES.NET_MON_01:
        return MessageKind.NET_MON
    if path.signature == PLUGIN_SIGNATURES.NET_CONFIG_MONITOR:
        net = data.get("NET_CONFIG_DATA")
        op = net.get("OP") if isinstance(net, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if op == "GET_CONFIG":
            return MessageKind.NET_CONFIG_REQUEST
        if op == "SET_CONFIG":
            return MessageKind.NET_CONFIG_REPLY
        # not decrypted: a request carries the client address as path[0], a reply the alias
        if path.node is not None and path.node == data.get("EE_SENDER"):
            return MessageKind.NET_CONFIG_REQUEST
        return MessageKind.NET_CONFIG_REPLY
    return MessageKind.PAYLOAD


def open_message(
    raw: bytes | bytearray | str | Mapping[str, Any],
    *,
    identity: Identity | None = None,
    topic: str | None = None,
    topics: Topics | None = None,
    verify: bool = True,
) -> IncomingMessage:
    """Parse, verify, decrypt and decode one received message.

    Only malformed input raises (:class:`EnvelopeError`); signature, decryption and decoding
    failures are reported on the result. Decryption happens only when *identity*'s address is
    in ``EE_DEST``; a message for someone else keeps its outer fields only (like the SDK).
    """
    message = dict(raw) if isinstance(raw, Mapping) else parse_json(raw)
    channel: Channel | None = None
    if topic is not None:
        found = (topics or Topics()).match(topic)
        channel = found.channel if found else None

    verification: Verification | None = None
    signature_error: SignatureError | None = None
    if verify:
        try:
            verification = verify_message(message)
        except SignatureError as exc:
            signature_error = exc

    data = dict(message)
    encrypted = bool(message.get("EE_IS_ENCRYPTED")) and "EE_ENCRYPTED_DATA" in message
    decrypted = False
    decryption_error: DecryptionError | None = None
    sender = message.get("EE_SENDER")
    sender = sender if isinstance(sender, str) else None
    if encrypted and identity is not None and _addressed_to(message, identity.address):
        try:
            if sender is None:
                raise DecryptionError("encrypted message without EE_SENDER")
            inner = parse_json(decrypt(identity, message["EE_ENCRYPTED_DATA"], sender))
            data = {**inner, **message}
            data.pop("EE_ENCRYPTED_DATA", None)
            decrypted = True
        except DecryptionError as exc:
            decryption_error = exc
        except EnvelopeError as exc:
            decryption_error = DecryptionError(f"decrypted data is not a JSON object: {exc}")

    path = PayloadPath.from_message(data)
    kind = _kind(channel, data, path)
    decode_error: CompressionError | None = None
    try:
        if kind is MessageKind.HEARTBEAT:
            data = decode_heartbeat(data)
        elif kind is MessageKind.NET_MON:
            data = decode_netmon(data)
    except CompressionError as exc:
        decode_error = exc
    return IncomingMessage(
        kind=kind,
        data=data,
        raw=message,
        sender=sender,
        path=path,
        encrypted=encrypted,
        decrypted=decrypted,
        verification=verification,
        signature_error=signature_error,
        decryption_error=decryption_error,
        decode_error=decode_error,
    )


@attrs.frozen(slots=True)
class IncomingCommand:
    """A command as a node reads it (§3.3).

    Attributes:
        action: ``ACTION``, upper-cased.
        payload: ``PAYLOAD`` (a dict, a list or the bare pipeline name).
        sender: ``EE_SENDER``.
        session_id / initiator_id: the client's names.
        encrypted: whether it arrived encrypted.
        verification / signature_error: the signature check.
        raw: the message as received.
    """

    action: str
    payload: Any
    sender: str
    session_id: str | None
    initiator_id: str | None
    encrypted: bool
    raw: dict[str, Any]
    verification: Verification | None = None
    signature_error: SignatureError | None = None

    @property
    def verified(self) -> bool:
        """Whether the signature verified."""
        return self.verification is not None


def open_command(
    raw: bytes | bytearray | str | Mapping[str, Any],
    identity: Identity,
    *,
    aliases: Sequence[str] = (),
) -> IncomingCommand:
    """Read a command addressed to the node *identity* (alias in *aliases*).

    Raises :class:`EnvelopeError` when it targets another node or is malformed and
    :class:`DecryptionError` when it does not decrypt. The signature result is reported, not
    raised: an unsecured node still accepts a badly signed command.
    """
    message = dict(raw) if isinstance(raw, Mapping) else parse_json(raw)
    target = message.get("EE_ID")
    accepted = {identity.address, identity.eth_address, *aliases}
    if target not in accepted:
        dest = message.get("EE_DEST")
        if not (isinstance(dest, str) and _addressed_to(message, identity.address)):
            raise EnvelopeError(f"command targets {target!r}, not this node")
    sender = message.get("EE_SENDER")
    if not isinstance(sender, str):
        raise EnvelopeError("command has no EE_SENDER")
    verification: Verification | None = None
    signature_error: SignatureError | None = None
    try:
        verification = verify_message(message)
    except SignatureError as exc:
        signature_error = exc
    encrypted = bool(message.get("EE_IS_ENCRYPTED"))
    if encrypted:
        data = message.get("EE_ENCRYPTED_DATA")
        if not isinstance(data, str):
            raise DecryptionError("encrypted command without EE_ENCRYPTED_DATA")
        try:
            inner = parse_json(decrypt(identity, data, sender))
        except EnvelopeError as exc:
            raise DecryptionError(f"decrypted command is not a JSON object: {exc}") from None
    else:
        inner = message
    action = inner.get("ACTION")
    if not isinstance(action, str) or not action:
        raise EnvelopeError("command has no ACTION")
    session_id = message.get("SESSION_ID")
    initiator_id = message.get("INITIATOR_ID")
    return IncomingCommand(
        action=action.upper(),
        payload=inner.get("PAYLOAD"),
        sender=sender,
        session_id=session_id if isinstance(session_id, str) else None,
        initiator_id=initiator_id if isinstance(initiator_id, str) else None,
        encrypted=encrypted,
        raw=message,
        verification=verification,
        signature_error=signature_error,
    )
