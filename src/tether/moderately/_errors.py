"""Errors specific to Moderately AI, and the parser of its error envelope."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from tether._core.errors import APIError, JobCancelledError, JobError, JobFailedError
from tether._core.http import ErrorDetails
from tether._core.models import json_object

__all__ = [
    "ExecutionCancelledError",
    "ExecutionFailedError",
    "ExecutionPausedError",
    "UploadError",
    "moderately_error_parser",
]


def moderately_error_parser(status: int, body: Any) -> ErrorDetails:
    """Read the platform's error envelope.

    The spec's shape is ``{"error": {"code", "message", "details", "requestId", ...}}``; a flat
    ``{"message", "code", "details"}`` is read too. Field errors in ``details``
    (``[{"field", "message"}]``) become the cause: ``"fileHash: must be a SHA-256 hex digest"``.
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "HTTP error"
    outer = json_object(body)
    if outer is None:
        text = body.strip() if isinstance(body, str) else ""
        return ErrorDetails(message=phrase, cause=text[:300] or None)
    envelope = json_object(outer.get("error")) or outer
    message = envelope.get("message")
    code = envelope.get("code")
    request_id = envelope.get("requestId")
    cause_parts: list[str] = []
    if isinstance(code, str) and code:
        cause_parts.append(code)
    details = envelope.get("details")
    if isinstance(details, list):
        for item in details[:5]:  # pyright: ignore[reportUnknownVariableType]
            entry = json_object(item)
            if entry is not None and "field" in entry:
                cause_parts.append(f"{entry.get('field')}: {entry.get('message')}")
    return ErrorDetails(
        message=message if isinstance(message, str) and message else phrase,
        cause="; ".join(cause_parts) or None,
        request_id=request_id if isinstance(request_id, str) else None,
    )


class UploadError(APIError):
    """An upload did not complete. Says exactly what is left on the platform.

    The original error is its ``__cause__``.

    Attributes:
        stage: where it failed: ``"register"`` (nothing was created), ``"transfer"`` (the
            bytes did not reach storage) or ``"complete"`` (stored, but not confirmed).
        file_id: the file that was registered, when one was.
        data_version_id: the dataset data version that was created, when one was.
        state: what is left: ``"nothing"`` (nothing was registered, or the registered
            file was deleted), ``"pending"`` (a pending file remains: the cleanup failed),
            ``"incomplete"`` (a data version remains un-completed; the API has no way to
            delete it, and it never becomes current), ``"failed"`` (a file the platform
            marked failed remains: the cleanup failed), ``"unknown"`` (the cleanup and the
            check after it both failed).
        status: the HTTP status of the failure, when it was an error status.
    """

    def __init__(
        self,
        message: str,
        *,
        stage: str,
        state: str,
        file_id: str | None = None,
        data_version_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.stage = stage
        self.state = state
        self.file_id = file_id
        self.data_version_id = data_version_id


class ExecutionFailedError(JobFailedError):
    """A pipeline or agent execution failed; ``error`` is the platform's reason.

    ``detail`` is the final execution model.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        status: str | None = None,
        detail: Any = None,
        error: str | None = None,
    ) -> None:
        super().__init__(message, job_id=job_id, status=status, detail=detail)
        self.error = error


class ExecutionCancelledError(JobCancelledError):
    """A pipeline or agent execution was cancelled; ``detail`` is the final execution model."""


class ExecutionPausedError(JobError):
    """An execution stayed ``paused`` longer than the wait's ``paused_timeout``.

    The execution is still paused on the platform (resume it and wait again);
    ``paused_for`` is how long this wait saw it paused, in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        detail: Any = None,
        paused_for: float = 0.0,
    ) -> None:
        super().__init__(message, job_id=job_id, status="paused", detail=detail)
        self.paused_for = paused_for
