"""The benchmark runner works end to end: a ``--quick`` core run writes a complete result.

Counts are tiny and no timing is asserted (benchmarks are not tests); what is checked is the
shape of the JSON, that every number is a positive measurement, and that the run leaves
nothing open (the server process exits; no unclosed sessions).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

ROW_NUMBERS = ("req_per_s", "us_per_call", "p50_us", "p95_us", "cpu_us_per_call", "x_raw")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # a leaked server process would keep stderr open and hit the timeout
    return subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-m", "benchmarks", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def test_quick_core_run_writes_complete_json(tmp_path: Path) -> None:
    done = _run("core_http", "--quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unclosed" not in done.stderr
    assert "ResourceWarning" not in done.stderr
    assert "== core_http ==" in done.stdout

    data = json.loads((tmp_path / "core_http.json").read_text(encoding="utf-8"))
    assert data["benchmark"] == "core_http"
    assert data["quick"] is True
    started = datetime.fromisoformat(data["started_at"])
    finished = datetime.fromisoformat(data["finished_at"])
    assert started.tzinfo is not None and finished >= started
    assert _positive(data["duration_s"])

    machine = data["machine"]
    assert _positive(machine["cpu_count"])
    assert machine["python"] == ".".join(map(str, sys.version_info[:3]))
    assert isinstance(machine["packages"]["aiohttp"], str)
    assert isinstance(machine["packages"]["tether"], str)

    result = data["result"]
    config = result["config"]
    assert config["concurrency"] == 64
    rows = result["rows"]
    seen = {(row["scenario"], row["contender"]) for row in rows}
    expected = {
        ("sequential", "raw aiohttp"),
        ("sequential", "tether async"),
        ("sequential", "tether blocking"),
        ("concurrency 64", "raw aiohttp"),
        ("concurrency 64", "tether async"),
    }
    if importlib.util.find_spec("requests") is not None:
        expected.add(("sequential", "requests"))
    else:
        assert "requests" in result["skipped"]
    assert seen == expected
    for row in rows:
        wanted = config[
            "sequential_calls" if row["scenario"] == "sequential" else "concurrent_calls"
        ]
        assert row["calls"] == wanted
        for key in ROW_NUMBERS:
            assert _positive(row[key]), (row["contender"], key, row[key])
        assert row["p95_us"] >= row["p50_us"]
    for scenario in ("sequential", "concurrency 64"):
        raw = [r for r in rows if r["scenario"] == scenario and r["contender"] == "raw aiohttp"]
        assert raw[0]["x_raw"] == 1.0

    checks = result["checks"]
    assert len(checks) == 3
    for check in checks:
        assert _positive(check["value"]) and _positive(check["target"])
        assert check["ok"] is (check["value"] <= check["target"])


def test_unknown_benchmark_is_refused(tmp_path: Path) -> None:
    done = _run("no_such_benchmark", "--quick", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "unknown benchmark(s): no_such_benchmark" in done.stdout
    assert "core_http" in done.stdout
    assert list(tmp_path.iterdir()) == []
