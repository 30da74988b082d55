"""The blocking facade: run the async implementation from synchronous code.

One process-wide event loop runs in a daemon thread, started on first use and shared by every
blocking client. A blocking call schedules the *same coroutine* the async API runs on that loop
and waits for it. Nothing is implemented twice.

Why not ``anyio.from_thread.BlockingPortal``: its ``call()`` waits on two futures; measured
here, a no-op hand-off costs ~64 µs through the portal and ~27 µs through this loop thread
(one ``call_soon_threadsafe`` plus one lock; ``run_coroutine_threadsafe`` is ~30 µs). It keeps
the guarantees that matter: one loop for all clients, exceptions and cancellation carried
across, no loop per call. See docs/design.md.

Blocking classes repeat each public signature with a one-line body
``return self._run(self._wrapped.method, ...)``; both type checkers verify each delegation
against the async signature, and a test compares every pair of signatures.

Guarantees:

- works while another event loop runs in the calling thread (Jupyter, pytest-asyncio, FastAPI
  handlers): the work always runs on the facade's own thread;
- calling from the facade's loop thread raises :class:`FacadeDeadlockError` instead of hanging;
- Ctrl-C while blocked cancels the underlying task, then raises ``KeyboardInterrupt``;
- after ``os.fork()`` the child starts a fresh loop thread on first use;
- at interpreter exit, clients still open are closed on the loop and the loop is shut down.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, ClassVar, Generic, ParamSpec, Protocol, Self, TypeVar, cast

from tether._core.errors import TetherError
from tether._core.http import NOT_GIVEN, NotGiven, RetryPolicy

__all__ = [
    "BlockingContextManager",
    "Facade",
    "FacadeDeadlockError",
    "LoopThread",
    "loop_thread",
    "register_twin",
    "to_blocking",
]

T = TypeVar("T")
A = TypeVar("A")
P = ParamSpec("P")

logger = logging.getLogger("tether.blocking")


class FacadeDeadlockError(TetherError, RuntimeError):
    """A blocking call was made from the facade's own event loop thread."""


class _Closable(Protocol):
    async def aclose(self) -> None: ...


class LoopThread:
    """An asyncio event loop running forever in one daemon thread."""

    def __init__(self, name: str = "tether-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        # Strong references: a blocking client dropped without close() is still closed at exit
        # (a weak set would let it be collected with its session open, warning "Unclosed").
        self._resources: set[Any] = set()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    @property
    def thread(self) -> threading.Thread:
        """The thread the loop runs in."""
        return self._thread

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self._finish()

    def _finish(self) -> None:
        loop = self.loop
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

    def track(self, resource: _Closable) -> None:
        """Close *resource* (``await resource.aclose()``) when the loop shuts down."""
        self._resources.add(resource)

    def untrack(self, resource: _Closable) -> None:
        """Forget a resource that was closed by its owner."""
        self._resources.discard(resource)

    def run(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``await fn(*args, **kwargs)`` on the loop and return its result here."""
        if threading.current_thread() is self._thread:
            raise FacadeDeadlockError(
                "a blocking tether call was made from tether's own event loop thread, where it"
                " would wait on itself forever; inside async code use the Async* client"
            )
        call = _Call()

        async def body() -> None:
            try:
                call.result = await fn(*args, **kwargs)
                call.ok = True
            except BaseException as exc:
                call.error = exc
                if not isinstance(exc, Exception):
                    raise  # cancellation: let the task end cancelled
            finally:
                call.done.release()  # wake the caller now, not one loop iteration later

        def start() -> None:
            call.task = self.loop.create_task(body())

        self.loop.call_soon_threadsafe(start)
        try:
            call.done.acquire()
        except BaseException:  # KeyboardInterrupt (or SystemExit) while waiting
            self.loop.call_soon_threadsafe(call.cancel)
            call.done.acquire(timeout=5.0)
            raise
        if call.ok:
            return cast(T, call.result)
        error = call.error
        assert error is not None
        raise error

    def stop(self, timeout: float = 5.0) -> None:
        """Close tracked resources, stop the loop and join the thread."""
        if not self._thread.is_alive():
            return
        resources = list(self._resources)
        if resources:
            future = asyncio.run_coroutine_threadsafe(_close_all(resources), self.loop)
            try:
                future.result(timeout)
            except Exception:  # exit path: never raise, never hang
                logger.debug("closing resources at exit failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)


class _Call:
    """One blocking call in flight: its task, its outcome and the lock its caller waits on."""

    __slots__ = ("done", "error", "ok", "result", "task")

    def __init__(self) -> None:
        self.done = threading.Lock()
        self.done.acquire()
        self.task: asyncio.Task[None] | None = None
        self.ok = False
        self.result: Any = None
        self.error: BaseException | None = None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _close_all(resources: list[Any]) -> None:
    await asyncio.gather(*(r.aclose() for r in resources), return_exceptions=True)


_lock = threading.Lock()
_current: LoopThread | None = None


def loop_thread() -> LoopThread:
    """The process-wide loop thread, started on first use."""
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            _current = LoopThread()
        return _current


def _after_fork_in_child() -> None:
    global _current, _lock
    _current = None  # the parent's thread does not exist here; start anew on first use
    _lock = threading.Lock()


def _at_exit() -> None:
    current = _current
    if current is not None:
        current.stop()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)


# --- results crossing the boundary -----------------------------------------------------------

_TWINS: dict[type, type[Facade[Any]]] = {}


def register_twin(async_type: type, blocking_type: type[Facade[Any]]) -> None:
    """Declare that instances of *async_type* cross into sync code as *blocking_type*."""
    _TWINS[async_type] = blocking_type


def _twin_for(value: object) -> type[Facade[Any]] | None:
    for klass in type(value).__mro__:
        twin = _TWINS.get(klass)
        if twin is not None:
            return twin
    return None


def to_blocking(value: Any) -> Any:
    """Convert a value returned by async code into its blocking counterpart.

    Instances of registered async types become their facades (resources, jobs, pagers); other
    values pass through unchanged.
    """
    twin = _twin_for(value)
    return value if twin is None else twin(value)


def iterate(source: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from sync code, one loop call per item.

    Breaking out of the ``for`` loop closes the async iterator (``aclose()``) on the loop.
    """
    runner = loop_thread()
    try:
        while True:
            try:
                item = runner.run(source.__anext__)
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                runner.run(aclose)


class BlockingContextManager(Generic[T]):
    """Use an async context manager with ``with``.

    Args:
        wrapped: the async context manager.
        convert: turns what ``__aenter__`` gives into what ``with`` gives (e.g. an async
            stream into an iterator with :func:`iterate`); default :func:`to_blocking`.
    """

    def __init__(self, wrapped: Any, convert: Callable[[Any], T] | None = None) -> None:
        self._wrapped = wrapped
        self._convert: Callable[[Any], Any] = convert if convert is not None else to_blocking

    def __enter__(self) -> T:
        value = loop_thread().run(self._wrapped.__aenter__)
        return cast(T, self._convert(value))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        result = loop_thread().run(self._wrapped.__aexit__, exc_type, exc, tb)
        return cast("bool | None", result)


# --- declaring blocking twins ----------------------------------------------------------------


class Facade(Generic[A]):
    """Base of every blocking twin.

    A subclass names the async class it mirrors and repeats each public method's signature and
    docstring with a one-line body that runs the async method on the shared loop. The type
    checkers verify every delegation against the async signature (``_run`` is ParamSpec-typed),
    and a test verifies the signatures are identical. Attributes annotated with another facade
    type (sub-resources) are wrapped on first access.

    Example::

        class Runs(Facade[AsyncRuns], mirrors=AsyncRuns):
            def retrieve(self, run_id: str) -> Run:
                \"\"\"Fetch one run.\"\"\"
                return self._run(self._wrapped.retrieve, run_id)
    """

    __mirrors__: ClassVar[type | None] = None
    _wrapped: A

    def __init_subclass__(cls, *, mirrors: type | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if mirrors is not None:
            cls.__mirrors__ = mirrors
            register_twin(mirrors, cls)

    def __init__(self, wrapped: A) -> None:
        self._wrapped = wrapped

    @staticmethod
    def _run(fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return loop_thread().run(fn, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        hints = _facade_hints(type(self))
        if name not in hints:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = to_blocking(getattr(self._wrapped, name))
        object.__setattr__(self, name, value)  # cache: the next access is a plain lookup
        return value

    def __repr__(self) -> str:
        return f"<blocking {self._wrapped!r}>"


_ATTRIBUTES: dict[type, frozenset[str]] = {}


def _facade_hints(cls: type) -> frozenset[str]:
    """Public attribute names annotated on a facade class (sub-resources, plain values).

    Only the names matter: the value is fetched from the async twin and converted by the twin
    registry, so annotations are never evaluated (they may name types imported only for type
    checking).
    """
    names = _ATTRIBUTES.get(cls)
    if names is None:
        found: set[str] = set()
        for klass in cls.__mro__:
            for name, annotation in vars(klass).get("__annotations__", {}).items():
                if not name.startswith("_") and "ClassVar" not in str(annotation):
                    found.add(name)
        names = frozenset(found)
        _ATTRIBUTES[cls] = names
    return names


class ClientFacade(Facade[A]):
    """A blocking client: owns its async twin, closes it on ``close()`` or at exit."""

    def __init__(self, wrapped: A) -> None:
        super().__init__(wrapped)
        loop_thread().track(cast(_Closable, wrapped))

    def with_options(
        self,
        *,
        timeout: float | None | NotGiven = NOT_GIVEN,
        deadline: float | None | NotGiven = NOT_GIVEN,
        retries: RetryPolicy | NotGiven = NOT_GIVEN,
        headers: Mapping[str, str] | None = None,
    ) -> Self:
        """A copy of this client with other request defaults, sharing its connection pool.

        Closing either closes the shared pool.

        Example::

            client.with_options(timeout=5).experiments.list()
        """
        wrapped: A = cast(Any, self._wrapped).with_options(
            timeout=timeout, deadline=deadline, retries=retries, headers=headers
        )
        clone = object.__new__(type(self))
        clone._wrapped = wrapped  # shares the pool: not tracked separately for exit
        return clone

    def close(self) -> None:
        """Close the client and its connections. Idempotent."""
        runner = loop_thread()
        runner.run(cast(_Closable, self._wrapped).aclose)
        runner.untrack(cast(_Closable, self._wrapped))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
