"""Fixtures for the Moderately simulator tests: in-loop and threaded simulators, raw HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tether.testing.moderately import Simulator


class Api:
    """A thin raw-HTTP helper over aiohttp for simulator tests.

    ``await api.get("/datasets", params=...)`` returns ``(status, decoded JSON or text)``;
    the simulator's API key is sent unless ``auth=False`` or another ``token`` is given.
    """

    def __init__(self, session: aiohttp.ClientSession, sim: Simulator) -> None:
        self.session = session
        self.sim = sim

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        token: str | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if auth:
            sent.setdefault("Authorization", f"Bearer {token or self.sim.api_key}")
        url = path if path.startswith("http") else self.sim.url + path
        async with self.session.request(
            method, url, json=json, data=data, params=params, headers=sent
        ) as resp:
            raw = await resp.read()
            if resp.content_type == "application/json" and raw:
                return resp.status, await resp.json()
            return resp.status, raw

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("PATCH", path, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("DELETE", path, **kw)

    async def put(self, url: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("PUT", url, auth=False, **kw)

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Call and assert the status; return the body."""
        got, body = await self.call(method, path, **kw)
        assert got == status, (method, path, got, body)
        return body

    def upload_body(self, data: bytes, **override: Any) -> dict[str, Any]:
        """A ``POST /files/upload-url`` body describing *data*."""
        body: dict[str, Any] = {
            "fileName": "blob.bin",
            "fileSize": len(data),
            "fileHash": hashlib.sha256(data).hexdigest(),
            "mimeType": "application/octet-stream",
            "teamId": self.sim.team_id,
        }
        body.update(override)
        return body

    async def upload(self, data: bytes, **override: Any) -> dict[str, Any]:
        """The whole presigned flow: upload-url, PUT, complete; returns the File."""
        created = await self.ok(
            "POST", "/files/upload-url", 201, json=self.upload_body(data, **override)
        )
        status, _ = await self.put(created["uploadUrl"], data=data)
        assert status == 200
        file_id = created["file"]["fileId"]
        done: dict[str, Any] = await self.ok(
            "POST",
            f"/files/{file_id}/complete",
            json={"fileSize": len(data), "fileHash": created["file"]["fileHash"]},
        )
        return done


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator on the test's event loop, manual clock, seeded ids."""
    async with Simulator(seed=1234, clock="manual", step_seconds=1.0) as simulator:
        yield simulator


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    """Raw HTTP access to :func:`sim`."""
    async with aiohttp.ClientSession() as session:
        yield Api(session, sim)


@pytest.fixture
def api_for() -> type[Api]:
    """The :class:`Api` helper class, for simulators a test builds itself."""
    return Api


@pytest.fixture
def threaded_sim() -> Iterator[Simulator]:
    """A simulator on its own loop thread (for the blocking official SDK).

    Executions advance one step per poll of the execution, on a frozen clock, so the
    official SDK's waits finish after a handful of polls, deterministically.
    """
    simulator = Simulator(seed=2024, clock="manual", step_seconds=1.0, advance_on_poll=True)
    with simulator.serve_in_thread() as running:
        yield running
