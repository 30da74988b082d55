"""Wire details the simulator does not cover, against a small scripted aiohttp leader:
multipart uploads, tasks relayed from a unit, merged-config errors, broken downloads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import BodyPartReader, web

from tether import APIConnectionError
from tether.pioreactor import AsyncPioreactor


class FakeLeader:
    """Records what it received; answers like a 26.11.1 leader for a handful of routes."""

    def __init__(self) -> None:
        self.uploads: list[tuple[str, str | None, bytes]] = []
        self.polls: list[str] = []
        self.pending_polls = 2

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": "26.11.1"})

    async def upload(self, request: web.Request) -> web.Response:
        reader = await request.multipart()
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            self.uploads.append((part.name or "", part.filename, await part.read()))
        filename = self.uploads[-1][1] if self.uploads else "none"
        return web.json_response(
            {"message": "File successfully uploaded", "save_path": f"/tmp/staged_{filename}"}
        )

    async def import_archive(self, request: web.Request) -> web.Response:
        await self.upload(request)
        unit = request.match_info["unit"]
        body = {
            "unit": unit,
            "task_id": "t-1",
            "result_url_path": "/unit_api/task_results/t-1",
            "status": "accepted",
        }
        return web.json_response(body, status=202)

    async def relay(self, request: web.Request) -> web.Response:
        self.polls.append(request.path)
        if self.pending_polls > 0:
            self.pending_polls -= 1
            return web.json_response({"task_id": "t-1", "status": "pending"}, status=202)
        return web.json_response(
            {"task_id": "t-1", "status": "succeeded", "result": {"imported": True}}
        )

    async def local_poll(self, request: web.Request) -> web.Response:
        self.polls.append(request.path)
        return web.json_response({"error": "wrong host"}, status=404)

    async def merged(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "configs": {"pio1": {"PWM": {"1": "stirring"}}},
                "errors": {
                    "pio2": {
                        "ok": False,
                        "unit": "pio2",
                        "error": {"kind": "connection_error", "message": "pio2 is offline"},
                        "status_code": None,
                        "retryable": True,
                    }
                },
            }
        )

    async def specific(self, request: web.Request) -> web.Response:
        return web.Response(text="null", content_type="text/plain")

    async def broken_export(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100000"})
        await response.prepare(request)
        await response.write(b"PK\x03\x04 partial")
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-download
        return response

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/unit_api/versions/app", self.version)
        app.router.add_post("/api/system/upload", self.upload)
        app.router.add_post("/api/units/{unit}/import_zipped_dot_pioreactor", self.import_archive)
        app.router.add_get("/api/workers/{unit}/task_results/{task}", self.relay)
        app.router.add_get("/unit_api/task_results/{task}", self.local_poll)
        app.router.add_get("/api/config/units/{unit}", self.merged)
        app.router.add_get("/api/config/units/{unit}/specific", self.specific)
        app.router.add_get("/exports/{name}", self.broken_export)
        return app


def file_names(folder: Path) -> list[str]:
    """The names in *folder*, sorted (run in a thread from async tests)."""
    return sorted(path.name for path in folder.iterdir())


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeLeader, AsyncPioreactor]]:
    """The scripted leader on a free loopback port, and a client of it."""
    leader = FakeLeader()
    runner = web.AppRunner(leader.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: Any = runner.addresses[0][1]
    try:
        async with AsyncPioreactor(f"http://127.0.0.1:{port}", task_timeout=5.0) as client:
            yield leader, client
    finally:
        await runner.cleanup()


async def test_upload_sends_one_multipart_file(
    fake: tuple[FakeLeader, AsyncPioreactor], tmp_path: Path
) -> None:
    leader, client = fake
    assert await client.units.upload(b"release bytes", filename="r.zip") == "/tmp/staged_r.zip"
    archive = tmp_path / "release_26.11.1.zip"
    archive.write_bytes(b"\x00\x01zip")
    assert await client.units.upload(archive) == "/tmp/staged_release_26.11.1.zip"
    assert leader.uploads == [
        ("file", "r.zip", b"release bytes"),
        ("file", "release_26.11.1.zip", b"\x00\x01zip"),
    ]


async def test_import_polls_the_units_task_through_the_leader_relay(
    fake: tuple[FakeLeader, AsyncPioreactor],
) -> None:
    leader, client = fake
    job = await client.units.import_zipped_dot_pioreactor.start("pio2", b"PK", filename="d.zip")
    assert await job.wait(timeout=5) == {"imported": True}
    assert leader.uploads == [("archive", "d.zip", b"PK")]
    assert set(leader.polls) == {"/api/workers/pio2/task_results/t-1"}  # never the unit's path


async def test_merged_config_reports_unreachable_units(
    fake: tuple[FakeLeader, AsyncPioreactor],
) -> None:
    _, client = fake
    merged = await client.config.merged()
    assert not merged.ok
    assert merged.values_by_unit() == {"pio1": {"PWM": {"1": "stirring"}}}
    failure = merged.failures["pio2"]
    assert failure.error is not None and failure.error.kind == "connection_error"
    assert failure.retryable


async def test_unit_config_null_means_no_file(fake: tuple[FakeLeader, AsyncPioreactor]) -> None:
    _, client = fake
    assert await client.config.unit("pio7") == ""


async def test_broken_download_leaves_no_partial_file(
    fake: tuple[FakeLeader, AsyncPioreactor], tmp_path: Path
) -> None:
    _, client = fake
    with pytest.raises(APIConnectionError):
        await client.datasets.download("export_x.zip", tmp_path)
    assert await asyncio.to_thread(file_names, tmp_path) == []
