"""The ``tether`` command (install the ``cli`` extra: ``pip install 'tether[cli]'``).

- ``tether demo``: the main job — a Pioreactor experiment run end to end against the embedded
  simulator (or a real leader with ``--leader URL``).
- ``tether simulate PLATFORM``: run a platform's simulator in the foreground until interrupted,
  printing where to reach it as ``KEY=value`` lines on stdout (everything else goes to stderr),
  so any program — the official SDKs included — can be pointed at it. The last line is
  ``READY=1``; a script can read lines until it sees it::

      tether simulate abeja > sim.env &   # then wait for READY=1 in sim.env
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Annotated

try:
    import typer
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise SystemExit("the tether command needs the 'cli' extra: pip install 'tether[cli]'") from exc

from tether.testing import PLATFORMS, load_simulator

app = typer.Typer(
    name="tether",
    help="Async-first SDK for Pioreactor, Moderately AI, ABEJA runs and Ratio1.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def simulate(
    platform: Annotated[str, typer.Argument(help=f"One of: {', '.join(PLATFORMS)}.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one).")] = 0,
) -> None:
    """Run PLATFORM's simulator until interrupted; print KEY=value lines saying where it is."""
    if platform not in PLATFORMS:
        typer.echo(f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}", err=True)
        raise typer.Exit(2)
    simulator_class = load_simulator(platform)
    simulator = simulator_class(host=host, port=port)  # type: ignore[call-arg]

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows
                loop.add_signal_handler(signum, stop.set)
        async with simulator:
            for key, value in simulator.info().items():
                sys.stdout.write(f"{key}={value}\n")
            sys.stdout.write("READY=1\n")
            sys.stdout.flush()
            typer.echo(f"{platform} simulator running; Ctrl-C to stop", err=True)
            await stop.wait()
        typer.echo(f"{platform} simulator stopped", err=True)

    asyncio.run(serve())


@app.command()
def demo(
    leader: Annotated[
        str | None,
        typer.Option(help="Run against a real Pioreactor leader at this URL instead."),
    ] = None,
    mqtt: Annotated[
        str | None,
        typer.Option(help="The leader's MQTT broker as host:port (default: its host, 1883)."),
    ] = None,
    seconds: Annotated[float, typer.Option(help="How long to stream OD readings.")] = 4.0,
) -> None:
    """Run a Pioreactor experiment end to end against the embedded simulator."""
    from tether._demo import run_demo

    ok = run_demo(leader_url=leader, mqtt=mqtt, stream_seconds=seconds)
    raise typer.Exit(0 if ok else 1)


def main() -> None:
    """Entry point of the ``tether`` console script."""
    app()
