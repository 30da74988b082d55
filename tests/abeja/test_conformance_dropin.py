"""``tether.abeja.APIClient`` is a drop-in for ``abeja.runs.APIClient``.

The official scenario (``run_official_scenario`` in ``test_conformance_official.py``) is run
with the official client and with tether's drop-ins, each against a fresh simulator built with
the same seed, and the transcripts (every result dict and every error's class name and
attributes) and the request logs the simulators recorded are compared exactly.

Intended differences, asserted here rather than hidden:

- ``DEVIATIONS``: two calls the scenario makes with bad input (``retry_count=10`` and a
  non-string ``environment`` value) fail in tether with ``ValidationError`` before any
  request; the official SDK sends them and gets ``BadRequest``.
- behaviour the scenario leaves out on purpose (the official SDK replays ``create_run`` after
  a 500 or a read timeout; it does not retry a 429 without Retry-After; it keeps timeout and
  retry settings from the environment as strings): see the tests after the transcript ones.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

import tether
from tether.abeja import (
    APIClient,
    AsyncAPIClient,
    BadRequest,
    Conflict,
    Forbidden,
    HttpError,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    error_class,
)
from tether.testing.abeja import Simulator

abeja_runs = pytest.importorskip("abeja.runs")
abeja_exceptions = pytest.importorskip("abeja.exceptions")

Step = tuple[str, dict[str, Any], dict[str, Any]]
SimFactory = Callable[..., Coroutine[Any, Any, Simulator]]
Point = Callable[[Simulator], None]


def _official_module() -> ModuleType:
    name = "_abeja_official_scenario"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).with_name("test_conformance_official.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


OFFICIAL = _official_module()
run_official_scenario: Callable[[Any, Simulator], list[Step]] = OFFICIAL.run_official_scenario


def _is_deviation(op: str, args: dict[str, Any]) -> bool:
    """Calls the official SDK sends and tether refuses before sending (bad input)."""
    return op == "create_run" and (
        args.get("retry_count") == 10 or args.get("environment") == {"DEBUG": 1}
    )


DEVIATION_COUNT = 2


def _wire(sim: Simulator) -> list[tuple[Any, ...]]:
    """What reached the simulator, without the headers that name the client."""
    return [(r.method, r.path, dict(r.query), r.body, r.status) for r in sim.requests]


def assert_same_transcript(official: list[Step], ours: list[Step]) -> None:
    """Equal step by step, except the documented deviations (asserted as such)."""
    assert len(ours) == len(official)
    deviations = 0
    for index, (theirs, mine) in enumerate(zip(official, ours, strict=True)):
        op, args, outcome = theirs
        if _is_deviation(op, args):
            deviations += 1
            assert mine[:2] == theirs[:2], index
            assert outcome["exception"] == "BadRequest", index
            assert mine[2] == {"exception": "ValidationError"}, index
            continue
        assert mine == theirs, f"step {index}: {op} {args}"
    assert deviations == DEVIATION_COUNT


async def _official_transcript(
    make_abeja_sim: SimFactory, point_official_sdk: Point, **sim_options: Any
) -> tuple[list[Step], Simulator]:
    sim = await make_abeja_sim(**sim_options)
    point_official_sdk(sim)
    client = abeja_runs.APIClient(credential=sim.credential, timeout=5, max_retry_count=1)
    return await asyncio.to_thread(run_official_scenario, client, sim), sim


async def test_dropin_transcript_is_the_official_one(
    make_abeja_sim: SimFactory, point_official_sdk: Point
) -> None:
    official, official_sim = await _official_transcript(make_abeja_sim, point_official_sdk)

    sim = await make_abeja_sim()
    point_official_sdk(sim)  # ABEJA_API_URL: read by tether when each client is created
    client = APIClient(credential=sim.credential, timeout=5, max_retry_count=1)
    ours = await asyncio.to_thread(run_official_scenario, client, sim)

    assert len(official) > 80
    assert_same_transcript(official, ours)
    # the very same requests reached the server, minus the two tether refused to send
    refused = [
        r
        for r in _wire(official_sim)
        if r[0] == "POST"
        and isinstance(r[3], dict)
        and (r[3].get("retry_count") == 10 or r[3].get("environment") == {"DEBUG": 1})
    ]
    assert len(refused) == DEVIATION_COUNT
    assert _wire(sim) == [r for r in _wire(official_sim) if r not in refused]
    assert sim.runs == official_sim.runs


async def test_async_dropin_transcript_is_the_official_one(
    make_abeja_sim: SimFactory, point_official_sdk: Point
) -> None:
    """``AsyncAPIClient`` through the same scenario (driven from a thread, run on this loop)."""
    official, official_sim = await _official_transcript(make_abeja_sim, point_official_sdk)
    sim = await make_abeja_sim()
    point_official_sdk(sim)
    loop = asyncio.get_running_loop()
    created: list[AsyncAPIClient] = []

    class SyncOverAsync:
        """The official API, each call awaited on the test's loop."""

        def __init__(self, **options: Any) -> None:
            self.client = AsyncAPIClient(**options)
            created.append(self.client)

        def __getattr__(self, name: str) -> Callable[..., Any]:
            method = getattr(self.client, name)

            def call(**kwargs: Any) -> Any:
                return asyncio.run_coroutine_threadsafe(method(**kwargs), loop).result(60)

            return call

    try:
        client = SyncOverAsync(credential=sim.credential, timeout=5, max_retry_count=1)
        ours = await asyncio.to_thread(run_official_scenario, client, sim)
    finally:
        for each in created:
            await each.aclose()
    assert len(created) == 6  # the scenario built five more for the authentication cases
    assert_same_transcript(official, ours)
    assert sim.runs == official_sim.runs


@pytest.mark.parametrize("as_string", [False, True])
async def test_same_dicts_for_every_operation(
    make_abeja_sim: SimFactory, point_official_sdk: Point, as_string: bool
) -> None:
    """``input_data`` as a JSON string (the upstream fixture's form) comes back unchanged."""

    async def shapes(make_client: Callable[[Simulator], Any]) -> dict[str, Any]:
        sim = await make_abeja_sim(input_data_as_string=as_string)
        point_official_sdk(sim)
        client = make_client(sim)
        where = (sim.organization_id, sim.deployment_id)

        def work() -> dict[str, Any]:
            run = client.create_run(*where, sim.version_id, **OFFICIAL.FULL_RUN)
            sim.advance(sim.steps_to_finish)
            for _ in range(4):
                client.create_run(*where, sim.version_id)
            return {
                "run": run,
                "get_run": client.get_run(*where, run["run_id"]),
                "get_runs": client.get_runs(*where),
                "ascending": client.get_runs(*where, scan_forward=True),
                "logs": client.get_run_logs(*where, run["run_id"]),
                "recent": client.get_run_recent_logs(*where, run["run_id"]),
            }

        return await asyncio.to_thread(work)

    official = await shapes(
        lambda sim: abeja_runs.APIClient(credential=sim.credential, timeout=5, max_retry_count=1)
    )
    ours = await shapes(lambda sim: APIClient(credential=sim.credential))
    assert ours == official
    assert isinstance(ours["run"]["input_data"], str) is as_string
    assert all(type(v) is dict for v in ours.values())


# ---------------------------------------------------------------------- intended differences


@pytest.fixture
def pointed(abeja_sim: Simulator, point_official_sdk: Point) -> Simulator:
    point_official_sdk(abeja_sim)
    return abeja_sim


def _where(sim: Simulator) -> tuple[str, str]:
    return sim.organization_id, sim.deployment_id


async def test_create_run_is_not_replayed_after_500(pointed: Simulator) -> None:
    """The official SDK sends the POST again (reference §4.2); tether never does."""
    client = APIClient(credential=pointed.credential, timeout=5, max_retry_count=3)
    pointed.fail_next(1, 500, method="POST")
    with pytest.raises(InternalServerError) as caught:
        await asyncio.to_thread(client.create_run, *_where(pointed), pointed.version_id)
    assert pointed.count_requests("POST") == 1
    assert caught.value.status_code == 500
    assert isinstance(caught.value, tether.InternalServerError)
    # the next call is not a replay either: one POST, one run
    run = await asyncio.to_thread(client.create_run, *_where(pointed), pointed.version_id)
    assert list(pointed.runs) == [run["run_id"]]


async def test_create_run_is_not_replayed_after_a_read_timeout(pointed: Simulator) -> None:
    """Official: 2 POSTs, 2 runs, ``requests.ConnectionError``. tether: 1, 1, a timeout."""
    client = APIClient(credential=pointed.credential, timeout=0.3, max_retry_count=1)
    pointed.slow_next(2, 1.0, method="POST")
    with pytest.raises(tether.APITimeoutError):
        await asyncio.to_thread(client.create_run, *_where(pointed), pointed.version_id)
    assert pointed.count_requests("POST") == 1
    assert len(pointed.runs) == 1  # the platform did create it: no duplicate


async def test_gets_are_retried_and_429_without_retry_after_too(pointed: Simulator) -> None:
    client = APIClient(credential=pointed.credential, timeout=5, max_retry_count=2)
    pointed.fail_next(2, 500, method="GET")
    assert await asyncio.to_thread(client.get_runs, *_where(pointed)) == {"entries": []}
    assert [r.status for r in pointed.requests] == [500, 500, 200]
    pointed.clear_requests()
    pointed.fail_next(1, 429)  # no Retry-After: the official SDK raises at once
    assert await asyncio.to_thread(client.get_runs, *_where(pointed)) == {"entries": []}
    assert [r.status for r in pointed.requests] == [429, 200]


async def test_max_retry_count_zero_means_no_retries(pointed: Simulator) -> None:
    """The official SDK reads ``0`` as "not given" and retries 5 times."""
    client = APIClient(credential=pointed.credential, timeout=5, max_retry_count=0)
    pointed.fail_next(1, 503, retry_after=0)
    with pytest.raises(HttpError) as caught:
        await asyncio.to_thread(client.get_runs, *_where(pointed))
    assert type(caught.value).__name__ == "HttpError"
    assert caught.value.status_code == 503
    assert isinstance(caught.value, tether.InternalServerError)
    assert pointed.count_requests() == 1


async def test_env_timeout_and_retry_count_are_numbers(
    pointed: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official SDK fails every call (timeout) or the first retry (count) with these."""
    monkeypatch.setenv("ABEJA_SDK_CONNECTION_TIMEOUT", "5")
    monkeypatch.setenv("ABEJA_SDK_MAX_RETRY_COUNT", "2")
    client = APIClient(credential=pointed.credential)
    assert client._wrapped.http.timeout == 5.0
    assert client._wrapped.http.retries.max_retries == 2
    pointed.fail_next(2, 503, retry_after=0)
    assert await asyncio.to_thread(client.get_runs, *_where(pointed)) == {"entries": []}
    assert pointed.count_requests() == 3
    monkeypatch.setenv("ABEJA_SDK_CONNECTION_TIMEOUT", "soon")
    with pytest.raises(tether.ValidationError, match="ABEJA_SDK_CONNECTION_TIMEOUT"):
        APIClient(credential=pointed.credential)


async def test_timeout_zero_falls_back_like_the_official_sdk(pointed: Simulator) -> None:
    client = APIClient(credential=pointed.credential, timeout=0)
    assert client._wrapped.http.timeout == 30.0


async def test_aware_log_window_is_sent_in_utc(pointed: Simulator) -> None:
    """The official SDK sends an aware datetime's wall clock as if it were UTC."""
    client = APIClient(credential=pointed.credential)
    run = await asyncio.to_thread(client.create_run, *_where(pointed), pointed.version_id)
    tokyo = timezone(timedelta(hours=9))
    await asyncio.to_thread(
        client.get_run_logs,
        *_where(pointed),
        run["run_id"],
        start_time=datetime(2018, 1, 1, 9, 0, 0, 5, tzinfo=tokyo),
        end_time=datetime(2018, 1, 1, 9, 30),  # naive: UTC, sent as given
    )
    assert pointed.requests[-1].query == {
        "start_time": "2018-01-01T00:00:00",
        "end_time": "2018-01-01T09:30:00",
    }


async def test_api_url_is_read_when_the_client_is_made(
    abeja_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official SDK reads ``ABEJA_API_URL`` once, at import; a trailing / breaks it."""
    monkeypatch.setenv("ABEJA_API_URL", abeja_sim.url + "/")
    client = APIClient(credential=abeja_sim.credential)
    assert await asyncio.to_thread(client.get_runs, *_where(abeja_sim)) == {"entries": []}
    assert abeja_sim.requests[-1].path.startswith("/organizations/")


async def test_credential_dict_is_not_modified(pointed: Simulator) -> None:
    credential = {
        "user_id": pointed.user_id,
        "personal_access_token": pointed.personal_access_token,
    }
    official = dict(credential)
    abeja_runs.APIClient(credential=official)
    assert official["user_id"] == f"user-{pointed.user_id}"  # the official SDK rewrites it
    client = APIClient(credential=credential)
    assert credential["user_id"] == pointed.user_id
    assert (await asyncio.to_thread(client.get_runs, *_where(pointed)))["entries"] == []
    assert pointed.requests[-1].headers["Authorization"] == "Basic <redacted>"


async def test_environment_credentials_like_the_official_sdk(
    pointed: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in pointed.info().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PLATFORM_AUTH_TOKEN", pointed.auth_token)  # wins over user + PAT
    client = APIClient()
    assert "auth token" in repr(client)
    assert await asyncio.to_thread(client.get_runs, *_where(pointed)) == {"entries": []}
    assert pointed.requests[-1].headers["Authorization"] == "Bearer <redacted>"
    monkeypatch.delenv("PLATFORM_AUTH_TOKEN")
    assert "user id" in repr(APIClient())
    assert "no credentials" in repr(APIClient(credential={}))


# ----------------------------------------------------------------------------- exceptions


async def test_error_string_and_attributes_match_the_official(pointed: Simulator) -> None:
    client = APIClient(credential=pointed.credential, timeout=5, max_retry_count=1)
    official = abeja_runs.APIClient(credential=pointed.credential, timeout=5, max_retry_count=1)
    unknown = "run-0000000000000000"
    with pytest.raises(abeja_exceptions.NotFound) as theirs:
        await asyncio.to_thread(official.get_run, *_where(pointed), unknown)
    with pytest.raises(NotFound) as ours:
        await asyncio.to_thread(client.get_run, *_where(pointed), unknown)
    assert str(ours.value) == str(theirs.value)
    assert repr(ours.value) == repr(theirs.value)
    assert ours.value._asdict() == theirs.value._asdict()
    assert isinstance(ours.value, tether.NotFoundError)
    assert ours.value.status == 404


def test_error_classes_mirror_the_official_ones() -> None:
    expected = {
        400: (BadRequest, tether.BadRequestError),
        401: (Unauthorized, tether.AuthenticationError),
        403: (Forbidden, tether.PermissionDeniedError),
        404: (NotFound, tether.NotFoundError),
        405: (MethodNotAllowed, tether.APIStatusError),
        409: (Conflict, tether.ConflictError),
        422: (HttpError, tether.UnprocessableEntityError),
        429: (HttpError, tether.RateLimitError),
        500: (InternalServerError, tether.InternalServerError),
        502: (HttpError, tether.InternalServerError),
        418: (HttpError, tether.APIStatusError),
    }
    for status, (ours, tethers) in expected.items():
        cls = error_class(status)
        assert issubclass(cls, ours) and issubclass(cls, tethers), status
        assert issubclass(cls, HttpError)
        official_name = {
            400: "BadRequest",
            401: "Unauthorized",
            403: "Forbidden",
            404: "NotFound",
            405: "MethodNotAllowed",
            409: "Conflict",
            500: "InternalServerError",
        }.get(status, "HttpError")
        assert cls.__name__ == official_name
        assert hasattr(abeja_exceptions, official_name)
    # constructed like the official ones (test doubles keep working)
    error = NotFound("not_found", "run not found", {"run_id": ["x"]}, 404, "http://h/r")
    assert (
        str(error)
        == "<NotFound \"not_found\": run not found (404 from http://h/r), {'run_id': ['x']}>"
    )
    assert error.status == 404
    bare = BadRequest("bad_request", "nope")
    assert (bare.status_code, bare.url, bare.error_detail, bare.status) == (None, None, None, 400)


@pytest.fixture
async def odd_errors(point_official_sdk: Point) -> AsyncIterator[str]:
    """A server answering ``GET …/runs/{kind}`` with error bodies of unusual shapes."""
    bodies: dict[str, tuple[int, bytes, str]] = {
        "text": (404, b"no such thing", "text/plain"),
        "other-json": (400, b'{"message": "bad"}', "application/json"),
        "empty": (403, b"", "text/plain"),
        "list": (418, b'["x"]', "application/json"),
    }

    async def handle(request: web.Request) -> web.Response:
        status, body, kind = bodies[request.match_info["kind"]]
        return web.Response(status=status, body=body, content_type=kind)

    app = web.Application()
    app.router.add_get("/organizations/{o}/deployments/{d}/runs/{kind}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    point_official_sdk(SimpleNamespace(url=url))  # type: ignore[arg-type]
    try:
        yield url
    finally:
        await runner.cleanup()


@pytest.mark.usefixtures("odd_errors")
async def test_error_body_fallbacks_like_the_official() -> None:
    """Non-JSON error bodies and other JSON shapes read like the official SDK reads them."""
    official = abeja_runs.APIClient(credential={"auth_token": "t"}, timeout=5, max_retry_count=1)
    client = APIClient(credential={"auth_token": "t"}, timeout=5, max_retry_count=1)
    for kind in ("text", "other-json", "empty", "list"):
        caught: list[Exception] = []
        for each in (official, client):
            try:
                await asyncio.to_thread(each.get_run, "1", "2", kind)
            except Exception as exc:
                caught.append(exc)
        theirs, ours = caught
        assert isinstance(ours, HttpError)
        if kind == "list":  # the official SDK's own handler crashes on a JSON list
            assert isinstance(theirs, AttributeError)
            assert (ours.status_code, ours.error, ours.error_description) == (
                418,
                "I'm a Teapot",
                '["x"]',
            )
            continue
        assert type(ours).__name__ == type(theirs).__name__, kind
        for name in ("error", "error_description", "error_detail", "status_code"):
            assert getattr(ours, name) == getattr(theirs, name), (kind, name)
