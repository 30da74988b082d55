"""Moderately file upload: throughput and peak memory, 256 MiB, tether vs the official SDK.

One simulator (``tether.testing.moderately.Simulator``) runs in this process, in its own
thread; every upload runs in a fresh child process, so each contender's memory is measured
alone and nobody shares a GIL with the server. In each round every contender uploads the same
file once (order rotating by one per round); the full presigned flow is timed: hash, register
(``POST /files/upload-url``), ``PUT`` to storage, complete. The stored object is checked
(size, SHA-256) and deleted after each upload.

Contenders: ``tether async`` (``AsyncModeratelyAI``), ``tether blocking`` (``ModeratelyAI``),
``official sync`` (``moderatelyai_sdk.ModeratelyAI``), ``official async``
(``moderatelyai_sdk.AsyncModeratelyAI``).

Measured per upload: wall time (→ MiB/s), the child's peak RSS during the upload minus its RSS
just before (``VmHWM`` reset through ``/proc/self/clear_refs``), and the peak RSS of the whole
child. Target (issue "Moderately AI client"): tether's peak RSS growth stays far below the file
size: at most 32 MiB (1/8 of the 256 MiB file).

Run ``python -m benchmarks moderately_upload`` (``--quick``: one round of 32 MiB), or
``python -m benchmarks.moderately_upload`` to write ``benchmarks/results/moderately_upload.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._harness import REPO_ROOT, RESULTS_DIR, loadavg, now_iso, print_report, write_result

NAME = "moderately_upload"
PACKAGES = ("moderatelyai-sdk", "httpx")

MiB = 1024 * 1024
TETHER_ASYNC = "tether async"
TETHER_BLOCKING = "tether blocking"
OFFICIAL_SYNC = "official sync"
OFFICIAL_ASYNC = "official async"
CONTENDERS = (TETHER_ASYNC, TETHER_BLOCKING, OFFICIAL_SYNC, OFFICIAL_ASYNC)
RSS_TARGET_MIB = 32.0

CHILD = r"""
import asyncio, json, sys, time

def status(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False

contender, url, key, team, path = sys.argv[1:6]

async def tether_async():
    from tether.moderately import AsyncModeratelyAI
    async with AsyncModeratelyAI(api_key=key, team_id=team, base_url=url, timeout=120) as client:
        await client.teams.list()
        measured = measure_start()
        uploaded = await client.files.upload(path)
        return measured, uploaded.file_id

def tether_blocking():
    from tether.moderately import ModeratelyAI
    with ModeratelyAI(api_key=key, team_id=team, base_url=url, timeout=120) as client:
        client.teams.list()
        measured = measure_start()
        uploaded = client.files.upload(path)
        return measured, uploaded.file_id

def official_sync():
    from moderatelyai_sdk import ModeratelyAI, RetryConfig
    with ModeratelyAI(api_key=key, team_id=team, base_url=url, timeout=120,
                      retry_config=RetryConfig(max_retries=0)) as client:
        client.teams.list()
        measured = measure_start()
        uploaded = client.files.upload(path)
        return measured, uploaded.file_id

async def official_async():
    from moderatelyai_sdk import AsyncModeratelyAI
    async with AsyncModeratelyAI(api_key=key, team_id=team, base_url=url, timeout=120) as client:
        await client.teams.list()
        measured = measure_start()
        uploaded = await client.files.upload(path)
        return measured, uploaded.file_id

def measure_start():
    can_reset = reset_peak()
    return {"rss_before": status("VmRSS"), "can_reset": can_reset, "t0": time.perf_counter()}

runners = {
    "tether async": lambda: asyncio.run(tether_async()),
    "tether blocking": tether_blocking,
    "official sync": official_sync,
    "official async": lambda: asyncio.run(official_async()),
}
measured, file_id = runners[contender]()
elapsed = time.perf_counter() - measured["t0"]
peak = status("VmHWM")
print(json.dumps({
    "elapsed_s": elapsed,
    "rss_growth": peak - measured["rss_before"] if measured["can_reset"] else None,
    "rss_peak": peak,
    "file_id": file_id,
}))
"""


def _make_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(MiB)  # one random MiB, varied per block so nothing is trivially equal
    with path.open("wb") as handle:
        for index in range(size // MiB):
            chunk = index.to_bytes(8, "little") + block[8:]
            handle.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def _upload_in_child(contender: str, sim: Any, path: Path) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD, contender, sim.url, sim.api_key, sim.team_id, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{contender} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> dict[str, Any]:
    """Upload the same file with every contender, rounds rotating their order."""
    from tether.testing.moderately import Simulator

    size = (32 if quick else 256) * MiB
    rounds = 1 if quick else 3
    skipped: dict[str, str] = {}
    contenders = list(CONTENDERS)
    try:
        import moderatelyai_sdk  # noqa: F401
    except ImportError:
        contenders = [TETHER_ASYNC, TETHER_BLOCKING]
        skipped["official SDK"] = "moderatelyai-sdk is not installed"
    samples: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    with tempfile.TemporaryDirectory(prefix="moderately-bench-") as scratch:
        path = Path(scratch) / "upload.bin"
        expected = _make_file(path, size)
        with Simulator(seed=1, clock="manual").serve_in_thread() as sim:
            for round_ in range(rounds):
                for k in range(len(contenders)):
                    contender = contenders[(round_ + k) % len(contenders)]
                    result = _upload_in_child(contender, sim, path)
                    stored = sim.storage_object(f"files/{result['file_id']}")
                    if stored is None or stored.size != size or stored.sha256 != expected:
                        raise RuntimeError(f"{contender}: the stored object does not match")
                    with sim._lock:  # free the simulator's copy before the next upload
                        sim._objects.pop(f"files/{result['file_id']}", None)
                    samples[contender].append(result)
                    time.sleep(0.2)
    rows: list[dict[str, Any]] = []
    for contender in contenders:
        trials = samples[contender]
        seconds = statistics.median(t["elapsed_s"] for t in trials)
        growth = [t["rss_growth"] for t in trials if t["rss_growth"] is not None]
        rows.append(
            {
                "contender": contender,
                "file_mib": size // MiB,
                "rounds": len(trials),
                "mib_per_s": round(size / MiB / seconds, 1),
                "seconds": round(seconds, 3),
                "best_s": round(min(t["elapsed_s"] for t in trials), 3),
                "rss_growth_mib": round(max(growth) / MiB, 1) if growth else None,
                "rss_peak_mib": round(max(t["rss_peak"] for t in trials) / MiB, 1),
            }
        )
    by_name = {row["contender"]: row for row in rows}
    checks: list[dict[str, Any]] = []
    for contender in (TETHER_ASYNC, TETHER_BLOCKING):
        growth = by_name[contender]["rss_growth_mib"]
        if growth is not None:
            limit = RSS_TARGET_MIB
            checks.append(
                {
                    "name": f"{contender}: peak RSS growth (MiB) for a {size // MiB} MiB file",
                    "value": growth,
                    "op": "<=",
                    "target": limit,
                    "ok": growth <= limit,
                }
            )
    derived: dict[str, Any] = {}
    if OFFICIAL_SYNC in by_name:
        derived["tether async / official sync throughput"] = round(
            by_name[TETHER_ASYNC]["mib_per_s"] / by_name[OFFICIAL_SYNC]["mib_per_s"], 3
        )
        derived["tether async / official async throughput"] = round(
            by_name[TETHER_ASYNC]["mib_per_s"] / by_name[OFFICIAL_ASYNC]["mib_per_s"], 3
        )
    return {
        "config": {
            "file_bytes": size,
            "rounds": rounds,
            "server": "tether.testing.moderately.Simulator, in the benchmark process (thread)",
            "client": "a fresh child process per upload",
            "timed": "hash + upload-url + PUT + complete (client creation and warm-up excluded)",
            "rss_growth": "peak RSS during the upload minus RSS before it (VmHWM reset)",
        },
        "rows": rows,
        "checks": checks,
        "derived": derived,
        "skipped": skipped,
    }


if __name__ == "__main__":
    started = now_iso()
    load_before = loadavg()
    began = time.perf_counter()
    quick = "--quick" in sys.argv
    outcome = run(quick)
    written = write_result(
        NAME,
        outcome,
        quick=quick,
        started_at=started,
        duration_s=time.perf_counter() - began,
        out_dir=RESULTS_DIR,
        packages=PACKAGES,
        loadavg_before=load_before,
    )
    print_report(NAME, outcome)
    print(f"\n  wrote {written}")
