"""The same tour with the blocking facade: run ``python docs/examples/tour_blocking.py``.

No ``async``, no ``await``: each call runs the async implementation on tether's loop thread
and waits for it. ``tether.testing.running()`` runs the simulator in a thread of its own.
"""

from __future__ import annotations

from toy import Toy, ToySimulator

from tether import JobTimeoutError, NotFoundError, PollPolicy
from tether.testing import running


def main() -> None:
    with running(ToySimulator(token="s3cret")) as sim, Toy(sim.url, token="s3cret") as client:
        client.notes.create("apples", text="red")
        client.notes.create("avocados", text="green")
        client.notes.create("bananas", text="yellow")
        print("retrieved:", client.notes.retrieve("apples").text)

        try:
            client.notes.retrieve("cherries")
        except NotFoundError as exc:
            print("not found:", exc)

        print("first page:", [n.name for n in client.notes.list(per_page=2).first_page()])
        for note in client.notes.list(per_page=2):  # pages are fetched as the loop goes
            print("  note:", note.name)

        export = client.exports.create(prefix="a")  # waits for the result
        print("export:", export.status.value, export.names)

        job = client.exports.create.start()  # returns at once
        job.on_progress(lambda state: print("  progress:", state.raw_status))
        print("finished:", job.wait(timeout=10))

        slow = client.exports.create.start()
        try:
            slow.wait(timeout=0.05, poll=PollPolicy(initial=0.04, maximum=0.04))
        except JobTimeoutError as exc:
            print("timed out:", exc)
        slow.cancel()


if __name__ == "__main__":
    main()
