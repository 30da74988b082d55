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

import pytest

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
