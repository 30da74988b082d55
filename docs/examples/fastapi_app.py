"""A FastAPI backend using tether: one client per app, opened and closed by the lifespan.

Needs ``pip install fastapi uvicorn``. From ``docs/examples``::

    python fastapi_app.py                       # serves on http://127.0.0.1:8000
    curl -X POST 'http://127.0.0.1:8000/notes/apples?text=red'
    curl http://127.0.0.1:8000/notes
    curl -X POST http://127.0.0.1:8000/exports  # {"id": ..., "resume_token": ...}
    curl http://127.0.0.1:8000/exports/TOKEN    # the export's status, from its token

With ``TOY_URL`` set the app talks to that server; otherwise the lifespan starts the Toy
simulator in-process, so the example runs on its own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

import attrs
from fastapi import Depends, FastAPI, HTTPException, Request
from toy import AsyncToy, ToySimulator

from tether import APIConnectionError, NotFoundError, RetryPolicy, ValidationError


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
    """Open the one client the app shares; close it (and its connections) at shutdown."""
    async with AsyncExitStack() as stack:
        url = os.environ.get("TOY_URL")
        if url is None:
            url = (await stack.enter_async_context(ToySimulator())).url
        app.state.toy = await stack.enter_async_context(
            AsyncToy(url, timeout=10, retries=RetryPolicy(max_retries=2))
        )
        yield


def get_toy(request: Request) -> AsyncToy:
    """The app's client (a dependency: handlers never create their own)."""
    client: AsyncToy = request.app.state.toy
    return client


Toy = Annotated[AsyncToy, Depends(get_toy)]
app = FastAPI(lifespan=lifespan)


@app.post("/notes/{name}", status_code=201)
async def create_note(name: str, text: str, toy: Toy) -> dict[str, Any]:
    """Create a note on the platform."""
    return attrs.asdict(await toy.notes.create(name, text=text))


@app.get("/notes/{name}")
async def read_note(name: str, toy: Toy) -> dict[str, Any]:
    """One note; the platform's 404 becomes ours."""
    try:
        note = await toy.notes.retrieve(name)
    except NotFoundError as exc:
        raise HTTPException(404, detail=exc.cause or exc.message) from exc
    return attrs.asdict(note)


@app.get("/notes")
async def list_notes(toy: Toy, limit: int = 100) -> list[dict[str, Any]]:
    """Every note (up to *limit*), fetched page by page."""
    return [attrs.asdict(note) async for note in toy.notes.list(limit=limit)]


@app.post("/exports", status_code=202)
async def start_export(toy: Toy, prefix: str = "") -> dict[str, str]:
    """Start an export; the caller polls ``/exports/{token}``. Never block a handler on a job."""
    job = await toy.exports.create.start(prefix)
    return {"id": job.id, "resume_token": job.resume_token}


@app.get("/exports/{token}")
async def export_status(token: str, toy: Toy) -> dict[str, Any]:
    """Check an export once, from its resume token (any worker process can do it)."""
    # A tighter deadline for these calls only; the copy shares the app client's connections.
    quick = toy.with_options(deadline=5)
    try:
        job = await quick.exports.resume(token)
    except ValidationError as exc:  # not a token of ours
        raise HTTPException(400, detail=str(exc)) from exc
    try:
        state = await job.status()
    except APIConnectionError as exc:
        raise HTTPException(503, detail="the platform is unreachable") from exc
    return {
        "id": job.id,
        "status": state.status.value,
        "platform_status": state.raw_status,
        "progress": state.progress.fraction if state.progress else None,
    }


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
