"""Exportable datasets: list, preview, export to a zip on the leader, download the zip.

Leaders before 26.2.23 serve these under ``/api/contrib/exportable_datasets``. The export is
a task from 26.5.0 (synchronous before: the client returns a finished Job either way) and takes
one ``experiment`` from 26.7.0 (a list ``experiments`` before).
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from tether._core.blocking import Facade
from tether._core.errors import (
    APIConnectionError,
    APITimeoutError,
    RequestInfo,
    ValidationError,
)
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether._core.resource import path, response_json
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._resources.calibrations import check_name
from tether.pioreactor._resources.logs import iso_timestamp
from tether.pioreactor._validation import check_experiment_ref
from tether.pioreactor.models import ExportableDataset, ExportResult

__all__ = ["AsyncDatasets", "Datasets"]

MAX_PREVIEW_ROWS = 100
CHUNK = 1 << 16


def _check_export_filename(filename: object) -> str:
    name = check_name(filename, "filename")
    if name.startswith(".") or not name.endswith(".zip"):
        raise ValidationError(f"{name!r} is not an export archive name (export_….zip)")
    return name


async def _read_chunk(raw: aiohttp.ClientResponse) -> bytes:
    """The next piece of a download (``b""`` at the end); a broken transfer is a tether error."""
    try:
        return await raw.content.read(CHUNK)
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        info = RequestInfo(raw.method, str(raw.url))
        raise APITimeoutError("the download stalled", request=info) from exc
    except aiohttp.ClientError as exc:
        info = RequestInfo(raw.method, str(raw.url))
        raise APIConnectionError(f"the download broke off: {exc}", request=info) from exc


class AsyncDatasets(PioreactorResource):
    """Datasets the leader can export as CSV files in a zip.

    Example::

        result = await client.datasets.export(["od_readings", "logs"], experiment="demo")
        saved = await client.datasets.download(result.filename, "exports/")
    """

    async def _base(self) -> str:
        contract = await self._contract()
        if contract.contrib_routes:
            return "/api/contrib/exportable_datasets"
        return "/api/datasets/exportable"

    async def list(self) -> builtins.list[ExportableDataset]:
        """Every exportable dataset, with its columns and description."""
        response = await self._request("GET", await self._base())
        return self._decode(
            response_json(response), builtins.list[ExportableDataset], response=response
        )

    async def preview(
        self, dataset: str, *, n_rows: int | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The first rows of *dataset* (``n_rows`` 1–100, leader default 5) as objects."""
        check_name(dataset, "dataset")
        if n_rows is not None and (
            isinstance(n_rows, bool)
            or not isinstance(n_rows, int)  # pyright: ignore[reportUnnecessaryIsInstance]
            or not 1 <= n_rows <= MAX_PREVIEW_ROWS
        ):
            raise ValidationError(f"n_rows must be an integer from 1 to 100, not {n_rows!r}")
        url = await self._base() + path("/{d}/preview", d=dataset)
        response = await self._request("GET", url, params={"n_rows": n_rows})
        return self._decode(
            response_json(response), builtins.list[dict[str, Any]], response=response
        )

    @JobMethod
    async def export(
        self,
        datasets: Sequence[str],
        *,
        experiment: str,
        partition_by_unit: bool = False,
        partition_by_experiment: bool = False,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> Job[ExportResult]:
        """Write *datasets* of *experiment* into a zip on the leader; the result names it.

        Args:
            datasets: dataset names from :meth:`list` (at least one).
            experiment: the experiment to export.
            partition_by_unit: one CSV per unit.
            partition_by_experiment: one CSV per experiment.
            start_time: inclusive bounds, time-zone aware.
            end_time: inclusive bounds, time-zone aware.

        Then fetch the file with :meth:`download`.
        """
        if isinstance(datasets, str) or not datasets:
            raise ValidationError("datasets must be a non-empty list of dataset names")
        names = [check_name(name, "dataset") for name in datasets]
        check_experiment_ref(experiment)
        for flag, value in (
            ("partition_by_unit", partition_by_unit),
            ("partition_by_experiment", partition_by_experiment),
        ):
            if not isinstance(value, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ValidationError(f"{flag} must be True or False")
        start = iso_timestamp(start_time, "start_time") if start_time is not None else None
        end = iso_timestamp(end_time, "end_time") if end_time is not None else None
        if start_time is not None and end_time is not None and start_time > end_time:
            raise ValidationError("start_time must be earlier than or equal to end_time")
        contract = await self._contract()
        body: dict[str, Any] = {"datasets": names}
        if contract.export_single_experiment:
            body["experiment"] = experiment
        else:
            body["experiments"] = [experiment]
        body["partition_by_unit"] = partition_by_unit
        body["partition_by_experiment"] = partition_by_experiment
        if start is not None:
            body["start_time"] = start
        if end is not None:
            body["end_time"] = end
        url = await self._base() + ("/export_datasets" if contract.contrib_routes else "/export")
        return await self._task(
            "POST", url, json=body, decoder="export", describe=f"export {', '.join(names)}"
        )

    async def download(self, filename: str, destination: str | os.PathLike[str]) -> Path:
        """Download an export archive from ``/exports/<filename>`` to *destination*.

        *destination* is a file path, or an existing folder to save *filename* in. The file is
        written to a temporary name beside it and renamed when complete, so a failed download
        never leaves a partial archive. Returns the saved path.

        The real leader's Flask app does not serve ``/exports/``: its lighttpd front does, as
        on a stock Pioreactor. A leader run without lighttpd (``python -m flask``) answers 404
        here. The tether simulator serves it.
        """
        name = _check_export_filename(filename)
        target = anyio.Path(os.fspath(destination))
        if await target.is_dir():
            target = target / name
        if not await target.parent.is_dir():
            raise ValidationError(f"the folder {str(target.parent)!r} does not exist")
        make_temp = functools.partial(
            tempfile.mkstemp, dir=str(target.parent), prefix=f".{target.name}.", suffix=".part"
        )
        handle, temp_name = await anyio.to_thread.run_sync(make_temp)
        os.close(handle)
        try:
            async with (
                self._client.http.stream("GET", path("/exports/{f}", f=name)) as raw,
                await anyio.open_file(temp_name, "wb") as out,
            ):
                while chunk := await _read_chunk(raw):
                    await out.write(chunk)
            await anyio.Path(temp_name).replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                await anyio.Path(temp_name).unlink()
            raise
        return Path(target)


class Datasets(Facade[AsyncDatasets], mirrors=AsyncDatasets):
    """Blocking twin of :class:`AsyncDatasets`."""

    export = BlockingJobMethod(AsyncDatasets.export)

    def list(self) -> builtins.list[ExportableDataset]:
        """Every exportable dataset, with its columns and description."""
        return self._run(self._wrapped.list)

    def preview(self, dataset: str, *, n_rows: int | None = None) -> builtins.list[dict[str, Any]]:
        """The first rows of *dataset* (``n_rows`` 1–100, leader default 5) as objects."""
        return self._run(self._wrapped.preview, dataset, n_rows=n_rows)

    def download(self, filename: str, destination: str | os.PathLike[str]) -> Path:
        """Download an export archive from ``/exports/<filename>`` to *destination*.

        *destination* is a file path, or an existing folder to save *filename* in. The file is
        written to a temporary name beside it and renamed when complete, so a failed download
        never leaves a partial archive. Returns the saved path.

        The real leader's Flask app does not serve ``/exports/``: its lighttpd front does, as
        on a stock Pioreactor. A leader run without lighttpd (``python -m flask``) answers 404
        here. The tether simulator serves it.
        """
        return self._run(self._wrapped.download, filename, destination)
