"""An embedded MQTT 3.1.1 broker for tests, simulators and ``tether demo``.

Pure asyncio, in-process, on loopback. It implements what the Pioreactor and Ratio1 simulations
need: CONNECT with optional credential check, clean and persistent sessions, keepalive, QoS 0,
1 and 2 from publishers (subscriptions are granted at most QoS 1, as MQTT 3.1.1 allows),
retained messages (an empty retained payload clears the topic), last wills, ``+``/``#``
wildcards with the ``$``-topic rule, PINGREQ and DISCONNECT. Payloads of several MB are fine.

A message matching several of a client's subscriptions is delivered once, at the highest
granted QoS (mosquitto 2 does the same); retained messages are sent for every matching filter
of a SUBSCRIBE.

Fault injection for tests:

- :meth:`Broker.drop_clients` aborts every client connection (as a network failure would:
  wills are published), to exercise reconnects;
- ``async with broker.outage():`` drops every client and refuses new connections until the
  block ends (a deterministic outage window);
- ``max_queued`` bounds each client's outgoing queue like mosquitto's ``max_queued_messages``
  (default 1000): QoS 0 messages beyond it are dropped and counted in :attr:`Broker.dropped`.
  QoS 1 messages are never dropped.

Example::

    async with Broker() as broker:
        print(broker.address)   # "127.0.0.1:54321"
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import Final

from tether._core.mqtt import is_valid_topic, is_valid_topic_filter, topic_matches
from tether.testing._base import SimulatorBase

__all__ = ["Broker"]

logger = logging.getLogger("tether.testing.broker")

CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
PUBREC: Final = 5
PUBREL: Final = 6
PUBCOMP: Final = 7
SUBSCRIBE: Final = 8
SUBACK: Final = 9
UNSUBSCRIBE: Final = 10
UNSUBACK: Final = 11
PINGREQ: Final = 12
PINGRESP: Final = 13
DISCONNECT: Final = 14

_ACCEPTED: Final = 0
_BAD_PROTOCOL: Final = 1
_BAD_CLIENT_ID: Final = 2
_SERVER_UNAVAILABLE: Final = 3
_BAD_CREDENTIALS: Final = 4
_NOT_AUTHORIZED: Final = 5

_MAX_REMAINING: Final = 268_435_455
_PINGRESP_PACKET: Final = bytes((PINGRESP << 4, 0))
_MATCH_CACHE_LIMIT: Final = 10_000
_WRITE_BUFFER_HIGH: Final = 1 << 20


class _ProtocolError(Exception):
    """The client broke the protocol: close its connection (its will is published)."""


# -- encoding ----------------------------------------------------------------------------------


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte = length % 128
        length //= 128
        if length:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + _remaining_length(len(body)) + body


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def _encode_publish(
    topic: str, payload: bytes, qos: int, retain: bool, packet_id: int = 0, dup: bool = False
) -> bytes:
    first = (PUBLISH << 4) | (qos << 1) | int(retain) | (0x08 if dup else 0)
    head = _utf8(topic)
    if qos:
        head += packet_id.to_bytes(2, "big")
    return bytes((first,)) + _remaining_length(len(head) + len(payload)) + head + payload


def _ack(kind: int, packet_id: int) -> bytes:
    flags = 0x02 if kind == PUBREL else 0
    return bytes(((kind << 4) | flags, 2)) + packet_id.to_bytes(2, "big")


class _Reader:
    """Sequential decoding of a packet body."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise _ProtocolError("truncated packet")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        if self.pos + 2 > len(self.data):
            raise _ProtocolError("truncated packet")
        value = int.from_bytes(self.data[self.pos : self.pos + 2], "big")
        self.pos += 2
        return value

    def raw(self) -> bytes:
        length = self.u16()
        if self.pos + length > len(self.data):
            raise _ProtocolError("truncated packet")
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value

    def text(self) -> str:
        try:
            return self.raw().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _ProtocolError("invalid UTF-8 string") from exc

    def rest(self) -> bytes:
        value = self.data[self.pos :]
        self.pos = len(self.data)
        return value

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.data)


# -- state -------------------------------------------------------------------------------------


class _Message:
    """A message on its way to one client."""

    __slots__ = ("payload", "qos", "retain", "topic")

    def __init__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain


class _Session:
    """What the broker keeps for one client id: subscriptions and undelivered QoS 1 messages."""

    __slots__ = ("clean", "client_id", "connection", "inflight", "next_id", "pending", "subs")

    def __init__(self, client_id: str, clean: bool) -> None:
        self.client_id = client_id
        self.clean = clean
        self.subs: dict[str, int] = {}
        self.connection: _Connection | None = None
        self.pending: deque[_Message] = deque()  # queued while offline (persistent sessions)
        self.inflight: dict[int, _Message] = {}  # QoS 1 sent, not yet PUBACKed
        self.next_id = 0

    def packet_id(self) -> int:
        for _ in range(65535):
            self.next_id = self.next_id % 65535 + 1
            if self.next_id not in self.inflight:
                return self.next_id
        raise _ProtocolError("no free packet identifier")


class _Connection:
    """One client's network connection."""

    def __init__(
        self, broker: Broker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.broker = broker
        self.reader = reader
        self.writer = writer
        self.session: _Session | None = None
        self.keepalive = 0
        self.last_seen = asyncio.get_running_loop().time()
        self.will: _Message | None = None
        self.out: deque[bytes | _Message] = deque()
        self.wake = asyncio.Event()
        self.closing = False  # no new packets; flush what is queued, then close
        self.aborted = False  # the transport is gone: write nothing more
        self.incoming_qos2: set[int] = set()

    @property
    def client_id(self) -> str:
        return self.session.client_id if self.session is not None else "?"

    def _writable(self) -> bool:
        """Whether a packet can go straight to the transport (nothing queued before it)."""
        transport = self.writer.transport
        return (
            not self.out
            and not transport.is_closing()
            and transport.get_write_buffer_size() < _WRITE_BUFFER_HIGH
        )

    def _write(self, item: bytes | _Message) -> None:
        if isinstance(item, bytes):
            self.writer.write(item)
            return
        session = self.session
        assert session is not None
        packet_id = session.packet_id()
        session.inflight[packet_id] = item
        self.writer.write(_encode_publish(item.topic, item.payload, 1, item.retain, packet_id))

    def send(self, packet: bytes) -> None:
        """Send (or queue, behind earlier packets) a control packet; never dropped."""
        if self.closing:
            return
        if self._writable():
            self._write(packet)
        else:
            self.out.append(packet)
            self.wake.set()

    def deliver(self, message: _Message, encoded: bytes | None) -> None:
        """Send a PUBLISH, or queue it while the socket is backed up.

        Like mosquitto, only messages that cannot be written count against ``max_queued``;
        QoS 0 beyond it is dropped and counted.
        """
        if self.closing:
            return
        item: bytes | _Message = message
        if message.qos == 0:
            item = encoded or _encode_publish(message.topic, message.payload, 0, message.retain)
        if self._writable():
            self._write(item)
            return
        if message.qos == 0 and len(self.out) >= self.broker.max_queued:
            self.broker.dropped += 1
            return
        self.out.append(item)
        self.wake.set()

    def abort(self) -> None:
        self.closing = True
        self.aborted = True
        self.writer.transport.abort()
        self.wake.set()

    async def write_loop(self) -> None:
        """Move the backlog to the socket as it drains."""
        writer = self.writer
        out = self.out
        try:
            while not self.aborted:
                while out and not self.aborted:
                    await writer.drain()  # waits while the transport is above its high water
                    if not self.aborted and out:
                        self._write(out.popleft())
                if self.closing:
                    if not self.aborted:
                        await writer.drain()
                    return
                self.wake.clear()
                await self.wake.wait()
        except (ConnectionError, OSError):
            self.abort()


class Broker(SimulatorBase):
    """An in-process MQTT 3.1.1 broker on loopback.

    Args:
        host: the interface to listen on.
        port: the port; ``0`` lets the kernel pick a free one (see :attr:`port` once started).
        users: ``{username: password}`` to require credentials; ``None`` accepts anyone.
        max_queued: per-client bound of queued outgoing messages; QoS 0 beyond it is dropped
            and counted in :attr:`dropped` (like mosquitto's ``max_queued_messages``).

    Example::

        async with Broker(users={"pioreactor": "raspberry"}) as broker:
            settings = MQTTSettings(host=broker.host, port=broker.port,
                                    username="pioreactor", password="raspberry")
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, str] | None = None,
        max_queued: int = 1000,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._users = dict(users) if users is not None else None
        self.max_queued = max_queued
        self.dropped = 0
        """QoS 0 messages dropped because a client's outgoing queue was full."""
        self._server: asyncio.Server | None = None
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._retained: dict[str, tuple[bytes, int]] = {}
        self._match_cache: dict[str, list[tuple[_Session, int]]] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._refusing = False

    def __repr__(self) -> str:
        where = self.address if self._port is not None else "not started"
        return f"<Broker {where} clients={len(self._connections)}>"

    # -- SimulatorBase ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the broker listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("the broker is not started")
        return self._port

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    def info(self) -> dict[str, str]:
        """Where to reach the broker: ``{"MQTT": "host:port"}``."""
        return {"MQTT": self.address}

    async def start(self) -> None:
        """Listen; returns once the broker accepts connections."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, self.host, self._requested_port, limit=1 << 20
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._reaper = asyncio.get_running_loop().create_task(self._reap())
        logger.debug("MQTT broker listening on %s", self.address)

    async def stop(self) -> None:
        """Close every connection and stop listening. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for connection in list(self._connections):
            connection.abort()  # no wills: the server is already gone
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()
        self._sessions.clear()
        self._match_cache.clear()

    # -- introspection and fault injection ----------------------------------------------------

    @property
    def clients(self) -> tuple[str, ...]:
        """Client ids of the connected clients."""
        return tuple(c.client_id for c in self._connections if c.session is not None)

    @property
    def retained(self) -> dict[str, bytes]:
        """A copy of the retained store, ``{topic: payload}``."""
        return {topic: payload for topic, (payload, _qos) in self._retained.items()}

    def subscriptions(self, client_id: str) -> dict[str, int]:
        """The filters (and granted QoS) of *client_id*'s session; empty if unknown."""
        session = self._sessions.get(client_id)
        return dict(session.subs) if session is not None else {}

    async def drop_clients(self) -> int:
        """Abort every client connection (as a network failure would) and return how many.

        Wills are published. Returns once the broker has cleaned the connections up.
        """
        connections = list(self._connections)
        handlers = [task for task in self._handlers if not task.done()]
        for connection in connections:
            connection.abort()
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)
        return len(connections)

    @contextlib.asynccontextmanager
    async def outage(self) -> AsyncGenerator[None]:
        """Simulate a broker outage: drop every client, and refuse new ones until the block ends.

        Refused clients get CONNACK "server unavailable". Retained messages survive, and
        :meth:`publish` still works inside the block (to change state during the outage).

        Example::

            async with broker.outage():
                await broker.publish("state", b"changed", retain=True)
        """
        self._refusing = True
        try:
            await self.drop_clients()
            yield
        finally:
            self._refusing = False

    async def publish(
        self, topic: str, payload: bytes | str = b"", qos: int = 0, retain: bool = False
    ) -> None:
        """Publish as the broker itself would (no client needed)."""
        if not is_valid_topic(topic):
            raise ValueError(f"invalid topic {topic!r}")
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        self._route(topic, data, min(qos, 2), retain)

    # -- routing ------------------------------------------------------------------------------

    def _targets(self, topic: str) -> list[tuple[_Session, int]]:
        cached = self._match_cache.get(topic)
        if cached is not None:
            return cached
        targets: list[tuple[_Session, int]] = []
        for session in self._sessions.values():
            best = -1
            for topic_filter, qos in session.subs.items():
                if qos > best and topic_matches(topic_filter, topic):
                    best = qos
            if best >= 0:
                targets.append((session, best))
        if len(self._match_cache) >= _MATCH_CACHE_LIMIT:
            self._match_cache.clear()
        self._match_cache[topic] = targets
        return targets

    def _route(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if retain:
            if payload:
                self._retained[topic] = (payload, qos)
            else:
                self._retained.pop(topic, None)
        encoded: bytes | None = None
        for session, granted in self._targets(topic):
            out_qos = min(qos, granted)
            message = _Message(topic, payload, out_qos, False)
            connection = session.connection
            if connection is not None:
                if out_qos == 0 and encoded is None:
                    encoded = _encode_publish(topic, payload, 0, False)
                connection.deliver(message, encoded if out_qos == 0 else None)
            elif not session.clean and out_qos > 0:
                if len(session.pending) >= self.max_queued:
                    self.dropped += 1
                else:
                    session.pending.append(message)

    def _send_retained(self, connection: _Connection, topic_filter: str, granted: int) -> None:
        for topic, (payload, qos) in list(self._retained.items()):
            if topic_matches(topic_filter, topic):
                out_qos = min(qos, granted)
                message = _Message(topic, payload, out_qos, True)
                connection.deliver(message, None)

    # -- connections --------------------------------------------------------------------------

    async def _reap(self) -> None:
        """Close connections silent for more than 1.5 x their keepalive."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.25)
            now = loop.time()
            for connection in list(self._connections):
                if connection.keepalive and now - connection.last_seen > 1.5 * connection.keepalive:
                    logger.debug("keepalive expired for %r", connection.client_id)
                    connection.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        # Like a broker writing straight to its socket: up to 1 MiB may wait in the transport
        # before messages pile up in the (bounded) per-client queue.
        writer.transport.set_write_buffer_limits(high=_WRITE_BUFFER_HIGH)
        connection = _Connection(self, reader, writer)
        self._connections.add(connection)
        writer_task = asyncio.get_running_loop().create_task(connection.write_loop())
        clean_exit = False
        try:
            clean_exit = await self._serve(connection)
        except (_ProtocolError, asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            logger.debug("connection of %r ended: %r", connection.client_id, exc)
        finally:
            self._connections.discard(connection)
            connection.closing = True
            connection.wake.set()
            if clean_exit:
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                    await asyncio.wait_for(writer_task, 1.0)
            writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer_task
            self._detach(connection, publish_will=not clean_exit)
            if clean_exit:
                writer.close()
            else:
                writer.transport.abort()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            self._handlers.discard(task)

    def _detach(self, connection: _Connection, *, publish_will: bool) -> None:
        session = connection.session
        if session is not None and session.connection is connection:
            session.connection = None
            if session.clean:
                self._sessions.pop(session.client_id, None)
                self._match_cache.clear()
        will, connection.will = connection.will, None
        if publish_will and will is not None and self._server is not None:
            self._route(will.topic, will.payload, will.qos, will.retain)

    async def _read_packet(self, reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
        head = await reader.readexactly(2)
        first = head[0]
        byte = head[1]
        length = byte & 0x7F
        multiplier = 128
        while byte & 0x80:
            if multiplier > 128**3:
                raise _ProtocolError("malformed remaining length")
            byte = (await reader.readexactly(1))[0]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
        body = await reader.readexactly(length) if length else b""
        return first >> 4, first & 0x0F, body

    async def _serve(self, connection: _Connection) -> bool:
        """Serve one connection; ``True`` when it ended cleanly (DISCONNECT, refused CONNECT)."""
        loop = asyncio.get_running_loop()
        reader = connection.reader
        kind, flags, body = await asyncio.wait_for(self._read_packet(reader), 10.0)
        if kind != CONNECT:
            raise _ProtocolError("the first packet must be CONNECT")
        if not self._connect(connection, _Reader(body)):
            return True  # refused: flush the CONNACK, then close
        while True:
            kind, flags, body = await self._read_packet(reader)
            connection.last_seen = loop.time()
            if kind == PUBLISH:
                self._on_publish(connection, flags, body)
            elif kind == PUBACK:
                session = connection.session
                assert session is not None
                session.inflight.pop(int.from_bytes(body[:2], "big"), None)
            elif kind == PUBREL:
                packet_id = int.from_bytes(body[:2], "big")
                connection.incoming_qos2.discard(packet_id)
                connection.send(_ack(PUBCOMP, packet_id))
            elif kind == SUBSCRIBE:
                self._on_subscribe(connection, flags, _Reader(body))
            elif kind == UNSUBSCRIBE:
                self._on_unsubscribe(connection, flags, _Reader(body))
            elif kind == PINGREQ:
                connection.send(_PINGRESP_PACKET)
            elif kind == DISCONNECT:
                connection.will = None
                return True
            elif kind in (PUBREC, PUBCOMP):
                pass  # the broker never sends QoS 2
            else:
                raise _ProtocolError(f"unexpected packet type {kind}")

    def _connect(self, connection: _Connection, body: _Reader) -> bool:
        protocol = body.text()
        level = body.u8()
        flags = body.u8()
        connection.keepalive = body.u16()
        if (protocol, level) not in (("MQTT", 4), ("MQIsdp", 3)):
            connection.send(_packet(CONNACK << 4, bytes((0, _BAD_PROTOCOL))))
            return False
        if flags & 0x01:
            raise _ProtocolError("reserved CONNECT flag set")
        clean = bool(flags & 0x02)
        client_id = body.text()
        will: _Message | None = None
        if flags & 0x04:
            will_topic = body.text()
            will_payload = body.raw()
            will_qos = (flags >> 3) & 0x03
            if will_qos > 2 or not is_valid_topic(will_topic):
                raise _ProtocolError("invalid will")
            will = _Message(will_topic, will_payload, will_qos, bool(flags & 0x20))
        username = body.text() if flags & 0x80 else None
        password = body.raw().decode("utf-8", "replace") if flags & 0x40 else None
        if not client_id:
            if not clean:
                connection.send(_packet(CONNACK << 4, bytes((0, _BAD_CLIENT_ID))))
                return False
            client_id = f"auto-{uuid.uuid4().hex[:16]}"
        if self._refusing:
            connection.send(_packet(CONNACK << 4, bytes((0, _SERVER_UNAVAILABLE))))
            return False
        if self._users is not None:
            if username is None:
                connection.send(_packet(CONNACK << 4, bytes((0, _NOT_AUTHORIZED))))
                return False
            if self._users.get(username) != password:
                connection.send(_packet(CONNACK << 4, bytes((0, _BAD_CREDENTIALS))))
                return False

        existing = self._sessions.get(client_id)
        if existing is not None and existing.connection is not None:
            logger.debug("client id %r taken over by a new connection", client_id)
            old = existing.connection
            self._detach(old, publish_will=True)
            old.abort()
        session_present = False
        if existing is not None and not clean and not existing.clean:
            session = existing
            session_present = True
        else:
            session = _Session(client_id, clean)
            self._sessions[client_id] = session
            self._match_cache.clear()
        session.clean = clean
        session.connection = connection
        connection.session = session
        connection.will = will
        connection.send(_packet(CONNACK << 4, bytes((int(session_present), _ACCEPTED))))
        if session_present:
            for packet_id, message in session.inflight.items():
                connection.send(
                    _encode_publish(
                        message.topic, message.payload, 1, message.retain, packet_id, True
                    )
                )
            while session.pending:
                connection.deliver(session.pending.popleft(), None)
        return True

    def _on_publish(self, connection: _Connection, flags: int, data: bytes) -> None:
        qos = (flags >> 1) & 0x03
        retain = bool(flags & 0x01)
        if qos > 2:
            raise _ProtocolError("invalid QoS 3")
        body = _Reader(data)
        topic = body.text()
        if not is_valid_topic(topic):
            raise _ProtocolError(f"invalid topic name {topic!r}")
        packet_id = body.u16() if qos else 0
        payload = body.rest()
        if qos == 2:
            if packet_id not in connection.incoming_qos2:  # not a re-sent duplicate
                connection.incoming_qos2.add(packet_id)
                self._route(topic, payload, qos, retain)
            connection.send(_ack(PUBREC, packet_id))
            return
        self._route(topic, payload, qos, retain)
        if qos == 1:
            connection.send(_ack(PUBACK, packet_id))

    def _on_subscribe(self, connection: _Connection, flags: int, body: _Reader) -> None:
        if flags != 0x02:
            raise _ProtocolError("bad SUBSCRIBE flags")
        session = connection.session
        assert session is not None
        packet_id = body.u16()
        granted: list[tuple[str, int]] = []
        codes = bytearray()
        while not body.exhausted:
            topic_filter = body.text()
            requested = body.u8() & 0x03
            if not is_valid_topic_filter(topic_filter) or requested > 2:
                codes.append(0x80)
                continue
            qos = min(requested, 1)
            session.subs[topic_filter] = qos
            granted.append((topic_filter, qos))
            codes.append(qos)
        if not codes:
            raise _ProtocolError("SUBSCRIBE without topic filters")
        self._match_cache.clear()
        connection.send(_packet(SUBACK << 4, packet_id.to_bytes(2, "big") + bytes(codes)))
        for topic_filter, qos in granted:
            self._send_retained(connection, topic_filter, qos)

    def _on_unsubscribe(self, connection: _Connection, flags: int, body: _Reader) -> None:
        if flags != 0x02:
            raise _ProtocolError("bad UNSUBSCRIBE flags")
        session = connection.session
        assert session is not None
        packet_id = body.u16()
        while not body.exhausted:
            session.subs.pop(body.text(), None)
        self._match_cache.clear()
        connection.send(_ack(UNSUBACK, packet_id))
