"""Media and organisms named in past experiments (leaders before 26.6.0 only).

26.6.0 dropped the ``mediaUsed``/``organismUsed`` experiment fields and these two routes with
them; on newer leaders the calls fail before any request.
"""

from __future__ import annotations

from typing import Any

from tether._core.blocking import Facade
from tether._core.models import json_object
from tether._core.resource import response_json
from tether.pioreactor._resources._base import PioreactorResource

__all__ = ["AsyncHistorical", "Historical"]


class AsyncHistorical(PioreactorResource):
    """Values typed into earlier experiments, newest first, for autocompletion.

    Example::

        media = await client.historical.media()   # ["LB", "YPD"]; leaders < 26.6.0 only
    """

    async def _keys(self, url: str, what: str) -> list[str]:
        contract = await self._contract()
        contract.require(contract.media_fields, f"{what} (removed in 26.6.0)")
        response = await self._request("GET", url)
        rows = self._decode(response_json(response), list[Any], response=response)
        keys: list[str] = []
        for row in rows:  # the leader sends [{"key": "LB"}, …]
            fields = json_object(row)
            value: Any = fields.get("key") if fields is not None else row
            if isinstance(value, str):
                keys.append(value)
        return keys

    async def media(self) -> list[str]:
        """The media named in experiments so far (leaders before 26.6.0)."""
        return await self._keys("/api/historical_media", "historical media")

    async def organisms(self) -> list[str]:
        """The organisms named in experiments so far (leaders before 26.6.0)."""
        return await self._keys("/api/historical_organisms", "historical organisms")


class Historical(Facade[AsyncHistorical], mirrors=AsyncHistorical):
    """Blocking twin of :class:`AsyncHistorical`."""

    def media(self) -> list[str]:
        """The media named in experiments so far (leaders before 26.6.0)."""
        return self._run(self._wrapped.media)

    def organisms(self) -> list[str]:
        """The organisms named in experiments so far (leaders before 26.6.0)."""
        return self._run(self._wrapped.organisms)
