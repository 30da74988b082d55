"""Typed live streams of what a session receives (payloads, notifications, heartbeats).

A stream is registered with the session when entered and removed when left. Each has its own
bounded queue: when the consumer falls behind, the oldest items are dropped and counted in
:attr:`EventStream.dropped` (a warning is logged when a burst starts). Iteration ends when the
stream is left or the session is closed, after the items already queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from tether._core.errors import ValidationError

if TYPE_CHECKING:
    from tether.ratio1._session import AsyncSession

__all__ = ["EventStream", "StreamRegistry"]

T = TypeVar("T")
logger = logging.getLogger("tether.ratio1")


class StreamRegistry(Generic[T]):
    """The open streams of one kind; the session offers every item to each."""

    __slots__ = ("streams",)

    def __init__(self) -> None:
        self.streams: list[EventStream[T]] = []

    def offer(self, item: T) -> None:
        """Queue *item* in every stream whose filter accepts it."""
        for stream in self.streams:
            stream._offer(item)

    def close_all(self) -> None:
        """End every stream (the session is closing)."""
        for stream in list(self.streams):
            stream._end()
        self.streams.clear()


class EventStream(Generic[T]):
    """A live, typed stream: ``async with`` it to subscribe, ``async for`` to read.

    Example::

        async with session.payloads(pipeline="my_pipe") as payloads:
            async for payload in payloads:
                print(payload.instance, payload["ITER"])

    Attributes:
        maxsize: the bound of the queue.
        received: items accepted.
        dropped: items dropped because the queue was full (oldest first).
    """

    def __init__(
        self,
        session: AsyncSession,
        registry: StreamRegistry[T],
        accept: Callable[[T], bool],
        *,
        maxsize: int = 1000,
        describe: str = "stream",
    ) -> None:
        if maxsize < 1:
            raise ValidationError(f"maxsize must be at least 1, not {maxsize!r}")
        self._session = session
        self._registry = registry
        self._accept = accept
        self.maxsize = maxsize
        self.describe = describe
        self._queue: deque[T] = deque()
        self._getter: asyncio.Future[None] | None = None
        self._state = "new"
        self._in_burst = False
        self.received = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return (
            f"<EventStream {self.describe} {self._state} queued={len(self._queue)} "
            f"dropped={self.dropped}>"
        )

    @property
    def pending(self) -> int:
        """Items queued and not yet read."""
        return len(self._queue)

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("a stream can only be entered once")
        self._session._check_open()
        self._state = "open"
        self._registry.streams.append(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop receiving (idempotent); queued items can still be read."""
        if self in self._registry.streams:
            self._registry.streams.remove(self)
        self._end()

    def _end(self) -> None:
        if self._state != "closed":
            self._session._stream_drops += self.dropped
        self._state = "closed"
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    def _offer(self, item: T) -> None:
        if self._state != "open" or not self._accept(item):
            return
        queue = self._queue
        if len(queue) >= self.maxsize:
            queue.popleft()
            self.dropped += 1
            if not self._in_burst:
                self._in_burst = True
                logger.warning(
                    "%s is full (maxsize=%d): dropping its oldest items (%d dropped so far)",
                    self.describe,
                    self.maxsize,
                    self.dropped,
                )
        queue.append(item)
        self.received += 1
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        queue = self._queue
        while True:
            if queue:
                if len(queue) == 1:
                    self._in_burst = False
                return queue.popleft()
            if self._state == "closed":
                raise StopAsyncIteration
            if self._state == "new":
                raise RuntimeError("enter the stream first: `async with session.payloads() as s:`")
            getter = asyncio.get_running_loop().create_future()
            self._getter = getter
            try:
                await getter
            finally:
                self._getter = None
