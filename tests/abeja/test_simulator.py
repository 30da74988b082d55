"""Raw HTTP tests of the ABEJA run simulator: every endpoint, error path, token and fault."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aiohttp
import pytest

from tether.testing import load_simulator
from tether.testing.abeja import STATUSES, RecordedRequest, Simulator

RUN_ID = re.compile(r"^run-\d{16}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
RUN_KEYS = {
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


def bounded_pages(limit: int = 50) -> Iterator[int]:
    """Bound a paging loop: a server that never ends its pages fails the test, not hangs it."""
    yield from range(limit)
    raise AssertionError(f"still paging after {limit} pages")


def basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


class Api:
    """A thin raw client: answers ``(status, json_body, headers)``."""

    def __init__(self, session: aiohttp.ClientSession, sim: Simulator) -> None:
        self.session = session
        self.sim = sim
        self.auth: str | None = basic(f"user-{sim.user_id}", sim.personal_access_token)

    def runs_path(self, org: str | None = None, dep: str | None = None) -> str:
        org = org or self.sim.organization_id
        dep = dep or self.sim.deployment_id
        return f"/organizations/{org}/deployments/{dep}/runs"

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        auth: str | None = "default",
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        headers: dict[str, str] = {}
        token = self.auth if auth == "default" else auth
        if token is not None:
            headers["Authorization"] = token
        async with self.session.request(
            method, self.sim.url + path, json=json, data=data, params=params, headers=headers
        ) as response:
            assert response.content_type == "application/json"
            body: Any = await response.json()
            assert isinstance(body, dict)
            return response.status, cast("dict[str, Any]", body), response.headers

    async def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("version_id", self.sim.version_id)
        body.setdefault("environment", {})
        status, run, _ = await self.call("POST", self.runs_path(), json=body)
        assert status == 200, run
        return run

    async def get(self, run_id: str) -> dict[str, Any]:
        status, run, _ = await self.call("GET", f"{self.runs_path()}/{run_id}")
        assert status == 200, run
        return run

    async def page(self, suffix: str = "", **params: str) -> dict[str, Any]:
        status, body, _ = await self.call("GET", self.runs_path() + suffix, params=params)
        assert status == 200, body
        return body


def assert_error(status: int, body: Mapping[str, Any], code: int, error: str) -> None:
    assert status == code, body
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    assert set(body) <= {"error", "error_description", "error_detail"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(http: aiohttp.ClientSession, abeja_sim: Simulator) -> Api:
    return Api(http, abeja_sim)


# ---------------------------------------------------------------------------- lifecycle


async def test_info_url_and_repr_without_secrets(abeja_sim: Simulator) -> None:
    info = abeja_sim.info()
    assert info["URL"] == abeja_sim.url == info["ABEJA_API_URL"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", info["URL"])
    assert info["ABEJA_ORGANIZATION_ID"] == abeja_sim.organization_id
    assert info["ABEJA_PLATFORM_USER_ID"] == abeja_sim.user_id
    assert info["ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN"] == abeja_sim.personal_access_token
    assert abeja_sim.personal_access_token not in repr(abeja_sim)
    assert abeja_sim.auth_token not in repr(abeja_sim)
    assert load_simulator("abeja") is Simulator


async def test_start_stop_idempotent_and_url_needs_start() -> None:
    sim = Simulator(step_seconds=None)
    with pytest.raises(RuntimeError):
        _ = sim.url
    await sim.start()
    await sim.start()
    assert sim.port > 0
    await sim.stop()
    await sim.stop()


def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="step_seconds"):
        Simulator(step_seconds=0)
    with pytest.raises(ValueError, match="running_steps"):
        Simulator(running_steps=0)
    with pytest.raises(ValueError, match="page_size"):
        Simulator(page_size=0)
    with pytest.raises(ValueError, match="outcome"):
        Simulator(default_outcome="DONE")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- create_run


async def test_create_minimal_run(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    assert set(run) == RUN_KEYS  # no distribution when none was sent
    assert RUN_ID.match(run["run_id"])
    assert run["status"] == "SUBMITTED"
    assert run["deployment_id"] == abeja_sim.deployment_id
    assert run["model_version_id"] == abeja_sim.version_id
    assert run["model_version"] == "0.0.1"
    assert run["models"] == {}
    assert run["input_data"] is None
    assert run["output_template"] is None
    assert run["retry_count"] == 5
    assert run["user_env_vars"] == {}
    assert TIMESTAMP.match(run["created_at"])
    assert run["created_at"] == run["modified_at"]
    assert abeja_sim.runs[run["run_id"]] == run


async def test_create_full_run_echoes_every_field(api: Api) -> None:
    run = await api.create(
        environment={"K": "V"},
        input_data={"$datalake:1": "ch/f"},
        models={"alias": "4444444444444"},
        output_template={"$datalake:1": "ch2"},
        retry_count=0,
        distribution=3,
    )
    assert set(run) == RUN_KEYS | {"distribution"}
    assert run["user_env_vars"] == {"K": "V"}
    assert run["input_data"] == {"$datalake:1": "ch/f"}
    assert run["models"] == {"alias": "4444444444444"}
    assert run["output_template"] == {"$datalake:1": "ch2"}
    assert run["retry_count"] == 0
    assert run["distribution"] == 3


async def test_create_accepts_trailing_slash_and_missing_environment(api: Api) -> None:
    status, run, _ = await api.call(
        "POST", api.runs_path() + "/", json={"version_id": api.sim.version_id}
    )
    assert status == 200
    assert run["user_env_vars"] == {}


async def test_input_data_as_json_string(make_abeja_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_abeja_sim(input_data_as_string=True)
    run = await Api(http, sim).create(input_data={"$datalake:1": "ch/f"})
    assert run["input_data"] == '{"$datalake:1": "ch/f"}'


async def test_run_ids_are_deterministic_per_seed(
    make_abeja_sim: Any, http: aiohttp.ClientSession
) -> None:
    first, second, other = (
        await make_abeja_sim(seed=5),
        await make_abeja_sim(seed=5),
        await make_abeja_sim(seed=6),
    )
    ids = [[(await Api(http, s).create())["run_id"] for _ in range(3)] for s in (first, second)]
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 3
    assert (await Api(http, other).create())["run_id"] != ids[0][0]


async def test_id_factory_and_deterministic_clock(
    make_abeja_sim: Any, http: aiohttp.ClientSession
) -> None:
    counter = iter(range(1, 100))
    sim = await make_abeja_sim(id_factory=lambda: f"run-{next(counter):016d}")
    api = Api(http, sim)
    first, second = await api.create(), await api.create()
    assert first["run_id"] == "run-0000000000000001"
    assert second["run_id"] == "run-0000000000000002"
    assert first["created_at"] == "2018-01-01T00:00:00.001000Z"
    assert second["created_at"] == "2018-01-01T00:00:00.002000Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"environment": {}}, "version_id"),
        ({"version_id": 7}, "version_id"),
        ({"version_id": "ver-0000000000000000"}, "version_id"),
        ({"retry_count": 10}, "retry_count"),
        ({"retry_count": -1}, "retry_count"),
        ({"retry_count": "3"}, "retry_count"),
        ({"retry_count": True}, "retry_count"),
        ({"environment": {"K": 1}}, "environment"),
        ({"environment": ["K"]}, "environment"),
        ({"distribution": -1}, "distribution"),
        ({"distribution": 1.5}, "distribution"),
        ({"input_data": {"$datalake:1": 3}}, "input_data"),
        ({"output_template": 3}, "output_template"),
        ({"models": {"alias": 4}}, "models"),
    ],
)
async def test_create_validation(api: Api, body: dict[str, Any], field: str) -> None:
    if "version_id" not in body and field != "version_id":
        body["version_id"] = api.sim.version_id
    status, error, _ = await api.call("POST", api.runs_path(), json=body)
    assert_error(status, error, 400, "bad_request")
    assert set(error["error_detail"]) == {field}
    assert api.sim.runs == {}


async def test_create_reports_every_problem_at_once(api: Api) -> None:
    status, error, _ = await api.call(
        "POST", api.runs_path(), json={"retry_count": 99, "environment": {"A": None}}
    )
    assert_error(status, error, 400, "bad_request")
    assert set(error["error_detail"]) == {"version_id", "retry_count", "environment"}


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b'"text"'])
async def test_create_rejects_bodies_that_are_not_objects(api: Api, raw: bytes) -> None:
    status, error, _ = await api.call("POST", api.runs_path(), data=raw)
    assert_error(status, error, 400, "bad_request")


async def test_version_of_another_deployment_is_unknown(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.add_deployment("5555555555555", versions={"ver-5555555555555555": "2.0.0"})
    status, error, _ = await api.call(
        "POST",
        api.runs_path(dep="5555555555555"),
        json={"version_id": abeja_sim.version_id, "environment": {}},
    )
    assert_error(status, error, 400, "bad_request")
    status, run, _ = await api.call(
        "POST",
        api.runs_path(dep="5555555555555"),
        json={"version_id": "ver-5555555555555555", "environment": {}},
    )
    assert status == 200
    assert run["model_version"] == "2.0.0"


# ---------------------------------------------------------------------------- auth + access


async def test_missing_authorization_is_401(api: Api) -> None:
    for method, path in [("POST", api.runs_path()), ("GET", api.runs_path())]:
        status, error, _ = await api.call(method, path, json={}, auth=None)
        assert_error(status, error, 401, "unauthorized")
    assert api.sim.runs == {}


async def test_every_credential_kind_is_accepted(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    path = f"{api.runs_path()}/{run['run_id']}"
    for auth in (
        f"Bearer {abeja_sim.auth_token}",
        basic(f"user-{abeja_sim.user_id}", abeja_sim.personal_access_token),
        basic(f"datasource-{abeja_sim.datasource_id}", abeja_sim.datasource_secret),
        "bearer " + abeja_sim.auth_token,
    ):
        status, body, _ = await api.call("GET", path, auth=auth)
        assert status == 200, auth
        assert body["run_id"] == run["run_id"]


@pytest.mark.parametrize(
    "auth",
    [
        "Bearer wrong-token",
        "Bearer ",
        "Token sim-platform-auth-token",
        basic("user-1234567890123", "wrong-pat"),
        basic("1234567890123", "sim-personal-access-token"),  # the SDK always adds user-
        basic("user-9999999999999", "sim-personal-access-token"),
        basic("datasource-3333333333333", "wrong"),
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
    ],
)
async def test_wrong_credentials_are_401(api: Api, auth: str) -> None:
    status, error, _ = await api.call("GET", api.runs_path(), auth=auth)
    assert_error(status, error, 401, "unauthorized")
    assert "wrong" not in error["error_description"]


async def test_organization_and_deployment_access(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.add_organization("9999999999999", accessible=False)
    abeja_sim.add_deployment("6666666666666", accessible=False, versions={"ver-6": "1"})
    cases = [
        (api.runs_path(org="9999999999999"), 403, "forbidden"),
        (api.runs_path(org="8888888888888"), 404, "not_found"),
        (api.runs_path(dep="6666666666666"), 403, "forbidden"),
        (api.runs_path(dep="7777777777777"), 404, "not_found"),
        (api.runs_path() + "/run-0000000000000000", 404, "not_found"),
        (api.runs_path() + "/run-0000000000000000/logs", 404, "not_found"),
        (api.runs_path() + "/run-0000000000000000/recentlogs", 404, "not_found"),
    ]
    for path, code, error_name in cases:
        status, error, _ = await api.call("GET", path)
        assert_error(status, error, code, error_name)
    status, error, _ = await api.call("GET", api.runs_path() + "/run-0000000000000000")
    assert error["error_detail"] == {"run_id": ["unknown run: run-0000000000000000"]}
    with pytest.raises(ValueError, match="already exists"):
        abeja_sim.add_organization("9999999999999")
    with pytest.raises(ValueError, match="unknown organization"):
        abeja_sim.add_deployment("1", organization_id="404")


async def test_run_of_another_deployment_is_not_found(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.add_deployment("5555555555555", versions={"ver-5": "1"})
    run = await api.create()
    status, error, _ = await api.call(
        "GET", f"{api.runs_path(dep='5555555555555')}/{run['run_id']}"
    )
    assert_error(status, error, 404, "not_found")


async def test_unknown_path_and_method_are_json_errors(api: Api) -> None:
    status, error, _ = await api.call("GET", "/organizations/1/nothing")
    assert_error(status, error, 404, "not_found")
    status, error, headers = await api.call("DELETE", api.runs_path() + "/run-1")
    assert_error(status, error, 405, "method_not_allowed")
    assert headers["Allow"] == "GET"
    # the trap of a trailing slash in the base URL: not collapsed, a JSON 404
    status, error, _ = await api.call("GET", "/" + api.runs_path())
    assert_error(status, error, 404, "not_found")


# ---------------------------------------------------------------------------- get_run + status


async def test_status_progression_and_logs(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    assert abeja_sim.steps_to_finish == 6
    seen = [run["status"]]
    stamps = [run["modified_at"]]
    for _ in range(abeja_sim.steps_to_finish):
        abeja_sim.advance()
        current = await api.get(run["run_id"])
        assert current["created_at"] == run["created_at"]
        seen.append(current["status"])
        stamps.append(current["modified_at"])
    assert seen == [
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "RUNNING",
        "SUCCEEDED",
    ]
    changed = [stamps[i] for i in (0, 1, 2, 3, 4, 6)]
    assert changed == sorted(changed)
    assert len(set(changed)) == len(changed)
    messages = [e["message"] for e in abeja_sim.run_logs(run["run_id"])]
    assert len(messages) == 6
    assert messages[0] == "step 1/2: user code output 1"
    abeja_sim.advance(3)
    assert (await api.get(run["run_id"]))["status"] == "SUCCEEDED"
    assert len(abeja_sim.run_logs(run["run_id"])) == 6


async def test_get_run_trailing_slash(api: Api) -> None:
    run = await api.create()
    status, body, _ = await api.call("GET", f"{api.runs_path()}/{run['run_id']}/")
    assert status == 200
    assert body == run


async def test_outcomes_by_id_predicate_and_default(
    api: Api, abeja_sim: Simulator, make_abeja_sim: Any, http: aiohttp.ClientSession
) -> None:
    by_id, by_rule, plain = await api.create(), await api.create(retry_count=1), await api.create()
    abeja_sim.set_outcome(by_id["run_id"], "FAILED")
    abeja_sim.set_outcome(lambda run: run["retry_count"] == 1, "FAILED")
    abeja_sim.advance(abeja_sim.steps_to_finish)
    statuses = {r: s["status"] for r, s in abeja_sim.runs.items()}
    assert statuses == {
        by_id["run_id"]: "FAILED",
        by_rule["run_id"]: "FAILED",
        plain["run_id"]: "SUCCEEDED",
    }
    last = abeja_sim.run_logs(by_id["run_id"])[-1]["message"]
    assert last.startswith("ERROR")
    assert not abeja_sim.run_logs(plain["run_id"])[-1]["message"].startswith("ERROR")
    with pytest.raises(ValueError, match="already finished"):
        abeja_sim.set_outcome(plain["run_id"], "FAILED")
    abeja_sim.set_outcome(plain["run_id"], "SUCCEEDED")  # same outcome: no error
    with pytest.raises(ValueError, match="outcome"):
        abeja_sim.set_outcome(plain["run_id"], "DONE")  # type: ignore[arg-type]

    failing = await make_abeja_sim(default_outcome="FAILED", running_steps=1)
    other = Api(http, failing)
    run = await other.create()
    failing.advance(failing.steps_to_finish)
    assert (await other.get(run["run_id"]))["status"] == "FAILED"


async def test_advance_one_run_only(api: Api, abeja_sim: Simulator) -> None:
    first, second = await api.create(), await api.create()
    abeja_sim.advance(2, run_id=first["run_id"])
    assert abeja_sim.runs[first["run_id"]]["status"] == "RUNNABLE"
    assert abeja_sim.runs[second["run_id"]]["status"] == "SUBMITTED"
    with pytest.raises(KeyError):
        abeja_sim.advance(run_id="run-0000000000000000")
    with pytest.raises(ValueError, match="negative"):
        abeja_sim.advance(-1)


async def test_advance_on_poll(make_abeja_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_abeja_sim(advance_on_poll=1)
    api = Api(http, sim)
    run = await api.create()
    seen = [(await api.get(run["run_id"]))["status"] for _ in range(sim.steps_to_finish + 1)]
    assert seen == [*STATUSES[1:5], "RUNNING", "SUCCEEDED", "SUCCEEDED"]


async def test_wall_clock_steps(make_abeja_sim: Any, http: aiohttp.ClientSession) -> None:
    sim = await make_abeja_sim(step_seconds=0.01, epoch=None)
    api = Api(http, sim)
    run = await api.create()
    created = datetime.strptime(run["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - created) < timedelta(seconds=30)
    deadline = time.monotonic() + 5
    while (await api.get(run["run_id"]))["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline, "the run never finished"
        await asyncio.sleep(0.01)


# ---------------------------------------------------------------------------- list runs


async def collect_pages(api: Api, **params: str) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    for _ in bounded_pages():
        query = dict(params)
        if token is not None:
            query["next_page_token"] = token
        body = await api.page(**query)
        assert set(body) <= {"entries", "next_page_token"}
        pages.append([r["run_id"] for r in body["entries"]])
        token = body.get("next_page_token")
        if token is None:
            break
        assert token
    return pages


async def test_list_runs_both_orders_no_duplicates_no_gaps(api: Api) -> None:
    created = [(await api.create())["run_id"] for _ in range(7)]
    descending = await collect_pages(api)
    assert [len(p) for p in descending] == [3, 3, 1]
    assert [r for p in descending for r in p] == created[::-1]
    assert await collect_pages(api, scan_forward="False") == descending
    ascending = await collect_pages(api, scan_forward="True")
    assert [r for p in ascending for r in p] == created
    for spelling in ("true", "TRUE", "1"):
        assert await collect_pages(api, scan_forward=spelling) == ascending


async def test_list_runs_edges(api: Api) -> None:
    assert await api.page() == {"entries": []}
    created = [(await api.create())["run_id"] for _ in range(3)]
    body = await api.page()
    assert "next_page_token" not in body  # exactly one full page: no token
    assert await api.page(next_page_token="") == body  # empty token means first page
    assert await api.page("/") == body
    assert body["entries"][0] == await api.get(created[-1])


async def test_list_runs_new_runs_between_pages(api: Api) -> None:
    created = [(await api.create())["run_id"] for _ in range(5)]
    first = await api.page()
    first_asc = await api.page(scan_forward="True")
    created.append((await api.create())["run_id"])
    rest = await api.page(next_page_token=first["next_page_token"])
    rest_asc = await api.page(scan_forward="True", next_page_token=first_asc["next_page_token"])
    listed = [r["run_id"] for r in first["entries"] + rest["entries"]]
    assert listed == created[:5][::-1]  # the newcomer sorts before page 1: not repeated
    listed_asc = [r["run_id"] for r in first_asc["entries"] + rest_asc["entries"]]
    assert listed_asc == created  # ascending: the newcomer shows up at the end


async def test_list_runs_bad_parameters(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.add_deployment("5555555555555", versions={"ver-5": "1"})
    for _ in range(4):
        await api.create()
    token = (await api.page())["next_page_token"]
    bad = [
        {"scan_forward": "maybe"},
        {"next_page_token": "not a token"},
        {"next_page_token": base64.b64encode(b'{"t":"runs"}').decode()},
        {"next_page_token": base64.b64encode(b"[1]").decode()},
    ]
    for params in bad:
        status, error, _ = await api.call("GET", api.runs_path(), params=params)
        assert_error(status, error, 400, "bad_request")
    status, error, _ = await api.call(
        "GET", api.runs_path(dep="5555555555555"), params={"next_page_token": token}
    )
    assert_error(status, error, 400, "bad_request")


async def test_lists_are_per_deployment(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.add_deployment("5555555555555", versions={"ver-5": "1"})
    mine = await api.create()
    status, body, _ = await api.call("GET", api.runs_path(dep="5555555555555"))
    assert status == 200
    assert body == {"entries": []}
    assert [r["run_id"] for r in (await api.page())["entries"]] == [mine["run_id"]]


# ---------------------------------------------------------------------------- logs


def logs_path(api: Api, run_id: str, kind: str = "logs") -> str:
    return f"{api.runs_path()}/{run_id}/{kind}"


async def read_logs(api: Api, run_id: str, **params: str) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    for _ in bounded_pages():
        status, body, _ = await api.call("GET", logs_path(api, run_id), params=params)
        assert status == 200, body
        pages.append(body)
        if "next_token" not in body:
            break
        params = {**params, "next_token": body["next_token"]}
    return pages


async def test_forward_logs_pages(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create(retry_count=2)
    abeja_sim.set_outcome(run["run_id"], "FAILED")
    abeja_sim.advance(abeja_sim.steps_to_finish)
    pages = await read_logs(api, run["run_id"])
    assert [len(p["events"]) for p in pages] == [4, 3]
    events = [e for p in pages for e in p["events"]]
    assert events == abeja_sim.run_logs(run["run_id"])
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert all(TIMESTAMP.match(e["timestamp"]) for e in events)
    assert set(events[0]) == {"message", "timestamp"}
    status, body, _ = await api.call("GET", logs_path(api, run["run_id"]) + "/")
    assert status == 200
    assert body == pages[0]


async def test_forward_logs_follow_a_running_run(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    status, body, _ = await api.call("GET", logs_path(api, run["run_id"]))
    assert status == 200
    assert body["events"] == []
    token = body["next_token"]  # not finished: the token stays, pointing at the end
    abeja_sim.advance(4)  # RUNNING: 3 lines
    status, body, _ = await api.call(
        "GET", logs_path(api, run["run_id"]), params={"next_token": token}
    )
    assert [e["message"][-1] for e in body["events"]] == ["1", "2", "3"]
    token = body["next_token"]
    abeja_sim.advance(2)  # 3 more lines, then SUCCEEDED
    status, body, _ = await api.call(
        "GET", logs_path(api, run["run_id"]), params={"next_token": token}
    )
    assert len(body["events"]) == 3
    assert "next_token" not in body


async def test_log_time_windows(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    abeja_sim.advance(abeja_sim.steps_to_finish)
    events = abeja_sim.run_logs(run["run_id"])
    second_step = events[3]["timestamp"][:19]  # the second RUNNING step, to the second
    expected = [e for e in events if e["timestamp"][:19] == second_step]
    assert len(expected) == 3
    for start, end in [
        (second_step, second_step + ".999999"),
        (second_step + "Z", second_step + ".999999Z"),
        (second_step + "+00:00", second_step + ".999999+00:00"),
        (second_step + "+09:00", None),
    ]:
        params = {"start_time": start}
        if end is not None:
            params["end_time"] = end
        pages = await read_logs(api, run["run_id"], **params)
        got = [e for p in pages for e in p["events"]]
        if end is None:  # 09:00 ahead of UTC: the window opens 9 hours earlier
            assert got == events
        else:
            assert got == expected
        _, recent, _ = await api.call(
            "GET", logs_path(api, run["run_id"], "recentlogs"), params=params
        )
        assert recent["events"] == (events if end is None else expected)[::-1][:4]


async def test_log_window_bounds_are_inclusive(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    abeja_sim.advance(abeja_sim.steps_to_finish)
    events = abeja_sim.run_logs(run["run_id"])
    exact = events[4]["timestamp"]
    for kind in ("logs", "recentlogs"):
        status, body, _ = await api.call(
            "GET",
            logs_path(api, run["run_id"], kind),
            params={"start_time": exact, "end_time": exact},
        )
        assert status == 200
        assert body["events"] == [events[4]]


async def test_closed_window_ends_forward_logs_of_a_running_run(
    api: Api, abeja_sim: Simulator
) -> None:
    run = await api.create()
    abeja_sim.advance(4)
    status, body, _ = await api.call(
        "GET", logs_path(api, run["run_id"]), params={"end_time": "2017-12-31T00:00:00"}
    )
    assert status == 200
    assert body == {"events": []}


@pytest.mark.parametrize(
    "params",
    [
        {"start_time": "yesterday"},
        {"end_time": "2018-13-01T00:00:00"},
        {"start_time": "2018-01-02T00:00:00", "end_time": "2018-01-01T00:00:00"},
        {"next_token": "garbage"},
        {"next_token": base64.b64encode(b'{"t":"logs","o":"run-1","p":0}').decode()},
    ],
)
async def test_forward_logs_bad_parameters(
    api: Api, params: dict[str, str], abeja_sim: Simulator
) -> None:
    run = await api.create()
    status, error, _ = await api.call("GET", logs_path(api, run["run_id"]), params=params)
    assert_error(status, error, 400, "bad_request")
    status, error, _ = await api.call(
        "GET",
        logs_path(api, run["run_id"], "recentlogs"),
        params={k.replace("next_token", "next_backward_token"): v for k, v in params.items()},
    )
    assert_error(status, error, 400, "bad_request")


async def test_recent_logs_backward_and_forward(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    path = logs_path(api, run["run_id"], "recentlogs")
    status, empty, _ = await api.call("GET", path)
    assert status == 200
    assert empty["events"] == []
    assert set(empty) == {"events", "next_backward_token", "next_forward_token"}
    abeja_sim.advance(abeja_sim.steps_to_finish)
    everything = abeja_sim.run_logs(run["run_id"])

    status, first, _ = await api.call("GET", path)
    assert first["events"] == everything[::-1][:4]  # newest first
    collected = list(first["events"])
    page = first
    for _ in bounded_pages():
        status, page, _ = await api.call(
            "GET", path, params={"next_backward_token": page["next_backward_token"]}
        )
        assert status == 200
        assert set(page) == {"events", "next_backward_token", "next_forward_token"}
        if not page["events"]:
            break
        collected.extend(page["events"])
    assert collected == everything[::-1]  # no duplicates, no gaps
    status, again, _ = await api.call(
        "GET", path, params={"next_backward_token": page["next_backward_token"]}
    )
    assert again["events"] == []  # past the oldest: empty, tokens kept

    status, newer, _ = await api.call(
        "GET", path, params={"next_forward_token": first["next_forward_token"]}
    )
    assert newer["events"] == []  # nothing newer than the newest
    assert newer["next_forward_token"] == first["next_forward_token"]

    # walking forward from the oldest position gives every event, each page newest-first
    token = page["next_forward_token"]
    forward: list[dict[str, Any]] = []
    for _ in bounded_pages():
        status, chunk, _ = await api.call("GET", path, params={"next_forward_token": token})
        if not chunk["events"]:
            break
        assert chunk["events"] == sorted(chunk["events"], key=lambda e: e["timestamp"])[::-1]
        forward.extend(chunk["events"][::-1])
        token = chunk["next_forward_token"]
    assert forward == everything


async def test_recent_logs_forward_token_catches_new_lines(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    path = logs_path(api, run["run_id"], "recentlogs")
    abeja_sim.advance(4)
    _, first, _ = await api.call("GET", path)
    assert len(first["events"]) == 3
    abeja_sim.advance()
    _, newer, _ = await api.call(
        "GET", path, params={"next_forward_token": first["next_forward_token"]}
    )
    assert [e["message"] for e in newer["events"]] == [
        f"step 2/2: user code output {i}" for i in (3, 2, 1)
    ]


async def test_recent_logs_token_misuse(api: Api, abeja_sim: Simulator) -> None:
    run, other = await api.create(), await api.create()
    abeja_sim.advance(abeja_sim.steps_to_finish)
    status, first, _ = await api.call("GET", logs_path(api, run["run_id"], "recentlogs"))
    forward, backward = first["next_forward_token"], first["next_backward_token"]
    misuse = [
        (run["run_id"], {"next_forward_token": forward, "next_backward_token": backward}),
        (run["run_id"], {"next_forward_token": backward}),
        (run["run_id"], {"next_backward_token": forward}),
        (other["run_id"], {"next_backward_token": backward}),
    ]
    for run_id, params in misuse:
        status, error, _ = await api.call(
            "GET", logs_path(api, run_id, "recentlogs"), params=params
        )
        assert_error(status, error, 400, "bad_request")


# ---------------------------------------------------------------------------- faults


@pytest.mark.parametrize("code", [500, 502, 503])
async def test_fail_next(api: Api, abeja_sim: Simulator, code: int) -> None:
    abeja_sim.fail_next(2, status=code)
    for _ in range(2):
        status, error, headers = await api.call("POST", api.runs_path(), json={})
        assert_error(status, error, code, error["error"])
        assert "Retry-After" not in headers
    assert abeja_sim.runs == {}  # a failed request is not processed
    await api.create()
    assert abeja_sim.count_requests("POST") == 3


async def test_fail_next_filters_and_retry_after(api: Api, abeja_sim: Simulator) -> None:
    run = await api.create()
    abeja_sim.fail_next(1, 503, logs_path(api, run["run_id"]), method="GET", retry_after=0)
    assert (await api.get(run["run_id"]))["run_id"] == run["run_id"]  # path does not match
    status, _, _ = await api.call("POST", logs_path(api, run["run_id"]), json={})
    assert status == 405  # method does not match: routed as usual
    status, error, headers = await api.call("GET", logs_path(api, run["run_id"]))
    assert_error(status, error, 503, "service_unavailable")
    assert headers["Retry-After"] == "0"
    status, _, _ = await api.call("GET", logs_path(api, run["run_id"]))
    assert status == 200
    with pytest.raises(ValueError, match="4xx or 5xx"):
        abeja_sim.fail_next(1, status=200)
    with pytest.raises(ValueError, match="at least 1"):
        abeja_sim.fail_next(0)


async def test_faults_come_before_authentication(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.fail_next(1, 502)
    status, error, _ = await api.call("GET", api.runs_path(), auth=None)
    assert_error(status, error, 502, "bad_gateway")


async def test_rate_limit_next(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.rate_limit_next(1, retry_after=2.5, method="POST")
    status, error, headers = await api.call(
        "POST", api.runs_path(), json={"version_id": abeja_sim.version_id}
    )
    assert_error(status, error, 429, "too_many_requests")
    assert headers["Retry-After"] == "2.5"
    assert abeja_sim.runs == {}
    await api.create()
    assert len(abeja_sim.runs) == 1


async def test_slow_next_processes_then_delays(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.slow_next(1, 0.3, method="POST")
    started = time.monotonic()
    task = asyncio.create_task(api.create())
    await asyncio.sleep(0.1)
    assert len(abeja_sim.runs) == 1  # done before the answer is sent
    await task
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await api.create()
    assert time.monotonic() - started < 0.3
    with pytest.raises(ValueError, match="negative"):
        abeja_sim.slow_next(1, -1)


async def test_clear_faults(api: Api, abeja_sim: Simulator) -> None:
    abeja_sim.fail_next(5)
    abeja_sim.rate_limit_next(5)
    abeja_sim.clear_faults()
    assert (await api.page()) == {"entries": []}


async def test_stop_wakes_delayed_answers(http: aiohttp.ClientSession) -> None:
    sim = Simulator(step_seconds=None)
    await sim.start()
    api = Api(http, sim)
    sim.slow_next(1, 30)
    task = asyncio.create_task(api.page())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await sim.stop()
    assert time.monotonic() - started < 5
    assert (await task) == {"entries": []}


# ---------------------------------------------------------------------------- request log


async def test_request_log_redacts_secrets(api: Api, abeja_sim: Simulator) -> None:
    await api.create(environment={"K": "V"})
    await api.call("GET", api.runs_path(), params={"scan_forward": "True"}, auth=None)
    first, second = abeja_sim.requests
    assert isinstance(first, RecordedRequest)
    method, path, headers, body = first
    assert (method, path) == ("POST", api.runs_path())
    assert headers["Authorization"] == "Basic <redacted>"
    assert body == {"version_id": abeja_sim.version_id, "environment": {"K": "V"}}
    assert first.status == 200
    assert second.query == {"scan_forward": "True"}
    assert second.status == 401
    assert "Authorization" not in second.headers
    dump = repr(abeja_sim.requests)
    assert abeja_sim.personal_access_token not in dump
    assert base64.b64encode(abeja_sim.personal_access_token.encode()).decode()[:8] not in dump
    assert abeja_sim.count_requests("get", api.runs_path()) == 1
    assert abeja_sim.count_requests(path_prefix="/organizations") == 2
    abeja_sim.clear_requests()
    assert abeja_sim.requests == []
