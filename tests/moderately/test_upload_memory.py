"""Memory stays bounded by the chunk size, not the file size: a 256 MiB upload and download.

The client runs in a child process (so the simulator, which keeps the uploaded object in
memory, is not counted) and reports two measurements around each transfer:

- ``traced``: the peak of Python allocations (``tracemalloc``) during the transfer;
- ``rss``: the peak resident set size during the transfer (``VmHWM`` after resetting it
  through ``/proc/self/clear_refs``) minus the resident size just before it.

A client that read the file into memory would show at least the file size in both.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tether.testing.moderately import Simulator

SIZE = 256 * 1024 * 1024
MiB = 1024 * 1024

CHILD = r"""
import asyncio, json, os, sys, tracemalloc
from tether.moderately import AsyncModeratelyAI

def rss(field):
    with open("/proc/self/status") as status:
        for line in status:
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

async def main(url, key, team, source, target):
    results = {}
    async with AsyncModeratelyAI(api_key=key, team_id=team, base_url=url) as client:
        await client.teams.list()  # warm up: session, imports, converters
        for name in ("upload", "download"):
            can_reset = reset_peak()
            before = rss("VmRSS")
            tracemalloc.start()
            if name == "upload":
                uploaded = await client.files.upload(source)
                results["file_id"] = uploaded.file_id
                results["sha256"] = uploaded.file_hash
            else:
                await client.files.download(results["file_id"], path=target)
            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            results[name] = {
                "traced": traced,
                "rss": rss("VmHWM") - before if can_reset else None,
            }
    print(json.dumps(results))

asyncio.run(main(*sys.argv[1:6]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_256_mib_upload_and_download_stay_within_a_few_mib(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as handle:  # a sparse file: 256 MiB of zeros, no disk used
        handle.truncate(SIZE)
    target = tmp_path / "copy.bin"
    with Simulator(seed=5, clock="manual").serve_in_thread() as sim:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                sim.url,
                sim.api_key,
                sim.team_id,
                str(source),
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        stored = sim.storage_object(f"files/{report['file_id']}")
        assert stored is not None and stored.size == SIZE
        files = sim.resources("files")
    expected = hashlib.sha256(b"\0" * SIZE).hexdigest()
    assert report["sha256"] == expected and stored.sha256 == expected
    assert [f["uploadStatus"] for f in files] == ["completed"]
    assert target.stat().st_size == SIZE

    for name in ("upload", "download"):
        measured = report[name]
        # the file is 256 MiB; the client holds a few 1 MiB chunks at a time
        assert measured["traced"] < 16 * MiB, (name, measured)
        if measured["rss"] is not None:
            assert measured["rss"] < 48 * MiB, (name, measured)
    print(
        "\n".join(
            f"{name}: traced peak {report[name]['traced'] / MiB:.1f} MiB, "
            f"RSS growth {(report[name]['rss'] or 0) / MiB:.1f} MiB for {SIZE // MiB} MiB"
            for name in ("upload", "download")
        )
    )
