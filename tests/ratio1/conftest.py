"""Fixtures for the Ratio1 protocol, simulator and conformance tests.

The ``mosquitto`` fixture comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tether.ratio1._protocol.envelope import IncomingMessage, Topics, open_message
from tether.ratio1._protocol.identity import Identity
from tether.testing.ratio1 import Simulator

# A pinned copy of shared/reference/ratio1-test-vectors.json (the measured reference); set
# TETHER_RATIO1_VECTORS to check against another file.
VECTORS_PATH = Path(
    os.environ.get(
        "TETHER_RATIO1_VECTORS",
        Path(__file__).resolve().parent / "data" / "ratio1-test-vectors.json",
    )
)


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """The reference test vectors (shared/reference/ratio1-test-vectors.json)."""
    if not VECTORS_PATH.is_file():
        pytest.fail(f"reference vectors not found at {VECTORS_PATH} (set TETHER_RATIO1_VECTORS)")
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def node_key(vectors: dict[str, Any]) -> Identity:
    """The reference node test key."""
    return Identity.from_seed(vectors["test_keys"]["node"]["seed"])


@pytest.fixture(scope="session")
def sdk_key(vectors: dict[str, Any]) -> Identity:
    """The reference client/SDK test key."""
    return Identity.from_seed(vectors["test_keys"]["sdk"]["seed"])


class Probe:
    """A test client on the broker: records every protocol message it sees, opened."""

    def __init__(self, client: aiomqtt.Client, identity: Identity, topics: Topics) -> None:
        self.client = client
        self.identity = identity
        self.topics = topics
        self.messages: list[tuple[str, IncomingMessage]] = []
        self._changed = asyncio.Event()

    async def run(self) -> None:
        async for message in self.client.messages:
            topic = message.topic.value
            payload = bytes(message.payload) if isinstance(message.payload, bytes) else b""
            self.messages.append(
                (topic, open_message(payload, identity=self.identity, topic=topic))
            )
            self._changed.set()

    async def publish(self, topic: str, message: dict[str, Any]) -> None:
        await self.client.publish(topic, json.dumps(message))

    def find(self, predicate: Callable[[str, IncomingMessage], bool]) -> list[IncomingMessage]:
        return [m for t, m in self.messages if predicate(t, m)]

    async def wait_for(
        self,
        predicate: Callable[[str, IncomingMessage], bool],
        *,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[IncomingMessage]:
        """Wait until *count* recorded messages match; fail the test after *timeout*."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(predicate)
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"timed out waiting for {count} message(s); got {len(found)}")
            self._changed.clear()
            timer = asyncio.get_running_loop().call_later(remaining, self._changed.set)
            try:
                await self._changed.wait()
            finally:
                timer.cancel()

    def codes(self, pipeline: str | None = None) -> list[int | None]:
        """Notification codes seen so far (for *pipeline* when given), in order."""
        return [
            m.notification_code
            for t, m in self.messages
            if t.endswith("/notif") and (pipeline is None or m.path.pipeline == pipeline)
        ]


async def cancel_and_wait(task: asyncio.Task[None]) -> None:
    """Cancel *task* until it ends: aiomqtt on Python 3.11 can swallow one cancellation."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)


async def open_probe(
    host: str, port: int, *, username: str = "tether", password: str = "tether-sim"
) -> AsyncIterator[Probe]:
    identity = Identity.from_seed("tether-tests/probe-client")
    async with aiomqtt.Client(host, port, username=username, password=password) as client:
        await client.subscribe("naeural/#")
        probe = Probe(client, identity, Topics())
        task = asyncio.create_task(probe.run())
        try:
            yield probe
        finally:
            await cancel_and_wait(task)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A one-node simulator on the embedded broker, with fast timers."""
    async with Simulator(
        heartbeat_interval=0.2, net_summary_interval=0.2, process_delay=0.1, config_push_delay=0.05
    ) as simulator:
        yield simulator


@pytest.fixture
async def probe(sim: Simulator) -> AsyncIterator[Probe]:
    """A probe client on the simulator's broker."""
    async for p in open_probe(sim.broker_host, sim.broker_port):
        yield p
