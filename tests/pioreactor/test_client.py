"""The Pioreactor client core: versions, errors, validation, tasks, fan-outs, jobs, events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses

from tether import (
    BlockingJob,
    ConflictError,
    Job,
    JobFailedError,
    JobTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tether.pioreactor import (
    AsyncPioreactor,
    BackgroundJobState,
    FanOutError,
    Pioreactor,
    RunningJob,
)
from tether.pioreactor._contract import Contract, parse_version, pioreactor_error_parser
from tether.pioreactor._tasks import decode_fanout
from tether.pioreactor._validation import (
    check_experiment_name,
    check_setting_value,
    check_worker_name,
)
from tether.pioreactor.events import decode_value
from tether.testing import running
from tether.testing.pioreactor import Simulator

UNITS = ("pio1", "pio2", "pio3")


def fast_sim(**kwargs: Any) -> Simulator:
    options: dict[str, Any] = {
        "units": UNITS,
        "time_scale": 3600,
        "od_interval": 0.1,
        "task_latency": 0.02,
        "startup_grace": 0.05,
    }
    options.update(kwargs)
    return Simulator(**options)


@pytest.fixture
async def pio() -> AsyncIterator[tuple[Simulator, AsyncPioreactor]]:
    async with fast_sim() as simulator:
        info = simulator.info()
        async with AsyncPioreactor(info["URL"], mqtt=info["MQTT"]) as client:
            yield simulator, client


@pytest.fixture
def blocking_pio() -> Iterator[tuple[Simulator, Pioreactor]]:
    with running(fast_sim()) as simulator:
        info = simulator.info()
        with Pioreactor(info["URL"], mqtt=info["MQTT"]) as client:
            yield simulator, client


async def setup_experiment(client: AsyncPioreactor, name: str = "exp one") -> str:
    await client.experiments.create(name)
    for unit in UNITS:
        await client.experiments.assign(name, unit)
    return name


# -- pure logic ----------------------------------------------------------------------------


def test_versions_and_contract_flags() -> None:
    assert parse_version("26.11.1") == (26, 11, 1)
    assert parse_version("26.4.0rc3") == (26, 4, 0)
    with pytest.raises(ValidationError):
        parse_version("latest")
    new, seed, old = Contract((26, 11, 1)), Contract((26, 2, 23)), Contract((25, 11, 19))
    assert new.envelopes and not seed.envelopes and not old.envelopes
    assert new.results_preserved and not seed.results_preserved
    assert (new.config_routes, seed.config_routes, old.config_routes) == (
        "shared",
        "files",
        "configs",
    )
    assert old.contrib_routes and not seed.contrib_routes
    assert new.export_single_experiment and not seed.export_single_experiment
    with pytest.raises(ValidationError, match=r"not available on Pioreactor 26\.11\.1"):
        new.require(new.media_fields, "media_used", since=None)


def test_error_parser_reads_all_three_shapes() -> None:
    flat = pioreactor_error_parser(
        409,
        {
            "error": "Experiment already exists",
            "status": 409,
            "cause": "Experiment name conflicts with an existing experiment.",
            "remediation": "Choose a different experiment name and retry.",
        },
    )
    assert flat.message == "Experiment already exists"
    assert flat.cause == "Experiment name conflicts with an existing experiment."
    assert flat.remediation == "Choose a different experiment name and retry."
    nested = pioreactor_error_parser(
        409,
        {
            "error": "Experiment already exists",
            "error_info": {"cause": "conflict", "remediation": "rename", "status": 409},
        },
    )
    assert (nested.cause, nested.remediation) == ("conflict", "rename")
    bare = pioreactor_error_parser(404, {"error": "Experiment nope not found"})
    assert bare.message == "Experiment nope not found" and bare.cause is None
    statusless = pioreactor_error_parser(409, {"status": "error"})
    assert statusless.message == "Conflict"


@pytest.mark.parametrize(
    "name", ["", "a/b", "50%", "a+b", "what?", "back\\slash", "#1", "$x", "_testing1", "current"]
)
def test_bad_experiment_names(name: str) -> None:
    with pytest.raises(ValidationError):
        check_experiment_name(name)


def test_good_names() -> None:
    assert check_experiment_name("Demo experiment – ünïcode 1.2") == "Demo experiment – ünïcode 1.2"
    assert check_worker_name("pio-12") == "pio-12"
    with pytest.raises(ValidationError):
        check_experiment_name("x" * 200)


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "::1", "pio1.local", "pi o", "", "a_b"])
def test_bad_worker_names(name: str) -> None:
    with pytest.raises(ValidationError):
        check_worker_name(name)


def test_setting_values_are_checked() -> None:
    assert check_setting_value("stirring", "target_rpm", 400) == 400
    with pytest.raises(ValidationError, match="target_rpm takes int or float"):
        check_setting_value("stirring", "target_rpm", "fast")
    with pytest.raises(ValidationError):
        check_setting_value("stirring", "target_rpm", True)
    with pytest.raises(ValidationError):
        check_setting_value("custom_job", "anything", {"a": 1})
    with pytest.raises(ValidationError):
        check_setting_value("stirring", "$state", "paused")


def test_fanout_decoding_envelopes_and_raw() -> None:
    from tether._core.models import make_converter

    converter = make_converter()
    envelopes = decode_fanout(
        converter,
        {
            "pio1": {
                "ok": True,
                "unit": "pio1",
                "value": [{"job_name": "stirring", "unit": "pio1", "experiment": "e"}],
            },
            "pio3": {
                "ok": False,
                "unit": "pio3",
                "error": {"kind": "connection_error", "message": "Could not POST"},
                "status_code": None,
                "retryable": True,
            },
        },
        list[RunningJob],
    )
    assert not envelopes.ok
    assert envelopes["pio1"].value == [RunningJob(job_name="stirring", unit="pio1", experiment="e")]
    failure = envelopes.failures["pio3"]
    assert failure.error is not None and failure.error.kind == "connection_error"
    assert failure.retryable
    with pytest.raises(FanOutError, match="pio3: connection_error"):
        envelopes.raise_for_failures()
    raw = decode_fanout(converter, {"pio9": None, "pio1": True}, bool)
    assert raw["pio1"].ok and raw["pio1"].value is True
    assert not raw["pio9"].ok and raw["pio9"].error is not None


def test_mqtt_value_decoding() -> None:
    assert decode_value("400.0") == 400.0
    assert decode_value("3") == 3
    assert decode_value("True") is True
    assert decode_value("") is None
    assert decode_value('{"a":1}') == {"a": 1}
    assert decode_value("ready") == "ready"


def test_missing_leader_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIOREACTOR_LEADER_URL", raising=False)
    with pytest.raises(ValidationError, match="PIOREACTOR_LEADER_URL"):
        AsyncPioreactor()
    monkeypatch.setenv("PIOREACTOR_LEADER_URL", "http://127.0.0.1:1")
    assert AsyncPioreactor().leader_url == "http://127.0.0.1:1"


async def test_api_key_sent_as_basic_auth_and_never_shown(mock_http: type[aioresponses]) -> None:
    client = AsyncPioreactor("http://leader.test", api_key="SECRETKEY", version="26.11.1")
    try:
        with mock_http() as mocked:
            mocked.get("http://leader.test/api/experiments", status=200, payload=[])
            await client.experiments.list()
            request = next(iter(mocked.requests.values()))[0]
            assert request.kwargs["headers"]["Authorization"] == "Basic SECRETKEY"
        assert "SECRETKEY" not in repr(client)
    finally:
        await client.aclose()


# -- against the simulator -------------------------------------------------------------------


async def test_version_detected_once(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    assert await client.version() == "26.11.1"
    assert (await client.contract()).envelopes
    assert (await client.system.health()).status == "ok"


async def test_experiments_crud_and_errors(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    created = await client.experiments.create("exp a", description="first", tags=["x"])
    assert created.experiment == "exp a" and created.tags == ["x"]
    with pytest.raises(ConflictError) as conflict:
        await client.experiments.create("exp a")
    assert conflict.value.remediation
    assert "exp a" in [e.name for e in await client.experiments.list()]
    assert (await client.experiments.retrieve("exp a")).description == "first"
    assert (await client.experiments.update("exp a", description="second")).description == "second"
    assert (await client.experiments.latest()).name == "exp a"
    with pytest.raises(NotFoundError):
        await client.experiments.retrieve("nope")
    with pytest.raises(ValidationError):
        await client.experiments.create("media", media_used="LB")  # gone since 26.6.0
    result = await client.experiments.delete("exp a")
    assert result["result"] is True
    with pytest.raises(NotFoundError):
        await client.experiments.retrieve("exp a")


async def test_assignment_and_labels(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    name = await setup_experiment(client)
    assert sorted(a.pioreactor_unit for a in await client.experiments.workers(name)) == list(UNITS)
    assert (await client.workers.experiment("pio2")).experiment == name
    await client.experiments.set_unit_label(name, "pio1", "R1")
    assert (await client.experiments.unit_labels(name))["pio1"] == "R1"
    await client.experiments.unassign(name, "pio3")
    assert len(await client.experiments.workers(name)) == 2
    unassigned = await client.experiments.unassign_all(name)
    assert unassigned.ok
    assert await client.experiments.workers(name) == []


async def test_workers_inventory(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    assert {w.name for w in await client.workers.list()} >= set(UNITS)
    assert (await client.workers.retrieve("pio1")).is_active
    with pytest.raises(NotFoundError):
        await client.workers.retrieve("nobody")
    versions = await client.workers.versions()
    assert versions.values_by_unit()["pio1"]["version"] == "26.11.1"


async def test_run_jobs_and_fanout_results(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    name = await setup_experiment(client)
    started = await client.jobs.run("stirring", experiment=name, options={"target_rpm": 400})
    assert started.ok and set(started) == set(UNITS)
    running_jobs = await client.jobs.running()
    names = {u: {j.job_name for j in js} for u, js in running_jobs.values_by_unit().items()}
    assert all("stirring" in names[u] for u in UNITS)
    again = await client.jobs.run("stirring", experiment=name)  # already running on every unit
    assert not again.ok
    with pytest.raises(FanOutError):
        again.raise_for_failures()
    settings = await client.jobs.settings("stirring", experiment=name, unit="pio1")
    assert settings["pio1"].value is not None
    stopped = await client.jobs.stop("stirring", experiment=name)
    assert stopped.ok


async def test_unreachable_unit_is_a_typed_failure() -> None:
    async with fast_sim(unreachable=("pio3",)) as simulator:
        info = simulator.info()
        async with AsyncPioreactor(info["URL"], mqtt=info["MQTT"]) as client:
            name = await setup_experiment(client)
            result = await client.jobs.run("stirring", experiment=name)
            assert result["pio1"].ok and result["pio2"].ok
            failure = result.failures["pio3"]
            assert failure.error is not None and failure.error.kind == "connection_error"
            assert failure.retryable


async def test_run_requires_assignment_before_any_task(
    pio: tuple[Simulator, AsyncPioreactor],
) -> None:
    _, client = pio
    await client.experiments.create("lonely")
    with pytest.raises(NotFoundError, match="not assigned"):
        await client.jobs.run("stirring", experiment="lonely", unit="pio1")


async def test_bad_input_fails_before_any_request(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    simulator, client = pio
    await client.version()
    before = len(simulator.requests)
    with pytest.raises(ValidationError):
        await client.workers.add("localhost")
    with pytest.raises(ValidationError):
        await client.workers.add("192.168.1.7")
    with pytest.raises(ValidationError):
        await client.experiments.create("a/b")
    with pytest.raises(ValidationError):
        await client.jobs.update("stirring", {"target_rpm": "fast"}, experiment="e")
    with pytest.raises(ValidationError):
        await client.jobs.run("Stirring!", experiment="e")
    assert len(simulator.requests) == before


async def test_job_start_resume_token_and_deadline(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    job = await client.jobs.running.start()
    assert isinstance(job, Job)
    assert job.resume_token and job.id
    result = await job.wait(timeout=10)
    assert "pio1" in result
    resumed = await client.jobs.resume(job.resume_token)  # as another process would
    assert resumed.id == job.id
    assert set(await resumed.wait(timeout=10)) == set(result)  # results are preserved on 26.11
    with pytest.raises(ValidationError):
        await client.jobs.resume("garbage")
    # the leader pends forever on unknown task ids: our wait has a deadline
    from tether.pioreactor._tasks import task_job

    ghost = task_job(
        client,
        "not-a-task",
        "/unit_api/task_results/not-a-task",
        client._decoder("raw"),
        decoder_name="raw",
        describe="ghost task",
        contract=await client.contract(),
        timeout=None,
    )
    started = time.perf_counter()
    with pytest.raises(JobTimeoutError, match="ghost task"):
        await ghost.wait(timeout=0.5)
    assert time.perf_counter() - started < 2


async def test_failed_task_raises_job_failed(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    simulator, client = pio
    name = await setup_experiment(client)
    # an export without datasets fails inside the task on 26.11.1
    from tether.pioreactor._tasks import start_task

    job = await start_task(
        client,
        "POST",
        "/api/datasets/exportable/export",
        json={
            "datasets": [],
            "experiment": name,
            "partition_by_unit": False,
            "partition_by_experiment": True,
        },
        decoder_name="export",
        describe="empty export",
    )
    with pytest.raises(JobFailedError, match="At least one dataset") as info:
        await job
    assert info.value.status == "failed"
    assert simulator.version == "26.11.1"


async def test_foreign_origin_is_refused(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    hostile = client.with_options(headers={"Origin": "http://evil.example"})
    with pytest.raises(PermissionDeniedError):
        await hostile.experiments.create("xsite")


@pytest.mark.parametrize("version", ["26.2.23", "25.11.19"])
async def test_older_leaders_speak_the_same_api(version: str) -> None:
    async with fast_sim(version=version) as simulator:
        info = simulator.info()
        async with AsyncPioreactor(info["URL"], mqtt=info["MQTT"]) as client:
            assert await client.version() == version
            created = await client.experiments.create("old one")
            assert created.experiment == "old one"
            for unit in UNITS:
                await client.experiments.assign("old one", unit)
            started = await client.jobs.run("stirring", experiment="old one")
            assert set(started) == set(UNITS) and started.ok
            jobs = await client.jobs.running()
            assert all(
                any(j.job_name == "stirring" for j in rows)
                for rows in jobs.values_by_unit().values()
            )
            with pytest.raises(ConflictError):
                await client.experiments.create("old one")


async def test_live_streams_and_mqtt_set(pio: tuple[Simulator, AsyncPioreactor]) -> None:
    _, client = pio
    name = await setup_experiment(client)
    await client.jobs.run("stirring", experiment=name, options={"target_rpm": 400})
    await client.jobs.run("od_reading", experiment=name)
    async with client.events.job_states(experiment=name, job="stirring") as states:
        first = await anext(states)
        assert first.retained and first.state == BackgroundJobState.READY
    seen: set[str] = set()
    async with client.events.od_readings(experiment=name) as readings:
        async with asyncio.timeout(5):
            async for reading in readings:
                assert reading.od > 0 and reading.experiment == name
                seen.add(reading.unit)
                if seen == set(UNITS):
                    break
    async with client.events.settings("stirring", setting="target_rpm", experiment=name) as s:
        await client.events.set("stirring", "target_rpm", 333.0, experiment=name, unit="pio2")
        async with asyncio.timeout(5):
            async for event in s:
                if event.unit == "pio2" and event.value == 333.0:
                    break
    await client.jobs.update("stirring", {"$state": "sleeping"}, experiment=name, unit="pio1")
    event = await client.events.wait_for_state(
        "stirring", "sleeping", unit="pio1", experiment=name, timeout=5
    )
    assert event.state == BackgroundJobState.SLEEPING
    with pytest.raises(JobTimeoutError):
        await client.events.wait_for_state(
            "stirring", "lost", unit="pio1", experiment=name, timeout=0.3
        )


def test_blocking_client_same_api(blocking_pio: tuple[Simulator, Pioreactor]) -> None:
    _, client = blocking_pio
    assert client.version() == "26.11.1"
    client.experiments.create("sync exp")
    for unit in UNITS:
        client.experiments.assign("sync exp", unit)
    assert client.jobs.run("stirring", experiment="sync exp").ok
    job = client.jobs.running.start()
    assert isinstance(job, BlockingJob)
    assert "pio1" in job.wait(timeout=10)
    with client.events.settings("stirring", setting="target_rpm", experiment="sync exp") as s:
        client.events.set("stirring", "target_rpm", 250.0, experiment="sync exp")
        for event in s:
            if event.value == 250.0:
                break
    with client.events.od_readings(experiment="sync exp") as readings:
        pass  # entering and leaving subscribes and unsubscribes cleanly
    assert readings is not None
    with pytest.raises(ValidationError):
        client.workers.add("localhost")
    assert client.experiments.delete("sync exp")["result"] is True
