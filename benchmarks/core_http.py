"""The core benchmark: one GET decoded into an attrs model, tether vs raw clients.

A small aiohttp server in its own process serves ``GET /items/{id}`` → a JSON object of ten
fields (ints, strings, a float, a bool, an ISO datetime, a nested list). In one run, against
the same server, with rotating order:

- ``raw aiohttp``: ``ClientSession.get`` + ``await resp.json()`` + the model built by hand;
- ``tether async``: a tiny platform client (``AsyncClientBase`` + an ``@endpoint`` resource
  whose return annotation is the model, decoded by the platform converter);
- ``tether blocking``: the ``ClientFacade`` twin of that client, called from this thread;
- ``requests``: ``requests.Session.get`` + ``.json()`` + the model by hand (skipped when
  requests is not installed).

Sequential calls for all; 64 concurrent workers for the async ones. Targets (issue "The tether
core"): async client ≤ 1.15× raw aiohttp, sequential and at concurrency 64; blocking facade
≤ 1.5× the raw async call.

Run ``python -m benchmarks core_http`` (``--quick`` for a smoke run). ``python -m
benchmarks.core_http --profile`` profiles the tether async sequential loop with cProfile.
"""

from __future__ import annotations

import asyncio
import cProfile
import importlib
import io
import pstats
import sys
from collections.abc import Callable, Generator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from functools import cached_property
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
from tether._core.blocking import ClientFacade, Facade
from tether._core.http import HTTPClient
from tether._core.models import make_converter
from tether._core.resource import AsyncClientBase, AsyncResource, endpoint

NAME = "core_http"
PACKAGES = ("requests",)

SERVER = "benchmarks.core_http:make_handler"
DISTINCT_ITEMS = 1000
CONCURRENCY = 64

ASYNC_TARGET = 1.15
BLOCKING_TARGET = 1.5

RAW = "raw aiohttp"
TETHER = "tether async"
BLOCKING = "tether blocking"
REQUESTS = "requests"


@attrs.define(frozen=True)
class Settings:
    """How many calls each phase makes."""

    sequential: int
    concurrent: int
    warmup: int
    repeats: int


# Many short rounds rather than a few long ones: with the order rotating each round, load
# from other processes lands on every contender alike and the paired ratios stay steady.
FULL = Settings(sequential=1000, concurrent=5000, warmup=300, repeats=11)
QUICK = Settings(sequential=40, concurrent=128, warmup=10, repeats=2)


# --- the server (runs in its own process) ------------------------------------------------------


def item_payload(item_id: int) -> dict[str, Any]:
    """The JSON object the server returns for one item (camelCase keys, as on most platforms)."""
    return {
        "id": item_id,
        "name": f"item-{item_id}",
        "sku": f"SKU-{item_id:06d}",
        "ownerId": 1000 + item_id % 17,
        "priceCents": 1999 + item_id,
        "quantity": item_id % 50,
        "weightKg": 0.25 + item_id / 1000,
        "active": item_id % 2 == 0,
        "createdAt": f"2026-11-30T10:{item_id % 60:02d}:{item_id * 7 % 60:02d}Z",
        "tags": ["alpha", "beta", f"group-{item_id % 7}"],
    }


def make_handler() -> Callable[[web.BaseRequest], Any]:
    """A low-level aiohttp handler for ``GET /items/{id}`` with the bodies encoded once.

    Low-level (no router, no middleware) and pre-encoded so the server spends as little CPU
    as possible per request: the benchmark measures the client.
    """
    import json

    bodies = {
        i: json.dumps(item_payload(i), separators=(",", ":")).encode()
        for i in range(DISTINCT_ITEMS)
    }
    prefix = "/items/"

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if request.method != "GET" or not path.startswith(prefix):
            return web.Response(status=404, text="not found")
        try:
            body = bodies[int(path[len(prefix) :])]
        except (KeyError, ValueError):
            return web.Response(status=404, text="no such item")
        return web.Response(body=body, content_type="application/json")

    return handle


# --- the model and the tether client -----------------------------------------------------------


@attrs.frozen
class Item:
    """One item, as the tether converter and the hand-written decoders build it."""

    id: int
    name: str
    sku: str
    owner_id: int
    price_cents: int
    quantity: int
    weight_kg: float
    active: bool
    created_at: datetime
    tags: list[str]


def item_by_hand(data: dict[str, Any]) -> Item:
    """What a careful hand-written client does: pick the fields, parse the datetime."""
    return Item(
        id=data["id"],
        name=data["name"],
        sku=data["sku"],
        owner_id=data["ownerId"],
        price_cents=data["priceCents"],
        quantity=data["quantity"],
        weight_kg=data["weightKg"],
        active=data["active"],
        created_at=datetime.fromisoformat(data["createdAt"]),
        tags=list(data["tags"]),
    )


class AsyncItems(AsyncResource):
    """The items resource of the benchmark platform."""

    _wire_naming = "camel"

    @endpoint("GET", "/items/{item_id}")
    async def retrieve(self, item_id: int) -> Item:  # type: ignore[empty-body]
        """Fetch one item."""


class AsyncShop(AsyncClientBase):
    """The benchmark platform's async client, declared as a real platform would be."""

    def __init__(self, base_url: str) -> None:
        self.http = HTTPClient(base_url)
        self.converter = make_converter("camel")

    @cached_property
    def items(self) -> AsyncItems:
        """Items."""
        return AsyncItems(self)


class Items(Facade[AsyncItems], mirrors=AsyncItems):
    """The items resource, blocking."""

    def retrieve(self, item_id: int) -> Item:
        """Fetch one item."""
        return self._run(self._wrapped.retrieve, item_id)


class Shop(ClientFacade[AsyncShop], mirrors=AsyncShop):
    """The benchmark platform's blocking client."""

    items: Items

    def __init__(self, base_url: str) -> None:
        super().__init__(AsyncShop(base_url))


# --- contenders ----------------------------------------------------------------------------


def _import_requests() -> Any:
    try:
        return importlib.import_module("requests")
    except ImportError:
        return None


@attrs.define
class _Clients:
    """Every client under test, opened against one server URL, closed together."""

    url: str
    runner: asyncio.Runner
    session: aiohttp.ClientSession | None = None
    shop: AsyncShop | None = None
    blocking: Shop | None = None
    requests_session: Any = None

    def open(self) -> None:
        async def make_session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession()

        self.session = self.runner.run(make_session())
        self.shop = AsyncShop(self.url)
        self.blocking = Shop(self.url)
        requests = _import_requests()
        if requests is not None:
            self.requests_session = requests.Session()

    def close(self) -> None:
        session, self.session = self.session, None
        shop, self.shop = self.shop, None
        if session is not None:
            self.runner.run(session.close())
        if shop is not None:
            self.runner.run(shop.aclose())
        blocking, self.blocking = self.blocking, None
        if blocking is not None:
            blocking.close()
        requests_session, self.requests_session = self.requests_session, None
        if requests_session is not None:
            requests_session.close()

    # one call of each kind

    async def raw_call(self, i: int) -> Item:
        assert self.session is not None
        async with self.session.get(f"{self.url}/items/{i % DISTINCT_ITEMS}") as resp:
            resp.raise_for_status()
            return item_by_hand(await resp.json())

    async def tether_call(self, i: int) -> Item:
        assert self.shop is not None
        return await self.shop.items.retrieve(i % DISTINCT_ITEMS)

    def blocking_call(self, i: int) -> Item:
        assert self.blocking is not None
        return self.blocking.items.retrieve(i % DISTINCT_ITEMS)

    def requests_call(self, i: int) -> Item:
        resp = self.requests_session.get(f"{self.url}/items/{i % DISTINCT_ITEMS}")
        resp.raise_for_status()
        return item_by_hand(resp.json())

    def check_same_answers(self) -> None:
        """Every contender must build the very same model (a fair comparison)."""
        expected = item_by_hand(item_payload(7))
        answers = {
            RAW: self.runner.run(self.raw_call(7)),
            TETHER: self.runner.run(self.tether_call(7)),
            BLOCKING: self.blocking_call(7),
        }
        if self.requests_session is not None:
            answers[REQUESTS] = self.requests_call(7)
        for name, answer in answers.items():
            if answer != expected:
                raise AssertionError(f"{name} decoded {answer!r}, expected {expected!r}")

    def async_contender(
        self, name: str, call: Callable[[int], Any], concurrency: int = 1
    ) -> Contender:
        def run(n: int) -> Trial:
            return self.runner.run(async_trial(call, n, concurrency=concurrency))

        return Contender(name, run)


@contextmanager
def open_clients(url: str) -> Generator[_Clients]:
    """All four clients against *url*; the async ones live on one event loop runner."""
    with asyncio.Runner() as runner:
        clients = _Clients(url, runner)
        try:
            clients.open()
            yield clients
        finally:
            clients.close()


# --- the benchmark -----------------------------------------------------------------------------


def _rows(
    scenario: str, trials: dict[str, list[Trial]], baseline: str
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    rows: list[dict[str, Any]] = []
    ratios: dict[str, float] = {}
    base = trials[baseline]
    fastest_base = min(t.wall_s / t.calls for t in base)
    for name, its_trials in trials.items():
        ratio = paired_ratio(its_trials, base)
        ratios[name] = ratio
        fastest = min(t.wall_s / t.calls for t in its_trials)
        cpu = paired_ratio(its_trials, base, cpu=True)
        row = summarize(its_trials).as_row()
        del row["repeats"]
        rows.append(
            {
                "scenario": scenario,
                "contender": name,
                **row,
                "x_raw": round(ratio, 3),
                "x_raw_best": round(fastest / fastest_base, 3),
                "x_raw_cpu": round(cpu, 3),
            }
        )
    return rows, ratios


def run(quick: bool) -> dict[str, Any]:
    """Run every contender against one server process; return rows, ratios and checks."""
    settings = QUICK if quick else FULL
    skipped: dict[str, str] = {}
    with ExitStack() as stack:
        server = stack.enter_context(ServerProcess(SERVER))
        clients = stack.enter_context(open_clients(server.url))
        clients.check_same_answers()

        sequential = [
            clients.async_contender(RAW, clients.raw_call),
            clients.async_contender(TETHER, clients.tether_call),
            Contender(BLOCKING, lambda n: sync_trial(clients.blocking_call, n)),
        ]
        if clients.requests_session is not None:
            sequential.append(Contender(REQUESTS, lambda n: sync_trial(clients.requests_call, n)))
        else:
            skipped[REQUESTS] = "requests is not installed"
        concurrent = [
            clients.async_contender(RAW, clients.raw_call, CONCURRENCY),
            clients.async_contender(TETHER, clients.tether_call, CONCURRENCY),
        ]
        seq_trials = compare(
            sequential,
            calls=settings.sequential,
            warmup=settings.warmup,
            repeats=settings.repeats,
            server=server,
        )
        conc_trials = compare(
            concurrent,
            calls=settings.concurrent,
            warmup=settings.warmup,
            repeats=settings.repeats,
            server=server,
        )

    seq_rows, seq_ratios = _rows("sequential", seq_trials, RAW)
    p50 = {row["contender"]: row["p50_us"] for row in seq_rows}
    conc_rows, conc_ratios = _rows(f"concurrency {CONCURRENCY}", conc_trials, RAW)
    checks = [
        {
            "name": "tether async / raw aiohttp, sequential",
            "value": round(seq_ratios[TETHER], 3),
            "op": "<=",
            "target": ASYNC_TARGET,
            "ok": seq_ratios[TETHER] <= ASYNC_TARGET,
        },
        {
            "name": f"tether async / raw aiohttp, concurrency {CONCURRENCY}",
            "value": round(conc_ratios[TETHER], 3),
            "op": "<=",
            "target": ASYNC_TARGET,
            "ok": conc_ratios[TETHER] <= ASYNC_TARGET,
        },
        {
            "name": "tether blocking / raw aiohttp call, sequential",
            "value": round(seq_ratios[BLOCKING], 3),
            "op": "<=",
            "target": BLOCKING_TARGET,
            "ok": seq_ratios[BLOCKING] <= BLOCKING_TARGET,
        },
    ]
    return {
        "config": {
            "sequential_calls": settings.sequential,
            "concurrent_calls": settings.concurrent,
            "concurrency": CONCURRENCY,
            "warmup_calls": settings.warmup,
            "repeats": settings.repeats,
            "distinct_items": DISTINCT_ITEMS,
            "server": "aiohttp low-level server, separate process, pre-encoded bodies",
            "x_raw": "median over rounds of (wall per call / raw aiohttp's in the same round)",
            "x_raw_best": "fastest trial / raw aiohttp's fastest trial (wall)",
            "x_raw_cpu": "like x_raw, with this process's CPU time instead of wall time",
        },
        "rows": seq_rows + conc_rows,
        "ratios": {
            "sequential": {k: round(v, 4) for k, v in seq_ratios.items()},
            f"concurrency_{CONCURRENCY}": {k: round(v, 4) for k, v in conc_ratios.items()},
        },
        "derived": {
            # what one blocking call costs on top of the same call awaited natively
            "blocking_hop_us_p50": round(p50[BLOCKING] - p50[TETHER], 1),
            "tether_overhead_us_p50": round(p50[TETHER] - p50[RAW], 1),
        },
        "checks": checks,
        "skipped": skipped,
    }


# --- profiling -------------------------------------------------------------------------------


def profile(calls: int = 5000, top: int = 30) -> str:
    """cProfile the tether async sequential loop; return the top functions by own time."""
    with ServerProcess(SERVER) as server, open_clients(server.url) as clients:
        clients.runner.run(async_trial(clients.tether_call, 200))  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        clients.runner.run(async_trial(clients.tether_call, calls))
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


if __name__ == "__main__":
    if "--profile" in sys.argv[1:]:
        print(profile())
    else:
        sys.exit("usage: python -m benchmarks.core_http --profile  (or: python -m benchmarks)")
