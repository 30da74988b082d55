"""A real aiohttp server on 127.0.0.1 with the behaviours the core must handle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from tether.testing import SimulatorBase, running


class Behaviour:
    """What the test server does; tests adjust it and read the request log."""

    def __init__(self) -> None:
        self.fail_times = 0
        self.fail_status = 503
        self.retry_after: str | None = None
        self.retry_after_ms: str | None = None
        self.delay = 0.0
        self.requests: list[dict[str, Any]] = []


def make_app(behaviour: Behaviour) -> web.Application:
    async def record(request: web.Request) -> None:
        body = await request.read()
        behaviour.requests.append(
            {
                "method": request.method,
                "path": request.raw_path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "body": body,
            }
        )

    async def flaky(request: web.Request) -> web.Response:
        await record(request)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.fail_times > 0:
            behaviour.fail_times -= 1
            headers = {}
            if behaviour.retry_after is not None:
                headers["Retry-After"] = behaviour.retry_after
            if behaviour.retry_after_ms is not None:
                headers["retry-after-ms"] = behaviour.retry_after_ms
            return web.json_response(
                {"error": "try later", "remediation": "wait a little"},
                status=behaviour.fail_status,
                headers={**headers, "X-Request-Id": "req-123"},
            )
        return web.json_response({"ok": True, "method": request.method})

    async def status(request: web.Request) -> web.Response:
        await record(request)
        code = int(request.match_info["code"])
        return web.json_response({"message": f"status {code}"}, status=code)

    async def echo(request: web.Request) -> web.Response:
        await record(request)
        raw = behaviour.requests[-1]["body"]
        return web.json_response(
            {
                "path": request.raw_path,
                "match": request.match_info.get("name"),
                "query": dict(request.query),
                "json": (await request.json()) if raw else None,
            }
        )

    async def not_json(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="<html>oops</html>", content_type="text/html")

    async def pages(request: web.Request) -> web.Response:
        await record(request)
        page = int(request.query.get("page", "1"))
        size = 3
        total = 8
        items = [
            {"id": i, "name": f"item-{i}"}
            for i in range((page - 1) * size, min(page * size, total))
        ]
        return web.json_response({"items": items, "page": page, "has_more": page * size < total})

    app = web.Application()
    app.router.add_route("*", "/flaky", flaky)
    app.router.add_get("/status/{code}", status)
    app.router.add_route("*", "/echo/{name}", echo)
    app.router.add_route("*", "/echo", echo)
    app.router.add_get("/not-json", not_json)
    app.router.add_get("/pages", pages)
    return app


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour()


class ToyServer(SimulatorBase):
    """The test app as a simulator, so sync tests can run it in its own thread."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self._runner = web.AppRunner(make_app(self.behaviour))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def info(self) -> dict[str, str]:
        return {"URL": self.url}


@pytest.fixture
def sync_server(behaviour: Behaviour) -> Iterator[str]:
    with running(ToyServer(behaviour)) as sim:
        yield sim.url


@pytest.fixture
async def server(behaviour: Behaviour) -> AsyncIterator[str]:
    runner = web.AppRunner(make_app(behaviour))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
