"""Files (presigned upload, completion with checksum verification, download) and the
simulated object store that serves the presigned URLs."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from aiohttp import web

from tether.testing.moderately._datasets import normalise_hash
from tether.testing.moderately._models import BODY_SIZE, REQUEST_ID, Ctx, Reply, Route
from tether.testing.moderately._pipelines import PipelineRoutes
from tether.testing.moderately._util import (
    JSON,
    ApiError,
    BodyReader,
    ListSpec,
    QueryReader,
    like,
    paginate,
    public,
)

FILE_FIELDS = (
    "fileId",
    "teamId",
    "fileName",
    "fileSize",
    "mimeType",
    "fileHash",
    "uploadStatus",
    "uploadedBy",
    "metadata",
    "createdAt",
    "updatedAt",
)
UPLOAD_STATUSES = ("pending", "completed", "failed")
STORAGE_CHUNK = 1 << 16
MAX_FILE_SIZE = 5 * 1024**3


def s3_error(status: int, code: str, message: str, key: str, request_id: str) -> web.Response:
    """An S3-style XML error document (what a real presigned URL answers)."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Key>{key}</Key><RequestId>{request_id}</RequestId></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


class FileRoutes(PipelineRoutes):
    """Mixin: ``/files*`` plus the object store behind the presigned URLs."""

    def _routes_files(self) -> list[Route]:
        return [
            Route("GET", "/files", self._list_files),
            Route(
                "POST",
                "/files/upload-url",
                self._upload_url,
                audit=("file", "create"),
                audit_kind="files",
                audit_id="file.fileId",
            ),
            Route("GET", "/files/{fileId}", self._get_file),
            Route(
                "DELETE",
                "/files/{fileId}",
                self._delete_file,
                audit=("file", "delete"),
                audit_kind="files",
            ),
            Route(
                "POST",
                "/files/{fileId}/complete",
                self._complete_file,
                audit=("file", "update"),
                audit_kind="files",
            ),
            Route("GET", "/files/{fileId}/download", self._download_file),
            Route(
                "PATCH",
                "/files/{fileId}",
                self._patch_file,
                audit=("file", "update"),
                audit_kind="files",
                compat=True,
                spec=False,
            ),
        ]

    # ------------------------------------------------------------------ API

    def _file_view(self, record: JSON) -> JSON:
        view = public(record, FILE_FIELDS)
        if record.get("datasetId") is not None:
            view["datasetId"] = record["datasetId"]
        return view

    def _list_files(self, ctx: Ctx) -> Reply:
        q = QueryReader(
            ctx.query,
            {
                "status": "uploadStatus",
                "mime_type": "mimeTypes",
                "dataset_id": "datasetId",
                "file_hashes": "fileHashes",
            },
        )
        teams = self._visible_teams(ctx, q.ids("teamIds"))
        ids = q.ids("fileIds")
        name_like = q.get("nameLike")
        mimes = q.ids("mimeTypes")
        hashes = q.ids("fileHashes")
        status = q.enum("uploadStatus", UPLOAD_STATUSES, None)
        dataset_id = q.get("datasetId")
        items = [
            f
            for f in self._all("files")
            if f["teamId"] in teams
            and (ids is None or f["fileId"] in ids)
            and like(f["fileName"], name_like)
            and (mimes is None or f["mimeType"] in mimes)
            and (
                hashes is None
                or normalise_hash(f["fileHash"]) in {normalise_hash(h) for h in hashes}
            )
            and (status is None or f["uploadStatus"] == status)
            and (dataset_id is None or f.get("datasetId") == dataset_id)
        ]
        spec = ListSpec(
            order_by=("fileName", "fileSize", "createdAt", "updatedAt"),
            default_direction="desc",
            default_size=20,
            max_size=100,
        )
        page = paginate(items, q, spec)
        page["items"] = [self._file_view(f) for f in page["items"]]
        return Reply(200, page)

    def _upload_url(self, ctx: Ctx) -> Reply:
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        file_name = body.text("fileName", required=True, min_len=1, max_len=1024)
        size = body.integer("fileSize", required=True, minimum=0, maximum=MAX_FILE_SIZE)
        file_hash = body.text("fileHash", required=True, min_len=1)
        mime = body.text("mimeType", required=True, min_len=1)
        team_id = body.text("teamId", required=True, min_len=1)
        metadata = body.mapping("metadata", nullable=True)
        body.check()
        assert team_id is not None and file_name is not None and file_hash is not None
        self._require_team(ctx, team_id)
        digest = normalise_hash(file_hash)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ApiError(
                400,
                "File validation failed",
                details=[{"field": "fileHash", "message": "must be a SHA-256 hex digest"}],
            )
        file_id = self._ids.new("file")
        key = f"files/{file_id}"
        now = self._now()
        assert ctx.principal is not None
        record = self._insert(
            "files",
            {
                "fileId": file_id,
                "teamId": team_id,
                "fileName": file_name,
                "fileSize": size,
                "mimeType": mime,
                "fileHash": file_hash,
                "uploadStatus": "pending",
                "uploadedBy": ctx.principal.user_id,
                "metadata": metadata or {},
                "createdAt": now,
                "updatedAt": now,
                "_key": key,
            },
        )
        url, expires = self._presign("PUT", key)
        return Reply(201, {"file": self._file_view(record), "uploadUrl": url, "expiresAt": expires})

    def _file(self, ctx: Ctx) -> JSON:
        return self._owned(ctx, "files", ctx.params["fileId"], "File")

    def _get_file(self, ctx: Ctx) -> Reply:
        return Reply(200, self._file_view(self._file(ctx)))

    def _complete_file(self, ctx: Ctx) -> Reply:
        record = self._file(ctx)
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        size = body.integer("fileSize", required=True, minimum=0)
        file_hash = body.text("fileHash", required=True, min_len=1)
        body.check()
        assert size is not None and file_hash is not None
        if record["uploadStatus"] != "pending":
            raise ApiError(409, f"File upload has already been {record['uploadStatus']}")
        stored = self._objects.get(record["_key"])
        if stored is None:
            raise ApiError(400, "No object has been uploaded to the presigned URL")
        problems: list[JSON] = []
        if normalise_hash(file_hash) != normalise_hash(record["fileHash"]):
            problems.append(
                {"field": "fileHash", "message": "differs from the hash declared at upload-url"}
            )
        if size != record["fileSize"]:
            problems.append(
                {"field": "fileSize", "message": "differs from the size declared at upload-url"}
            )
        if stored.sha256 != normalise_hash(record["fileHash"]):
            problems.append(
                {"field": "fileHash", "message": f"uploaded object has SHA-256 {stored.sha256}"}
            )
        if stored.size != record["fileSize"]:
            problems.append(
                {"field": "fileSize", "message": f"uploaded object has {stored.size} bytes"}
            )
        now = self._now()
        record["updatedAt"] = now
        if problems:
            record["uploadStatus"] = "failed"
            raise ApiError(
                409,
                "Uploaded object does not match the declared size or checksum",
                details=problems,
            )
        record["uploadStatus"] = "completed"
        return Reply(200, self._file_view(record))

    def _download_file(self, ctx: Ctx) -> Reply:
        record = self._file(ctx)
        if record["uploadStatus"] != "completed" or record["_key"] not in self._objects:
            raise ApiError(400, "File upload is not completed")
        url, expires = self._presign("GET", record["_key"])
        return Reply(200, {"downloadUrl": url, "expiresAt": expires})

    def _delete_file(self, ctx: Ctx) -> Reply:
        record = self._file(ctx)
        self._require_write(ctx)
        del self._db["files"][record["fileId"]]
        self._objects.pop(record["_key"], None)
        return Reply(204)

    def _patch_file(self, ctx: Ctx) -> Reply:
        record = self._file(ctx)
        self._require_write(ctx)
        body = BodyReader(ctx.body)
        name = body.text("fileName", min_len=1, aliases=("name",))
        dataset_id = body.text("datasetId", nullable=True, aliases=("dataset_id",))
        metadata = body.mapping("metadata", nullable=True)
        body.check()
        if dataset_id is not None:
            self._owned(ctx, "datasets", dataset_id, "Dataset")
        if name is not None:
            record["fileName"] = name
        if body.has("datasetId") or body.has("dataset_id"):
            record["datasetId"] = dataset_id
        if metadata is not None:
            record["metadata"] = {**record["metadata"], **metadata}
        record["updatedAt"] = self._now()
        return Reply(200, self._file_view(record))

    # ------------------------------------------------------------------ object store

    def _storage_fault(self, request: web.Request) -> int | None:
        with self._lock:
            for rule in self._faults:
                if rule.storage and rule.remaining > 0 and request.method == "PUT":
                    rule.remaining -= 1
                    status = rule.status
                    self._faults = [r for r in self._faults if r.remaining > 0]
                    return status
        return None

    async def _storage_put(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        request_id = str(request.get(REQUEST_ID, ""))
        with self._lock:
            problem = self._check_presigned("PUT", key, request.query)
        if problem is not None:
            await request.read()
            return s3_error(403, problem[0], problem[1], key, request_id)
        buffer = bytearray()
        digest = hashlib.sha256()
        md5 = hashlib.md5(usedforsecurity=False)
        async for chunk in request.content.iter_chunked(STORAGE_CHUNK):
            buffer += chunk
            digest.update(chunk)
            md5.update(chunk)
        request[BODY_SIZE] = len(buffer)
        fault = self._storage_fault(request)
        if fault is not None:
            return s3_error(fault, "InternalError", "Simulated storage failure", key, request_id)
        sent_md5 = request.headers.get("Content-MD5")
        if sent_md5 is not None and sent_md5 != base64.b64encode(md5.digest()).decode():
            return s3_error(
                400, "BadDigest", "The Content-MD5 you specified did not match", key, request_id
            )
        sent_sha = request.headers.get("x-amz-checksum-sha256")
        if sent_sha is not None and sent_sha != base64.b64encode(digest.digest()).decode():
            return s3_error(
                400, "BadDigest", "The SHA256 you specified did not match", key, request_id
            )
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        with self._lock:
            self._store_object(key, bytes(buffer), content_type)
        return web.Response(status=200, headers={"ETag": f'"{md5.hexdigest()}"'})

    async def _storage_get(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        request_id = str(request.get(REQUEST_ID, ""))
        with self._lock:
            problem = self._check_presigned("GET", key, request.query)
            stored = self._objects.get(key)
        if problem is not None:
            return s3_error(403, problem[0], problem[1], key, request_id)
        if stored is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.", key, request_id)
        headers = {
            "ETag": f'"{hashlib.md5(stored.data, usedforsecurity=False).hexdigest()}"',
            "Content-Type": stored.content_type,
        }
        return web.Response(body=stored.data, headers=headers)

    def _storage_routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("PUT", "/_storage/{key:.+}", self._storage_put),
            ("GET", "/_storage/{key:.+}", self._storage_get),
        ]
