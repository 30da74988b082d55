"""The blocking clients (``Abeja`` and the drop-in ``APIClient``) against the simulator.

The simulator runs in its own thread (``tether.testing.running``); the clients run on
tether's loop thread, called from plain synchronous test code.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import tether
from tether import BlockingJob, JobFailedError, JobStatus, JobTimeoutError, PollPolicy, RetryPolicy
from tether.abeja import Abeja, APIClient, LogEvent, NotFound, Run, RunStatus
from tether.testing import running
from tether.testing.abeja import Simulator

FAST = PollPolicy(initial=0.005, factor=1.0, maximum=0.005, jitter=0.0)
DEFAULTS: dict[str, Any] = {
    "seed": 20180101,
    "step_seconds": None,
    "page_size": 3,
    "log_page_size": 4,
}


def open_client(sim: Simulator, **options: Any) -> Abeja:
    settings: dict[str, Any] = {
        "base_url": sim.url,
        "organization_id": sim.organization_id,
        "user_id": sim.user_id,
        "personal_access_token": sim.personal_access_token,
        "timeout": 5,
    }
    settings.update(options)
    return Abeja(**settings)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with running(Simulator(**DEFAULTS)) as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[Abeja]:
    with open_client(sim) as opened:
        yield opened


def test_runs_pages_and_logs(client: Abeja, sim: Simulator) -> None:
    dep = sim.deployment_id
    created = [client.runs.create(dep, sim.version_id, environment={"I": str(i)}) for i in range(5)]
    assert all(isinstance(r, Run) and r.status is RunStatus.SUBMITTED for r in created)
    ids = [r.run_id for r in created]
    assert [r.run_id for r in client.runs.list(dep)] == ids[::-1]
    assert [r.run_id for r in client.runs.list(dep, scan_forward=True)] == ids
    first = client.runs.list(dep).first_page()
    assert len(first) == 3 and first.next_cursor == first["next_page_token"]
    assert len(client.runs.list(dep, limit=2).to_list()) == 2

    sim.set_outcome(ids[0], "FAILED")
    sim.advance(sim.steps_to_finish)
    assert client.runs.retrieve(dep, ids[0]).status is RunStatus.FAILED
    assert [r.run_id for r in client.runs.list(dep, status="FAILED")] == [ids[0]]
    events = list(client.runs.logs(dep, ids[0]))
    assert [e.message for e in events] == [e["message"] for e in sim.run_logs(ids[0])]
    newest_first = client.runs.recent_logs(dep, ids[0]).to_list()
    assert newest_first == events[::-1]
    assert all(isinstance(e, LogEvent) for e in newest_first)


def test_wait_with_progress_start_and_resume() -> None:
    with running(Simulator(**DEFAULTS, advance_on_poll=1)) as sim, open_client(sim) as client:
        run = client.runs.create(sim.deployment_id, sim.version_id)
        statuses: list[str | None] = []
        final = client.runs.wait(
            sim.deployment_id,
            run.run_id,
            poll=FAST,
            on_progress=lambda state: statuses.append(state.raw_status),
        )
        assert final.status is RunStatus.SUCCEEDED
        assert statuses == ["PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]

        other = client.runs.create(sim.deployment_id, sim.version_id)
        job = client.runs.wait.start(sim.deployment_id, other.run_id, poll=FAST)
        assert isinstance(job, BlockingJob) and job.id == other.run_id
        assert job.status().status is JobStatus.PENDING
        resumed = client.runs.resume(job.resume_token)
        assert isinstance(resumed, BlockingJob)
        assert resumed.wait(timeout=5, poll=FAST).status is RunStatus.SUCCEEDED
        assert job.wait(timeout=5).run_id == other.run_id


def test_wait_failure_and_deadline(client: Abeja, sim: Simulator) -> None:
    run = client.runs.create(sim.deployment_id, sim.version_id)
    with pytest.raises(JobTimeoutError):
        client.runs.wait(sim.deployment_id, run.run_id, timeout=0.05, poll=FAST)
    sim.set_outcome(run.run_id, "FAILED")
    sim.advance(sim.steps_to_finish)
    with pytest.raises(JobFailedError) as caught:
        client.runs.wait(sim.deployment_id, run.run_id, poll=FAST, log_tail=2)
    assert isinstance(caught.value.detail, Run)
    assert "ERROR: user code exited" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 3


def test_follow_logs_while_the_run_goes_on(client: Abeja, sim: Simulator) -> None:
    run = client.runs.create(sim.deployment_id, sim.version_id)
    stop = threading.Event()

    def drive() -> None:
        while not stop.wait(0.01):
            sim.advance()

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        followed = list(
            client.runs.follow_logs(sim.deployment_id, run.run_id, poll=FAST, timeout=10)
        )
    finally:
        stop.set()
        driver.join()
    assert [e.message for e in followed] == [e["message"] for e in sim.run_logs(run.run_id)]
    assert len(followed) == 6
    for event in client.runs.follow_logs(sim.deployment_id, run.run_id):
        assert event.message == followed[0].message
        break  # closes the async iterator on tether's loop


def test_errors_validation_and_lifetime(sim: Simulator) -> None:
    client = open_client(sim).with_options(retries=RetryPolicy(max_retries=0))
    with pytest.raises(NotFound) as caught:
        client.runs.retrieve(sim.deployment_id, "run-0000000000000000")
    assert isinstance(caught.value, tether.NotFoundError)
    with pytest.raises(tether.ValidationError):
        client.runs.create(sim.deployment_id, sim.version_id, retry_count=12)
    with pytest.raises(tether.ValidationError):
        client.runs.list(sim.deployment_id, status="DONE")
    assert sim.count_requests() == 1
    text = repr(client)
    assert text.startswith("Abeja(") and sim.personal_access_token not in text
    assert sim.user_id not in text
    assert client.credential_kind == "user id + personal access token"
    assert (client.base_url, client.organization_id) == (sim.url, sim.organization_id)
    client.close()
    with pytest.raises(tether.ClientClosedError):
        client.runs.retrieve(sim.deployment_id, "run-1")


async def test_blocking_client_inside_a_running_loop(sim: Simulator) -> None:
    """As in a notebook: the work runs on tether's own loop thread, not this one."""
    with open_client(sim) as client:
        run = client.runs.create(sim.deployment_id, sim.version_id)
        assert client.runs.retrieve(sim.deployment_id, run.run_id) == run


def test_dropin_api_client(sim: Simulator) -> None:
    api = APIClient(credential=sim.credential, base_url=sim.url)
    other = APIClient(credential={"auth_token": sim.auth_token}, base_url=sim.url)
    org, dep = sim.organization_id, sim.deployment_id
    runs = [api.create_run(org, dep, sim.version_id, retry_count=i) for i in range(4)]
    assert [r["retry_count"] for r in runs] == [0, 1, 2, 3]
    assert other.get_run(org, dep, runs[0]["run_id"]) == sim.runs[runs[0]["run_id"]]
    page = api.get_runs(org, dep, scan_forward=True)
    assert set(page) == {"entries", "next_page_token"} and len(page["entries"]) == 3
    rest = api.get_runs(org, dep, next_page_token=page["next_page_token"], scan_forward=True)
    assert rest == {"entries": [sim.runs[runs[3]["run_id"]]]}
    assert api._wrapped.http.transport is other._wrapped.http.transport  # one shared pool
    api.close()
    with api:
        assert api.get_run(org, dep, runs[1]["run_id"])["retry_count"] == 1  # still usable
    assert repr(other) == f"APIClient(base_url={sim.url!r}, credential='platform auth token')"
