"""Datasets: CRUD, data uploads and downloads, and schemas."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, overload

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, order, ref
from tether.moderately._schema import ColumnSpec, SchemaBuilder, infer_columns
from tether.moderately._upload import Source, read_head
from tether.moderately.models import Dataset, DatasetDataVersion, DatasetSchemaVersion

__all__ = ["AsyncDatasets", "Datasets"]

PathLike = str | os.PathLike[str]
SAMPLE_BYTES: Final = 1 << 20
"""At most this much of a sample is read to infer a schema."""


class AsyncDatasets(ModeratelyResource):
    """Datasets, their data versions and their schemas.

    Example::

        dataset = await client.datasets.create(name="Scores")
        version = await client.datasets.upload_data(dataset, "scores.csv")
        print(version.version_no, version.row_count)
        schema = await client.datasets.create_schema_from_sample(dataset, "scores.csv")
    """

    def list(
        self,
        *,
        dataset_ids: Ids | None = None,
        name_like: str | None = None,
        name: str | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        team_ids: Ids | None = None,
    ) -> AsyncPager[Dataset]:
        """Datasets, newest first, a page at a time (``name_like``: substring match)."""
        params = {
            "teamIds": self._team_ids(team_ids),
            "datasetIds": ids(dataset_ids),
            "nameLike": name_like,
            "name": name,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/datasets", Dataset, params, page=page, page_size=page_size)

    async def retrieve(self, dataset: Dataset | str) -> Dataset:
        """One dataset (with its current data and schema version ids)."""
        url = path("/datasets/{id}", id=ref(dataset, "dataset_id", "dataset"))
        return await self._call("GET", url, Dataset)

    async def create(self, *, name: str, description: str | None = None) -> Dataset:
        """Create a dataset in the client's team."""
        if not name:
            raise ValidationError("a dataset needs a name")
        body: dict[str, Any] = {"teamId": self._client.team_id, "name": name}
        if description is not None:
            body["description"] = description
        return await self._call("POST", "/datasets", Dataset, json=body)

    async def update(
        self,
        dataset: Dataset | str,
        *,
        name: str | None = None,
        description: str | None = None,
        should_process: bool | None = None,
    ) -> Dataset:
        """Rename or re-describe a dataset; ``should_process=True`` asks for processing."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if should_process is not None:
            body["shouldProcess"] = should_process
        url = path("/datasets/{id}", id=ref(dataset, "dataset_id", "dataset"))
        return await self._call("PATCH", url, Dataset, json=body)

    async def delete(self, dataset: Dataset | str) -> None:
        """Delete a dataset."""
        await self._send("DELETE", path("/datasets/{id}", id=ref(dataset, "dataset_id", "dataset")))

    # -- data -------------------------------------------------------------------------------

    async def upload_data(
        self,
        dataset: Dataset | str,
        file: Source,
        *,
        file_type: str | None = None,
        status: str = "current",
        filename: str | None = None,
    ) -> DatasetDataVersion:
        """Upload data (CSV or XLSX) as a new version of *dataset*; returns the version.

        Streamed in 1 MiB chunks (never read into memory whole). The file type comes from
        *file_type*, else the name's extension (``.csv``, ``.xlsx``, ``.xls``); bytes and
        unnamed streams need ``filename=`` or ``file_type=``. For CSV, ``row_count`` is the
        server's count, or else the number of lines after the header that tether counted.

        Raises:
            ValidationError: no recognisable file type (before any request).
            UploadError: the transfer or completion failed; the version is left incomplete
                (``data_version_id`` names it; the API offers no way to delete it).
        """
        return await self._client.dataset_data_versions.upload(
            dataset, file, file_type=file_type, status=status, filename=filename
        )

    def list_data_versions(
        self,
        dataset: Dataset | str,
        *,
        page: int = 1,
        page_size: int = 10,
        status: str | None = None,
    ) -> AsyncPager[DatasetDataVersion]:
        """The dataset's data versions, oldest first."""
        return self._client.dataset_data_versions.list(
            dataset_ids=[ref(dataset, "dataset_id", "dataset")],
            status=status,
            page=page,
            page_size=page_size,
        )

    async def get_data_version(self, version_id: str) -> DatasetDataVersion:
        """One data version by id."""
        return await self._client.dataset_data_versions.retrieve(version_id)

    @overload
    async def download_data(
        self, dataset: Dataset | str, *, version_id: str | None = None, path: None = None
    ) -> bytes: ...

    @overload
    async def download_data(
        self, dataset: Dataset | str, *, version_id: str | None = None, path: PathLike
    ) -> Path: ...

    async def download_data(
        self,
        dataset: Dataset | str,
        *,
        version_id: str | None = None,
        path: PathLike | None = None,
    ) -> bytes | Path:
        """Download a data version (default: the current one): bytes, or into *path*.

        Without *version_id*, a :class:`Dataset` model's ``current_data_version_id`` is used
        when it has one; otherwise the dataset is read first. A download to *path* is atomic.

        Raises:
            ValidationError: the dataset has no current data version.
        """
        target = version_id
        if target is None and isinstance(dataset, Dataset):
            target = dataset.current_data_version_id
        if target is None:
            fresh = await self.retrieve(dataset)
            target = fresh.current_data_version_id
        if target is None:
            raise ValidationError("the dataset has no current data version; upload data first")
        versions = self._client.dataset_data_versions
        if path is None:
            return await versions.download(target)
        return await versions.download(target, path=path)

    # -- schemas ----------------------------------------------------------------------------

    def schema_builder(self, dataset: Dataset | str | None = None) -> SchemaBuilder:
        """A :class:`SchemaBuilder` (pure; hand it to :meth:`create_schema`)."""
        return SchemaBuilder(ref(dataset, "dataset_id", "dataset") if dataset is not None else None)

    async def create_schema(
        self,
        dataset: Dataset | str,
        columns: Sequence[ColumnSpec] | SchemaBuilder,
        *,
        status: str | None = None,
        parsing_options: Mapping[str, Any] | None = None,
    ) -> DatasetSchemaVersion:
        """Create a schema version for *dataset* from columns or a :class:`SchemaBuilder`.

        Columns: ``{"name", "type", "required"?, "description"?}`` with types such as
        ``string``, ``integer`` (``int``), ``float``, ``boolean`` (``bool``), ``datetime``
        (``date``). *status* defaults to the builder's, else ``draft``.
        """
        dataset_id = ref(dataset, "dataset_id", "dataset")
        if isinstance(columns, SchemaBuilder):
            chosen = status or columns.status
            options = parsing_options or columns.parsing_options()
            specs: Sequence[ColumnSpec] = columns.columns()
        else:
            chosen = status or "draft"
            options = parsing_options
            specs = columns
        return await self._client.dataset_schema_versions.create(
            dataset_id=dataset_id, columns=specs, status=chosen, parsing_options=options
        )

    async def create_schema_from_sample(
        self,
        dataset: Dataset | str,
        sample: Source,
        *,
        status: str = "draft",
        header_row: int = 1,
        sample_size: int = 100,
        infer_types: bool = True,
        delimiter: str | None = None,
    ) -> DatasetSchemaVersion:
        """Create a schema version from a CSV sample (path, bytes or file object).

        Column names come from row *header_row*; types are inferred from up to *sample_size*
        rows after it (``integer``, ``float``, ``boolean``, ``datetime``, else ``string``);
        every column is nullable. ``infer_types=False`` makes every column a ``string``, as
        the official SDK does. At most 1 MiB of the sample is read.
        """
        head, more = await read_head(sample, SAMPLE_BYTES)
        if more and b"\n" in head:
            head = head[: head.rindex(b"\n") + 1]  # drop a row cut in the middle
        columns = infer_columns(
            head,
            header_row=header_row,
            sample_size=sample_size,
            delimiter=delimiter,
            infer_types=infer_types,
        )
        if not columns:
            raise ValidationError("the sample's header row names no columns")
        return await self.create_schema(dataset, columns, status=status)

    def list_schema_versions(
        self,
        dataset: Dataset | str,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> AsyncPager[DatasetSchemaVersion]:
        """The dataset's schema versions, newest first."""
        return self._client.dataset_schema_versions.list(
            dataset_ids=[ref(dataset, "dataset_id", "dataset")],
            status=status,
            page=page,
            page_size=page_size,
        )

    async def get_current_schema(self, dataset: Dataset | str) -> DatasetSchemaVersion | None:
        """The dataset's current schema version, or ``None``."""
        page = await self.list_schema_versions(dataset, status="current", page_size=1)
        return page.items[0] if page.items else None

    async def get_schema_version(self, schema_version_id: str) -> DatasetSchemaVersion:
        """One schema version by id."""
        return await self._client.dataset_schema_versions.retrieve(schema_version_id)


class Datasets(Facade[AsyncDatasets], mirrors=AsyncDatasets):
    """Blocking twin of :class:`AsyncDatasets`."""

    def list(
        self,
        *,
        dataset_ids: Ids | None = None,
        name_like: str | None = None,
        name: str | None = None,
        page: int = 1,
        page_size: int = 10,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        team_ids: Ids | None = None,
    ) -> Pager[Dataset]:
        """Datasets, newest first, a page at a time (``name_like``: substring match)."""
        return Pager(
            self._wrapped.list(
                dataset_ids=dataset_ids,
                name_like=name_like,
                name=name,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                team_ids=team_ids,
            )
        )

    def retrieve(self, dataset: Dataset | str) -> Dataset:
        """One dataset (with its current data and schema version ids)."""
        return self._run(self._wrapped.retrieve, dataset)

    def create(self, *, name: str, description: str | None = None) -> Dataset:
        """Create a dataset in the client's team."""
        return self._run(self._wrapped.create, name=name, description=description)

    def update(
        self,
        dataset: Dataset | str,
        *,
        name: str | None = None,
        description: str | None = None,
        should_process: bool | None = None,
    ) -> Dataset:
        """Rename or re-describe a dataset; ``should_process=True`` asks for processing."""
        return self._run(
            self._wrapped.update,
            dataset,
            name=name,
            description=description,
            should_process=should_process,
        )

    def delete(self, dataset: Dataset | str) -> None:
        """Delete a dataset."""
        return self._run(self._wrapped.delete, dataset)

    def upload_data(
        self,
        dataset: Dataset | str,
        file: Source,
        *,
        file_type: str | None = None,
        status: str = "current",
        filename: str | None = None,
    ) -> DatasetDataVersion:
        """Upload data (CSV or XLSX) as a new version of *dataset*; returns the version.

        Streamed in 1 MiB chunks (never read into memory whole). The file type comes from
        *file_type*, else the name's extension (``.csv``, ``.xlsx``, ``.xls``); bytes and
        unnamed streams need ``filename=`` or ``file_type=``. For CSV, ``row_count`` is the
        server's count, or else the number of lines after the header that tether counted.

        Raises:
            ValidationError: no recognisable file type (before any request).
            UploadError: the transfer or completion failed; the version is left incomplete
                (``data_version_id`` names it; the API offers no way to delete it).
        """
        return self._run(
            self._wrapped.upload_data,
            dataset,
            file,
            file_type=file_type,
            status=status,
            filename=filename,
        )

    def list_data_versions(
        self,
        dataset: Dataset | str,
        *,
        page: int = 1,
        page_size: int = 10,
        status: str | None = None,
    ) -> Pager[DatasetDataVersion]:
        """The dataset's data versions, oldest first."""
        return Pager(
            self._wrapped.list_data_versions(dataset, page=page, page_size=page_size, status=status)
        )

    def get_data_version(self, version_id: str) -> DatasetDataVersion:
        """One data version by id."""
        return self._run(self._wrapped.get_data_version, version_id)

    @overload
    def download_data(
        self, dataset: Dataset | str, *, version_id: str | None = None, path: None = None
    ) -> bytes: ...

    @overload
    def download_data(
        self, dataset: Dataset | str, *, version_id: str | None = None, path: PathLike
    ) -> Path: ...

    def download_data(
        self,
        dataset: Dataset | str,
        *,
        version_id: str | None = None,
        path: PathLike | None = None,
    ) -> bytes | Path:
        """Download a data version (default: the current one): bytes, or into *path*.

        Without *version_id*, a :class:`Dataset` model's ``current_data_version_id`` is used
        when it has one; otherwise the dataset is read first. A download to *path* is atomic.

        Raises:
            ValidationError: the dataset has no current data version.
        """
        if path is None:
            return self._run(self._wrapped.download_data, dataset, version_id=version_id)
        return self._run(self._wrapped.download_data, dataset, version_id=version_id, path=path)

    def schema_builder(self, dataset: Dataset | str | None = None) -> SchemaBuilder:
        """A :class:`SchemaBuilder` (pure; hand it to :meth:`create_schema`)."""
        return self._wrapped.schema_builder(dataset)

    def create_schema(
        self,
        dataset: Dataset | str,
        columns: Sequence[ColumnSpec] | SchemaBuilder,
        *,
        status: str | None = None,
        parsing_options: Mapping[str, Any] | None = None,
    ) -> DatasetSchemaVersion:
        """Create a schema version for *dataset* from columns or a :class:`SchemaBuilder`.

        Columns: ``{"name", "type", "required"?, "description"?}`` with types such as
        ``string``, ``integer`` (``int``), ``float``, ``boolean`` (``bool``), ``datetime``
        (``date``). *status* defaults to the builder's, else ``draft``.
        """
        return self._run(
            self._wrapped.create_schema,
            dataset,
            columns,
            status=status,
            parsing_options=parsing_options,
        )

    def create_schema_from_sample(
        self,
        dataset: Dataset | str,
        sample: Source,
        *,
        status: str = "draft",
        header_row: int = 1,
        sample_size: int = 100,
        infer_types: bool = True,
        delimiter: str | None = None,
    ) -> DatasetSchemaVersion:
        """Create a schema version from a CSV sample (path, bytes or file object).

        Column names come from row *header_row*; types are inferred from up to *sample_size*
        rows after it (``integer``, ``float``, ``boolean``, ``datetime``, else ``string``);
        every column is nullable. ``infer_types=False`` makes every column a ``string``, as
        the official SDK does. At most 1 MiB of the sample is read.
        """
        return self._run(
            self._wrapped.create_schema_from_sample,
            dataset,
            sample,
            status=status,
            header_row=header_row,
            sample_size=sample_size,
            infer_types=infer_types,
            delimiter=delimiter,
        )

    def list_schema_versions(
        self,
        dataset: Dataset | str,
        *,
        status: str | None = None,
        page: int = 1,
        page_size: int = 10,
    ) -> Pager[DatasetSchemaVersion]:
        """The dataset's schema versions, newest first."""
        return Pager(
            self._wrapped.list_schema_versions(
                dataset, status=status, page=page, page_size=page_size
            )
        )

    def get_current_schema(self, dataset: Dataset | str) -> DatasetSchemaVersion | None:
        """The dataset's current schema version, or ``None``."""
        return self._run(self._wrapped.get_current_schema, dataset)

    def get_schema_version(self, schema_version_id: str) -> DatasetSchemaVersion:
        """One schema version by id."""
        return self._run(self._wrapped.get_schema_version, schema_version_id)
