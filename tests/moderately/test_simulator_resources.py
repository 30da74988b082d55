"""Every resource over raw HTTP: identity, tokens, audit, agents, datasets, pipelines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tether.testing.moderately import Simulator

if TYPE_CHECKING:
    from conftest import Api

CONFIG: dict[str, Any] = {
    "id": "cfg",
    "name": "Config",
    "blocks": {
        "in": {"type": "input", "outputs": ["out"]},
        "work": {"type": "transform", "inputs": ["in"], "outputs": ["out"]},
        "out": {"type": "output", "inputs": ["in"], "config": {"schema": {"type": "array"}}},
    },
    "connections": [
        {
            "source_port": "out",
            "target_port": "in",
            "source_block_id": "in",
            "target_block_id": "work",
        },
        {
            "source_port": "out",
            "target_port": "in",
            "source_block_id": "work",
            "target_block_id": "out",
        },
    ],
}


# ---------------------------------------------------------------------------- users & teams


async def test_users(api: Api) -> None:
    sim = api.sim
    other = sim.add_user("Grace Hopper", "grace@example.com", team_id=sim.team_id)
    hidden = sim.add_user("Hidden", "hidden@example.com")
    users = await api.ok("GET", "/users", params={"orderBy": "fullName"})
    assert [u["fullName"] for u in users["items"]] == ["Grace Hopper", "Simulated User"]
    assert set(users["items"][0]) == {"userId", "fullName", "createdAt", "updatedAt"}
    by_mail = await api.ok("GET", "/users", params={"userEmails": "grace@example.com"})
    assert [u["userId"] for u in by_mail["items"]] == [other]
    like = await api.ok("GET", "/users", params={"fullNameLike": "HOPP"})
    assert like["pagination"]["totalItems"] == 1
    assert (await api.get(f"/users/{hidden}"))[0] == 403
    assert (await api.get("/users/missing"))[0] == 404
    me = await api.ok("PATCH", f"/users/{sim.user_id}", json={"fullName": "Ada", "nickname": "ada"})
    assert me["fullName"] == "Ada" and me["nickname"] == "ada"
    status, _ = await api.patch(f"/users/{other}", json={"fullName": "X"})
    assert status == 403
    status, body = await api.patch(f"/users/{sim.user_id}", json={"fullName": ""})
    assert status == 400 and body["error"]["details"][0]["field"] == "fullName"
    teams = await api.ok("GET", f"/users/{sim.user_id}/teams")
    assert [t["teamId"] for t in teams["items"]] == [sim.team_id]


async def test_teams(api: Api) -> None:
    sim = api.sim
    created = await api.ok(
        "POST", "/teams", 200, json={"name": "Lab", "description": "ignored extra"}
    )
    assert set(created) == {"teamId", "name", "createdAt", "updatedAt"}
    renamed = await api.ok("PATCH", f"/teams/{created['teamId']}", json={"name": "Lab 2"})
    assert renamed["name"] == "Lab 2"
    assert (await api.ok("GET", f"/teams/{created['teamId']}"))["name"] == "Lab 2"
    named = await api.ok("GET", "/teams", params={"name": "Lab 2"})
    assert named["pagination"]["totalItems"] == 1
    assert (await api.post("/teams", json={"name": ""}))[0] == 400
    deleted = await api.ok("DELETE", f"/teams/{created['teamId']}")
    assert deleted == {"success": True, "message": "Team deleted"}
    assert (await api.get(f"/teams/{created['teamId']}"))[0] == 404
    assert (await api.delete(f"/teams/{sim.team_id}"))[0] == 400


async def test_team_users(api: Api) -> None:
    sim = api.sim
    other = sim.add_user("Grace", "grace@example.com", team_id=sim.team_id)
    members = await api.ok("GET", "/team-users", params={"teamIds": sim.team_id, "orderBy": "name"})
    assert [m["email"] for m in members["items"]] == ["grace@example.com", "sim@example.com"]
    mine = next(m for m in members["items"] if m["userId"] == sim.user_id)
    theirs = next(m for m in members["items"] if m["userId"] == other)
    assert mine["role"] == "admin" and mine["isDefault"] is True
    admins = await api.ok("GET", "/team-users", params={"roles": "admin"})
    assert admins["pagination"]["totalItems"] == 1
    assert (await api.get("/team-users", params={"roles": "owner"}))[0] == 400
    status, body = await api.patch(f"/team-users/{mine['teamUserId']}", json={"role": "member"})
    assert status == 400 and "admin" in body["error"]["message"]
    promoted = await api.ok("PATCH", f"/team-users/{theirs['teamUserId']}", json={"role": "admin"})
    assert promoted["role"] == "admin"
    assert (await api.delete(f"/team-users/{mine['teamUserId']}"))[0] == 400
    assert await api.ok("DELETE", f"/team-users/{theirs['teamUserId']}") == {
        "message": "Team user deleted"
    }
    assert (await api.get(f"/team-users/{theirs['teamUserId']}"))[0] == 404


# ---------------------------------------------------------------------------- tokens, audit, auth


async def test_api_tokens(api: Api) -> None:
    sim = api.sim
    created = await api.ok(
        "POST", "/api-tokens", 201, json={"teamId": sim.team_id, "name": "ci", "role": "readonly"}
    )
    token = created["token"]
    assert created["role"] == "readonly" and token.startswith("mod_")
    assert (await api.get("/datasets", token=token))[0] == 200
    status, body = await api.post(
        "/datasets", token=token, json={"teamId": sim.team_id, "name": "x"}
    )
    assert status == 403 and "read-only" in body["error"]["message"]
    listed = await api.ok("GET", "/api-tokens", params={"teamId": sim.team_id})
    item = listed["items"][0]
    assert item["tokenPrefix"] == token[:8] and item["last4"] == token[-4:] and "token" not in item
    assert item["usage7Days"] == 2 and item["lastUsedAt"] is not None
    detail = await api.ok("GET", f"/api-tokens/{created['tokenId']}")
    assert detail["createdBy"]["userId"] == sim.user_id
    assert detail["usageStats"]["totalRequests"] == 2
    usage = await api.ok(
        "GET", f"/api-tokens/{created['tokenId']}/usage", params={"method": "post"}
    )
    assert usage["totalRequests"] == 1 and usage["errorRate"] == 1.0
    assert usage["requestsByEndpoint"] == {"/datasets": 1}
    assert (await api.get("/api-tokens"))[0] == 400
    await api.ok("PATCH", f"/api-tokens/{created['tokenId']}", json={"isActive": False})
    assert (await api.get("/datasets", token=token))[0] == 401
    assert (await api.delete(f"/api-tokens/{created['tokenId']}"))[0] == 204
    assert (await api.get(f"/api-tokens/{created['tokenId']}"))[0] == 404
    assert token not in repr(sim.requests)


async def test_token_scope_and_expiry(api: Api) -> None:
    sim = api.sim
    second = sim.add_team("Second")
    scoped = await api.ok(
        "POST",
        "/api-tokens",
        201,
        json={"teamId": second, "name": "scoped", "expiresAt": "2999-01-01T00:00:00Z"},
    )
    teams = await api.ok("GET", "/teams", token=scoped["token"])
    assert [t["teamId"] for t in teams["items"]] == [second]
    assert (await api.get(f"/teams/{sim.team_id}", token=scoped["token"]))[0] == 403
    expired = await api.ok(
        "POST",
        "/api-tokens",
        201,
        json={"teamId": second, "name": "old", "expiresAt": sim.now().isoformat()},
    )
    sim.advance(1)
    assert (await api.get("/teams", token=expired["token"]))[0] == 401
    member = await api.ok("POST", "/api-tokens", 201, json={"teamId": second, "name": "member"})
    status, _ = await api.post(
        "/api-tokens", token=member["token"], json={"teamId": second, "name": "nope"}
    )
    assert status == 403


async def test_audit_logs(api: Api) -> None:
    sim = api.sim
    dataset = await api.ok(
        "POST", "/datasets", 201, json={"teamId": sim.team_id, "name": "audited"}
    )
    await api.ok("PATCH", f"/datasets/{dataset['datasetId']}", json={"description": "d"})
    logs = await api.ok("GET", "/audit-logs", params={"resourceType": "dataset"})
    assert [(entry["action"], entry["eventType"]) for entry in logs["items"]] == [
        ("create", "dataset.create"),
        ("update", "dataset.update"),
    ]
    first = logs["items"][0]
    assert first["teamId"] == sim.team_id and first["userId"] == sim.user_id
    assert first["metadata"]["requestId"].startswith("req_")
    assert first["changes"] == {"teamId": sim.team_id, "name": "audited"}
    entity = await api.ok("GET", f"/audit-logs/entity/dataset/{dataset['datasetId']}")
    assert entity["pagination"]["totalItems"] == 2
    updates = await api.ok("GET", f"/audit-logs/user/{sim.user_id}", params={"action": "update"})
    assert [e["resourceId"] for e in updates["items"]] == [dataset["datasetId"]]
    assert (await api.ok("GET", f"/audit-logs/{first['auditLogId']}"))["action"] == "create"
    assert (await api.get("/audit-logs", params={"action": "fly"}))[0] == 400
    assert (await api.get("/audit-logs", params={"startDate": "yesterday"}))[0] == 400
    assert (await api.get("/audit-logs/nope"))[0] == 404


async def test_login_session_logout(api: Api) -> None:
    status, body = await api.post(
        "/authentication/login", auth=False, json={"email": "sim@example.com", "password": "bad"}
    )
    assert status == 401 and body["error"]["code"] == "UNAUTHORIZED"
    session = await api.ok(
        "POST",
        "/authentication/login",
        auth=False,
        json={"email": "sim@example.com", "password": "moderately"},
    )
    token = session["token"]
    assert await api.ok("GET", "/authentication/whoami", token=token) == {"userId": api.sim.user_id}
    assert (await api.post("/authentication/logout", token=token))[0] == 200
    assert (await api.get("/authentication/whoami", token=token))[0] == 401
    assert (await api.post("/authentication/login", auth=False, json={"email": "x"}))[0] == 400


async def test_login_rate_limit(api: Api) -> None:
    for _ in range(5):
        await api.post(
            "/authentication/login", auth=False, json={"email": "sim@example.com", "password": "no"}
        )
    status, body = await api.post(
        "/authentication/login",
        auth=False,
        json={"email": "sim@example.com", "password": "moderately"},
    )
    assert status == 429 and body["error"]["code"] == "RATE_LIMITED"


async def test_email_flow(api: Api) -> None:
    assert (
        await api.post(
            "/authentication/email/initialize", auth=False, json={"email": "not-an-email"}
        )
    )[0] == 400
    await api.ok(
        "POST", "/authentication/email/initialize", auth=False, json={"email": "new@example.com"}
    )
    sent = api.sim.sent_emails[-1]
    assert sent.to == "new@example.com"
    session = await api.ok(
        "POST", "/authentication/email/verify", auth=False, json={"token": sent.token}
    )
    who = await api.ok("GET", "/authentication/whoami", token=session["token"])
    assert who["userId"] != api.sim.user_id
    assert (await api.post("/authentication/email/verify", auth=False, json={"token": sent.token}))[
        0
    ] == 400


# ---------------------------------------------------------------------------- agents


async def test_agents_crud_and_conflicts(api: Api) -> None:
    team = api.sim.team_id
    agent = await api.ok(
        "POST", "/agents", 201, json={"teamId": team, "name": "A", "description": None}
    )
    assert set(agent) == {"agentId", "teamId", "name", "description", "createdAt", "updatedAt"}
    legacy = await api.ok("POST", "/agents", 201, json={"team_id": team, "name": "B"})
    assert legacy["teamId"] == team
    assert (await api.post("/agents", json={"teamId": team, "name": "A"}))[0] == 409
    assert (await api.patch(f"/agents/{legacy['agentId']}", json={"name": "A"}))[0] == 409
    fetched = await api.ok("GET", f"/agents/{agent['agentId']}")
    assert (
        fetched["totalRuns"] == 0 and fetched["successRate"] == 0 and fetched["lastRunAt"] is None
    )
    listed = await api.ok("GET", "/agents", params={"nameLike": "a", "orderBy": "name"})
    assert [a["name"] for a in listed["items"]] == ["A"]
    assert await api.ok("DELETE", f"/agents/{agent['agentId']}") == {
        "success": True,
        "message": "Agent deleted",
    }
    assert (await api.get(f"/agents/{agent['agentId']}"))[0] == 404


async def test_agent_configuration_versions(api: Api) -> None:
    agent = await api.ok("POST", "/agents", 201, json={"teamId": api.sim.team_id, "name": "A"})
    base = {
        "agentId": agent["agentId"],
        "instructions": "Be brief",
        "inputSchema": {"type": "object"},
        "outputSchema": None,
        "versionNumber": 1,
        "isCurrent": True,
        "systemPrompt": None,
        "llmConfig": {"thought_llm": {"provider": "anthropic", "model_tier": "large"}},
        "toolConfig": [{"type": "GetDateTool"}],
        "executionConfig": {"max_actions": 5},
    }
    v1 = await api.ok("POST", "/agent-configuration-versions", 201, json=base)
    assert v1["executionConfig"] == {
        "max_actions": 5,
        "planning_interval": 4,
        "feedback_rounds": 0,
        "timeout_minutes": 30,
    }
    assert (await api.post("/agent-configuration-versions", json=base))[0] == 409
    v2 = await api.ok(
        "POST", "/agent-configuration-versions", 201, json={**base, "versionNumber": 2}
    )
    listed = await api.ok(
        "GET", "/agent-configuration-versions", params={"agentIds": agent["agentId"]}
    )
    assert isinstance(listed, list)
    assert [(v["versionNumber"], v["isCurrent"]) for v in listed] == [(1, False), (2, True)]
    current = await api.ok("GET", "/agent-configuration-versions", params={"isCurrent": "true"})
    assert [v["agentConfigurationVersionId"] for v in current] == [
        v2["agentConfigurationVersionId"]
    ]
    patched = await api.ok(
        "PATCH",
        f"/agent-configuration-versions/{v1['agentConfigurationVersionId']}",
        json={"isCurrent": True, "instructions": "Longer"},
    )
    assert patched["isCurrent"] is True and patched["instructions"] == "Longer"
    again = await api.ok(
        "GET", f"/agent-configuration-versions/{v2['agentConfigurationVersionId']}"
    )
    assert again["isCurrent"] is False
    status, body = await api.post(
        "/agent-configuration-versions",
        json={**base, "versionNumber": 3, "toolConfig": [{"type": "Teleport"}]},
    )
    assert status == 400 and body["error"]["details"][0]["field"] == "toolConfig[0].type"
    assert (await api.get("/agent-configuration-versions", params={"agentIds": "ghost"}))[0] == 404


# ---------------------------------------------------------------------------- datasets


async def test_datasets_crud_and_processing(api: Api) -> None:
    sim = api.sim
    dataset = await api.ok(
        "POST", "/datasets", 201, json={"teamId": sim.team_id, "name": "D", "extra": 1}
    )
    assert dataset["processingStatus"] is None and dataset["currentDataVersionId"] is None
    assert (await api.post("/datasets", json={"teamId": sim.team_id, "name": "D"}))[0] == 409
    listed = await api.ok("GET", "/datasets", params={"name": "D"})
    assert set(listed["items"][0]) == {
        "datasetId",
        "teamId",
        "name",
        "description",
        "createdAt",
        "updatedAt",
        "currentSchemaVersionId",
        "currentDataVersionId",
    }
    dataset_id = dataset["datasetId"]
    processing = await api.ok("PATCH", f"/datasets/{dataset_id}", json={"shouldProcess": True})
    assert processing["processingStatus"] == "in_progress"
    sim.advance(steps=1)
    assert (await api.ok("GET", f"/datasets/{dataset_id}"))["processingStatus"] == "failed"
    version = await _upload_csv(api, dataset_id, b"a,b\n1,2\n")
    after_upload = await api.ok("GET", f"/datasets/{dataset_id}")
    assert after_upload["currentDataVersionId"] == version["datasetDataVersionId"]
    assert after_upload["processingStatus"] == "needs-processing"
    assert after_upload["recordCount"] == 1 and after_upload["totalSizeBytes"] == 8
    await api.ok("PATCH", f"/datasets/{dataset_id}", json={"shouldProcess": True})
    sim.advance(steps=1)
    processed = await api.ok("GET", f"/datasets/{dataset_id}")
    assert processed["processingStatus"] == "completed"
    assert processed["activeDataVersionId"] == version["datasetDataVersionId"]
    assert await api.ok("DELETE", f"/datasets/{dataset_id}") == {
        "success": True,
        "message": "Dataset deleted",
    }
    assert (await api.get(f"/dataset-data-versions/{version['datasetDataVersionId']}"))[0] == 404
    assert sim.storage_keys() == []


async def _upload_csv(api: Api, dataset_id: str, data: bytes, **extra: Any) -> dict[str, Any]:
    created = await api.ok(
        "POST",
        "/dataset-data-versions",
        201,
        json={"datasetId": dataset_id, "fileName": "d.csv", "fileType": "csv", **extra},
    )
    assert created["dataVersion"]["status"] == "draft"
    assert (await api.put(created["uploadUrl"], data=data, headers={"Content-Type": "text/csv"}))[
        0
    ] == 200
    version_id = created["dataVersion"]["datasetDataVersionId"]
    done: dict[str, Any] = await api.ok(
        "POST", f"/dataset-data-versions/{version_id}/complete", json={}
    )
    return done


async def test_data_versions(api: Api) -> None:
    dataset = await api.ok("POST", "/datasets", 201, json={"teamId": api.sim.team_id, "name": "D"})
    dataset_id = dataset["datasetId"]
    v1 = await _upload_csv(api, dataset_id, b"x\n1\n2\n")
    assert (v1["versionNo"], v1["status"], v1["rowCount"]) == (1, "current", 2)
    assert v1["sourceFileUri"].startswith("s3://moderately-sim/datasets/")
    draft = await _upload_csv(api, dataset_id, b"x\n3\n", status="draft")
    assert draft["status"] == "draft"
    v3 = await _upload_csv(api, dataset_id, b"x\n4\n")
    statuses = await api.ok(
        "GET", "/dataset-data-versions", params={"datasetIds": dataset_id, "orderBy": "versionNo"}
    )
    assert [(v["versionNo"], v["status"]) for v in statuses["items"]] == [
        (1, "archived"),
        (2, "draft"),
        (3, "current"),
    ]
    only = await api.ok(
        "GET", "/dataset-data-versions", params={"status": "draft", "fileType": "csv"}
    )
    assert [v["versionNo"] for v in only["items"]] == [2]
    link = await api.ok("GET", f"/dataset-data-versions/{v3['datasetDataVersionId']}/download")
    assert (await api.get(link["downloadUrl"], auth=False))[1] == b"x\n4\n"
    assert (
        await api.post(f"/dataset-data-versions/{v3['datasetDataVersionId']}/complete", json={})
    )[0] == 400
    assert (
        await api.post(
            "/dataset-data-versions",
            json={"datasetId": dataset_id, "fileName": "a.pdf", "fileType": "pdf"},
        )
    )[0] == 400
    assert (
        await api.post(
            "/dataset-data-versions",
            json={"datasetId": "ghost", "fileName": "a.csv", "fileType": "csv"},
        )
    )[0] == 404


async def test_schema_versions(api: Api) -> None:
    dataset = await api.ok("POST", "/datasets", 201, json={"teamId": api.sim.team_id, "name": "D"})
    dataset_id = dataset["datasetId"]
    columns = [
        {"name": "id", "type": "integer", "nullable": False},
        {
            "name": "name",
            "type": "string",
            "nullable": True,
            "operations": [{"type": "strip_whitespace", "parameters": {}}],
        },
    ]
    first = await api.ok(
        "POST",
        "/dataset-schema-versions",
        201,
        json={
            "datasetId": dataset_id,
            "columns": columns,
            "status": "current",
            "parsingOptions": {"skipRows": [1], "delimiter": ";"},
        },
    )
    assert [c["pos"] for c in first["columnsJson"]] == [1, 2]
    assert "columns" not in first and first["parsingOptions"]["delimiter"] == ";"
    second = await api.ok(
        "POST",
        "/dataset-schema-versions",
        201,
        json={"datasetId": dataset_id, "columns": columns[:1]},
    )
    assert (
        second["status"] == "draft" and second["versionNo"] == 2 and "parsingOptions" not in second
    )
    await api.ok(
        "PATCH",
        f"/dataset-schema-versions/{second['datasetSchemaVersionId']}",
        json={"status": "current"},
    )
    assert (await api.ok("GET", f"/dataset-schema-versions/{first['datasetSchemaVersionId']}"))[
        "status"
    ] == "archived"
    assert (await api.ok("GET", f"/datasets/{dataset_id}"))["currentSchemaVersionId"] == second[
        "datasetSchemaVersionId"
    ]
    current = await api.ok(
        "GET",
        "/dataset-schema-versions",
        params={"datasetIds": dataset_id, "status": "current", "pageSize": "1"},
    )
    assert [v["versionNo"] for v in current["items"]] == [2]
    status, body = await api.post(
        "/dataset-schema-versions",
        json={
            "datasetId": dataset_id,
            "columns": [{"name": "x"}],
            "parsingOptions": {"skipRows": "one"},
        },
    )
    assert status == 400
    assert {d["field"] for d in body["error"]["details"]} == {
        "columns[0].type",
        "columns[0].nullable",
        "parsingOptions.skipRows",
    }
    assert (
        await api.post("/dataset-schema-versions", json={"datasetId": dataset_id, "columns": []})
    )[0] == 400
    await api.ok(
        "PATCH",
        f"/dataset-schema-versions/{second['datasetSchemaVersionId']}",
        json={"status": "archived"},
    )
    assert (await api.ok("GET", f"/datasets/{dataset_id}"))["currentSchemaVersionId"] is None


# ---------------------------------------------------------------------------- pipelines


async def test_pipelines_crud(api: Api) -> None:
    team = api.sim.team_id
    pipeline = await api.ok("POST", "/pipelines", 201, json={"teamId": team, "name": "P"})
    assert (await api.post("/pipelines", json={"teamId": team, "name": "P"}))[0] == 409
    await api.ok("POST", "/pipelines", 201, json={"teamId": team, "name": "Q"})
    listed = await api.ok("GET", "/pipelines", params={"pipelineIds": pipeline["pipelineId"]})
    assert listed["items"][0]["totalRuns"] == 0 and "lastRunAt" in listed["items"][0]
    assert (await api.patch(f"/pipelines/{pipeline['pipelineId']}", json={"name": "Q"}))[0] == 409
    updated = await api.ok(
        "PATCH", f"/pipelines/{pipeline['pipelineId']}", json={"description": "d"}
    )
    assert updated["description"] == "d" and "totalRuns" not in updated
    assert (await api.ok("DELETE", f"/pipelines/{pipeline['pipelineId']}"))["success"] is True
    assert (await api.get(f"/pipelines/{pipeline['pipelineId']}"))[0] == 404


async def test_configuration_versions(api: Api) -> None:
    pipeline = await api.ok(
        "POST", "/pipelines", 201, json={"teamId": api.sim.team_id, "name": "P"}
    )
    pid = pipeline["pipelineId"]
    v1 = await api.ok(
        "POST",
        "/pipeline-configuration-versions",
        201,
        json={"pipelineId": pid, "configuration": CONFIG, "status": "current"},
    )
    assert (v1["version"], v1["status"]) == (1, "current")
    status, _ = await api.post(
        "/pipeline-configuration-versions",
        json={"pipelineId": pid, "configuration": CONFIG, "status": "current"},
    )
    assert status == 409
    status, body = await api.post(
        "/pipeline-configuration-versions",
        json={"pipelineId": pid, "configuration": {"blocks": []}},
    )
    assert status == 400
    assert {d["field"] for d in body["error"]["details"]} == {
        "configuration.id",
        "configuration.name",
        "configuration.blocks",
    }
    clone = await api.ok(
        "POST",
        f"/pipeline-configuration-versions/{v1['pipelineConfigurationVersionId']}/clone",
        201,
        data=b"",
        headers={"Content-Type": "application/json"},
    )
    assert (clone["version"], clone["status"], clone["configuration"]) == (2, "draft", CONFIG)
    clone_id = clone["pipelineConfigurationVersionId"]
    assert (
        await api.patch(f"/pipeline-configuration-versions/{clone_id}", json={"status": "current"})
    )[0] == 409
    assert (
        await api.patch(
            f"/pipeline-configuration-versions/{v1['pipelineConfigurationVersionId']}",
            json={"configuration": CONFIG},
        )
    )[0] == 400
    edited = await api.ok(
        "PATCH",
        f"/pipeline-configuration-versions/{clone_id}",
        json={"configuration": {**CONFIG, "name": "Edited"}},
    )
    assert edited["configuration"]["name"] == "Edited"
    assert (
        await api.delete(f"/pipeline-configuration-versions/{v1['pipelineConfigurationVersionId']}")
    )[0] == 400
    listed = await api.ok(
        "GET",
        "/pipeline-configuration-versions",
        params={"pipelineIds": pid, "statuses": "draft,archived", "orderBy": "version"},
    )
    assert [v["version"] for v in listed["items"]] == [2]
    assert (await api.get("/pipeline-configuration-versions", params={"status": "live"}))[0] == 400
    assert (await api.ok("DELETE", f"/pipeline-configuration-versions/{clone_id}"))[
        "success"
    ] is True
    third = await api.ok(
        "POST",
        "/pipeline-configuration-versions",
        201,
        json={"pipelineId": pid, "configuration": CONFIG},
    )
    assert third["version"] == 3


@pytest.mark.parametrize(
    ("configuration", "errors", "warnings"),
    [
        (CONFIG, [], []),
        ({"id": "x", "name": "x"}, ["missing_blocks"], []),
        ({"blocks": {"a": {}, "b": {"type": "warp"}}}, ["missing_type", "unknown_block_type"], []),
        (
            {
                "blocks": {"a": {"type": "code", "outputs": ["o"]}},
                "connections": [
                    {
                        "source_port": "zz",
                        "target_port": "i",
                        "source_block_id": "a",
                        "target_block_id": "a",
                    },
                    {
                        "source_port": "o",
                        "target_port": "i",
                        "source_block_id": "a",
                        "target_block_id": "a",
                    },
                    {
                        "source_port": "o",
                        "target_port": "i",
                        "source_block_id": "a",
                        "target_block_id": "a",
                    },
                    {"source_port": "o"},
                ],
            },
            ["malformed_connection", "unknown_port"],
            ["duplicate_connection", "self_connection", "self_connection", "self_connection"],
        ),
    ],
)
async def test_validate(
    api: Api, configuration: dict[str, Any], errors: list[str], warnings: list[str]
) -> None:
    result = await api.ok(
        "POST", "/pipeline-configuration-versions/validate", json={"configuration": configuration}
    )
    assert result["valid"] is (not errors)
    assert sorted(e["errorType"] for e in result["errors"]) == errors
    assert sorted(w["errorType"] for w in result["warnings"]) == warnings
    assert all(w["type"] == "connection_error" for w in result["warnings"])


async def test_validate_schemas_and_bad_input(api: Api) -> None:
    result = await api.ok(
        "POST", "/pipeline-configuration-versions/validate", json={"configuration": CONFIG}
    )
    assert result["inputSchema"] == {"type": "object"} and result["outputSchema"] == {
        "type": "array"
    }
    assert (
        await api.post("/pipeline-configuration-versions/validate", json={"configuration": "x"})
    )[0] == 400
    schema = await api.ok("GET", "/pipeline-configuration-versions/schema")
    assert schema["required"] == ["id", "name", "blocks"]
    assert (
        "input"
        in schema["properties"]["blocks"]["additionalProperties"]["properties"]["type"]["enum"]
    )


async def test_resource_accessors(sim: Simulator, api: Api) -> None:
    dataset = await api.ok("POST", "/datasets", 201, json={"teamId": sim.team_id, "name": "D"})
    assert sim.resource("datasets", dataset["datasetId"])["name"] == "D"
    assert [d["name"] for d in sim.resources("datasets")] == ["D"]
    with pytest.raises(KeyError):
        sim.resource("datasets", "ghost")
    with pytest.raises(ValueError, match="unknown kind"):
        sim.resources("widgets")
