"""Every titled example in ``docs/abeja.md`` runs as it is, against the simulator.

The page's complete programs are the ``python`` blocks with a ``title="…"``; each runs in its
own interpreter (no ABEJA credentials from this environment), warnings about unclosed
resources turned into errors. Fragments (untitled blocks) are not run.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "abeja.md"
BLOCK = re.compile(r'^```python title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)
EXPECTED = {
    "abeja_async.py": ["SUBMITTED"],
    "abeja_blocking.py": ["step 2/2: user code output 3", "SUCCEEDED"],
    "abeja_list.py": ["3 True", "['0', '1', '2', '3', '4', '5', '6']", "2"],
    "abeja_wait.py": ["now SUCCEEDED", "SUCCEEDED", "FAILED", "ERROR: user code exited"],
    "abeja_follow.py": ["step 4/4: user code output 3"],
    "abeja_dropin.py": ["SUBMITTED", "['entries']", "404 not_found"],
}


def examples() -> dict[str, str]:
    return {title: code for title, code in BLOCK.findall(PAGE.read_text(encoding="utf-8"))}


def test_every_titled_example_is_checked() -> None:
    assert set(examples()) == set(EXPECTED)


async def _run(code: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ABEJA", "PLATFORM_"))}
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


@pytest.mark.parametrize("title", ["abeja_async.py"])
def test_examples_do_not_hide_failures(title: str) -> None:
    """The runner sees a failing example (the check above can fail)."""
    broken = examples()[title].replace("sim.version_id", '"ver-0000000000000000"', 1)
    code, _, err = asyncio.run(_run(broken))
    assert code != 0 and "BadRequest" in err
