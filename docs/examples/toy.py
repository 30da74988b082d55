"""Toy: a small platform built on tether's core, with its simulator.

The documentation's examples use it because it runs anywhere, in a few milliseconds: the
calls they make (``async with``, ``with_options``, pagers, jobs, errors) behave the same on
every real platform client, which is built from the same parts.

- :class:`ToySimulator` serves notes and exports on loopback (aiohttp.web, in memory).
- :class:`AsyncToy` is the async client; :class:`Toy` its blocking twin.

Run it to see it work::

    python docs/examples/toy.py

Endpoint declarations have a ``...`` body (the :func:`~tether._core.resource.endpoint`
decorator supplies the implementation); mypy reports such bodies as ``empty-body``, hence the
file-level switch below. pyright accepts them.
"""

# mypy: disable-error-code="empty-body"

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from tether import (
    AsyncPager,
    BlockingJob,
    BlockingJobMethod,
    Job,
    JobMethod,
    JobState,
    JobStatus,
    Page,
    Pager,
    PollPolicy,
    Progress,
    ResumeToken,
    RetryPolicy,
    ValidationError,
)
from tether._core.blocking import ClientFacade, Facade
from tether._core.http import HTTPClient, Transport
from tether._core.models import OpenEnum, make_converter
from tether._core.resource import AsyncClientBase, AsyncResource, endpoint, path
from tether.testing import SimulatorBase

# --- models ----------------------------------------------------------------------------------


@attrs.frozen
class Note:
    """A note (``createdAt`` on the wire)."""

    name: str
    text: str
    created_at: datetime


class ExportStatus(OpenEnum):
    """Where an export is. Unknown values from a newer server are kept, not rejected."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@attrs.frozen
class Export:
    """An export of notes: finishes later."""

    id: str
    status: ExportStatus
    done_steps: int
    total_steps: int
    names: list[str] = attrs.field(factory=lambda: list[str]())
    error: str | None = None


# --- the async client --------------------------------------------------------------------------


class AsyncNotes(AsyncResource):
    """The notes of a Toy server."""

    _wire_naming = "camel"

    @endpoint("GET", "/notes/{name}")
    async def retrieve(self, name: str) -> Note:
        """Fetch one note."""
        ...

    @endpoint("POST", "/notes")
    async def create(self, name: str, text: str) -> Note:
        """Create a note."""
        ...

    @endpoint("DELETE", "/notes/{name}")
    async def delete(self, name: str) -> None:
        """Delete a note."""
        ...

    def list(self, *, per_page: int = 2, limit: int | None = None) -> AsyncPager[Note]:
        """Every note, *per_page* at a time (await it for the first page)."""

        async def fetch(cursor: Any) -> Page[Note]:
            response = await self._request(
                "GET", "/notes", params={"page": cursor or 1, "perPage": per_page}
            )
            data = response.json()
            items = self._decode(data["items"], list[Note], response=response)
            return Page(items, data["nextPage"], data)

        return AsyncPager(fetch, limit=limit)


_STATUS = {
    ExportStatus.QUEUED: JobStatus.PENDING,
    ExportStatus.RUNNING: JobStatus.RUNNING,
    ExportStatus.DONE: JobStatus.SUCCEEDED,
    ExportStatus.FAILED: JobStatus.FAILED,
    ExportStatus.CANCELLED: JobStatus.CANCELLED,
}


class AsyncExports(AsyncResource):
    """Exports: ``await client.exports.create()`` for the result, ``.start()`` for the Job."""

    _wire_naming = "camel"

    @endpoint("GET", "/exports/{export_id}")
    async def retrieve(self, export_id: str) -> Export:
        """Fetch one export as it is now."""
        ...

    @JobMethod
    async def create(self, prefix: str = "") -> Job[Export]:
        """Export the notes whose name starts with *prefix*."""
        response = await self._request("POST", "/exports", json={"prefix": prefix})
        export: Export = self._decode(response.json(), Export, response=response)
        return self._job(export.id)

    async def resume(self, token: str) -> Job[Export]:
        """The job a resume token describes (made by ``str(job.token)``, maybe elsewhere)."""
        parsed = ResumeToken.parse(token, platform="toy")
        if parsed.kind != "export":
            raise ValidationError(f"not an export's resume token (kind {parsed.kind!r})")
        return self._job(str(parsed.data["id"]))

    def _job(self, export_id: str) -> Job[Export]:
        async def check() -> JobState[Export]:
            export = await self.retrieve(export_id)
            return JobState(
                _STATUS.get(export.status, JobStatus.RUNNING),  # unknown: keep waiting
                raw_status=export.status.value,
                result=export,
                progress=Progress(export.done_steps, export.total_steps),
                detail=export,
                error=export.error,
            )

        async def cancel() -> None:
            await self._request("DELETE", path("/exports/{id}", id=export_id))

        return Job(
            check,
            job_id=export_id,
            token=ResumeToken("toy", "export", {"id": export_id}),
            cancel=cancel,
            poll=PollPolicy(initial=0.02, maximum=0.2),
            timeout=30,
            describe=f"export {export_id}",
        )


class AsyncToy(AsyncClientBase):
    """The async Toy client.

    Args:
        base_url: where the server is (``sim.url``).
        token: the bearer token, when the server wants one.
        timeout: seconds per attempt.
        retries: the retry policy (default: :class:`~tether.RetryPolicy`).
        session: an aiohttp session of yours to use (tether will not close it).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        retries: RetryPolicy | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.http = HTTPClient(
            base_url,
            transport=Transport(session),
            auth=(lambda: {"Authorization": f"Bearer {token}"}) if token else None,
            timeout=timeout,
            retries=retries,
        )
        self.converter = make_converter("camel")

    @cached_property
    def notes(self) -> AsyncNotes:
        """The notes."""
        return AsyncNotes(self)

    @cached_property
    def exports(self) -> AsyncExports:
        """The exports."""
        return AsyncExports(self)


# --- the blocking twin -------------------------------------------------------------------------


class Notes(Facade[AsyncNotes], mirrors=AsyncNotes):
    """The notes of a Toy server (blocking)."""

    def retrieve(self, name: str) -> Note:
        """Fetch one note."""
        return self._run(self._wrapped.retrieve, name)

    def create(self, name: str, text: str) -> Note:
        """Create a note."""
        return self._run(self._wrapped.create, name, text)

    def delete(self, name: str) -> None:
        """Delete a note."""
        return self._run(self._wrapped.delete, name)

    def list(self, *, per_page: int = 2, limit: int | None = None) -> Pager[Note]:
        """Every note, *per_page* at a time."""
        return Pager(self._wrapped.list(per_page=per_page, limit=limit))


class Exports(Facade[AsyncExports], mirrors=AsyncExports):
    """Exports (blocking): ``client.exports.create()`` or ``.create.start()``."""

    create = BlockingJobMethod(AsyncExports.create)

    def retrieve(self, export_id: str) -> Export:
        """Fetch one export as it is now."""
        return self._run(self._wrapped.retrieve, export_id)

    def resume(self, token: str) -> BlockingJob[Export]:
        """The job a resume token describes."""
        return BlockingJob(self._run(self._wrapped.resume, token))


class Toy(ClientFacade[AsyncToy], mirrors=AsyncToy):
    """The blocking Toy client: same arguments as :class:`AsyncToy` (without ``session``)."""

    notes: Notes
    exports: Exports

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float | None = 30.0,
        retries: RetryPolicy | None = None,
    ) -> None:
        super().__init__(AsyncToy(base_url, token=token, timeout=timeout, retries=retries))


# --- the simulator -----------------------------------------------------------------------------


class ToySimulator(SimulatorBase):
    """The Toy server, in memory, on loopback.

    Every check of an export moves it one step (``queued``, ``running`` x *steps*, ``done``).
    ``fail_next`` holds statuses to answer the next requests with (``[503, 503]``: the next
    two requests fail), with ``retry_after`` as their ``Retry-After`` header.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None, steps: int = 3
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.steps = steps
        self.fail_next: list[int] = []
        self.retry_after: str | None = None
        self.requests: list[str] = []  # "METHOD /path?query", in order
        self.notes: dict[str, dict[str, Any]] = {}
        self.exports: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def info(self) -> dict[str, str]:
        """``URL`` (and ``TOY_TOKEN`` when the server wants one)."""
        found = {"URL": self.url}
        if self.token:
            found["TOY_TOKEN"] = self.token
        return found

    async def start(self) -> None:
        """Begin serving."""
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/notes", self._list)
        app.router.add_post("/notes", self._create)
        app.router.add_get("/notes/{name}", self._retrieve)
        app.router.add_delete("/notes/{name}", self._delete)
        app.router.add_post("/exports", self._export)
        app.router.add_get("/exports/{id}", self._check)
        app.router.add_delete("/exports/{id}", self._cancel)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.url = f"http://{self.host}:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        """Stop serving. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path_qs}")
        if self.fail_next:
            status = self.fail_next.pop(0)
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return _error(status, "the server is busy", headers=headers)
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "missing or wrong token", remediation="pass token= to the client")
        response: web.StreamResponse = await handler(request)
        return response

    async def _list(self, request: web.Request) -> web.Response:
        page, per_page = int(request.query.get("page", "1")), int(request.query["perPage"])
        names = sorted(self.notes)
        chunk = names[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(names)
        items = [self.notes[n] for n in chunk]
        return web.json_response({"items": items, "nextPage": page + 1 if more else None})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = body["name"]
        if name in self.notes:
            return _error(409, f"a note named {name!r} exists", remediation="pick another name")
        created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.notes[name] = {"name": name, "text": body["text"], "createdAt": created}
        return web.json_response(self.notes[name], status=201)

    async def _retrieve(self, request: web.Request) -> web.Response:
        note = self.notes.get(request.match_info["name"])
        if note is None:
            return _error(404, f"no note named {request.match_info['name']!r}")
        return web.json_response(note)

    async def _delete(self, request: web.Request) -> web.Response:
        if self.notes.pop(request.match_info["name"], None) is None:
            return _error(404, f"no note named {request.match_info['name']!r}")
        return web.Response(status=204)

    async def _export(self, request: web.Request) -> web.Response:
        prefix = (await request.json()).get("prefix", "")
        export_id = f"exp-{next(self._ids)}"
        names = sorted(n for n in self.notes if n.startswith(prefix))
        self.exports[export_id] = {
            "id": export_id,
            "status": "queued",
            "doneSteps": 0,
            "totalSteps": self.steps,
            "names": names,
        }
        return web.json_response(self.exports[export_id], status=202)

    async def _check(self, request: web.Request) -> web.Response:
        export = self.exports.get(request.match_info["id"])
        if export is None:
            return _error(404, f"no export {request.match_info['id']!r}")
        response = web.json_response(export)
        if export["status"] == "queued":  # each check moves the export one step
            export["status"] = "running"
        elif export["status"] == "running":
            export["doneSteps"] += 1
            if export["doneSteps"] >= export["totalSteps"]:
                export["status"] = "done"
        return response

    async def _cancel(self, request: web.Request) -> web.Response:
        export = self.exports.get(request.match_info["id"])
        if export is None:
            return _error(404, f"no export {request.match_info['id']!r}")
        if export["status"] in ("queued", "running"):
            export["status"] = "cancelled"
        return web.Response(status=204)


def _error(
    status: int,
    message: str,
    *,
    remediation: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if remediation:
        body["remediation"] = remediation
    return web.json_response(
        body, status=status, headers={"X-Request-Id": "req-1", **(headers or {})}
    )


async def _main() -> None:
    async with ToySimulator() as sim, AsyncToy(sim.url) as client:
        await client.notes.create("hello", "world")
        print(await client.notes.retrieve("hello"))
        print(await client.exports.create())


if __name__ == "__main__":
    asyncio.run(_main())
