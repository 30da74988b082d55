"""Files: streamed presigned uploads, atomic downloads, listing and metadata."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

from tether._core.blocking import Facade
from tether._core.errors import APIStatusError, ValidationError
from tether._core.pagination import AsyncPager, Pager
from tether._core.resource import path
from tether.moderately._download import download_bytes, download_to_path
from tether.moderately._errors import UploadError
from tether.moderately._resources._base import Ids, ModeratelyResource, ids, is_int, order, ref
from tether.moderately._upload import PreparedUpload, Source, prepare_upload, put_presigned
from tether.moderately.models import DownloadLink, File, FileUploadTarget

__all__ = ["AsyncFiles", "Files"]

logger = logging.getLogger("tether.moderately")

PathLike = str | os.PathLike[str]
T = TypeVar("T")


class AsyncFiles(ModeratelyResource):
    """Files in the team's storage.

    Example::

        file = await client.files.upload("reports/q3.pdf", metadata={"quarter": "Q3"})
        async for f in client.files.list(mime_type="text/csv"):
            print(f.name, f.file_size)
        await client.files.download(file, path="copies/q3.pdf")
    """

    def list(
        self,
        *,
        status: str | None = None,
        mime_type: str | None = None,
        file_hashes: Ids | None = None,
        page: int = 1,
        page_size: int = 20,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        file_ids: Ids | None = None,
        name_like: str | None = None,
        mime_types: Ids | None = None,
        team_ids: Ids | None = None,
    ) -> AsyncPager[File]:
        """Files, newest first, a page at a time (max 100 per page).

        Args:
            status: upload status (``pending``, ``completed``, ``failed``).
            mime_type: one or several MIME types.
            mime_types: one or several MIME types.
            file_hashes: SHA-256 hex digests.
            order_by: ``fileName``, ``fileSize``, ``createdAt`` or ``updatedAt``.
        """
        types = [*([mime_type] if mime_type else []), *_many(mime_types)]
        params = {
            "teamIds": self._team_ids(team_ids),
            "fileIds": ids(file_ids),
            "nameLike": name_like,
            "mimeTypes": ids(types),
            "fileHashes": ids(file_hashes),
            "uploadStatus": status,
            "orderBy": order(order_by),
            "orderDirection": order_direction,
        }
        return self._pager("/files", File, params, page=page, page_size=page_size, maximum=100)

    async def retrieve(self, file: File | str) -> File:
        """One file's metadata."""
        return await self._call("GET", path("/files/{id}", id=ref(file, "file_id", "file")), File)

    async def upload(
        self,
        file: Source,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> File:
        """Upload a path, bytes or file object; returns the completed file.

        The source is streamed twice in 1 MiB chunks (hash, then transfer), never held in
        memory whole. Steps: SHA-256, size and MIME type (from the name, else sniffed from the
        first bytes); ``POST /files/upload-url``; ``PUT`` to the presigned URL (no
        credentials); ``POST /files/{id}/complete``.

        Args:
            file: a path, ``bytes``, or a binary/text file object (read from its position).
            name: the file name; for a path, its extension is kept when *name* lacks it.
                Default: the path's or file object's name, else ``"uploaded_file"``.
            metadata: free-form metadata stored with the file.

        Raises:
            UploadError: the transfer or the completion failed. The registered file was
                deleted (``state == "nothing"``) or, if that failed too, ``state`` says what
                is left (``"pending"``/``"failed"``/``"unknown"``) and ``file_id`` which.
            ValidationError: a path that does not exist, or an unsupported source type.
        """
        prepared = await prepare_upload(file, name=name)
        try:
            return await self._upload(prepared, metadata)
        finally:
            prepared.close()

    async def _upload(self, prepared: PreparedUpload, metadata: Mapping[str, Any] | None) -> File:
        target = await self.get_upload_url(
            filename=prepared.name,
            file_size=prepared.size,
            file_hash=prepared.sha256,
            mime_type=prepared.mime_type,
            metadata=metadata,
        )
        file_id = target.file.file_id
        try:
            await put_presigned(
                self._client.http, target.upload_url, prepared, content_type=prepared.mime_type
            )
        except asyncio.CancelledError:
            await _shielded(self._cleanup(file_id))
            raise
        except Exception as exc:
            raise await self._abandon(file_id, "transfer", exc) from exc
        try:
            return await self.complete(file_id, file_size=prepared.size, file_hash=prepared.sha256)
        except asyncio.CancelledError:
            await _shielded(self._cleanup(file_id))
            raise
        except Exception as exc:
            raise await self._abandon(file_id, "complete", exc) from exc

    async def _abandon(self, file_id: str, stage: str, exc: Exception) -> UploadError:
        """Delete a half-registered file; return the error that says what is left."""
        state = await _shielded(self._cleanup(file_id))
        what = "upload to storage" if stage == "transfer" else "completion"
        left = {
            "nothing": "the registered file was deleted",
            "pending": f"file {file_id} is left pending (deleting it failed)",
            "failed": f"file {file_id} is left marked failed (deleting it failed)",
            "unknown": f"file {file_id} may be left behind (deleting and checking it failed)",
        }[state]
        return UploadError(
            f"the {what} failed ({exc}); {left}",
            stage=stage,
            state=state,
            file_id=file_id,
            status=exc.status if isinstance(exc, APIStatusError) else None,
        )

    async def _cleanup(self, file_id: str) -> str:
        try:
            await self.delete(file_id)
        except Exception as exc:
            logger.warning("could not delete half-uploaded file %s: %s", file_id, exc)
        else:
            return "nothing"
        try:
            left = await self.retrieve(file_id)
        except APIStatusError as exc:
            return "nothing" if exc.status == 404 else "unknown"
        except Exception:
            return "unknown"
        return "failed" if left.has_error() else "pending" if not left.is_ready() else "unknown"

    @overload
    async def download(self, file: File | str, *, path: None = None) -> bytes: ...

    @overload
    async def download(self, file: File | str, *, path: PathLike) -> Path: ...

    async def download(self, file: File | str, *, path: PathLike | None = None) -> bytes | Path:
        """Download a file: its bytes, or, with ``path``, into that file (returns the path).

        A download to disk goes to a temporary file beside *path*, renamed over it only when
        complete: a failure never leaves a partial file at *path*. Parent directories are
        created.
        """
        link = await self.get_download_url(file)
        if path is None:
            return await download_bytes(self._client.http, link.download_url)
        return await download_to_path(self._client.http, link.download_url, path)

    async def delete(self, file: File | str) -> None:
        """Delete a file and its stored bytes."""
        await self._send("DELETE", path("/files/{id}", id=ref(file, "file_id", "file")))

    async def update(
        self,
        file: File | str,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        dataset_id: str | None = None,
    ) -> File:
        """Rename a file, merge metadata into it, or link it to a dataset.

        ``PATCH /files/{id}`` is not in the platform's OpenAPI document; it is offered because
        the official async SDK calls it. A server that does not serve it answers 404.
        """
        body: dict[str, Any] = {}
        if name is not None:
            body["fileName"] = name
        if metadata is not None:
            body["metadata"] = dict(metadata)
        if dataset_id is not None:
            body["datasetId"] = dataset_id
        if not body:
            raise ValidationError("give a name, metadata or dataset_id to update")
        url = path("/files/{id}", id=ref(file, "file_id", "file"))
        return await self._call("PATCH", url, File, json=body)

    async def get_upload_url(
        self,
        *,
        filename: str,
        file_size: int,
        file_hash: str,
        mime_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> FileUploadTarget:
        """Register a file (``pending``) and get the presigned URL to PUT its bytes to.

        The low-level first step of :meth:`upload`; finish with :meth:`complete`. The spec
        requires the SHA-256 (hex) of the bytes up front.
        """
        if not filename:
            raise ValidationError("filename must not be empty")
        if not is_int(file_size) or file_size < 0:
            raise ValidationError(f"file_size must be an integer >= 0, got {file_size!r}")
        body: dict[str, Any] = {
            "fileName": filename,
            "fileSize": file_size,
            "fileHash": file_hash,
            "mimeType": mime_type or "application/octet-stream",
            "teamId": self._client.team_id,
        }
        if metadata:
            body["metadata"] = dict(metadata)
        return await self._call("POST", "/files/upload-url", FileUploadTarget, json=body)

    async def complete(self, file: File | str, *, file_size: int, file_hash: str) -> File:
        """Confirm an upload; the platform checks size and hash against the stored bytes."""
        url = path("/files/{id}/complete", id=ref(file, "file_id", "file"))
        body = {"fileSize": file_size, "fileHash": file_hash}
        return await self._call("POST", url, File, json=body)

    async def get_download_url(self, file: File | str) -> DownloadLink:
        """A presigned URL to GET the file's bytes from (no credentials needed)."""
        url = path("/files/{id}/download", id=ref(file, "file_id", "file"))
        return await self._call("GET", url, DownloadLink)


async def _shielded(work: Coroutine[Any, Any, T]) -> T:
    """Finish *work* even if the caller is cancelled meanwhile (clean-up after a failure)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # the clean-up itself is not cancelled
        raise


def _many(value: Ids | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return [str(v) for v in value]


class Files(Facade[AsyncFiles], mirrors=AsyncFiles):
    """Blocking twin of :class:`AsyncFiles`."""

    def list(
        self,
        *,
        status: str | None = None,
        mime_type: str | None = None,
        file_hashes: Ids | None = None,
        page: int = 1,
        page_size: int = 20,
        order_by: str | None = "createdAt",
        order_direction: str = "desc",
        file_ids: Ids | None = None,
        name_like: str | None = None,
        mime_types: Ids | None = None,
        team_ids: Ids | None = None,
    ) -> Pager[File]:
        """Files, newest first, a page at a time (max 100 per page).

        Args:
            status: upload status (``pending``, ``completed``, ``failed``).
            mime_type: one or several MIME types.
            mime_types: one or several MIME types.
            file_hashes: SHA-256 hex digests.
            order_by: ``fileName``, ``fileSize``, ``createdAt`` or ``updatedAt``.
        """
        return Pager(
            self._wrapped.list(
                status=status,
                mime_type=mime_type,
                file_hashes=file_hashes,
                page=page,
                page_size=page_size,
                order_by=order_by,
                order_direction=order_direction,
                file_ids=file_ids,
                name_like=name_like,
                mime_types=mime_types,
                team_ids=team_ids,
            )
        )

    def retrieve(self, file: File | str) -> File:
        """One file's metadata."""
        return self._run(self._wrapped.retrieve, file)

    def upload(
        self,
        file: Source,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> File:
        """Upload a path, bytes or file object; returns the completed file.

        The source is streamed twice in 1 MiB chunks (hash, then transfer), never held in
        memory whole. Steps: SHA-256, size and MIME type (from the name, else sniffed from the
        first bytes); ``POST /files/upload-url``; ``PUT`` to the presigned URL (no
        credentials); ``POST /files/{id}/complete``.

        Args:
            file: a path, ``bytes``, or a binary/text file object (read from its position).
            name: the file name; for a path, its extension is kept when *name* lacks it.
                Default: the path's or file object's name, else ``"uploaded_file"``.
            metadata: free-form metadata stored with the file.

        Raises:
            UploadError: the transfer or the completion failed. The registered file was
                deleted (``state == "nothing"``) or, if that failed too, ``state`` says what
                is left (``"pending"``/``"failed"``/``"unknown"``) and ``file_id`` which.
            ValidationError: a path that does not exist, or an unsupported source type.
        """
        return self._run(self._wrapped.upload, file, name=name, metadata=metadata)

    @overload
    def download(self, file: File | str, *, path: None = None) -> bytes: ...

    @overload
    def download(self, file: File | str, *, path: PathLike) -> Path: ...

    def download(self, file: File | str, *, path: PathLike | None = None) -> bytes | Path:
        """Download a file: its bytes, or, with ``path``, into that file (returns the path).

        A download to disk goes to a temporary file beside *path*, renamed over it only when
        complete: a failure never leaves a partial file at *path*. Parent directories are
        created.
        """
        if path is None:
            return self._run(self._wrapped.download, file)
        return self._run(self._wrapped.download, file, path=path)

    def delete(self, file: File | str) -> None:
        """Delete a file and its stored bytes."""
        return self._run(self._wrapped.delete, file)

    def update(
        self,
        file: File | str,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        dataset_id: str | None = None,
    ) -> File:
        """Rename a file, merge metadata into it, or link it to a dataset.

        ``PATCH /files/{id}`` is not in the platform's OpenAPI document; it is offered because
        the official async SDK calls it. A server that does not serve it answers 404.
        """
        return self._run(
            self._wrapped.update, file, name=name, metadata=metadata, dataset_id=dataset_id
        )

    def get_upload_url(
        self,
        *,
        filename: str,
        file_size: int,
        file_hash: str,
        mime_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> FileUploadTarget:
        """Register a file (``pending``) and get the presigned URL to PUT its bytes to.

        The low-level first step of :meth:`upload`; finish with :meth:`complete`. The spec
        requires the SHA-256 (hex) of the bytes up front.
        """
        return self._run(
            self._wrapped.get_upload_url,
            filename=filename,
            file_size=file_size,
            file_hash=file_hash,
            mime_type=mime_type,
            metadata=metadata,
        )

    def complete(self, file: File | str, *, file_size: int, file_hash: str) -> File:
        """Confirm an upload; the platform checks size and hash against the stored bytes."""
        return self._run(self._wrapped.complete, file, file_size=file_size, file_hash=file_hash)

    def get_download_url(self, file: File | str) -> DownloadLink:
        """A presigned URL to GET the file's bytes from (no credentials needed)."""
        return self._run(self._wrapped.get_download_url, file)
