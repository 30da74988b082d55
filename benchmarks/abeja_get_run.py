"""ABEJA ``get_run``: sequential calls/s, the official SDK against tether's clients.

The ABEJA simulator (``tether.testing.abeja``) serves in its own process; one run exists. In
one process, against that server, with rotating order, each contender fetches that run over
and over, one call at a time:

- ``official abeja-sdk``: ``abeja.runs.APIClient.get_run`` (``requests``; a new session, so a
  new connection, for every call: that is how the SDK works);
- ``tether APIClient``: the blocking drop-in, same call, same dict;
- ``tether Abeja``: the typed blocking client, ``runs.retrieve`` → ``Run``;
- ``tether AsyncAbeja``: the typed async client, awaited on this thread's loop;
- ``tether AsyncAPIClient``: the async drop-in;
- ``raw aiohttp``: ``ClientSession.get`` + ``json()`` by hand, the floor.

Ratios are paired per round (``x_official``: wall time per call ÷ the official SDK's in the
same round; below 1 is faster) and ``speedup_vs_official`` is its inverse.

Run ``python -m benchmarks abeja_get_run`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import asyncio
import base64
import importlib
from collections.abc import Callable, Generator
from contextlib import ExitStack, contextmanager
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from benchmarks._harness import (
    Contender,
    ServerProcess,
    Trial,
    async_trial,
    compare,
    paired_ratio,
    summarize,
    sync_trial,
)
from tether.abeja import Abeja, APIClient, AsyncAbeja, AsyncAPIClient
from tether.testing.abeja import Simulator

NAME = "abeja_get_run"
PACKAGES = ("abeja-sdk", "requests")

SERVER = "benchmarks.abeja_get_run:make_app"

OFFICIAL = "official abeja-sdk"
DROPIN = "tether APIClient"
TYPED = "tether Abeja"
ASYNC = "tether AsyncAbeja"
ASYNC_DROPIN = "tether AsyncAPIClient"
RAW = "raw aiohttp"


@attrs.define(frozen=True)
class Settings:
    """How many calls each phase makes."""

    calls: int
    warmup: int
    repeats: int


FULL = Settings(calls=500, warmup=100, repeats=9)
QUICK = Settings(calls=20, warmup=5, repeats=2)


def make_app() -> web.Application:
    """The simulator's application, served by the harness in its own process.

    A manual clock (runs never move): every ``get_run`` answers the same body.
    """
    sim = Simulator(step_seconds=None, seed=1)
    return sim._build_app()


@attrs.define
class _Clients:
    """Every contender's client against one server URL, closed together."""

    url: str
    runner: asyncio.Runner
    sim: Simulator = attrs.field(factory=lambda: Simulator(step_seconds=None, seed=1))
    run_id: str = ""
    official: Any = None
    dropin: APIClient | None = None
    typed: Abeja | None = None
    typed_async: AsyncAbeja | None = None
    dropin_async: AsyncAPIClient | None = None
    session: aiohttp.ClientSession | None = None
    skipped: dict[str, str] = attrs.field(factory=dict[str, str])

    @property
    def org(self) -> str:
        return self.sim.organization_id

    @property
    def dep(self) -> str:
        return self.sim.deployment_id

    def open(self) -> None:
        credential = self.sim.credential
        self.dropin = APIClient(credential=dict(credential), base_url=self.url, timeout=10)
        self.typed = Abeja(
            base_url=self.url,
            organization_id=self.org,
            user_id=self.sim.user_id,
            personal_access_token=self.sim.personal_access_token,
            timeout=10,
        )
        self.typed_async = AsyncAbeja(
            base_url=self.url,
            organization_id=self.org,
            user_id=self.sim.user_id,
            personal_access_token=self.sim.personal_access_token,
            timeout=10,
        )
        self.dropin_async = AsyncAPIClient(credential=dict(credential), base_url=self.url)

        async def make_session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession()

        self.session = self.runner.run(make_session())
        self.run_id = self.dropin.create_run(self.org, self.dep, self.sim.version_id)["run_id"]
        try:
            connection = importlib.import_module("abeja.common.connection")
            runs = importlib.import_module("abeja.runs")
        except ImportError:
            self.skipped[OFFICIAL] = "abeja-sdk is not installed"
            return
        connection.Connection.BASE_URL = self.url  # reference §5, way B
        self.official = runs.APIClient(credential=dict(credential), timeout=10, max_retry_count=1)

    def close(self) -> None:
        typed, self.typed = self.typed, None
        if typed is not None:
            typed.close()
        for closing in (self.typed_async, self.dropin_async, self.session):
            if closing is not None:
                self.runner.run(_close(closing))
        self.typed_async = self.dropin_async = self.session = None

    # one call of each kind

    def official_call(self, _: int) -> Any:
        return self.official.get_run(self.org, self.dep, self.run_id)

    def dropin_call(self, _: int) -> Any:
        assert self.dropin is not None
        return self.dropin.get_run(self.org, self.dep, self.run_id)

    def typed_call(self, _: int) -> Any:
        assert self.typed is not None
        return self.typed.runs.retrieve(self.dep, self.run_id)

    async def async_call(self, _: int) -> Any:
        assert self.typed_async is not None
        return await self.typed_async.runs.retrieve(self.dep, self.run_id)

    async def async_dropin_call(self, _: int) -> Any:
        assert self.dropin_async is not None
        return await self.dropin_async.get_run(self.org, self.dep, self.run_id)

    async def raw_call(self, _: int) -> Any:
        assert self.session is not None
        basic = f"user-{self.sim.user_id}:{self.sim.personal_access_token}"
        auth = "Basic " + base64.b64encode(basic.encode()).decode()
        url = f"{self.url}/organizations/{self.org}/deployments/{self.dep}/runs/{self.run_id}"
        async with self.session.get(url, headers={"Authorization": auth}) as resp:
            resp.raise_for_status()
            return await resp.json()

    def check_same_answers(self) -> None:
        """Every contender must fetch the same run (a fair comparison)."""
        raw = self.runner.run(self.raw_call(0))
        assert self.typed_async is not None
        answers = {
            DROPIN: self.dropin_call(0),
            TYPED: self.typed_async.converter.unstructure(self.typed_call(0)),
            ASYNC: self.typed_async.converter.unstructure(self.runner.run(self.async_call(0))),
            ASYNC_DROPIN: self.runner.run(self.async_dropin_call(0)),
        }
        if self.official is not None:
            answers[OFFICIAL] = self.official_call(0)
        for name, answer in answers.items():
            if answer != raw:
                raise AssertionError(f"{name} returned {answer!r}, expected {raw!r}")

    def async_contender(self, name: str, call: Callable[[int], Any]) -> Contender:
        def run(n: int) -> Trial:
            return self.runner.run(async_trial(call, n, concurrency=1))

        return Contender(name, run)


async def _close(resource: Any) -> None:
    closing = getattr(resource, "aclose", None) or resource.close
    await closing()


@contextmanager
def open_clients(url: str) -> Generator[_Clients]:
    """Every client against *url*; the async ones live on one event loop runner."""
    with asyncio.Runner() as runner:
        clients = _Clients(url, runner)
        try:
            clients.open()
            yield clients
        finally:
            clients.close()


def _rows(trials: dict[str, list[Trial]]) -> tuple[list[dict[str, Any]], dict[str, float]]:
    rows: list[dict[str, Any]] = []
    versus_official: dict[str, float] = {}
    official = trials.get(OFFICIAL)
    raw = trials[RAW]
    for name, its_trials in trials.items():
        row = summarize(its_trials).as_row()
        del row["repeats"]
        entry: dict[str, Any] = {"scenario": "sequential get_run", "contender": name, **row}
        entry["x_raw"] = round(paired_ratio(its_trials, raw), 3)
        if official is not None:
            ratio = paired_ratio(its_trials, official)
            versus_official[name] = ratio
            entry["x_official"] = round(ratio, 3)
            entry["speedup_vs_official"] = round(1 / ratio, 2)
        rows.append(entry)
    return rows, versus_official


def run(quick: bool) -> dict[str, Any]:
    """Run every contender against one simulator process; return rows and ratios."""
    settings = QUICK if quick else FULL
    with ExitStack() as stack:
        server = stack.enter_context(ServerProcess(SERVER))
        clients = stack.enter_context(open_clients(server.url))
        clients.check_same_answers()
        contenders = [
            clients.async_contender(RAW, clients.raw_call),
            clients.async_contender(ASYNC, clients.async_call),
            clients.async_contender(ASYNC_DROPIN, clients.async_dropin_call),
            Contender(TYPED, lambda n: sync_trial(clients.typed_call, n)),
            Contender(DROPIN, lambda n: sync_trial(clients.dropin_call, n)),
        ]
        if clients.official is not None:
            contenders.append(Contender(OFFICIAL, lambda n: sync_trial(clients.official_call, n)))
        trials = compare(
            contenders,
            calls=settings.calls,
            warmup=settings.warmup,
            repeats=settings.repeats,
            server=server,
        )
        skipped = dict(clients.skipped)

    rows, versus_official = _rows(trials)
    calls_per_s = {row["contender"]: row["req_per_s"] for row in rows}
    derived: dict[str, Any] = {f"calls/s {name}": value for name, value in calls_per_s.items()}
    for name, ratio in versus_official.items():
        if name != OFFICIAL:
            derived[f"{name} speedup vs official"] = round(1 / ratio, 2)
    return {
        "config": {
            "calls": settings.calls,
            "warmup_calls": settings.warmup,
            "repeats": settings.repeats,
            "server": "tether.testing.abeja.Simulator, separate process, manual clock",
            "x_official": "median over rounds of (wall per call / the official SDK's, same round)",
            "x_raw": "median over rounds of (wall per call / raw aiohttp's, same round)",
        },
        "rows": rows,
        "ratios": {
            "vs_official": {k: round(v, 4) for k, v in versus_official.items()},
        },
        "derived": derived,
        "skipped": skipped,
    }
