"""Dataset data versions (uploads of data) and schema versions (column definitions)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Final, overload

import attrs

from tether._core.blocking import Facade
from tether._core.errors import APIStatusError, ValidationError
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path
from tether.moderately._download import download_bytes, download_to_path
from tether.moderately._errors import UploadError
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, order, ref
from tether.moderately._schema import ColumnSpec, api_type, column_request, normalise_columns
from tether.moderately._upload import Source, prepare_upload, put_presigned, upload_name
from tether.moderately.models import (
    Dataset,
    DatasetDataVersion,
    DatasetSchemaVersion,
    DataVersionUpload,
    DownloadLink,
)

__all__ = [
    "AsyncDatasetDataVersions",
    "AsyncDatasetSchemaVersions",
    "DatasetDataVersions",
    "DatasetSchemaVersions",
    "data_file_type",
]

PathLike = str | os.PathLike[str]

CONTENT_TYPES: Final = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def data_file_type(name: str, file_type: str | None) -> str:
    """``csv`` or ``xlsx``: *file_type* when given, else from the name's extension.

    Raises:
        ValidationError: another type, or an extension that names none (before any request).
    """
    if file_type is not None:
        if file_type not in CONTENT_TYPES:
            raise ValidationError(f"file_type must be 'csv' or 'xlsx', got {file_type!r}")
        return file_type
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".xlsx", ".xls"):
        return "xlsx"
    raise ValidationError(
        f"cannot tell the file type of {name!r}: name it .csv or .xlsx, or pass"
        " file_type='csv' or 'xlsx'"
    )


class AsyncDatasetDataVersions(ModeratelyResource):
    """Data versions: each upload of data to a dataset is a new version.

    ``client.datasets.upload_data`` is the usual way in; these are the building blocks.
    """

    def list(
        self,
        *,
        dataset_ids: Ids | None = None,
        dataset_data_version_ids: Ids | None = None,
        status: str | None = None,
        version_no: int | None = None,
        file_type: str | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
    ) -> AsyncPager[DatasetDataVersion]:
        """Data versions, a page at a time (``order_by``: createdAt, updatedAt, versionNo)."""
        params = {
            "datasetIds": ids(dataset_ids),
            "datasetDataVersionIds": ids(dataset_data_version_ids),
            "status": status,
            "versionNo": version_no,
            "fileType": file_type,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager(
            "/dataset-data-versions", DatasetDataVersion, params, page=page, page_size=page_size
        )

    async def retrieve(self, version: DatasetDataVersion | str) -> DatasetDataVersion:
        """One data version."""
        url = path(
            "/dataset-data-versions/{id}",
            id=ref(version, "dataset_data_version_id", "data version"),
        )
        return await self._call("GET", url, DatasetDataVersion)

    async def create(
        self,
        *,
        dataset_id: str,
        file_name: str,
        file_type: str,
        status: str | None = None,
    ) -> DataVersionUpload:
        """Create a data version (a draft until completed) and get the URL to PUT its data to."""
        body: dict[str, Any] = {
            "datasetId": dataset_id,
            "fileName": file_name,
            "fileType": data_file_type(file_name, file_type),
        }
        if status is not None:
            body["status"] = status
        return await self._call("POST", "/dataset-data-versions", DataVersionUpload, json=body)

    async def complete(self, version: DatasetDataVersion | str) -> DatasetDataVersion:
        """Confirm the data was PUT; the version takes its requested status (e.g. current)."""
        url = path(
            "/dataset-data-versions/{id}/complete",
            id=ref(version, "dataset_data_version_id", "data version"),
        )
        return await self._call("POST", url, DatasetDataVersion, json={})

    async def upload(
        self,
        dataset: Dataset | str,
        file: Source,
        *,
        file_type: str | None = None,
        status: str = "current",
        filename: str | None = None,
    ) -> DatasetDataVersion:
        """Upload data as a new version of *dataset* (see ``client.datasets.upload_data``)."""
        dataset_id = ref(dataset, "dataset_id", "dataset")
        name = upload_name(file, filename, "uploaded_data")
        kind = data_file_type(name, file_type)
        prepared = await prepare_upload(
            file, name=filename, default_name="uploaded_data", count_lines=kind == "csv"
        )
        try:
            created = await self.create(
                dataset_id=dataset_id, file_name=prepared.name, file_type=kind, status=status
            )
            version_id = created.data_version.dataset_data_version_id
            stage = "transfer"
            try:
                await put_presigned(
                    self._client.http,
                    created.upload_url,
                    prepared,
                    content_type=CONTENT_TYPES[kind],
                )
                stage = "complete"
                done = await self.complete(version_id)
            except Exception as exc:
                what = "upload to storage" if stage == "transfer" else "completion"
                raise UploadError(
                    f"the {what} of data version {version_id} failed ({exc}); the version is"
                    " left incomplete (a draft the API cannot delete; it never becomes current)",
                    stage=stage,
                    state="incomplete",
                    data_version_id=version_id,
                    status=exc.status if isinstance(exc, APIStatusError) else None,
                ) from exc
        finally:
            prepared.close()
        rows = None
        if prepared.line_count is not None:
            rows = max(0, prepared.line_count - 1)
        return attrs.evolve(
            done,
            row_count=done.row_count if done.row_count is not None else rows,
            file_size_bytes=done.file_size_bytes
            if done.file_size_bytes is not None
            else prepared.size,
            file_hash=done.file_hash if done.file_hash is not None else prepared.sha256,
        )

    async def get_download_url(self, version: DatasetDataVersion | str) -> DownloadLink:
        """A presigned URL to GET the version's data from."""
        url = path(
            "/dataset-data-versions/{id}/download",
            id=ref(version, "dataset_data_version_id", "data version"),
        )
        return await self._call("GET", url, DownloadLink)

    @overload
    async def download(self, version: DatasetDataVersion | str, *, path: None = None) -> bytes: ...

    @overload
    async def download(self, version: DatasetDataVersion | str, *, path: PathLike) -> Path: ...

    async def download(
        self, version: DatasetDataVersion | str, *, path: PathLike | None = None
    ) -> bytes | Path:
        """A version's data: its bytes, or, with ``path``, written there (atomically)."""
        link = await self.get_download_url(version)
        if path is None:
            return await download_bytes(self._client.http, link.download_url)
        return await download_to_path(self._client.http, link.download_url, path)


class DatasetDataVersions(Facade[AsyncDatasetDataVersions], mirrors=AsyncDatasetDataVersions):
    """Blocking twin of :class:`AsyncDatasetDataVersions`."""

    def list(
        self,
        *,
        dataset_ids: Ids | None = None,
        dataset_data_version_ids: Ids | None = None,
        status: str | None = None,
        version_no: int | None = None,
        file_type: str | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = None,
        order_direction: str = "asc",
    ) -> Pager[DatasetDataVersion]:
        """Data versions, a page at a time (``order_by``: createdAt, updatedAt, versionNo)."""
        return Pager(
            self._wrapped.list(
                dataset_ids=dataset_ids,
                dataset_data_version_ids=dataset_data_version_ids,
                status=status,
                version_no=version_no,
                file_type=file_type,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
            )
        )

    def retrieve(self, version: DatasetDataVersion | str) -> DatasetDataVersion:
        """One data version."""
        return self._run(self._wrapped.retrieve, version)

    def create(
        self,
        *,
        dataset_id: str,
        file_name: str,
        file_type: str,
        status: str | None = None,
    ) -> DataVersionUpload:
        """Create a data version (a draft until completed) and get the URL to PUT its data to."""
        return self._run(
            self._wrapped.create,
            dataset_id=dataset_id,
            file_name=file_name,
            file_type=file_type,
            status=status,
        )

    def complete(self, version: DatasetDataVersion | str) -> DatasetDataVersion:
        """Confirm the data was PUT; the version takes its requested status (e.g. current)."""
        return self._run(self._wrapped.complete, version)

    def upload(
        self,
        dataset: Dataset | str,
        file: Source,
        *,
        file_type: str | None = None,
        status: str = "current",
        filename: str | None = None,
    ) -> DatasetDataVersion:
        """Upload data as a new version of *dataset* (see ``client.datasets.upload_data``)."""
        return self._run(
            self._wrapped.upload,
            dataset,
            file,
            file_type=file_type,
            status=status,
            filename=filename,
        )

    def get_download_url(self, version: DatasetDataVersion | str) -> DownloadLink:
        """A presigned URL to GET the version's data from."""
        return self._run(self._wrapped.get_download_url, version)

    @overload
    def download(self, version: DatasetDataVersion | str, *, path: None = None) -> bytes: ...

    @overload
    def download(self, version: DatasetDataVersion | str, *, path: PathLike) -> Path: ...

    def download(
        self, version: DatasetDataVersion | str, *, path: PathLike | None = None
    ) -> bytes | Path:
        """A version's data: its bytes, or, with ``path``, written there (atomically)."""
        if path is None:
            return self._run(self._wrapped.download, version)
        return self._run(self._wrapped.download, version, path=path)


class AsyncDatasetSchemaVersions(ModeratelyResource):
    """Schema versions: the columns (and parsing options) of a dataset, versioned.

    Example::

        schema = await client.dataset_schema_versions.add_column(schema, "score", "float",
                                                                 required=False)
        await client.dataset_schema_versions.activate(schema)
    """

    def list(
        self,
        *,
        dataset_ids: Ids | None = None,
        dataset_schema_version_ids: Ids | None = None,
        status: str | None = None,
        version_no: int | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
    ) -> AsyncPager[DatasetSchemaVersion]:
        """Schema versions, newest first, a page at a time."""
        params = {
            "datasetIds": ids(dataset_ids),
            "datasetSchemaVersionIds": ids(dataset_schema_version_ids),
            "status": status,
            "versionNo": version_no,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager(
            "/dataset-schema-versions", DatasetSchemaVersion, params, page=page, page_size=page_size
        )

    async def retrieve(self, schema: DatasetSchemaVersion | str) -> DatasetSchemaVersion:
        """One schema version."""
        url = path(
            "/dataset-schema-versions/{id}",
            id=ref(schema, "dataset_schema_version_id", "schema version"),
        )
        return await self._call("GET", url, DatasetSchemaVersion)

    async def create(
        self,
        *,
        dataset_id: str,
        columns: Sequence[ColumnSpec],
        status: str = "draft",
        parsing_options: Mapping[str, Any] | None = None,
    ) -> DatasetSchemaVersion:
        """Create a schema version from column definitions.

        A column is ``{"name", "type", "required"?, "description"?}`` (types ``int``,
        ``str``, ``bool``, ``date`` are mapped to the API's names) or a :class:`SchemaColumn`.
        ``parsing_options`` uses the API's keys (``skipRows``, ``headerRow``, ``delimiter``,
        ``encoding``).
        """
        body: dict[str, Any] = {
            "datasetId": dataset_id,
            "columns": normalise_columns(columns),
            "status": status,
        }
        if parsing_options is not None:
            body["parsingOptions"] = dict(parsing_options)
        return await self._call("POST", "/dataset-schema-versions", DatasetSchemaVersion, json=body)

    async def update(
        self,
        schema: DatasetSchemaVersion | str,
        *,
        status: str | None = None,
        columns: Sequence[ColumnSpec] | None = None,
        parsing_options: Mapping[str, Any] | None = None,
    ) -> DatasetSchemaVersion:
        """Change a schema version's status, columns (the full new list) or parsing options."""
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if columns is not None:
            body["columns"] = normalise_columns(columns)
        if parsing_options is not None:
            body["parsingOptions"] = dict(parsing_options)
        if not body:
            raise ValidationError("give a status, columns or parsing_options to update")
        url = path(
            "/dataset-schema-versions/{id}",
            id=ref(schema, "dataset_schema_version_id", "schema version"),
        )
        return await self._call("PATCH", url, DatasetSchemaVersion, json=body)

    async def activate(self, schema: DatasetSchemaVersion | str) -> DatasetSchemaVersion:
        """Make a schema version the dataset's current one."""
        return await self.update(schema, status="current")

    async def archive(self, schema: DatasetSchemaVersion | str) -> DatasetSchemaVersion:
        """Archive a schema version."""
        return await self.update(schema, status="archived")

    async def add_column(
        self,
        schema: DatasetSchemaVersion | str,
        name: str,
        column_type: str,
        *,
        required: bool = True,
        description: str | None = None,
        position: int | None = None,
        source: str | None = None,
        transform_expr: str | None = None,
        operations: Sequence[Mapping[str, Any]] | None = None,
    ) -> DatasetSchemaVersion:
        """Add a column (at the end, or at 1-based *position*, renumbering the others).

        The current columns are read from the platform first, so a stale model never drops a
        column added meanwhile.
        """
        current = await self.retrieve(schema)
        if current.get_column(name) is not None:
            raise ValidationError(f"column {name!r} is already in the schema")
        columns = [column_request(c, i) for i, c in enumerate(current.columns, start=1)]
        new: dict[str, Any] = {"name": name, "type": api_type(column_type), "required": required}
        for key, value in (
            ("description", description),
            ("source", source),
            ("transformExpr", transform_expr),
            ("operations", [dict(o) for o in operations] if operations else None),
        ):
            if value:
                new[key] = value
        if position is None:
            new["pos"] = max((int(c.get("pos") or 0) for c in columns), default=0) + 1
            columns.append(column_request(new, new["pos"]))
        else:
            if position < 1:
                raise ValidationError(f"position is 1-based, got {position}")
            columns.insert(position - 1, column_request(new, position))
            for index, column in enumerate(columns, start=1):
                column["pos"] = index
        return await self.update(current, columns=columns)

    async def remove_column(
        self, schema: DatasetSchemaVersion | str, name: str
    ) -> DatasetSchemaVersion:
        """Remove the column called *name* (read fresh from the platform first)."""
        current = await self.retrieve(schema)
        kept: list[ColumnSpec] = [c for c in current.columns if c.name != name]
        if len(kept) == len(current.columns):
            raise ValidationError(f"column {name!r} is not in the schema")
        return await self.update(current, columns=kept)


class DatasetSchemaVersions(Facade[AsyncDatasetSchemaVersions], mirrors=AsyncDatasetSchemaVersions):
    """Blocking twin of :class:`AsyncDatasetSchemaVersions`."""

    def list(
        self,
        *,
        dataset_ids: Ids | None = None,
        dataset_schema_version_ids: Ids | None = None,
        status: str | None = None,
        version_no: int | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
    ) -> Pager[DatasetSchemaVersion]:
        """Schema versions, newest first, a page at a time."""
        return Pager(
            self._wrapped.list(
                dataset_ids=dataset_ids,
                dataset_schema_version_ids=dataset_schema_version_ids,
                status=status,
                version_no=version_no,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
            )
        )

    def retrieve(self, schema: DatasetSchemaVersion | str) -> DatasetSchemaVersion:
        """One schema version."""
        return self._run(self._wrapped.retrieve, schema)

    def create(
        self,
        *,
        dataset_id: str,
        columns: Sequence[ColumnSpec],
        status: str = "draft",
        parsing_options: Mapping[str, Any] | None = None,
    ) -> DatasetSchemaVersion:
        """Create a schema version from column definitions.

        A column is ``{"name", "type", "required"?, "description"?}`` (types ``int``,
        ``str``, ``bool``, ``date`` are mapped to the API's names) or a :class:`SchemaColumn`.
        ``parsing_options`` uses the API's keys (``skipRows``, ``headerRow``, ``delimiter``,
        ``encoding``).
        """
        return self._run(
            self._wrapped.create,
            dataset_id=dataset_id,
            columns=columns,
            status=status,
            parsing_options=parsing_options,
        )

    def update(
        self,
        schema: DatasetSchemaVersion | str,
        *,
        status: str | None = None,
        columns: Sequence[ColumnSpec] | None = None,
        parsing_options: Mapping[str, Any] | None = None,
    ) -> DatasetSchemaVersion:
        """Change a schema version's status, columns (the full new list) or parsing options."""
        return self._run(
            self._wrapped.update,
            schema,
            status=status,
            columns=columns,
            parsing_options=parsing_options,
        )

    def activate(self, schema: DatasetSchemaVersion | str) -> DatasetSchemaVersion:
        """Make a schema version the dataset's current one."""
        return self._run(self._wrapped.activate, schema)

    def archive(self, schema: DatasetSchemaVersion | str) -> DatasetSchemaVersion:
        """Archive a schema version."""
        return self._run(self._wrapped.archive, schema)

    def add_column(
        self,
        schema: DatasetSchemaVersion | str,
        name: str,
        column_type: str,
        *,
        required: bool = True,
        description: str | None = None,
        position: int | None = None,
        source: str | None = None,
        transform_expr: str | None = None,
        operations: Sequence[Mapping[str, Any]] | None = None,
    ) -> DatasetSchemaVersion:
        """Add a column (at the end, or at 1-based *position*, renumbering the others).

        The current columns are read from the platform first, so a stale model never drops a
        column added meanwhile.
        """
        return self._run(
            self._wrapped.add_column,
            schema,
            name,
            column_type,
            required=required,
            description=description,
            position=position,
            source=source,
            transform_expr=transform_expr,
            operations=operations,
        )

    def remove_column(self, schema: DatasetSchemaVersion | str, name: str) -> DatasetSchemaVersion:
        """Remove the column called *name* (read fresh from the platform first)."""
        return self._run(self._wrapped.remove_column, schema, name)
