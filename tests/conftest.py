"""Fixtures shared by every test: MQTT brokers.

- ``broker``: the embedded :class:`~tether.testing.broker.Broker`, one per test.
- ``mosquitto``: a real mosquitto for the whole session. Without the binary the test is
  skipped locally, and fails when ``CI`` is set (CI installs mosquitto).
- ``mqtt_broker``: runs the test against both (``embedded`` and ``mosquitto``). The mosquitto
  one is shared by the session, so tests use unique topics (see ``unique_topic``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses

from tether.testing.broker import Broker
from tether.testing.mosquitto import Mosquitto, mosquitto_path


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    """An embedded MQTT broker on 127.0.0.1, a fresh one for each test."""
    async with Broker() as embedded:
        yield embedded


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[Mosquitto]:
    """A real mosquitto on 127.0.0.1, shared by the session."""
    if mosquitto_path() is None:
        message = "mosquitto is not installed (apt-get install mosquitto)"
        if _on_ci():
            pytest.fail(message + "; CI must install it")
        pytest.skip(message)
    process = Mosquitto()
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.mosquitto)])
def mqtt_broker(request: pytest.FixtureRequest) -> Broker | Mosquitto:
    """Each test using it runs once on the embedded broker and once on mosquitto."""
    name: str = request.param
    found: Broker | Mosquitto = request.getfixturevalue("broker" if name == "embedded" else name)
    return found


@pytest.fixture
def unique_topic() -> str:
    """A topic prefix no other test uses (mosquitto is shared and keeps retained messages)."""
    return f"t/{uuid.uuid4().hex[:12]}"


class _SentRequest:
    """What aiohttp 3.14's ClientResponse reads from the writer of a request already sent."""

    output_size = 0


@pytest.fixture
def mock_http(monkeypatch: pytest.MonkeyPatch) -> type[aioresponses]:
    """aioresponses, made to work with aiohttp >= 3.14 (aioresponses issue #289).

    aiohttp 3.14 made ``stream_writer`` a required argument of ``ClientResponse``; aioresponses
    0.7.x does not pass it. The response only reads ``output_size`` from it when the request
    was already sent, which is always the case for a mocked response.
    """
    import aiohttp
    from aioresponses import core

    class CompatResponse(aiohttp.ClientResponse):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", _SentRequest())
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(core, "ClientResponse", CompatResponse)
    return aioresponses
