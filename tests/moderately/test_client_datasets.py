"""Datasets through the Moderately client: data versions, downloads and schemas."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tether import NotFoundError, RetryPolicy, ValidationError
from tether.moderately import (
    AsyncModeratelyAI,
    ModeratelyAI,
    SchemaBuilder,
    UploadError,
    infer_columns,
    infer_type,
)
from tether.moderately._schema import normalise_columns
from tether.testing.moderately import Simulator

CSV_V1 = b"id,name,score\n1,ada,90\n2,bob,85\n3,cy,77\n"
CSV_V2 = b"id,name,score\n1,ada,91\n2,bob,86"  # no final newline: still two rows


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[AsyncModeratelyAI]:
    async with AsyncModeratelyAI(
        api_key=sim.api_key,
        team_id=sim.team_id,
        base_url=sim.url,
        retries=RetryPolicy(max_retries=0),
    ) as made:
        yield made


def _columns(schema: object) -> list[list[object]]:
    return [[c.name, c.type, c.nullable] for c in schema.columns]  # type: ignore[attr-defined]


async def test_upload_versions_list_and_download(
    client: AsyncModeratelyAI, sim: Simulator, tmp_path: Path
) -> None:
    dataset = await client.datasets.create(name="Scores", description="exam scores")
    assert not dataset.has_data()
    v1 = await client.datasets.upload_data(dataset, CSV_V1, filename="scores.csv")
    assert (v1.version_no, v1.status, v1.row_count, v1.file_type) == (1, "current", 3, "csv")
    assert v1.file_size_bytes == len(CSV_V1)
    source = tmp_path / "v2.csv"
    source.write_bytes(CSV_V2)
    v2 = await client.datasets.upload_data(dataset.dataset_id, source)
    assert (v2.version_no, v2.status) == (2, "current")
    create = next(r for r in sim.requests if r.path == "/dataset-data-versions")
    assert create.json == {
        "datasetId": dataset.dataset_id,
        "fileName": "scores.csv",
        "fileType": "csv",
        "status": "current",
    }
    complete = next(r for r in sim.requests if r.path.endswith("/complete"))
    assert complete.json == {}  # the spec's body (§7 #9)
    put = next(r for r in sim.requests if r.method == "PUT")
    assert put.headers["Content-Type"] == "text/csv"

    versions = await client.datasets.list_data_versions(dataset).to_list()
    assert [(v.version_no, v.status) for v in versions] == [(1, "archived"), (2, "current")]
    assert await client.datasets.download_data(dataset) == CSV_V2  # read fresh: v2 is current
    assert await client.datasets.download_data(dataset, version_id=v1.version_id) == CSV_V1
    written = await client.datasets.download_data(dataset, path=tmp_path / "out" / "d.csv")
    assert written.read_bytes() == CSV_V2
    again = await client.datasets.get_data_version(v1.version_id)
    assert again.status == "archived"
    current = await client.dataset_data_versions.list(
        dataset_ids=dataset.dataset_id, status="current"
    )
    assert [v.version_no for v in current] == [2]
    fresh = await client.datasets.retrieve(dataset)
    assert fresh.current_data_version_id == v2.version_id and fresh.has_data()


async def test_upload_needs_a_known_file_type(client: AsyncModeratelyAI, sim: Simulator) -> None:
    with pytest.raises(ValidationError, match="csv"):
        await client.datasets.upload_data("ds", b"x", filename="scores.txt")
    with pytest.raises(ValidationError):
        await client.datasets.upload_data("ds", io.BytesIO(b"x"))
    with pytest.raises(ValidationError):
        await client.datasets.upload_data("ds", b"x", file_type="parquet")
    assert sim.requests == []
    dataset = await client.datasets.create(name="Typed")
    version = await client.datasets.upload_data(dataset, b"a\n1\n", file_type="csv")
    assert version.row_count == 1


async def test_a_failed_data_transfer_reports_the_incomplete_version(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    dataset = await client.datasets.create(name="Broken")
    sim.fail_storage_put_next(1, 500)
    with pytest.raises(UploadError) as info:
        await client.datasets.upload_data(dataset, CSV_V1, filename="scores.csv")
    error = info.value
    assert (error.stage, error.state, error.status) == ("transfer", "incomplete", 500)
    assert error.data_version_id is not None
    left = await client.dataset_data_versions.retrieve(error.data_version_id)
    assert left.status == "draft"
    assert (await client.datasets.retrieve(dataset)).current_data_version_id is None
    with pytest.raises(ValidationError, match="no current data version"):
        await client.datasets.download_data(dataset)


async def test_schemas_explicit_builder_and_edits(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    dataset = await client.datasets.create(name="Schemas")
    schema = await client.datasets.create_schema(
        dataset, [{"name": "id", "type": "int"}, {"name": "name", "type": "str", "required": False}]
    )
    assert schema.status == "draft" and schema.version_no == 1
    assert _columns(schema) == [["id", "integer", False], ["name", "string", True]]
    sent = next(r for r in sim.requests if r.path == "/dataset-schema-versions")
    assert sent.json["columns"][0] == {"pos": 1, "name": "id", "type": "integer", "nullable": False}

    active = await client.dataset_schema_versions.activate(schema)
    assert active.status == "current"
    added = await client.dataset_schema_versions.add_column(
        schema, "score", "float", required=False
    )
    assert _columns(added) == [
        ["id", "integer", False],
        ["name", "string", True],
        ["score", "float", True],
    ]
    first = await client.dataset_schema_versions.add_column(
        schema, "key", "str", position=1, description="primary"
    )
    assert [(c.pos, c.name) for c in first.columns] == [
        (1, "key"),
        (2, "id"),
        (3, "name"),
        (4, "score"),
    ]
    assert first.columns[0].description == "primary"
    removed = await client.dataset_schema_versions.remove_column(schema, "key")
    assert removed.column_names() == ["id", "name", "score"]
    with pytest.raises(ValidationError):
        await client.dataset_schema_versions.remove_column(schema, "ghost")
    with pytest.raises(ValidationError):
        await client.dataset_schema_versions.add_column(schema, "id", "int")

    builder = (
        client.datasets.schema_builder(dataset)
        .add_column("id", "int")
        .add_column("when", "date", required=False, description="event time")
        .with_parsing(delimiter=";", header_row=1, skip_rows=[2])
        .as_current()
    )
    built = await client.datasets.create_schema(dataset, builder)
    assert built.status == "current" and built.version_no == 2
    assert _columns(built) == [["id", "integer", False], ["when", "datetime", True]]
    assert built.parsing_options is not None and built.parsing_options.delimiter == ";"
    current = await client.datasets.get_current_schema(dataset)
    assert current is not None and current.version_no == 2
    listed = await client.datasets.list_schema_versions(dataset).to_list()
    assert [(s.version_no, s.status) for s in listed] == [(2, "current"), (1, "archived")]
    archived = await client.dataset_schema_versions.archive(built)
    assert archived.status == "archived"
    assert await client.datasets.get_current_schema(dataset) is None
    assert (
        await client.datasets.get_schema_version(schema.dataset_schema_version_id)
    ).version_no == 1


async def test_schema_from_a_csv_sample(
    client: AsyncModeratelyAI, sim: Simulator, tmp_path: Path
) -> None:
    dataset = await client.datasets.create(name="Inferred")
    inferred = await client.datasets.create_schema_from_sample(dataset, CSV_V1)
    assert _columns(inferred) == [
        ["id", "integer", True],
        ["name", "string", True],
        ["score", "integer", True],
    ]
    sample = tmp_path / "sample.csv"
    sample.write_text("when;ok;ratio\n2024-01-02;yes;0.5\n2024-02-03T10:00:00Z;no;1\n")
    typed = await client.datasets.create_schema_from_sample(dataset, sample)
    assert [c.type for c in typed.columns] == ["datetime", "boolean", "float"]
    plain = await client.datasets.create_schema_from_sample(
        dataset, io.StringIO(CSV_V1.decode()), infer_types=False, status="current"
    )
    assert [c.type for c in plain.columns] == ["string", "string", "string"]
    assert plain.status == "current"


def test_inference_and_column_rules() -> None:
    assert infer_type([]) == "string"
    assert infer_type(["1", "", "2"]) == "integer"
    assert infer_type(["1", "2.5"]) == "float"
    assert infer_type(["true", "No"]) == "boolean"
    assert infer_type(["1/2/2024", "2024-01-01 10:00"]) == "datetime"
    assert infer_type(["1", "x"]) == "string"
    columns = infer_columns(b"\xef\xbb\xbfa,b\n1,x\n", sample_size=10)
    assert columns == [
        {"name": "a", "type": "integer", "required": False},
        {"name": "b", "type": "string", "required": False},
    ]
    assert [c["name"] for c in infer_columns(b"skip\nx\ty\n1\t2\n", header_row=2)] == ["x", "y"]
    with pytest.raises(ValidationError):
        infer_columns(b"")
    with pytest.raises(ValidationError):
        infer_columns(b"\xff\xfe\x00bad")
    with pytest.raises(ValidationError):
        normalise_columns([])
    with pytest.raises(ValidationError):
        normalise_columns([{"name": "a"}])
    with pytest.raises(ValidationError):
        normalise_columns([{"name": "a", "type": "int"}, {"name": "a", "type": "str"}])
    explicit = normalise_columns([{"name": "a", "type": "bool", "nullable": True, "pos": 7}])
    assert explicit == [{"pos": 7, "name": "a", "type": "boolean", "nullable": True}]
    with pytest.raises(ValidationError):
        SchemaBuilder().columns()
    with pytest.raises(ValidationError):
        SchemaBuilder().add_column("a", "int").add_column("a", "int")
    assert "a" in repr(SchemaBuilder().add_column("a", "int"))


async def test_dataset_crud(client: AsyncModeratelyAI) -> None:
    dataset = await client.datasets.create(name="Crud")
    updated = await client.datasets.update(dataset, description="updated", should_process=True)
    assert updated.description == "updated" and updated.processing_status == "in_progress"
    found = await client.datasets.list(name_like="cru").to_list()
    assert [d.dataset_id for d in found] == [dataset.dataset_id]
    await client.datasets.delete(dataset)
    with pytest.raises(NotFoundError):
        await client.datasets.retrieve(dataset)


def test_blocking_datasets(threaded_sim: Simulator, tmp_path: Path) -> None:
    with ModeratelyAI(
        api_key=threaded_sim.api_key, team_id=threaded_sim.team_id, base_url=threaded_sim.url
    ) as client:
        dataset = client.datasets.create(name="Blocking")
        version = client.datasets.upload_data(dataset, CSV_V1, filename="s.csv")
        data = client.datasets.download_data(dataset, version_id=version.version_id)
        schema = client.datasets.create_schema(dataset, SchemaBuilder().add_column("id", "int"))
        versions = [v.version_no for v in client.datasets.list_data_versions(dataset)]
    assert data == CSV_V1 and versions == [1] and schema.version_no == 1
