"""The Pioreactor client's remaining resources against the simulated 26.11.1 leader (async).

Calibrations, estimators, config, profiles, datasets, logs, time series, plugins, units,
descriptors; each checked for the request it sends and the typed answer it decodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tether import BadRequestError, Job, JobFailedError, NotFoundError
from tether.pioreactor import (
    AsyncPioreactor,
    CalibrationProtocol,
    ExportableDataset,
    ExportResult,
    FanOut,
    LogEntry,
    LogLevel,
    ModelInfo,
    TimeSeries,
)
from tether.testing.pioreactor import Simulator

CAL: dict[str, Any] = {
    "calibration_type": "simple_stirring",
    "calibration_name": "probe-stir",
    "calibrated_on_pioreactor_unit": "pio1",
    "created_at": datetime(2026, 11, 22, tzinfo=UTC),
    "curve_data_": {"type": "poly", "coefficients": [10.0, 50.0]},
    "x": "DC %",
    "y": "RPM",
    "recorded_data": {"x": [10.0, 20.0], "y": [150.0, 250.0]},
    "pwm_hz": 200.0,
    "voltage": 5.0,
}

CAL_YAML = """\
calibration_type: simple_stirring
calibration_name: from-text
calibrated_on_pioreactor_unit: pio2
created_at: 2026-11-22T00:00:00Z
curve_data_:
  type: poly
  coefficients: [1.0, 2.0]
x: DC %
y: RPM
recorded_data:
  x: [1.0]
  y: [2.0]
pwm_hz: 100.0
voltage: 5.0
"""

PROFILE = """\
version: "1.0"
experiment_profile_name: tether probe
metadata:
  author: tether
common:
  jobs:
    stirring:
      actions:
        - type: start
          t: 0.0
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


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 8.0) -> None:
    """Wait until ``await check()`` is true (data the leader stores from MQTT lags a little)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def file_names(folder: Path) -> list[str]:
    """The names in *folder*, sorted (run in a thread from async tests)."""
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
async def cs(sim: Simulator) -> AsyncIterator[tuple[AsyncPioreactor, list[str]]]:
    """A client of :func:`sim` and the list of requests it sent."""
    async with counting_client(sim.url, task_timeout=10.0) as pair:
        yield pair


@pytest.fixture
def client(cs: tuple[AsyncPioreactor, list[str]]) -> AsyncPioreactor:
    """The client of :func:`cs`."""
    return cs[0]


# -- calibrations -------------------------------------------------------------------------------


async def test_calibrations_create_list_activate_delete(client: AsyncPioreactor) -> None:
    created = await client.calibrations.create("stirring", CAL, unit="pio1", set_as_active=True)
    assert created.ok and created["pio1"].value is not None
    assert created["pio1"].value["msg"] == "Calibration created successfully."
    from_text = await client.calibrations.create("stirring", CAL_YAML, unit="pio2")
    assert from_text["pio2"].ok

    listed = await client.calibrations.list()
    assert set(listed) == {"pio1", "pio2", "pio3"}
    assert listed["pio3"].value == {}
    pio1 = listed.values_by_unit()["pio1"]["stirring"][0]
    assert pio1["calibration_name"] == "probe-stir" and pio1["is_active"] is True
    assert pio1["created_at"] == "2026-11-22T00:00:00Z"

    device = await client.calibrations.for_device("stirring", unit="pio2")
    assert [c["calibration_name"] for c in device["pio2"].value or []] == ["from-text"]
    one = await client.calibrations.retrieve("stirring", "probe-stir", unit="pio1")
    assert one["pio1"].value is not None and one["pio1"].value["pwm_hz"] == 200.0

    active = await client.calibrations.active("pio1")
    assert active["pio1"].value is not None
    assert active["pio1"].value["stirring"]["calibration_name"] == "probe-stir"
    await client.calibrations.clear_active("stirring", unit="pio1")
    assert (await client.calibrations.active("pio1"))["pio1"].value == {}
    assert (await client.calibrations.set_active("stirring", "probe-stir", unit="pio1")).ok

    archive = zipfile.ZipFile(io.BytesIO(await client.calibrations.zipped("pio1")))
    assert archive.namelist() == ["stirring/probe-stir.yaml"]

    deleted = await client.calibrations.delete("stirring", "probe-stir", unit="pio1")
    assert deleted["pio1"].value is not None and "deleted" in deleted["pio1"].value["msg"]
    assert (await client.calibrations.list("pio1"))["pio1"].value == {}


async def test_calibration_failures_are_per_unit_or_before_any_task(
    client: AsyncPioreactor,
) -> None:
    missing = await client.calibrations.retrieve("stirring", "nope", unit="pio1")
    assert not missing.ok
    error = missing.failures["pio1"].error
    assert error is not None and error.kind == "http_error"
    assert missing["pio1"].status_code == 404
    no_folder = await client.calibrations.for_device("not_a_device", unit="pio1")
    assert no_folder["pio1"].status_code == 404
    with pytest.raises(BadRequestError, match="YAML data is not correct"):
        await client.calibrations.create("stirring", "calibration_type: nope\n", unit="pio1")


async def test_calibration_protocols_and_a_guided_session(client: AsyncPioreactor) -> None:
    protocols = await client.calibrations.protocols("pio1")
    found = protocols["pio1"].value or []
    assert all(isinstance(p, CalibrationProtocol) for p in found)
    stirring = next(p for p in found if p.target_device == "stirring")
    assert stirring.protocol_name == "dc_based" and stirring.requirements

    started = await client.calibrations.start_session(
        "pio1", target_device="stirring", protocol_name="dc_based"
    )
    session_id = started["session"]["session_id"]
    assert started["step"]["step_id"] == "intro"
    assert (await client.calibrations.retrieve_session("pio1", session_id))["session"][
        "status"
    ] == "in_progress"
    job = await client.calibrations.session_inputs.start("pio1", session_id, {})
    assert isinstance(job, Job)
    assert (await job)["step"]["step_id"] == "run_calibration"
    done = await client.calibrations.session_inputs("pio1", session_id, {"confirm": True})
    assert done["session"]["status"] == "completed"
    listed = await client.calibrations.for_device("stirring", unit="pio1")
    assert len(listed["pio1"].value or []) == 1

    second = await client.calibrations.start_session(
        "pio1", target_device="stirring", protocol_name="dc_based"
    )
    aborted = await client.calibrations.abort_session("pio1", second["session"]["session_id"])
    assert aborted["session"]["status"] == "aborted"


# -- estimators -----------------------------------------------------------------------------------


async def test_estimators_mirror_calibrations(sim: Simulator, client: AsyncPioreactor) -> None:
    assert (await client.estimators.list("pio1"))["pio1"].value == {}
    sim.unit("pio1").estimators["od_fused"] = {
        "fusion-1": {"estimator_type": "od_fused", "estimator_name": "fusion-1"}
    }
    listed = await client.estimators.list("pio1")
    assert listed["pio1"].value is not None
    assert listed["pio1"].value["od_fused"][0]["estimator_name"] == "fusion-1"
    assert (
        len((await client.estimators.for_device("od_fused", unit="pio1"))["pio1"].value or []) == 1
    )
    one = await client.estimators.retrieve("od_fused", "fusion-1", unit="pio1")
    assert one["pio1"].value is not None and one["pio1"].value["is_active"] is False
    await client.estimators.set_active("od_fused", "fusion-1", unit="pio1")
    active = await client.estimators.active("pio1")
    assert active["pio1"].value is not None and "od_fused" in active["pio1"].value
    await client.estimators.clear_active("od_fused", unit="pio1")
    assert (await client.estimators.active("pio1"))["pio1"].value == {}
    gone = await client.estimators.delete("od_fused", "fusion-1", unit="pio1")
    assert gone.ok
    again = await client.estimators.delete("od_fused", "fusion-1", unit="pio1")
    assert again["pio1"].status_code == 404


# -- config ----------------------------------------------------------------------------------------


async def test_config_shared_unit_merged_history_zip(client: AsyncPioreactor) -> None:
    shared = await client.config.shared()
    assert "[cluster.topology]" in shared
    await client.config.update_shared(shared + "\n[tether]\nprobe=1\n")
    assert "probe=1" in await client.config.shared()
    history = await client.config.shared_history()
    assert history and "probe=1" in history[0]["data"]

    assert await client.config.unit("pio2") == ""
    await client.config.update_unit("pio2", "[stirring.config]\npwm_hz=321\n")
    assert "pwm_hz=321" in await client.config.unit("pio2")
    assert (await client.config.unit_history("pio2"))[0]["data"].startswith("[stirring.config]")

    merged = await client.config.merged()
    assert isinstance(merged, FanOut) and merged.ok and set(merged) == {"pio1", "pio2", "pio3"}
    values = merged.values_by_unit()
    assert values["pio2"]["stirring.config"]["pwm_hz"] == "321"
    assert values["pio1"]["tether"]["probe"] == "1"
    one = await client.config.merged("pio2")
    assert list(one) == ["pio2"]

    names = zipfile.ZipFile(io.BytesIO(await client.config.zipped())).namelist()
    assert "config.ini" in names

    with pytest.raises(BadRequestError, match="Duplicate section"):
        await client.config.update_shared("[a]\nx=1\n[a]\ny=2\n")


# -- profiles --------------------------------------------------------------------------------------


async def test_profiles_lifecycle(client: AsyncPioreactor) -> None:
    before = {p.file for p in await client.profiles.list()}
    assert "demo_stirring_example.yaml" in before
    await client.profiles.create("probe.yaml", PROFILE)
    listed = {p.file: p for p in await client.profiles.list()}
    assert listed["probe.yaml"].experiment_profile["experiment_profile_name"] == "tether probe"
    assert await client.profiles.retrieve("probe.yaml") == PROFILE
    await client.profiles.update("probe.yaml", PROFILE.replace("tether probe", "renamed"))
    assert "renamed" in await client.profiles.retrieve("probe.yaml")
    with pytest.raises(BadRequestError, match="already exists"):
        await client.profiles.create("probe.yaml", PROFILE)
    await client.profiles.delete("probe.yaml")
    with pytest.raises(NotFoundError):
        await client.profiles.retrieve("probe.yaml")
    assert await client.profiles.running("demo") == []
    assert await client.profiles.recent("demo") == []


# -- datasets --------------------------------------------------------------------------------------


async def test_datasets_list_preview_export_download(
    sim: Simulator, client: AsyncPioreactor, tmp_path: Path
) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    await client.logs.post("for the export", experiment="exp1", unit="pio1")

    async def stored() -> bool:
        return bool(await client.logs.list(experiment="exp1"))

    await eventually(stored)

    datasets = await client.datasets.list()
    assert all(isinstance(d, ExportableDataset) for d in datasets)
    logs = next(d for d in datasets if d.name == "logs")
    assert logs.has_experiment and "message" in logs.column_descriptions
    preview = await client.datasets.preview("logs", n_rows=1)
    assert len(preview) == 1 and "message" in preview[0]

    result = await client.datasets.export(["logs"], experiment="exp1", partition_by_unit=True)
    assert isinstance(result, ExportResult) and result.filename.startswith("export_exp1_")
    saved = await client.datasets.download(result.filename, tmp_path)
    assert saved == tmp_path / result.filename
    with zipfile.ZipFile(saved) as archive:
        assert "manifest.json" in archive.namelist()
        csv_names = [n for n in archive.namelist() if n.endswith(".csv")]
        assert csv_names and b"for the export" in archive.read(csv_names[0])
    renamed = await client.datasets.download(result.filename, tmp_path / "copy.zip")
    assert renamed.read_bytes() == saved.read_bytes()

    with pytest.raises(NotFoundError):
        await client.datasets.download("export_nothing.zip", tmp_path)
    left = await asyncio.to_thread(file_names, tmp_path)
    assert left == sorted([result.filename, "copy.zip"])  # no partial file from the failure


# -- logs -----------------------------------------------------------------------------------------


async def test_logs_post_and_read_every_way(sim: Simulator, client: AsyncPioreactor) -> None:
    await sim.create_experiment("exp1", assign=["pio1", "pio2"])
    earlier = datetime.now(UTC).astimezone(timezone(timedelta(hours=2))) - timedelta(minutes=1)
    await client.logs.post("hello", experiment="exp1", unit="pio1", timestamp=earlier)
    await client.logs.post(
        "careful", experiment="exp1", unit="pio2", level=LogLevel.WARNING, task="probe"
    )
    await client.logs.post("quiet", experiment="exp1", unit="pio1", level="debug")
    await client.logs.post("unit-wide", experiment="$experiment", unit="pio3")

    async def stored() -> bool:
        everything = await client.logs.list(min_level="DEBUG")
        return {"hello", "careful", "quiet", "unit-wide"} <= {e.message for e in everything}

    await eventually(stored)

    entries = await client.logs.list(experiment="exp1")
    assert all(isinstance(e, LogEntry) for e in entries)
    by_message = {e.message: e for e in entries}
    assert set(by_message) == {"hello", "careful"}  # INFO and above by default
    hello = by_message["hello"]
    assert hello.timestamp == earlier.replace(microsecond=earlier.microsecond // 1000 * 1000)
    assert hello.pioreactor_unit == "pio1" and hello.level == LogLevel.INFO
    assert by_message["careful"].task == "probe"

    warnings = await client.logs.list(experiment="exp1", min_level="WARNING")
    assert [e.message for e in warnings] == ["careful"]
    everything = await client.logs.list(experiment="exp1", min_level=LogLevel.DEBUG)
    assert {e.message for e in everything} == {"hello", "careful", "quiet"}
    assert len(await client.logs.list(experiment="exp1", min_level="DEBUG", skip=1)) == 2

    assert {e.message for e in await client.logs.list(unit="pio1")} == {"hello"}
    assert {e.message for e in await client.logs.list(unit="pio2", experiment="exp1")} == {
        "careful"
    }
    assert "unit-wide" in {e.message for e in await client.logs.list()}

    recent = await client.logs.recent("exp1", lines=1)
    assert [e.message for e in recent] == ["careful"]  # newest first
    # "hello" is dated before the experiment was created, so it is not "recent"
    pio1_recent = await client.logs.recent("exp1", unit="pio1", min_level="DEBUG")
    assert {e.message for e in pio1_recent} == {"quiet"}
    system = await client.logs.system("pio3")
    assert [e.message for e in system] == ["unit-wide"]
    assert [e.message for e in await client.units.system_logs("pio3")] == ["unit-wide"]


# -- time series ----------------------------------------------------------------------------------


async def test_time_series_of_an_experiment(sim: Simulator, client: AsyncPioreactor) -> None:
    await sim.create_experiment("ts", assign=["pio1"])
    for job in ("od_reading", "growth_rate_calculating", "stirring", "temperature_automation"):
        await sim.start_job("pio1", job, "ts")

    async def filled() -> bool:
        series = [
            await client.time_series.od_readings("ts"),
            await client.time_series.growth_rates("ts"),
            await client.time_series.temperature_readings("ts"),
            await client.time_series.column("ts", "stirring_rates", "measured_rpm"),
        ]
        return all(s.data and len(s.data[0]) >= 3 for s in series)

    await eventually(filled)

    od = await client.time_series.od_readings("ts")
    assert isinstance(od, TimeSeries) and od.series
    assert all(name.startswith("pio1-") for name in od.series)
    assert all(point.x.tzinfo is not None for point in od.data[0])
    few = await client.time_series.od_readings("ts", unit="pio1", lookback=1, target_points=2)
    assert few.series and all(len(points) <= 2 for points in few.data)
    assert (await client.time_series.od_readings("ts", lookback=0)).series == []
    raw = await client.time_series.raw_od_readings("ts", unit="pio1")
    assert isinstance(raw, TimeSeries)  # filled only while a calibration is active (as live)
    assert (await client.time_series.growth_rates("ts")).series == ["pio1"]
    assert (await client.time_series.od_readings_filtered("ts", unit="pio1")).series == ["pio1"]
    temperature = await client.time_series.temperature_readings("ts")
    assert temperature.by_series()["pio1"][0].y > 0
    assert isinstance(await client.time_series.od_readings_fused("ts"), TimeSeries)
    rpm = await client.time_series.column("ts", "stirring_rates", "measured_rpm")
    assert rpm.series == ["pio1"] and rpm.data[0]
    assert (await client.time_series.growth_rates("nothing")).series == []


# -- plugins, units, descriptors ----------------------------------------------------------------


async def test_plugins_install_list_uninstall(client: AsyncPioreactor) -> None:
    assert (await client.plugins.installed("pio2"))["pio2"].value == []
    installed = await client.plugins.install("tether-probe", unit="pio2", version="1.2.3")
    assert installed.ok and list(installed) == ["pio2"]
    plugins = (await client.plugins.installed())["pio2"].value or []
    assert [(p["name"], p["version"]) for p in plugins] == [("tether-probe", "1.2.3")]
    assert (await client.plugins.installed())["pio1"].value == []
    assert (await client.plugins.uninstall("tether-probe", unit="pio2")).ok
    assert (await client.plugins.installed("pio2"))["pio2"].value == []


async def test_unit_system_operations(client: AsyncPioreactor) -> None:
    assert (await client.units.reboot("pio2")).ok
    shutdown = await client.units.shutdown()
    assert set(shutdown) == {"pio1", "pio2", "pio3"} and shutdown.ok
    assert list(await client.units.repair("pio1")) == ["pio1"]
    clock = await client.units.set_clock(datetime(2026, 11, 22, 12, tzinfo=UTC))
    assert clock.ok and "pio1" in clock
    with pytest.raises(JobFailedError, match="does not install"):
        await client.units.update_next_version()
    with pytest.raises(JobFailedError):
        await client.units.update_from_archive("/tmp/release.zip", unit="pio2")
    archive = zipfile.ZipFile(io.BytesIO(await client.units.zipped_dot_pioreactor("pio1")))
    assert "config.ini" in archive.namelist()


async def test_unit_models(client: AsyncPioreactor) -> None:
    model = await client.units.model("pio2")
    assert isinstance(model, ModelInfo) and model.model_name == "pioreactor_40ml"
    await client.units.set_model("pio2", model_name="pioreactor_20ml", model_version="1.1")
    assert (await client.units.model("pio2")).model_version == "1.1"
    await client.units.report_model("pio3", model_name="pioreactor_20ml", model_version="1.0")
    assert (await client.units.model("pio3")).model_name == "pioreactor_20ml"
    with pytest.raises(BadRequestError):
        await client.units.set_model("pio2", model_name="pioreactor_9000ml", model_version="9")
    with pytest.raises(NotFoundError):
        await client.units.model("nobody")


async def test_descriptors(client: AsyncPioreactor) -> None:
    jobs = await client.descriptors.jobs()
    assert jobs and all("job_name" in job for job in jobs)
    charts = await client.descriptors.charts()
    assert all("chart_key" in chart for chart in charts)
    dosing = await client.descriptors.automations("dosing")
    assert dosing and all("automation_name" in a for a in dosing)
    settings = await client.descriptors.settings()
    assert {s["key"] for s in settings} >= {"bioreactor"}
    assert await client.descriptors.jobs("pio1") == jobs
    assert await client.descriptors.settings("pio1") == settings
    assert await client.descriptors.automations("led", unit="pio1") == (
        await client.descriptors.automations("led")
    )
