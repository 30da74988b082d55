"""Version tolerance (simulated 26.2.23 and 25.11.19 leaders) and input checks that fail before
any request leaves the client."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest

from tether import ValidationError
from tether.pioreactor import AsyncPioreactor, ExportResult, FanOut
from tether.testing.pioreactor import Simulator

FAST: dict[str, Any] = {
    "od_interval": 0.05,
    "time_scale": 3600.0,
    "task_latency": 0.01,
    "startup_grace": 0.05,
    "seed": 3,
}

PROFILE = """\
version: "1.0"
experiment_profile_name: old leader
metadata:
  author: tether
"""

CAL_YAML = """\
calibration_type: simple_stirring
calibration_name: old-cal
calibrated_on_pioreactor_unit: pio1
created_at: 2026-11-22T00:00:00Z
curve_data_:
  type: poly
  coefficients: [10.0, 50.0]
x: DC %
y: RPM
recorded_data:
  x: [10.0, 20.0]
  y: [150.0, 250.0]
pwm_hz: 200.0
voltage: 5.0
"""


@contextlib.asynccontextmanager
async def counting_client(
    url: str, **options: Any
) -> AsyncGenerator[tuple[AsyncPioreactor, list[str]]]:
    """A client whose session records every request as ``"METHOD /path"``."""
    seen: list[str] = []

    async def on_start(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        seen.append(f"{params.method} {params.url.raw_path}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        AsyncPioreactor(url, session=session, **options) as client,
    ):
        yield client, seen


async def refused(seen: list[str], call: Awaitable[Any], match: str) -> None:
    """*call* raises ValidationError matching *match*, and sends nothing."""
    before = list(seen)
    with pytest.raises(ValidationError, match=match):
        await call
    assert seen == before, f"requests were sent: {seen[len(before) :]}"


# -- the seed era: 26.2.23 -------------------------------------------------------------------------


async def test_seed_leader_26_2_23() -> None:
    async with (
        Simulator(units=("pio1", "pio2"), version="26.2.23", **FAST) as sim,
        counting_client(sim.url, task_timeout=10.0) as (client, seen),
    ):
        assert await client.version() == "26.2.23"
        shared = await client.config.shared()
        assert "[mqtt]" in shared
        await client.config.update_shared(shared + "\n[seed]\nx=1\n")
        assert (await client.config.shared_history())[0]["filename"] == "config.ini"
        await client.config.update_unit("pio2", "[stirring.config]\npwm_hz=99\n")
        assert "pwm_hz=99" in await client.config.unit("pio2")
        assert await client.config.unit_history("pio2")
        merged = await client.config.merged()
        assert merged.values_by_unit()["pio2"]["stirring.config"]["pwm_hz"] == "99"
        assert "GET /api/config/files/config.ini" in seen
        assert "PATCH /api/config/files/config_pio2.ini" in seen
        await refused(seen, client.config.zipped(), "26.4.0")

        await client.profiles.create("seed.yaml", PROFILE)
        await client.profiles.update("seed.yaml", PROFILE.replace("old leader", "seed"))
        assert "seed" in await client.profiles.retrieve("seed.yaml")
        assert "PATCH /api/experiment_profiles/seed.yaml" in seen
        await client.profiles.delete("seed.yaml")
        assert await client.profiles.recent("exp") == []

        await sim.create_experiment("exp", assign=True)
        await client.logs.post("seed log", experiment="exp", unit="pio1")
        for _ in range(250):
            if await client.logs.list(experiment="exp"):
                break
            await asyncio.sleep(0.02)
        polls_before = sum("/task_results/" in s for s in seen)
        result = await client.datasets.export(["logs"], experiment="exp")  # synchronous here
        assert isinstance(result, ExportResult) and result.filename.endswith(".zip")
        assert sum("/task_results/" in s for s in seen) == polls_before

        created = await client.calibrations.create("stirring", CAL_YAML, unit="pio1")
        assert created.ok  # a task read once: results are consumed on read before 26.4.3
        listed = await client.calibrations.list()
        assert listed.values_by_unit()["pio1"]["stirring"][0]["calibration_name"] == "old-cal"
        assert (await client.estimators.list("pio1"))["pio1"].value == {}
        session = await client.calibrations.start_session(
            "pio1", target_device="stirring", protocol_name="dc_based"
        )
        advanced = await client.calibrations.session_inputs(
            "pio1", session["session"]["session_id"], {}
        )
        assert advanced["step"]["step_id"] == "run_calibration"
        assert not any("/api/workers/pio1/task_results/" in s for s in seen)  # no relay yet

        assert await client.descriptors.charts()
        await refused(seen, client.descriptors.settings(), "26.4.0")
        await refused(seen, client.units.repair("pio1"), "26.4.0")
        await refused(
            seen,
            client.units.report_model("pio1", model_name="pioreactor_40ml", model_version="1.5"),
            "26.4.0",
        )
        await client.experiments.create("media-exp", media_used="LB", organism_used="E. coli")
        assert await client.historical.media() == ["LB"]
        assert await client.historical.organisms() == ["E. coli"]


# -- 25.11.19: /api/contrib, /api/configs, no estimators -------------------------------------------


async def test_old_leader_25_11_19() -> None:
    async with (
        Simulator(units=("pio1", "pio2"), version="25.11.19", **FAST) as sim,
        counting_client(sim.url, task_timeout=10.0) as (client, seen),
    ):
        assert await client.version() == "25.11.19"
        assert "[mqtt]" in await client.config.shared()
        await client.config.update_unit("pio1", "[stirring.config]\npwm_hz=55\n")
        merged = await client.config.merged("pio1")
        assert merged["pio1"].value is not None
        assert merged["pio1"].value["stirring.config"]["pwm_hz"] == "55"
        assert "GET /api/units/pio1/configuration" in seen
        assert "PATCH /api/configs/config_pio1.ini" in seen

        await client.profiles.create("old.yaml", PROFILE)
        await client.profiles.update("old.yaml", PROFILE.replace("old leader", "older"))
        assert "PATCH /api/contrib/experiment_profiles" in seen
        assert "older" in await client.profiles.retrieve("old.yaml")
        assert "old.yaml" in {p.file for p in await client.profiles.list()}
        await client.profiles.delete("old.yaml")
        assert await client.profiles.running("exp") == []
        await refused(seen, client.profiles.recent("exp"), "recent profile runs")

        datasets = await client.datasets.list()
        assert "GET /api/contrib/exportable_datasets" in seen and datasets
        await sim.create_experiment("exp", assign=True)
        result = await client.datasets.export(["experiments"], experiment="exp")
        assert "POST /api/contrib/exportable_datasets/export_datasets" in seen
        assert result.filename.endswith(".zip")

        assert await client.descriptors.jobs()
        assert await client.descriptors.automations("led")
        assert "GET /api/contrib/automations/led" in seen

        created = await client.calibrations.create("stirring", CAL_YAML, unit="pio1")
        assert isinstance(created, FanOut) and created.ok  # raw per-unit values, no envelopes
        assert (await client.calibrations.active("pio1"))["pio1"].ok
        await refused(seen, client.calibrations.protocols("pio1"), "26.2.3")
        await refused(
            seen,
            client.calibrations.start_session(
                "pio1", target_device="stirring", protocol_name="dc_based"
            ),
            "26.2.3",
        )
        await refused(seen, client.estimators.list(), "estimators")
        await refused(seen, client.estimators.active("pio1"), "estimators")
        await refused(seen, client.time_series.od_readings_fused("exp"), "26.2.3")
        assert (await client.time_series.od_readings("exp")).series == []
        assert await client.historical.media() == []


# -- validation before any request --------------------------------------------------------------

Call = Callable[[AsyncPioreactor, Path], Awaitable[Any]]

_CAL: dict[str, Any] = {"calibration_type": "simple_stirring", "calibration_name": "c"}

BAD_CALLS: list[tuple[str, Call, str]] = [
    (
        "cal missing name",
        lambda c, p: c.calibrations.create("stirring", {"calibration_type": "x"}),
        "calibration_name",
    ),
    ("cal device slash", lambda c, p: c.calibrations.create("stir/ring", _CAL), "device"),
    (
        "cal naive time",
        lambda c, p: c.calibrations.create(
            "stirring", {**_CAL, "created_at": datetime(2026, 1, 1)}
        ),
        "time zone",
    ),
    (
        "cal bad created_at",
        lambda c, p: c.calibrations.create("stirring", {**_CAL, "created_at": "yesterday"}),
        "ISO 8601",
    ),
    ("cal nan", lambda c, p: c.calibrations.create("stirring", {**_CAL, "x": math.nan}), "finite"),
    (
        "cal object",
        lambda c, p: c.calibrations.create("stirring", {**_CAL, "x": object()}),
        "object",
    ),
    ("cal empty text", lambda c, p: c.calibrations.create("stirring", "  "), "empty"),
    ("cal empty name", lambda c, p: c.calibrations.retrieve("stirring", "", unit="pio1"), "name"),
    ("cal .local unit", lambda c, p: c.calibrations.list("pio1.local"), ".local"),
    (
        "session broadcast",
        lambda c, p: c.calibrations.start_session(
            "$broadcast", target_device="stirring", protocol_name="dc_based"
        ),
        "worker name",
    ),
    (
        "session inputs list",
        lambda c, p: c.calibrations.session_inputs("pio1", "s1", cast(Any, [1])),
        "mapping",
    ),
    ("estimator device", lambda c, p: c.estimators.retrieve("..", "x"), "device"),
    ("config not text", lambda c, p: c.config.update_shared(cast(Any, 123)), "string"),
    ("config broadcast", lambda c, p: c.config.unit("$broadcast"), "worker name"),
    ("profile suffix", lambda c, p: c.profiles.create("x.txt", PROFILE), ".yaml"),
    ("profile folder", lambda c, p: c.profiles.create("../x.yaml", PROFILE), "plain file name"),
    ("profile empty", lambda c, p: c.profiles.update("x.yaml", " "), "non-empty"),
    ("profile experiment", lambda c, p: c.profiles.running("a/b"), "cannot contain"),
    ("export nothing", lambda c, p: c.datasets.export([], experiment="e"), "non-empty list"),
    ("export a string", lambda c, p: c.datasets.export("logs", experiment="e"), "non-empty list"),
    (
        "export naive",
        lambda c, p: c.datasets.export(["logs"], experiment="e", start_time=datetime(2026, 1, 1)),
        "time-zone aware",
    ),
    (
        "export window",
        lambda c, p: c.datasets.export(
            ["logs"],
            experiment="e",
            start_time=datetime(2026, 2, 1, tzinfo=UTC),
            end_time=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        "earlier",
    ),
    ("preview 0 rows", lambda c, p: c.datasets.preview("logs", n_rows=0), "n_rows"),
    ("preview 101 rows", lambda c, p: c.datasets.preview("logs", n_rows=101), "n_rows"),
    ("download path", lambda c, p: c.datasets.download("../x.zip", p), "filename"),
    ("download suffix", lambda c, p: c.datasets.download("x.csv", p), "export archive"),
    (
        "download folder",
        lambda c, p: c.datasets.download("x.zip", p / "missing" / "x.zip"),
        "does not exist",
    ),
    ("log level", lambda c, p: c.logs.list(min_level="LOUD"), "min_level"),
    ("log skip", lambda c, p: c.logs.list(skip=-1), "skip"),
    ("recent 0", lambda c, p: c.logs.recent("e", lines=0), "lines"),
    ("recent 101", lambda c, p: c.logs.recent("e", lines=101), "lines"),
    ("post empty", lambda c, p: c.logs.post(" ", experiment="e"), "message"),
    (
        "post naive",
        lambda c, p: c.logs.post("m", experiment="e", timestamp=datetime(2026, 1, 1)),
        "time-zone aware",
    ),
    ("post level", lambda c, p: c.logs.post("m", experiment="e", level="TRACE"), "level"),
    ("lookback < 0", lambda c, p: c.time_series.od_readings("e", lookback=-1), "lookback"),
    ("lookback > 1e6", lambda c, p: c.time_series.growth_rates("e", lookback=1e7), "lookback"),
    ("lookback inf", lambda c, p: c.time_series.growth_rates("e", lookback=math.inf), "lookback"),
    (
        "points 0",
        lambda c, p: c.time_series.temperature_readings("e", target_points=0),
        "target_points",
    ),
    (
        "points > 1e6",
        lambda c, p: c.time_series.od_readings("e", target_points=1_000_001),
        "target_points",
    ),
    ("series table", lambda c, p: c.time_series.column("e", "bad table", "x"), "data_source"),
    ("series unit", lambda c, p: c.time_series.od_readings("e", unit="$broadcast"), "worker name"),
    ("plugin name", lambda c, p: c.plugins.install("bad name!"), "plugin name"),
    ("archive suffix", lambda c, p: c.units.update_from_archive("/tmp/x.tar.gz"), ".zip"),
    ("upload bytes", lambda c, p: c.units.upload(b"x"), "filename"),
    ("upload missing", lambda c, p: c.units.upload(p / "missing.zip"), "not a file"),
    ("upload quote", lambda c, p: c.units.upload(b"x", filename='a"b'), "plain name"),
    (
        "model empty",
        lambda c, p: c.units.set_model("pio1", model_name="", model_version="1"),
        "model_name",
    ),
    (
        "import broadcast",
        lambda c, p: c.units.import_zipped_dot_pioreactor("$broadcast", b"x", filename="a.zip"),
        "worker name",
    ),
    ("clock naive", lambda c, p: c.units.set_clock(datetime(2026, 1, 1)), "time-zone aware"),
    ("automation type", lambda c, p: c.descriptors.automations("pumps"), "automation_type"),
    ("historical gone", lambda c, p: c.historical.media(), "removed in 26.6.0"),
]


@pytest.mark.parametrize(("name", "call", "match"), BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
async def test_bad_input_fails_before_any_request(
    sim: Simulator, tmp_path: Path, name: str, call: Call, match: str
) -> None:
    async with counting_client(sim.url, version="26.11.1") as (client, seen):
        await refused(seen, call(client, tmp_path), match)
        assert seen == []


async def test_version_gates_need_only_the_version_probe() -> None:
    async with (
        Simulator(units=("pio1",), version="25.11.19", **FAST) as sim,
        counting_client(sim.url) as (client, seen),
    ):
        with pytest.raises(ValidationError, match="estimators is not available on Pioreactor"):
            await client.estimators.list()
        assert seen == ["GET /unit_api/versions/app"]
