"""Ratio1 sessions: tether (signatures verified) against the official ``ratio1`` SDK (trusting).

Everything runs over one mosquitto (``max_queued_messages 0``: the broker drops nothing) on
loopback, in separate processes: the simulated node (``tether.testing.ratio1``) in one, each
client under test in a fresh one, and the payload producers in others.

Measured, in the same run, for ``tether async`` (``AsyncSession``), ``tether blocking``
(``Session``) and ``official`` (``ratio1.Session``, its defaults: nothing verified):

- **import time**: ``import`` of the session class in a fresh interpreter (median of runs);
- **time to first node**: from constructing the session to ``wait_for_node`` returning
  (the official constructor itself waits for the first network summary);
- **deploy confirmation latency**: ``create_pipeline`` + ``create_plugin_instance`` +
  ``deploy()`` until the node's codes 1 and 100 are in (median of several deploys);
- **peak RSS and thread count** of the connected session, after those deploys;
- **payload throughput delivered to a consumer**: a producer process pre-signs N payloads
  (distinct, signed by a node key), then replays them as fast as it can. tether's consumer is an
  ``async for`` over ``session.payloads(...)`` (verification on; the blocking session iterates
  the same stream); the official consumer is its ``on_payload`` callback. Rate = (count − 1) /
  (last − first delivery).

Run ``python -m benchmarks ratio1_session`` (``--quick`` for a smoke run). The processes talk
over stdin/stdout with one JSON object per line; ``python -m benchmarks.ratio1_session ROLE``
starts one role by hand.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

import attrs

NAME = "ratio1_session"
PACKAGES = ("ratio1", "aiomqtt", "paho-mqtt", "coincurve", "cryptography")

ROOT = Path(__file__).resolve().parents[1]
TETHER_ASYNC = "tether async"
TETHER_BLOCKING = "tether blocking"
OFFICIAL = "official"
FLOOD_PIPELINE = "bench_flood"
PRODUCER_SEED = "tether-benchmarks/producer"
MARK = "@@bench "


@attrs.frozen
class Settings:
    """How much each phase does."""

    imports: int
    deploys: int
    payloads: int
    trials: int
    producers: int


FULL = Settings(imports=3, deploys=7, payloads=8000, trials=3, producers=1)
QUICK = Settings(imports=1, deploys=2, payloads=300, trials=1, producers=1)
"""The smoke run also skips the blocking and unverified tether contenders."""


# --- plumbing --------------------------------------------------------------------------------


def _env(home: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EE_", "AIXP_")) and k not in ("PYTHONPATH",)
    }
    env["PYTHONPATH"] = str(ROOT)
    env["HOME"] = home  # the official SDK writes under ~/.ratio1 otherwise
    return env


class Child:
    """A role of this module in its own process; one JSON object per line both ways."""

    def __init__(self, role: str, *args: str, home: str) -> None:
        self.role = role
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ratio1_session", role, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=home,
            env=_env(home),
            text=True,
        )
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    def send(self, **message: Any) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()

    def read(self, timeout: float = 120.0) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while True:  # the official SDK prints to stdout too: keep only our marked lines
            if not self._selector.select(max(deadline - time.monotonic(), 0)):
                raise TimeoutError(f"{self.role} said nothing for {timeout:g}s")
            line = stdout.readline()
            if not line:
                code = self.process.wait(10)
                raise RuntimeError(f"{self.role} exited with code {code}")
            if line.startswith(MARK):
                break
        data: dict[str, Any] = json.loads(line[len(MARK) :])
        if "error" in data:
            raise RuntimeError(f"{self.role} failed: {data['error']}")
        return data

    def close(self) -> None:
        process = self.process
        if process.stdin is not None and not process.stdin.closed:
            process.stdin.close()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._selector.close()


class child:  # used like a function: `with child(...) as c:`
    """Start a :class:`Child`; close it on exit."""

    def __init__(self, role: str, *args: str, home: str) -> None:
        self._child = Child(role, *args, home=home)

    def __enter__(self) -> Child:
        return self._child

    def __exit__(self, *exc: object) -> None:
        self._child.close()


def _say(**message: Any) -> None:
    sys.stdout.write(MARK + json.dumps(message) + "\n")
    sys.stdout.flush()


def _listen(stream: IO[str]) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise SystemExit(0)
    data: dict[str, Any] = json.loads(line)
    return data


def _resources() -> dict[str, Any]:
    threads_os = None
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("Threads:"):
                threads_os = int(line.split()[1])
    return {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": threading.active_count(),
        "threads_os": threads_os,
        "thread_names": sorted(t.name for t in threading.enumerate()),
    }


# --- roles (each runs in its own process) ------------------------------------------------------


def role_import(what: str) -> None:
    """Time the import of a session class in this fresh interpreter."""
    started = time.perf_counter()
    module = importlib.import_module("ratio1" if what == OFFICIAL else "tether.ratio1")
    assert hasattr(module, "Session")
    _say(seconds=time.perf_counter() - started)


def _nodelay() -> None:
    """Make paho's sockets (created with ``socket.create_connection``) set TCP_NODELAY.

    paho does not set it: a node publishing notification 1, a payload and notification 100
    back to back then waits for the broker's delayed ACK (~40 ms) before the second write,
    which would dominate every confirmation latency measured here, for every client alike.
    """
    import socket

    original = socket.create_connection

    def create_connection(*args: Any, **kwargs: Any) -> socket.socket:
        sock = original(*args, **kwargs)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    socket.create_connection = create_connection


def role_simulate(host: str, port: str) -> None:
    """The simulated node on the broker, until stdin closes."""
    import asyncio

    from tether.testing.ratio1 import Simulator

    _nodelay()

    async def main() -> None:
        sim = Simulator(broker=f"{host}:{port}", heartbeat_interval=0.1, net_summary_interval=0.1)
        async with sim:
            _say(node=sim.node.address, alias=sim.node.alias)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def role_produce(host: str, port: str, count: str, trial: str) -> None:
    """Pre-sign *count* distinct payloads, connect, then publish them all on ``go``."""
    from paho.mqtt import client as mqtt

    from tether.ratio1._protocol.envelope import NodeInfo, PayloadPath, PipelineMeta, build_payload
    from tether.ratio1._protocol.identity import Identity

    node = NodeInfo(identity=Identity.from_seed(PRODUCER_SEED), alias="bench-producer")
    path = PayloadPath("bench-producer", FLOOD_PIPELINE, "BENCH_01", "inst")
    meta = PipelineMeta("bench", "bench", None, "bench", None)
    messages = [
        json.dumps(
            build_payload(
                node,
                {"ITER": i, "TRIAL": trial, "VALUE": i * 0.5, "TEXT": "x" * 100},
                path=path,
                meta=meta,
                seq=i,
            )
        ).encode()
        for i in range(int(count))
    ]
    version: Any = getattr(mqtt, "CallbackAPIVersion")  # noqa: B009 - not re-exported
    client = mqtt.Client(version.VERSION2)
    client.connect(host, int(port))
    client.loop_start()
    _say(ready=True, bytes=sum(len(m) for m in messages) // len(messages))
    _listen(sys.stdin)
    started = time.perf_counter()
    infos = [client.publish("naeural/payloads", m) for m in messages]
    for info in infos[-1:]:
        info.wait_for_publish(30)
    _say(published=len(messages), seconds=time.perf_counter() - started)
    _listen(sys.stdin)
    client.loop_stop()
    client.disconnect()


def _count_until_done(
    get_count: Any, expected: int, idle: float = 3.0, limit: float = 120.0
) -> None:
    last_change = time.monotonic()
    seen = -1
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        count = get_count()
        if count >= expected:
            return
        if count != seen:
            seen, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > idle:
            return
        time.sleep(0.01)


def role_official(host: str, port: str, node: str, deploys: str, home: str) -> None:
    """The official ``ratio1.Session``: first node, deploys, resources, throughput trials."""
    started = time.perf_counter()
    official: Any = importlib.import_module("ratio1")
    imported = time.perf_counter() - started
    counter: dict[str, Any] = {"count": 0, "first": 0.0, "last": 0.0}

    def on_payload(sess: Any, node_addr: str, pipe: Any, sig: Any, inst: Any, data: Any) -> None:
        if pipe != FLOOD_PIPELINE:
            return
        now = time.perf_counter()
        if counter["count"] == 0:
            counter["first"] = now
        counter["last"] = now
        counter["count"] += 1

    t0 = time.perf_counter()
    session: Any = official.Session(
        host=host,
        port=int(port),
        user="bench",
        pwd="bench",
        secured=False,
        name="bench-official",
        run_dauth=False,
        auto_configuration=False,
        silent=True,
        on_payload=on_payload,
        local_cache_base_folder=home,
        use_home_folder=False,
    )
    online = session.wait_for_node(node, timeout=30, verbose=False)
    first_node = time.perf_counter() - t0
    latencies: list[float] = []
    for i in range(int(deploys)):
        pipeline: Any = session.create_pipeline(
            node=node, name=f"bench_off_{i}", data_source="Void"
        )
        pipeline.create_plugin_instance(
            signature="SAMPLE_PLUGIN_01", instance_id="a", config={"PROCESS_DELAY": 60}
        )
        t = time.perf_counter()
        pipeline.deploy(timeout=10)
        latencies.append(time.perf_counter() - t)
        if not pipeline.was_last_operation_successful:
            raise RuntimeError("an official deploy was not confirmed")
        pipeline.close(timeout=10)
    _say(
        import_in_process=imported,
        online=bool(online),
        first_node=first_node,
        deploy=latencies,
        **_resources(),
    )
    while True:
        command = _listen(sys.stdin)
        if command.get("stop"):
            break
        counter.update(count=0, first=0.0, last=0.0)
        cpu = time.process_time()
        _say(armed=True)
        _count_until_done(lambda: counter["count"], int(command["expect"]))
        _say(**_rate(counter["count"], counter["first"], counter["last"], cpu))
    _say(**_resources())
    session.close()
    session.log._shutdown_log_writer()


def _rate(count: float, first: float, last: float, cpu_started: float) -> dict[str, Any]:
    elapsed = last - first
    return {
        "count": count,
        "seconds": elapsed,
        "rate": (count - 1) / elapsed if count > 1 and elapsed > 0 else 0.0,
        "cpu_us_per_msg": (time.process_time() - cpu_started) / count * 1e6 if count else None,
    }


def role_tether(host: str, port: str, node: str, deploys: str, mode: str) -> None:
    """tether's session (``async`` or ``blocking``): same steps as the official role."""
    if mode == "blocking":
        _tether_blocking(host, port, node, int(deploys))
    else:
        import asyncio

        asyncio.run(_tether_async(host, port, node, int(deploys), verify=mode != "unverified"))


async def _tether_async(host: str, port: str, node: str, deploys: int, *, verify: bool) -> None:
    import asyncio

    from tether.ratio1 import AsyncSession

    t0 = time.perf_counter()
    session = AsyncSession(host=host, port=int(port), name="bench-tether", verify=verify, env={})
    await session.connect()
    online = await session.wait_for_node(node, timeout=30, verbose=False)
    first_node = time.perf_counter() - t0
    latencies: list[float] = []
    for i in range(deploys):
        pipeline = await session.create_pipeline(node=node, name=f"bench_tether_{i}")
        pipeline.create_plugin_instance(
            signature="SAMPLE_PLUGIN_01", instance_id="a", config={"PROCESS_DELAY": 60}
        )
        t = time.perf_counter()
        await pipeline.deploy(timeout=10)
        latencies.append(time.perf_counter() - t)
        await pipeline.close(timeout=10)
    _say(online=online, first_node=first_node, deploy=latencies, **_resources())
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, _listen, sys.stdin)
        if command.get("stop"):
            break
        expected = int(command["expect"])
        count, first, last = 0, 0.0, 0.0
        cpu = time.process_time()
        async with session.payloads(pipeline=FLOOD_PIPELINE, maxsize=expected + 10) as stream:
            _say(armed=True)
            try:
                async with asyncio.timeout(None) as scope:
                    async for payload in stream:
                        if not payload.verified and verify:
                            raise RuntimeError("an unverified payload was delivered")
                        now = time.perf_counter()
                        if count == 0:
                            first = now
                            scope.reschedule(loop.time() + 120)
                        last = now
                        count += 1
                        if count >= expected:
                            break
            except TimeoutError:
                pass
        _say(**_rate(count, first, last, cpu), stats=_stats(session))
    _say(**_resources())
    await session.close()


def _stats(session: Any) -> dict[str, Any]:
    stats = session.stats
    return {"rejected": stats.rejected, "verified": stats.verified, "drops": stats.stream_drops}


def _tether_blocking(host: str, port: str, node: str, deploys: int) -> None:
    from tether.ratio1 import Session

    t0 = time.perf_counter()
    session = Session(host=host, port=int(port), name="bench-tether-blocking", env={})
    online = session.wait_for_node(node, timeout=30, verbose=False)
    first_node = time.perf_counter() - t0
    latencies: list[float] = []
    for i in range(deploys):
        pipeline = session.create_pipeline(node=node, name=f"bench_block_{i}")
        pipeline.create_plugin_instance(
            signature="SAMPLE_PLUGIN_01", instance_id="a", config={"PROCESS_DELAY": 60}
        )
        t = time.perf_counter()
        pipeline.deploy(timeout=10)
        latencies.append(time.perf_counter() - t)
        pipeline.close(timeout=10)
    _say(online=online, first_node=first_node, deploy=latencies, **_resources())
    while True:
        command = _listen(sys.stdin)
        if command.get("stop"):
            break
        expected = int(command["expect"])
        count, first, last = 0, 0.0, 0.0
        cpu = time.process_time()
        with session.payloads(pipeline=FLOOD_PIPELINE, maxsize=expected + 10) as stream:
            _say(armed=True)
            for _payload in stream:
                now = time.perf_counter()
                if count == 0:
                    first = now
                last = now
                count += 1
                if count >= expected:
                    break
        _say(**_rate(count, first, last, cpu), stats=_stats(session))
    _say(**_resources())
    session.close()


ROLES = {
    "import": role_import,
    "simulate": role_simulate,
    "produce": role_produce,
    "official": role_official,
    "tether": role_tether,
}


# --- the benchmark ---------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _flood(
    consumer: Child, host: str, port: int, settings: Settings, home: str, trial: int
) -> dict[str, Any]:
    producers = [
        Child("produce", host, str(port), str(settings.payloads), f"{trial}-{k}", home=home)
        for k in range(settings.producers)
    ]
    try:
        for producer in producers:
            producer.read()
        consumer.send(expect=settings.payloads * settings.producers)
        consumer.read()  # armed
        for producer in producers:
            producer.send(go=True)
        result = consumer.read(timeout=180)
        for producer in producers:
            producer.read()
            producer.send(stop=True)
    finally:
        for producer in producers:
            producer.close()
    return result


def _run_client(
    role: str, args: list[str], host: str, port: int, settings: Settings, home: str
) -> dict[str, Any]:
    with child(role, *args, home=home) as client:
        report = client.read(timeout=120)
        trials = [_flood(client, host, port, settings, home, t) for t in range(settings.trials)]
        client.send(stop=True)
        report["after_flood"] = client.read(timeout=60)
    report["trials"] = trials
    return report


def run(quick: bool) -> dict[str, Any]:
    """Measure the five metrics for tether (async, blocking) and the official SDK."""
    from tether.testing.mosquitto import Mosquitto, mosquitto_path

    settings = QUICK if quick else FULL
    skipped: dict[str, str] = {}
    import importlib.util

    have_official = importlib.util.find_spec("ratio1") is not None
    if not have_official:
        skipped[OFFICIAL] = "the ratio1 SDK is not installed"
    if mosquitto_path() is None:
        return {"skipped": {"all": "mosquitto is not installed"}, "rows": []}

    home = tempfile.mkdtemp(prefix="tether-bench-ratio1-")
    try:
        imports: dict[str, list[float]] = {TETHER_ASYNC: [], OFFICIAL: []}
        for _ in range(settings.imports):
            for what in imports:
                if what == OFFICIAL and not have_official:
                    continue
                with child("import", what, home=home) as probe:
                    imports[what].append(float(probe.read()["seconds"]))

        reports: dict[str, dict[str, Any]] = {}
        with Mosquitto(max_queued_messages=0, extra_config="set_tcp_nodelay true") as broker:
            host, port = broker.host, broker.port
            with child("simulate", host, str(port), home=home) as simulator:
                node = str(simulator.read()["node"])
                common = [host, str(port), node, str(settings.deploys)]
                modes = [(TETHER_ASYNC, "async")]
                if not quick:  # a smoke run checks one tether contender and the official SDK
                    modes.append((TETHER_BLOCKING, "blocking"))
                for name, mode in modes:
                    reports[name] = _run_client(
                        "tether", [*common, mode], host, port, settings, home
                    )
                unverified: dict[str, Any] = {"trials": []}
                if not quick:
                    unverified = _run_client(
                        "tether", [*common, "unverified"], host, port, settings, home
                    )
                if have_official:
                    reports[OFFICIAL] = _run_client(
                        "official", [*common, home], host, port, settings, home
                    )
    finally:
        shutil.rmtree(home, ignore_errors=True)

    rows: list[dict[str, Any]] = []
    for name, report in reports.items():
        rates = [t["rate"] for t in report["trials"]]
        counts = [t["count"] for t in report["trials"]]
        import_list = imports[OFFICIAL if name == OFFICIAL else TETHER_ASYNC]
        rows.append(
            {
                "contender": name,
                "verified": name != OFFICIAL,
                "import_s": round(_median(import_list), 3) if import_list else None,
                "first_node_s": round(report["first_node"], 3),
                "deploy_ms_p50": round(_median(report["deploy"]) * 1000, 1),
                "deploy_ms_max": round(max(report["deploy"]) * 1000, 1),
                "peak_rss_mb": report["peak_rss_mb"],
                "threads": report["threads"],
                "payloads_per_s": round(_median(rates), 0),
                "delivered": f"{min(counts)}/{settings.payloads * settings.producers}",
                "cpu_us_per_msg": round(
                    _median([t["cpu_us_per_msg"] for t in report["trials"] if t["cpu_us_per_msg"]]),
                    1,
                ),
                "peak_rss_after_flood_mb": report["after_flood"]["peak_rss_mb"],
            }
        )
    derived: dict[str, Any] = {
        "payloads per trial": settings.payloads * settings.producers,
        "tether async unverified payloads/s": round(
            _median([t["rate"] for t in unverified["trials"]]), 0
        )
        if unverified["trials"]
        else None,
        "tether async thread names": ", ".join(reports[TETHER_ASYNC]["thread_names"]),
        "official thread names": ", ".join(reports[OFFICIAL]["thread_names"])
        if OFFICIAL in reports
        else None,
    }
    checks: list[dict[str, Any]] = []
    if OFFICIAL in reports:
        ours = _median([t["rate"] for t in reports[TETHER_ASYNC]["trials"]])
        theirs = _median([t["rate"] for t in reports[OFFICIAL]["trials"]])
        ratio = ours / theirs if theirs else 0.0
        derived["verified tether / unverified official throughput"] = round(ratio, 3)
        checks.append(
            {
                "name": "tether verified throughput >= official unverified throughput",
                "value": round(ratio, 3),
                "op": ">=",
                "target": 1.0,
                "ok": ratio >= 1.0,
            }
        )
        deploy_ratio = _median(reports[TETHER_ASYNC]["deploy"]) / _median(
            reports[OFFICIAL]["deploy"]
        )
        derived["deploy latency tether / official"] = round(deploy_ratio, 3)
    return {
        "config": attrs.asdict(settings),
        "rows": rows,
        "checks": checks,
        "derived": derived,
        "skipped": skipped,
        "raw": {"imports": imports, "reports": reports, "unverified": unverified},
    }


def main(argv: list[str]) -> None:
    """Run one role (``import``, ``simulate``, ``produce``, ``official``, ``tether``)."""
    if not argv or argv[0] not in ROLES:
        raise SystemExit(f"usage: python -m benchmarks.ratio1_session {{{','.join(ROLES)}}} ...")
    role: Any = ROLES[argv[0]]
    try:
        role(*argv[1:])
    except Exception as exc:
        _say(error=f"{type(exc).__name__}: {exc}")
        raise


if __name__ == "__main__":
    main(sys.argv[1:])
