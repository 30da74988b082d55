"""Every Python example in ``docs/moderately/*.md`` runs, in order, against a simulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tether.testing.moderately import Simulator

DOCS = Path(__file__).resolve().parents[2] / "docs" / "moderately"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
PAGES = sorted(DOCS.glob("*.md")) if DOCS.exists() else []


@pytest.fixture(scope="module")
def live_sim() -> Iterator[Simulator]:
    """Executions advance on a real clock, 10 ms a step, so the examples' waits finish."""
    with Simulator(seed=9, step_seconds=0.01).serve_in_thread() as sim:
        yield sim


def test_the_pages_exist() -> None:
    assert [p.name for p in PAGES] == [
        "datasets.md",
        "files.md",
        "index.md",
        "pipelines-and-executions.md",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_examples_run(
    page: Path,
    live_sim: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in live_sim.info().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(page.read_text(encoding="utf-8"))
    assert blocks, page
    for number, source in enumerate(blocks, start=1):
        if source.lstrip().startswith("# from moderatelyai_sdk"):
            continue  # the import-swap snippet
        code = compile(source, f"{page.name}#{number}", "exec")
        exec(code, {"__name__": f"docs_{page.stem}_{number}"})
    printed = capsys.readouterr().out
    assert "Traceback" not in printed
