"""Credentials and settings, read the way the official ``abeja-sdk`` reads them.

Environment variables (reference §1.2):

==================================================  =========================================
``ABEJA_API_URL``                                   base URL (default ``https://api.abeja.io``)
``PLATFORM_AUTH_TOKEN``                             platform auth token → ``Bearer``
``ABEJA_PLATFORM_USER_ID`` + ``…_PERSONAL_ACCESS_TOKEN``   user id + PAT → ``Basic user-<id>:<pat>``
``ABEJA_PLATFORM_DATASOURCE_ID`` + ``…_SECRET``     datasource → ``Basic datasource-<id>:<s>``
``ABEJA_ORGANIZATION_ID``                           default organization (typed client only)
``ABEJA_SDK_CONNECTION_TIMEOUT``                    seconds per attempt, read as a number
``ABEJA_SDK_MAX_RETRY_COUNT``                       retries, read as an integer
==================================================  =========================================

The official SDK keeps the last two as strings, so a timeout from the environment makes every
call fail and a retry count from the environment crashes the first retry; tether parses them.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping
from typing import Final, Literal

from tether._core.errors import ValidationError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "ENV_API_URL",
    "ENV_AUTH_TOKEN",
    "ENV_DATASOURCE_ID",
    "ENV_DATASOURCE_SECRET",
    "ENV_MAX_RETRY_COUNT",
    "ENV_ORGANIZATION_ID",
    "ENV_PERSONAL_ACCESS_TOKEN",
    "ENV_TIMEOUT",
    "ENV_USER_ID",
    "Credential",
    "credential_from_env",
    "credential_from_mapping",
    "resolve_base_url",
    "resolve_max_retries",
    "resolve_timeout",
]

ENV_API_URL: Final = "ABEJA_API_URL"
ENV_AUTH_TOKEN: Final = "PLATFORM_AUTH_TOKEN"
ENV_USER_ID: Final = "ABEJA_PLATFORM_USER_ID"
ENV_PERSONAL_ACCESS_TOKEN: Final = "ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN"
ENV_DATASOURCE_ID: Final = "ABEJA_PLATFORM_DATASOURCE_ID"
ENV_DATASOURCE_SECRET: Final = "ABEJA_PLATFORM_DATASOURCE_SECRET"
ENV_ORGANIZATION_ID: Final = "ABEJA_ORGANIZATION_ID"
ENV_TIMEOUT: Final = "ABEJA_SDK_CONNECTION_TIMEOUT"
ENV_MAX_RETRY_COUNT: Final = "ABEJA_SDK_MAX_RETRY_COUNT"

DEFAULT_BASE_URL: Final = "https://api.abeja.io"
DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_MAX_RETRIES: Final = 5

CredentialKind = Literal["auth_token", "user", "datasource", "none"]

_DESCRIPTIONS: Final[dict[str, str]] = {
    "auth_token": "platform auth token",
    "user": "user id + personal access token",
    "datasource": "datasource id + secret",
    "none": "no credentials",
}


class Credential:
    """One ABEJA credential and the ``Authorization`` header it produces.

    Its ``repr`` names the kind only: ids, tokens and secrets never appear in reprs, logs or
    error messages.

    Example::

        Credential.user("1234567890123", "pat-abc").headers()
        # {"Authorization": "Basic dXNlci0xMjM0NTY3ODkwMTIzOnBhdC1hYmM="}
    """

    __slots__ = ("_headers", "kind")

    def __init__(self, kind: CredentialKind, header: str | None) -> None:
        self.kind: CredentialKind = kind
        self._headers: dict[str, str] = {} if header is None else {"Authorization": header}

    @classmethod
    def auth_token(cls, token: str) -> Credential:
        """A platform auth token (``Authorization: Bearer <token>``)."""
        _check_secret(token, "auth_token")
        return cls("auth_token", f"Bearer {token}")

    @classmethod
    def user(cls, user_id: str, personal_access_token: str) -> Credential:
        """A user id and personal access token (``user-`` is added to the id if missing)."""
        _check_secret(user_id, "user_id")
        _check_secret(personal_access_token, "personal_access_token")
        principal = user_id if user_id.startswith("user-") else f"user-{user_id}"
        return cls("user", _basic(principal, personal_access_token))

    @classmethod
    def datasource(cls, datasource_id: str, datasource_secret: str) -> Credential:
        """A datasource id and secret (``datasource-`` is added to the id if missing)."""
        _check_secret(datasource_id, "datasource_id")
        _check_secret(datasource_secret, "datasource_secret")
        principal = (
            datasource_id
            if datasource_id.startswith("datasource-")
            else f"datasource-{datasource_id}"
        )
        return cls("datasource", _basic(principal, datasource_secret))

    @classmethod
    def anonymous(cls) -> Credential:
        """No credentials: no ``Authorization`` header (what the official SDK sends by default)."""
        return cls("none", None)

    @property
    def description(self) -> str:
        """What kind of credential this is, in words (safe to show)."""
        return _DESCRIPTIONS[self.kind]

    def headers(self) -> dict[str, str]:
        """The authentication headers (a fresh dict; empty for :meth:`anonymous`)."""
        return dict(self._headers)

    def __repr__(self) -> str:
        return f"<Credential {self.description}>"


def _basic(principal: str, secret: str) -> str:
    encoded = base64.b64encode(f"{principal}:{secret}".encode()).decode("ascii")
    return f"Basic {encoded}"


def _check_secret(value: object, name: str) -> None:
    if not isinstance(value, str) or not value:
        kind = "an empty string" if value == "" else f"a {type(value).__name__}"
        raise ValidationError(f"{name} must be a non-empty string, got {kind}")


def credential_from_mapping(credential: Mapping[str, object]) -> Credential:
    """Read an official-SDK ``credential=`` dict, with the official precedence.

    ``auth_token`` wins, then ``user_id`` + ``personal_access_token``, then ``datasource_id``
    + ``datasource_secret``; a dict with none of them (``{}``) means no authentication, as in
    the official SDK. Unlike the official SDK, the dict is never modified.
    """
    token = credential.get("auth_token")
    if token:
        return Credential.auth_token(_text(token, "auth_token"))
    user_id, pat = credential.get("user_id"), credential.get("personal_access_token")
    if user_id and pat:
        return Credential.user(_text(user_id, "user_id"), _text(pat, "personal_access_token"))
    source_id, secret = credential.get("datasource_id"), credential.get("datasource_secret")
    if source_id and secret:
        return Credential.datasource(
            _text(source_id, "datasource_id"), _text(secret, "datasource_secret")
        )
    return Credential.anonymous()


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"credential {name!r} must be a string, got a {type(value).__name__}")
    return value


def credential_from_env(environ: Mapping[str, str] | None = None) -> Credential | None:
    """The credential in the environment, in the official SDK's order; ``None`` if none.

    ``PLATFORM_AUTH_TOKEN``, then ``ABEJA_PLATFORM_USER_ID`` with
    ``ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN``, then ``ABEJA_PLATFORM_DATASOURCE_ID`` with
    ``ABEJA_PLATFORM_DATASOURCE_SECRET``.
    """
    env = os.environ if environ is None else environ
    token = env.get(ENV_AUTH_TOKEN)
    if token:
        return Credential.auth_token(token)
    user_id, pat = env.get(ENV_USER_ID), env.get(ENV_PERSONAL_ACCESS_TOKEN)
    if user_id and pat:
        return Credential.user(user_id, pat)
    source_id, secret = env.get(ENV_DATASOURCE_ID), env.get(ENV_DATASOURCE_SECRET)
    if source_id and secret:
        return Credential.datasource(source_id, secret)
    return None


def resolve_base_url(base_url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``base_url``, else ``ABEJA_API_URL``, else ``https://api.abeja.io`` (no trailing ``/``)."""
    env = os.environ if environ is None else environ
    url = base_url if base_url is not None else (env.get(ENV_API_URL) or DEFAULT_BASE_URL)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):  # pyright: ignore[reportUnnecessaryIsInstance]
        where = "base_url" if base_url is not None else ENV_API_URL
        raise ValidationError(f"{where} must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


def resolve_timeout(timeout: float | None, environ: Mapping[str, str] | None = None) -> float:
    """Seconds per attempt: ``timeout``, else ``ABEJA_SDK_CONNECTION_TIMEOUT``, else 30.

    The environment value is parsed as a number (the official SDK keeps it as a string).
    """
    if timeout is not None:
        return _positive_seconds(timeout, "timeout")
    env = os.environ if environ is None else environ
    raw = env.get(ENV_TIMEOUT)
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValidationError(f"{ENV_TIMEOUT} must be a number of seconds, got {raw!r}") from None
    return _positive_seconds(value, ENV_TIMEOUT)


def _positive_seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValidationError(f"{name} must be a positive number of seconds, got {value!r}")
    return seconds


def resolve_max_retries(
    max_retries: int | None, environ: Mapping[str, str] | None = None, *, name: str = "max_retries"
) -> int:
    """Retries: ``max_retries``, else ``ABEJA_SDK_MAX_RETRY_COUNT``, else 5. ``0``: none."""
    if max_retries is not None:
        return _retry_count(max_retries, name)
    env = os.environ if environ is None else environ
    raw = env.get(ENV_MAX_RETRY_COUNT)
    if not raw:
        return DEFAULT_MAX_RETRIES
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValidationError(
            f"{ENV_MAX_RETRY_COUNT} must be an integer >= 0, got {raw!r}"
        ) from None
    return _retry_count(value, ENV_MAX_RETRY_COUNT)


def _retry_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{name} must be an integer >= 0, got {value!r}")
    return value
