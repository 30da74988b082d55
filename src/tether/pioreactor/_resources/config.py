"""Cluster configuration: the shared ``config.ini``, unit-specific files, merged views, history.

The leader moved these routes twice; one API covers all of them:

- ≥ 26.4.0: ``/api/config/shared``, ``/api/config/units/{u}/specific`` (+ ``/history``),
  ``/api/config/units/{u}`` (merged) and ``/api/config/zipped``;
- 26.2.23 – 26.3.x: ``/api/config/files/{config.ini | config_<unit>.ini}`` (+ ``/history``);
- older (25.11.19): ``/api/configs/…`` and ``/api/units/{u}/configuration`` (merged).

Config files are ini text and stay ``str``; merged configs are ``{section: {key: text}}``.
"""

from __future__ import annotations

from typing import Any, cast

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.models import json_object
from tether._core.resource import path, response_json
from tether.pioreactor._contract import Contract
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._tasks import decode_fanout
from tether.pioreactor._validation import BROADCAST, check_unit_ref, check_worker_name
from tether.pioreactor.models import FanOut

__all__ = ["AsyncConfig", "Config"]

SHARED_FILE = "config.ini"
Sections = dict[str, dict[str, str]]


def _check_code(code: object) -> str:
    if not isinstance(code, str):
        raise ValidationError(f"config text must be a string (ini), not {type(code).__name__}")
    return code


def _unit_file(unit: str) -> str:
    return f"config_{unit}.ini"


def _file_url(contract: Contract, filename: str, suffix: str = "") -> str:
    base = "/api/config/files/{f}" if contract.config_routes == "files" else "/api/configs/{f}"
    return path(base + suffix, f=filename)


class AsyncConfig(PioreactorResource):
    """The cluster's ``config.ini`` and the unit-specific overrides.

    Example::

        text = await client.config.shared()
        await client.config.update_shared(text.replace("interval=5", "interval=10"))
        merged = await client.config.merged("pio1")
        print(merged["pio1"].value["stirring.config"]["pwm_hz"])
    """

    async def shared(self) -> str:
        """The shared ``config.ini`` (ini text)."""
        contract = await self._contract()
        if contract.config_routes == "shared":
            url = "/api/config/shared"
        else:
            url = _file_url(contract, SHARED_FILE)
        response = await self._request("GET", url)
        return response.text()

    async def update_shared(self, code: str) -> None:
        """Replace the shared ``config.ini`` and sync it to every unit.

        The leader checks the ini (duplicate sections or options, syntax, the
        ``[cluster.topology]`` and ``[mqtt]`` essentials) and answers 400 when it is wrong.
        """
        _check_code(code)
        contract = await self._contract()
        if contract.config_routes == "shared":
            await self._request("PATCH", "/api/config/shared", json={"code": code})
        else:
            await self._request("PATCH", _file_url(contract, SHARED_FILE), json={"code": code})

    async def shared_history(self) -> list[dict[str, Any]]:
        """Earlier versions of ``config.ini``, newest first (``{"filename", "timestamp",
        "data"}``)."""
        contract = await self._contract()
        if contract.config_routes == "shared":
            url = "/api/config/shared/history"
        else:
            url = _file_url(contract, SHARED_FILE, "/history")
        response = await self._request("GET", url)
        return self._decode(response_json(response), list[dict[str, Any]], response=response)

    async def unit(self, unit: str) -> str:
        """The unit-specific ini of *unit* (``""`` when it has none)."""
        check_worker_name(unit)
        contract = await self._contract()
        if contract.config_routes == "shared":
            url = path("/api/config/units/{u}/specific", u=unit)
        else:
            url = _file_url(contract, _unit_file(unit))
        response = await self._request("GET", url)
        text = response.text()
        return "" if text.strip() == "null" else text  # a worker without a file answers `null`

    async def update_unit(self, unit: str, code: str) -> None:
        """Replace the unit-specific ini of *unit* (it overrides ``config.ini`` on that unit)."""
        check_worker_name(unit)
        _check_code(code)
        contract = await self._contract()
        if contract.config_routes == "shared":
            url = path("/api/config/units/{u}/specific", u=unit)
        else:
            url = _file_url(contract, _unit_file(unit))
        await self._request("PATCH", url, json={"code": code})

    async def unit_history(self, unit: str) -> list[dict[str, Any]]:
        """Earlier versions of *unit*'s specific ini, newest first."""
        check_worker_name(unit)
        contract = await self._contract()
        if contract.config_routes == "shared":
            url = path("/api/config/units/{u}/specific/history", u=unit)
        else:
            url = _file_url(contract, _unit_file(unit), "/history")
        response = await self._request("GET", url)
        return self._decode(response_json(response), list[dict[str, Any]], response=response)

    async def merged(self, unit: str = BROADCAST) -> FanOut[Sections]:
        """The configuration each unit runs with (shared + specific), every value as text.

        A unit the leader could not ask shows up as a failure in the :class:`FanOut`.

        Example::

            merged = await client.config.merged()
            for unit, sections in merged.values_by_unit().items():
                print(unit, sections["stirring.config"]["pwm_hz"])
        """
        check_unit_ref(unit)
        contract = await self._contract()
        if contract.config_routes == "configs":
            url = path("/api/units/{u}/configuration", u=unit)
        else:
            url = path("/api/config/units/{u}", u=unit)
        response = await self._request("GET", url)
        data = response_json(response)
        fields = json_object(data)
        if fields is None:  # not an object: decode_fanout raises a clear ResponseDecodeError
            return decode_fanout(self._client.converter, data, Sections, response=response)
        configs = json_object(fields.get("configs"))
        envelopes: dict[str, Any] = {}
        if configs is not None:  # ≥ 26.2.23: {"configs": {unit: …}, "errors": {unit: envelope}}
            for name, sections in configs.items():
                envelopes[name] = {"ok": True, "unit": name, "value": sections}
            errors = json_object(fields.get("errors")) or {}
            for name, failure in errors.items():
                envelope = json_object(failure) or {}
                envelopes[name] = {"ok": False, "unit": name, **envelope}
        elif unit != BROADCAST and unit not in fields:  # the oldest form: one unit's sections
            envelopes[unit] = {"ok": True, "unit": unit, "value": fields}
        else:  # {unit: sections}
            for name, sections in fields.items():
                envelopes[name] = {"ok": True, "unit": name, "value": sections}
        return cast(
            FanOut[Sections],
            decode_fanout(self._client.converter, envelopes, Sections, response=response),
        )

    async def zipped(self) -> bytes:
        """Every config file of the cluster as a zip (``config.ini`` plus
        ``<unit>/unit_config.ini``); leaders ≥ 26.4.0."""
        contract = await self._contract()
        contract.require(contract.config_routes == "shared", "the zipped config", "26.4.0")
        response = await self._request("GET", "/api/config/zipped")
        return response.content


class Config(Facade[AsyncConfig], mirrors=AsyncConfig):
    """Blocking twin of :class:`AsyncConfig`."""

    def shared(self) -> str:
        """The shared ``config.ini`` (ini text)."""
        return self._run(self._wrapped.shared)

    def update_shared(self, code: str) -> None:
        """Replace the shared ``config.ini`` and sync it to every unit.

        The leader checks the ini (duplicate sections or options, syntax, the
        ``[cluster.topology]`` and ``[mqtt]`` essentials) and answers 400 when it is wrong.
        """
        return self._run(self._wrapped.update_shared, code)

    def shared_history(self) -> list[dict[str, Any]]:
        """Earlier versions of ``config.ini``, newest first (``{"filename", "timestamp",
        "data"}``)."""
        return self._run(self._wrapped.shared_history)

    def unit(self, unit: str) -> str:
        """The unit-specific ini of *unit* (``""`` when it has none)."""
        return self._run(self._wrapped.unit, unit)

    def update_unit(self, unit: str, code: str) -> None:
        """Replace the unit-specific ini of *unit* (it overrides ``config.ini`` on that unit)."""
        return self._run(self._wrapped.update_unit, unit, code)

    def unit_history(self, unit: str) -> list[dict[str, Any]]:
        """Earlier versions of *unit*'s specific ini, newest first."""
        return self._run(self._wrapped.unit_history, unit)

    def merged(self, unit: str = BROADCAST) -> FanOut[Sections]:
        """The configuration each unit runs with (shared + specific), every value as text.

        A unit the leader could not ask shows up as a failure in the :class:`FanOut`.

        Example::

            merged = await client.config.merged()
            for unit, sections in merged.values_by_unit().items():
                print(unit, sections["stirring.config"]["pwm_hz"])
        """
        return self._run(self._wrapped.merged, unit)

    def zipped(self) -> bytes:
        """Every config file of the cluster as a zip (``config.ini`` plus
        ``<unit>/unit_config.ini``); leaders ≥ 26.4.0."""
        return self._run(self._wrapped.zipped)
