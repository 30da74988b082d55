"""UI descriptors the leader serves from YAML: jobs, charts, automations, published settings.

They are free-form (plugins add their own), so they stay ``list[dict]``. Leaders before
26.2.23 serve them under ``/api/contrib/…``; the settings descriptors and the per-worker forms
are newer (assumed ≥ 26.4.0: absent from the 26.3.x seed, present in 26.11.1).
"""

from __future__ import annotations

from typing import Any, Final

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.resource import path, response_json
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import check_worker_name

__all__ = ["AsyncDescriptors", "Descriptors"]

AUTOMATION_TYPES: Final = ("dosing", "led", "temperature")


def _check_automation_type(automation_type: object) -> str:
    if automation_type not in AUTOMATION_TYPES:
        raise ValidationError(
            f"automation_type must be one of {', '.join(AUTOMATION_TYPES)}, not {automation_type!r}"
        )
    return str(automation_type)


class AsyncDescriptors(PioreactorResource):
    """What the leader's UI knows about jobs, charts, automations and settings.

    Example::

        charts = await client.descriptors.charts()
        print([chart["chart_key"] for chart in charts])
        dosing = await client.descriptors.automations("dosing")
    """

    async def _get(self, url: str) -> list[dict[str, Any]]:
        response = await self._request("GET", url)
        return self._decode(response_json(response), list[dict[str, Any]], response=response)

    async def _worker_form(self, unit: str, what: str) -> None:
        check_worker_name(unit)
        contract = await self._contract()
        contract.require(contract.has_settings_descriptors, f"per-unit {what}", "26.4.0")

    async def jobs(self, unit: str | None = None) -> list[dict[str, Any]]:
        """The job descriptors (name, options, published settings) of the leader, or of *unit*
        (with its plugins; leaders ≥ 26.4.0)."""
        if unit is not None:
            await self._worker_form(unit, "job descriptors")
            return await self._get(path("/api/workers/{u}/jobs/descriptors", u=unit))
        contract = await self._contract()
        return await self._get(
            "/api/contrib/jobs" if contract.contrib_routes else "/api/jobs/descriptors"
        )

    async def charts(self) -> list[dict[str, Any]]:
        """The chart descriptors (``chart_key``, ``data_source``, ``mqtt_topic``, …)."""
        contract = await self._contract()
        return await self._get(
            "/api/contrib/charts" if contract.contrib_routes else "/api/charts/descriptors"
        )

    async def automations(
        self, automation_type: str, *, unit: str | None = None
    ) -> list[dict[str, Any]]:
        """The automations of one type (``"dosing"``, ``"led"`` or ``"temperature"``), on the
        leader or on *unit* (leaders ≥ 26.4.0)."""
        kind = _check_automation_type(automation_type)
        if unit is not None:
            await self._worker_form(unit, "automation descriptors")
            return await self._get(
                path("/api/workers/{u}/automations/descriptors/{t}", u=unit, t=kind)
            )
        contract = await self._contract()
        if contract.contrib_routes:
            return await self._get(path("/api/contrib/automations/{t}", t=kind))
        return await self._get(path("/api/automations/descriptors/{t}", t=kind))

    async def settings(self, unit: str | None = None) -> list[dict[str, Any]]:
        """The descriptors of published settings, grouped by job (leaders ≥ 26.4.0)."""
        if unit is not None:
            await self._worker_form(unit, "settings descriptors")
            return await self._get(path("/api/workers/{u}/settings/descriptors", u=unit))
        contract = await self._contract()
        contract.require(contract.has_settings_descriptors, "settings descriptors", "26.4.0")
        return await self._get("/api/settings/descriptors")


class Descriptors(Facade[AsyncDescriptors], mirrors=AsyncDescriptors):
    """Blocking twin of :class:`AsyncDescriptors`."""

    def jobs(self, unit: str | None = None) -> list[dict[str, Any]]:
        """The job descriptors (name, options, published settings) of the leader, or of *unit*
        (with its plugins; leaders ≥ 26.4.0)."""
        return self._run(self._wrapped.jobs, unit)

    def charts(self) -> list[dict[str, Any]]:
        """The chart descriptors (``chart_key``, ``data_source``, ``mqtt_topic``, …)."""
        return self._run(self._wrapped.charts)

    def automations(self, automation_type: str, *, unit: str | None = None) -> list[dict[str, Any]]:
        """The automations of one type (``"dosing"``, ``"led"`` or ``"temperature"``), on the
        leader or on *unit* (leaders ≥ 26.4.0)."""
        return self._run(self._wrapped.automations, automation_type, unit=unit)

    def settings(self, unit: str | None = None) -> list[dict[str, Any]]:
        """The descriptors of published settings, grouped by job (leaders ≥ 26.4.0)."""
        return self._run(self._wrapped.settings, unit)
