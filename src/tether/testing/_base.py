"""The contract every simulator follows, and how the CLI finds them."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Generator
from contextlib import contextmanager
from types import TracebackType
from typing import Self, TypeVar

from tether._core.blocking import LoopThread

PLATFORMS: tuple[str, ...] = ("pioreactor", "moderately", "abeja", "ratio1")
"""Platform names accepted by :func:`load_simulator` and ``tether simulate``."""


class SimulatorBase(ABC):
    """A simulator: start it, serve on loopback, stop it.

    Subclasses implement :meth:`start`, :meth:`stop` and :meth:`info`. Constructors take
    keyword-only ``host`` (default ``"127.0.0.1"``) and ``port`` (default ``0``: the kernel
    picks a free one) so the CLI can build any of them the same way.
    """

    @abstractmethod
    async def start(self) -> None:
        """Begin serving. Returns once the simulator accepts connections."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop serving and release every socket and task. Idempotent."""

    @abstractmethod
    def info(self) -> dict[str, str]:
        """Where to reach the simulator, as ``KEY: value`` (``URL``, ``MQTT`` = ``host:port``)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


S = TypeVar("S", bound=SimulatorBase)


@contextmanager
def running(simulator: S) -> Generator[S]:
    """Run *simulator* in a background thread with its own event loop, for sync code.

    Example::

        from tether.testing import running
        from tether.testing.abeja import Simulator

        with running(Simulator()) as sim:
            client = Abeja(api_url=sim.info()["URL"], ...)
    """
    thread = LoopThread(name=f"tether-sim-{type(simulator).__module__.rsplit('.', 1)[-1]}")
    try:
        thread.run(simulator.start)
        yield simulator
    finally:
        try:
            thread.run(simulator.stop)
        finally:
            thread.stop()


def load_simulator(platform: str) -> type[SimulatorBase]:
    """Return the ``Simulator`` class of *platform* (one of :data:`PLATFORMS`)."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}")
    module = importlib.import_module(f"tether.testing.{platform}")
    simulator: type[SimulatorBase] = module.Simulator
    return simulator
