"""Pioreactor: how soon a client knows a job reached a state — MQTT push against polling.

The simulated leader runs in its own process (``tether simulate pioreactor``, with its own
MQTT broker). A stirring job runs on ``pio1``; each round switches its ``$state`` between
``sleeping`` and ``ready`` with ``jobs.update`` (one PATCH), then waits until the client knows
the job is there:

- ``push (MQTT)``: the job's ``$state`` stream (``events.job_states``), opened once as an
  application would keep it, read until the state arrives — no HTTP at all;
- ``push, fresh subscription``: ``events.wait_for_state``, which subscribes for each wait (the
  retained ``$state`` answers at once if the state is already there);
- ``polling (HTTP)``: read ``jobs.setting(..., "$state")`` (a leader task: one GET that
  answers 202, then result polls) every ``POLL_INTERVAL`` seconds until it says so.

Reported per contender: median and p95 latency from sending the PATCH to knowing the state,
and the HTTP requests each wait made (the PATCH not counted), counted on the wire with an
aiohttp trace.

Run ``python -m benchmarks pioreactor_wait`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from benchmarks._harness import percentile
from tether.pioreactor import AsyncPioreactor, EventStream, JobStateEvent

NAME = "pioreactor_wait"
POLL_INTERVAL = 0.25  # seconds between polls: a typical dashboard cadence
EXPERIMENT = "bench-wait"
UNIT = "pio1"


class RequestCounter:
    """Counts HTTP requests sent by a session (an aiohttp trace)."""

    def __init__(self) -> None:
        self.count = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._started)

    async def _started(self, *_: Any) -> None:
        self.count += 1


def start_simulator() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``tether simulate pioreactor`` in its own process; its KEY=value lines."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from tether.cli import main; main()", "simulate", "pioreactor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    info: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline().strip()
        key, _, value = line.partition("=")
        if key:
            info[key] = value
        if key == "READY":
            return process, info
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"the simulator did not start: {info}")


async def by_fresh_subscription(client: AsyncPioreactor, target: str) -> None:
    await client.events.wait_for_state(
        "stirring", target, unit=UNIT, experiment=EXPERIMENT, timeout=30
    )


def by_stream(stream: EventStream[JobStateEvent]) -> Callable[[AsyncPioreactor, str], Any]:
    async def wait(_: AsyncPioreactor, target: str) -> None:
        async with asyncio.timeout(30):
            async for event in stream:
                if event.state == target:
                    return

    return wait


async def by_polling(client: AsyncPioreactor, target: str) -> None:
    while True:
        result = await client.jobs.setting("stirring", "$state", experiment=EXPERIMENT, unit=UNIT)
        value = result[UNIT].value or {}
        if value.get("$state") == target:
            return
        await asyncio.sleep(POLL_INTERVAL)


async def measure(rounds: int) -> dict[str, Any]:
    process, info = start_simulator()
    counter = RequestCounter()
    try:
        async with aiohttp.ClientSession(trace_configs=[counter.trace]) as session:
            async with AsyncPioreactor(info["URL"], mqtt=info["MQTT"], session=session) as client:
                await client.experiments.create(EXPERIMENT)
                await client.experiments.assign(EXPERIMENT, UNIT)
                (
                    await client.jobs.run("stirring", experiment=EXPERIMENT, unit=UNIT)
                ).raise_for_failures()
                await by_fresh_subscription(client, "ready")
                stream = client.events.job_states(unit=UNIT, experiment=EXPERIMENT, job="stirring")
                await stream.__aenter__()
                waits = {
                    "push (MQTT)": by_stream(stream),
                    "push, fresh subscription": by_fresh_subscription,
                    "polling (HTTP)": by_polling,
                }
                samples: dict[str, list[tuple[float, int]]] = {name: [] for name in waits}
                target = "ready"
                for index in range(rounds):
                    order = list(waits) if index % 2 == 0 else list(reversed(waits))
                    for name in order:
                        target = "sleeping" if target == "ready" else "ready"
                        started = time.perf_counter()  # from the command to knowing
                        await client.jobs.update(
                            "stirring", {"$state": target}, experiment=EXPERIMENT, unit=UNIT
                        )
                        before = counter.count
                        await waits[name](client, target)
                        samples[name].append(
                            (time.perf_counter() - started, counter.count - before)
                        )
                await stream.aclose()
                await client.jobs.stop_all(experiment=EXPERIMENT)
    finally:
        process.terminate()
        process.wait(timeout=15)
    rows = []
    for name, values in samples.items():
        latencies = [latency * 1000 for latency, _ in values]
        requests = [count for _, count in values]
        rows.append(
            {
                "scenario": "job state wait",
                "contender": name,
                "waits": len(values),
                "p50_ms": round(statistics.median(latencies), 2),
                "p95_ms": round(percentile(latencies, 95), 2),
                "requests_per_wait": round(statistics.mean(requests), 2),
                "max_requests": max(requests),
            }
        )
    push, _, poll = rows
    return {
        "rows": rows,
        "derived": {
            "poll_interval_s": POLL_INTERVAL,
            "latency_ratio_poll_over_push": round(poll["p50_ms"] / max(push["p50_ms"], 1e-3), 1),
        },
        "checks": [
            {
                "name": "push makes no HTTP request while waiting",
                "value": push["max_requests"],
                "op": "==",
                "target": 0,
                "ok": push["max_requests"] == 0,
            }
        ],
    }


async def run(quick: bool) -> dict[str, Any]:
    """Measure *rounds* waits of each kind (2 in quick mode)."""
    return await measure(2 if quick else 20)
