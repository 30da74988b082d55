"""The leader itself: health, version, units, models, clock."""

from __future__ import annotations

from typing import Any

from tether._core.blocking import Facade
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether._core.models import json_object
from tether._core.resource import path
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import BROADCAST, check_unit_ref
from tether.pioreactor.models import FanOut, Health, ModelInfo

__all__ = ["AsyncSystem", "System"]


class AsyncSystem(PioreactorResource):
    """The leader's own state.

    Example::

        health = await client.system.health()
        print(health.status, await client.version())
    """

    async def health(self) -> Health:
        """Liveness of the leader (``GET /unit_api/health``)."""
        response = await self._request("GET", "/unit_api/health")
        return self._decode(response.json(), Health, response=response)

    async def units(self) -> list[str]:
        """Every unit the leader knows, workers and leader included."""
        response = await self._request("GET", "/api/units")
        rows = self._decode(response.json(), list[dict[str, Any]], response=response)
        return [str(row["pioreactor_unit"]) for row in rows if "pioreactor_unit" in row]

    async def models(self) -> list[ModelInfo]:
        """The hardware models the leader supports."""
        response = await self._request("GET", "/api/models")
        data = response.json()
        envelope = json_object(data)
        rows = envelope.get("models", []) if envelope is not None else data
        return self._decode(rows, list[ModelInfo], response=response)

    async def local_access_point(self) -> bool:
        """Whether the leader runs its local Wi-Fi access point."""
        contract = await self._contract()
        url = (
            "/api/is_local_access_point_active"
            if contract.contrib_routes
            else "/api/local_access_point"
        )
        response = await self._request("GET", url)
        data = response.json()
        fields = json_object(data)
        if fields is None:
            return bool(data)
        # 26.x answers {"active": …}; older leaders {"result": …}
        return bool(fields.get("active", fields.get("result", False)))

    @JobMethod
    async def utc_clock(self, unit: str = BROADCAST) -> Job[FanOut[dict[str, Any]]]:
        """Each unit's clock (``{"clock_time": …, "synchronized": …}``)."""
        check_unit_ref(unit)
        return await self._task(
            "GET",
            path("/api/units/{u}/system/utc_clock", u=unit),
            decoder="fanout:dict",
            describe=f"clock of {unit}",
        )


class System(Facade[AsyncSystem], mirrors=AsyncSystem):
    """Blocking twin of :class:`AsyncSystem`."""

    utc_clock = BlockingJobMethod(AsyncSystem.utc_clock)

    def health(self) -> Health:
        """Liveness of the leader (``GET /unit_api/health``)."""
        return self._run(self._wrapped.health)

    def units(self) -> list[str]:
        """Every unit the leader knows, workers and leader included."""
        return self._run(self._wrapped.units)

    def models(self) -> list[ModelInfo]:
        """The hardware models the leader supports."""
        return self._run(self._wrapped.models)

    def local_access_point(self) -> bool:
        """Whether the leader runs its local Wi-Fi access point."""
        return self._run(self._wrapped.local_access_point)
