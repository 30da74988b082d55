"""ABEJA errors: tether's typed status errors with the official SDK's attributes.

The official SDK raises ``abeja.exceptions.HttpError`` and its subclasses, whose attributes
users read: ``error``, ``error_description``, ``error_detail``, ``status_code``, ``url``.
tether raises classes with the same names and attributes, and each is also the matching tether
error, so both ``except NotFound`` and ``except tether.NotFoundError`` work:

======  =========================  ==========================================
status  class (official name)      also a
======  =========================  ==========================================
400     ``BadRequest``             :class:`~tether.BadRequestError`
401     ``Unauthorized``           :class:`~tether.AuthenticationError`
403     ``Forbidden``              :class:`~tether.PermissionDeniedError`
404     ``NotFound``               :class:`~tether.NotFoundError`
405     ``MethodNotAllowed``       :class:`~tether.APIStatusError`
409     ``Conflict``               :class:`~tether.ConflictError`
500     ``InternalServerError``    :class:`~tether.InternalServerError`
422     ``HttpError``              :class:`~tether.UnprocessableEntityError`
429     ``HttpError``              :class:`~tether.RateLimitError`
5xx     ``HttpError``              :class:`~tether.InternalServerError`
other   ``HttpError``              :class:`~tether.APIStatusError`
======  =========================  ==========================================

(The rows named ``HttpError`` are subclasses of :class:`HttpError` whose class name is
``HttpError``, as the official SDK names them.)
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any, Final

from tether._core.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestInfo,
    UnprocessableEntityError,
)
from tether._core.errors import InternalServerError as _TetherServerError
from tether._core.http import ErrorDetails
from tether._core.models import json_object

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HttpError",
    "InternalServerError",
    "MethodNotAllowed",
    "NotFound",
    "Unauthorized",
    "abeja_error",
    "abeja_error_parser",
    "error_class",
]


class HttpError(APIStatusError):
    """An error status from the ABEJA Platform, shaped like ``abeja.exceptions.HttpError``.

    The constructor takes the official SDK's arguments, so code (and test doubles) written
    for ``abeja.exceptions`` keep working.

    Attributes:
        error: the platform's error code, e.g. ``"not_found"`` (the reason phrase when the
            body has none).
        error_description: what the platform says happened (the raw body when it is not the
            documented JSON).
        error_detail: the platform's ``error_detail`` (any JSON value), or ``None``.
        status_code: the HTTP status.
        url: the request URL (without the query string; never with credentials).

    Example::

        try:
            client.get_run(org, deployment, "run-0000000000000000")
        except NotFound as exc:
            print(exc.status_code, exc.error, exc.error_detail)
    """

    def __init__(
        self,
        error: Any,
        error_description: Any,
        error_detail: Any = None,
        status_code: int | None = None,
        url: str | None = None,
        *,
        request: RequestInfo | None = None,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        status = status_code if status_code is not None else (type(self).status_code or 0)
        super().__init__(
            str(error_description) if error_description else str(error),
            status=status,
            request=request,
            body=body,
            request_id=request_id,
            cause=None if error is None else str(error),
            retry_after=retry_after,
            headers=headers,
        )
        self.error = error
        self.error_description = error_description
        self.error_detail = error_detail
        self.status_code = status_code
        self.url = url

    def __repr__(self) -> str:
        text = f'<{type(self).__name__} "{self.error}": {self.error_description}'
        if self.status_code and self.url:
            text += f" ({self.status_code} from {self.url})"
        if self.error_detail:
            text += f", {self.error_detail}"
        return text + ">"

    __str__ = __repr__

    def _asdict(self) -> dict[str, Any]:
        """The error as a dict, like the official ``HttpError._asdict()``."""
        data: dict[str, Any] = {"error": self.error, "error_description": self.error_description}
        if self.error_detail:
            data["error_detail"] = self.error_detail
        if self.status_code:
            data["status_code"] = self.status_code
        if self.url:
            data["url"] = self.url
        return data


class BadRequest(HttpError, BadRequestError):
    """400: the platform rejected the request (``error_detail`` names the fields)."""

    status_code = 400


class Unauthorized(HttpError, AuthenticationError):
    """401: missing or wrong credentials."""

    status_code = 401


class Forbidden(HttpError, PermissionDeniedError):
    """403: the credentials may not access this organization or deployment."""

    status_code = 403


class NotFound(HttpError, NotFoundError):
    """404: no such organization, deployment or run."""

    status_code = 404


class MethodNotAllowed(HttpError):
    """405: the endpoint does not take this method."""

    status_code = 405


class Conflict(HttpError, ConflictError):
    """409: the request conflicts with the current state."""

    status_code = 409


class InternalServerError(HttpError, _TetherServerError):
    """500: the platform failed (GETs are retried first; a run creation never is)."""

    status_code = 500


def _official_name(cls: type[HttpError]) -> type[HttpError]:
    cls.__name__ = "HttpError"
    cls.__qualname__ = "HttpError"
    return cls


@_official_name
class _UnprocessableHttpError(HttpError, UnprocessableEntityError):
    """422, named ``HttpError`` as in the official SDK; also an UnprocessableEntityError."""


@_official_name
class _RateLimitHttpError(HttpError, RateLimitError):
    """429, named ``HttpError`` as in the official SDK; also a RateLimitError."""


@_official_name
class _ServerHttpError(HttpError, _TetherServerError):
    """5xx other than 500, named ``HttpError`` as in the official SDK; also a server error."""


_BY_STATUS: Final[dict[int, type[HttpError]]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    422: _UnprocessableHttpError,
    429: _RateLimitHttpError,
    500: InternalServerError,
}


def error_class(status: int) -> type[HttpError]:
    """The class raised for an HTTP *status* (see the module's table)."""
    found = _BY_STATUS.get(status)
    if found is not None:
        return found
    return _ServerHttpError if status >= 500 else HttpError


def _phrase(status: int) -> str:
    return http.client.responses.get(status, "unknown")


def _fields(status: int, body: Any) -> tuple[Any, Any, Any]:
    """``(error, error_description, error_detail)`` as the official SDK reads a body."""
    phrase = _phrase(status)
    obj = json_object(body)
    if obj is not None:
        raw = json.dumps(obj, ensure_ascii=False)
        return obj.get("error", phrase), obj.get("error_description", raw), obj.get("error_detail")
    if body is None:
        return phrase, "", None
    if isinstance(body, str):
        return phrase, body, None
    return phrase, json.dumps(body, ensure_ascii=False), None


def abeja_error_parser(status: int, body: Any) -> ErrorDetails:
    """Read ``{"error", "error_description", "error_detail"?}`` into :class:`ErrorDetails`."""
    error, description, _ = _fields(status, body)
    message = str(description) if description else str(error)
    return ErrorDetails(
        message=message or _phrase(status), cause=None if error is None else str(error)
    )


def abeja_error(exc: APIStatusError) -> HttpError:
    """The ABEJA error for a tether status error (same request, body, headers, retry hint)."""
    if isinstance(exc, HttpError):
        return exc
    error, description, detail = _fields(exc.status, exc.body)
    cls = error_class(exc.status)
    return cls(
        error,
        description,
        detail,
        exc.status,
        exc.request.url if exc.request is not None else None,
        request=exc.request,
        body=exc.body,
        request_id=exc.request_id,
        retry_after=exc.retry_after,
        headers=exc.headers,
    )
