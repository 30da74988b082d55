"""MQTTConnection and Subscription against the embedded broker and a real mosquitto."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

import pytest

from tether._core.errors import TetherError, ValidationError
from tether._core.mqtt import (
    IncomingMessage,
    MQTTAuthenticationError,
    MQTTClosedError,
    MQTTConnectError,
    MQTTConnection,
    MQTTError,
    MQTTNotConnectedError,
    MQTTSettings,
    MQTTWill,
    Subscription,
)
from tether.testing.broker import Broker
from tether.testing.mosquitto import Mosquitto

AnyBroker = Broker | Mosquitto
TIMEOUT = 5.0


def settings_for(broker: AnyBroker, **overrides: Any) -> MQTTSettings:
    options: dict[str, Any] = {
        "host": broker.host,
        "port": broker.port,
        "backoff_min": 0.01,
        "backoff_max": 0.05,
        "connect_timeout": TIMEOUT,
        "operation_timeout": TIMEOUT,
        **overrides,
    }
    return MQTTSettings(**options)


async def next_item(stream: Subscription[Any]) -> Any:
    return await asyncio.wait_for(anext(stream), TIMEOUT)


async def until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait for a condition that has no event to wait on (a remote peer's state)."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - polling a peer's state, no event exists
            await asyncio.sleep(0.005)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_tuple(message: IncomingMessage) -> tuple[str, bytes, bool]:
    return (message.topic, message.payload, message.retain)


# -- on both brokers ---------------------------------------------------------------------------


async def test_fan_out_to_several_subscribers(mqtt_broker: AnyBroker, unique_topic: str) -> None:
    t = unique_topic
    async with (
        MQTTConnection(settings_for(mqtt_broker)) as conn,
        conn.subscribe(f"{t}/a/temp") as exact,
        conn.subscribe(f"{t}/+/temp") as plus,
        conn.subscribe(f"{t}/#", decode=lambda m: m.text()) as everything,
        conn.subscribe(f"{t}/+/temp") as plus_again,
    ):
        assert conn.stats.filters == 3
        assert conn.stats.subscriptions == 4
        if isinstance(mqtt_broker, Broker):  # one SUBSCRIBE per distinct filter
            assert set(mqtt_broker.subscriptions(conn.client_id)) == {
                f"{t}/a/temp",
                f"{t}/+/temp",
                f"{t}/#",
            }
        await conn.publish(f"{t}/a/temp", "21.5")
        await conn.publish(f"{t}/b/temp", "19.0")
        await conn.publish(f"{t}/b/humidity", "40")
        assert as_tuple(await next_item(exact)) == (f"{t}/a/temp", b"21.5", False)
        for stream in (plus, plus_again):
            assert (await next_item(stream)).payload == b"21.5"
            assert (await next_item(stream)).payload == b"19.0"
        assert [await next_item(everything) for _ in range(3)] == ["21.5", "19.0", "40"]
        assert exact.pending == plus.pending == plus_again.pending == 0


async def test_retained_first_also_for_a_second_subscriber_of_the_same_filter(
    mqtt_broker: AnyBroker, unique_topic: str
) -> None:
    t = unique_topic
    async with MQTTConnection(settings_for(mqtt_broker)) as conn:
        await conn.publish(f"{t}/unit1/$state", "ready", qos=1, retain=True)
        await conn.publish(f"{t}/unit2/$state", "sleeping", qos=1, retain=True)
        async with conn.subscribe(f"{t}/+/$state") as first:
            got = {as_tuple(await next_item(first)), as_tuple(await next_item(first))}
            assert got == {
                (f"{t}/unit1/$state", b"ready", True),
                (f"{t}/unit2/$state", b"sleeping", True),
            }
            async with conn.subscribe(f"{t}/+/$state") as second:
                got = {as_tuple(await next_item(second)), as_tuple(await next_item(second))}
                assert got == {
                    (f"{t}/unit1/$state", b"ready", True),
                    (f"{t}/unit2/$state", b"sleeping", True),
                }
                # The re-issued SUBSCRIBE made the broker resend both retained messages; the
                # first subscriber already had them and must not see them twice.
                await conn.publish(f"{t}/unit1/$state", "lost", qos=1)
                assert as_tuple(await next_item(first)) == (f"{t}/unit1/$state", b"lost", False)
                assert as_tuple(await next_item(second)) == (f"{t}/unit1/$state", b"lost", False)
        await conn.publish(f"{t}/unit1/$state", "", qos=1, retain=True)
        await conn.publish(f"{t}/unit2/$state", "", qos=1, retain=True)


async def test_qos1_round_trip(mqtt_broker: AnyBroker, unique_topic: str) -> None:
    async with (
        MQTTConnection(settings_for(mqtt_broker)) as conn,
        conn.subscribe(f"{unique_topic}/q", qos=1) as stream,
    ):
        await conn.publish(f"{unique_topic}/q", b"\x00\x01binary", qos=1)
        message = await next_item(stream)
        assert message == IncomingMessage(f"{unique_topic}/q", b"\x00\x01binary", 1, False)
        assert conn.stats.published == 1
        assert conn.stats.messages_received == 1


async def test_large_payloads_through_a_subscription(
    mqtt_broker: AnyBroker, unique_topic: str
) -> None:
    payload = bytes(range(256)) * (4 * 4096)  # 4 MiB
    async with (
        MQTTConnection(settings_for(mqtt_broker)) as conn,
        conn.subscribe(f"{unique_topic}/big", qos=1) as stream,
    ):
        await conn.publish(f"{unique_topic}/big", payload, qos=1)
        assert (await next_item(stream)).payload == payload


async def test_unsubscribe_when_the_last_subscriber_leaves(
    mqtt_broker: AnyBroker, unique_topic: str
) -> None:
    topic = f"{unique_topic}/x"
    async with MQTTConnection(settings_for(mqtt_broker)) as conn:
        one = conn.subscribe(topic)
        two = conn.subscribe(topic)
        async with conn.subscribe(f"{unique_topic}/#") as witness:
            await one.__aenter__()
            await two.__aenter__()
            await one.aclose()
            assert conn.stats.filters == 2
            await conn.publish(topic, "still")
            assert (await next_item(two)).payload == b"still"
            await two.aclose()
            assert conn.stats.filters == 1
            if isinstance(mqtt_broker, Broker):
                assert set(mqtt_broker.subscriptions(conn.client_id)) == {f"{unique_topic}/#"}
            await conn.publish(topic, "after")
            assert (await next_item(witness)).payload == b"still"
            assert (await next_item(witness)).payload == b"after"
            assert one.pending == 0
            assert two.pending == 0
            with pytest.raises(StopAsyncIteration):
                await anext(two)


# -- reconnects --------------------------------------------------------------------------------


async def test_reconnect_restores_subscriptions_without_losing_state(broker: Broker) -> None:
    async with MQTTConnection(settings_for(broker)) as conn:
        await broker.publish("r/state", b"v1", qos=1, retain=True)
        await broker.publish("r/other", b"same", qos=1, retain=True)
        async with conn.subscribe("r/#", qos=1) as stream:
            assert {as_tuple(await next_item(stream)) for _ in range(2)} == {
                ("r/state", b"v1", True),
                ("r/other", b"same", True),
            }
            async with broker.outage():
                await until(lambda: not conn.connected)
                with pytest.raises(MQTTNotConnectedError):
                    await conn.wait_connected(timeout=0.05)
                # The state changes while we are away, and we publish while disconnected.
                await broker.publish("r/state", b"v2", qos=1, retain=True)
                during = asyncio.create_task(conn.publish("r/mine", "sent during outage", qos=1))
                await asyncio.sleep(0)
                assert not during.done()
            await conn.wait_connected()
            await asyncio.wait_for(during, TIMEOUT)
            # The changed retained value arrives; the unchanged one is not repeated.
            assert as_tuple(await next_item(stream)) == ("r/state", b"v2", True)
            assert as_tuple(await next_item(stream)) == ("r/mine", b"sent during outage", False)
            await broker.publish("r/live", b"after", qos=1)
            assert as_tuple(await next_item(stream)) == ("r/live", b"after", False)
            assert set(broker.subscriptions(conn.client_id)) == {"r/#"}
            assert conn.stats.reconnects == 1


async def test_reconnect_after_drop_clients(broker: Broker) -> None:
    async with (
        MQTTConnection(settings_for(broker)) as conn,
        conn.subscribe("d/+", qos=1) as stream,
    ):
        for round_ in range(3):
            assert await broker.drop_clients() == 1
            await until(lambda: broker.clients == (conn.client_id,) and conn.connected)
            await conn.publish("d/x", str(round_), qos=1)
            assert (await next_item(stream)).payload == str(round_).encode()
        assert conn.stats.reconnects == 3


async def test_will_is_sent_when_the_connection_breaks(broker: Broker) -> None:
    def subject(payload: str) -> MQTTConnection:
        will = MQTTWill(topic="units/u1/$state", payload=payload, qos=1, retain=True)
        return MQTTConnection(settings_for(broker, client_id="subject", will=will))

    async with (
        MQTTConnection(settings_for(broker, client_id="watcher")) as watcher,
        watcher.subscribe("units/+/$state") as states,
    ):
        polite = subject("polite-lost")
        await polite.connect()
        await polite.close()  # a clean DISCONNECT: no will
        rude = subject("lost")
        await rude.connect()
        async with broker.outage():
            pass
        await watcher.wait_connected()
        await rude.close()
        # The will went out while the watcher was dropped too; it is retained, and the
        # watcher's re-subscription delivers it.
        assert as_tuple(await next_item(states)) == ("units/u1/$state", b"lost", True)
        assert broker.retained == {"units/u1/$state": b"lost"}


async def test_subscribe_before_connect_is_applied_on_connect(broker: Broker) -> None:
    conn = MQTTConnection(settings_for(broker))
    async with conn.subscribe("early/#") as stream:
        await conn.connect()
        await broker.publish("early/1", b"hello")
        assert (await next_item(stream)).payload == b"hello"
        await conn.close()
        with pytest.raises(StopAsyncIteration):
            await anext(stream)


# -- bounded queues ----------------------------------------------------------------------------


async def test_drop_oldest_keeps_the_newest_and_counts(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        MQTTConnection(settings_for(broker)) as conn,
        conn.subscribe("burst", maxsize=10) as small,
        conn.subscribe("burst", maxsize=1000) as large,
    ):
        with caplog.at_level(logging.WARNING, logger="tether.mqtt"):
            for i in range(50):
                await conn.publish("burst", str(i), qos=1)
            # Once the large subscriber has the 50th, the small one was offered all 50.
            assert [int((await next_item(large)).payload) for _ in range(50)] == list(range(50))
        assert small.dropped == 40
        assert small.received == 50
        assert large.dropped == 0
        assert [int((await next_item(small)).payload) for _ in range(10)] == list(range(40, 50))
        assert conn.stats.subscriber_drops == 40
        full = [r for r in caplog.records if "is full" in r.getMessage()]
        assert len(full) == 1  # once per burst, not once per message


async def test_block_applies_backpressure(broker: Broker) -> None:
    settings = settings_for(broker, max_queued_incoming=5)
    async with (
        MQTTConnection(settings) as conn,
        conn.subscribe("bp", maxsize=2, overflow="block") as slow,
        conn.subscribe("bp", maxsize=1000) as fast,
    ):
        for i in range(20):
            await conn.publish("bp", str(i), qos=1)
        # Every PUBLISH to us was read before its PUBACK: the counts are final.
        # slow holds 2, the dispatcher waits on the 3rd, aiomqtt's queue holds 5 more,
        # and the remaining 12 were dropped there — and counted.
        assert conn.stats.messages_received == 3
        assert conn.stats.messages_dropped == 12
        assert [int((await next_item(fast)).payload) for _ in range(3)] == [0, 1, 2]
        assert fast.pending == 0
        got = [int((await next_item(slow)).payload) for _ in range(8)]
        assert got == list(range(8))  # nothing dropped by the subscriber itself
        assert slow.dropped == 0
        assert [int((await next_item(fast)).payload) for _ in range(5)] == [3, 4, 5, 6, 7]


async def test_decode_errors_are_logged_and_counted_not_fatal(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        MQTTConnection(settings_for(broker)) as conn,
        conn.subscribe("od", decode=lambda m: float(m.payload)) as readings,
    ):
        with caplog.at_level(logging.DEBUG, logger="tether.mqtt"):
            for payload in ("0.5", "oops", "0.7", "{bad", "0.9"):
                await conn.publish("od", payload, qos=1)
            assert [await next_item(readings) for _ in range(3)] == [0.5, 0.7, 0.9]
        assert readings.decode_errors == 2
        assert conn.stats.decode_errors == 2
        failures = [r for r in caplog.records if "could not decode" in r.getMessage()]
        assert [r.levelno for r in failures] == [logging.WARNING, logging.DEBUG]
        assert failures[0].exc_info is not None


# -- lifetime ----------------------------------------------------------------------------------


async def test_close_ends_every_stream_and_never_hangs(broker: Broker) -> None:
    conn = MQTTConnection(settings_for(broker))
    await conn.connect()
    received: list[bytes] = []

    async def consume(topic_filter: str) -> str:
        async with conn.subscribe(topic_filter) as stream:
            async for message in stream:
                received.append(message.payload)
        return "ended"

    consumers = [asyncio.create_task(consume(f"c/{i}")) for i in range(3)]
    await until(lambda: conn.stats.subscriptions == 3)
    await conn.publish("c/1", "one", qos=1)
    await until(lambda: received == [b"one"])
    async with asyncio.timeout(TIMEOUT):
        await conn.close()
        assert await asyncio.gather(*consumers) == ["ended"] * 3
    assert conn.closed
    assert not conn.connected
    await conn.close()  # idempotent
    with pytest.raises(MQTTClosedError):
        conn.subscribe("c/#")
    with pytest.raises(MQTTClosedError):
        await conn.publish("c/1", "x")
    with pytest.raises(MQTTClosedError):
        await conn.connect()
    await until(lambda: broker.clients == ())


async def test_a_subscription_must_be_entered_and_only_once(broker: Broker) -> None:
    async with MQTTConnection(settings_for(broker)) as conn:
        stream = conn.subscribe("x")
        with pytest.raises(RuntimeError, match="enter the subscription first"):
            await anext(stream)
        async with stream:
            pass
        with pytest.raises(RuntimeError, match="only be entered once"):
            await stream.__aenter__()


# -- errors, credentials, logging --------------------------------------------------------------


async def test_unreachable_broker_raises_a_typed_error_with_the_address() -> None:
    port = free_port()
    conn = MQTTConnection(
        MQTTSettings(host="127.0.0.1", port=port, connect_timeout=0.3, backoff_min=0.05)
    )
    with pytest.raises(MQTTConnectError) as info:
        await conn.connect()
    assert f"127.0.0.1:{port}" in str(info.value)
    assert (info.value.host, info.value.port) == ("127.0.0.1", port)
    assert isinstance(info.value, TetherError)
    assert conn.closed


async def test_credentials_and_the_password_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-pa55"
    async with Broker(users={"pioreactor": secret}) as secured:
        with caplog.at_level(logging.DEBUG):
            good = settings_for(secured, username="pioreactor", password=secret)
            assert secret not in repr(good)
            async with MQTTConnection(good) as conn, conn.subscribe("p") as stream:
                assert secret not in repr(conn)
                await conn.publish("p", "ok", qos=1)
                assert (await next_item(stream)).payload == b"ok"
            bad = settings_for(secured, username="pioreactor", password=secret + "-wrong")
            with pytest.raises(MQTTAuthenticationError) as info:
                await MQTTConnection(bad).connect()
            assert secret not in str(info.value)
            assert secured.address in str(info.value)
        assert any(r.name.startswith("tether.mqtt") for r in caplog.records)
        assert any("CONNECT" in r.getMessage() for r in caplog.records)  # paho's debug log
        for record in caplog.records:
            assert secret not in record.getMessage()
            assert secret not in str(record.args)


async def test_publish_without_connection_times_out_with_a_typed_error() -> None:
    conn = MQTTConnection(MQTTSettings(host="127.0.0.1", port=free_port(), backoff_min=0.05))
    await conn.connect(wait=False)
    try:
        with pytest.raises(MQTTNotConnectedError, match="not connected"):
            await conn.publish("x", "y", timeout=0.1)
        assert isinstance(MQTTNotConnectedError("x"), MQTTError | TimeoutError)
    finally:
        await conn.close()


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        MQTTSettings(host="h", port=0)
    with pytest.raises(ValidationError):
        MQTTSettings(host="")
    with pytest.raises(ValidationError):
        MQTTSettings(host="h", backoff_min=5, backoff_max=1)
    with pytest.raises(ValidationError):
        MQTTWill(topic="a/#")
    with pytest.raises(ValidationError):
        MQTTWill(topic="a", qos=3)
    assert MQTTWill(topic="a", payload="text").payload == b"text"
    assert MQTTSettings(host="h", port=8883).address == "h:8883"


async def test_bad_arguments_fail_before_any_request(broker: Broker) -> None:
    async with MQTTConnection(settings_for(broker)) as conn:
        with pytest.raises(ValidationError):
            conn.subscribe("a/#/b")
        with pytest.raises(ValidationError):
            conn.subscribe("a", qos=3)
        with pytest.raises(ValidationError):
            conn.subscribe("a", maxsize=0)
        with pytest.raises(ValidationError):
            conn.subscribe("a", overflow="explode")  # type: ignore[call-overload]
        with pytest.raises(ValidationError):
            await conn.publish("a/+", "x")
        with pytest.raises(ValidationError):
            await conn.publish("a", "x", qos=5)
        assert conn.stats.published == 0


async def test_a_cancelled_subscribe_is_undone_at_the_broker(broker: Broker) -> None:
    async with MQTTConnection(settings_for(broker)) as conn:
        stream = conn.subscribe("cancelled/#")
        entering = asyncio.create_task(stream.__aenter__())
        await asyncio.sleep(0)  # runs until it waits for the SUBACK
        assert conn.stats.subscriptions == 1
        entering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await entering
        assert stream.closed
        assert conn.stats.filters == 0
        await conn.publish("barrier", "", qos=1)  # the broker has seen our SUBSCRIBE by now
        await until(lambda: "cancelled/#" not in broker.subscriptions(conn.client_id))


async def test_a_server_that_never_answers_connect_is_given_up_cleanly() -> None:
    gave_up = asyncio.Event()
    handlers: list[asyncio.Task[Any]] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        await reader.read()  # EOF once the client closes its socket
        gave_up.set()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    async with server:
        conn = MQTTConnection(
            MQTTSettings(host="127.0.0.1", port=port, connect_timeout=0.2, backoff_min=0.05)
        )
        with pytest.raises(MQTTConnectError, match=f"127.0.0.1:{port}"):
            await conn.connect()
        await asyncio.wait_for(gave_up.wait(), TIMEOUT)  # the client's socket was closed
        await asyncio.wait_for(asyncio.gather(*handlers), TIMEOUT)


async def test_packets_go_out_without_nagle_delay(broker: Broker) -> None:
    # back-to-back small publishes must not wait for the broker's delayed ACK (~40 ms)
    async with MQTTConnection(settings_for(broker)) as connection:
        await connection.wait_connected(TIMEOUT)
        session = connection._session
        assert session is not None
        sock = session.client._client.socket()  # paho's socket, under aiomqtt
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
