"""The official ``abeja-sdk`` (``abeja.runs.APIClient``) against the ABEJA run simulator.

:func:`run_official_scenario` drives all five run operations and their errors through any
client with the official SDK's public API and returns a normalised transcript. Run it once
with the official client and once with a drop-in replacement (``tether.abeja.APIClient``),
each against a fresh simulator built with the same settings (the ``abeja_sim`` fixture: seeded
ids, manual clock), and the two transcripts must be equal.

Behaviour that *should* differ between the official SDK and tether (the official SDK replays a
``create_run`` after a 500 or a read timeout; tether must not) is kept out of the scenario
and asserted in the separate tests below.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import pytest

from tether.testing.abeja import Simulator

abeja_runs = pytest.importorskip("abeja.runs")
abeja_exceptions = pytest.importorskip("abeja.exceptions")
requests_exceptions = pytest.importorskip("requests.exceptions")

Step = tuple[str, dict[str, Any], dict[str, Any]]
"""One transcript entry: ``(operation, arguments, outcome)``.

``outcome`` is ``{"result": <dict the client returned>}`` or ``{"exception": <class name>,
"status_code", "error", "error_description", "error_detail", "path"}``. Simulator actions
appear as ``("sim.<method>", {...}, {})`` so a diff shows where things happened.
"""

FORBIDDEN_ORG = "9999999999999"
UNKNOWN_ORG = "8888888888888"
OTHER_DEPLOYMENT = "5555555555555"
OTHER_VERSION = "ver-5555555555555555"
UNKNOWN_RUN = "run-0000000000000000"
FULL_RUN: dict[str, Any] = {
    "input_data": {"$datalake:1": "2222222222222/20180101T112233-4444"},
    "output_template": {"$datalake:1": "3333333333333"},
    "distribution": 3,
    "retry_count": 0,
    "environment": {"DEBUG": "debug"},
    "model_id": "4444444444444",
}


def bounded_pages(limit: int = 50) -> Iterator[int]:
    """Bound a paging loop: a server that never ends its pages fails the test, not hangs it."""
    yield from range(limit)
    raise AssertionError(f"still paging after {limit} pages")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        mapping = cast("dict[object, object]", value)
        return {str(k): _plain(v) for k, v in mapping.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in cast("list[Any]", value)]
    return value


def _exception_outcome(exc: Exception) -> dict[str, Any]:
    outcome: dict[str, Any] = {"exception": type(exc).__name__}
    if hasattr(exc, "status_code"):
        url = getattr(exc, "url", None)
        outcome |= {
            "status_code": getattr(exc, "status_code", None),
            "error": getattr(exc, "error", None),
            "error_description": getattr(exc, "error_description", None),
            "error_detail": _plain(getattr(exc, "error_detail", None)),
            "path": urlsplit(str(url)).path if url else None,
        }
    return outcome


def run_official_scenario(client: Any, sim: Simulator) -> list[Step]:
    """Drive every run operation and error through ``client``; return the transcript.

    ``client`` is an ``abeja.runs.APIClient`` or a drop-in with the same public API (method
    names, keyword parameters, ``credential=``/``timeout=``/``max_retry_count=``
    constructor, exceptions with ``status_code``/``error``/``error_description``/
    ``error_detail``/``url``). It must already point at ``sim`` and be built with
    ``timeout=5, max_retry_count=1`` (as the ``official_client`` fixture does); extra clients
    for the auth cases are built from ``client.__class__`` the same way. ``sim`` must be
    fresh and built like the ``abeja_sim`` fixture (seeded ids, manual clock, page size 3,
    log page size 4). Only calls that behave the same for a correct drop-in are made: a POST
    is never failed with a status the official SDK would replay; a 429 with Retry-After on a
    POST is (both must retry it).

    Example::

        transcript = await asyncio.to_thread(run_official_scenario, client, sim)
    """
    org, dep, ver = sim.organization_id, sim.deployment_id, sim.version_id
    transcript: list[Step] = []
    make: Any = client.__class__

    def call(op: str, target: Any = client, label: str = "", **kwargs: Any) -> Any:
        args = _plain(kwargs)
        if label:
            args["client"] = label
        try:
            result = getattr(target, op)(**kwargs)
        except Exception as exc:
            transcript.append((op, args, _exception_outcome(exc)))
            return None
        transcript.append((op, args, {"result": _plain(result)}))
        return result

    def control(action: str, *args: Any, **kwargs: Any) -> None:
        getattr(sim, action)(*args, **kwargs)
        shown = {k: v for k, v in kwargs.items() if not callable(v)}
        transcript.append((f"sim.{action}", _plain({"args": list(args), **shown}), {}))

    where = {"organization_id": org, "deployment_id": dep}

    # --- create_run: minimal, full, then every validation error
    control("add_organization", FORBIDDEN_ORG, accessible=False)
    control("add_deployment", OTHER_DEPLOYMENT, versions={OTHER_VERSION: "2.0.0"})
    minimal = call("create_run", **where, version_id=ver)
    full = call("create_run", **where, version_id=ver, **FULL_RUN)
    call("create_run", **where, version_id="ver-0000000000000000")
    call("create_run", **where, version_id=ver, retry_count=10)
    call("create_run", **where, version_id=ver, environment={"DEBUG": 1})
    call("create_run", **where, version_id=ver, distribution=-1)
    call("create_run", organization_id=org, deployment_id=OTHER_DEPLOYMENT, version_id=ver)
    call("create_run", organization_id=org, deployment_id="7777777777777", version_id=ver)
    call("create_run", organization_id=FORBIDDEN_ORG, deployment_id=dep, version_id=ver)
    call(
        "create_run",
        organization_id=org,
        deployment_id=OTHER_DEPLOYMENT,
        version_id=OTHER_VERSION,
        environment={"WHERE": "other deployment"},
    )
    assert minimal is not None
    assert full is not None
    first, second = minimal["run_id"], full["run_id"]

    # --- get_run, not found, forbidden, and authentication failures
    call("get_run", **where, run_id=first)
    call("get_run", **where, run_id=UNKNOWN_RUN)
    call("get_run", organization_id=UNKNOWN_ORG, deployment_id=dep, run_id=first)
    call("get_run", organization_id=FORBIDDEN_ORG, deployment_id=dep, run_id=first)
    call("get_run", organization_id=org, deployment_id=OTHER_DEPLOYMENT, run_id=first)
    clients = {
        "no credential": make(credential={}, timeout=5, max_retry_count=1),
        "wrong token": make(
            credential={"user_id": sim.user_id, "personal_access_token": "wrong"},
            timeout=5,
            max_retry_count=1,
        ),
        "wrong bearer": make(credential={"auth_token": "wrong"}, timeout=5, max_retry_count=1),
        "bearer": make(credential={"auth_token": sim.auth_token}, timeout=5, max_retry_count=1),
        "datasource": make(
            credential={
                "datasource_id": sim.datasource_id,
                "datasource_secret": sim.datasource_secret,
            },
            timeout=5,
            max_retry_count=1,
        ),
    }
    for label, other in clients.items():
        call("get_run", other, label, **where, run_id=first)
    call("get_runs", clients["no credential"], "no credential", **where)
    call("create_run", clients["wrong token"], "wrong token", **where, version_id=ver)

    # --- status progression: the first run succeeds, the second fails
    control("set_outcome", second, "FAILED")
    for _ in range(sim.steps_to_finish + 1):
        control("advance")
        call("get_run", **where, run_id=first)
        call("get_run", **where, run_id=second)

    # --- more runs, then every page in both orders
    for index in range(3):
        call("create_run", **where, version_id=ver, environment={"INDEX": str(index)})
    for scan_forward in (None, False, True):
        token: str | None = None
        for _ in bounded_pages():
            kwargs: dict[str, Any] = dict(where)
            if scan_forward is not None:
                kwargs["scan_forward"] = scan_forward
            if token is not None:
                kwargs["next_page_token"] = token
            page = call("get_runs", **kwargs)
            token = page.get("next_page_token") if page else None
            if not token:
                break
    call("get_runs", **where, next_page_token="")
    call("get_runs", **where, next_page_token="not-a-token")
    call("get_runs", organization_id=FORBIDDEN_ORG, deployment_id=dep)
    call("get_runs", organization_id=org, deployment_id=OTHER_DEPLOYMENT)

    # --- forward logs: every page of both runs, time windows, errors
    for run_id in (first, second):
        next_token: str | None = None
        for _ in bounded_pages():
            kwargs = {**where, "run_id": run_id}
            if next_token:
                kwargs["next_token"] = next_token
            page = call("get_run_logs", **kwargs)
            next_token = page.get("next_token") if page else None
            if not next_token:
                break
    events = sim.run_logs(second)
    second_step = datetime.strptime(events[3]["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")
    call("get_run_logs", **where, run_id=second, start_time=second_step, end_time=second_step)
    call(
        "get_run_logs",
        **where,
        run_id=second,
        start_time=second_step.replace(tzinfo=UTC),
    )
    call("get_run_logs", **where, run_id=second, end_time=second_step.replace(year=2017))
    call("get_run_logs", **where, run_id=UNKNOWN_RUN)
    call("get_run_logs", **where, run_id=second, next_token="not-a-token")

    # --- recent logs: newest first, backward to the start, forward again, windows, errors
    recent = call("get_run_recent_logs", **where, run_id=second)
    assert recent is not None
    backward = recent["next_backward_token"]
    for _ in bounded_pages():
        page = call("get_run_recent_logs", **where, run_id=second, next_backward_token=backward)
        if not page or not page["events"]:
            break
        backward = page["next_backward_token"]
    forward = backward
    for _ in bounded_pages():
        page = call("get_run_recent_logs", **where, run_id=second, next_forward_token=forward)
        if not page or not page["events"]:
            break
        forward = page["next_forward_token"]
    call(
        "get_run_recent_logs",
        **where,
        run_id=second,
        start_time=second_step,
        end_time=second_step.replace(second=second_step.second + 1),
    )
    call(
        "get_run_recent_logs",
        **where,
        run_id=second,
        next_forward_token=recent["next_forward_token"],
        next_backward_token=recent["next_backward_token"],
    )
    call("get_run_recent_logs", **where, run_id=UNKNOWN_RUN)

    # --- faults that both clients must absorb the same way
    control("fail_next", 1, 503, f"/organizations/{org}", method="GET", retry_after=0)
    call("get_run", **where, run_id=first)
    control("fail_next", 1, 500, method="GET")
    call("get_runs", **where, scan_forward=True)
    control("rate_limit_next", 1, retry_after=0, method="POST")
    call("create_run", **where, version_id=ver, environment={"AFTER": "429"})
    control("fail_next", 10, 500, method="GET")
    call("get_run", **where, run_id=first)
    control("clear_faults")
    control("fail_next", 10, 502, method="GET")
    call("get_run_logs", **where, run_id=first)
    control("clear_faults")
    control("fail_next", 1, 409, method="GET")
    call("get_run", **where, run_id=first)
    control("fail_next", 1, 422, method="GET")
    call("get_run", **where, run_id=first)
    call("get_runs", **where, scan_forward=True)
    return transcript


def _outcomes(transcript: list[Step]) -> list[str]:
    return [o.get("exception", "ok") for op, _, o in transcript if not op.startswith("sim.")]


async def test_official_scenario_transcript(abeja_sim: Simulator, official_client: Any) -> None:
    transcript = await asyncio.to_thread(run_official_scenario, official_client, abeja_sim)
    calls = [(op, args, outcome) for op, args, outcome in transcript if not op.startswith("sim.")]
    by_op = {op for op, _, _ in calls}
    assert by_op == {"create_run", "get_run", "get_runs", "get_run_logs", "get_run_recent_logs"}
    exceptions = {o["exception"] for _, _, o in calls if "exception" in o}
    assert exceptions == {
        "BadRequest",
        "NotFound",
        "Forbidden",
        "Unauthorized",
        "InternalServerError",
        "Conflict",
        "HttpError",
    }

    def outcome_of(op: str, **match: Any) -> dict[str, Any]:
        found = [o for name, a, o in calls if name == op and match.items() <= a.items()]
        assert found, (op, match)
        return found[0]

    # create_run: 400 for every validation rule, with the reference's error body
    bad = outcome_of("create_run", retry_count=10)
    assert bad["exception"] == "BadRequest"
    assert bad["status_code"] == 400
    assert bad["error"] == "bad_request"
    assert bad["error_detail"] == {"retry_count": ["must be an integer from 0 to 9"]}
    assert outcome_of("create_run", environment={"DEBUG": 1})["exception"] == "BadRequest"
    assert outcome_of("create_run", distribution=-1)["exception"] == "BadRequest"
    assert outcome_of("create_run", deployment_id="7777777777777")["exception"] == "NotFound"
    assert outcome_of("create_run", organization_id=FORBIDDEN_ORG)["exception"] == "Forbidden"
    full = outcome_of("create_run", model_id="4444444444444")["result"]
    assert full["models"] == {"alias": "4444444444444"}
    assert full["user_env_vars"] == {"DEBUG": "debug"}
    assert full["retry_count"] == 0
    assert full["distribution"] == 3

    # auth: no credential and wrong credentials are 401; bearer and datasource work
    for label in ("no credential", "wrong token", "wrong bearer"):
        failure = outcome_of("get_run", client=label)
        assert failure["exception"] == "Unauthorized"
        assert failure["error"] == "unauthorized"
    for label in ("bearer", "datasource"):
        assert "result" in outcome_of("get_run", client=label)
    not_found = outcome_of("get_run", run_id=UNKNOWN_RUN)
    assert not_found["error_detail"] == {"run_id": [f"unknown run: {UNKNOWN_RUN}"]}
    assert not_found["path"].endswith(f"/runs/{UNKNOWN_RUN}")

    # status progression seen through the official client
    first = outcome_of("create_run", version_id=abeja_sim.version_id)["result"]["run_id"]
    statuses = [
        o["result"]["status"]
        for op, a, o in calls
        if op == "get_run" and a.get("run_id") == first and "client" not in a and "result" in o
    ]
    assert statuses[:8] == [
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "RUNNING",
        "SUCCEEDED",
        "SUCCEEDED",
    ]

    # pagination: the official client saw every run once, in both orders
    pages = [(a, o["result"]) for op, a, o in calls if op == "get_runs" and "result" in o]
    descending = [
        r["run_id"] for a, p in pages[:2] for r in p["entries"] if a.get("scan_forward") is None
    ]
    assert len(descending) == len(set(descending)) == 5
    ascending = [
        r["run_id"] for a, p in pages if a.get("scan_forward") is True for r in p["entries"]
    ]
    assert ascending[:5] == descending[::-1]

    # faults: one 503/500/429 is retried away; ten 500s or 502s surface after the one
    # retry; 409 and 422 are not retried
    assert _outcomes(transcript)[-8:] == [
        "ok",
        "ok",
        "ok",
        "InternalServerError",
        "HttpError",
        "Conflict",
        "HttpError",
        "ok",
    ]


async def test_official_scenario_is_deterministic(
    make_abeja_sim: Callable[..., Any], point_official_sdk: Callable[[Simulator], None]
) -> None:
    transcripts: list[list[Step]] = []
    for _ in range(2):
        sim = await make_abeja_sim()
        point_official_sdk(sim)
        client = abeja_runs.APIClient(credential=sim.credential, timeout=5, max_retry_count=1)
        transcripts.append(await asyncio.to_thread(run_official_scenario, client, sim))
    assert transcripts[0] == transcripts[1]
    assert len(transcripts[0]) > 80


async def test_official_dict_shapes(abeja_sim: Simulator, official_client: Any) -> None:
    where = (abeja_sim.organization_id, abeja_sim.deployment_id)

    def work() -> dict[str, Any]:
        run = official_client.create_run(*where, abeja_sim.version_id)
        abeja_sim.advance(abeja_sim.steps_to_finish)
        for _ in range(3):
            official_client.create_run(*where, abeja_sim.version_id)
        return {
            "run": run,
            "get_run": official_client.get_run(*where, run["run_id"]),
            "get_runs": official_client.get_runs(*where),
            "logs": official_client.get_run_logs(*where, run["run_id"]),
            "recent": official_client.get_run_recent_logs(*where, run["run_id"]),
        }

    shapes = await asyncio.to_thread(work)
    assert all(type(v) is dict for v in shapes.values())
    run_keys = {
        "deployment_id",
        "models",
        "model_version",
        "model_version_id",
        "input_data",
        "output_template",
        "retry_count",
        "run_id",
        "status",
        "user_env_vars",
        "created_at",
        "modified_at",
    }
    assert set(shapes["run"]) == run_keys
    assert set(shapes["get_run"]) == run_keys
    assert set(shapes["get_runs"]) == {"entries", "next_page_token"}
    assert all(set(r) == run_keys for r in shapes["get_runs"]["entries"])
    assert set(shapes["logs"]) == {"events", "next_token"}
    assert set(shapes["logs"]["events"][0]) == {"message", "timestamp"}
    assert set(shapes["recent"]) == {"events", "next_backward_token", "next_forward_token"}


async def test_official_wire_format(abeja_sim: Simulator, official_client: Any) -> None:
    where = (abeja_sim.organization_id, abeja_sim.deployment_id)

    def work() -> None:
        run = official_client.create_run(*where, abeja_sim.version_id, retry_count=0)
        official_client.get_runs(*where, scan_forward=True, next_page_token="")
        official_client.get_run_logs(
            *where, run["run_id"], next_token="", start_time=datetime(2018, 1, 1, 9, 0, 0, 5)
        )
        official_client.get_run_recent_logs(*where, run["run_id"], next_forward_token="")

    await asyncio.to_thread(work)
    post, listing, logs, recent = abeja_sim.requests
    assert post.method == "POST"
    assert post.path.endswith("/runs")
    assert post.body == {"version_id": abeja_sim.version_id, "environment": {}, "retry_count": 0}
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["User-Agent"] == "abeja-platform-sdk/2.3.6"
    assert post.headers["Authorization"] == "Basic <redacted>"
    assert listing.query == {"scan_forward": "True", "next_page_token": ""}
    assert "Content-Type" not in listing.headers
    assert logs.query == {"start_time": "2018-01-01T09:00:00"}
    assert recent.query == {}


async def test_official_reads_the_env_lines_from_info(
    abeja_sim: Simulator,
    point_official_sdk: Callable[[Simulator], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_official_sdk(abeja_sim)
    for key, value in abeja_sim.info().items():
        monkeypatch.setenv(key, value)
    client = abeja_runs.APIClient(timeout=5, max_retry_count=1)
    run = await asyncio.to_thread(
        client.create_run,
        os.environ["ABEJA_ORGANIZATION_ID"],
        os.environ["ABEJA_DEPLOYMENT_ID"],
        os.environ["ABEJA_VERSION_ID"],
    )
    assert run["status"] == "SUBMITTED"


async def test_official_in_a_fresh_process_with_abeja_api_url(abeja_sim: Simulator) -> None:
    """Way A of reference §5: ``ABEJA_API_URL`` in the environment before the import."""
    code = (
        "import os\n"
        "from abeja.runs import APIClient\n"
        "api = APIClient(timeout=5, max_retry_count=1)\n"
        "e = os.environ\n"
        "run = api.create_run(e['ABEJA_ORGANIZATION_ID'], e['ABEJA_DEPLOYMENT_ID'],"
        " e['ABEJA_VERSION_ID'])\n"
        "print(run['status'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ABEJA", "PLATFORM"))}
    env |= abeja_sim.info()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "SUBMITTED"
    assert len(abeja_sim.runs) == 1


# ---------------------------------------------------------------------------- retries


@pytest.fixture
def _official_base_url(
    abeja_sim: Simulator, point_official_sdk: Callable[[Simulator], None]
) -> None:
    point_official_sdk(abeja_sim)


async def test_official_replays_post_after_500(abeja_sim: Simulator, official_client: Any) -> None:
    """Reference §4.2: ``create_run`` is retried like a GET. A 500 then a success."""
    abeja_sim.fail_next(1, 500, method="POST")
    run = await asyncio.to_thread(
        official_client.create_run,
        abeja_sim.organization_id,
        abeja_sim.deployment_id,
        abeja_sim.version_id,
    )
    assert abeja_sim.count_requests("POST") == 2
    assert list(abeja_sim.runs) == [run["run_id"]]


@pytest.mark.usefixtures("_official_base_url")
async def test_official_500_retry_schedule(abeja_sim: Simulator) -> None:
    """``max_retry_count=2``: 3 POSTs in about 2 s (backoff 0 s, 2 s), then the error."""
    client = abeja_runs.APIClient(credential=abeja_sim.credential, timeout=5, max_retry_count=2)
    abeja_sim.fail_next(10, 500, method="POST")
    started = time.monotonic()
    with pytest.raises(abeja_exceptions.InternalServerError) as caught:
        await asyncio.to_thread(
            client.create_run,
            abeja_sim.organization_id,
            abeja_sim.deployment_id,
            abeja_sim.version_id,
        )
    elapsed = time.monotonic() - started
    assert abeja_sim.count_requests("POST") == 3
    assert 1.8 <= elapsed < 4
    assert caught.value.status_code == 500
    assert caught.value.error == "internal_server_error"
    assert abeja_sim.runs == {}


@pytest.mark.usefixtures("_official_base_url")
async def test_official_replays_post_after_read_timeout(abeja_sim: Simulator) -> None:
    """Reference §4.2: timeout 0.3 s, 1 retry: 2 POSTs, 2 runs, ``ConnectionError``."""
    client = abeja_runs.APIClient(credential=abeja_sim.credential, timeout=0.3, max_retry_count=1)
    abeja_sim.slow_next(2, 1.0, method="POST")
    with pytest.raises(requests_exceptions.ConnectionError):
        await asyncio.to_thread(
            client.create_run,
            abeja_sim.organization_id,
            abeja_sim.deployment_id,
            abeja_sim.version_id,
        )
    assert abeja_sim.count_requests("POST") == 2
    assert len(abeja_sim.runs) == 2  # the duplicate the reference warns about


async def test_official_429_needs_retry_after(abeja_sim: Simulator, official_client: Any) -> None:
    """Reference §3.1/§4.1: 429 without Retry-After is not retried; with it, it is honoured."""
    where = (abeja_sim.organization_id, abeja_sim.deployment_id)
    abeja_sim.fail_next(1, 429)
    with pytest.raises(abeja_exceptions.HttpError) as caught:
        await asyncio.to_thread(official_client.get_runs, *where)
    assert caught.value.status_code == 429
    assert abeja_sim.count_requests() == 1

    abeja_sim.rate_limit_next(1, retry_after=1)
    started = time.monotonic()
    page = await asyncio.to_thread(official_client.get_runs, *where)
    assert page == {"entries": []}
    assert time.monotonic() - started >= 0.9
    assert abeja_sim.count_requests() == 3


async def test_official_503_retried_without_retry_after(
    abeja_sim: Simulator, official_client: Any
) -> None:
    abeja_sim.fail_next(1, 503)
    page = await asyncio.to_thread(
        official_client.get_runs, abeja_sim.organization_id, abeja_sim.deployment_id
    )
    assert page == {"entries": []}
    assert [r.status for r in abeja_sim.requests] == [503, 200]


async def test_official_error_string_format(abeja_sim: Simulator, official_client: Any) -> None:
    """Reference §3.1: ``<NotFound "not_found": … (404 from URL), {detail}>``."""
    with pytest.raises(abeja_exceptions.NotFound) as caught:
        await asyncio.to_thread(
            official_client.get_run,
            abeja_sim.organization_id,
            abeja_sim.deployment_id,
            UNKNOWN_RUN,
        )
    url = f"{abeja_sim.url}/organizations/{abeja_sim.organization_id}/deployments/"
    url += f"{abeja_sim.deployment_id}/runs/{UNKNOWN_RUN}"
    assert str(caught.value) == (
        f'<NotFound "not_found": run not found (404 from {url}), '
        f"{{'run_id': ['unknown run: {UNKNOWN_RUN}']}}>"
    )
    assert abeja_sim.personal_access_token not in str(caught.value)


@pytest.mark.usefixtures("_official_base_url")
async def test_official_env_config_bugs(
    abeja_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reference §4.3: the SDK keeps these env values as strings."""
    where = (abeja_sim.organization_id, abeja_sim.deployment_id)
    monkeypatch.setenv("ABEJA_SDK_CONNECTION_TIMEOUT", "5")
    client = abeja_runs.APIClient(credential=abeja_sim.credential)
    with pytest.raises(ValueError, match="Timeout value connect was 5"):
        await asyncio.to_thread(client.get_runs, *where)
    monkeypatch.delenv("ABEJA_SDK_CONNECTION_TIMEOUT")

    monkeypatch.setenv("ABEJA_SDK_MAX_RETRY_COUNT", "2")
    client = abeja_runs.APIClient(credential=abeja_sim.credential, timeout=5)
    assert await asyncio.to_thread(client.get_runs, *where) == {"entries": []}
    abeja_sim.fail_next(1, 503)
    with pytest.raises(TypeError, match="unsupported operand"):
        await asyncio.to_thread(client.get_runs, *where)
