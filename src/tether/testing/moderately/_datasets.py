"""Datasets, dataset data versions (presigned upload/download) and schema versions."""

from __future__ import annotations

import copy
from typing import Any

from tether.testing.moderately._agents import AgentRoutes
from tether.testing.moderately._core import BUCKET
from tether.testing.moderately._models import Ctx, Reply, Route
from tether.testing.moderately._util import (
    JSON,
    ApiError,
    BodyReader,
    ListSpec,
    QueryReader,
    as_list,
    as_obj,
    like,
    paginate,
    public,
)

DATASET_SUMMARY_FIELDS = (
    "datasetId",
    "teamId",
    "name",
    "description",
    "createdAt",
    "updatedAt",
    "currentSchemaVersionId",
    "currentDataVersionId",
)
DATASET_FIELDS = (
    *DATASET_SUMMARY_FIELDS,
    "activeDataSchemaVersionId",
    "activeDataVersionId",
    "processingStatus",
)
DATA_VERSION_FIELDS = (
    "datasetDataVersionId",
    "datasetId",
    "versionNo",
    "sourceFileUri",
    "fileType",
    "status",
    "createdAt",
    "updatedAt",
)
SCHEMA_FIELDS = (
    "datasetSchemaVersionId",
    "datasetId",
    "versionNo",
    "columnsJson",
    "status",
    "parsingOptions",
    "createdAt",
    "updatedAt",
)
VERSION_STATUSES = ("draft", "current", "archived")
FILE_TYPES = ("csv", "xlsx")


def normalise_hash(value: str) -> str:
    """``sha256:ABC…`` and ``abc…`` compare equal."""
    value = value.strip().lower()
    return value[len("sha256:") :] if value.startswith("sha256:") else value


class DatasetRoutes(AgentRoutes):
    """Mixin: ``/datasets``, ``/dataset-data-versions`` and ``/dataset-schema-versions``."""

    def _routes_datasets(self) -> list[Route]:
        dv = "/dataset-data-versions"
        sv = "/dataset-schema-versions"
        return [
            Route("GET", "/datasets", self._list_datasets),
            Route(
                "POST",
                "/datasets",
                self._create_dataset,
                audit=("dataset", "create"),
                audit_kind="datasets",
                audit_id="datasetId",
            ),
            Route("GET", "/datasets/{datasetId}", self._get_dataset),
            Route(
                "PATCH",
                "/datasets/{datasetId}",
                self._patch_dataset,
                audit=("dataset", "update"),
                audit_kind="datasets",
            ),
            Route(
                "DELETE",
                "/datasets/{datasetId}",
                self._delete_dataset,
                audit=("dataset", "delete"),
                audit_kind="datasets",
            ),
            Route(
                "POST",
                dv,
                self._create_data_version,
                audit=("datasetDataVersion", "create"),
                audit_kind="dataVersions",
                audit_id="dataVersion.datasetDataVersionId",
            ),
            Route("GET", dv, self._list_data_versions),
            Route("GET", dv + "/{datasetDataVersionId}", self._get_data_version),
            Route(
                "POST",
                dv + "/{dataVersionId}/complete",
                self._complete_data_version,
                audit=("datasetDataVersion", "update"),
                audit_kind="dataVersions",
            ),
            Route("GET", dv + "/{dataVersionId}/download", self._download_data_version),
            Route(
                "POST",
                sv,
                self._create_schema_version,
                audit=("datasetSchemaVersion", "create"),
                audit_kind="schemaVersions",
                audit_id="datasetSchemaVersionId",
            ),
            Route("GET", sv, self._list_schema_versions),
            Route("GET", sv + "/{datasetSchemaVersionId}", self._get_schema_version),
            Route(
                "PATCH",
                sv + "/{datasetSchemaVersionId}",
                self._patch_schema_version,
                audit=("datasetSchemaVersion", "update"),
                audit_kind="schemaVersions",
            ),
        ]

    # ------------------------------------------------------------------ datasets

    def _refresh_processing(self, dataset: JSON) -> None:
        since = dataset.get("_processingSince")
        if dataset.get("processingStatus") != "in_progress" or not isinstance(since, float):
            return
        if self._clock.now() - since + 1e-9 < self.step_seconds:
            return
        if dataset.get("currentDataVersionId") is None:
            dataset["processingStatus"] = "failed"
        else:
            dataset["processingStatus"] = "completed"
            dataset["activeDataVersionId"] = dataset["currentDataVersionId"]
            dataset["activeDataSchemaVersionId"] = dataset.get("currentSchemaVersionId")
        dataset["updatedAt"] = self._clock.iso(since + self.step_seconds)
        dataset["_processingSince"] = None

    def _dataset_view(self, dataset: JSON, *, summary: bool = False) -> JSON:
        self._refresh_processing(dataset)
        if summary:
            return public(dataset, DATASET_SUMMARY_FIELDS)
        view = public(dataset, DATASET_FIELDS)
        current = self._find("dataVersions", dataset.get("currentDataVersionId") or "")
        if current is not None:
            view["recordCount"] = current.get("rowCount")
            view["totalSizeBytes"] = current.get("fileSizeBytes")
        return view

    def _list_datasets(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        ids = q.ids("datasetIds")
        name_like = q.get("nameLike")
        name = q.get("name")
        items = [
            d
            for d in self._all("datasets")
            if d["teamId"] in teams
            and (ids is None or d["datasetId"] in ids)
            and like(d["name"], name_like)
            and (name is None or d["name"] == name)
        ]
        page = paginate(items, q, ListSpec(order_by=("createdAt", "updatedAt", "name")))
        page["items"] = [self._dataset_view(d, summary=True) for d in page["items"]]
        return Reply(200, page)

    def _create_dataset(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        team_id = body.text("teamId", required=True, min_len=1)
        name = body.text("name", required=True, min_len=1, max_len=255)
        description = body.text("description", nullable=True)
        body.check()
        assert team_id is not None and name is not None
        self._require_team(ctx, team_id)
        if self._name_taken("datasets", team_id, name):
            raise ApiError(409, f"A dataset named {name!r} already exists")
        now = self._now()
        dataset = self._insert(
            "datasets",
            {
                "datasetId": self._ids.new("dataset"),
                "teamId": team_id,
                "name": name,
                "description": description,
                "createdAt": now,
                "updatedAt": now,
                "currentSchemaVersionId": None,
                "currentDataVersionId": None,
                "activeDataSchemaVersionId": None,
                "activeDataVersionId": None,
                "processingStatus": None,
            },
        )
        return Reply(201, self._dataset_view(dataset))

    def _get_dataset(self, ctx: Ctx) -> Reply:
        return Reply(
            200,
            self._dataset_view(self._owned(ctx, "datasets", ctx.params["datasetId"], "Dataset")),
        )

    def _patch_dataset(self, ctx: Ctx) -> Reply:
        dataset = self._owned(ctx, "datasets", ctx.params["datasetId"], "Dataset")
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        name = body.text("name", min_len=1, max_len=255)
        description = body.text("description", nullable=True)
        process = body.flag("shouldProcess")
        body.check()
        if name is not None and self._name_taken(
            "datasets", dataset["teamId"], name, exclude=dataset["datasetId"]
        ):
            raise ApiError(409, f"A dataset named {name!r} already exists")
        if name is not None:
            dataset["name"] = name
        if body.has("description"):
            dataset["description"] = description
        if process:
            dataset["processingStatus"] = "in_progress"
            dataset["_processingSince"] = self._clock.now()
        dataset["updatedAt"] = self._now()
        return Reply(200, self._dataset_view(dataset))

    def _delete_dataset(self, ctx: Ctx) -> Reply:
        dataset = self._owned(ctx, "datasets", ctx.params["datasetId"], "Dataset")
        self._require_write(ctx)
        dataset_id = dataset["datasetId"]
        del self._db["datasets"][dataset_id]
        for kind in ("dataVersions", "schemaVersions"):
            for key in [k for k, v in self._db[kind].items() if v["datasetId"] == dataset_id]:
                record = self._db[kind].pop(key)
                self._objects.pop(str(record.get("_key", "")), None)
        return Reply(200, {"success": True, "message": "Dataset deleted"})

    # ------------------------------------------------------------------ data versions

    def _data_version_view(self, version: JSON) -> JSON:
        view = public(version, DATA_VERSION_FIELDS)
        for extra in ("fileHash", "fileSizeBytes", "rowCount"):
            if version.get(extra) is not None:
                view[extra] = version[extra]
        return view

    def _create_data_version(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        dataset_id = body.text("datasetId", required=True, min_len=1)
        file_type = body.text("fileType", required=True, enum=FILE_TYPES)
        file_name = body.text("fileName", required=True, min_len=1)
        status = body.text("status", enum=VERSION_STATUSES) or "current"
        body.check()
        assert dataset_id is not None and file_type is not None
        dataset = self._owned(ctx, "datasets", dataset_id, "Dataset")
        version_no = 1 + sum(
            1 for v in self._db["dataVersions"].values() if v["datasetId"] == dataset_id
        )
        version_id = self._ids.new("dataVersion")
        key = f"datasets/{dataset['datasetId']}/{version_id}.{file_type}"
        now = self._now()
        version = self._insert(
            "dataVersions",
            {
                "datasetDataVersionId": version_id,
                "datasetId": dataset_id,
                "versionNo": version_no,
                "sourceFileUri": f"s3://{BUCKET}/{key}",
                "fileType": file_type,
                "status": "draft",
                "createdAt": now,
                "updatedAt": now,
                "_key": key,
                "_fileName": file_name,
                "_requestedStatus": status,
                "_completed": False,
            },
        )
        url, expires = self._presign("PUT", key)
        return Reply(
            201,
            {
                "dataVersion": self._data_version_view(version),
                "uploadUrl": url,
                "uploadExpiry": expires,
            },
        )

    def _list_data_versions(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        ids = q.ids("datasetDataVersionIds")
        datasets = q.ids("datasetIds")
        status = q.enum("status", VERSION_STATUSES, None)
        version_no = q.integer("versionNo", None)
        file_type = q.enum("fileType", FILE_TYPES, None)
        q.check()
        items = [
            v
            for v in self._all("dataVersions")
            if self._team_of("dataVersions", v) in teams
            and (ids is None or v["datasetDataVersionId"] in ids)
            and (datasets is None or v["datasetId"] in datasets)
            and (status is None or v["status"] == status)
            and (version_no is None or v["versionNo"] == version_no)
            and (file_type is None or v["fileType"] == file_type)
        ]
        page = paginate(items, q, ListSpec(order_by=("createdAt", "updatedAt", "versionNo")))
        page["items"] = [self._data_version_view(v) for v in page["items"]]
        return Reply(200, page)

    def _get_data_version(self, ctx: Ctx) -> Reply:
        version = self._owned(
            ctx, "dataVersions", ctx.params["datasetDataVersionId"], "Data version"
        )
        return Reply(200, self._data_version_view(version))

    def _complete_data_version(self, ctx: Ctx) -> Reply:
        version = self._owned(ctx, "dataVersions", ctx.params["dataVersionId"], "Data version")
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        file_hash = body.text("fileHash", nullable=True)
        size = body.integer("fileSizeBytes", nullable=True, minimum=0)
        rows = body.integer("rowCount", nullable=True, minimum=0)
        body.check()
        if version["_completed"]:
            raise ApiError(400, "This data version upload is already complete")
        stored = self._objects.get(version["_key"])
        if stored is None:
            raise ApiError(400, "No data has been uploaded for this data version")
        mismatches: list[JSON] = []
        if file_hash is not None and normalise_hash(file_hash) != stored.sha256:
            mismatches.append({"field": "fileHash", "message": f"expected {stored.sha256}"})
        if size is not None and size != stored.size:
            mismatches.append({"field": "fileSizeBytes", "message": f"expected {stored.size}"})
        if mismatches:
            raise ApiError(
                400, "Uploaded data does not match the declared checksum", details=mismatches
            )
        if rows is None and version["fileType"] == "csv":
            try:
                rows = max(0, stored.data.decode("utf-8").count("\n") - 1)
            except UnicodeDecodeError:
                rows = None
        now = self._now()
        version.update(
            {
                "_completed": True,
                "fileHash": file_hash if file_hash is not None else stored.sha256,
                "fileSizeBytes": stored.size,
                "rowCount": rows,
                "updatedAt": now,
            }
        )
        self._set_version_status("dataVersions", version, version["_requestedStatus"])
        dataset = self._db["datasets"][version["datasetId"]]
        if dataset.get("processingStatus") != "in_progress":
            dataset["processingStatus"] = "needs-processing"
        dataset["updatedAt"] = now
        return Reply(200, self._data_version_view(version))

    def _set_version_status(self, kind: Any, version: JSON, status: str) -> None:
        """Set a data/schema version's status; ``current`` demotes the previous one."""
        pointer = "currentDataVersionId" if kind == "dataVersions" else "currentSchemaVersionId"
        id_field = "datasetDataVersionId" if kind == "dataVersions" else "datasetSchemaVersionId"
        dataset = self._db["datasets"][version["datasetId"]]
        now = self._now()
        if status == "current":
            for other in self._db[kind].values():
                if (
                    other["datasetId"] == version["datasetId"]
                    and other["status"] == "current"
                    and other is not version
                ):
                    other["status"] = "archived"
                    other["updatedAt"] = now
            dataset[pointer] = version[id_field]
            dataset["updatedAt"] = now
        elif version["status"] == "current" and dataset.get(pointer) == version[id_field]:
            dataset[pointer] = None
            dataset["updatedAt"] = now
        version["status"] = status
        version["updatedAt"] = now

    def _download_data_version(self, ctx: Ctx) -> Reply:
        version = self._owned(ctx, "dataVersions", ctx.params["dataVersionId"], "Data version")
        if not version["_completed"] or version["_key"] not in self._objects:
            raise ApiError(400, "Data version upload is not completed")
        url, expires = self._presign("GET", version["_key"])
        return Reply(200, {"downloadUrl": url, "expiresAt": expires})

    # ------------------------------------------------------------------ schema versions

    def _read_columns(self, body: BodyReader, *, required: bool) -> list[JSON] | None:
        columns = body.array("columns", required=required)
        if columns is None:
            return None
        if required and not columns:
            body.errors.append({"field": "columns", "message": "must not be empty"})
        out: list[JSON] = []
        for index, raw in enumerate(columns):
            column = as_obj(raw)
            where = f"columns[{index}]"
            if column is None:
                body.errors.append({"field": where, "message": "must be an object"})
                continue
            if not isinstance(column.get("name"), str) or not column["name"]:
                body.errors.append({"field": f"{where}.name", "message": "is required"})
            if not isinstance(column.get("type"), str) or not column["type"]:
                body.errors.append({"field": f"{where}.type", "message": "is required"})
            if not isinstance(column.get("nullable"), bool):
                body.errors.append({"field": f"{where}.nullable", "message": "must be a boolean"})
            operations = column.get("operations")
            listed = as_list(operations)
            if operations is not None and (
                listed is None
                or not all(isinstance((as_obj(op) or {}).get("type"), str) for op in listed)
            ):
                body.errors.append(
                    {
                        "field": f"{where}.operations",
                        "message": "must be a list of {type, parameters}",
                    }
                )
            copied = copy.deepcopy(column)
            copied.setdefault("pos", index + 1)
            out.append(copied)
        return out

    def _read_parsing(self, body: BodyReader) -> JSON | None:
        parsing = body.mapping("parsingOptions", nullable=True)
        if parsing is None:
            return None
        skip = parsing.get("skipRows")
        if skip is not None and not (
            (isinstance(skip, int) and not isinstance(skip, bool))
            or all(isinstance(s, int) for s in as_list(skip) or [None])
        ):
            body.errors.append(
                {
                    "field": "parsingOptions.skipRows",
                    "message": "must be an integer or a list of integers",
                }
            )
        for key, kind in (("headerRow", int), ("delimiter", str), ("encoding", str)):
            if key in parsing and not isinstance(parsing[key], kind):
                body.errors.append(
                    {"field": f"parsingOptions.{key}", "message": f"must be {kind.__name__}"}
                )
        return copy.deepcopy(parsing)

    def _schema_view(self, version: JSON) -> JSON:
        view = public(version, SCHEMA_FIELDS)
        if view.get("parsingOptions") is None:
            view.pop("parsingOptions")
        return view

    def _create_schema_version(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        dataset_id = body.text("datasetId", required=True, min_len=1)
        columns = self._read_columns(body, required=True)
        status = body.text("status", enum=VERSION_STATUSES) or "draft"
        parsing = self._read_parsing(body)
        body.check()
        assert dataset_id is not None and columns is not None
        dataset = self._owned(ctx, "datasets", dataset_id, "Dataset")
        version_no = 1 + sum(
            1 for v in self._db["schemaVersions"].values() if v["datasetId"] == dataset_id
        )
        now = self._now()
        version = self._insert(
            "schemaVersions",
            {
                "datasetSchemaVersionId": self._ids.new("schemaVersion"),
                "datasetId": dataset["datasetId"],
                "versionNo": version_no,
                "columnsJson": columns,
                "status": "draft",
                "parsingOptions": parsing,
                "createdAt": now,
                "updatedAt": now,
            },
        )
        if status != "draft":
            self._set_version_status("schemaVersions", version, status)
        return Reply(201, self._schema_view(version))

    def _list_schema_versions(self, ctx: Ctx) -> Reply:
        q = QueryReader(ctx.query)
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        ids = q.ids("datasetSchemaVersionIds")
        datasets = q.ids("datasetIds")
        status = q.enum("status", VERSION_STATUSES, None)
        version_no = q.integer("versionNo", None)
        q.check()
        items = [
            v
            for v in self._all("schemaVersions")
            if self._team_of("schemaVersions", v) in teams
            and (ids is None or v["datasetSchemaVersionId"] in ids)
            and (datasets is None or v["datasetId"] in datasets)
            and (status is None or v["status"] == status)
            and (version_no is None or v["versionNo"] == version_no)
        ]
        page = paginate(items, q, ListSpec(order_by=("createdAt", "updatedAt", "versionNo")))
        page["items"] = [self._schema_view(v) for v in page["items"]]
        return Reply(200, page)

    def _get_schema_version(self, ctx: Ctx) -> Reply:
        version = self._owned(
            ctx, "schemaVersions", ctx.params["datasetSchemaVersionId"], "Schema version"
        )
        return Reply(200, self._schema_view(version))

    def _patch_schema_version(self, ctx: Ctx) -> Reply:
        version = self._owned(
            ctx, "schemaVersions", ctx.params["datasetSchemaVersionId"], "Schema version"
        )
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        status = body.text("status", enum=VERSION_STATUSES)
        columns = self._read_columns(body, required=False)
        parsing = self._read_parsing(body)
        body.check()
        if columns is not None:
            version["columnsJson"] = columns
        if parsing is not None or body.has("parsingOptions"):
            version["parsingOptions"] = parsing
        if status is not None and status != version["status"]:
            self._set_version_status("schemaVersions", version, status)
        version["updatedAt"] = self._now()
        return Reply(200, self._schema_view(version))
