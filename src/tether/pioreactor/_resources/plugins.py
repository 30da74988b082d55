"""Plugins on units: list, install and uninstall (each a leader task with per-unit results)."""

from __future__ import annotations

import builtins
import re
from typing import Any, Final

from tether._core.blocking import Facade
from tether._core.errors import ValidationError
from tether._core.jobs import BlockingJobMethod, Job, JobMethod
from tether._core.resource import path
from tether.pioreactor._resources._base import PioreactorResource
from tether.pioreactor._validation import BROADCAST, check_unit_ref
from tether.pioreactor.models import FanOut

__all__ = ["AsyncPlugins", "Plugins"]

_PLUGIN_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check_plugin(name: object) -> str:
    if not isinstance(name, str) or not _PLUGIN_NAME.match(name):
        raise ValidationError(
            f"plugin name must be a package name (letters, digits, '.', '_', '-'), not {name!r}"
        )
    return name


class AsyncPlugins(PioreactorResource):
    """Plugins installed on units (``unit="$broadcast"``: every unit).

    Installing runs ``pio plugins install`` on each unit; the leader can forbid it (403) with a
    ``DISALLOW_UI_INSTALLS`` file.

    Example::

        installed = await client.plugins.installed()
        for unit, plugins in installed.values_by_unit().items():
            print(unit, [p["name"] for p in plugins])
    """

    @JobMethod
    async def installed(self, unit: str = BROADCAST) -> Job[FanOut[builtins.list[dict[str, Any]]]]:
        """The plugins on each unit (``{"name", "version", "source", "description", …}``)."""
        check_unit_ref(unit)
        return await self._task(
            "GET",
            path("/api/units/{u}/plugins/installed", u=unit),
            decoder="fanout:dicts",
            describe=f"plugins on {unit}",
        )

    @JobMethod
    async def install(
        self,
        name: str,
        *,
        unit: str = BROADCAST,
        version: str | None = None,
        source: str | None = None,
    ) -> Job[FanOut[Any]]:
        """Install plugin *name* on *unit*; per unit, whether it worked.

        Args:
            name: the plugin's package name.
            unit: a unit, or ``"$broadcast"``.
            version: a version to pin.
            source: a URL or file path on the unit to install from instead of the index.
        """
        _check_plugin(name)
        check_unit_ref(unit)
        options: dict[str, str] = {}
        if version is not None:
            options["version"] = str(version)
        if source is not None:
            options["source"] = str(source)
        return await self._task(
            "POST",
            path("/api/units/{u}/plugins/install", u=unit),
            json={"args": [name], "options": options},
            decoder="fanout:any",
            describe=f"install {name} on {unit}",
        )

    @JobMethod
    async def uninstall(self, name: str, *, unit: str = BROADCAST) -> Job[FanOut[Any]]:
        """Uninstall plugin *name* from *unit*; per unit, whether it worked."""
        _check_plugin(name)
        check_unit_ref(unit)
        return await self._task(
            "POST",
            path("/api/units/{u}/plugins/uninstall", u=unit),
            json={"args": [name], "options": {}},
            decoder="fanout:any",
            describe=f"uninstall {name} on {unit}",
        )


class Plugins(Facade[AsyncPlugins], mirrors=AsyncPlugins):
    """Blocking twin of :class:`AsyncPlugins`."""

    installed = BlockingJobMethod(AsyncPlugins.installed)
    install = BlockingJobMethod(AsyncPlugins.install)
    uninstall = BlockingJobMethod(AsyncPlugins.uninstall)
