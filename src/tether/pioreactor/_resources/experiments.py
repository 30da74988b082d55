"""Experiments: create, list, update, delete; their workers, unit labels and chart settings."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether._core.resource import path
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import (
    check_experiment_name,
    check_experiment_ref,
    check_unit_ref,
    check_worker_name,
)
from tether.pioreactor.models import Experiment, FanOut, WorkerAssignment

__all__ = ["AsyncExperiments", "Experiments"]


class AsyncExperiments(PioreactorResource):
    """Experiments on the leader.

    Example::

        exp = await client.experiments.create("demo", description="first run")
        await client.experiments.assign("demo", "pio1")
        print(await client.experiments.workers("demo"))
    """

    async def list(self) -> builtins.list[Experiment]:
        """Every experiment, newest first."""
        response = await self._request("GET", "/api/experiments")
        return self._decode(response.json(), builtins.list[Experiment], response=response)

    async def retrieve(self, experiment: str) -> Experiment:
        """One experiment by name (:class:`~tether.NotFoundError` when unknown)."""
        check_experiment_ref(experiment)
        response = await self._request("GET", path("/api/experiments/{e}", e=experiment))
        return self._decode(response.json(), Experiment, response=response)

    async def latest(self) -> Experiment:
        """The most recently created experiment."""
        response = await self._request("GET", "/api/experiments/latest")
        return self._decode(response.json(), Experiment, response=response)

    async def active(self) -> builtins.list[Experiment]:
        """Experiments that have at least one active worker assigned."""
        response = await self._request("GET", "/api/experiments/active")
        return self._decode(response.json(), builtins.list[Experiment], response=response)

    async def assignment_count(self) -> builtins.list[dict[str, Any]]:
        """How many workers each experiment has (``[{"experiment": …, "worker_count": …}]``)."""
        response = await self._request("GET", "/api/experiments/assignment_count")
        return self._decode(response.json(), builtins.list[dict[str, Any]], response=response)

    async def create(
        self,
        experiment: str,
        *,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        media_used: str | None = None,
        organism_used: str | None = None,
    ) -> Experiment:
        """Create an experiment and return it.

        Args:
            experiment: the name: no ``# $ % + / ? \\``, not ``current``, under 200 characters.
            description: free text.
            tags: labels (leaders ≥ 26.3).
            media_used: only on leaders older than 26.6.0, which dropped them.
            organism_used: only on leaders older than 26.6.0, which dropped them.

        Raises:
            ValidationError: a bad name, before any request.
            ConflictError: an experiment of that name exists.
        """
        check_experiment_name(experiment)
        contract = await self._contract()
        body: dict[str, Any] = {"experiment": experiment}
        if description is not None:
            body["description"] = description
        if tags:
            body["tags"] = [str(t) for t in tags]
        if media_used is not None or organism_used is not None:
            contract.require(contract.media_fields, "media_used/organism_used")
            if media_used is not None:
                body["mediaUsed"] = media_used
            if organism_used is not None:
                body["organismUsed"] = organism_used
        response = await self._request("POST", "/api/experiments", json=body)
        data = response.json()
        if isinstance(data, dict) and "experiment" in data:
            return self._decode(data, Experiment, response=response)
        return await self.retrieve(experiment)  # older leaders answer {"status": "success"}

    async def update(
        self,
        experiment: str,
        *,
        description: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> Experiment:
        """Change an experiment's description or tags and return it."""
        check_experiment_ref(experiment)
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = [str(t) for t in tags]
        if not body:
            raise ValidationError("give a description or tags to update")
        response = await self._request(
            "PATCH", path("/api/experiments/{e}", e=experiment), json=body
        )
        data = response.json()
        if isinstance(data, dict) and "experiment" in data:
            return self._decode(data, Experiment, response=response)
        return await self.retrieve(experiment)

    @JobMethod
    async def delete(self, experiment: str) -> Job[dict[str, Any]]:
        """Delete an experiment and its data; the result describes what was removed."""
        check_experiment_ref(experiment)
        return await self._task(
            "DELETE",
            path("/api/experiments/{e}", e=experiment),
            decoder="raw",
            describe=f"delete experiment {experiment}",
        )

    async def workers(self, experiment: str) -> builtins.list[WorkerAssignment]:
        """The workers assigned to *experiment*."""
        check_experiment_ref(experiment)
        response = await self._request("GET", path("/api/experiments/{e}/workers", e=experiment))
        return self._decode(response.json(), builtins.list[WorkerAssignment], response=response)

    async def assign(self, experiment: str, unit: str) -> None:
        """Assign worker *unit* to *experiment* (it leaves its previous experiment, whose jobs
        on it stop)."""
        check_experiment_ref(experiment)
        check_worker_name(unit)
        await self._request(
            "PUT",
            path("/api/experiments/{e}/workers", e=experiment),
            json={"pioreactor_unit": unit},
        )

    async def unassign(self, experiment: str, unit: str) -> None:
        """Remove worker *unit* from *experiment*."""
        check_experiment_ref(experiment)
        check_unit_ref(unit)
        await self._request(
            "DELETE", path("/api/experiments/{e}/workers/{u}", e=experiment, u=unit)
        )

    @JobMethod
    async def unassign_all(self, experiment: str) -> Job[FanOut[Any]]:
        """Remove every worker from *experiment* (a task; per-unit ``True``)."""
        check_experiment_ref(experiment)
        return await self._task(
            "DELETE",
            path("/api/experiments/{e}/workers", e=experiment),
            decoder="fanout:any",
            describe=f"unassign all workers of {experiment}",
        )

    async def unit_labels(self, experiment: str) -> dict[str, str]:
        """The label of each unit in *experiment* (``{"pio1": "R1"}``)."""
        check_experiment_ref(experiment)
        response = await self._request(
            "GET", path("/api/experiments/{e}/unit_labels", e=experiment)
        )
        return self._decode(response.json(), dict[str, str], response=response)

    async def set_unit_label(self, experiment: str, unit: str, label: str) -> None:
        """Label *unit* in *experiment* (shown in the UI and exports)."""
        check_experiment_ref(experiment)
        check_worker_name(unit)
        if not label:
            raise ValidationError("label must not be empty")
        await self._request(
            "PATCH",
            path("/api/experiments/{e}/unit_labels", e=experiment),
            json={"unit": unit, "label": label},
        )

    async def chart_preferences(self, experiment: str) -> dict[str, Any]:
        """Which charts the UI shows for *experiment* (leaders ≥ 26.9)."""
        check_experiment_ref(experiment)
        response = await self._request(
            "GET", path("/api/experiments/{e}/chart_preferences", e=experiment)
        )
        return self._decode(response.json(), dict[str, Any], response=response)

    async def update_chart_preferences(
        self,
        experiment: str,
        *,
        overview_chart_keys: Sequence[str] | None = None,
        pioreactor_chart_keys: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Choose the charts shown for *experiment*; keys come from the chart descriptors."""
        check_experiment_ref(experiment)
        body: dict[str, Any] = {}
        if overview_chart_keys is not None:
            body["overview_chart_keys"] = list(overview_chart_keys)
        if pioreactor_chart_keys is not None:
            body["pioreactor_chart_keys"] = list(pioreactor_chart_keys)
        response = await self._request(
            "PATCH", path("/api/experiments/{e}/chart_preferences", e=experiment), json=body
        )
        return self._decode(response.json(), dict[str, Any], response=response)

    async def media_rates(self, experiment: str) -> dict[str, Any]:
        """Media and alt-media dosing rates of *experiment*, per unit and overall."""
        check_experiment_ref(experiment)
        response = await self._request(
            "GET", path("/api/experiments/{e}/media_rates", e=experiment)
        )
        return self._decode(response.json(), dict[str, Any], response=response)

    async def historical_worker_assignments(self, experiment: str) -> builtins.list[dict[str, Any]]:
        """Every assignment of a worker to *experiment*, past and present."""
        check_experiment_ref(experiment)
        response = await self._request(
            "GET", path("/api/experiments/{e}/historical_worker_assignments", e=experiment)
        )
        return self._decode(response.json(), builtins.list[dict[str, Any]], response=response)


class Experiments(Facade[AsyncExperiments], mirrors=AsyncExperiments):
    """Blocking twin of :class:`AsyncExperiments`."""

    delete = BlockingJobMethod(AsyncExperiments.delete)
    unassign_all = BlockingJobMethod(AsyncExperiments.unassign_all)

    def list(self) -> builtins.list[Experiment]:
        """Every experiment, newest first."""
        return self._run(self._wrapped.list)

    def retrieve(self, experiment: str) -> Experiment:
        """One experiment by name (:class:`~tether.NotFoundError` when unknown)."""
        return self._run(self._wrapped.retrieve, experiment)

    def latest(self) -> Experiment:
        """The most recently created experiment."""
        return self._run(self._wrapped.latest)

    def active(self) -> builtins.list[Experiment]:
        """Experiments that have at least one active worker assigned."""
        return self._run(self._wrapped.active)

    def assignment_count(self) -> builtins.list[dict[str, Any]]:
        """How many workers each experiment has (``[{"experiment": …, "worker_count": …}]``)."""
        return self._run(self._wrapped.assignment_count)

    def create(
        self,
        experiment: str,
        *,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        media_used: str | None = None,
        organism_used: str | None = None,
    ) -> Experiment:
        """Create an experiment and return it (see :meth:`AsyncExperiments.create`)."""
        return self._run(
            self._wrapped.create,
            experiment,
            description=description,
            tags=tags,
            media_used=media_used,
            organism_used=organism_used,
        )

    def update(
        self,
        experiment: str,
        *,
        description: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> Experiment:
        """Change an experiment's description or tags and return it."""
        return self._run(self._wrapped.update, experiment, description=description, tags=tags)

    def workers(self, experiment: str) -> builtins.list[WorkerAssignment]:
        """The workers assigned to *experiment*."""
        return self._run(self._wrapped.workers, experiment)

    def assign(self, experiment: str, unit: str) -> None:
        """Assign worker *unit* to *experiment* (it leaves its previous experiment, whose jobs
        on it stop)."""
        return self._run(self._wrapped.assign, experiment, unit)

    def unassign(self, experiment: str, unit: str) -> None:
        """Remove worker *unit* from *experiment*."""
        return self._run(self._wrapped.unassign, experiment, unit)

    def unit_labels(self, experiment: str) -> dict[str, str]:
        """The label of each unit in *experiment* (``{"pio1": "R1"}``)."""
        return self._run(self._wrapped.unit_labels, experiment)

    def set_unit_label(self, experiment: str, unit: str, label: str) -> None:
        """Label *unit* in *experiment* (shown in the UI and exports)."""
        return self._run(self._wrapped.set_unit_label, experiment, unit, label)

    def chart_preferences(self, experiment: str) -> dict[str, Any]:
        """Which charts the UI shows for *experiment* (leaders ≥ 26.9)."""
        return self._run(self._wrapped.chart_preferences, experiment)

    def update_chart_preferences(
        self,
        experiment: str,
        *,
        overview_chart_keys: Sequence[str] | None = None,
        pioreactor_chart_keys: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Choose the charts shown for *experiment*; keys come from the chart descriptors."""
        return self._run(
            self._wrapped.update_chart_preferences,
            experiment,
            overview_chart_keys=overview_chart_keys,
            pioreactor_chart_keys=pioreactor_chart_keys,
        )

    def media_rates(self, experiment: str) -> dict[str, Any]:
        """Media and alt-media dosing rates of *experiment*, per unit and overall."""
        return self._run(self._wrapped.media_rates, experiment)

    def historical_worker_assignments(self, experiment: str) -> builtins.list[dict[str, Any]]:
        """Every assignment of a worker to *experiment*, past and present."""
        return self._run(self._wrapped.historical_worker_assignments, experiment)
