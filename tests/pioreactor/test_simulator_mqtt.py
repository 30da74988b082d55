"""The simulated jobs on MQTT: lifecycle, settings, /set, $broadcast, logs, data into the API."""

from __future__ import annotations

import itertools
import json

import aiohttp
import aiomqtt
import pytest

from tether.testing.pioreactor import Simulator

from .conftest import FAST, call, recording, run_task


async def _start(
    http: aiohttp.ClientSession,
    unit: str,
    job: str,
    exp: str,
    options: dict[str, object] | None = None,
) -> None:
    status, result = await run_task(
        http,
        "POST",
        f"/api/units/{unit}/jobs/run/job_name/{job}/experiments/{exp}",
        {"options": options or {}},
    )
    assert status == 200 and result["result"], result
    assert all(entry["ok"] is True for entry in result["result"].values()), result


async def test_job_lifecycle_retained_state_and_settings(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    base = "pioreactor/pio1/exp1/stirring"
    async with recording(sim.mqtt_host, sim.mqtt_port) as rec:
        await _start(http, "pio1", "stirring", "exp1", {"target_rpm": 400})
        await rec.wait_for(lambda: b"ready" in rec.payloads(f"{base}/$state"), what="ready")
        assert rec.payloads(f"{base}/$state")[:2] == [b"init", b"ready"]
        assert rec.payloads(f"{base}/target_rpm")[0] == b"400.0"
        assert rec.payloads(f"{base}/enable_dodging_od")[0] == b"False"
        await rec.wait_for(lambda: bool(rec.payloads(f"{base}/measured_rpm")), what="measured_rpm")
        measured = json.loads(rec.payloads(f"{base}/measured_rpm")[-1])
        assert set(measured) == {"measured_rpm", "timestamp"} and measured["timestamp"].endswith(
            "Z"
        )
        logs = [
            json.loads(p)
            for t, p, _, _ in rec.messages
            if t == "pioreactor/pio1/exp1/logs/app/info"
        ]
        assert {
            "source": "app",
            "task": "stirring",
            "message": "Ready.",
            "level": "INFO",
        }.items() <= logs[0].items()
    # a late subscriber gets the retained state and settings
    async with recording(sim.mqtt_host, sim.mqtt_port, f"{base}/#") as late:
        await late.wait_for(lambda: bool(late.payloads(f"{base}/target_rpm")), what="retained")
        retained = {t: p for t, p, r, _ in late.messages if r}
        assert retained[f"{base}/$state"] == b"ready" and retained[f"{base}/target_rpm"] == b"400.0"
    _, result = await run_task(
        http, "GET", "/api/workers/pio1/jobs/settings/job_name/stirring/experiments/exp1"
    )
    settings = result["result"]["pio1"]["value"]["settings"]
    assert settings["$state"] == "ready" and settings["target_rpm"] == 400.0
    assert settings["enable_dodging_od"] == 0 and settings["currently_dodging_od"] == 0
    job = sim.unit("pio1").running_job("stirring")
    await sim.wait_for(lambda: job is not None and "measured_rpm" in job.settings_row())
    _, result = await run_task(
        http, "GET", "/api/workers/pio1/jobs/settings/job_name/stirring/experiments/exp1"
    )
    assert isinstance(result["result"]["pio1"]["value"]["settings"]["measured_rpm"], str)
    _, result = await run_task(
        http,
        "GET",
        "/api/workers/pio1/jobs/settings/job_name/stirring/setting/target_rpm/experiments/exp1",
    )
    assert result["result"]["pio1"]["value"] == {"target_rpm": 400.0}
    _, rows = await call(http, "GET", "/unit_api/jobs/running/experiments/exp1")
    assert [r["job_name"] for r in rows] == ["stirring"]
    assert set(rows[0]) == {
        "job_id",
        "unit",
        "experiment",
        "job_name",
        "job_source",
        "started_at",
        "is_running",
        "leader",
        "pid",
        "is_long_running_job",
        "ended_at",
    }


async def test_set_via_mqtt_and_http_patch(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await sim.create_experiment("exp1", assign=["pio1", "pio2"])
    await sim.start_job("pio1", "stirring", "exp1", {"target_rpm": 400})
    await sim.start_job("pio2", "stirring", "exp1", {"target_rpm": 400})
    base = "pioreactor/pio1/exp1/stirring"
    async with (
        recording(sim.mqtt_host, sim.mqtt_port) as rec,
        aiomqtt.Client(sim.mqtt_host, sim.mqtt_port) as pub,
    ):
        status, body = await call(
            http,
            "PATCH",
            "/api/units/pio1/jobs/update/job_name/stirring/experiments/exp1",
            {"settings": {"target_rpm": 300}},
        )
        assert (status, body) == (202, {"status": "accepted"})
        await rec.wait_for(lambda: b"300.0" in rec.payloads(f"{base}/target_rpm"), what="300.0")
        assert rec.payloads(f"{base}/target_rpm/set") == [b"300"]
        qos = {t: q for t, _, _, q in rec.messages}
        assert qos[f"{base}/target_rpm/set"] == 1
        await pub.publish(f"{base}/measured_rpm/set", b"5", qos=1)
        await pub.publish(f"{base}/target_rpm/set", b"abc", qos=1)
        await pub.publish(f"{base}/enable_dodging_od/set", b"true", qos=1)
        await pub.publish("pioreactor/$broadcast/exp1/stirring/target_rpm/set", b"250", qos=1)
        await rec.wait_for(
            lambda: (
                b"250.0" in rec.payloads("pioreactor/pio2/exp1/stirring/target_rpm")
                and b"250.0" in rec.payloads(f"{base}/target_rpm")
            ),
            what="broadcast",
        )
        messages = [json.loads(p)["message"] for t, p, _, _ in rec.messages if "/logs/" in t]
        assert "Updated target_rpm from 400.0 RPM to 300.0 RPM." in messages
        assert "Unable to set `measured_rpm` in stirring. `measured_rpm` is read-only." in messages
        assert (
            "Unable to set `target_rpm` in stirring. Payload is not valid for datatype `float`."
            in messages
        )
        assert "Updated enable_dodging_od from False to True." in messages
        assert rec.payloads(f"{base}/enable_dodging_od")[-1] == b"True"
        await pub.publish(f"{base}/$state/set", b"sleeping", qos=1)
        await rec.wait_for(lambda: b"sleeping" in rec.payloads(f"{base}/$state"), what="sleeping")
        await pub.publish(f"{base}/$state/set", b"ready", qos=1)
        await rec.wait_for(
            lambda: rec.payloads(f"{base}/$state")[-1:] == [b"ready"], what="ready again"
        )
    status, body = await call(
        http,
        "PATCH",
        "/api/units/pio1/jobs/update/job_name/stirring/experiments/exp1",
        {"settings": {"target_rpm": {"a": 1}}},
    )
    assert (
        status == 400
        and body["error"] == "payload must be a string, bytearray, int, float or None."
    )
    status, body = await call(
        http,
        "PATCH",
        "/api/units/pio1/jobs/update/job_name/stirring/experiments/exp1",
        {"target_rpm": 1},
    )
    assert status == 400 and body["cause"] == "Object contains unknown field `target_rpm`"
    _, result = await run_task(
        http, "GET", "/api/workers/pio1/jobs/settings/job_name/stirring/experiments/exp1"
    )
    assert result["result"]["pio1"]["value"]["settings"]["enable_dodging_od"] == 1


async def test_retained_set_is_ignored_on_subscribe(sim: Simulator) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    async with aiomqtt.Client(sim.mqtt_host, sim.mqtt_port) as pub:
        await pub.publish(
            "pioreactor/pio1/exp1/stirring/target_rpm/set", b"777", qos=1, retain=True
        )
    # a new simulator link subscribing later sees it retained and must ignore it
    async with Simulator(
        units=("pio1",), mqtt=(sim.mqtt_host, sim.mqtt_port), od_interval=0.05, startup_grace=0.05
    ) as other:
        await other.create_experiment("exp1", assign=["pio1"])
        await other.start_job("pio1", "stirring", "exp1", {"target_rpm": 400})
        job = other.unit("pio1").running_job("stirring")
        assert job is not None and job.values["target_rpm"] == 400.0
    async with aiomqtt.Client(sim.mqtt_host, sim.mqtt_port) as pub:
        await pub.publish("pioreactor/pio1/exp1/stirring/target_rpm/set", b"", qos=1, retain=True)


async def test_stop_clears_retained_settings(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    await sim.start_job("pio1", "stirring", "exp1")
    base = "pioreactor/pio1/exp1/stirring"
    async with recording(sim.mqtt_host, sim.mqtt_port) as rec:
        _, result = await run_task(
            http, "POST", "/api/units/pio1/jobs/stop/job_name/stirring/experiments/exp1"
        )
        assert result["result"]["pio1"] == {"ok": True, "unit": "pio1", "value": True}
        await rec.wait_for(lambda: rec.payloads(f"{base}/target_rpm")[-1:] == [b""], what="cleared")
        assert rec.payloads(f"{base}/$state")[-1] == b"disconnected"
        assert rec.payloads(f"{base}/enable_dodging_od")[-1] == b""
    async with recording(sim.mqtt_host, sim.mqtt_port, f"{base}/#") as late:
        await late.wait_for(lambda: bool(late.messages), what="retained state")
        retained = {t: p for t, p, r, _ in late.messages if r}
        assert retained == {f"{base}/$state": b"disconnected"}
    _, result = await run_task(
        http, "GET", "/api/workers/pio1/jobs/settings/job_name/stirring/experiments/exp1"
    )
    assert result["result"]["pio1"]["error"]["message"] == "No settings found for job."
    _, result = await run_task(
        http, "POST", "/api/units/pio1/jobs/stop/job_name/stirring/experiments/exp1"
    )
    assert (
        result["result"]["pio1"]["value"] is True
    )  # stopping a job that is not running is still true


async def test_state_set_disconnected_and_stop_all(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    await sim.start_job("pio1", "stirring", "exp1")
    await sim.start_job("pio1", "od_reading", "exp1")
    async with aiomqtt.Client(sim.mqtt_host, sim.mqtt_port) as pub:
        await pub.publish("pioreactor/pio1/exp1/stirring/$state/set", b"disconnected", qos=1)
    await sim.wait_for(lambda: sim.unit("pio1").running_job("stirring") is None)
    status, body = await call(http, "POST", "/api/units/pio1/jobs/stop/experiments/exp1")
    assert (status, body) == (202, {"status": "success"})
    await sim.wait_for(lambda: not sim.unit("pio1").running_jobs())


async def test_crash_publishes_lost(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    await sim.start_job("pio1", "stirring", "exp1")
    async with recording(sim.mqtt_host, sim.mqtt_port, "pioreactor/pio1/exp1/stirring/#") as rec:
        await sim.crash_job("pio1", "stirring")
        await rec.wait_for(
            lambda: b"lost" in rec.payloads("pioreactor/pio1/exp1/stirring/$state"), what="lost"
        )
    _, result = await run_task(http, "GET", "/api/units/pio1/jobs/running")
    names = [row["job_name"] for row in result["result"]["pio1"]["value"]]
    assert "stirring" in names  # upstream keeps a killed job's record as running


async def test_assignment_topic(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await call(http, "POST", "/api/experiments", {"experiment": "exp1"})
    async with recording(
        sim.mqtt_host, sim.mqtt_port, "pioreactor/+/$experiment/assignment"
    ) as rec:
        await rec.wait_for(lambda: len(rec.messages) >= 3, what="retained assignments")
        assert all(json.loads(p)["experiment"] is None for _, p, r, _ in rec.messages if r)
        await call(http, "PUT", "/api/experiments/exp1/workers", {"pioreactor_unit": "pio2"})
        await rec.wait_for(
            lambda: len(rec.payloads("pioreactor/pio2/$experiment/assignment")) >= 2,
            what="assignment",
        )
        assigned = json.loads(rec.payloads("pioreactor/pio2/$experiment/assignment")[-1])
        assert (
            assigned["experiment"] == "exp1" and assigned["assigned_at"] == assigned["updated_at"]
        )
        await call(http, "DELETE", "/api/experiments/exp1/workers/pio2")
        await rec.wait_for(
            lambda: len(rec.payloads("pioreactor/pio2/$experiment/assignment")) >= 3,
            what="unassignment",
        )
        cleared = json.loads(rec.payloads("pioreactor/pio2/$experiment/assignment")[-1])
        assert cleared["experiment"] is None and cleared["assigned_at"] is None


async def test_reassignment_stops_jobs_of_the_old_experiment(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    await sim.create_experiment("old", assign=["pio1"])
    await sim.create_experiment("new")
    await sim.start_job("pio1", "stirring", "old")
    assert (await call(http, "PUT", "/api/experiments/new/workers", {"pioreactor_unit": "pio1"}))[
        0
    ] == 200
    assert sim.unit("pio1").running_job("stirring") is None


async def test_od_readings_growth_and_time_series(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    await sim.create_experiment("exp1", assign=["pio1", "pio2"])
    async with recording(sim.mqtt_host, sim.mqtt_port, "pioreactor/pio1/exp1/od_reading/#") as rec:
        await _start(http, "$broadcast", "od_reading", "exp1")
        await _start(http, "pio1", "growth_rate_calculating", "exp1")
        await _start(
            http,
            "pio1",
            "temperature_automation",
            "exp1",
            {"automation_name": "thermostat", "target_temperature": 30},
        )
        await rec.wait_for(
            lambda: len(rec.payloads("pioreactor/pio1/exp1/od_reading/ods")) >= 5, what="ods"
        )
        ods = json.loads(rec.payloads("pioreactor/pio1/exp1/od_reading/ods")[-1])
        reading = ods["ods"]["2"]
        assert set(ods) == {"timestamp", "ods"}
        assert set(reading) == {
            "calibrated",
            "timestamp",
            "angle",
            "od",
            "channel",
            "ir_led_intensity",
        }
        assert (reading["calibrated"], reading["angle"], reading["channel"]) == (0, "90", "2")
        assert json.loads(rec.payloads("pioreactor/pio1/exp1/od_reading/od2")[-1])["od"] > 0
    await sim.wait_for(
        lambda: (
            len(sim.cluster.series["growth_rates"]) >= 3
            and len(sim.cluster.series["temperature_readings"]) >= 2
        )
    )
    _, series = await call(http, "GET", "/api/experiments/exp1/time_series/od_readings?lookback=1")
    assert series["series"] == ["pio1-2", "pio2-2"]
    point = series["data"][0][0]
    assert set(point) == {"x", "y"} and point["x"].endswith("Z") and isinstance(point["y"], float)
    _, thinned = await call(
        http, "GET", "/api/experiments/exp1/time_series/od_readings?lookback=1&target_points=2"
    )
    assert len(thinned["data"][0]) == 2
    _, per_unit = await call(
        http, "GET", "/api/workers/pio2/experiments/exp1/time_series/od_readings"
    )
    assert per_unit["series"] == ["pio2-2"]
    for source in ("growth_rates", "od_readings_filtered", "temperature_readings"):
        _, data = await call(http, "GET", f"/api/experiments/exp1/time_series/{source}")
        assert data["series"] == ["pio1"], source
    _, rpm = await call(
        http, "GET", "/api/experiments/exp1/time_series/temperature_readings/temperature_c"
    )
    assert rpm["series"] == ["pio1"]


async def test_growth_curve_is_logistic() -> None:
    import random

    from tether.testing.pioreactor import Culture

    culture = Culture(
        random.Random(3), initial_od=0.05, capacity=1.5, rate_per_hour=0.4, lag_hours=1.0, noise=0.0
    )
    assert culture.od(0.0) == culture.od(1.0) == 0.05
    values = [culture.od(h) for h in range(0, 40, 2)]
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert values[-1] > 1.45
    assert culture.growth_rate(0.5) < 0.02 and abs(culture.growth_rate(3.0) - 0.4) < 0.05


async def test_logs_from_jobs_reach_the_api(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    await sim.start_job("pio1", "stirring", "exp1")
    await sim.wait_for(
        lambda: any(r.message == "Ready." and r.experiment == "exp1" for r in sim.cluster.logs)
    )
    _, rows = await call(http, "GET", "/api/experiments/exp1/logs")
    ready = next(r for r in rows if r["message"] == "Ready.")
    assert ready == {
        **ready,
        "level": "INFO",
        "pioreactor_unit": "pio1",
        "task": "stirring",
        "experiment": "exp1",
    }
    _, recent = await call(
        http, "GET", "/api/workers/pio1/experiments/exp1/recent_logs?lines=1&min_level=DEBUG"
    )
    assert len(recent) == 1
    _, unit_logs = await call(http, "GET", "/api/workers/pio1/experiments/exp1/logs")
    assert any(r["message"] == "Ready." for r in unit_logs)
    _, system = await call(http, "GET", "/api/units/pio1/system_logs?min_level=DEBUG")
    assert all(r["experiment"] == "$experiment" for r in system)


async def test_blink_publishes(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with recording(sim.mqtt_host, sim.mqtt_port, "pioreactor/+/$experiment/monitor/#") as rec:
        status, body = await call(http, "POST", "/api/workers/pio2/blink")
        assert (status, body) == (202, {"status": "accepted"})
        await rec.wait_for(lambda: bool(rec.messages), what="blink")
    assert rec.messages[0][0] == "pioreactor/pio2/$experiment/monitor/flicker_led_response_okay"


async def test_one_shot_jobs(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await sim.create_experiment("exp1", assign=["pio1"])
    async with recording(sim.mqtt_host, sim.mqtt_port, "pioreactor/pio1/exp1/leds/#") as rec:
        await _start(http, "pio1", "led_intensity", "exp1", {"A": 10})
        await rec.wait_for(lambda: bool(rec.messages), what="leds")
        assert json.loads(rec.messages[-1][1]) == {"A": 10.0, "B": 0.0, "C": 0.0, "D": 0.0}
    # like 26.11.1, the finished led_intensity leaves a "running" CLI record until jobs are stopped
    _, rows = await call(http, "GET", "/unit_api/jobs/running/experiments/exp1")
    assert [(r["job_name"], r["job_source"], r["leader"]) for r in rows] == [
        ("led_intensity", "CLI", "")
    ]
    _, settings = await run_task(
        http, "GET", "/api/workers/pio1/jobs/settings/job_name/led_intensity/experiments/exp1"
    )
    assert settings["result"]["pio1"]["error"]["message"] == "No settings found for job."
    await call(http, "POST", "/api/units/pio1/jobs/stop/experiments/exp1")
    await sim.wait_for(lambda: sim.unit("pio1").running_job("led_intensity") is None)
    _, result = await run_task(
        http,
        "POST",
        "/api/units/pio1/jobs/run/job_name/add_media/experiments/exp1",
        {"options": {"ml": 1}},
    )
    error = result["result"]["pio1"]["error"]
    assert (
        error["kind"] == "task_failed"
        and "CalibrationError: Active calibration not found" in error["message"]
    )


@pytest.mark.mosquitto
async def test_runs_on_an_external_mosquitto() -> None:
    """``mqtt=`` points the simulator at an existing broker (here a real mosquitto)."""
    from tether.testing.mosquitto import Mosquitto, mosquitto_path

    if mosquitto_path() is None:
        pytest.skip("mosquitto is not installed")
    async with Mosquitto() as broker:
        options = {**FAST, "units": ("pio1",)}
        async with Simulator(mqtt=broker.address, **options) as sim:
            assert sim.info()["MQTT"] == broker.address
            await sim.create_experiment("exp1", assign=True)
            await sim.start_job("pio1", "stirring", "exp1", {"target_rpm": 321})
            topic = "pioreactor/pio1/exp1/stirring"
            async with recording(sim.mqtt_host, sim.mqtt_port, f"{topic}/#") as rec:
                await rec.wait_for(
                    lambda: bool(rec.payloads(f"{topic}/target_rpm")), what="retained"
                )
                retained = {t: p for t, p, r, q in rec.messages if r}
                assert retained[f"{topic}/target_rpm"] == b"321.0"
                assert retained[f"{topic}/$state"] == b"ready"
                assert {q for t, _, r, q in rec.messages if t == f"{topic}/$state"} == {2}
