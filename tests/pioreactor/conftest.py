"""Fixtures for the Pioreactor simulator tests and the real-leader conformance suite."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from tether.testing.pioreactor import Simulator

# shared/ lies beside the checkout (developers and CI); /work/shared is this workplace's copy
LEADER_SH = Path(__file__).resolve().parents[3] / "shared" / "pioreactor-leader" / "leader.sh"
if not LEADER_SH.exists():
    LEADER_SH = Path("/work/shared/pioreactor-leader/leader.sh")

FAST: dict[str, Any] = {
    "od_interval": 0.05,
    "time_scale": 3600.0,
    "task_latency": 0.01,
    "startup_grace": 0.05,
    "seed": 7,
}
"""Simulator settings that keep tests quick: 20 OD readings a second, an hour per second."""


async def poll(
    session: aiohttp.ClientSession, path: str, timeout: float = 10.0
) -> tuple[int, dict[str, Any]]:
    """Poll a task result until it is no longer 202; return ``(status, body)``."""
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(path) as response:
            body = await response.json()
            if response.status != 202:
                return response.status, body
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} still pending after {timeout} s: {body}")
        await asyncio.sleep(0.02)


async def call(
    session: aiohttp.ClientSession,
    method: str,
    path: str,
    body: Any = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    """Send a request (JSON body when given) and return ``(status, json-or-text)``."""
    async with session.request(method, path, json=body, **kwargs) as response:
        text = await response.text()
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, text


async def run_task(
    session: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    """Send a request that answers 202 + task, then poll it to the end."""
    status, accepted = await call(session, method, path, body)
    assert status == 202, (status, accepted)
    return await poll(session, accepted["result_url_path"])


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A fast three-unit 26.11.1 cluster on an embedded broker."""
    async with Simulator(units=("pio1", "pio2", "pio3"), **FAST) as simulator:
        yield simulator


@pytest.fixture
async def http(sim: Simulator) -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session pointed at :func:`sim`."""
    async with aiohttp.ClientSession(sim.url) as session:
        yield session


class Recorder:
    """Collects MQTT messages ``(topic, payload, retain, qos)`` from a subscription."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, bool, int]] = []

    def payloads(self, topic: str) -> list[bytes]:
        """Payloads received on *topic*, in order."""
        return [payload for t, payload, _, _ in self.messages if t == topic]

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Wait until ``predicate()`` holds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                tail = [(t, p) for t, p, _, _ in self.messages[-15:]]
                raise TimeoutError(f"{what} not seen within {timeout} s; last: {tail}")
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def recording(host: str, port: int, topic: str = "pioreactor/#") -> AsyncIterator[Recorder]:
    """Subscribe to *topic* and record every message while the block runs."""
    recorder = Recorder()
    async with aiomqtt.Client(host, port) as client:
        await client.subscribe(topic, qos=2)

        async def reader() -> None:
            async for message in client.messages:
                payload = message.payload
                data = payload.encode() if isinstance(payload, str) else bytes(payload)
                recorder.messages.append(
                    (message.topic.value, data, bool(message.retain), int(message.qos))
                )

        task = asyncio.create_task(reader())
        try:
            yield recorder
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# -- the real leader -------------------------------------------------------------------------------


def python313() -> str | None:
    """The Python 3.13 interpreter leader.sh would use, or None."""
    explicit = os.environ.get("LEADER_PYTHON")
    if explicit and Path(explicit).exists():
        return explicit
    found = shutil.which("python3.13")
    if found:
        probe = subprocess.run([found, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return found
    pyenv = shutil.which("pyenv")
    roots = []
    if pyenv:
        out = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        roots.append(out.stdout.strip())
    roots.append(str(Path.home() / ".pyenv"))
    for root in roots:
        for candidate in sorted(glob.glob(f"{root}/versions/3.13*/bin/python3")):
            return candidate
    return None


LEADER_TIMINGS: dict[str, float] = {}
"""How long the session's ``leader.sh start`` took (filled by the fixture, printed at the end)."""


@pytest.fixture(scope="session")
def real_leader() -> Iterator[dict[str, str]]:
    """Start the real 26.11.1 leader (``leader.sh start``) for the session; stop it after.

    Skips when Python 3.13 is absent; any other start failure fails the tests.
    """
    interpreter = python313()
    if interpreter is None:
        pytest.skip("Python 3.13 is not available (needed by pioreactor 26.x)")
    env = dict(os.environ, HTTP_PORT="auto", MQTT_PORT="auto", LEADER_PYTHON=interpreter)
    started = time.monotonic()
    result = subprocess.run(
        [str(LEADER_SH), "start"], env=env, capture_output=True, text=True, check=False, timeout=600
    )
    LEADER_TIMINGS["start_seconds"] = time.monotonic() - started
    info = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    if result.returncode != 0 or "LEADER_URL" not in info:
        if "LEADER_HOME" in info:
            subprocess.run(
                [str(LEADER_SH), "stop"],
                env=dict(env, LEADER_HOME=info["LEADER_HOME"], LEADER_PURGE="1"),
                capture_output=True,
                check=False,
            )
        pytest.fail(f"leader.sh start failed ({result.returncode}):\n{result.stderr[-3000:]}")
    try:
        yield info
    finally:
        stopped = time.monotonic()
        subprocess.run(
            [str(LEADER_SH), "stop"],
            env=dict(env, LEADER_HOME=info["LEADER_HOME"], LEADER_PURGE="1"),
            capture_output=True,
            check=False,
            timeout=120,
        )
        LEADER_TIMINGS["stop_seconds"] = time.monotonic() - stopped


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how long the real leader took to start and stop."""
    if LEADER_TIMINGS:
        parts = ", ".join(f"{key}={value:.1f}" for key, value in LEADER_TIMINGS.items())
        terminalreporter.write_line(f"pioreactor leader.sh: {parts}")
