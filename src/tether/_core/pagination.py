"""Async pagers: awaitable for the first page, async-iterable for every item.

A platform describes how its pages work with a fetch function: given the cursor of a page
(``None`` for the first), return a :class:`Page` with its items and the cursor of the next page
(``None`` at the end). Page numbers, offsets and opaque tokens are all cursors.

Example::

    page = await client.runs.list(limit=50)     # the first page
    async for run in client.runs.list():        # every run, fetched lazily
        ...
    async for page in client.runs.list().iter_pages():
        ...
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from typing import Any, Generic, TypeVar

import attrs

from tether._core.blocking import Facade, iterate, loop_thread

__all__ = ["AsyncPager", "Page", "Pager"]

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    """One page of results.

    Attributes:
        items: the decoded items of this page.
        next_cursor: the cursor of the next page, ``None`` on the last page.
        raw: the page as the platform sent it (``page["items"]`` works on it).
    """

    items: list[T]
    next_cursor: Any = None
    raw: Mapping[str, Any] = attrs.field(factory=lambda: dict[str, Any]())

    @property
    def has_more(self) -> bool:
        """Whether another page follows."""
        return self.next_cursor is not None

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


FetchPage = Callable[[Any], Awaitable[Page[T]]]


class AsyncPager(Generic[T]):
    """Lazily walks a paginated listing. Awaiting it gives the first :class:`Page`.

    Args:
        fetch: returns the page for a cursor (``None`` for the first page).
        limit: stop after this many items in total (``None`` for all).
    """

    def __init__(self, fetch: FetchPage[T], *, limit: int | None = None) -> None:
        self._fetch = fetch
        self._limit = limit

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self._fetch(None).__await__()

    async def first_page(self) -> Page[T]:
        """The first page."""
        return await self._fetch(None)

    async def iter_pages(self) -> AsyncGenerator[Page[T]]:
        """Every page, in order, fetched as you go."""
        cursor: Any = None
        seen: set[str] = set()
        while True:
            page = await self._fetch(cursor)
            yield page
            if page.next_cursor is None or not page.items:
                return
            key = repr(page.next_cursor)
            if key in seen:  # a server that hands back the same cursor would loop forever
                return
            seen.add(key)
            cursor = page.next_cursor

    async def _items(self) -> AsyncGenerator[T]:
        count = 0
        async for page in self.iter_pages():
            for item in page.items:
                if self._limit is not None and count >= self._limit:
                    return
                yield item
                count += 1

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def to_list(self) -> list[T]:
        """Every item, in a list."""
        return [item async for item in self]


class Pager(Facade[AsyncPager[T]], mirrors=AsyncPager):
    """The blocking pager: iterate for every item, or ask for pages.

    Example::

        for run in client.runs.list():
            print(run.id)
        first = client.runs.list().first_page()
    """

    def first_page(self) -> Page[T]:
        """The first page."""
        return self._run(self._wrapped.first_page)

    def iter_pages(self) -> Iterator[Page[T]]:
        """Every page, in order, fetched as you go."""
        return iterate(self._wrapped.iter_pages())

    def __iter__(self) -> Iterator[T]:
        return iterate(aiter(self._wrapped))

    def to_list(self) -> list[T]:
        """Every item, in a list."""
        return self._run(self._wrapped.to_list)

    def __getitem__(self, key: str) -> Any:
        """Access the first page as the platform sent it (``pager["items"]``)."""
        return loop_thread().run(self._wrapped.first_page)[key]
