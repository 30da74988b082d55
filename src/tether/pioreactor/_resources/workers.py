"""The leader's inventory of workers."""

from __future__ import annotations

import builtins
from typing import Any

from tether._core.blocking import Facade
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether._core.resource import path
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import BROADCAST, check_unit_ref, check_worker_name
from tether.pioreactor.models import FanOut, Worker, WorkerAssignment

__all__ = ["AsyncWorkers", "Workers"]


class AsyncWorkers(PioreactorResource):
    """Workers: the units the leader manages.

    Example::

        await client.workers.add("pio2", model_name="pioreactor_40ml", model_version="1.5")
        for worker in await client.workers.list():
            print(worker.name, worker.is_active)
    """

    async def list(self) -> builtins.list[Worker]:
        """Every worker in the inventory."""
        response = await self._request("GET", "/api/workers")
        return self._decode(response.json(), builtins.list[Worker], response=response)

    async def retrieve(self, unit: str) -> Worker:
        """One worker (:class:`~tether.NotFoundError` when it is not in the inventory)."""
        check_worker_name(unit)
        response = await self._request("GET", path("/api/workers/{u}", u=unit))
        return self._decode(response.json(), Worker, response=response)

    async def add(
        self, unit: str, *, model_name: str | None = None, model_version: str | None = None
    ) -> bool:
        """Add *unit* to the inventory; ``True`` when it is new, ``False`` when it was there.

        Names are hostnames: ``localhost``, IP addresses and ``.local`` suffixes are refused
        before any request.
        """
        check_worker_name(unit)
        body: dict[str, Any] = {"pioreactor_unit": unit}
        if model_name is not None:
            body["model_name"] = model_name
        if model_version is not None:
            body["model_version"] = model_version
        response = await self._request("PUT", "/api/workers", json=body)
        return response.status == 201

    async def remove(self, unit: str) -> None:
        """Remove *unit* from the inventory (the leader stops its jobs if it is the leader)."""
        check_worker_name(unit)
        await self._request("DELETE", path("/api/workers/{u}", u=unit))

    async def experiment(self, unit: str) -> WorkerAssignment:
        """The experiment *unit* is assigned to (``experiment`` is ``None`` when unassigned)."""
        check_worker_name(unit)
        response = await self._request("GET", path("/api/workers/{u}/experiment", u=unit))
        return self._decode(response.json(), WorkerAssignment, response=response)

    async def assignments(self) -> builtins.list[WorkerAssignment]:
        """Every worker with its current experiment."""
        response = await self._request("GET", "/api/workers/assignments")
        return self._decode(response.json(), builtins.list[WorkerAssignment], response=response)

    async def set_active(self, unit: str, active: bool) -> None:
        """Mark *unit* active or inactive (inactive workers do not run broadcast jobs)."""
        check_worker_name(unit)
        await self._request(
            "PUT", path("/api/workers/{u}/is_active", u=unit), json={"is_active": int(active)}
        )

    async def blink(self, unit: str) -> None:
        """Blink the unit's LED, to find it on the bench."""
        check_worker_name(unit)
        await self._request("POST", path("/api/workers/{u}/blink", u=unit))

    @JobMethod
    async def capabilities(self, unit: str = BROADCAST) -> Job[FanOut[builtins.list[Any]]]:
        """The jobs each unit can run, with their options and published settings."""
        check_unit_ref(unit)
        return await self._task(
            "GET",
            path("/api/units/{u}/capabilities", u=unit),
            decoder="fanout:list",
            describe=f"capabilities of {unit}",
        )

    @JobMethod
    async def versions(self, unit: str = BROADCAST) -> Job[FanOut[dict[str, Any]]]:
        """The software version of each unit (``{"version": "26.11.1"}``)."""
        check_unit_ref(unit)
        return await self._task(
            "GET",
            path("/api/units/{u}/versions/app", u=unit),
            decoder="fanout:dict",
            describe=f"versions of {unit}",
        )


class Workers(Facade[AsyncWorkers], mirrors=AsyncWorkers):
    """Blocking twin of :class:`AsyncWorkers`."""

    capabilities = BlockingJobMethod(AsyncWorkers.capabilities)
    versions = BlockingJobMethod(AsyncWorkers.versions)

    def list(self) -> builtins.list[Worker]:
        """Every worker in the inventory."""
        return self._run(self._wrapped.list)

    def retrieve(self, unit: str) -> Worker:
        """One worker (:class:`~tether.NotFoundError` when it is not in the inventory)."""
        return self._run(self._wrapped.retrieve, unit)

    def add(
        self, unit: str, *, model_name: str | None = None, model_version: str | None = None
    ) -> bool:
        """Add *unit* to the inventory; ``True`` when it is new, ``False`` when it was there."""
        return self._run(
            self._wrapped.add, unit, model_name=model_name, model_version=model_version
        )

    def remove(self, unit: str) -> None:
        """Remove *unit* from the inventory (the leader stops its jobs if it is the leader)."""
        return self._run(self._wrapped.remove, unit)

    def experiment(self, unit: str) -> WorkerAssignment:
        """The experiment *unit* is assigned to (``experiment`` is ``None`` when unassigned)."""
        return self._run(self._wrapped.experiment, unit)

    def assignments(self) -> builtins.list[WorkerAssignment]:
        """Every worker with its current experiment."""
        return self._run(self._wrapped.assignments)

    def set_active(self, unit: str, active: bool) -> None:
        """Mark *unit* active or inactive (inactive workers do not run broadcast jobs)."""
        return self._run(self._wrapped.set_active, unit, active)

    def blink(self, unit: str) -> None:
        """Blink the unit's LED, to find it on the bench."""
        return self._run(self._wrapped.blink, unit)
