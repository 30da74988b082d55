"""The Moderately client against the simulator: configuration, errors, retries, paging, models.

Async tests use an in-loop simulator; blocking tests use the threaded one (``threaded_sim``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tether import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ValidationError,
)
from tether.moderately import (
    AsyncModeratelyAI,
    ExecutionStatus,
    File,
    ModeratelyAI,
    PipelineExecution,
    Team,
    UploadStatus,
    User,
)
from tether.moderately.models import ApiTokenCreated, DatasetSchemaVersion, converter
from tether.testing.moderately import Simulator


def _client(sim: Simulator, **kw: Any) -> AsyncModeratelyAI:
    kw.setdefault(
        "retries",
        RetryPolicy(
            max_retries=2,
            initial_backoff=0.01,
            max_backoff=0.02,
            statuses=frozenset({408, 429, 502, 503, 504}),
        ),
    )
    return AsyncModeratelyAI(api_key=sim.api_key, team_id=sim.team_id, base_url=sim.url, **kw)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[AsyncModeratelyAI]:
    async with _client(sim) as made:
        yield made


# --- configuration -------------------------------------------------------------------------------


async def test_environment_variables_configure_the_async_client(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in sim.info().items():
        monkeypatch.setenv(key, value)
    async with AsyncModeratelyAI() as client:
        assert client.base_url == sim.url  # unlike the official async client (§7 #24)
        assert client.team_id == sim.team_id
        team = await client.teams.retrieve(sim.team_id)
    assert team.name == "Simulated Team"
    sent = sim.requests[-1]
    assert sent.headers["Authorization"].startswith("Bearer ")


def test_environment_variables_configure_the_blocking_client(
    threaded_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in threaded_sim.info().items():
        monkeypatch.setenv(key, value)
    with ModeratelyAI() as client:
        assert client.base_url == threaded_sim.url
        assert client.team_id == threaded_sim.team_id
        assert client.health().status == "ok"


@pytest.mark.parametrize("missing", ["MODERATELY_API_KEY", "MODERATELY_TEAM_ID"])
def test_missing_or_empty_settings_fail_before_any_request(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setenv("MODERATELY_API_KEY", "sk-x")
    monkeypatch.setenv("MODERATELY_TEAM_ID", "team_x")
    monkeypatch.setenv(missing, "")
    with pytest.raises(ValidationError, match=missing):
        AsyncModeratelyAI()
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationError, match=missing):
        ModeratelyAI()


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODERATELY_BASE_URL", raising=False)
    client = AsyncModeratelyAI(api_key="sk-x", team_id="t")
    assert client.base_url == "https://api.moderately.ai"


async def test_path_prefix_is_kept() -> None:
    async with (
        Simulator(seed=3, clock="manual", prefix="/moderately") as sim,
        _client(sim) as client,
    ):
        assert sim.url.endswith("/moderately")
        assert (await client.teams.retrieve(sim.team_id)).team_id == sim.team_id
    assert sim.requests[-1].path == "/moderately/teams/" + sim.team_id


async def test_headers_team_scoping_and_default_query(sim: Simulator) -> None:
    async with _client(sim, default_query={"trace": "on"}, default_headers={"X-Test": "1"}) as c:
        await c.datasets.list()
        await c.datasets.create(name="Scoped")
    listing, create = sim.requests
    # §1.5: teamIds on list endpoints (the spec), teamId in create bodies; never elsewhere
    assert listing.query_dict()["teamIds"] == [sim.team_id]
    assert "teamIds" not in create.query_dict()
    assert create.json["teamId"] == sim.team_id
    for sent in (listing, create):
        assert sent.query_dict()["trace"] == ["on"]
        assert sent.headers["X-Test"] == "1"
        assert sent.headers["Accept"] == "application/json"
        assert sent.headers["User-Agent"].startswith("tether/")
    # camelCase paging (§7 #1)
    assert listing.query_dict()["pageSize"] == ["10"]
    assert listing.query_dict()["orderBy"] == ["createdAt"]
    assert "Content-Type" not in listing.headers


# --- credentials ---------------------------------------------------------------------------------


async def test_credentials_never_appear_in_logs_reprs_or_errors(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = sim.api_key
    async with _client(sim) as client:
        await client.files.upload(b"secret-free", name="a.txt")
        sim.fail_next(3, 502, "/teams")
        with pytest.raises(InternalServerError) as unavailable:
            await client.teams.list()
        with pytest.raises(NotFoundError) as missing:
            await client.datasets.retrieve("nope")
        created = await client.api_tokens.create(name="ci")
        texts = [
            caplog.text,
            repr(client),
            str(unavailable.value),
            repr(unavailable.value.headers),
            str(missing.value),
            repr(created),
            repr(client.files),
        ]
    assert created.token and created.token not in repr(created)
    assert isinstance(created, ApiTokenCreated)
    for text in texts:
        assert key not in text
    assert "Bearer" not in caplog.text
    with pytest.raises(AuthenticationError) as denied:
        async with AsyncModeratelyAI(api_key="wrong-key", team_id="t", base_url=sim.url) as bad:
            await bad.teams.list()
    assert "wrong-key" not in str(denied.value)


# --- errors --------------------------------------------------------------------------------------


async def test_error_envelope_becomes_a_typed_error(client: AsyncModeratelyAI) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.datasets.retrieve("ds_missing")
    error = info.value
    assert error.status == 404
    assert error.message == "Dataset not found"
    assert error.cause == "NOT_FOUND"
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert "GET" in str(error) and "/datasets/ds_missing" in str(error)
    with pytest.raises(BadRequestError) as bad:
        await client.files.get_upload_url(filename="a", file_size=1, file_hash="not-a-digest")
    assert bad.value.status == 400
    assert bad.value.cause is not None
    assert "fileHash: must be a SHA-256 hex digest" in bad.value.cause
    assert bad.value.body["error"]["code"] == "VALIDATION_ERROR"
    await client.pipelines.create(name="twice")
    with pytest.raises(ConflictError):
        await client.pipelines.create(name="twice")


async def test_bad_input_fails_before_any_request(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    with pytest.raises(ValidationError):
        await client.datasets.retrieve("")
    with pytest.raises(ValidationError):
        await client.files.list(page=0)
    with pytest.raises(ValidationError):
        await client.files.list(page_size=101)
    with pytest.raises(ValidationError):
        await client.pipeline_configuration_versions.create(pipeline_id="p", configuration={})
    with pytest.raises(ValidationError):
        await client.pipeline_executions.create(
            pipeline_configuration_version_id="v",
            pipeline_input=[],  # type: ignore[arg-type]
            pipeline_input_summary="x",
        )
    with pytest.raises(ValidationError):
        await client.datasets.upload_data("ds", b"x", filename="data.txt")
    with pytest.raises(ValidationError):
        await client.teams.retrieve(42)  # type: ignore[arg-type]
    assert sim.requests == []


async def test_a_read_answered_with_no_body_is_a_decoding_error(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    sim.fail_next(1, 200, "/teams/", body=[1, 2])
    with pytest.raises(ResponseDecodeError):
        await client.teams.retrieve(sim.team_id)


# --- retries -------------------------------------------------------------------------------------


async def test_429_is_retried_after_retry_after(client: AsyncModeratelyAI, sim: Simulator) -> None:
    sim.rate_limit_next(1, retry_after=1, path_prefix="/teams")
    started = time.monotonic()
    team = await client.teams.retrieve(sim.team_id)
    waited = time.monotonic() - started
    assert team.team_id == sim.team_id
    assert waited >= 0.9  # the server's Retry-After, not the 10 ms backoff
    assert [r.status for r in sim.requests] == [429, 200]


async def test_429_on_a_post_is_retried_too(client: AsyncModeratelyAI, sim: Simulator) -> None:
    sim.rate_limit_next(1, retry_after=0, path_prefix="/datasets")
    await client.datasets.create(name="After 429")
    assert [(r.method, r.status) for r in sim.requests] == [("POST", 429), ("POST", 201)]


async def test_rate_limit_exhausted_raises_with_retry_after(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    sim.rate_limit_next(3, retry_after=0, path_prefix="/teams")
    with pytest.raises(RateLimitError) as info:
        await client.teams.list()
    assert info.value.retry_after == 0
    assert len(sim.requests) == 3


async def test_gets_are_retried_on_504_but_posts_are_not_replayed(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    sim.fail_next(1, 504, "/datasets", method="GET")
    await client.datasets.list()
    assert [r.status for r in sim.requests] == [504, 200]
    sim.clear_requests()
    sim.fail_next(1, 502, "/pipelines", method="POST")
    with pytest.raises(InternalServerError):
        await client.pipelines.create(name="never replayed")
    assert [(r.method, r.status) for r in sim.requests] == [("POST", 502)]
    assert await client.pipelines.list().to_list() == []


async def test_500_is_not_retried(client: AsyncModeratelyAI, sim: Simulator) -> None:
    sim.fail_next(1, 500, "/teams")
    with pytest.raises(InternalServerError):
        await client.teams.list()
    assert len(sim.requests) == 1


async def test_connection_refused_is_a_connection_error() -> None:
    async with AsyncModeratelyAI(
        api_key="k", team_id="t", base_url="http://127.0.0.1:9", retries=RetryPolicy(max_retries=0)
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.teams.list()


# --- pagination ----------------------------------------------------------------------------------


async def test_lists_auto_paginate_and_keep_the_official_first_page_shape(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    for n in range(7):
        await client.datasets.create(name=f"set {n}")
    sim.clear_requests()
    names = [d.name async for d in client.datasets.list(page_size=3, order_direction="asc")]
    assert names == [f"set {n}" for n in range(7)]
    assert [r.query_dict()["page"] for r in sim.requests] == [["1"], ["2"], ["3"]]
    first = await client.datasets.list(page_size=3)
    assert first["pagination"]["totalItems"] == 7
    assert first["pagination"]["hasNextPage"] is True
    assert [d.name for d in first["items"]] == ["set 6", "set 5", "set 4"]
    assert len(first) == 3 and first.has_more
    pages = [len(p) async for p in client.datasets.list(page_size=3).iter_pages()]
    assert pages == [3, 3, 1]
    later = await client.datasets.list(page=3, page_size=3)
    assert [d.name for d in later] == ["set 0"] and not later.has_more


def test_blocking_lists_iterate_and_index(threaded_sim: Simulator) -> None:
    with ModeratelyAI(
        api_key=threaded_sim.api_key, team_id=threaded_sim.team_id, base_url=threaded_sim.url
    ) as client:
        for n in range(5):
            client.pipelines.create(name=f"p{n}")
        names = [p.name for p in client.pipelines.list(page_size=2)]
        first = client.pipelines.list(page_size=2)
        total = first["pagination"]["totalItems"]
        page = first.first_page()
    assert names == [f"p{n}" for n in range(5)]
    assert total == 5
    assert [p.name for p in page] == ["p0", "p1"]


# --- models --------------------------------------------------------------------------------------


def test_models_decode_and_keep_helpers_pure() -> None:
    file = converter.structure(
        {
            "fileId": "f1",
            "teamId": "t",
            "fileName": "data.CSV.csv",
            "fileSize": 10,
            "mimeType": "text/csv",
            "fileHash": "ab",
            "uploadStatus": "completed",
            "uploadedBy": None,
            "metadata": {"k": "v"},
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-01-01T00:00:00.000Z",
            "somethingNew": 1,
        },
        File,
    )
    assert file.is_ready() and file.is_csv() and file.is_text() and not file.is_image()
    assert file.get_extension() == ".csv" and file.name == "data.CSV.csv"
    assert file.status is UploadStatus.COMPLETED and not file.is_processing()
    assert file["fileName"] == "data.CSV.csv" and file.get("nope", 3) == 3
    assert file.to_dict()["fileName"] == "data.CSV.csv"
    with pytest.raises(KeyError):
        file["file_name"]
    pending = converter.structure({**file.to_dict(), "uploadStatus": "failed"}, File)
    assert pending.has_error() and not pending.is_ready()
    assert converter.structure(
        {**file.to_dict(), "mimeType": "application/pdf"}, File
    ).is_document()

    user = User(user_id="u", full_name="Ada Lovelace", nickname=" ", created_at=None)
    assert user.display_name() == "Ada Lovelace" and not user.has_nickname()
    now = datetime(2024, 1, 10, tzinfo=UTC)
    recent = User(user_id="u", full_name="A", nickname="ada", created_at=now - timedelta(days=2))
    assert recent.display_name() == "ada" and recent.is_recent(7, now=now)
    assert not recent.is_recent(1, now=now)
    assert recent.formatted_created_at("%Y-%m-%d") == "2024-01-08"

    execution = converter.structure(
        {
            "pipelineExecutionId": "pe",
            "pipelineConfigurationVersionId": "v",
            "status": "teleporting",
            "progressData": {"errors": ["a", "b"]},
            "currentStep": 1,
            "totalSteps": 4,
        },
        PipelineExecution,
    )
    assert execution.status == "teleporting" and not execution.status.known
    assert not execution.is_terminal and execution.progress_percentage == 25.0
    assert execution.error_message == "a; b" and execution.execution_id == "pe"
    assert ExecutionStatus("paused").is_terminal is False
    assert ExecutionStatus.CANCELLED.is_terminal

    schema = converter.structure(
        {
            "datasetSchemaVersionId": "s",
            "datasetId": "d",
            "versionNo": 1,
            "status": "draft",
            "columnsJson": [{"name": "id", "type": "integer", "nullable": False, "pos": 1}],
            "parsingOptions": {"skipRows": [1, 2], "delimiter": ";"},
        },
        DatasetSchemaVersion,
    )
    assert schema.column_names() == ["id"] and schema.columns[0].required
    assert schema.parsing_options is not None and schema.parsing_options.skip_rows == [1, 2]
    assert schema["columnsJson"] == schema.columns
    team = Team(team_id="t", name="n")
    assert team["teamId"] == "t"


async def test_team_and_user_operations(client: AsyncModeratelyAI, sim: Simulator) -> None:
    me = (await client.users.list()).items[0]
    updated = await client.users.update(me, full_name="Ada Lovelace")
    assert updated.full_name == "Ada Lovelace"
    assert (await client.users.retrieve(me.user_id)).full_name == "Ada Lovelace"
    assert [t.name for t in await client.users.get_teams(me)] == ["Simulated Team"]
    memberships = await client.users.memberships(me)
    assert [m.role for m in memberships] == ["admin"]
    team = await client.teams.create(name="Second")
    assert (await client.teams.update(team, name="Second!")).name == "Second!"
    assert sorted(t.name for t in await client.teams.list(team_ids=[]).to_list()) == [
        "Second!",
        "Simulated Team",
    ]
    await client.teams.delete(team)
    with pytest.raises(NotFoundError):
        await client.teams.retrieve(team)
    me_again = await client.authentication.whoami()
    assert me_again.user_id == me.user_id


async def test_with_options_shares_the_pool_and_keeps_the_team(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    quick = client.with_options(timeout=5, headers={"X-Trace": "1"})
    assert quick.team_id == client.team_id and quick.http.transport is client.http.transport
    assert quick.datasets is not client.datasets  # resources bind to the copy
    await quick.datasets.list()
    assert sim.requests[-1].headers["X-Trace"] == "1"
    await client.datasets.list()
    assert "X-Trace" not in sim.requests[-1].headers


async def test_a_slow_server_times_out(sim: Simulator) -> None:
    sim.delay_next(1, 1.0, "/teams")
    async with _client(sim, timeout=0.2, retries=RetryPolicy(max_retries=0)) as quick:
        with pytest.raises(APITimeoutError):
            await quick.teams.list()
