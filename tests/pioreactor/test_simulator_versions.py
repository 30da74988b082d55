"""Task polling and fan-out results per version, and the older contracts' routes and errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tether.testing.pioreactor import Contract, Simulator

from .conftest import FAST, call, poll, run_task


@pytest.fixture
async def seed_http() -> AsyncIterator[tuple[Simulator, aiohttp.ClientSession]]:
    """A 26.2.23 (seed document) leader."""
    simulator = Simulator(version="26.2.23", units=("pio1", "pio2"), **FAST)
    async with simulator as sim, aiohttp.ClientSession(sim.url) as session:
        yield sim, session


@pytest.fixture
async def old_http() -> AsyncIterator[tuple[Simulator, aiohttp.ClientSession]]:
    """A 25.11.19 leader."""
    simulator = Simulator(version="25.11.19", units=("pio1", "pio2"), **FAST)
    async with simulator as sim, aiohttp.ClientSession(sim.url) as session:
        yield sim, session


# -- 26.11.1 ------------------------------------------------------------------------------------


async def test_task_lifecycle_current(http: aiohttp.ClientSession, sim: Simulator) -> None:
    sim.cluster.tasks.latency = 0.5
    status, accepted = await call(http, "GET", "/api/units/pio1/versions/app")
    assert status == 202
    assert set(accepted) == {"unit", "task_id", "result_url_path", "status"}
    assert accepted["status"] == "accepted" and accepted["unit"] == "pio1"
    assert accepted["result_url_path"] == f"/unit_api/task_results/{accepted['task_id']}"
    status, pending = await call(http, "GET", accepted["result_url_path"])
    assert (status, pending["status"]) == (202, "pending")
    status, done = await poll(http, accepted["result_url_path"])
    assert (status, done["status"]) == (200, "succeeded")
    assert (await call(http, "GET", accepted["result_url_path"]))[1] == done  # preserved
    status, unknown = await call(http, "GET", "/unit_api/task_results/not-a-task")
    assert (status, unknown) == (
        202,
        {
            "task_id": "not-a-task",
            "result_url_path": "/unit_api/task_results/not-a-task",
            "status": "pending",
        },
    )


async def test_failed_task_current(http: aiohttp.ClientSession) -> None:
    status, failed = await run_task(http, "POST", "/api/system/update_next_version")
    assert status == 200
    assert set(failed) == {"task_id", "result_url_path", "status", "error", "cause", "remediation"}
    assert failed["status"] == "failed" and failed["cause"] == "Huey task failed with an exception."
    assert (await call(http, "GET", failed["result_url_path"]))[1] == failed


async def test_run_job_envelopes(http: aiohttp.ClientSession, sim: Simulator) -> None:
    await sim.create_experiment("exp1", assign=["pio1", "pio2", "pio3"])
    sim.set_reachable("pio3", False)
    started = time.monotonic()
    _, result = await run_task(
        http, "POST", "/api/units/$broadcast/jobs/run/job_name/stirring/experiments/exp1", {}
    )
    assert time.monotonic() - started >= FAST["startup_grace"]
    per_unit = result["result"]
    assert per_unit["pio1"] == {"ok": True, "unit": "pio1", "value": {"ok": True}}
    assert per_unit["pio3"]["error"] == {
        "kind": "connection_error",
        "message": "Could not POST to pio3's /unit_api/jobs/run/job_name/stirring.",
    }
    await asyncio.sleep(1.0)  # past the 1 s debounce
    _, again = await run_task(
        http, "POST", "/api/units/pio1/jobs/run/job_name/stirring/experiments/exp1", {}
    )
    present = again["result"]["pio1"]
    assert (
        present["ok"] is False and present["status_code"] == 200 and present["retryable"] is False
    )
    assert present["error"]["kind"] == "task_failed"
    assert present["error"]["message"].startswith(
        "Command exited during startup grace window. Exit code 1. "
        "pioreactor.exc.JobPresentError: stirring is already running"
    )
    _, unknown = await run_task(
        http, "POST", "/api/units/pio1/jobs/run/job_name/nojob/experiments/exp1", {}
    )
    assert unknown["result"]["pio1"]["error"]["message"] == (
        "Command exited during startup grace window. Exit code 2. Error: No such command 'nojob'."
    )
    _, bad_option = await run_task(
        http,
        "POST",
        "/api/units/pio2/jobs/run/job_name/od_reading/experiments/exp1",
        {"options": {"nope": 1}},
    )
    assert "No such option: --nope" in bad_option["result"]["pio2"]["error"]["message"]


async def test_run_twice_within_a_second_is_429(
    http: aiohttp.ClientSession, sim: Simulator
) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    path = "/api/units/pio1/jobs/run/job_name/od_reading/experiments/exp1"
    first = (await call(http, "POST", path, {}))[1]
    second = (await call(http, "POST", path, {}))[1]
    ok = (await poll(http, first["result_url_path"]))[1]["result"]["pio1"]
    limited = (await poll(http, second["result_url_path"]))[1]["result"]["pio1"]
    assert ok["ok"] is True
    assert limited == {
        "ok": False,
        "unit": "pio1",
        "error": {
            "kind": "http_error",
            "message": "Too many requests, please try again later.",
            "cause": "Too many requests, please try again later.",
        },
        "status_code": 429,
        "retryable": False,
    }
    status, body = await call(http, "POST", "/unit_api/jobs/run/job_name/led_intensity", {})
    assert status == 202
    status, body = await call(http, "POST", "/unit_api/jobs/run/job_name/led_intensity", {})
    assert (status, body["error"]) == (429, "Too many requests, please try again later.")


async def test_run_requires_assignment(http: aiohttp.ClientSession, sim: Simulator) -> None:
    status, body = await call(
        http, "POST", "/api/units/pio1/jobs/run/job_name/stirring/experiments/other", {}
    )
    assert (status, body["error"]) == (
        404,
        "Worker(s) pio1 not found, not active, or not assigned to experiment other.",
    )
    status, body = await call(
        http, "POST", "/api/units/pio1/jobs/run/job_name/stirring/experiments/other", {"foo": 1}
    )
    assert (status, body["cause"]) == (400, "Object contains unknown field `foo`")
    status, body = await call(
        http, "POST", "/api/units/pio1/jobs/run/job_name/stirring/experiments/other"
    )
    assert body["cause"] == "Input data was truncated"
    _, result = await run_task(
        http, "POST", "/api/units/pio2/jobs/run/job_name/stirring/experiments/$experiment", {}
    )
    assert result["result"]["pio2"]["ok"] is True
    status, body = await call(
        http, "POST", "/api/units/nobody/jobs/stop/job_name/stirring/experiments/e"
    )
    assert (status, body["error"]) == (400, "Unknown Pioreactor unit: nobody")


async def test_unit_api_jobs(http: aiohttp.ClientSession, sim: Simulator) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    _, result = await run_task(
        http, "POST", "/unit_api/jobs/run/job_name/stirring", {"env": {"EXPERIMENT": "exp1"}}
    )
    assert result["result"] == {"ok": True}
    status, settings = await call(http, "GET", "/unit_api/jobs/settings/job_name/stirring")
    assert status == 200 and settings["settings"]["$state"] == "ready"
    status, one = await call(
        http, "GET", "/unit_api/jobs/settings/job_name/stirring/setting/target_rpm"
    )
    assert one == {"target_rpm": 500.0}
    status, body = await call(http, "GET", "/unit_api/jobs/settings/job_name/stirring/setting/nope")
    assert (status, body["error"]) == (404, "Setting not found.")
    assert [
        r["job_name"] for r in (await call(http, "GET", "/unit_api/jobs/running/stirring"))[1]
    ] == ["stirring"]
    assert (await call(http, "GET", "/unit_api/long_running_jobs/running"))[1][0][
        "job_name"
    ] == "mqtt_to_db_streaming"
    status, body = await call(http, "POST", "/unit_api/jobs/stop", {})
    assert (status, body["error"]) == (400, "No job filter specified")
    _, stopped = await run_task(http, "POST", "/unit_api/jobs/stop", {"job_name": "stirring"})
    assert stopped["result"] is True
    jobs = (await call(http, "GET", "/unit_api/jobs"))[1]
    assert jobs[0]["job_name"] == "stirring" and jobs[0]["ended_at"] is not None


# -- 26.2.23 (the seed document) ----------------------------------------------------------------


async def test_seed_contract(seed_http: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, http = seed_http
    status, accepted = await call(http, "GET", "/api/units/pio1/versions/app")
    assert status == 202 and set(accepted) == {"unit", "task_id", "result_url_path"}
    path = accepted["result_url_path"]
    status, done = await poll(http, path)
    assert (status, done["status"]) == (200, "complete")
    assert done["result"] == {"pio1": {"version": "26.2.23"}}  # raw per-unit values
    assert (await call(http, "GET", path))[1]["status"] == "pending or not present"  # consumed
    status, failed = await run_task(http, "POST", "/api/system/update_next_version")
    assert status == 500
    assert failed["status"] == "failed" and failed["error_info"] == {
        "cause": "Huey task failed with an exception.",
        "remediation": "Check logs and retry.",
        "status": 500,
    }
    status, body = await call(http, "GET", "/api/experiments/nope")
    assert body == {
        "error": "Experiment nope not found",
        "error_info": {
            "cause": "Experiment nope not found",
            "remediation": "Confirm the resource exists and the URL is correct.",
            "status": 404,
        },
    }
    status, body = await call(
        http, "POST", "/api/experiments", {"experiment": "e1", "mediaUsed": "LB", "ignored": 1}
    )
    assert (status, body) == (201, {"status": "success"})
    listed = (await call(http, "GET", "/api/experiments"))[1]
    assert set(listed[0]) == {"experiment", "created_at", "description", "delta_hours"}
    assert (await call(http, "GET", "/api/historical_media"))[1] == [{"key": "LB", "value": "LB"}]
    status, body = await call(http, "DELETE", "/api/experiments/e1")
    assert (status, body) == (200, {"status": "success"})
    status, files = await call(http, "GET", "/api/config/files")
    assert status == 200 and "config.ini" in files
    assert (await call(http, "GET", "/api/config/shared"))[0] == 404
    await sim.create_experiment("exp1", assign=["pio1", "pio2"])
    sim.set_reachable("pio2", False)
    _, run = await run_task(
        http, "POST", "/api/units/$broadcast/jobs/run/job_name/stirring/experiments/exp1", {}
    )
    assert run["result"] == {"pio1": True, "pio2": None}
    status, body = await call(
        http, "POST", "/api/units/pio1/jobs/stop/job_name/stirring/experiments/exp1"
    )
    assert (status, body) == (202, {"status": "success"})
    status, body = await call(
        http,
        "PATCH",
        "/api/units/pio1/jobs/update/job_name/stirring/experiments/exp1",
        {"settings": {"target_rpm": 1}},
    )
    assert (status, body) == (202, {"status": "success"})
    status, exported = await call(
        http,
        "POST",
        "/api/datasets/exportable/export",
        {
            "datasets": ["logs"],
            "experiments": ["<All experiments>"],
            "partition_by_unit": False,
            "partition_by_experiment": False,
        },
    )
    assert (
        status == 200 and exported["result"] is True and exported["filename"].startswith("export_")
    )


# -- 25.11.19 ------------------------------------------------------------------------------------


async def test_old_contract(old_http: tuple[Simulator, aiohttp.ClientSession]) -> None:
    _, http = old_http
    status, body = await call(http, "GET", "/api/experiments/nope")
    assert (status, body) == (404, {"error": "Experiment nope not found"})
    await call(http, "POST", "/api/experiments", {"experiment": "e1"})
    status, body = await call(http, "POST", "/api/experiments", {"experiment": "e1"})
    assert (status, body) == (409, {"status": "error"})
    status, failed = await run_task(http, "POST", "/api/system/update_next_version")
    assert status == 500 and set(failed) == {"task_id", "result_url_path", "status", "error"}
    assert (await call(http, "GET", failed["result_url_path"]))[1][
        "status"
    ] == "pending or not present"
    for path in (
        "/api/contrib/jobs",
        "/api/contrib/charts",
        "/api/contrib/automations/led",
        "/api/contrib/exportable_datasets",
        "/api/contrib/experiment_profiles",
        "/api/configs",
        "/api/is_local_access_point_active",
    ):
        assert (await call(http, "GET", path))[0] == 200, path
    for path in (
        "/api/jobs/descriptors",
        "/api/config/files",
        "/api/workers/pio1/estimators",
        "/api/experiments/e1/time_series/od_readings_fused",
    ):
        assert (await call(http, "GET", path))[0] == 404, path
    status, body = await call(
        http,
        "PATCH",
        "/api/contrib/experiment_profiles",
        {"filename": "x.yaml", "body": 'version: "1.0"\nexperiment_profile_name: x\n'},
    )
    assert (status, body) == (200, {"status": "success"})
    status, merged = await call(http, "GET", "/api/units/pio1/configuration")
    assert "cluster.topology" in merged["pio1"]
    assert (await call(http, "POST", "/api/units/pio1/jobs/stop/experiments/e1"))[0] == 404
    assert (await call(http, "POST", "/api/workers/pio1/jobs/stop/experiments/e1"))[0] == 202


def test_contract_table() -> None:
    assert Contract.for_version("26.5.3").accepted_status
    assert not Contract.for_version("26.5.2").envelopes
    assert Contract.for_version("26.4.3").consume_on_read is False
    assert Contract.for_version("26.4.2").consume_on_read is True
    assert Contract.for_version("26.3.1").failed_poll == "flat500"
    assert Contract.for_version("26.4.4").poll_done == "succeeded"
    with pytest.raises(ValueError, match=r"25\.11\.19 to 26\.11\.1"):
        Contract.for_version("27.1.0")
    with pytest.raises(ValueError, match=r"YY\.M\.D"):
        Contract.for_version("latest")
