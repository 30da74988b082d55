"""The simulated 26.11.1 leader over raw HTTP: every route group, errors and headers."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import aiohttp
import pytest

from tether.testing.pioreactor import Simulator

from .conftest import call, poll, run_task

CAL_YAML = """\
calibration_type: simple_stirring
calibration_name: probe-stir
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

PROFILE = """\
version: "1.0"
experiment_profile_name: demo
metadata:
  author: me
common:
  jobs:
    stirring:
      actions:
        - type: start
          t: 0
"""


async def test_health_and_version_headers(http: aiohttp.ClientSession) -> None:
    async with http.get("/unit_api/health") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "public, max-age=0"
        body = await response.json()
    assert body["status"] == "ok" and body["pioreactor_unit"] == "pio1"
    assert body["utc_time"].endswith("Z")
    async with http.get("/unit_api/versions/app") as response:
        assert response.headers["Cache-Control"] == "public, max-age=30"
        assert await response.json() == {"version": "26.11.1"}


async def test_requests_are_recorded(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await call(http, "GET", "/api/experiments?x=1")
    await call(http, "GET", "/api/nope")
    assert [(r.method, r.path, r.status) for r in sim.requests] == [
        ("GET", "/api/experiments?x=1", 200),
        ("GET", "/api/nope", 404),
    ]
    assert sim.leader is sim.cluster


async def test_info_and_repr(sim: Simulator) -> None:
    info = sim.info()
    assert info["URL"] == sim.url and info["PIO_VERSION"] == "26.11.1"
    host, port = info["MQTT"].rsplit(":", 1)
    assert host == sim.mqtt_host and int(port) == sim.mqtt_port > 0
    assert "26.11.1" in repr(sim) and sim.leader_unit == "pio1"
    assert sim.units == ["pio1", "pio2", "pio3"]


async def test_experiment_crud(http: aiohttp.ClientSession) -> None:
    status, created = await call(
        http,
        "POST",
        "/api/experiments",
        {"experiment": "exp1", "description": "d", "tags": ["a", "b", "A"]},
    )
    assert status == 201
    assert set(created) == {
        "experiment",
        "created_at",
        "description",
        "delta_hours",
        "worker_count",
        "tags",
    }
    assert created["tags"] == ["a", "b"] and created["worker_count"] == 0
    await call(http, "POST", "/api/experiments", {"experiment": "exp2"})
    async with http.get("/api/experiments") as response:
        assert response.headers["Cache-Control"] == "public, max-age=5"
        assert response.headers["Vary"] == "Origin"
        listed = await response.json()
    assert [e["experiment"] for e in listed] == ["exp2", "exp1"]
    assert (await call(http, "GET", "/api/experiments/latest"))[1]["experiment"] == "exp2"
    status, patched = await call(http, "PATCH", "/api/experiments/exp1", {"description": "new"})
    assert status == 200 and patched["description"] == "new" and patched["tags"] == ["a", "b"]
    status, body = await call(http, "PATCH", "/api/experiments/exp1", {})
    assert status == 400 and body["error"] == "Missing description or tags"
    status, body = await call(http, "GET", "/api/experiments/nope")
    assert (status, body) == (
        404,
        {"error": "Experiment nope not found", "status": 404, "cause": "Experiment nope not found"},
    )
    status, body = await call(http, "DELETE", "/api/experiments/nope")
    assert status == 404 and body["cause"] == "Experiment name not found in database."
    status, result = await run_task(http, "DELETE", "/api/experiments/exp2")
    assert status == 200 and result["result"]["result"] is True
    assert result["result"]["msg"] == "Deleted experiment"
    assert set(result["result"]["database_space"]) >= {"page_size", "page_count"}
    assert (await call(http, "GET", "/api/experiments/exp2"))[0] == 404


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("bad#name", "Experiment name cannot contain special characters (#, $, %, +, /, ?, \\)"),
        ("_testing_x", "Experiment name cannot start with '_testing'"),
        ("current", "Experiment name cannot be 'current'"),
        ("", "Experiment name is required"),
        ("a" * 200, "Experiment name is too long"),
    ],
)
async def test_experiment_name_rules(http: aiohttp.ClientSession, name: str, error: str) -> None:
    status, body = await call(http, "POST", "/api/experiments", {"experiment": name})
    assert status == 400 and body["error"] == error and body["status"] == 400
    assert "remediation" in body


async def test_strict_bodies(http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http, "POST", "/api/experiments", {"experiment": "x", "mediaUsed": "m"}
    )
    assert status == 400
    assert body == {
        "error": "Invalid request body.",
        "status": 400,
        "cause": "Object contains unknown field `mediaUsed`",
        "remediation": "Send a JSON object with the required fields: experiment.",
    }
    status, body = await call(http, "POST", "/api/experiments", {})
    assert body["cause"] == "Object missing required field `experiment`"
    status, body = await call(http, "POST", "/api/experiments", [])
    assert body["cause"] == "Expected `object`, got `array`"
    status, body = await call(http, "POST", "/api/experiments", {"experiment": 5})
    assert body["cause"] == "Expected `str`, got `int` - at `$.experiment`"
    async with http.post("/api/experiments", data={"experiment": "x"}) as response:
        assert response.status == 400
        assert (await response.json())["cause"] == "Input data was truncated"
    async with http.post(
        "/api/experiments",
        data=b'{"experiment":"octet"}',
        headers={"Content-Type": "application/octet-stream"},
    ) as response:
        assert response.status == 201
    async with http.post(
        "/api/experiments", data=b"{bad", headers={"Content-Type": "application/json"}
    ) as response:
        assert (await response.json())["cause"].startswith("JSON is malformed")


async def test_duplicate_experiment_409(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", "/api/experiments", {"experiment": "dup"})
    status, body = await call(http, "POST", "/api/experiments", {"experiment": "dup"})
    assert status == 409 and body["error"] == "Experiment already exists"
    assert body["remediation"] == "Choose a different experiment name and retry."


async def test_origin_rule(http: aiohttp.ClientSession, sim: Simulator) -> None:
    status, body = await call(
        http,
        "POST",
        "/api/experiments",
        {"experiment": "o1"},
        headers={"Origin": "http://evil.example"},
    )
    assert (
        status == 403
        and body["cause"] == "Requests from http://evil.example can't change this cluster."
    )
    async with http.post(
        "/api/experiments", json={"experiment": "o2"}, headers={"Origin": "http://localhost:3000"}
    ) as response:
        assert response.status == 201
        assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert response.headers["Access-Control-Max-Age"] == "600"
    status, _ = await call(
        http,
        "POST",
        "/api/experiments",
        {"experiment": "o3"},
        headers={"Origin": "http://pio2.local"},
    )
    assert status == 201
    status, _ = await call(
        http, "POST", "/api/experiments", {"experiment": "o4"}, headers={"Origin": sim.url}
    )
    assert status == 201
    status, _ = await call(
        http, "GET", "/api/experiments/o2", headers={"Origin": "http://evil.example"}
    )
    assert status == 200
    status, body = await call(http, "POST", "/unit_api/jobs/stop", {}, headers={"Origin": "null"})
    assert status == 403 and body["cause"] == "Requests from null can't change this cluster."


async def test_preflight_and_head(http: aiohttp.ClientSession) -> None:
    async with http.options(
        "/api/experiments", headers={"Origin": "http://localhost:3000"}
    ) as response:
        assert response.status == 200 and await response.text() == ""
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
        assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    async with http.head("/api/experiments") as response:
        assert response.status == 200 and await response.read() == b""
    async with http.options("/api/nope") as response:
        assert response.status == 404


async def test_unknown_route_and_method(http: aiohttp.ClientSession) -> None:
    status, body = await call(http, "GET", "/api/nope")
    assert status == 404 and body["error"].startswith("The requested URL was not found")
    status, body = await call(http, "DELETE", "/api/experiments")
    assert status == 405 and body["error"] == "The method is not allowed for the requested URL."
    status, _ = await call(http, "GET", "/api/historical_media")
    assert status == 404


async def test_workers_and_assignments(http: aiohttp.ClientSession, sim: Simulator) -> None:
    status, workers = await call(http, "GET", "/api/workers")
    assert [w["pioreactor_unit"] for w in workers] == ["pio1", "pio2", "pio3"]
    assert workers[0]["ipv4_address"] == "127.0.0.1"
    status, worker = await call(http, "GET", "/api/workers/pio1")
    assert status == 200 and "ipv4_address" not in worker
    assert (await call(http, "GET", "/api/workers/nobody"))[1]["error"] == "Worker not found"
    assert (await call(http, "PUT", "/api/workers", {"pioreactor_unit": "pio1"}))[0] == 200
    assert (await call(http, "PUT", "/api/workers", {"pioreactor_unit": "pio_x"}))[0] == 201
    for bad in ("localhost", "10.0.0.1", "pio-x.local", "$broadcast"):
        status, body = await call(http, "PUT", "/api/workers", {"pioreactor_unit": bad})
        assert status == 400 and body["error"] == "Invalid worker name"
    assert (await call(http, "GET", "/api/units"))[1][-1] == {"pioreactor_unit": "pio_x"}
    await call(http, "POST", "/api/experiments", {"experiment": "exp1"})
    status, body = await call(
        http, "PUT", "/api/experiments/nope/workers", {"pioreactor_unit": "pio1"}
    )
    assert status == 500 and body["error"] == "Failed to add to database."
    status, body = await call(
        http, "PUT", "/api/experiments/exp1/workers", {"pioreactor_unit": "nobody"}
    )
    assert status == 400 and body["error"] == "Unknown Pioreactor worker: nobody"
    assert (await call(http, "PUT", "/api/experiments/exp1/workers", {"pioreactor_unit": "pio1"}))[
        0
    ] == 200
    status, rows = await call(http, "GET", "/api/experiments/exp1/workers")
    assert rows == [
        {
            "pioreactor_unit": "pio1",
            "is_active": 1,
            "model_name": "pioreactor_40ml",
            "model_version": "1.5",
        }
    ]
    status, assigned = await call(http, "GET", "/api/workers/pio1/experiment")
    assert assigned["experiment"] == "exp1"
    assert (await call(http, "GET", "/api/experiments/active"))[1][0]["worker_count"] == 1
    assert (await call(http, "GET", "/api/experiments/assignment_count"))[1] == [
        {"experiment": "exp1", "worker_count": 1}
    ]
    status, history = await call(http, "GET", "/api/experiments/exp1/historical_worker_assignments")
    assert history == [
        {"pioreactor_unit": "pio1", "experiment": "exp1", "is_currently_assigned_to_experiment": 1}
    ]
    assert (await call(http, "DELETE", "/api/experiments/exp1/workers/pio1"))[0] == 200
    status, body = await call(http, "DELETE", "/api/experiments/exp1/workers/pio1")
    assert status == 404 and body["error"] == "Worker pio1 not found"
    status, body = await call(http, "GET", "/api/workers/pio1/experiment")
    assert status == 404 and body["error"] == "Worker `pio1` is not assigned to any experiment."
    await call(http, "PUT", "/api/experiments/exp1/workers", {"pioreactor_unit": "pio2"})
    status, result = await run_task(http, "DELETE", "/api/experiments/exp1/workers")
    per_unit = result["result"]
    assert per_unit["pio2"] == {"ok": True, "unit": "pio2", "value": True}
    assert per_unit["pio_x"]["error"]["kind"] == "connection_error"
    assert (await call(http, "PUT", "/api/workers/pio3/is_active", {"is_active": 0}))[0] == 200
    status, body = await call(http, "PUT", "/api/workers/pio3/is_active", {"is_active": 2})
    assert status == 400 and body["error"] == "Invalid status. Status must be integer 0 or 1."
    status, body = await call(http, "DELETE", "/api/workers/pio_x")
    assert (status, body) == (202, {"status": "success"})
    assert (await call(http, "DELETE", "/api/workers/pio_x"))[0] == 404
    status, model = await call(http, "GET", "/api/workers/pio1/model")
    assert model["reactor_max_fill_volume_ml"] == 33.0


async def test_labels_and_chart_preferences(http: aiohttp.ClientSession) -> None:
    await call(http, "POST", "/api/experiments", {"experiment": "exp1"})
    assert (
        await call(
            http, "PUT", "/api/experiments/exp1/unit_labels", {"unit": "pio1", "label": "R1"}
        )
    )[0] == 201
    assert (await call(http, "GET", "/api/experiments/exp1/unit_labels"))[1] == {"pio1": "R1"}
    status, body = await call(http, "GET", "/api/experiments/exp1/chart_preferences")
    assert body == {"overview_chart_keys": None, "pioreactor_chart_keys": None}
    status, body = await call(
        http, "PATCH", "/api/experiments/exp1/chart_preferences", {"overview_chart_keys": ["nope"]}
    )
    assert status == 400 and body["cause"] == "Unknown chart keys: nope."
    status, body = await call(
        http,
        "PATCH",
        "/api/experiments/exp1/chart_preferences",
        {"overview_chart_keys": ["temperature"]},
    )
    assert body == {"overview_chart_keys": ["temperature"], "pioreactor_chart_keys": None}
    assert (await call(http, "GET", "/api/experiments/nope/chart_preferences"))[0] == 404


async def test_fanout_versions_capabilities_plugins_clock(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    sim.set_reachable("pio3", False)
    _, result = await run_task(http, "GET", "/api/units/$broadcast/versions/app")
    assert result["result"]["pio1"] == {"ok": True, "unit": "pio1", "value": {"version": "26.11.1"}}
    assert result["result"]["pio3"] == {
        "ok": False,
        "unit": "pio3",
        "error": {
            "kind": "connection_error",
            "message": "Could not GET from pio3's /unit_api/versions/app.",
        },
        "status_code": None,
        "retryable": True,
    }
    _, result = await run_task(http, "GET", "/api/workers/pio2/capabilities")
    names = {entry["job_name"] for entry in result["result"]["pio2"]["value"]}
    assert {"stirring", "od_reading", "growth_rate_calculating"} <= names
    _, result = await run_task(http, "GET", "/api/units/pio1/system/utc_clock")
    assert set(result["result"]["pio1"]["value"]) == {"clock_time", "synchronized"}
    _, result = await run_task(
        http, "POST", "/api/units/pio1/plugins/install", {"args": ["my-plugin"]}
    )
    assert result["result"]["pio1"]["ok"] is True
    _, result = await run_task(http, "GET", "/api/units/pio1/plugins/installed")
    assert [p["name"] for p in result["result"]["pio1"]["value"]] == ["my-plugin"]
    _, result = await run_task(http, "POST", "/api/units/pio2/system/reboot")
    assert result["result"]["pio2"]["value"] is True
    status, body = await call(http, "GET", "/api/units/nobody/versions/app")
    assert status == 400 and body["error"] == "Unknown Pioreactor unit: nobody"


async def test_http_error_fault(http: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.fail_unit("pio2", 503, "Unit is rebooting.", remediation="Wait.")
    _, result = await run_task(http, "GET", "/api/units/pio2/versions/app")
    assert result["result"]["pio2"] == {
        "ok": False,
        "unit": "pio2",
        "error": {
            "kind": "http_error",
            "message": "Unit is rebooting.",
            "cause": "Unit is rebooting.",
            "remediation": "Wait.",
        },
        "status_code": 503,
        "retryable": True,
    }
    sim.clear_faults()
    _, result = await run_task(http, "GET", "/api/units/pio2/versions/app")
    assert result["result"]["pio2"]["ok"] is True


async def test_calibrations(http: aiohttp.ClientSession) -> None:
    _, result = await run_task(
        http,
        "POST",
        "/api/workers/pio1/calibrations/stirring",
        {"calibration_data": CAL_YAML, "set_as_active": True},
    )
    value = result["result"]["pio1"]["value"]
    assert value["msg"] == "Calibration created successfully." and value["path"].endswith(
        "probe-stir.yaml"
    )
    _, result = await run_task(http, "GET", "/api/workers/pio1/calibrations")
    stirring = result["result"]["pio1"]["value"]["stirring"][0]
    assert stirring["created_at"] == "2026-11-22T00:00:00Z" and stirring["is_active"] is True
    assert stirring["pioreactor_unit"] == "pio1" and stirring["curve_data_"]["coefficients"] == [
        10.0,
        50.0,
    ]
    _, result = await run_task(http, "GET", "/api/workers/pio1/active_calibrations")
    assert result["result"]["pio1"]["value"]["stirring"]["calibration_name"] == "probe-stir"
    _, result = await run_task(http, "GET", "/api/workers/pio1/calibrations/nodevice")
    error = result["result"]["pio1"]
    assert (
        error["error"]["message"] == "Calibration directory does not exist."
        and error["status_code"] == 404
    )
    _, result = await run_task(
        http, "POST", "/api/workers/pio1/calibrations/nodevice", {"calibration_data": CAL_YAML}
    )
    assert (
        result["result"]["pio1"]["status_code"] == 500
        and result["result"]["pio1"]["retryable"] is True
    )
    _, result = await run_task(http, "PATCH", "/api/workers/pio1/active_calibrations/stirring/nope")
    assert (
        result["result"]["pio1"]["error"]["message"]
        == "Calibration 'nope' not found for device 'stirring'."
    )
    _, result = await run_task(http, "DELETE", "/api/workers/pio1/active_calibrations/stirring")
    assert result["result"]["pio1"]["value"] == {}
    _, result = await run_task(http, "DELETE", "/api/workers/pio1/calibrations/stirring/probe-stir")
    assert "deleted successfully" in result["result"]["pio1"]["value"]["msg"]
    status, body = await call(
        http, "POST", "/api/workers/pio1/calibrations/stirring", {"calibration_data": "foo: 1"}
    )
    assert status == 400
    assert body["error"].endswith("Object missing required field `calibration_type`")
    assert body["cause"] == "Calibration YAML failed schema validation."
    status, body = await call(http, "GET", "/api/workers/nobody/calibrations")
    assert status == 400 and body["error"] == "Unknown Pioreactor worker: nobody"
    _, result = await run_task(http, "GET", "/api/workers/pio1/calibration_protocols")
    assert any(p["target_device"] == "stirring" for p in result["result"]["pio1"]["value"])
    _, result = await run_task(http, "GET", "/api/workers/pio1/estimators/od/x")
    assert (
        result["result"]["pio1"]["error"]["message"] == "Estimator 'x' not found for device 'od'."
    )
    async with http.get("/unit_api/calibrations") as response:
        assert response.headers["Cache-Control"] == "public, max-age=10"


async def test_calibration_session(http: aiohttp.ClientSession) -> None:
    status, started = await call(
        http,
        "POST",
        "/api/workers/pio1/calibrations/sessions",
        {"target_device": "stirring", "protocol_name": "dc_based"},
    )
    assert status == 201 and started["session"]["status"] == "in_progress"
    session_id = started["session"]["session_id"]
    path = f"/api/workers/pio1/calibrations/sessions/{session_id}"
    _, advanced = await run_task(http, "POST", path + "/inputs", {"inputs": {}})
    assert advanced["result"]["step"]["step_id"] == "run_calibration"
    status, aborted = await call(http, "POST", path + "/abort")
    assert (
        aborted["session"]["status"] == "aborted" and aborted["step"]["title"] == "Protocol ended"
    )
    assert (await call(http, "GET", "/api/workers/pio1/calibrations/sessions/nope"))[0] == 404
    status, body = await call(
        http,
        "POST",
        "/api/workers/pio1/calibrations/sessions",
        {"target_device": "stirring", "protocol_name": "nope"},
    )
    assert status == 400 and "Unknown protocol 'nope'" in body["error"]


async def test_profiles(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/experiment_profiles") as response:
        assert response.headers["Cache-Control"] == "public, max-age=5"
        listed = await response.json()
    assert {p["file"] for p in listed} == {
        "demo_stirring_example.yaml",
        "demo_logging_example.yaml",
    }
    demo = next(p for p in listed if p["file"] == "demo_stirring_example.yaml")["experimentProfile"]
    assert set(demo) == {
        "version",
        "experiment_profile_name",
        "metadata",
        "plugins",
        "common",
        "pioreactors",
        "inputs",
    }
    first = demo["common"]["jobs"]["stirring"]["actions"][0]
    assert first == {
        "type": "start",
        "hours_elapsed": None,
        "t": "0s",
        "if": True,
        "options": {"target_rpm": 400.0},
        "args": [],
        "config_overrides": {},
    }
    assert (
        await call(
            http, "POST", "/api/experiment_profiles", {"filename": "../t1.yaml", "body": PROFILE}
        )
    )[1] == {"status": "success"}
    status, body = await call(
        http, "POST", "/api/experiment_profiles", {"filename": "t1.yaml", "body": PROFILE}
    )
    assert (
        status == 400
        and body["error"] == "A profile already exists with that filename. Choose another."
    )
    status, body = await call(
        http,
        "POST",
        "/api/experiment_profiles",
        {"filename": "t2.yaml", "body": "version: 1.0\nexperiment_profile_name: x\n"},
    )
    assert body["error"] == "Validation error. Expected `str`, got `float` - at `$.version`"
    status, body = await call(
        http,
        "POST",
        "/api/experiment_profiles",
        {"filename": "t2.yaml", "body": "experiment_profile_name: x\n"},
    )
    assert body["error"] == "Validation error. Object missing required field `version`"
    status, body = await call(
        http, "POST", "/api/experiment_profiles", {"filename": "t2.txt", "body": PROFILE}
    )
    assert body["error"] == "Invalid filename"
    async with http.get("/api/experiment_profiles/t1.yaml") as response:
        assert response.content_type == "text/plain" and await response.text() == PROFILE
    status, body = await call(
        http, "PATCH", "/api/experiment_profiles/t1.yaml", {"body": "experiment_profile_name: x\n"}
    )
    assert body["error"] == "Validation error: Object missing required field `version`"
    assert (
        await call(
            http,
            "PATCH",
            "/api/experiment_profiles/t1.yaml",
            {"body": PROFILE.replace("demo", "demo2")},
        )
    )[0] == 200
    assert (await call(http, "DELETE", "/api/experiment_profiles/t1.yaml"))[0] == 200
    status, body = await call(http, "DELETE", "/api/experiment_profiles/t1.yaml")
    assert (status, body["error"]) == (404, "t1.yaml does not exist.")
    assert (await call(http, "GET", "/api/experiment_profiles/t1.yaml"))[0] == 404
    assert (await call(http, "GET", "/api/experiments/e/experiment_profiles/running"))[1] == []


async def test_config(http: aiohttp.ClientSession, sim: Simulator) -> None:
    async with http.get("/api/config/shared") as response:
        assert (
            response.content_type == "text/plain"
            and response.headers["Cache-Control"] == "public, max-age=10"
        )
        text = await response.text()
    assert "leader_hostname=pio1" in text and f"broker_port={sim.mqtt_port}" in text
    status, merged = await call(http, "GET", "/api/config/units/pio1")
    assert merged["configs"]["pio1"]["stirring.config"]["pwm_hz"] == "200"
    assert (await call(http, "PATCH", "/api/config/shared", {"code": text + "\n[extra]\nkey=1\n"}))[
        0
    ] == 200
    status, body = await call(http, "PATCH", "/api/config/shared", {"code": "[a]\nx=1\n[a]\ny=2\n"})
    assert status == 400 and body["error"].startswith("Duplicate section [a]")
    status, body = await call(http, "PATCH", "/api/config/shared", {"code": "[a]\nx=1\n"})
    assert status == 400 and body["error"].startswith("Missing required field(s)")
    history = (await call(http, "GET", "/api/config/shared/history"))[1]
    assert len(history) == 1 and set(history[0]) == {"filename", "timestamp", "data"}
    assert (
        await call(
            http,
            "PUT",
            "/api/config/units/pio2/specific",
            {"code": "[stirring.config]\npwm_hz=300\n"},
        )
    )[0] == 200
    status, merged = await call(http, "GET", "/api/config/units/pio2")
    assert merged["configs"]["pio2"]["stirring.config"]["pwm_hz"] == "300"
    async with http.get("/api/config/units/pio3/specific") as response:
        assert await response.text() == ""
    async with http.get("/api/config/zipped") as response:
        assert response.content_type == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(await response.read())).namelist()
    assert "config.ini" in names and "config_pio2.ini" in names


async def test_descriptors_and_misc(http: aiohttp.ClientSession) -> None:
    for path in (
        "/api/jobs/descriptors",
        "/api/charts/descriptors",
        "/api/automations/descriptors/dosing",
        "/api/settings/descriptors",
    ):
        async with http.get(path) as response:
            assert (
                response.status == 200 and response.headers["Cache-Control"] == "public, max-age=5"
            )
            assert isinstance(await response.json(), list)
    assert (await call(http, "GET", "/api/local_access_point"))[1] == {"active": False}
    models = (await call(http, "GET", "/api/models"))[1]["models"]
    assert {"model_name", "model_version", "reactor_max_fill_volume_ml"} <= set(models[0])
    assert (await call(http, "GET", "/api/experiments/e/media_rates"))[1] == {
        "all": {"altMediaRate": 0.0, "mediaRate": 0.0}
    }
    assert (await call(http, "GET", "/unit_api/jobs/running"))[1][0][
        "job_name"
    ] == "mqtt_to_db_streaming"


async def test_datasets_and_export(http: aiohttp.ClientSession, sim: Simulator) -> None:
    async with http.get("/api/datasets/exportable") as response:
        assert response.headers["Cache-Control"] == "public, max-age=60"
        datasets = await response.json()
    assert {"od_readings", "logs"} <= {d["dataset_name"] for d in datasets}
    await sim.create_experiment("exp1", assign=["pio1"])
    await sim.start_job("pio1", "od_reading", "exp1")
    await sim.wait_for(lambda: len(sim.cluster.series["od_readings"]) >= 3)
    status, preview = await call(
        http, "GET", "/api/datasets/exportable/od_readings/preview?n_rows=2"
    )
    assert len(preview) == 2 and set(preview[0]) == {
        "experiment",
        "pioreactor_unit",
        "timestamp",
        "od_reading",
        "angle",
        "channel",
    }
    status, body = await call(http, "GET", "/api/datasets/exportable/nope/preview")
    assert status == 404 and body["error"] == "nope not found"
    request = {
        "datasets": ["od_readings", "logs"],
        "experiment": "exp1",
        "partition_by_unit": False,
        "partition_by_experiment": True,
    }
    _, result = await run_task(http, "POST", "/api/datasets/exportable/export", request)
    assert result["status"] == "succeeded" and result["result"]["msg"] == "Finished"
    filename = result["result"]["filename"]
    assert filename.startswith("export_exp1_") and filename.endswith(".zip")
    async with http.get(f"/exports/{filename}") as response:
        archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    names = archive.namelist()
    assert "manifest.json" in names and "od_readings/schema.json" in names
    csv_name = next(n for n in names if n.startswith("od_readings/od_readings-exp1-all_units"))
    header = archive.read(csv_name).decode().splitlines()[0]
    assert header.startswith("experiment,pioreactor_unit,timestamp,od_reading")
    status, failed = await run_task(
        http, "POST", "/api/datasets/exportable/export", {**request, "datasets": []}
    )
    assert (
        failed["status"] == "failed"
        and failed["error"] == "At least one dataset name must be provided."
    )
    status, body = await call(
        http, "POST", "/api/datasets/exportable/export", {**request, "experiments": ["exp1"]}
    )
    assert status == 400 and body["cause"] == "Object contains unknown field `experiments`"
    status, body = await call(
        http,
        "POST",
        "/api/datasets/exportable/export",
        {**request, "start_time": "2026-11-22T00:00:00"},
    )
    assert body["cause"] == "Expected `datetime` with a timezone component - at `$.start_time`"
    status, body = await call(
        http,
        "POST",
        "/api/datasets/exportable/export",
        {**request, "start_time": "2026-11-24T00:00:00Z", "end_time": "2026-11-23T00:00:00Z"},
    )
    assert body["cause"] == "start_time must be earlier than or equal to end_time"


async def test_time_series_parameters(http: aiohttp.ClientSession) -> None:
    assert (await call(http, "GET", "/api/experiments/nope/time_series/od_readings"))[1] == {
        "series": [],
        "data": [],
    }
    status, body = await call(
        http, "GET", "/api/experiments/e/time_series/od_readings?lookback=abc"
    )
    assert status == 400 and body["cause"] == "lookback must be a number."
    status, body = await call(http, "GET", "/api/experiments/e/time_series/od_readings?lookback=-1")
    assert body["cause"] == "lookback must be at least 0."
    status, body = await call(
        http, "GET", "/api/experiments/e/time_series/od_readings?target_points=0"
    )
    assert body["error"] == "Invalid target_points"
    status, body = await call(http, "GET", "/api/experiments/e/time_series/nope/col")
    assert (status, body["error"]) == (400, "no such table: nope")


async def test_logs_post_and_query_validation(http: aiohttp.ClientSession, sim: Simulator) -> None:
    await sim.create_experiment("exp1", assign=["pio1", "pio2"])
    log = {
        "message": " hello ",
        "source": "tester",
        "level": "WARNING",
        "timestamp": "2026-11-30T19:00:01.123456Z",
    }
    status, body = await call(http, "POST", "/api/units/$broadcast/experiments/exp1/logs", log)
    assert (status, body) == (202, {"status": "accepted"})
    await sim.wait_for(lambda: sum(1 for r in sim.cluster.logs if r.message == "hello") == 2)
    status, rows = await call(http, "GET", "/api/experiments/exp1/logs?min_level=warning")
    hello = [r for r in rows if r["message"] == "hello"]
    assert {r["pioreactor_unit"] for r in hello} == {"pio1", "pio2"}
    assert hello[0]["timestamp"] == "2026-11-30T19:00:01.123Z" and hello[0]["task"] == ""
    status, body = await call(
        http,
        "POST",
        "/api/units/pio1/experiments/exp1/logs",
        {"message": "m", "source": "s", "level": "INFO"},
    )
    assert body["cause"] == "Object missing required field `timestamp`"
    status, body = await call(http, "GET", "/api/experiments/exp1/logs?min_level=bogus")
    assert status == 400 and body["error"] == "Invalid min_level query parameter"
    status, body = await call(http, "GET", "/api/logs?skip=-1")
    assert body["cause"] == "skip must be at least 0."
    status, body = await call(http, "GET", "/api/experiments/exp1/recent_logs?lines=0")
    assert body["cause"] == "lines must be at least 1."
    assert (await call(http, "GET", "/api/experiments/nope/logs"))[1] == []


async def test_worker_task_results_relay(http: aiohttp.ClientSession, sim: Simulator) -> None:
    status, accepted = await call(http, "GET", "/api/units/pio1/versions/app")
    await poll(http, accepted["result_url_path"])
    status, body = await call(http, "GET", f"/api/workers/pio1/task_results/{accepted['task_id']}")
    assert status == 200 and body["status"] == "succeeded"
    status, body = await call(http, "GET", "/api/workers/$broadcast/task_results/x")
    assert status == 400 and body["cause"] == "Task result routes require a single target unit."
    sim.set_reachable("pio2", False)
    status, body = await call(http, "GET", "/api/workers/pio2/task_results/x")
    assert status == 502 and body["error"] == "Fetching task result failed on pio2."


async def test_zips(http: aiohttp.ClientSession) -> None:
    for path in (
        "/api/units/pio1/zipped_dot_pioreactor",
        "/api/workers/pio1/zipped_calibrations",
        "/unit_api/zipped_calibrations",
    ):
        async with http.get(path) as response:
            assert response.status == 200 and response.content_type == "application/zip"
            zipfile.ZipFile(io.BytesIO(await response.read())).testzip()


def _keys(value: Any) -> set[str]:
    return set(value) if isinstance(value, dict) else set()
