"""The typed ABEJA Platform client: ``AsyncAbeja`` and its blocking twin ``Abeja``."""

from __future__ import annotations

import math
import os
from functools import cached_property
from typing import Final

import aiohttp
import cattrs

from tether._core.blocking import ClientFacade
from tether._core.errors import ValidationError
from tether._core.http import HTTPClient, RetryPolicy, Transport
from tether._core.resource import AsyncClientBase
from tether.abeja._config import (
    ENV_ORGANIZATION_ID,
    Credential,
    credential_from_env,
    resolve_base_url,
    resolve_max_retries,
    resolve_timeout,
)
from tether.abeja._errors import abeja_error_parser
from tether.abeja._resources.runs import AsyncRuns, Runs
from tether.abeja.models import abeja_converter

__all__ = ["AbejaClientBase", "Abeja", "AsyncAbeja"]

DEFAULT_WAIT_TIMEOUT: Final = 3600.0

_converter: cattrs.Converter | None = None


def shared_converter() -> cattrs.Converter:
    """The ABEJA converter, built once (clients are cheap to create, as in the official SDK)."""
    global _converter
    if _converter is None:
        _converter = abeja_converter()
    return _converter


class AbejaClientBase(AsyncClientBase):
    """What the typed client and the drop-in share: the HTTP pipeline and the settings."""

    base_url: str
    organization_id: str | None
    wait_timeout: float
    _credential: Credential

    def _configure(
        self,
        *,
        base_url: str,
        credential: Credential,
        timeout: float,
        max_retries: int,
        organization_id: str | None,
        wait_timeout: float,
        session: aiohttp.ClientSession | None,
    ) -> None:
        headers = credential.headers()
        self.base_url = base_url
        self._credential = credential
        self.http = HTTPClient(
            base_url,
            transport=Transport(session),
            auth=headers.copy if headers else None,
            timeout=timeout,
            retries=RetryPolicy(max_retries=max_retries),
            error_parser=abeja_error_parser,
        )
        self.converter = shared_converter()
        self.organization_id = organization_id
        self.wait_timeout = wait_timeout

    @property
    def credential_kind(self) -> str:
        """Which credential the client sends, in words (never the credential itself)."""
        return self._credential.description


def _explicit_credential(
    user_id: str | None,
    personal_access_token: str | None,
    auth_token: str | None,
    datasource_id: str | None,
    datasource_secret: str | None,
) -> Credential | None:
    kinds: list[Credential] = []
    if auth_token is not None:
        kinds.append(Credential.auth_token(auth_token))
    if user_id is not None or personal_access_token is not None:
        if user_id is None or personal_access_token is None:
            raise ValidationError("pass user_id and personal_access_token together")
        kinds.append(Credential.user(user_id, personal_access_token))
    if datasource_id is not None or datasource_secret is not None:
        if datasource_id is None or datasource_secret is None:
            raise ValidationError("pass datasource_id and datasource_secret together")
        kinds.append(Credential.datasource(datasource_id, datasource_secret))
    if len(kinds) > 1:
        raise ValidationError(
            "pass one kind of credential: auth_token, or user_id + personal_access_token, or"
            " datasource_id + datasource_secret"
        )
    return kinds[0] if kinds else None


class AsyncAbeja(AbejaClientBase):
    """Async client of the ABEJA Platform (the Run API of deployments).

    Credentials are the ones ABEJA users already have, read like the official SDK reads them:
    explicit arguments win; otherwise ``PLATFORM_AUTH_TOKEN``, then ``ABEJA_PLATFORM_USER_ID``
    + ``ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN``, then ``ABEJA_PLATFORM_DATASOURCE_ID`` +
    ``ABEJA_PLATFORM_DATASOURCE_SECRET``. They never appear in reprs, logs or errors.

    Args:
        organization_id: the organization; default ``ABEJA_ORGANIZATION_ID``. Each call can
            override it with ``organization_id=``.
        user_id: a user's id and personal access token.
        personal_access_token: a user's id and personal access token.
        auth_token: a platform auth token (sent as ``Bearer``).
        datasource_id: a datasource's credentials.
        datasource_secret: a datasource's credentials.
        base_url: the API; default ``ABEJA_API_URL``, else ``https://api.abeja.io``.
        timeout: seconds for one attempt; default ``ABEJA_SDK_CONNECTION_TIMEOUT`` (read as a
            number), else 30.
        max_retries: retries of a failed GET (and of a request that never reached the
            server, or a 429); default ``ABEJA_SDK_MAX_RETRY_COUNT``, else 5; ``0`` for none.
            Run creation is never replayed.
        wait_timeout: default deadline, in seconds, of :meth:`AsyncRuns.wait` and
            :meth:`AsyncRuns.follow_logs`.
        session: an aiohttp session to use (never closed by tether).

    Example::

        async with AsyncAbeja(organization_id="1111111111111") as client:
            run = await client.runs.create("2222222222222", "ver-1111111111111111")
            run = await client.runs.wait("2222222222222", run.run_id)
    """

    def __init__(
        self,
        *,
        organization_id: str | None = None,
        user_id: str | None = None,
        personal_access_token: str | None = None,
        auth_token: str | None = None,
        datasource_id: str | None = None,
        datasource_secret: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        credential = _explicit_credential(
            user_id, personal_access_token, auth_token, datasource_id, datasource_secret
        )
        if credential is None:
            credential = credential_from_env()
        if credential is None:
            raise ValidationError(
                "no ABEJA credentials: pass user_id= and personal_access_token= (or"
                " auth_token=), or set ABEJA_PLATFORM_USER_ID and"
                " ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN (or PLATFORM_AUTH_TOKEN)"
            )
        org = (
            organization_id if organization_id is not None else os.environ.get(ENV_ORGANIZATION_ID)
        )
        if org is not None and (not isinstance(org, str) or not org):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValidationError(f"organization_id must be a non-empty string, got {org!r}")
        if (
            isinstance(wait_timeout, bool)
            or not isinstance(wait_timeout, int | float)  # pyright: ignore[reportUnnecessaryIsInstance]
            or not math.isfinite(wait_timeout)
            or wait_timeout <= 0
        ):
            raise ValidationError(f"wait_timeout must be a positive number, got {wait_timeout!r}")
        self._configure(
            base_url=resolve_base_url(base_url),
            credential=credential,
            timeout=resolve_timeout(timeout),
            max_retries=resolve_max_retries(max_retries),
            organization_id=org or None,
            wait_timeout=float(wait_timeout),
            session=session,
        )

    def __repr__(self) -> str:
        return (
            f"AsyncAbeja(base_url={self.base_url!r}, organization_id={self.organization_id!r},"
            f" credential={self._credential.description!r})"
        )

    @cached_property
    def runs(self) -> AsyncRuns:
        """Runs of deployments: create, retrieve, list, logs, wait, follow logs."""
        return AsyncRuns(self)


class Abeja(ClientFacade[AsyncAbeja], mirrors=AsyncAbeja):
    """Blocking client of the ABEJA Platform; the same API as :class:`AsyncAbeja`.

    Example::

        with Abeja(organization_id="1111111111111") as client:
            run = client.runs.create("2222222222222", "ver-1111111111111111")
            for event in client.runs.follow_logs("2222222222222", run.run_id):
                print(event.message)
    """

    runs: Runs

    def __init__(
        self,
        *,
        organization_id: str | None = None,
        user_id: str | None = None,
        personal_access_token: str | None = None,
        auth_token: str | None = None,
        datasource_id: str | None = None,
        datasource_secret: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            AsyncAbeja(
                organization_id=organization_id,
                user_id=user_id,
                personal_access_token=personal_access_token,
                auth_token=auth_token,
                datasource_id=datasource_id,
                datasource_secret=datasource_secret,
                base_url=base_url,
                timeout=timeout,
                max_retries=max_retries,
                wait_timeout=wait_timeout,
                session=session,
            )
        )

    def __repr__(self) -> str:
        return repr(self._wrapped).replace("AsyncAbeja(", "Abeja(", 1)

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._wrapped.base_url

    @property
    def organization_id(self) -> str | None:
        """The default organization."""
        return self._wrapped.organization_id

    @property
    def credential_kind(self) -> str:
        """Which credential the client sends, in words (never the credential itself)."""
        return self._wrapped.credential_kind
