"""``tether demo``: a Pioreactor experiment, end to end, as a user would run it.

Against the embedded simulator by default (no hardware, no network): create an experiment,
register three workers, start stirring and OD reading on ``$broadcast``, stream live OD
readings, change ``target_rpm`` over MQTT and watch it applied, list running jobs, stop
everything, export the OD readings (and, on the simulator, download and open the archive),
and summarise. ``--leader URL`` runs the same steps against a
real leader (with the workers already in its inventory).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import zipfile
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tether._core.errors import TetherError
from tether.pioreactor import AsyncPioreactor, BackgroundJobState, ODReading

__all__ = ["run_demo"]

T = TypeVar("T")
UNITS = ("pio1", "pio2", "pio3")
NEW_RPM = 550.0


class StepFailed(Exception):
    """A demo step did not do what it should."""


class Demo:
    """The steps, with a console that shows each one and records its outcome."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.steps: list[tuple[str, bool, float]] = []
        self.readings = 0

    async def step(self, title: str, action: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            result = await action()
        except (TetherError, StepFailed, TimeoutError) as exc:
            elapsed = time.perf_counter() - started
            self.steps.append((title, False, elapsed))
            self.console.print(f" [red]✗[/] {title} [dim]({elapsed:.2f} s)[/]\n   [red]{exc}[/]")
            raise
        elapsed = time.perf_counter() - started
        self.steps.append((title, True, elapsed))
        detail = f": {result}" if isinstance(result, str) and result else ""
        self.console.print(f" [green]✓[/] {title}{detail} [dim]({elapsed:.2f} s)[/]")
        return result


@asynccontextmanager
async def _leader(
    leader_url: str | None, mqtt: str | None
) -> AsyncGenerator[tuple[str, str | None, bool]]:
    """Yield (leader URL, MQTT address, simulated?) — starting the simulator when needed."""
    if leader_url is not None:
        yield leader_url, mqtt, False
        return
    from tether.testing.pioreactor import Simulator

    async with Simulator(units=UNITS, time_scale=1800, od_interval=0.25) as sim:
        info = sim.info()
        yield info["URL"], info["MQTT"], True


async def _main(
    console: Console, leader_url: str | None, mqtt: str | None, stream_seconds: float
) -> bool:
    demo = Demo(console)
    started = time.perf_counter()
    async with _leader(leader_url, mqtt) as (url, mqtt_address, simulated):
        async with AsyncPioreactor(url, mqtt=mqtt_address) as client:
            where = "embedded simulator" if simulated else "leader"
            try:
                version = await client.version()
            except TetherError as exc:
                console.print(f"[red]✗ cannot reach the leader at {url}:[/] {exc}")
                return False
            console.print(f"[bold]tether demo[/] — Pioreactor {version} {where} at {url}\n")
            experiment = f"tether-demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
            # a failed step was already shown; the summary below reports it
            with contextlib.suppress(TetherError, StepFailed, TimeoutError):
                await _run_steps(demo, client, experiment, simulated, stream_seconds)
    ok = bool(demo.steps) and all(passed for _, passed, _ in demo.steps)
    total = time.perf_counter() - started
    passed = sum(1 for _, p, _ in demo.steps if p)
    colour = "green" if ok else "red"
    console.print(
        f"\n[bold {colour}]{passed}/{len(demo.steps)} steps succeeded[/] in {total:.1f} s;"
        f" {demo.readings} live OD readings received."
    )
    return ok


async def _run_steps(
    demo: Demo,
    client: AsyncPioreactor,
    experiment: str,
    simulated: bool,
    stream_seconds: float,
) -> None:
    async def create() -> str:
        created = await client.experiments.create(experiment, description="tether demo run")
        return created.experiment

    await demo.step("create an experiment", create)

    async def register() -> str:
        if simulated:
            units = list(UNITS)
            for unit in units:
                await client.workers.add(unit, model_name="pioreactor_40ml", model_version="1.5")
        else:
            units = [w.name for w in await client.workers.list() if w.is_active]
            if not units:
                raise StepFailed("the leader has no active workers to run the demo on")
        for unit in units:
            await client.experiments.assign(experiment, unit)
        assigned = sorted(a.pioreactor_unit for a in await client.experiments.workers(experiment))
        if assigned != sorted(units):
            raise StepFailed(f"assigned {assigned}, expected {sorted(units)}")
        return ", ".join(assigned)

    units = (await demo.step("register workers and assign them", register)).split(", ")

    async def start(job: str, options: dict[str, Any] | None = None) -> str:
        result = await client.jobs.run(job, experiment=experiment, options=options)
        result.raise_for_failures()
        return f"running on {', '.join(sorted(result))}"

    await demo.step("start stirring on $broadcast", lambda: start("stirring", {"target_rpm": 400}))
    await demo.step("start od_reading on $broadcast", lambda: start("od_reading"))
    await demo.step(
        f"stream live OD readings for {stream_seconds:g} s",
        lambda: _stream(demo, client, experiment, units, stream_seconds),
    )
    await demo.step(
        f"set target_rpm to {NEW_RPM:g} over MQTT and see it applied",
        lambda: _change_rpm(client, experiment, units),
    )

    async def running() -> str:
        jobs = (await client.jobs.running()).raise_for_failures()
        by_unit = {
            unit: sorted(j.job_name for j in rows if j.experiment == experiment)
            for unit, rows in jobs.values_by_unit().items()
        }
        missing = [u for u in units if by_unit.get(u) != ["od_reading", "stirring"]]
        if missing:
            raise StepFailed(f"expected stirring and od_reading on {missing}, got {by_unit}")
        return "; ".join(f"{u}: {', '.join(names)}" for u, names in sorted(by_unit.items()))

    await demo.step("list running jobs", running)
    await demo.step("stop everything", lambda: _stop(client, experiment, units))
    await demo.step(
        "export the OD readings", lambda: _export(client, experiment, download=simulated)
    )


async def _stream(
    demo: Demo, client: AsyncPioreactor, experiment: str, units: list[str], seconds: float
) -> str:
    latest: dict[str, ODReading] = {}
    progress = Progress(
        TextColumn("   streaming"), BarColumn(), TimeRemainingColumn(), transient=True
    )
    task = progress.add_task("stream", total=seconds)

    def table() -> Table:
        grid = Table(box=None, padding=(0, 2), show_header=True, header_style="dim")
        grid.add_column("unit")
        grid.add_column("OD", justify="right")
        grid.add_column("at")
        for unit in units:
            reading = latest.get(unit)
            grid.add_row(
                unit,
                f"{reading.od:.5f}" if reading else "—",
                f"{reading.timestamp:%H:%M:%S.%f}"[:-3] if reading else "",
            )
        return grid

    started = time.perf_counter()
    with Live(Group(progress, table()), console=demo.console, transient=True) as live:
        async with client.events.od_readings(experiment=experiment) as readings:
            try:
                async with asyncio.timeout(seconds):
                    async for reading in readings:
                        latest[reading.unit] = reading
                        demo.readings += 1
                        progress.update(task, completed=time.perf_counter() - started)
                        live.update(Group(progress, table()))
            except TimeoutError:
                pass
    silent = [u for u in units if u not in latest]
    if silent:
        raise StepFailed(f"no OD readings from {silent} in {seconds:g} s")
    return ", ".join(f"{u} OD {latest[u].od:.4f}" for u in units) + f" ({demo.readings} readings)"


async def _change_rpm(client: AsyncPioreactor, experiment: str, units: list[str]) -> str:
    applied: set[str] = set()
    async with client.events.settings(
        "stirring", setting="target_rpm", experiment=experiment
    ) as settings:
        await client.events.set("stirring", "target_rpm", NEW_RPM, experiment=experiment)
        async with asyncio.timeout(10):
            async for event in settings:
                if event.value == NEW_RPM and event.unit in units:
                    applied.add(event.unit)
                    if applied >= set(units):
                        break
    return f"{NEW_RPM:g} RPM on {', '.join(sorted(applied))}"


async def _stop(client: AsyncPioreactor, experiment: str, units: list[str]) -> str:
    async def stopped(unit: str, job: str) -> None:
        await client.events.wait_for_state(
            job, BackgroundJobState.DISCONNECTED, unit=unit, experiment=experiment, timeout=15
        )

    waits = [asyncio.create_task(stopped(u, j)) for u in units for j in ("stirring", "od_reading")]
    await asyncio.sleep(0.05)  # let the state streams subscribe before the stop goes out
    await client.jobs.stop_all(experiment=experiment)
    await asyncio.gather(*waits)
    return f"{len(waits)} jobs reported disconnected"


async def _export(client: AsyncPioreactor, experiment: str, *, download: bool) -> str:
    result = await client.datasets.export(
        ["od_readings"], experiment=experiment, partition_by_unit=True
    )
    if not result.result:
        raise StepFailed(f"the leader could not export: {result.msg}")
    if not download:  # a leader without lighttpd does not serve /exports/
        return result.filename
    with tempfile.TemporaryDirectory() as folder:
        saved = await client.datasets.download(result.filename, folder)
        with zipfile.ZipFile(saved) as archive:
            members = archive.namelist()
            rows = sum(
                max(0, archive.read(name).decode().count("\n") - 1)
                for name in members
                if name.endswith(".csv")
            )
    if rows == 0:
        raise StepFailed(f"{result.filename} holds no OD readings ({members})")
    return f"{result.filename}: {len(members)} CSV file(s), {rows} rows"


def run_demo(
    *, leader_url: str | None = None, mqtt: str | None = None, stream_seconds: float = 4.0
) -> bool:
    """Run the demo; ``True`` when every step succeeded."""
    console = Console()
    return asyncio.run(_main(console, leader_url, mqtt, stream_seconds))
