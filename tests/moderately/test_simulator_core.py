"""Simulator plumbing over raw HTTP: routes, auth, errors, faults, log, paging, scoping, ids."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from tether.testing import load_simulator
from tether.testing.moderately import REDACTED, SPEC_VERSION, Simulator

if TYPE_CHECKING:
    from conftest import Api

SPEC_FILE = Path("/work/shared/reference/moderately-openapi.json")

SPEC_OPERATIONS = """
GET /health
GET /users/{userId}
PATCH /users/{userId}
GET /users
GET /teams/{teamId}
PATCH /teams/{teamId}
GET /teams
POST /teams
POST /agents
GET /agents
GET /agents/{agentId}
PATCH /agents/{agentId}
DELETE /agents/{agentId}
POST /agent-configuration-versions
GET /agent-configuration-versions
GET /agent-configuration-versions/{agentConfigurationVersionId}
PATCH /agent-configuration-versions/{agentConfigurationVersionId}
POST /agent-executions
GET /agent-executions
GET /agent-executions/{agentExecutionId}
GET /agent-executions/{agentExecutionId}/memory-states
GET /agent-executions/{agentExecutionId}/memory-states/{version}
GET /agent-executions/{agentExecutionId}/live-tail
POST /pipelines
GET /pipelines
GET /pipelines/{pipelineId}
PATCH /pipelines/{pipelineId}
DELETE /pipelines/{pipelineId}
POST /pipeline-configuration-versions/validate
GET /pipeline-configuration-versions/schema
POST /pipeline-configuration-versions
GET /pipeline-configuration-versions
GET /pipeline-configuration-versions/{pipelineConfigurationVersionId}
PATCH /pipeline-configuration-versions/{pipelineConfigurationVersionId}
DELETE /pipeline-configuration-versions/{pipelineConfigurationVersionId}
POST /pipeline-configuration-versions/{pipelineConfigurationVersionId}/clone
POST /pipeline-executions
GET /pipeline-executions
GET /pipeline-executions/{pipelineExecutionId}
PATCH /pipeline-executions/{pipelineExecutionId}
POST /pipeline-executions/{pipelineExecutionId}/cancel
GET /pipeline-executions/{pipelineExecutionId}/output
GET /datasets/{datasetId}
PATCH /datasets/{datasetId}
DELETE /datasets/{datasetId}
GET /datasets
POST /datasets
POST /dataset-schema-versions
GET /dataset-schema-versions
PATCH /dataset-schema-versions/{datasetSchemaVersionId}
GET /dataset-schema-versions/{datasetSchemaVersionId}
POST /dataset-data-versions
GET /dataset-data-versions
POST /dataset-data-versions/{dataVersionId}/complete
GET /dataset-data-versions/{datasetDataVersionId}
GET /dataset-data-versions/{dataVersionId}/download
GET /team-users/{teamUserId}
PATCH /team-users/{teamUserId}
DELETE /team-users/{teamUserId}
GET /team-users
POST /api-tokens
GET /api-tokens
GET /api-tokens/{tokenId}
PATCH /api-tokens/{tokenId}
DELETE /api-tokens/{tokenId}
GET /api-tokens/{tokenId}/usage
GET /audit-logs
GET /audit-logs/{auditLogId}
GET /audit-logs/entity/{entityType}/{entityId}
GET /audit-logs/user/{userId}
GET /files
GET /files/{fileId}
DELETE /files/{fileId}
POST /files/upload-url
POST /files/{fileId}/complete
GET /files/{fileId}/download
POST /authentication/email/initialize
POST /authentication/email/verify
POST /authentication/login
POST /authentication/logout
GET /authentication/whoami
"""
OPERATIONS = [tuple(line.split(" ", 1)) for line in SPEC_OPERATIONS.strip().splitlines()]


def _concrete(path: str) -> str:
    out = []
    for segment in path.split("/"):
        if segment == "{version}":
            out.append("1")
        elif segment.startswith("{"):
            out.append("nope")
        else:
            out.append(segment)
    return "/".join(out)


def test_operation_list_matches_the_openapi_document() -> None:
    if not SPEC_FILE.exists():
        pytest.skip("reference OpenAPI document not available")
    spec = json.loads(SPEC_FILE.read_text())
    declared = {
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert declared == set(OPERATIONS)
    assert spec["info"]["version"] == SPEC_VERSION


async def test_simulator_declares_every_operation(sim: Simulator) -> None:
    declared = {(r.method, r.path) for r in sim.api_routes() if r.spec}
    assert declared == set(OPERATIONS)
    extras = {(r.method, r.path) for r in sim.api_routes() if not r.spec}
    assert all(r.compat for r in sim.api_routes() if not r.spec)
    assert ("PATCH", "/agent-executions/{agentExecutionId}/cancel") in extras


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
async def test_every_operation_is_routed(api: Api, method: str, path: str) -> None:
    status, body = await api.call(
        method, _concrete(path), json={} if method in ("POST", "PATCH") else None
    )
    assert status != 405
    if status == 404:
        assert body["error"]["message"] != "Route not found"
    assert status < 500


async def test_info_repr_and_loader(sim: Simulator) -> None:
    info = sim.info()
    assert set(info) == {"URL", "MODERATELY_API_KEY", "MODERATELY_TEAM_ID", "MODERATELY_BASE_URL"}
    assert info["URL"] == info["MODERATELY_BASE_URL"] == sim.url == sim.base_url
    assert info["URL"].startswith("http://127.0.0.1:")
    assert sim.api_key not in repr(sim)
    assert load_simulator("moderately") is Simulator


async def test_start_stop_idempotent_and_releases_the_port() -> None:
    simulator = Simulator(seed=1)
    with pytest.raises(RuntimeError):
        simulator.info()
    await simulator.start()
    await simulator.start()
    port = int(simulator.url.rsplit(":", 1)[1])
    await simulator.stop()
    await simulator.stop()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=1),
    ):
        pass


async def test_health_needs_no_auth(api: Api) -> None:
    assert await api.ok("GET", "/health", auth=False) == {"status": "ok", "version": SPEC_VERSION}
    api.sim.healthy = False
    status, body = await api.get("/health", auth=False)
    assert status == 500 and body["error"]["code"] == "INTERNAL_ERROR"


@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer wrong", "Basic abc", "sk-only"])
async def test_bad_credentials_get_the_401_envelope(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    status, body = await api.get("/datasets", auth=False, headers=headers)
    assert status == 401
    error = body["error"]
    assert error["code"] == "UNAUTHORIZED"
    assert error["path"] == "/datasets"
    assert error["timestamp"].endswith("Z") and error["requestId"].startswith("req_")


async def test_envelope_request_id_and_unknown_routes(api: Api) -> None:
    async with api.session.get(
        api.sim.url + "/datasets/missing", headers={"Authorization": f"Bearer {api.sim.api_key}"}
    ) as resp:
        body = await resp.json()
        assert resp.status == 404
        assert body["error"]["requestId"] == resp.headers["X-Request-Id"]
        assert body["error"]["message"] == "Dataset not found"
    status, body = await api.get("/nowhere")
    assert status == 404 and body["error"]["message"] == "Route not found"
    status, body = await api.call("PUT", "/datasets")
    assert status == 405 and body["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_body_parsing(api: Api) -> None:
    status, body = await api.post(
        "/datasets", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and "JSON" in body["error"]["message"]
    status, body = await api.post("/datasets", json=[1, 2])
    assert status == 400
    status, body = await api.post("/datasets", json={"name": 3})
    assert status == 400
    fields = {d["field"] for d in body["error"]["details"]}
    assert fields == {"teamId", "name"}


async def test_fail_next_matches_prefix_and_method_and_counts(api: Api) -> None:
    sim = api.sim
    sim.fail_next(2, 503, "/datasets", method="GET")
    assert (await api.get("/teams"))[0] == 200
    assert (await api.post("/datasets", json={}))[0] == 400
    first = await api.get("/datasets")
    second = await api.get("/datasets")
    third = await api.get("/datasets")
    assert [first[0], second[0], third[0]] == [503, 503, 200]
    assert first[1]["error"]["code"] == "SERVICE_UNAVAILABLE"


async def test_rate_limit_next_sends_retry_after_before_auth(api: Api) -> None:
    api.sim.rate_limit_next(1, retry_after=9)
    async with api.session.get(api.sim.url + "/teams") as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "9"
        assert (await resp.json())["error"]["code"] == "RATE_LIMITED"
    assert (await api.get("/teams", auth=False))[0] == 401


async def test_custom_fault_body_and_clear(api: Api) -> None:
    api.sim.fail_next(1, 400, body={"message": "flat", "details": []})
    status, body = await api.get("/teams")
    assert (status, body) == (400, {"message": "flat", "details": []})
    api.sim.fail_next(5, 500)
    api.sim.clear_faults()
    assert (await api.get("/teams"))[0] == 200
    with pytest.raises(ValueError, match="n must be"):
        api.sim.fail_next(0, 500)


async def test_delay_next(api: Api) -> None:
    api.sim.delay_next(1, 0.2, "/teams")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await api.get("/teams"))[0] == 200
    assert loop.time() - started >= 0.19
    timeout = aiohttp.ClientTimeout(total=0.05)
    api.sim.delay_next(1, 0.5)
    with pytest.raises(asyncio.TimeoutError):
        async with api.session.get(api.sim.url + "/health", timeout=timeout):
            pass


async def test_flat_errors_knob(api: Api) -> None:
    api.sim.flat_errors = True
    status, body = await api.post("/datasets", json={})
    assert status == 400
    assert body["message"] == "Invalid request body" and body["code"] == "VALIDATION_ERROR"
    assert {d["field"] for d in body["details"]} == {"teamId", "name"}


async def test_request_log_redacts_secrets(api: Api) -> None:
    sim = api.sim
    await api.post(
        "/authentication/login",
        json={"email": "sim@example.com", "password": "moderately"},
        auth=False,
    )
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(b"x"))
    await api.put(created["uploadUrl"], data=b"x", headers={"Cookie": "session=abc"})
    log = sim.requests
    assert [r.path for r in log][:2] == ["/authentication/login", "/files/upload-url"]
    assert log[0].json == {"email": "sim@example.com", "password": REDACTED}
    assert log[1].headers["Authorization"] == f"Bearer {REDACTED}"
    assert log[1].query == ()
    put = log[2]
    assert put.method == "PUT" and put.body_size == 1
    assert put.query_dict()["X-Amz-Signature"] == [REDACTED]
    assert put.headers["Cookie"] == REDACTED
    dumped = repr(log)
    assert sim.api_key not in dumped and 'moderately"' not in dumped
    sim.clear_requests()
    assert sim.requests == []


async def test_snake_case_paging_and_order_values(api: Api) -> None:
    for name in ("b-set", "a-set", "c-set"):
        await api.ok("POST", "/datasets", 201, json={"teamId": api.sim.team_id, "name": name})
    page = await api.ok(
        "GET",
        "/datasets",
        params={"page": "2", "page_size": "2", "order_by": "name", "order_direction": "asc"},
    )
    assert [d["name"] for d in page["items"]] == ["c-set"]
    assert page["pagination"] == {
        "page": 2,
        "pageSize": 2,
        "totalItems": 3,
        "totalPages": 2,
        "hasNextPage": False,
        "hasPreviousPage": True,
    }
    newest = await api.ok(
        "GET", "/datasets", params={"order_by": "created_at", "order_direction": "desc"}
    )
    assert [d["name"] for d in newest["items"]] == ["c-set", "a-set", "b-set"]
    spec_wins = await api.ok("GET", "/datasets", params={"pageSize": "1", "page_size": "50"})
    assert spec_wins["pagination"]["pageSize"] == 1 and spec_wins["pagination"]["totalPages"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": "0"},
        {"pageSize": "1001"},
        {"page": "0"},
        {"page": "x"},
        {"orderBy": "color"},
        {"orderDirection": "up"},
    ],
)
async def test_invalid_paging_is_a_400(api: Api, params: dict[str, str]) -> None:
    status, body = await api.get("/datasets", params=params)
    assert status == 400 and body["error"]["details"][0]["field"] in (
        "page",
        "pageSize",
        "orderBy",
        "orderDirection",
    )


async def test_files_paging_defaults(api: Api) -> None:
    page = await api.ok("GET", "/files")
    assert page["pagination"]["pageSize"] == 20
    status, _ = await api.get("/files", params={"pageSize": "101"})
    assert status == 400


async def test_id_lists_comma_and_repeated(api: Api) -> None:
    ids = []
    for name in ("one", "two", "three"):
        ids.append(
            (
                await api.ok(
                    "POST", "/datasets", 201, json={"teamId": api.sim.team_id, "name": name}
                )
            )["datasetId"]
        )
    repeated = await api.ok(
        "GET", "/datasets", params=[("datasetIds", ids[0]), ("dataset_ids", ids[2])]
    )
    assert {d["datasetId"] for d in repeated["items"]} == {ids[0]}
    both = await api.ok("GET", "/datasets", params=[("datasetIds", ids[0]), ("datasetIds", ids[1])])
    assert {d["datasetId"] for d in both["items"]} == set(ids[:2])
    comma = await api.ok("GET", "/datasets", params={"datasetIds": f"{ids[1]},{ids[2]}"})
    assert {d["datasetId"] for d in comma["items"]} == set(ids[1:])


async def test_team_scoping(api: Api) -> None:
    sim = api.sim
    foreign = sim.add_team("Elsewhere", member=False)
    mine = sim.add_team("Second")
    status, body = await api.post("/datasets", json={"teamId": foreign, "name": "x"})
    assert status == 403 and body["error"]["code"] == "FORBIDDEN"
    status, _ = await api.get("/datasets", params={"teamIds": f"{sim.team_id},{foreign}"})
    assert status == 403
    await api.ok("POST", "/datasets", 201, json={"teamId": mine, "name": "in second"})
    await api.ok("POST", "/datasets", 201, json={"teamId": sim.team_id, "name": "in first"})
    everything = await api.ok("GET", "/datasets")
    assert everything["pagination"]["totalItems"] == 2
    only_second = await api.ok("GET", "/datasets", params={"teamIds": mine})
    assert [d["name"] for d in only_second["items"]] == ["in second"]
    teams = await api.ok("GET", "/teams")
    assert sorted(t["name"] for t in teams["items"]) == ["Second", "Simulated Team"]
    assert (await api.get(f"/teams/{foreign}"))[0] == 403
    # teamIds is accepted (and ignored) on a non-list route
    dataset = only_second["items"][0]
    assert (await api.get(f"/datasets/{dataset['datasetId']}", params={"teamIds": foreign}))[
        0
    ] == 200


async def test_strict_mode_rejects_sdk_deviations(api_for: type[Api]) -> None:
    async with Simulator(seed=3, compat=False) as strict, aiohttp.ClientSession() as session:
        api = api_for(session, strict)
        status, _ = await api.post("/agents", json={"team_id": strict.team_id, "name": "a"})
        assert status == 400
        agent = await api.ok("POST", "/agents", 201, json={"teamId": strict.team_id, "name": "a"})
        status, body = await api.post(
            "/agent-executions", json={"agent_id": agent["agentId"], "input_data": {}}
        )
        assert status == 400
        assert {d["field"] for d in body["error"]["details"]} >= {
            "agentConfigurationVersionId",
            "agentInput",
        }
        status, body = await api.get(f"/users/{strict.user_id}/teams")
        assert status == 404 and body["error"]["message"] == "Route not found"


async def test_seeded_ids_are_reproducible_and_id_factory_is_used(api_for: type[Api]) -> None:
    async def make(**kw: Any) -> list[str]:
        async with Simulator(clock="manual", **kw) as simulator, aiohttp.ClientSession() as session:
            api = api_for(session, simulator)
            dataset = await api.ok(
                "POST", "/datasets", 201, json={"teamId": simulator.team_id, "name": "d"}
            )
            return [simulator.team_id, simulator.user_id, simulator.api_key, dataset["datasetId"]]

    first, second, other = await make(seed=5), await make(seed=5), await make(seed=6)
    assert first == second and first != other
    assert len(first[3]) == 21
    counter = iter(range(1000))
    made = await make(seed=5, id_factory=lambda kind: f"{kind}_{next(counter)}")
    assert made[0] == "team_1" and made[3].startswith("dataset_")


async def test_prefix_serves_api_and_storage_under_it(api_for: type[Api]) -> None:
    async with (
        Simulator(seed=4, prefix="/moderately") as prefixed,
        aiohttp.ClientSession() as session,
    ):
        api = api_for(session, prefixed)
        assert prefixed.url.endswith("/moderately")
        created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(b"abc"))
        assert created["uploadUrl"].startswith(prefixed.url + "/_storage/")
        assert (await api.put(created["uploadUrl"], data=b"abc"))[0] == 200
        done = await api.ok(
            "POST",
            f"/files/{created['file']['fileId']}/complete",
            json={"fileSize": 3, "fileHash": created["file"]["fileHash"]},
        )
        assert done["uploadStatus"] == "completed"
        assert prefixed.requests[0].path == "/moderately/files/upload-url"
        assert (await api.get("/health", auth=False))[0] == 200


def test_serve_in_thread_with_blocking_clients() -> None:
    with Simulator(seed=8).serve_in_thread() as running:
        request = urllib.request.Request(
            running.url + "/teams", headers={"Authorization": f"Bearer {running.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            body = json.loads(resp.read())
        assert body["items"][0]["teamId"] == running.team_id
        running.fail_next(1, 502)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(running.url + "/health", timeout=5)
        info.value.close()
        assert info.value.code == 502
    assert running.requests[-1].status == 502
