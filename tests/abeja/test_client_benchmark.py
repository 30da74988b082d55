"""The ``abeja_get_run`` benchmark still runs: a ``--quick`` pass writes a complete result.

Counts are tiny and no timing is asserted (benchmarks are not tests): what is checked is that
every contender ran against the simulator in its own process, that the ratios are there, and
that nothing was left open.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONTENDERS = {
    "raw aiohttp",
    "tether AsyncAbeja",
    "tether AsyncAPIClient",
    "tether Abeja",
    "tether APIClient",
    "official abeja-sdk",
}


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_quick_run_writes_every_contender(tmp_path: Path) -> None:
    command = [sys.executable, "-W", "always::ResourceWarning", "-m", "benchmarks"]
    done = subprocess.run(
        [*command, "abeja_get_run", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unclosed" not in done.stderr and "ResourceWarning" not in done.stderr
    data = json.loads((tmp_path / "abeja_get_run.json").read_text(encoding="utf-8"))
    assert data["benchmark"] == "abeja_get_run" and data["quick"] is True
    assert isinstance(data["machine"]["packages"]["abeja-sdk"], str)
    rows = {row["contender"]: row for row in data["result"]["rows"]}
    assert set(rows) == CONTENDERS
    for name, row in rows.items():
        for key in ("req_per_s", "us_per_call", "p50_us", "x_raw", "x_official"):
            assert _positive(row[key]), (name, key)
    assert rows["official abeja-sdk"]["x_official"] == 1.0
    assert set(data["result"]["ratios"]["vs_official"]) == CONTENDERS
