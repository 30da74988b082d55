"""Estimators on units (leaders ≥ 26.2.3): they mirror calibrations, without creation.

Estimators (for example the OD fusion model) are YAML files per device, with one active per
device, like calibrations. Every call is a leader task with a per-unit result.
"""

from __future__ import annotations

import builtins
from typing import Any

from tether._core.blocking import Facade
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether.pioreactor._resources.calibrations import Records, _DeviceFiles
from tether.pioreactor._validation import BROADCAST
from tether.pioreactor.models import FanOut

__all__ = ["AsyncEstimators", "Estimators"]


class AsyncEstimators(_DeviceFiles):
    """Estimators on workers (``unit="$broadcast"``: every worker); leaders ≥ 26.2.3.

    Example::

        active = await client.estimators.active("pio1")
        print(active["pio1"].value)             # {"od_fused": {...}}
    """

    _plural = "estimators"
    _active = "active_estimators"
    _feature = ("estimators", "26.2.3")

    @JobMethod
    async def list(self, unit: str = BROADCAST) -> Job[FanOut[Records]]:
        """Every estimator of every device, per unit (``{"od_fused": [{…}]}``; ``{}``: none)."""
        return await self._list(unit)

    @JobMethod
    async def for_device(
        self, device: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[builtins.list[dict[str, Any]]]]:
        """The estimators of *device*, per unit."""
        return await self._for_device(device, unit)

    @JobMethod
    async def retrieve(
        self, device: str, name: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """One estimator, per unit (a unit without it fails with ``http_error`` 404)."""
        return await self._retrieve(device, name, unit)

    @JobMethod
    async def delete(
        self, device: str, name: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """Delete one estimator."""
        return await self._delete(device, name, unit)

    @JobMethod
    async def active(self, unit: str = BROADCAST) -> Job[FanOut[dict[str, dict[str, Any]]]]:
        """The active estimator of each device, per unit."""
        return await self._active_map(unit)

    @JobMethod
    async def set_active(
        self, device: str, name: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """Make estimator *name* the active one of *device*."""
        return await self._set_active(device, name, unit)

    @JobMethod
    async def clear_active(
        self, device: str, *, unit: str = BROADCAST
    ) -> Job[FanOut[dict[str, Any]]]:
        """Leave *device* without an active estimator."""
        return await self._clear_active(device, unit)


class Estimators(Facade[AsyncEstimators], mirrors=AsyncEstimators):
    """Blocking twin of :class:`AsyncEstimators`."""

    list = BlockingJobMethod(AsyncEstimators.list)
    for_device = BlockingJobMethod(AsyncEstimators.for_device)
    retrieve = BlockingJobMethod(AsyncEstimators.retrieve)
    delete = BlockingJobMethod(AsyncEstimators.delete)
    active = BlockingJobMethod(AsyncEstimators.active)
    set_active = BlockingJobMethod(AsyncEstimators.set_active)
    clear_active = BlockingJobMethod(AsyncEstimators.clear_active)
