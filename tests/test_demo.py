"""`tether demo` (the main job) and `tether simulate`, run as a user runs them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

TETHER = [sys.executable, "-c", "from tether.cli import main; main()"]


def test_demo_runs_every_step_against_the_simulator() -> None:
    started = time.perf_counter()
    result = subprocess.run(
        [*TETHER, "demo", "--seconds", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9/9 steps succeeded" in result.stdout
    for step in ("create an experiment", "stream live OD readings", "export the OD readings"):
        assert step in result.stdout
    assert "✗" not in result.stdout
    assert elapsed < 30


def test_demo_fails_with_exit_1_when_the_leader_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = subprocess.run(
        [*TETHER, "demo", "--leader", f"http://127.0.0.1:{port}", "--mqtt", f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "could not connect" in (result.stdout + result.stderr)


@pytest.mark.parametrize("platform", ["pioreactor", "moderately", "abeja", "ratio1"])
def test_simulate_prints_where_to_reach_the_simulator(platform: str) -> None:
    proc = subprocess.Popen(
        [*TETHER, "simulate", platform],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            if not line:
                continue
            key, _, value = line.partition("=")
            lines[key] = value
            if key == "READY":
                break
        assert lines.get("READY") == "1"
        if platform != "ratio1":
            assert lines["URL"].startswith("http://127.0.0.1:")
        if platform in ("pioreactor", "ratio1"):
            assert lines["MQTT"].startswith("127.0.0.1:")
        address = lines.get("URL", "").removeprefix("http://") or lines["MQTT"]
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=5):
            pass  # it really listens
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
