"""The blocking twins of the Pioreactor resources, against a simulator on its own loop thread."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tether import BlockingJob, NotFoundError, ValidationError
from tether.pioreactor import (
    ExportableDataset,
    ExportResult,
    FanOut,
    LogEntry,
    ModelInfo,
    Pioreactor,
    TimeSeries,
)
from tether.testing import running
from tether.testing.pioreactor import Simulator

FAST: dict[str, Any] = {
    "od_interval": 0.05,
    "time_scale": 3600.0,
    "task_latency": 0.01,
    "startup_grace": 0.05,
    "seed": 11,
}

CAL_YAML = """\
calibration_type: simple_stirring
calibration_name: blocking-cal
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


@pytest.fixture(scope="module")
def client() -> Iterator[Pioreactor]:
    """A blocking client of a two-unit simulator running in a background thread."""
    with (
        running(Simulator(units=("pio1", "pio2"), **FAST)) as sim,
        Pioreactor(sim.url, task_timeout=10.0) as blocking,
    ):
        blocking.experiments.create("bexp")
        blocking.experiments.assign("bexp", "pio1")
        yield blocking


def test_blocking_calibrations_and_estimators(client: Pioreactor) -> None:
    created = client.calibrations.create("stirring", CAL_YAML, unit="pio1", set_as_active=True)
    assert isinstance(created, FanOut) and created.ok
    job = client.calibrations.list.start("pio1")
    assert isinstance(job, BlockingJob)
    listed = job.wait(timeout=10)
    assert listed["pio1"].value is not None
    assert listed["pio1"].value["stirring"][0]["calibration_name"] == "blocking-cal"
    assert client.calibrations.active("pio1")["pio1"].value is not None
    assert zipfile.ZipFile(io.BytesIO(client.calibrations.zipped("pio1"))).namelist()
    session = client.calibrations.start_session(
        "pio1", target_device="stirring", protocol_name="dc_based"
    )
    session_id = session["session"]["session_id"]
    advanced = client.calibrations.session_inputs("pio1", session_id, {})
    assert advanced["step"]["step_id"] == "run_calibration"
    assert client.calibrations.abort_session("pio1", session_id)["session"]["status"] == "aborted"
    assert client.calibrations.delete("stirring", "blocking-cal", unit="pio1").ok
    assert client.estimators.list("pio2")["pio2"].value == {}


def test_blocking_config_profiles_descriptors(client: Pioreactor) -> None:
    shared = client.config.shared()
    assert "[mqtt]" in shared
    client.config.update_unit("pio2", "[stirring.config]\npwm_hz=77\n")
    assert (
        client.config.merged("pio2").values_by_unit()["pio2"]["stirring.config"]["pwm_hz"] == "77"
    )
    assert client.config.unit_history("pio2")
    profiles = client.profiles.list()
    assert profiles and client.profiles.retrieve(profiles[0].file).strip()
    assert client.profiles.running("bexp") == []
    assert client.descriptors.charts() and client.descriptors.settings()
    assert client.descriptors.automations("temperature")
    with pytest.raises(ValidationError, match=r"26\.6\.0"):
        client.historical.media()


def test_blocking_logs_datasets_series(client: Pioreactor, tmp_path: Path) -> None:
    client.logs.post("from a script", experiment="bexp", unit="pio1")
    entries: list[LogEntry] = []
    for _ in range(100):
        entries = client.logs.list(experiment="bexp")
        if entries:
            break
        time.sleep(0.02)  # the leader stores a posted log within a moment
    assert [e.message for e in entries] == ["from a script"]
    assert client.logs.recent("bexp", lines=1)[0].message == "from a script"
    datasets = client.datasets.list()
    assert all(isinstance(d, ExportableDataset) for d in datasets)
    result = client.datasets.export(["logs"], experiment="bexp")
    assert isinstance(result, ExportResult)
    saved = client.datasets.download(result.filename, tmp_path)
    assert zipfile.is_zipfile(saved)
    with pytest.raises(NotFoundError):
        client.datasets.download("export_missing.zip", tmp_path)
    series = client.time_series.growth_rates("bexp", lookback=1)
    assert isinstance(series, TimeSeries) and series.series == []


def test_blocking_plugins_and_units(client: Pioreactor) -> None:
    assert client.plugins.install("tether-probe", unit="pio2").ok
    assert client.plugins.installed("pio2")["pio2"].value
    assert client.plugins.uninstall("tether-probe", unit="pio2").ok
    assert client.units.reboot("pio2").ok
    model = client.units.model("pio1")
    assert isinstance(model, ModelInfo) and model.model_version == "1.5"
    assert zipfile.is_zipfile(io.BytesIO(client.units.zipped_dot_pioreactor("pio1")))
    assert isinstance(client.units.system_logs("pio1"), list)
