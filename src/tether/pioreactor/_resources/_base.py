"""What every Pioreactor resource shares: the typed client and the task helper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tether._core.http import NOT_GIVEN
from tether._core.jobs import Job
from tether._core.resource import AsyncResource
from tether.pioreactor._contract import Contract
from tether.pioreactor._tasks import start_task

if TYPE_CHECKING:
    from tether.pioreactor._client import AsyncPioreactor

__all__ = ["PioreactorResource"]


class PioreactorResource(AsyncResource):
    """Base of the Pioreactor resources."""

    _client: AsyncPioreactor

    def __init__(self, client: AsyncPioreactor) -> None:
        super().__init__(client)

    async def _contract(self) -> Contract:
        return await self._client.contract()

    async def _task(
        self,
        method: str,
        url: str,
        *,
        json: Any = NOT_GIVEN,
        params: dict[str, Any] | None = None,
        decoder: str,
        describe: str,
        sync_decoder: str | None = None,
    ) -> Job[Any]:
        """Send a request that answers 202 + task (or synchronously) and return its Job."""
        return await start_task(
            self._client,
            method,
            url,
            json=json,
            params=params,
            decoder_name=decoder,
            describe=describe,
            sync_decoder_name=sync_decoder,
        )
