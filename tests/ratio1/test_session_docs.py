"""Every titled example in ``docs/ratio1.md`` runs as it is, against the simulator.

Each complete program (a ``python`` block with a ``title="…"``) runs in its own interpreter,
with no broker settings from this environment and unclosed-resource warnings as errors.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "ratio1.md"
BLOCK = re.compile(r'^```python title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)
EXPECTED = {
    "ratio1_async.py": [
        "online: sim-node-01",
        "UPDATE_CONFIG True",
        "payload a 1 True",
        "reply True",
        "exec 42 None",
    ],
    "ratio1_blocking.py": ["deployed True", "results sim-node-01 True"],
    "ratio1_settings.py": ["mqtt.example 8883 True False", "True 0o600"],
    "ratio1_retry.py": ["timed out; missing: ['PIPELINE_OK flaky']", "retry: True"],
    "ratio1_rejections.py": ["dropped: invalid_signature True", "online? False"],
}


def examples() -> dict[str, str]:
    return {title: code for title, code in BLOCK.findall(PAGE.read_text(encoding="utf-8"))}


def test_every_titled_example_is_checked() -> None:
    assert set(examples()) == set(EXPECTED)


async def _run(code: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EE_", "AIXP_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error::ResourceWarning",
        "-c",
        code,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_examples_run() -> None:
    found = examples()
    titles = sorted(found)
    outcomes = await asyncio.gather(*(_run(found[t]) for t in titles))
    for title, (code, out, err) in zip(titles, outcomes, strict=True):
        assert code == 0, f"{title} failed:\n{err}"
        assert "Unclosed" not in err and "Traceback" not in err, f"{title}:\n{err}"
        for expected in EXPECTED[title]:
            assert expected in out, f"{title} printed:\n{out}"


async def test_examples_do_not_hide_failures() -> None:
    """The runner sees a failing example (the check above can fail)."""
    broken = examples()["ratio1_async.py"].replace('name="demo")', 'name="")', 1)
    code, _, err = await _run(broken)
    assert code != 0 and "ValidationError" in err
