"""The embedded MQTT broker, driven by paho-mqtt (the Ratio1 SDK's client), aiomqtt, raw bytes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tether.testing.broker import Broker

Received = tuple[str, bytes, int, bool]


class Paho:
    """A paho client on its own network thread, awaited from the test's event loop."""

    def __init__(
        self,
        broker: Broker,
        client_id: str = "",
        *,
        clean: bool = True,
        username: str | None = None,
        password: str | None = None,
        will: tuple[str, bytes, int, bool] | None = None,
    ) -> None:
        self.broker = broker
        self.loop = asyncio.get_running_loop()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"paho-{uuid.uuid4().hex[:8]}",
            clean_session=clean,
            protocol=mqtt.MQTTv311,
        )
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.1)  # type: ignore[arg-type]
        if username is not None:
            self.client.username_pw_set(username, password)
        if will is not None:
            self.client.will_set(*will)
        self.messages: asyncio.Queue[Received] = asyncio.Queue()
        self.connack: asyncio.Future[tuple[int, bool]] = self.loop.create_future()
        self.subacks: dict[int, asyncio.Future[list[int]]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe
        self.started = False

    def _on_connect(self, _c: Any, _u: Any, flags: Any, rc: Any, _p: Any = None) -> None:
        result = (int(rc.value), bool(flags.session_present))

        def done() -> None:
            if not self.connack.done():
                self.connack.set_result(result)

        self.loop.call_soon_threadsafe(done)

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        item = (m.topic, bytes(m.payload), m.qos, bool(m.retain))
        self.loop.call_soon_threadsafe(self.messages.put_nowait, item)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: Any, _p: Any = None) -> None:
        values = [int(c.value) for c in codes]

        def done() -> None:
            future = self.subacks.get(mid)
            if future is not None and not future.done():
                future.set_result(values)

        self.loop.call_soon_threadsafe(done)

    def _on_unsubscribe(self, _c: Any, _u: Any, mid: int, _codes: Any, _p: Any = None) -> None:
        def done() -> None:
            future = self.subacks.get(mid)
            if future is not None and not future.done():
                future.set_result([])

        self.loop.call_soon_threadsafe(done)

    async def connect(self) -> tuple[int, bool]:
        await asyncio.to_thread(self.client.connect, self.broker.host, self.broker.port, 30)
        self.client.loop_start()
        self.started = True
        return await asyncio.wait_for(self.connack, 5)

    async def subscribe(self, topic_filter: str, qos: int = 0) -> list[int]:
        future: asyncio.Future[list[int]] = self.loop.create_future()
        _rc, mid = self.client.subscribe(topic_filter, qos)
        assert mid is not None
        self.subacks[mid] = future
        return await asyncio.wait_for(future, 5)

    async def unsubscribe(self, topic_filter: str) -> None:
        future: asyncio.Future[list[int]] = self.loop.create_future()
        _rc, mid = self.client.unsubscribe(topic_filter)
        assert mid is not None
        self.subacks[mid] = future
        await asyncio.wait_for(future, 5)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos, retain)
        await asyncio.to_thread(info.wait_for_publish, 5)
        assert info.is_published()
        if qos == 0:
            # A QoS 1 barrier: once acknowledged, the broker has routed the QoS 0 message too.
            await self.publish("$sync/barrier", b"", qos=1)

    async def next(self, timeout: float = 5) -> Received:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def close(self) -> None:
        self.client.disconnect()
        if self.started:
            await asyncio.to_thread(self.client.loop_stop)


@contextlib.asynccontextmanager
async def paho(broker: Broker, client_id: str = "", **kwargs: Any) -> AsyncIterator[Paho]:
    client = Paho(broker, client_id, **kwargs)
    try:
        rc, _present = await client.connect()
        assert rc == 0
        yield client
    finally:
        await client.close()


# -- raw MQTT bytes, for protocol-level checks -------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(
    client_id: str,
    *,
    keepalive: int = 0,
    clean: bool = True,
    will: tuple[str, bytes] | None = None,
    protocol: bytes = b"MQTT",
    level: int = 4,
) -> bytes:
    flags = 0x02 if clean else 0
    payload = _s(client_id)
    if will is not None:
        flags |= 0x04
        payload += _s(will[0]) + _s(will[1])
    body = _s(protocol) + bytes((level, flags)) + keepalive.to_bytes(2, "big") + payload
    return bytes((0x10,)) + _varint(len(body)) + body


async def raw_session(
    broker: Broker, packet: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection(broker.host, broker.port)
    writer.write(packet)
    connack = await asyncio.wait_for(reader.readexactly(4), 5)
    return reader, writer, connack


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


# -- tests -------------------------------------------------------------------------------------


async def test_broker_reports_its_address(broker: Broker) -> None:
    assert broker.host == "127.0.0.1"
    assert broker.port > 0
    assert broker.address == f"127.0.0.1:{broker.port}"
    assert broker.info() == {"MQTT": broker.address}


async def test_paho_publish_and_subscribe_at_every_qos(broker: Broker) -> None:
    async with paho(broker) as sub, paho(broker) as pub:
        assert await sub.subscribe("sensors/+/temp", qos=2) == [1]  # QoS 2 granted as 1
        for qos in (0, 1, 2):
            await pub.publish("sensors/a/temp", f"q{qos}".encode(), qos=qos)
            assert await sub.next() == ("sensors/a/temp", f"q{qos}".encode(), min(qos, 1), False)
        await pub.publish("sensors/a/humidity", b"no")
        await pub.publish("sensors/b/temp", b"yes")
        assert (await sub.next())[:2] == ("sensors/b/temp", b"yes")


async def test_retained_messages_are_sent_on_subscribe_and_cleared_by_empty_payload(
    broker: Broker,
) -> None:
    async with paho(broker) as pub:
        await pub.publish("state/a", b"ready", qos=1, retain=True)
        await pub.publish("state/b", b"sleeping", qos=0, retain=True)
        assert broker.retained == {"state/a": b"ready", "state/b": b"sleeping"}
        async with paho(broker) as sub:
            await sub.subscribe("state/#", qos=1)
            got = {await sub.next(), await sub.next()}
            assert got == {("state/a", b"ready", 1, True), ("state/b", b"sleeping", 0, True)}
            await pub.publish("state/a", b"live", qos=1, retain=True)
            assert await sub.next() == ("state/a", b"live", 1, False)  # live: retain flag 0
        await pub.publish("state/a", b"", qos=1, retain=True)  # clears
        assert broker.retained == {"state/b": b"sleeping"}
        async with paho(broker) as late:
            await late.subscribe("state/a")
            await pub.publish("state/a", b"marker")
            assert await late.next() == ("state/a", b"marker", 0, False)


async def test_wildcards_do_not_match_dollar_topics(broker: Broker) -> None:
    async with paho(broker) as everything, paho(broker) as system, paho(broker) as pub:
        await everything.subscribe("#")
        await system.subscribe("$SYS/#")
        await pub.publish("$SYS/broker/uptime", b"1")
        await pub.publish("plain", b"2")
        assert await system.next() == ("$SYS/broker/uptime", b"1", 0, False)
        assert await everything.next() == ("plain", b"2", 0, False)
        assert everything.messages.empty()


async def test_overlapping_subscriptions_deliver_one_copy_at_the_highest_qos(
    broker: Broker,
) -> None:
    async with paho(broker) as sub, paho(broker) as pub:
        await sub.subscribe("a/#", qos=0)
        await sub.subscribe("a/+", qos=1)
        await pub.publish("a/b", b"x", qos=1)
        await pub.publish("a/end", b"end", qos=1)
        assert await sub.next() == ("a/b", b"x", 1, False)
        assert await sub.next() == ("a/end", b"end", 1, False)


async def test_unsubscribe_stops_delivery(broker: Broker) -> None:
    async with paho(broker) as sub, paho(broker) as pub:
        await sub.subscribe("u/1")
        await sub.subscribe("u/2")
        await sub.unsubscribe("u/1")
        await pub.publish("u/1", b"gone", qos=1)
        await pub.publish("u/2", b"here", qos=1)
        assert await sub.next() == ("u/2", b"here", 0, False)
        assert broker.subscriptions(sub.client._client_id.decode()) == {"u/2": 0}


async def test_will_is_published_on_abnormal_disconnect_only(broker: Broker) -> None:
    async with paho(broker) as watcher:
        await watcher.subscribe("wills/#", qos=1)
        polite = Paho(broker, "polite", will=("wills/polite", b"lost", 1, True))
        await polite.connect()
        await polite.close()  # DISCONNECT: no will
        rude = Paho(broker, "rude", will=("wills/rude", b"lost", 1, True))
        await rude.connect()
        assert await broker.drop_clients() == 2
        await rude.close()
        # The watcher was dropped too; it reconnects by itself (paho loop) — use a fresh one.
    async with paho(broker) as late:
        await late.subscribe("wills/#")
        assert await late.next() == ("wills/rude", b"lost", 0, True)  # retained will
        assert broker.retained == {"wills/rude": b"lost"}


async def test_credentials_are_checked_when_configured() -> None:
    async with Broker(users={"pioreactor": "raspberry"}) as secured:
        wrong = Paho(secured, username="pioreactor", password="nope")
        assert (await wrong.connect())[0] == 134  # bad user name or password (rc 4)
        await wrong.close()
        anonymous = Paho(secured)
        assert (await anonymous.connect())[0] == 135  # not authorized (rc 5)
        await anonymous.close()
        async with paho(secured, username="pioreactor", password="raspberry") as ok:
            await ok.subscribe("x")
            await ok.publish("x", b"1", qos=1)
            assert await ok.next() == ("x", b"1", 0, False)


async def test_large_payloads(broker: Broker) -> None:
    payload = bytes(range(256)) * (5 * 4096)  # 5 MiB
    async with paho(broker) as sub, paho(broker) as pub:
        await sub.subscribe("big", qos=1)
        await pub.publish("big", payload, qos=1)
        topic, data, _qos, _retain = await sub.next(timeout=20)
        assert topic == "big"
        assert data == payload


async def test_qos0_beyond_max_queued_is_dropped_and_counted() -> None:
    chunk = b"x" * 65536
    async with Broker(max_queued=100) as small, paho(small) as sub:
        await sub.subscribe("burst/#", qos=1)
        # 64 MB published in one go from inside the broker: the socket and the transport
        # buffer fill up, then 100 messages queue, and the rest of the QoS 0 ones is dropped.
        for i in range(1000):
            await small.publish("burst/q0", str(i).encode() + b":" + chunk)
        for i in range(300):
            await small.publish("burst/q1", str(i).encode(), qos=1)
        await small.publish("burst/end", b"end", qos=1)
        got: list[Received] = []
        while not got or got[-1][0] != "burst/end":
            got.append(await sub.next(timeout=20))
        q0 = [int(m[1].split(b":")[0]) for m in got if m[0] == "burst/q0"]
        q1 = [int(m[1]) for m in got if m[0] == "burst/q1"]
        assert small.dropped > 0
        assert len(q0) >= 100
        assert len(q0) + small.dropped == 1000  # every message is either delivered or counted
        assert q0 == sorted(q0)
        assert q1 == list(range(300))  # QoS 1 is never dropped


async def test_aiomqtt_client_round_trip(broker: Broker) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe("ai/+", qos=1)
        await client.publish("ai/x", b"hello", qos=1)
        message = await asyncio.wait_for(anext(aiter(client.messages)), 5)
        assert message.topic.value == "ai/x"
        assert message.payload == b"hello"
        assert message.qos == 1


async def test_persistent_session_keeps_subscriptions_and_queues_qos1(broker: Broker) -> None:
    first = Paho(broker, "durable", clean=False)
    assert await first.connect() == (0, False)
    await first.subscribe("jobs/#", qos=1)
    await first.close()
    async with paho(broker) as pub:
        await pub.publish("jobs/1", b"while offline", qos=1)
        await pub.publish("jobs/2", b"qos0 offline", qos=0)  # not kept for offline clients
    second = Paho(broker, "durable", clean=False)
    try:
        assert await second.connect() == (0, True)  # session present
        assert await second.next() == ("jobs/1", b"while offline", 1, False)
        async with paho(broker) as pub:
            await pub.publish("jobs/3", b"online", qos=1)
        assert await second.next() == ("jobs/3", b"online", 1, False)
    finally:
        await second.close()


async def test_same_client_id_takes_over_the_old_connection(broker: Broker) -> None:
    reader, writer, connack = await raw_session(broker, connect_packet("twin"))
    assert connack == b"\x20\x02\x00\x00"
    _r2, writer2, connack2 = await raw_session(broker, connect_packet("twin"))
    assert connack2 == b"\x20\x02\x00\x00"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the first one was closed
    assert broker.clients == ("twin",)
    await close_writer(writer)
    await close_writer(writer2)


async def test_keepalive_expiry_closes_the_connection_and_sends_the_will(broker: Broker) -> None:
    async with paho(broker) as watcher:
        await watcher.subscribe("ka/will")
        reader, writer, connack = await raw_session(
            broker, connect_packet("sleepy", keepalive=1, will=("ka/will", b"gone"))
        )
        assert connack == b"\x20\x02\x00\x00"
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after 1.5 s of silence
        assert await watcher.next() == ("ka/will", b"gone", 0, False)
        await close_writer(writer)


async def test_protocol_checks(broker: Broker) -> None:
    # MQTT 5 is refused with "unacceptable protocol version".
    _r, writer, connack = await raw_session(broker, connect_packet("v5", level=5))
    assert connack == b"\x20\x02\x00\x01"
    await close_writer(writer)
    # An empty client id needs a clean session.
    _r, writer, connack = await raw_session(broker, connect_packet("", clean=False))
    assert connack == b"\x20\x02\x00\x02"
    await close_writer(writer)
    # An invalid filter gets the failure return code 0x80; valid ones are granted.
    reader, writer, connack = await raw_session(broker, connect_packet("raw"))
    assert connack == b"\x20\x02\x00\x00"
    body = (7).to_bytes(2, "big") + _s("a/#/b") + b"\x00" + _s("ok/+") + b"\x01"
    writer.write(bytes((0x82,)) + _varint(len(body)) + body)
    assert await asyncio.wait_for(reader.readexactly(6), 5) == b"\x90\x04\x00\x07\x80\x01"
    # PINGREQ → PINGRESP
    writer.write(b"\xc0\x00")
    assert await asyncio.wait_for(reader.readexactly(2), 5) == b"\xd0\x00"
    # A PUBLISH to a wildcard topic is a protocol violation: the connection is closed.
    body = _s("bad/+") + b"x"
    writer.write(bytes((0x30,)) + _varint(len(body)) + body)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await close_writer(writer)


async def test_stop_closes_client_connections() -> None:
    stopped = Broker()
    await stopped.start()
    reader, writer, _connack = await raw_session(stopped, connect_packet("c"))
    await stopped.stop()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await close_writer(writer)
    await stopped.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(stopped.host, stopped.port)
