"""Files and the simulated object store: presigned URLs, checksums, expiry, large bodies."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

if TYPE_CHECKING:
    from conftest import Api


def _tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_presigned_upload_and_download(api: Api) -> None:
    data = b"some bytes\n" * 10
    created = await api.ok(
        "POST", "/files/upload-url", 201, json=api.upload_body(data, metadata={"a": 1})
    )
    file = created["file"]
    assert file["uploadStatus"] == "pending" and file["metadata"] == {"a": 1}
    url = created["uploadUrl"]
    assert url.startswith(api.sim.url + "/_storage/files/")
    query = dict(parse_qsl(urlsplit(url).query))
    assert {"X-Amz-Signature", "X-Amz-Expires", "X-Amz-Date", "X-Amz-Algorithm"} <= set(query)
    assert created["expiresAt"].endswith("Z")
    async with api.session.put(url, data=data, headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 200 and await resp.read() == b""
        assert resp.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    stored = api.sim.storage_object(f"files/{file['fileId']}")
    assert stored is not None and stored.data == data and stored.content_type == "text/plain"
    done = await api.ok(
        "POST",
        f"/files/{file['fileId']}/complete",
        json={"fileSize": len(data), "fileHash": file["fileHash"]},
    )
    assert done["uploadStatus"] == "completed"
    link = await api.ok("GET", f"/files/{file['fileId']}/download")
    assert set(link) == {"downloadUrl", "expiresAt"}
    async with api.session.get(link["downloadUrl"]) as resp:
        assert resp.status == 200 and await resp.read() == data
        assert resp.headers["Content-Type"] == "text/plain"
    assert (
        await api.post(
            f"/files/{file['fileId']}/complete",
            json={"fileSize": len(data), "fileHash": file["fileHash"]},
        )
    )[0] == 409
    assert (await api.delete(f"/files/{file['fileId']}"))[0] == 204
    assert api.sim.storage_keys() == []
    assert (await api.get(link["downloadUrl"], auth=False))[0] == 404


async def test_prefixed_hash_is_accepted_and_stored_verbatim(api: Api) -> None:
    data = b"abc"
    prefixed = "sha256:" + hashlib.sha256(data).hexdigest().upper()
    done = await api.upload(data, fileHash=prefixed)
    assert done["fileHash"] == prefixed
    found = await api.ok("GET", "/files", params={"fileHashes": hashlib.sha256(data).hexdigest()})
    assert found["pagination"]["totalItems"] == 1


async def test_checksum_mismatch_fails_the_file(api: Api) -> None:
    declared = b"expected content"
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(declared))
    assert (await api.put(created["uploadUrl"], data=b"something else!!"))[0] == 200
    file_id = created["file"]["fileId"]
    status, body = await api.post(
        f"/files/{file_id}/complete",
        json={"fileSize": len(declared), "fileHash": created["file"]["fileHash"]},
    )
    assert status == 409 and body["error"]["code"] == "CONFLICT"
    assert {d["field"] for d in body["error"]["details"]} == {"fileHash"}
    assert (await api.ok("GET", f"/files/{file_id}"))["uploadStatus"] == "failed"
    assert (
        await api.post(
            f"/files/{file_id}/complete",
            json={"fileSize": 16, "fileHash": created["file"]["fileHash"]},
        )
    )[0] == 409
    assert (await api.get(f"/files/{file_id}/download"))[0] == 400


async def test_complete_body_must_match_the_declaration(api: Api) -> None:
    data = b"12345"
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(data))
    file_id = created["file"]["fileId"]
    status, body = await api.post(
        f"/files/{file_id}/complete", json={"fileSize": 5, "fileHash": created["file"]["fileHash"]}
    )
    assert status == 400 and "No object" in body["error"]["message"]
    await api.put(created["uploadUrl"], data=data)
    status, body = await api.post(
        f"/files/{file_id}/complete", json={"fileSize": 6, "fileHash": created["file"]["fileHash"]}
    )
    assert status == 409 and body["error"]["details"][0]["field"] == "fileSize"
    assert (await api.post(f"/files/{file_id}/complete", json={"fileSize": 5}))[0] == 400


async def test_upload_url_validation(api: Api) -> None:
    status, body = await api.post(
        "/files/upload-url", json={"filename": "x", "file_size": 3, "team_id": api.sim.team_id}
    )
    assert status == 400
    assert {d["field"] for d in body["error"]["details"]} == {
        "fileName",
        "fileSize",
        "fileHash",
        "mimeType",
        "teamId",
    }
    status, body = await api.post("/files/upload-url", json=api.upload_body(b"x", fileHash="abc"))
    assert status == 400 and body["error"]["message"] == "File validation failed"
    foreign = api.sim.add_team("other", member=False)
    assert (await api.post("/files/upload-url", json=api.upload_body(b"x", teamId=foreign)))[
        0
    ] == 403


async def test_expired_and_tampered_urls(api: Api) -> None:
    api.sim.presign_ttl = 60
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(b"data"))
    url = created["uploadUrl"]
    status, body = await api.put(_tamper(url, **{"X-Amz-Signature": "0" * 64}), data=b"data")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    status, body = await api.put(_tamper(url, **{"X-Amz-Expires": "999999"}), data=b"data")
    assert status == 403 and b"SignatureDoesNotMatch" in body
    status, body = await api.get(url, auth=False)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    status, body = await api.put(url.split("?")[0], data=b"data")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    api.sim.advance(61)
    status, body = await api.put(url, data=b"data")
    assert status == 403 and b"Request has expired" in body
    assert api.sim.storage_keys() == []


async def test_storage_needs_no_auth_and_ignores_team_ids(api: Api) -> None:
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(b"z"))
    assert (await api.put(created["uploadUrl"] + "&teamIds=whatever", data=b"z"))[0] == 200
    junk = {"Authorization": "Bearer junk"}
    assert (await api.put(created["uploadUrl"], data=b"z", headers=junk))[0] == 200
    assert [r.status for r in api.sim.requests if r.method == "PUT"] == [200, 200]


async def test_fail_storage_put_next(api: Api) -> None:
    api.sim.fail_storage_put_next(1, 503)
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(b"retry"))
    status, body = await api.put(created["uploadUrl"], data=b"retry")
    assert status == 503 and b"<Code>InternalError</Code>" in body
    assert api.sim.storage_keys() == []
    assert (await api.put(created["uploadUrl"], data=b"retry"))[0] == 200
    assert api.sim.storage_keys() == [f"files/{created['file']['fileId']}"]


async def test_content_md5_and_sha256_headers_are_checked(api: Api) -> None:
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(b"abc"))
    bad_md5 = base64.b64encode(hashlib.md5(b"xyz").digest()).decode()
    status, body = await api.put(
        created["uploadUrl"], data=b"abc", headers={"Content-MD5": bad_md5}
    )
    assert status == 400 and b"BadDigest" in body
    bad_sha = base64.b64encode(hashlib.sha256(b"xyz").digest()).decode()
    status, _ = await api.put(
        created["uploadUrl"], data=b"abc", headers={"x-amz-checksum-sha256": bad_sha}
    )
    assert status == 400
    good_sha = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    assert (
        await api.put(
            created["uploadUrl"], data=b"abc", headers={"x-amz-checksum-sha256": good_sha}
        )
    )[0] == 200


async def test_large_body_is_streamed(api: Api) -> None:
    chunk = bytes(range(256)) * 4096
    data = chunk * 48  # 48 MiB
    started = time.perf_counter()
    created = await api.ok("POST", "/files/upload-url", 201, json=api.upload_body(data))

    async def body():  # type: ignore[no-untyped-def]
        for _ in range(48):
            yield chunk

    async with api.session.put(created["uploadUrl"], data=body()) as resp:
        assert resp.status == 200
    done = await api.ok(
        "POST",
        f"/files/{created['file']['fileId']}/complete",
        json={"fileSize": len(data), "fileHash": created["file"]["fileHash"]},
    )
    assert done["uploadStatus"] == "completed"
    link = await api.ok("GET", f"/files/{created['file']['fileId']}/download")
    async with api.session.get(link["downloadUrl"]) as resp:
        digest = hashlib.sha256()
        async for piece in resp.content.iter_chunked(1 << 20):
            digest.update(piece)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert time.perf_counter() - started < 10


async def test_files_listing_filters_and_compat_patch(api: Api) -> None:
    dataset = await api.ok("POST", "/datasets", 201, json={"teamId": api.sim.team_id, "name": "D"})
    first = await api.upload(b"1", fileName="b.csv", mimeType="text/csv")
    await api.upload(b"22", fileName="a.txt", mimeType="text/plain")
    pending = await api.ok(
        "POST", "/files/upload-url", 201, json=api.upload_body(b"333", fileName="c.txt")
    )
    newest = await api.ok("GET", "/files")
    assert [f["fileName"] for f in newest["items"]] == ["c.txt", "a.txt", "b.csv"]
    by_size = await api.ok(
        "GET", "/files", params={"order_by": "file_size", "order_direction": "asc"}
    )
    assert [f["fileSize"] for f in by_size["items"]] == [1, 2, 3]
    assert (await api.ok("GET", "/files", params={"status": "pending"}))["items"][0][
        "fileId"
    ] == pending["file"]["fileId"]
    assert (await api.ok("GET", "/files", params={"mime_type": "text/csv"}))["pagination"][
        "totalItems"
    ] == 1
    assert (await api.ok("GET", "/files", params={"nameLike": ".TXT"}))["pagination"][
        "totalItems"
    ] == 2
    assert (await api.get("/files", params={"uploadStatus": "processing"}))[0] == 400
    patched = await api.ok(
        "PATCH",
        f"/files/{first['fileId']}",
        json={"name": "renamed.csv", "dataset_id": dataset["datasetId"], "metadata": {"k": "v"}},
    )
    assert patched["fileName"] == "renamed.csv" and patched["datasetId"] == dataset["datasetId"]
    linked = await api.ok("GET", "/files", params={"dataset_id": dataset["datasetId"]})
    assert [f["fileId"] for f in linked["items"]] == [first["fileId"]]


async def test_data_version_checksum_mismatch(api: Api) -> None:
    dataset = await api.ok("POST", "/datasets", 201, json={"teamId": api.sim.team_id, "name": "D"})
    created = await api.ok(
        "POST",
        "/dataset-data-versions",
        201,
        json={"datasetId": dataset["datasetId"], "fileName": "d.csv", "fileType": "csv"},
    )
    version_id = created["dataVersion"]["datasetDataVersionId"]
    assert (await api.get(f"/dataset-data-versions/{version_id}/download"))[0] == 400
    await api.put(created["uploadUrl"], data=b"a\n1\n")
    status, body = await api.post(
        f"/dataset-data-versions/{version_id}/complete",
        json={"fileHash": hashlib.sha256(b"other").hexdigest(), "fileSizeBytes": 9},
    )
    assert status == 400 and {d["field"] for d in body["error"]["details"]} == {
        "fileHash",
        "fileSizeBytes",
    }
    done = await api.ok(
        "POST",
        f"/dataset-data-versions/{version_id}/complete",
        json={"fileHash": hashlib.sha256(b"a\n1\n").hexdigest(), "fileSizeBytes": 4, "rowCount": 7},
    )
    assert done["rowCount"] == 7 and done["status"] == "current"


@pytest.mark.parametrize("method", ["DELETE", "POST"])
async def test_storage_rejects_other_methods(api: Api, method: str) -> None:
    status, body = await api.call(method, "/_storage/files/x", auth=False)
    assert status == 405 and body["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_fail_next_on_storage_answers_s3_xml(api: Api) -> None:
    done = await api.upload(b"payload")
    link = await api.ok("GET", f"/files/{done['fileId']}/download")
    api.sim.fail_next(1, 403, "/_storage/", method="GET")
    status, body = await api.get(link["downloadUrl"], auth=False)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    api.sim.fail_next(1, 500)  # no prefix: API paths only, storage untouched
    assert (await api.get(link["downloadUrl"], auth=False)) == (200, b"payload")
    assert (await api.get("/files"))[0] == 500
