"""Shared helpers for the benchmarks: servers in their own process, timing, results.

- :class:`ServerProcess` starts a server factory (``"module:function"``) in a separate Python
  process bound to 127.0.0.1 on a kernel-chosen port and hands back its URL. The client under
  test never shares a CPU-time budget or a GIL with the server.
- :func:`sync_trial` / :func:`async_trial` time a batch of calls (wall, CPU of this process,
  per-call latencies); :func:`compare` runs several contenders round after round, rotating
  their order so no contender always goes first (warm caches, turbo) or last.
- :func:`summarize` turns trials into medians and p95; :func:`paired_ratio` compares two
  contenders round by round (robust to load from other processes drifting during a run).
- :func:`machine_info`, :func:`write_result` and :func:`print_report` record and show results.

Example::

    with ServerProcess("benchmarks.core_http:make_handler") as server:
        ...  # server.url == "http://127.0.0.1:40123"
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import math
import os
import platform
import selectors
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from importlib import import_module, metadata
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import attrs

__all__ = [
    "RESULTS_DIR",
    "Contender",
    "ServerProcess",
    "Summary",
    "Trial",
    "async_trial",
    "compare",
    "loadavg",
    "machine_info",
    "paired_ratio",
    "percentile",
    "print_report",
    "summarize",
    "sync_trial",
    "write_result",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

DEFAULT_PACKAGES = ("tether", "aiohttp", "yarl", "multidict", "attrs", "cattrs", "anyio")


# --- a server in its own process -------------------------------------------------------------


class ServerProcess:
    """A server running in a separate Python process on 127.0.0.1, port chosen by the kernel.

    Args:
        factory: ``"package.module:function"``; the function (called with no arguments in the
            child) returns an ``aiohttp.web.Application`` or a low-level request handler
            ``async def handler(request) -> web.StreamResponse``.
        startup_timeout: seconds to wait for the child to report its URL.

    The child stops when its stdin closes (so it also stops if this process dies). Use it as a
    context manager, or call :meth:`start` and :meth:`stop`.

    Example::

        with ServerProcess("benchmarks.core_http:make_handler") as server:
            print(server.url, server.cpu_seconds())
    """

    def __init__(self, factory: str, *, startup_timeout: float = 30.0) -> None:
        self.factory = factory
        self.startup_timeout = startup_timeout
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        """Start the child and return its base URL (``http://127.0.0.1:PORT``)."""
        if self._process is not None:
            raise RuntimeError("server already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._harness", "serve", self.factory],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
            env=env,
        )
        self._process = process
        try:
            self.url = self._read_url(process)
        except BaseException:
            self.stop()
            raise
        return self.url

    def _read_url(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"server {self.factory} did not start in time")
                if not selector.select(remaining):
                    continue
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    code = process.wait(5)
                    raise RuntimeError(f"server {self.factory} exited with code {code}")
                buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode().strip()
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"unexpected first line from server: {line!r}")
        return line

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the child has used so far; ``None`` where unknown."""
        pid = self.pid
        if pid is None:
            return None
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
                stat = handle.read()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop the child (close its stdin, then terminate if it lingers). Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"expected 'module:function', got {target!r}")
    return getattr(import_module(module_name), attr)


async def _serve(target: str) -> None:
    from aiohttp import web

    made = _load(target)()
    runner: web.BaseRunner
    if isinstance(made, web.Application):
        runner = web.AppRunner(made, access_log=None, handle_signals=False)
    else:
        runner = web.ServerRunner(web.Server(made, access_log=None), handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        sys.stdout.write(f"http://127.0.0.1:{port}\n")
        sys.stdout.flush()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.buffer.read)  # returns at EOF
    finally:
        await runner.cleanup()


def _serve_main(target: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us by closing stdin
    asyncio.run(_serve(target))


# --- timing ----------------------------------------------------------------------------------


@attrs.frozen
class Trial:
    """One timed batch of calls.

    Attributes:
        calls: how many calls the batch made.
        wall_s: wall-clock seconds for the whole batch.
        cpu_s: CPU seconds used by this process (all threads) during the batch.
        latencies_ns: the duration of each call, in nanoseconds.
        server_cpu_s: CPU seconds the server process used during the batch, when known.
    """

    calls: int
    wall_s: float
    cpu_s: float
    latencies_ns: Sequence[int] = attrs.field(repr=False)
    server_cpu_s: float | None = None


def sync_trial(call: Callable[[int], object], n: int) -> Trial:
    """Call ``call(i)`` for ``i`` in ``range(n)``, timing each call and the whole batch."""
    clock = time.perf_counter_ns
    latencies = [0] * n
    cpu0 = time.process_time()
    t0 = clock()
    for i in range(n):
        started = clock()
        call(i)
        latencies[i] = clock() - started
    wall = (clock() - t0) / 1e9
    return Trial(n, wall, time.process_time() - cpu0, latencies)


async def async_trial(
    call: Callable[[int], Awaitable[object]], n: int, *, concurrency: int = 1
) -> Trial:
    """Await ``call(i)`` for ``i`` in ``range(n)``, from ``concurrency`` workers at once.

    With ``concurrency=1`` the calls run one after another in this task; otherwise that many
    worker tasks pull the next index from a shared counter until all ``n`` calls are done.
    """
    clock = time.perf_counter_ns
    latencies = [0] * n
    cpu0 = time.process_time()
    t0 = clock()
    if concurrency <= 1:
        for i in range(n):
            started = clock()
            await call(i)
            latencies[i] = clock() - started
    else:
        indices = iter(range(n))

        async def worker() -> None:
            for i in indices:
                started = clock()
                await call(i)
                latencies[i] = clock() - started

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = (clock() - t0) / 1e9
    return Trial(n, wall, time.process_time() - cpu0, latencies)


@attrs.frozen
class Contender:
    """One way of doing the measured work.

    Attributes:
        name: shown in tables and used as the key in results.
        run: makes ``n`` calls and returns their :class:`Trial` (see :func:`sync_trial`; an
            async contender wraps :func:`async_trial` in its event loop runner).
    """

    name: str
    run: Callable[[int], Trial]


def compare(
    contenders: Sequence[Contender],
    *,
    calls: int,
    warmup: int,
    repeats: int,
    server: ServerProcess | None = None,
) -> dict[str, list[Trial]]:
    """Warm every contender up, then run ``repeats`` rounds of ``calls`` calls each.

    The order of contenders rotates by one every round (round *r* starts with contender
    ``r % len(contenders)``), so each contender takes every position equally often. A full
    garbage collection runs before each trial. With *server*, the server's CPU time during
    each trial is recorded too.
    """
    for contender in contenders:
        if warmup > 0:
            contender.run(warmup)
    trials: dict[str, list[Trial]] = {c.name: [] for c in contenders}
    count = len(contenders)
    for round_ in range(repeats):
        for k in range(count):
            contender = contenders[(round_ + k) % count]
            gc.collect()
            before = server.cpu_seconds() if server is not None else None
            trial = contender.run(calls)
            after = server.cpu_seconds() if server is not None else None
            if before is not None and after is not None:
                trial = attrs.evolve(trial, server_cpu_s=after - before)
            trials[contender.name].append(trial)
    return trials


def percentile(values: Sequence[float], q: float) -> float:
    """The *q*-th percentile (0–100) of *values*, linearly interpolated."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@attrs.frozen
class Summary:
    """Medians over the repeats of one contender.

    Attributes:
        calls: calls per trial.
        repeats: how many trials.
        wall_s: median wall-clock seconds of a trial.
        req_per_s: calls per second at the median trial.
        us_per_call: median wall-clock microseconds per call (``wall_s / calls``).
        p50_us: median single-call latency over every call of every trial.
        p95_us: 95th percentile single-call latency over every call of every trial.
        cpu_us_per_call: median CPU microseconds per call used by the client process.
        server_cpu_us_per_call: the same for the server process (``None`` when unknown).
        spread: (slowest − fastest trial) / median trial, a rough noise gauge.
    """

    calls: int
    repeats: int
    wall_s: float
    req_per_s: float
    us_per_call: float
    p50_us: float
    p95_us: float
    cpu_us_per_call: float
    server_cpu_us_per_call: float | None
    spread: float

    def as_row(self) -> dict[str, Any]:
        """The summary as a flat, rounded, JSON-ready dict."""
        return {
            "calls": self.calls,
            "repeats": self.repeats,
            "req_per_s": round(self.req_per_s, 1),
            "us_per_call": round(self.us_per_call, 1),
            "p50_us": round(self.p50_us, 1),
            "p95_us": round(self.p95_us, 1),
            "cpu_us_per_call": round(self.cpu_us_per_call, 1),
            "server_cpu_us_per_call": (
                None
                if self.server_cpu_us_per_call is None
                else round(self.server_cpu_us_per_call, 1)
            ),
            "spread": round(self.spread, 3),
        }


def summarize(trials: Sequence[Trial]) -> Summary:
    """Medians (and the pooled p50/p95 latency) of a contender's trials."""
    if not trials:
        raise ValueError("no trials to summarize")
    calls = trials[0].calls
    walls = [t.wall_s for t in trials]
    wall = statistics.median(walls)
    latencies = [ns / 1000.0 for t in trials for ns in t.latencies_ns]
    server = [t.server_cpu_s for t in trials if t.server_cpu_s is not None]
    return Summary(
        calls=calls,
        repeats=len(trials),
        wall_s=wall,
        req_per_s=calls / wall,
        us_per_call=wall / calls * 1e6,
        p50_us=percentile(latencies, 50),
        p95_us=percentile(latencies, 95),
        cpu_us_per_call=statistics.median(t.cpu_s / t.calls for t in trials) * 1e6,
        server_cpu_us_per_call=(
            statistics.median(s / calls for s in server) * 1e6 if server else None
        ),
        spread=(max(walls) - min(walls)) / wall,
    )


def paired_ratio(trials: Sequence[Trial], baseline: Sequence[Trial], *, cpu: bool = False) -> float:
    """Median over rounds of (per-call wall time / the baseline's in the same round).

    Comparing within a round cancels load that drifts during a run (other processes on the
    machine), which a ratio of overall medians does not. With ``cpu=True`` the client
    process's CPU time is compared instead of wall time.
    """

    def per_call(trial: Trial) -> float:
        return (trial.cpu_s if cpu else trial.wall_s) / trial.calls

    pairs = [per_call(t) / per_call(b) for t, b in zip(trials, baseline, strict=True)]
    return statistics.median(pairs)


# --- results ---------------------------------------------------------------------------------


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other work competing for the CPUs)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info(packages: Iterable[str] = ()) -> dict[str, Any]:
    """CPU count, Python, OS, load average and the versions of *packages* (and the core's)."""
    versions: dict[str, str | None] = {}
    for name in (*DEFAULT_PACKAGES, *packages):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "loadavg": loadavg(),
        "packages": versions,
        "git_commit": _git_commit(),
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def write_result(
    name: str,
    result: Mapping[str, Any],
    *,
    quick: bool,
    started_at: str,
    duration_s: float,
    out_dir: Path = RESULTS_DIR,
    packages: Iterable[str] = (),
    loadavg_before: list[float] | None = None,
) -> Path:
    """Write ``<out_dir>/<name>.json`` with the result, machine info and timestamps.

    The machine's ``loadavg`` is taken when writing; *loadavg_before* (from :func:`loadavg`
    when the benchmark started) is recorded beside it, so a reader can tell a quiet run
    from one that shared the CPUs with other work.
    """
    machine = machine_info(packages)
    machine["loadavg_before"] = loadavg_before
    payload = {
        "benchmark": name,
        "quick": quick,
        "started_at": started_at,
        "finished_at": _now(),
        "duration_s": round(duration_s, 2),
        "machine": machine,
        "result": result,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.json"
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def now_iso() -> str:
    """The current UTC time, ISO-8601, to the second."""
    return _now()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table of *rows*, columns in first-seen key order, numbers right-aligned."""
    if not rows:
        return "(no rows)"
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [
        all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows)
        for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def print_report(name: str, result: Mapping[str, Any]) -> None:
    """Print a benchmark's ``rows`` as a table, then its ``checks``, ``derived`` and ``skipped``."""
    print(f"\n== {name} ==")
    rows = _mappings(result.get("rows"))
    if rows:
        print(format_table(rows))
    checks = _mappings(result.get("checks"))
    if checks:
        print()
        for check in checks:
            mark = "ok  " if check.get("ok") else "MISS"
            print(
                f"  [{mark}] {check.get('name')}: {_cell(check.get('value'))}"
                f" (target {check.get('op', '<=')} {_cell(check.get('target'))})"
            )
    derived: object = result.get("derived")
    if isinstance(derived, Mapping) and derived:
        print()
        for what, value in cast(Mapping[str, object], derived).items():
            print(f"  {what}: {_cell(value)}")
    skipped: object = result.get("skipped")
    if isinstance(skipped, Mapping) and skipped:
        print()
        for what, why in cast(Mapping[str, object], skipped).items():
            print(f"  skipped {what}: {why}")


def _mappings(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    items = cast(list[object], value)
    return [cast(Mapping[str, Any], v) for v in items if isinstance(v, Mapping)]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        _serve_main(sys.argv[2])
    else:
        sys.exit("usage: python -m benchmarks._harness serve module:factory")
