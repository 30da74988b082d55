"""Endpoint declarations, decoding, pagination and blocking twins on a toy platform."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from functools import cached_property
from typing import Any

import attrs
import pytest

from tether import AsyncPager, Page, Pager, ResponseDecodeError, RetryPolicy, ValidationError
from tether._core.blocking import ClientFacade, Facade, FacadeDeadlockError, loop_thread
from tether._core.http import HTTPClient
from tether._core.models import OpenEnum, make_converter
from tether._core.resource import AsyncClientBase, AsyncResource, endpoint, path


class Colour(OpenEnum):
    RED = "red"


@attrs.frozen
class Echo:
    path: str
    match: str | None
    query: dict[str, str]
    json: dict[str, Any] | None


@attrs.frozen
class Item:
    id: int
    name: str


@attrs.frozen
class Stamp:
    created_at: datetime
    colour: Colour


def _no_blank_names(arguments: dict[str, Any]) -> None:
    if not str(arguments.get("label", "x")).strip():
        raise ValidationError("label must not be blank")


class AsyncThings(AsyncResource):
    _wire_naming = "camel"

    @endpoint("GET", "/echo/{name}")
    async def retrieve(self, name: str, page_size: int | None = None) -> Echo:
        """Fetch a thing."""
        ...

    @endpoint("POST", "/echo/{name}", query=("dry_run",), validate=_no_blank_names)
    async def create(self, name: str, label: str, dry_run: bool = False) -> Echo:
        """Create a thing."""
        ...

    @endpoint("GET", "/not-json")
    async def broken(self) -> Echo:
        """An endpoint whose server answers HTML."""
        ...

    @endpoint("GET", "/echo/{name}")
    async def wrong_shape(self, name: str) -> Item:
        """Decodes into the wrong model."""
        ...

    @endpoint("DELETE", "/echo/{name}")
    async def delete(self, name: str) -> None:
        """Delete a thing."""
        ...

    def list(self, *, limit: int | None = None) -> AsyncPager[Item]:
        """Every item, page by page."""

        async def fetch(cursor: Any) -> Page[Item]:
            response = await self._request("GET", "/pages", params={"page": cursor or 1})
            data = response.json()
            items = self._decode(data["items"], list[Item], response=response)
            return Page(items, data["page"] + 1 if data["has_more"] else None, data)

        return AsyncPager(fetch, limit=limit)


class AsyncToy(AsyncClientBase):
    def __init__(self, base_url: str) -> None:
        self.http = HTTPClient(base_url, retries=RetryPolicy(max_retries=0))
        self.converter = make_converter("camel")

    @cached_property
    def things(self) -> AsyncThings:
        return AsyncThings(self)


class Things(Facade[AsyncThings], mirrors=AsyncThings):
    def retrieve(self, name: str, page_size: int | None = None) -> Echo:
        """Fetch a thing."""
        return self._run(self._wrapped.retrieve, name, page_size)

    def list(self, *, limit: int | None = None) -> Pager[Item]:
        """Every item, page by page."""
        return Pager(self._wrapped.list(limit=limit))


class Toy(ClientFacade[AsyncToy], mirrors=AsyncToy):
    things: Things

    def __init__(self, base_url: str) -> None:
        super().__init__(AsyncToy(base_url))


async def test_path_params_are_one_encoded_segment(server: str) -> None:
    async with AsyncToy(server) as toy:
        echo = await toy.things.retrieve("$broadcast", page_size=5)
        assert echo.path == "/echo/%24broadcast?pageSize=5"
        assert echo.match == "$broadcast"
        slashed = await toy.things.retrieve("a b/c")
        assert slashed.path.startswith("/echo/a%20b%2Fc")


def test_path_helper_refuses_empty_values() -> None:
    with pytest.raises(ValidationError):
        path("/x/{name}", name="")
    assert path("/u/{unit}/j/{job}", unit="$broadcast", job="od reading") == (
        "/u/%24broadcast/j/od%20reading"
    )


async def test_body_query_split_and_camel_case(server: str, behaviour: Any) -> None:
    async with AsyncToy(server) as toy:
        echo = await toy.things.create("n", label="hello", dry_run=True)
        assert echo.json == {"label": "hello"}
        assert echo.query == {"dryRun": "true"}


async def test_validation_runs_before_any_request(server: str, behaviour: Any) -> None:
    async with AsyncToy(server) as toy:
        with pytest.raises(ValidationError):
            await toy.things.create("n", label="  ")
        assert behaviour.requests == []


async def test_decode_errors_are_typed(server: str) -> None:
    async with AsyncToy(server) as toy:
        with pytest.raises(ResponseDecodeError) as info:
            await toy.things.broken()
        assert info.value.status == 200
        with pytest.raises(ResponseDecodeError) as info2:
            await toy.things.wrong_shape("x")
        assert "Item" in str(info2.value)


async def test_none_return_ignores_body(server: str) -> None:
    async with AsyncToy(server) as toy:
        assert await toy.things.delete("x") is None


def test_converter_datetimes_unknown_fields_and_open_enums() -> None:
    converter = make_converter("camel")
    stamp = converter.structure(
        {"createdAt": "2026-11-30T10:00:00Z", "colour": "ultraviolet", "newField": 1}, Stamp
    )
    assert stamp.created_at.tzinfo is not None
    assert stamp.created_at.utcoffset() is not None
    assert stamp.colour == "ultraviolet"
    assert not stamp.colour.known
    assert Colour("red") is Colour.RED and Colour.RED.known
    assert converter.unstructure(stamp)["colour"] == "ultraviolet"


async def test_pager_awaits_first_page_and_iterates_all(server: str, behaviour: Any) -> None:
    async with AsyncToy(server) as toy:
        first = await toy.things.list()
        assert [i.id for i in first] == [0, 1, 2]
        assert first["page"] == 1 and first.has_more
        assert len(behaviour.requests) == 1
        ids = [item.id async for item in toy.things.list()]
        assert ids == list(range(8))
        limited = [item.id async for item in toy.things.list(limit=4)]
        assert limited == [0, 1, 2, 3]
        pages = [len(p) async for p in toy.things.list().iter_pages()]
        assert pages == [3, 3, 2]


def test_blocking_twin_runs_the_same_code(sync_server: str) -> None:
    with Toy(sync_server) as toy:
        echo = toy.things.retrieve("$broadcast")
        assert echo.match == "$broadcast"
        assert [i.id for i in toy.things.list()] == list(range(8))
        assert toy.things.list().first_page().items[0].name == "item-0"
        assert toy.things.list()["page"] == 1
        assert toy.things.list().to_list()[-1].id == 7


def test_blocking_iterator_early_break_closes_it(sync_server: str, behaviour: Any) -> None:
    with Toy(sync_server) as toy:
        for item in toy.things.list():
            if item.id == 1:
                break
        assert len(behaviour.requests) == 1  # never fetched a second page


async def test_blocking_client_works_inside_a_running_loop(sync_server: str) -> None:
    # pytest-asyncio runs this test in a loop: the facade must still work (own loop thread)
    with Toy(sync_server) as toy:
        assert toy.things.retrieve("x").match == "x"
    await asyncio.sleep(0)


def test_blocking_client_inside_asyncio_run(sync_server: str) -> None:
    async def main() -> str | None:
        with Toy(sync_server) as toy:
            return toy.things.retrieve("inside").match

    assert asyncio.run(main()) == "inside"


def test_facade_call_from_its_loop_thread_raises(sync_server: str) -> None:
    toy = Toy(sync_server)
    try:

        async def on_loop() -> None:
            toy.things.retrieve("x")

        with pytest.raises(FacadeDeadlockError):
            loop_thread().run(on_loop)
    finally:
        toy.close()


def test_with_options_returns_a_blocking_twin(sync_server: str) -> None:
    with Toy(sync_server) as toy:
        patient = toy._wrapped.with_options(timeout=3)
        assert patient.http.transport is toy._wrapped.http.transport
        assert patient.http.timeout == 3
        assert patient.things is not toy._wrapped.things


def test_one_loop_thread_for_all_clients(sync_server: str) -> None:
    before = {t.name for t in threading.enumerate()}
    with Toy(sync_server) as a, Toy(sync_server) as b:
        a.things.retrieve("1")
        b.things.retrieve("2")
    after = [t for t in threading.enumerate() if t.name == "tether-loop"]
    assert len(after) == 1
    assert "tether-loop" in before | {t.name for t in after}
