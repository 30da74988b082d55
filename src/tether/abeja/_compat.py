"""A drop-in for the official SDK's ``abeja.runs.APIClient``, built on the typed client.

Migrating is one import::

    # from abeja.runs import APIClient
    from tether.abeja import APIClient

Same constructor (``credential=``, ``timeout=``, ``max_retry_count=``), same method names,
parameters and order, same return dicts (the typed models unstructured back to the wire
form), exceptions with the official names and attributes (:mod:`tether.abeja._errors`).
:class:`AsyncAPIClient` is the same API with ``await``.

What differs on purpose (the official SDK's bugs and traps, reference §1.2, §4):

- ``create_run`` is never replayed after it may have reached the server (the official SDK
  sends it again after a 5xx or a read timeout, creating duplicate runs);
- bad input fails before any request with :class:`~tether.ValidationError` (``retry_count``
  outside 0–9, a non-string ``environment`` value);
- ``ABEJA_SDK_CONNECTION_TIMEOUT`` / ``ABEJA_SDK_MAX_RETRY_COUNT`` are read as numbers,
  ``max_retry_count=0`` means no retries, and ``ABEJA_API_URL`` is read when the client is
  created (not once, at import);
- an aware datetime for a log window is converted to UTC (naive ones are UTC, as before;
  both are still cut to the second, as the official SDK sends them);
- network failures raise :class:`~tether.APIConnectionError` / :class:`~tether.APITimeoutError`
  instead of ``requests.exceptions.ConnectionError``;
- the ``credential`` dict you pass is not modified.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from tether._core.blocking import ClientFacade, LoopThread, loop_thread
from tether._core.errors import ValidationError
from tether._core.http import Transport
from tether._core.pagination import Page
from tether.abeja._client import AbejaClientBase
from tether.abeja._config import (
    Credential,
    credential_from_env,
    credential_from_mapping,
    resolve_base_url,
    resolve_max_retries,
    resolve_timeout,
)
from tether.abeja._resources.runs import AsyncRuns, _check_window

__all__ = ["APIClient", "AsyncAPIClient"]


def _utc(value: datetime | None) -> datetime | None:
    """The official SDK sends wall-clock fields as given: naive means UTC."""
    if value is None or not isinstance(value, datetime):  # pyright: ignore[reportUnnecessaryIsInstance]
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class AsyncAPIClient(AbejaClientBase):
    """The official ``abeja.runs.APIClient`` API, async: every method returns the wire dict.

    Args:
        credential: ``{"auth_token": …}``, ``{"user_id": …, "personal_access_token": …}`` or
            ``{"datasource_id": …, "datasource_secret": …}``; ``{}`` sends no credentials.
            ``None`` reads the environment like the official SDK (``PLATFORM_AUTH_TOKEN``,
            then ``ABEJA_PLATFORM_USER_ID`` + ``ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN``, then
            the datasource pair).
        timeout: seconds for one attempt; ``None`` (or ``0``, as in the official SDK) reads
            ``ABEJA_SDK_CONNECTION_TIMEOUT``, else 30.
        max_retry_count: retries of a failed GET; ``None`` reads
            ``ABEJA_SDK_MAX_RETRY_COUNT``, else 5; ``0`` means none.
        base_url: the API (tether only); default ``ABEJA_API_URL``, else
            ``https://api.abeja.io``.

    Example::

        async with AsyncAPIClient() as api:
            run = await api.create_run(organization_id, deployment_id, version_id)
            page = await api.get_runs(organization_id, deployment_id, scan_forward=True)
    """

    def __init__(
        self,
        credential: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_retry_count: int | None = None,
        *,
        base_url: str | None = None,
    ) -> None:
        if credential is not None:
            if not isinstance(credential, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ValidationError(
                    f"credential must be a dict, got a {type(credential).__name__}"
                )
            found = credential_from_mapping(credential)
        else:
            found = credential_from_env() or Credential.anonymous()
        self._configure(
            base_url=resolve_base_url(base_url),
            credential=found,
            timeout=resolve_timeout(timeout or None),
            max_retries=resolve_max_retries(max_retry_count, name="max_retry_count"),
            organization_id=None,
            wait_timeout=3600.0,
            session=None,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r},"
            f" credential={self._credential.description!r})"
        )

    @cached_property
    def _runs(self) -> AsyncRuns:
        return AsyncRuns(self)

    def _page(self, page: Page[Any], key: str) -> dict[str, Any]:
        unstructure = self.converter.unstructure
        return {**page.raw, key: [unstructure(item) for item in page.items]}

    async def create_run(
        self,
        organization_id: str,
        deployment_id: str,
        version_id: str,
        input_data: Mapping[str, str] | None = None,
        output_template: Mapping[str, str] | None = None,
        distribution: int | None = None,
        retry_count: int | None = None,
        environment: Mapping[str, str] | None = None,
        model_id: str | None = None,
    ) -> dict[str, Any]:
        """Submit a run (``POST …/runs``); returns the run dict, status ``SUBMITTED``.

        Never replayed after it may have reached the platform (unlike the official SDK).
        """
        run = await self._runs.create(
            deployment_id,
            version_id,
            input_data=input_data,
            output_template=output_template,
            distribution=distribution,
            retry_count=retry_count,
            environment=environment,
            model_id=model_id,
            organization_id=organization_id,
        )
        result: dict[str, Any] = self.converter.unstructure(run)
        return result

    async def get_run(
        self, organization_id: str, deployment_id: str, run_id: str
    ) -> dict[str, Any]:
        """Get a run (``GET …/runs/{run_id}``)."""
        run = await self._runs.retrieve(deployment_id, run_id, organization_id=organization_id)
        result: dict[str, Any] = self.converter.unstructure(run)
        return result

    async def get_runs(
        self,
        organization_id: str,
        deployment_id: str,
        next_page_token: str | None = None,
        scan_forward: bool | None = None,
    ) -> dict[str, Any]:
        """Get one page of runs: ``{"entries": [...], "next_page_token"?: ...}``.

        Newest first by default; ``scan_forward=True`` for oldest first.
        """
        pager = self._runs.list(
            deployment_id,
            scan_forward=scan_forward,
            next_page_token=next_page_token,
            organization_id=organization_id,
        )
        return self._page(await pager.first_page(), "entries")

    async def get_run_logs(
        self,
        organization_id: str,
        deployment_id: str,
        run_id: str,
        next_token: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> dict[str, Any]:
        """Get one page of a run's logs, oldest first: ``{"events": [...], "next_token"?}``.

        ``next_token`` is absent when there are no more logs. Naive datetimes are UTC.
        """
        window = _check_window(_utc(start_time), _utc(end_time), exact=False)
        pager = self._runs._logs(deployment_id, run_id, window, next_token or None, organization_id)
        return self._page(await pager.first_page(), "events")

    async def get_run_recent_logs(
        self,
        organization_id: str,
        deployment_id: str,
        run_id: str,
        next_forward_token: str | None = None,
        next_backward_token: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> dict[str, Any]:
        """Get one page of a run's logs, newest first, with both tokens.

        ``{"events": [...], "next_backward_token": ..., "next_forward_token": ...}``; past
        either end the list is empty. Naive datetimes are UTC.
        """
        window = _check_window(_utc(start_time), _utc(end_time), exact=False)
        pager = self._runs._recent_logs(
            deployment_id,
            run_id,
            window,
            next_forward_token or None,
            next_backward_token or None,
            organization_id,
        )
        return self._page(await pager.first_page(), "events")


# Every blocking APIClient shares one connection pool on tether's loop thread: the official
# SDK's clients are cheap to create (code often makes one per call), and a pool per instance
# would keep sockets and sessions alive until exit. The pool is closed at interpreter exit.
_shared_lock = threading.Lock()
_shared: tuple[LoopThread, Transport] | None = None


def _shared_transport() -> Transport:
    global _shared
    runner = loop_thread()
    with _shared_lock:
        if _shared is None or _shared[0] is not runner:  # first use, or a forked child
            transport = Transport()
            runner.track(transport)
            _shared = (runner, transport)
        return _shared[1]


def _reset_after_fork() -> None:
    global _shared_lock, _shared
    _shared_lock = threading.Lock()
    _shared = None


os.register_at_fork(after_in_child=_reset_after_fork)


class APIClient(ClientFacade[AsyncAPIClient], mirrors=AsyncAPIClient):
    """Drop-in for the official ``abeja.runs.APIClient``: same constructor, methods, dicts.

    Args:
        credential: ``{"auth_token": …}``, ``{"user_id": …, "personal_access_token": …}`` or
            ``{"datasource_id": …, "datasource_secret": …}``; ``{}`` sends no credentials;
            ``None`` reads the environment like the official SDK.
        timeout: seconds for one attempt; ``None`` (or ``0``) reads
            ``ABEJA_SDK_CONNECTION_TIMEOUT`` as a number, else 30.
        max_retry_count: retries of a failed GET; ``None`` reads ``ABEJA_SDK_MAX_RETRY_COUNT``,
            else 5; ``0`` means none. ``create_run`` is never replayed.
        base_url: the API (tether only); default ``ABEJA_API_URL`` (read now), else
            ``https://api.abeja.io``.

    Every ``APIClient`` shares one connection pool (closed at interpreter exit), so making
    one per call, as the official SDK allows, costs nothing; :meth:`close` releases nothing.

    Example::

        from tether.abeja import APIClient      # was: from abeja.runs import APIClient

        api = APIClient()
        run = api.create_run(organization_id, deployment_id, version_id)
        api.get_run(organization_id, deployment_id, run["run_id"])["status"]
    """

    def __init__(
        self,
        credential: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_retry_count: int | None = None,
        *,
        base_url: str | None = None,
    ) -> None:
        client = AsyncAPIClient(credential, timeout, max_retry_count, base_url=base_url)
        client.http.transport = _shared_transport()
        # Facade's __init__, not ClientFacade's: not tracked, the shared pool is closed at exit
        super(ClientFacade, self).__init__(client)

    def __repr__(self) -> str:
        return repr(self._wrapped).replace("AsyncAPIClient(", "APIClient(", 1)

    def close(self) -> None:
        """Nothing to release: every ``APIClient`` shares one pool, closed at exit."""

    def create_run(
        self,
        organization_id: str,
        deployment_id: str,
        version_id: str,
        input_data: Mapping[str, str] | None = None,
        output_template: Mapping[str, str] | None = None,
        distribution: int | None = None,
        retry_count: int | None = None,
        environment: Mapping[str, str] | None = None,
        model_id: str | None = None,
    ) -> dict[str, Any]:
        """Submit a run (``POST …/runs``); returns the run dict, status ``SUBMITTED``.

        Never replayed after it may have reached the platform (unlike the official SDK).
        """
        return self._run(
            self._wrapped.create_run,
            organization_id,
            deployment_id,
            version_id,
            input_data,
            output_template,
            distribution,
            retry_count,
            environment,
            model_id,
        )

    def get_run(self, organization_id: str, deployment_id: str, run_id: str) -> dict[str, Any]:
        """Get a run (``GET …/runs/{run_id}``)."""
        return self._run(self._wrapped.get_run, organization_id, deployment_id, run_id)

    def get_runs(
        self,
        organization_id: str,
        deployment_id: str,
        next_page_token: str | None = None,
        scan_forward: bool | None = None,
    ) -> dict[str, Any]:
        """Get one page of runs: ``{"entries": [...], "next_page_token"?: ...}``.

        Newest first by default; ``scan_forward=True`` for oldest first.
        """
        return self._run(
            self._wrapped.get_runs, organization_id, deployment_id, next_page_token, scan_forward
        )

    def get_run_logs(
        self,
        organization_id: str,
        deployment_id: str,
        run_id: str,
        next_token: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> dict[str, Any]:
        """Get one page of a run's logs, oldest first: ``{"events": [...], "next_token"?}``.

        ``next_token`` is absent when there are no more logs. Naive datetimes are UTC.
        """
        return self._run(
            self._wrapped.get_run_logs,
            organization_id,
            deployment_id,
            run_id,
            next_token,
            start_time,
            end_time,
        )

    def get_run_recent_logs(
        self,
        organization_id: str,
        deployment_id: str,
        run_id: str,
        next_forward_token: str | None = None,
        next_backward_token: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> dict[str, Any]:
        """Get one page of a run's logs, newest first, with both tokens.

        ``{"events": [...], "next_backward_token": ..., "next_forward_token": ...}``; past
        either end the list is empty. Naive datetimes are UTC.
        """
        return self._run(
            self._wrapped.get_run_recent_logs,
            organization_id,
            deployment_id,
            run_id,
            next_forward_token,
            next_backward_token,
            start_time,
            end_time,
        )
