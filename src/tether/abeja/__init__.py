"""ABEJA Platform runs: a typed async client, its blocking twin, and a drop-in for the SDK.

- :class:`AsyncAbeja` / :class:`Abeja`: typed models (:class:`Run`, :class:`LogEvent`), pagers,
  ``runs.wait(...)`` (a :class:`~tether.Job`) and ``runs.follow_logs(...)``.
- :class:`APIClient` / :class:`AsyncAPIClient`: the official ``abeja.runs.APIClient`` API
  (same constructor, methods and dicts), built on the typed client. Migrate with one import.

Example::

    from tether.abeja import AsyncAbeja

    async with AsyncAbeja(organization_id="1111111111111") as client:   # credentials from env
        run = await client.runs.create("2222222222222", "ver-1111111111111111")
        run = await client.runs.wait("2222222222222", run.run_id)
        print(run.status)
"""

from tether.abeja._client import Abeja, AsyncAbeja
from tether.abeja._compat import APIClient, AsyncAPIClient
from tether.abeja._config import Credential
from tether.abeja._errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HttpError,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    error_class,
)
from tether.abeja._resources.runs import AsyncRuns, Runs
from tether.abeja.models import TERMINAL_STATUSES, LogEvent, Run, RunStatus

__all__ = [
    "TERMINAL_STATUSES",
    "APIClient",
    "Abeja",
    "AsyncAPIClient",
    "AsyncAbeja",
    "AsyncRuns",
    "BadRequest",
    "Conflict",
    "Credential",
    "Forbidden",
    "HttpError",
    "InternalServerError",
    "LogEvent",
    "MethodNotAllowed",
    "NotFound",
    "Run",
    "RunStatus",
    "Runs",
    "Unauthorized",
    "error_class",
]
