"""Errors of the Ratio1 session.

Everything derives from :class:`Ratio1Error` (a :class:`tether.TetherError`); confirmation
timeouts are also :class:`tether.JobTimeoutError` and confirmation failures
:class:`tether.JobFailedError`, so generic job handling keeps working::

    try:
        await pipeline.deploy(timeout=5)
    except DeployTimeoutError as exc:
        print("not confirmed:", exc.missing)   # the proposal is kept: deploy() again
    except DeployFailedError as exc:
        print("refused:", exc.reason)

Bad input (a malformed address, an unknown web-app signature, a config that is not JSON) raises
:class:`tether.ValidationError` before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tether._core.errors import JobFailedError, JobTimeoutError, TetherError

__all__ = [
    "CloseFailedError",
    "CloseTimeoutError",
    "CommandFailedError",
    "CommandTimeoutError",
    "ConfirmationFailedError",
    "ConfirmationTimeoutError",
    "DeployFailedError",
    "DeployTimeoutError",
    "NodeOfflineError",
    "PipelineNotFoundError",
    "Ratio1Error",
    "ResponseTimeoutError",
    "SessionClosedError",
]


class Ratio1Error(TetherError):
    """Root of the Ratio1 session errors."""


class SessionClosedError(Ratio1Error, RuntimeError):
    """The session (or the pipeline) was closed; create a new one."""


class NodeOfflineError(Ratio1Error):
    """The node was not seen online (heartbeat or NET_MON) within the online window.

    Attributes:
        node: the node as given (address, alias or ETH address).
    """

    def __init__(self, message: str, *, node: str) -> None:
        super().__init__(message)
        self.node = node


class PipelineNotFoundError(Ratio1Error):
    """The node does not report the pipeline (no ``SET_CONFIG`` lists it).

    Attributes:
        node: the node address.
        pipeline: the pipeline name.
    """

    def __init__(self, message: str, *, node: str, pipeline: str) -> None:
        super().__init__(message)
        self.node = node
        self.pipeline = pipeline


class ConfirmationTimeoutError(JobTimeoutError, Ratio1Error):
    """The node did not confirm in time. Nothing was rolled back: retrying resends.

    Attributes:
        missing: the confirmations that did not arrive (``"PLUGIN_CONFIG_OK p/SIG/inst"``...).
    """

    def __init__(
        self,
        message: str,
        *,
        missing: Sequence[str] = (),
        job_id: str | None = None,
        status: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message, job_id=job_id, status=status, detail=detail)
        self.missing: tuple[str, ...] = tuple(missing)


class ConfirmationFailedError(JobFailedError, Ratio1Error):
    """The node answered with a failure code (``-1``, ``-100``, ``-101``, ``-4``...).

    Attributes:
        code: the failure code received.
        reason: the node's explanation (``NOTIFICATION`` or ``INFO``).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str | None = None,
        job_id: str | None = None,
        status: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message, job_id=job_id, status=status, detail=detail)
        self.code = code
        self.reason = reason


class DeployTimeoutError(ConfirmationTimeoutError):
    """A deploy was not confirmed in time; the proposal is kept, ``deploy()`` again resends it."""


class DeployFailedError(ConfirmationFailedError):
    """The node refused a deploy (``PIPELINE_FAILED`` / ``PLUGIN_CONFIG_FAILED``)."""


class CommandTimeoutError(ConfirmationTimeoutError):
    """An instance command was not confirmed (codes 1 + 101) in time."""


class CommandFailedError(ConfirmationFailedError):
    """The node refused an instance command (``-1`` / ``-101``)."""


class CloseTimeoutError(ConfirmationTimeoutError):
    """``ARCHIVE_CONFIG`` was not confirmed (code 4) in time."""


class CloseFailedError(ConfirmationFailedError):
    """The node could not archive the pipeline (``PIPELINE_ARCHIVE_FAILED``)."""


class ResponseTimeoutError(ConfirmationTimeoutError):
    """Confirmed, but the awaited payload (command response, ``wait_exec`` result, web-app URL)
    did not arrive in time."""
