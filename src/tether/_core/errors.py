"""The exception hierarchy shared by every platform.

Everything tether raises derives from :class:`TetherError`. HTTP failures carry the request
(method and a redacted URL), the status, the body and, where the platform sends them, a request
id, a cause and a remediation. ``str(error)`` is one line that says what happened.

Status → class:

====== ==============================
400    :class:`BadRequestError`
401    :class:`AuthenticationError`
403    :class:`PermissionDeniedError`
404    :class:`NotFoundError`
409    :class:`ConflictError`
422    :class:`UnprocessableEntityError`
429    :class:`RateLimitError`
5xx    :class:`InternalServerError`
other  :class:`APIStatusError`
====== ==============================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "InternalServerError",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobTimeoutError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestInfo",
    "ResponseDecodeError",
    "TetherError",
    "UnprocessableEntityError",
    "ValidationError",
    "redact_url",
]

_SECRET_NAME = re.compile(
    r"(token|key|secret|password|passwd|signature|sig|auth|credential|session)", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """Return *url* with user info and secret-looking query values replaced by ``***``.

    >>> redact_url("https://u:p@host/path?api_key=abc&page=2")
    'https://***@host/path?api_key=***&page=2'
    """
    if "@" not in url and "?" not in url:
        return url  # no user info, no query: nothing to redact
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if _SECRET_NAME.search(k) else v) for k, v in pairs], safe="*/:"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class RequestInfo:
    """The request an error is about: method and redacted URL (never headers).

    The URL is redacted on first use (most requests succeed and never need it); an error
    that carries a ``RequestInfo`` redacts it at once and keeps only the redacted form.
    """

    __slots__ = ("_raw", "_url", "method")

    def __init__(self, method: str, url: str) -> None:
        self.method = method.upper()
        self._raw: str | None = url
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The URL with user info and secret-looking query values replaced by ``***``."""
        if self._url is None:
            self._url = redact_url(self._raw or "")
            self._raw = None  # keep only the redacted form
        return self._url

    def __repr__(self) -> str:
        return f"RequestInfo({self.method} {self.url})"

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


class TetherError(Exception):
    """Root of every exception tether raises."""


class ValidationError(TetherError, ValueError):
    """Bad input from the caller, detected before any request is sent."""


class ClientClosedError(TetherError, RuntimeError):
    """The client was closed; create a new one (or use ``async with``)."""


class APIError(TetherError):
    """A request to a platform failed.

    Attributes:
        message: what happened, in one line.
        request: the method and redacted URL, when there was a request.
    """

    def __init__(self, message: str, *, request: RequestInfo | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        if request is not None:
            _ = request.url  # redact now: an error never holds the raw URL

    def __str__(self) -> str:
        if self.request is None:
            return self.message
        return f"{self.message} ({self.request})"


class APIConnectionError(APIError):
    """The platform could not be reached (refused, reset, DNS, TLS)."""


class APITimeoutError(APIConnectionError, TimeoutError):
    """The request did not finish in time (per attempt, or the overall deadline)."""


class ResponseDecodeError(APIError):
    """The response body is not what the endpoint promises (bad JSON or wrong shape)."""

    def __init__(
        self,
        message: str,
        *,
        request: RequestInfo | None = None,
        status: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status = status
        self.body = body


class APIStatusError(APIError):
    """The platform answered with an error status.

    Attributes:
        status: the HTTP status code.
        body: the decoded body (JSON value, or text when it is not JSON).
        request_id: the platform's request id, when it sends one.
        cause: the platform's explanation of the cause, when it sends one.
        remediation: what the platform suggests doing, when it sends it.
        retry_after: seconds the platform asked us to wait, when it says.
    """

    status_code: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request: RequestInfo | None = None,
        body: Any = None,
        request_id: str | None = None,
        cause: str | None = None,
        remediation: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status = status
        self.body = body
        self.request_id = request_id
        self.cause = cause
        self.remediation = remediation
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = dict(headers or {})

    def __str__(self) -> str:
        line = f"{self.status} {self.message}"
        if self.cause and self.cause not in self.message:
            line += f": {self.cause}"
        if self.request is not None:
            line += f" ({self.request})"
        if self.remediation:
            line += f" — {self.remediation}"
        if self.request_id:
            line += f" [request id {self.request_id}]"
        return line


class BadRequestError(APIStatusError):
    """400: the platform rejected the request as malformed."""

    status_code = 400


class AuthenticationError(APIStatusError):
    """401: missing or wrong credentials."""

    status_code = 401


class PermissionDeniedError(APIStatusError):
    """403: the credentials are valid but not allowed to do this."""

    status_code = 403


class NotFoundError(APIStatusError):
    """404: the resource does not exist."""

    status_code = 404


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state (e.g. a duplicate name)."""

    status_code = 409


class UnprocessableEntityError(APIStatusError):
    """422: the request was well formed but its content was rejected."""

    status_code = 422


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long to wait when known."""

    status_code = 429


class InternalServerError(APIStatusError):
    """5xx: the platform failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitError,
    )
    if cls.status_code is not None
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP *status*."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)


class JobError(TetherError):
    """A job (a run, a task, an execution) did not produce a result.

    Attributes:
        job_id: the platform's id of the job.
        status: the last status seen.
        detail: the platform's data about the job when it ended (model or raw value).
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        status: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.job_id = job_id
        self.status = status
        self.detail = detail


class JobFailedError(JobError):
    """The job ended in failure."""


class JobCancelledError(JobError):
    """The job was cancelled before it finished."""


class JobTimeoutError(JobError, TimeoutError):
    """The wait reached its deadline before the job finished. The job may still be running."""
