"""The helper that runs a real mosquitto, and aiomqtt against it."""

from __future__ import annotations

import asyncio
import socket

import aiomqtt
import pytest

from tether.testing.mosquitto import Mosquitto, MosquittoError, mosquitto_path

pytestmark = pytest.mark.mosquitto


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_start_and_stop_from_sync_code(mosquitto: Mosquitto) -> None:
    assert mosquitto_path() is not None
    broker = Mosquitto()
    broker.start()
    try:
        assert broker.pid is not None
        assert broker.address == f"127.0.0.1:{broker.port}"
        assert broker.port != mosquitto.port
        assert accepts(broker.host, broker.port)
    finally:
        broker.stop()
    assert broker.pid is None
    assert not accepts(broker.host, broker.port)
    broker.stop()  # idempotent


async def test_async_context_and_aiomqtt_round_trip(mosquitto: Mosquitto) -> None:
    async with (
        Mosquitto(max_queued_messages=10) as broker,
        aiomqtt.Client(broker.host, broker.port) as client,
    ):
        await client.subscribe("m/+", qos=1)
        await client.publish("m/x", b"hi", qos=1)
        message = await asyncio.wait_for(anext(aiter(client.messages)), 5)
        assert (message.topic.value, message.payload, message.qos) == ("m/x", b"hi", 1)
    assert broker.pid is None


def test_a_missing_binary_is_a_clear_error() -> None:
    with pytest.raises(MosquittoError, match="cannot run"):
        Mosquitto(binary="/nonexistent/mosquitto").start()


def test_a_bad_config_reports_the_log(mosquitto: Mosquitto) -> None:
    with pytest.raises(MosquittoError, match="did not start") as info:
        Mosquitto(extra_config="no_such_option 1", startup_timeout=2).start()
    assert "no_such_option" in str(info.value)  # the log is in the message
