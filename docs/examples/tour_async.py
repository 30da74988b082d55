"""A tour of the core, async: run ``python docs/examples/tour_async.py``.

Every call below is the same on each platform client; the Toy platform (``toy.py`` beside
this file) stands in for one so that the tour runs anywhere.
"""

from __future__ import annotations

import asyncio
import logging

from toy import AsyncToy, ToySimulator

from tether import (
    JobState,
    JobTimeoutError,
    NotFoundError,
    PollPolicy,
    RetryPolicy,
    TetherError,
)


async def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    logging.getLogger("tether").setLevel(logging.INFO)  # retries are logged at INFO
    async with ToySimulator(token="s3cret") as sim:
        async with AsyncToy(sim.url, token="s3cret") as client:
            # Plain calls: typed results.
            await client.notes.create("apples", text="red")
            await client.notes.create("avocados", text="green")
            await client.notes.create("bananas", text="yellow")
            note = await client.notes.retrieve("apples")
            print("retrieved:", note.name, note.created_at.isoformat())

            # Errors are typed and say what happened.
            try:
                await client.notes.retrieve("cherries")
            except NotFoundError as exc:
                print("not found:", exc.status, exc.cause, "| request id:", exc.request_id)

            # Pagination: await for the first page, iterate for every item.
            first = await client.notes.list(per_page=2)
            print("first page:", [n.name for n in first], "more:", first.has_more)
            print("all:", [n.name async for n in client.notes.list(per_page=2)])

            # Retries: the server fails twice with 503, the GET is retried (logged on
            # the 'tether.http' logger at INFO; the token never appears in the log).
            sim.fail_next = [503, 503]
            fast = client.with_options(retries=RetryPolicy(initial_backoff=0.05, max_backoff=0.1))
            print("after retries:", (await fast.notes.retrieve("bananas")).text)

            # Jobs: await the result ...
            export = await client.exports.create(prefix="a")
            print("export:", export.id, export.status.value, export.names)

            # ... or start the job, watch it, and wait with a deadline.
            job = await client.exports.create.start()

            def show(state: JobState[object]) -> None:
                fraction = state.progress.fraction if state.progress else None
                print(f"  {job.id}: {state.raw_status} {fraction}")

            job.on_progress(show)
            result = await job.wait(timeout=10)
            print("finished:", result.status.value, result.done_steps)

            # A resume token is plain text: store it, pick the job up elsewhere.
            later = await client.exports.create.start()
            token = later.resume_token
            again = await client.exports.resume(token)
            print("resumed:", again.id, (await again).status.value)

            slow = await client.exports.create.start()
            try:
                await slow.wait(timeout=0.05, poll=PollPolicy(initial=0.04, maximum=0.04))
            except JobTimeoutError as exc:
                print("timed out:", exc, "| still running:", exc.status)
            await slow.cancel()

        try:
            await client.notes.retrieve("apples")
        except TetherError as exc:  # ClientClosedError: the client was closed by `async with`
            print("after close:", type(exc).__name__)


if __name__ == "__main__":
    asyncio.run(main())
