"""In-process simulators of every platform tether speaks to.

Each platform has a module here (``tether.testing.pioreactor``, ``.moderately``, ``.abeja``,
``.ratio1``) exposing a ``Simulator`` class that follows :class:`SimulatorBase`: an async
context manager that serves on loopback and tells where to reach it. ``tether simulate
PLATFORM`` runs one in the foreground.

Example::

    from tether.testing.abeja import Simulator

    async with Simulator() as sim:
        print(sim.url)
"""

from tether.testing._base import PLATFORMS, SimulatorBase, load_simulator, running

__all__ = ["PLATFORMS", "SimulatorBase", "load_simulator", "running"]
