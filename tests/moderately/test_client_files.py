"""Files through the Moderately client: streamed uploads, clean failures, atomic downloads."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tether import RetryPolicy, TetherError, ValidationError
from tether.moderately import AsyncModeratelyAI, ModeratelyAI, UploadError, sniff_mime_type
from tether.moderately._upload import CHUNK_SIZE, prepare_upload
from tether.testing.moderately import Simulator

NOTES = b"hello from the files tests\n"


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[AsyncModeratelyAI]:
    async with AsyncModeratelyAI(
        api_key=sim.api_key,
        team_id=sim.team_id,
        base_url=sim.url,
        retries=RetryPolicy(max_retries=0),
    ) as made:
        yield made


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _stored(sim: Simulator, file_id: str) -> bytes:
    stored = sim.storage_object(f"files/{file_id}")
    assert stored is not None
    return stored.data


class _Unseekable(io.RawIOBase):
    """A binary stream that cannot seek (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _Shifty(io.BytesIO):
    """Gives other bytes (of the same length) once it has been read through once."""

    def __init__(self, data: bytes, *, grow: bool = False) -> None:
        super().__init__(data)
        self._passes = 0
        self._grow = grow

    def seek(self, offset: int, whence: int = 0) -> int:
        self._passes += 1
        if self._passes == 1:  # the first seek back: the transfer starts
            data = self.getvalue()
            replacement = data + b"more" if self._grow else data.upper()
            self.truncate(0)
            super().seek(0)
            self.write(replacement)
        return super().seek(offset, whence)


# --- uploads -------------------------------------------------------------------------------------


async def test_upload_bytes_path_and_file_objects(
    client: AsyncModeratelyAI, sim: Simulator, tmp_path: Path
) -> None:
    from_bytes = await client.files.upload(NOTES, name="notes.txt", metadata={"k": "v"})
    assert from_bytes.is_ready() and from_bytes.name == "notes.txt"
    assert from_bytes.mime_type == "text/plain" and from_bytes.metadata == {"k": "v"}
    assert from_bytes.file_hash == hashlib.sha256(NOTES).hexdigest()
    assert _stored(sim, from_bytes.file_id) == NOTES

    csv = tmp_path / "scores.csv"
    csv.write_bytes(b"a,b\n1,2\n")
    from_path = await client.files.upload(csv)
    assert (from_path.name, from_path.mime_type, from_path.file_size) == (
        "scores.csv",
        "text/csv",
        8,
    )
    renamed = await client.files.upload(str(csv), name="renamed")
    assert renamed.name == "renamed.csv"  # the path's extension is kept (as the official SDK)

    handle = io.BytesIO(b"skip-" + NOTES)
    handle.seek(5)  # read from the current position
    from_handle = await client.files.upload(handle, name="tail.txt")
    assert _stored(sim, from_handle.file_id) == NOTES
    assert handle.tell() == len(b"skip-" + NOTES)

    unseekable = await client.files.upload(_Unseekable(NOTES * 3), name="pipe.bin")
    assert _stored(sim, unseekable.file_id) == NOTES * 3
    text = await client.files.upload(io.StringIO("héllo"), name="text.txt")
    assert _stored(sim, text.file_id) == "héllo".encode()

    with csv.open("rb") as opened:
        named = await client.files.upload(opened)
    assert named.name == "scores.csv"
    empty = await client.files.upload(b"", name="empty.txt")
    assert empty.file_size == 0 and empty.is_ready() and _stored(sim, empty.file_id) == b""
    unnamed = await client.files.upload(b"%PDF-1.7 ...")
    assert (unnamed.name, unnamed.mime_type) == ("uploaded_file", "application/pdf")

    listed = await client.files.list(mime_type="text/csv").to_list()
    assert sorted(f.name for f in listed) == ["renamed.csv", "scores.csv", "scores.csv"]
    put = next(r for r in sim.requests if r.method == "PUT")
    assert "Authorization" not in put.headers and "teamIds" not in put.query_dict()
    assert put.headers["Content-Length"] == str(len(NOTES))
    assert put.headers["Content-Type"] == "text/plain"


async def test_upload_of_a_missing_path_fails_before_any_request(
    client: AsyncModeratelyAI, sim: Simulator, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="file not found"):
        await client.files.upload(tmp_path / "absent.bin")
    with pytest.raises(ValidationError):
        await client.files.upload(12345)  # type: ignore[arg-type]
    assert sim.requests == []


async def test_large_sources_are_chunked(sim: Simulator, client: AsyncModeratelyAI) -> None:
    data = os.urandom(CHUNK_SIZE * 2 + 123)
    prepared = await prepare_upload(data, name="blob.bin", count_lines=True)
    chunks = [len(c) async for c in prepared.source.chunks()]
    assert chunks == [CHUNK_SIZE, CHUNK_SIZE, 123]
    assert prepared.sha256 == hashlib.sha256(data).hexdigest()
    assert prepared.line_count == data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    uploaded = await client.files.upload(data, name="blob.bin")
    assert _stored(sim, uploaded.file_id) == data


def test_mime_sniffing() -> None:
    assert sniff_mime_type("x.json", b"") == "application/json"
    assert sniff_mime_type("x", b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_mime_type("x", b"PK\x03\x04") == "application/zip"
    assert sniff_mime_type("x", "plain text é".encode()) == "text/plain"
    assert sniff_mime_type("x", "é".encode()[:1]) == "text/plain"  # a character cut at the end
    assert sniff_mime_type("x", b"\x00\x01\x02") == "application/octet-stream"
    assert sniff_mime_type("x", b"") == "application/octet-stream"


async def test_failed_storage_put_leaves_no_file_behind(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    sim.fail_storage_put_next(1, 500)
    with pytest.raises(UploadError) as info:
        await client.files.upload(NOTES, name="lost.txt")
    error = info.value
    assert (error.stage, error.state, error.status) == ("transfer", "nothing", 500)
    assert error.file_id is not None and "deleted" in str(error)
    assert [(r.method, r.status) for r in sim.requests][-2:] == [("PUT", 500), ("DELETE", 204)]
    assert await client.files.list().to_list() == []
    assert sim.storage_keys() == []


async def test_a_failed_cleanup_reports_exactly_what_is_left(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    sim.fail_storage_put_next(1, 503)
    sim.fail_next(1, 500, "/files/", method="DELETE")
    with pytest.raises(UploadError) as info:
        await client.files.upload(NOTES, name="stuck.txt")
    assert info.value.state == "pending"
    left = await client.files.list().to_list()
    assert [(f.file_id, f.status) for f in left] == [(info.value.file_id, "pending")]


async def test_a_source_that_changes_is_caught_and_cleaned_up(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    with pytest.raises(UploadError) as changed:
        await client.files.upload(_Shifty(NOTES), name="shifty.txt")
    # same size, other bytes: the platform's checksum check at completion refuses it
    assert (changed.value.stage, changed.value.state, changed.value.status) == (
        "complete",
        "nothing",
        409,
    )
    with pytest.raises(UploadError) as grown:
        await client.files.upload(_Shifty(NOTES, grow=True), name="grown.txt")
    assert (grown.value.stage, grown.value.state) == ("transfer", "nothing")
    assert isinstance(grown.value.__cause__, TetherError)
    assert "grew" in str(grown.value)
    assert await client.files.list().to_list() == []


async def test_a_cancelled_upload_deletes_its_registration(
    client: AsyncModeratelyAI, sim: Simulator
) -> None:
    sim.delay_next(1, 1.0, "/_storage/")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.files.upload(NOTES, name="slow.txt"), 0.3)
    assert await client.files.list().to_list() == []
    assert any(r.method == "DELETE" for r in sim.requests)


# --- downloads -----------------------------------------------------------------------------------


async def test_download_to_memory_and_to_disk(
    client: AsyncModeratelyAI, sim: Simulator, tmp_path: Path
) -> None:
    uploaded = await client.files.upload(NOTES, name="notes.txt")
    assert await client.files.download(uploaded) == NOTES
    target = tmp_path / "deep" / "er" / "notes.txt"
    written = await client.files.download(uploaded.file_id, path=target)
    assert written == target and target.read_bytes() == NOTES
    assert _names(target.parent) == ["notes.txt"]
    get = next(r for r in sim.requests if r.method == "GET" and r.path.startswith("/_storage/"))
    assert "Authorization" not in get.headers


async def test_a_failed_download_never_leaves_a_partial_file(
    client: AsyncModeratelyAI, sim: Simulator, tmp_path: Path
) -> None:
    uploaded = await client.files.upload(NOTES, name="notes.txt")
    target = tmp_path / "notes.txt"
    target.write_bytes(b"previous content")
    sim.fail_next(1, 403, "/_storage/", method="GET")
    with pytest.raises(TetherError) as info:
        await client.files.download(uploaded, path=target)
    assert getattr(info.value, "status", None) == 403
    assert target.read_bytes() == b"previous content"
    assert _names(tmp_path) == ["notes.txt"]
    fresh = tmp_path / "fresh.txt"
    sim.fail_next(1, 500, "/_storage/", method="GET")
    with pytest.raises(TetherError):
        await client.files.download(uploaded, path=fresh)
    assert not fresh.exists()
    assert _names(tmp_path) == ["notes.txt"]


async def test_file_metadata_operations(client: AsyncModeratelyAI, sim: Simulator) -> None:
    uploaded = await client.files.upload(NOTES, name="a.txt")
    assert (await client.files.retrieve(uploaded)).file_hash == uploaded.file_hash
    renamed = await client.files.update(uploaded, name="b.txt", metadata={"x": 1})
    assert (renamed.name, renamed.metadata) == ("b.txt", {"x": 1})
    with pytest.raises(ValidationError):
        await client.files.update(uploaded)
    link = await client.files.get_download_url(uploaded)
    assert link.download_url.startswith(sim.url) and "X-Amz-Signature" not in repr(link)
    hashes = await client.files.list(file_hashes=[hashlib.sha256(NOTES).hexdigest()]).to_list()
    assert [f.file_id for f in hashes] == [uploaded.file_id]
    await client.files.delete(uploaded)
    assert await client.files.list(status="completed").to_list() == []


async def test_low_level_upload_steps(client: AsyncModeratelyAI, sim: Simulator) -> None:
    digest = hashlib.sha256(NOTES).hexdigest()
    target = await client.files.get_upload_url(
        filename="manual.txt", file_size=len(NOTES), file_hash=digest, mime_type="text/plain"
    )
    assert target.file.is_processing()
    assert "upload_url" not in repr(target)
    async with client.http.transport.session().put(target.upload_url, data=NOTES) as response:
        assert response.status == 200
    done = await client.files.complete(target.file, file_size=len(NOTES), file_hash=digest)
    assert done.is_ready()


def test_blocking_upload_and_download(threaded_sim: Simulator, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(50_000))
    with ModeratelyAI(
        api_key=threaded_sim.api_key, team_id=threaded_sim.team_id, base_url=threaded_sim.url
    ) as client:
        uploaded = client.files.upload(source)
        content = client.files.download(uploaded)
        out = client.files.download(uploaded, path=tmp_path / "out.bin")
        threaded_sim.fail_storage_put_next(1)
        with pytest.raises(UploadError):
            client.files.upload(b"x", name="x.bin")
    assert content == source.read_bytes() == out.read_bytes()
