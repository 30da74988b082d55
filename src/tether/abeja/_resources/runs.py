"""Runs of a deployment: create, retrieve, list, logs, recent logs, wait, follow logs."""

from __future__ import annotations

import asyncio
import builtins
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from tether._core.blocking import Facade, iterate
from tether._core.errors import (
    APIError,
    APIStatusError,
    JobTimeoutError,
    ResponseDecodeError,
    ValidationError,
)
from tether._core.http import NOT_GIVEN, Response
from tether._core.jobs import (
    BlockingJob,
    BlockingJobMethod,
    Job,
    JobMethod,
    JobState,
    JobStatus,
    PollPolicy,
    Progress,
    ResumeToken,
)
from tether._core.models import json_object
from tether._core.pagination import AsyncPager, Page, Pager
from tether._core.resource import AsyncResource, path, response_json
from tether.abeja._errors import abeja_error
from tether.abeja.models import LogEvent, Run, RunStatus

if TYPE_CHECKING:
    from tether.abeja._client import AbejaClientBase

__all__ = ["AsyncRuns", "Runs"]

logger = logging.getLogger("tether.abeja")

T = TypeVar("T")

PLATFORM: Final = "abeja"
RUNS: Final = "/organizations/{organization_id}/deployments/{deployment_id}/runs"
RUN: Final = RUNS + "/{run_id}"
MAX_RETRY_COUNT: Final = 9
DEFAULT_POLL: Final = PollPolicy(initial=0.5, factor=1.5, maximum=10.0)
DEFAULT_FOLLOW_POLL: Final = PollPolicy(initial=0.5, factor=1.5, maximum=5.0)
DEFAULT_LOG_TAIL: Final = 10

# Where each status sits on the way to the end (for Progress): SUBMITTED 0 … SUCCEEDED 5.
_ORDER: Final = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED")
_PENDING: Final = frozenset(_ORDER[:4])

ProgressCallback = Callable[[JobState[Run]], Any]


# --- input checks (all before any request) -----------------------------------------------------


def _check_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _check_optional_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {value!r}")
    return value


def _check_retry_count(value: object) -> int | None:
    count = _check_optional_int(value, "retry_count")
    if count is not None and not 0 <= count <= MAX_RETRY_COUNT:
        raise ValidationError(f"retry_count must be from 0 to {MAX_RETRY_COUNT}, got {count}")
    return count


def _check_environment(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"environment must map names to strings, got {value!r}")
    environment: dict[str, str] = {}
    for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(key, str) or not isinstance(item, str):
            raise ValidationError(
                f"environment must map names to strings; {key!r} maps to a {type(item).__name__}"  # pyright: ignore[reportUnknownArgumentType]
            )
        environment[key] = item
    return environment


def _check_operator_map(value: object, name: str) -> dict[str, Any] | str | None:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError(
            f'{name} must look like {{"<operator>:<version>": "<payload>"}}, got {value!r}'
        )
    return dict(value)  # pyright: ignore[reportUnknownArgumentType]


def _check_time(value: object, name: str) -> datetime | None:
    """A time-zone-aware datetime, in UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{name} must be time-zone aware, e.g. datetime(2024, 1, 1, tzinfo=timezone.utc);"
            f" got the naive {value.isoformat()}"
        )
    return value.astimezone(UTC)


def _wire_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")  # the platform's format: whole seconds, UTC


@attrs.frozen
class _Window:
    """A log time window. The platform takes whole seconds; ``exact`` windows ask for the
    seconds around the bounds and drop what falls outside them, so the bounds hold to the
    microsecond. Inexact windows send the bounds cut to the second, as the official SDK does.
    """

    start: datetime | None = None
    end: datetime | None = None
    exact: bool = True

    def params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.start is not None:
            params["start_time"] = _wire_time(self.start)
        if self.end is not None:
            end = self.end
            if self.exact and end.microsecond:
                end = end.replace(microsecond=0) + timedelta(seconds=1)
            params["end_time"] = _wire_time(end)
        return params

    def keep(self, events: builtins.list[LogEvent]) -> builtins.list[LogEvent]:
        if not self.exact or (self.start is None and self.end is None):
            return events
        start, end = self.start, self.end
        return [
            e
            for e in events
            if (start is None or e.timestamp >= start) and (end is None or e.timestamp <= end)
        ]


def _check_window(start_time: object, end_time: object, *, exact: bool = True) -> _Window:
    start = _check_time(start_time, "start_time")
    end = _check_time(end_time, "end_time")
    if start is not None and end is not None and start > end:
        raise ValidationError(
            f"start_time ({start.isoformat()}) is after end_time ({end.isoformat()})"
        )
    return _Window(start, end, exact)


def _check_token(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(f"{name} must be a string, got {type(value).__name__}")


def _check_statuses(status: object) -> frozenset[str] | None:
    if status is None:
        return None
    items: builtins.list[object]
    if isinstance(status, str):
        items = [status]
    elif isinstance(status, Iterable):
        items = builtins.list(status)  # pyright: ignore[reportUnknownArgumentType]
    else:
        raise ValidationError(f"status must be a RunStatus, a name or several, got {status!r}")
    if not items:
        raise ValidationError("status must name at least one run status")
    known = RunStatus.__members__
    wanted: set[str] = set()
    for item in items:
        name = item.upper() if isinstance(item, str) else None
        if name is None or name not in known:
            raise ValidationError(f"unknown run status {item!r}; one of {', '.join(known)}")
        wanted.add(name)
    return frozenset(wanted)


def _check_poll(poll: object) -> PollPolicy | None:
    if poll is None or isinstance(poll, PollPolicy):
        return poll
    raise ValidationError(f"poll must be a PollPolicy, got {type(poll).__name__}")


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def _check_log_tail(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise ValidationError(f"log_tail must be an integer from 0 to 1000, got {value!r}")
    return value


def _nonempty(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- the resource ------------------------------------------------------------------------------


class AsyncRuns(AsyncResource):
    """Runs of a deployment version on the ABEJA Platform.

    Every method takes the deployment first, like the official SDK (without the
    organization, which comes from the client unless ``organization_id=`` is given).

    Example::

        run = await client.runs.create(deployment_id, version_id, environment={"EPOCHS": "3"})
        finished = await client.runs.wait(deployment_id, run.run_id)
        async for event in client.runs.logs(deployment_id, run.run_id):
            print(event.timestamp, event.message)
    """

    _client: AbejaClientBase

    def __init__(self, client: AbejaClientBase) -> None:
        super().__init__(client)

    # -- plumbing -------------------------------------------------------------------------------

    def _organization(self, organization_id: str | None) -> str:
        org = organization_id if organization_id is not None else self._client.organization_id
        if org is None:
            raise ValidationError(
                "no organization id: pass organization_id=... to the client (or this call), or"
                " set ABEJA_ORGANIZATION_ID"
            )
        return _check_id(org, "organization_id")

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
    ) -> Response:
        try:
            return await self._client.http.request(method, url, params=params, json=json)
        except APIStatusError as exc:
            raise abeja_error(exc) from None

    async def _object(
        self, method: str, url: str, params: Mapping[str, Any] | None = None, json: Any = NOT_GIVEN
    ) -> tuple[dict[str, Any], Response]:
        response = await self._send(method, url, params=params, json=json)
        body = response_json(response)
        found = json_object(body)
        if found is None:
            raise ResponseDecodeError(
                f"expected a JSON object, got {type(body).__name__}",
                request=response.request,
                status=response.status,
                body=body,
            )
        return found, response

    def _items(
        self, body: Mapping[str, Any], key: str, type_: type[T], response: Response
    ) -> builtins.list[T]:
        items = body.get(key, [])
        if not isinstance(items, builtins.list):
            raise ResponseDecodeError(
                f"expected a list in {key!r}, got {type(items).__name__}",
                request=response.request,
                status=response.status,
                body=body,
            )
        return self._decode(items, builtins.list[type_], response=response)  # type: ignore[valid-type]

    # -- single requests ------------------------------------------------------------------------

    async def create(
        self,
        deployment_id: str,
        version_id: str,
        *,
        input_data: Mapping[str, str] | str | None = None,
        output_template: Mapping[str, str] | str | None = None,
        distribution: int | None = None,
        retry_count: int | None = None,
        environment: Mapping[str, str] | None = None,
        model_id: str | None = None,
        organization_id: str | None = None,
    ) -> Run:
        """Submit a run of *version_id*; returns it with status ``SUBMITTED``.

        Never replayed: if the answer is lost (a 5xx or a timeout after sending), the error is
        raised and no second run is created. Check :meth:`list` before trying again.

        Args:
            deployment_id: the deployment.
            version_id: the deployment version to run (``"ver-…"``).
            input_data: ``{"<operator>:<version>": "<payload>"}``, e.g.
                ``{"$datalake:1": "<channel_id>/<file_id>"}``.
            output_template: where the output goes, in the same format.
            distribution: the key whose remainder picks the distributed queue.
            retry_count: how many times the platform retries the run, 0–9 (default 5).
            environment: environment variables for the run's code (strings only).
            model_id: a trained model to use (sent as ``{"alias": model_id}``).
            organization_id: overrides the client's organization.
        """
        org = self._organization(organization_id)
        _check_id(deployment_id, "deployment_id")
        _check_id(version_id, "version_id")
        env = _check_environment(environment)
        inputs = _check_operator_map(input_data, "input_data")
        outputs = _check_operator_map(output_template, "output_template")
        retries = _check_retry_count(retry_count)
        spread = _check_optional_int(distribution, "distribution")
        if model_id is not None and not isinstance(model_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValidationError(f"model_id must be a string, got {model_id!r}")
        body: dict[str, Any] = {"version_id": version_id, "environment": env}
        if inputs:
            body["input_data"] = inputs
        if model_id:
            body["models"] = {"alias": model_id}
        if outputs:
            body["output_template"] = outputs
        if retries is not None:
            body["retry_count"] = retries
        if spread is not None:
            body["distribution"] = spread
        url = path(RUNS, organization_id=org, deployment_id=deployment_id)
        data, response = await self._object("POST", url, json=body)
        return self._decode(data, Run, response=response)

    async def retrieve(
        self, deployment_id: str, run_id: str, *, organization_id: str | None = None
    ) -> Run:
        """Fetch one run (its current status)."""
        org = self._organization(organization_id)
        _check_id(deployment_id, "deployment_id")
        _check_id(run_id, "run_id")
        url = path(RUN, organization_id=org, deployment_id=deployment_id, run_id=run_id)
        data, response = await self._object("GET", url)
        return self._decode(data, Run, response=response)

    # -- pagers ---------------------------------------------------------------------------------

    def list(
        self,
        deployment_id: str,
        *,
        scan_forward: bool | None = None,
        status: RunStatus | str | Iterable[RunStatus | str] | None = None,
        next_page_token: str | None = None,
        limit: int | None = None,
        organization_id: str | None = None,
    ) -> AsyncPager[Run]:
        """The deployment's runs, newest first (``scan_forward=True``: oldest first).

        Await it for the first page, iterate it for every run (pages are fetched as you go).

        Args:
            scan_forward: ``True`` for ascending order; ``False`` or ``None`` (the platform's
                default) for descending.
            status: keep only runs in these statuses. The platform has no such filter, so
                tether filters each page as it arrives (a page may then hold fewer runs, and
                pages with none are skipped).
            next_page_token: start at this page (a token from an earlier page).
            limit: stop after this many runs.
            organization_id: overrides the client's organization.

        Example::

            async for run in client.runs.list(deployment_id, status="FAILED", limit=20):
                print(run.run_id, run.created_at)
        """
        org = self._organization(organization_id)
        _check_id(deployment_id, "deployment_id")
        if scan_forward is not None and not isinstance(scan_forward, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValidationError(f"scan_forward must be True, False or None, got {scan_forward!r}")
        wanted = _check_statuses(status)
        first_token = _check_token(next_page_token, "next_page_token")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1  # pyright: ignore[reportUnnecessaryIsInstance]
        ):
            raise ValidationError(f"limit must be a positive integer, got {limit!r}")
        url = path(RUNS, organization_id=org, deployment_id=deployment_id)
        order = None if scan_forward is None else ("True" if scan_forward else "False")

        async def fetch(cursor: Any) -> Page[Run]:
            token: str | None = cursor if cursor is not None else first_token
            while True:
                params: dict[str, str] = {}
                if order is not None:
                    params["scan_forward"] = order  # the spelling the official SDK sends
                if token is not None:
                    params["next_page_token"] = token
                body, response = await self._object("GET", url, params)
                runs = self._items(body, "entries", Run, response)
                following = _nonempty(body.get("next_page_token"))
                if wanted is not None:
                    runs = [r for r in runs if r.status.value in wanted]
                    if not runs and following is not None:
                        token = following
                        continue
                return Page(runs, following, body)

        return AsyncPager(fetch, limit=limit)

    def logs(
        self,
        deployment_id: str,
        run_id: str,
        *,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        next_token: str | None = None,
        organization_id: str | None = None,
    ) -> AsyncPager[LogEvent]:
        """The run's log lines, oldest first, page by page (what is there now).

        Iteration stops at the last page available now; to keep reading while the run goes
        on, use :meth:`follow_logs`.

        Args:
            start_time: an inclusive window of time-zone-aware datetimes. The
            end_time: an inclusive window of time-zone-aware datetimes. The
                platform takes whole seconds; tether asks for the seconds around the bounds
                and drops the lines outside them.
            next_token: start at this page (a token from an earlier page).
            organization_id: overrides the client's organization.
        """
        window = _check_window(start_time, end_time)
        return self._logs(deployment_id, run_id, window, next_token, organization_id)

    def _logs(
        self,
        deployment_id: str,
        run_id: str,
        window: _Window,
        next_token: str | None,
        organization_id: str | None,
    ) -> AsyncPager[LogEvent]:
        org = self._organization(organization_id)
        _check_id(deployment_id, "deployment_id")
        _check_id(run_id, "run_id")
        first_token = _check_token(next_token, "next_token")
        url = path(RUN + "/logs", organization_id=org, deployment_id=deployment_id, run_id=run_id)
        bounds = window.params()

        async def fetch(cursor: Any) -> Page[LogEvent]:
            token = cursor if cursor is not None else first_token
            while True:
                params = {"next_token": token} if token else {}
                body, response = await self._object("GET", url, {**params, **bounds})
                events = self._items(body, "events", LogEvent, response)
                following = _nonempty(body.get("next_token"))
                kept = window.keep(events)
                if events and not kept and following is not None and following != token:
                    token = following  # only lines just outside the window: read on
                    continue
                return Page(kept, following, body)

        return AsyncPager(fetch)

    def recent_logs(
        self,
        deployment_id: str,
        run_id: str,
        *,
        next_forward_token: str | None = None,
        next_backward_token: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        organization_id: str | None = None,
    ) -> AsyncPager[LogEvent]:
        """The run's newest log lines first; iterating walks back towards the oldest.

        Each page holds its events newest first and both tokens (``page["next_forward_token"]``,
        ``page["next_backward_token"]``). With ``next_forward_token`` the pager walks forward
        instead (to lines written later). It stops at the first empty page: the platform keeps
        both tokens at the ends and answers an empty list.

        Args:
            next_forward_token: start at this token and page towards newer lines.
            next_backward_token: start at this token and page towards older lines.
            start_time: an inclusive window of time-zone-aware datetimes (exact to
            end_time: an inclusive window of time-zone-aware datetimes (exact to
                the microsecond, as for :meth:`logs`).
            organization_id: overrides the client's organization.
        """
        window = _check_window(start_time, end_time)
        return self._recent_logs(
            deployment_id, run_id, window, next_forward_token, next_backward_token, organization_id
        )

    def _recent_logs(
        self,
        deployment_id: str,
        run_id: str,
        window: _Window,
        next_forward_token: str | None,
        next_backward_token: str | None,
        organization_id: str | None,
    ) -> AsyncPager[LogEvent]:
        org = self._organization(organization_id)
        _check_id(deployment_id, "deployment_id")
        _check_id(run_id, "run_id")
        forward = _check_token(next_forward_token, "next_forward_token")
        backward = _check_token(next_backward_token, "next_backward_token")
        walk = "next_forward_token" if forward else "next_backward_token"
        url = path(
            RUN + "/recentlogs", organization_id=org, deployment_id=deployment_id, run_id=run_id
        )
        bounds = window.params()

        async def fetch(cursor: Any) -> Page[LogEvent]:
            if cursor is None:
                tokens = (forward, backward)
            else:
                tokens = (cursor, None) if walk == "next_forward_token" else (None, cursor)
            while True:
                params: dict[str, str] = {}
                if tokens[0]:
                    params["next_forward_token"] = tokens[0]
                if tokens[1]:
                    params["next_backward_token"] = tokens[1]
                body, response = await self._object("GET", url, {**params, **bounds})
                events = self._items(body, "events", LogEvent, response)
                following = _nonempty(body.get(walk)) if events else None
                kept = window.keep(events)
                if events and not kept and following is not None:
                    # only lines just outside the window: read on in the same direction
                    tokens = (
                        (following, None) if walk == "next_forward_token" else (None, following)
                    )
                    continue
                return Page(kept, following, body)

        return AsyncPager(fetch)

    # -- waiting --------------------------------------------------------------------------------

    @JobMethod
    async def wait(
        self,
        deployment_id: str,
        run_id: str,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        on_progress: ProgressCallback | None = None,
        log_tail: int = DEFAULT_LOG_TAIL,
        organization_id: str | None = None,
    ) -> Job[Run]:
        """Wait for a run to end: the final :class:`Run` when it ``SUCCEEDED``.

        ``await client.runs.wait(...)`` waits; ``await client.runs.wait.start(...)`` returns
        the :class:`~tether.Job` (status, progress, resume token) without waiting.

        Raises:
            JobFailedError: the run ``FAILED``; ``detail`` is the run and the message ends
                with its last *log_tail* log lines.
            JobTimeoutError: still not ended after *timeout* seconds (default: the client's
                ``wait_timeout``). The run goes on; wait again or look at it later.

        Args:
            timeout: the deadline in seconds.
            poll: how often to check (default: from 0.5 s, growing to 10 s).
            on_progress: called with a :class:`~tether.JobState` on every status change
                (``state.raw_status`` is the ABEJA status, ``state.detail`` the run).
            log_tail: how many of the last log lines to put in the failure (0: none).
            organization_id: overrides the client's organization.

        Example::

            def show(state):
                print(state.raw_status)

            run = await client.runs.wait(deployment_id, run_id, timeout=600, on_progress=show)
        """
        org = self._organization(organization_id)
        _check_id(deployment_id, "deployment_id")
        _check_id(run_id, "run_id")
        limit = _check_timeout(timeout)
        policy = _check_poll(poll)
        tail = _check_log_tail(log_tail)
        job = self._job(org, deployment_id, run_id, timeout=limit, poll=policy, log_tail=tail)
        if on_progress is not None:
            job.on_progress(on_progress)
        return job

    async def resume(self, token: str) -> Job[Run]:
        """Rebuild the :class:`~tether.Job` of a run wait from its ``resume_token``.

        Example::

            job = await client.runs.wait.start(deployment_id, run_id)
            token = job.resume_token                  # store it; later, anywhere:
            run = await (await client.runs.resume(token)).wait(timeout=600)
        """
        parsed = ResumeToken.parse(token, platform=PLATFORM)
        if parsed.kind != "run":
            raise ValidationError(f"a {parsed.kind!r} token does not describe an ABEJA run")
        data = parsed.data
        try:
            org = _check_id(data["organization_id"], "organization_id")
            deployment_id = _check_id(data["deployment_id"], "deployment_id")
            run_id = _check_id(data["run_id"], "run_id")
        except KeyError as exc:
            raise ValidationError(f"resume token lacks {exc.args[0]!r}") from None
        tail = _check_log_tail(data.get("log_tail", DEFAULT_LOG_TAIL))
        return self._job(org, deployment_id, run_id, timeout=None, poll=None, log_tail=tail)

    def _job(
        self,
        org: str,
        deployment_id: str,
        run_id: str,
        *,
        timeout: float | None,
        poll: PollPolicy | None,
        log_tail: int,
    ) -> Job[Run]:
        async def check() -> JobState[Run]:
            run = await self.retrieve(deployment_id, run_id, organization_id=org)
            return await self._state(run, org, deployment_id, log_tail)

        token = ResumeToken(
            platform=PLATFORM,
            kind="run",
            data={
                "organization_id": org,
                "deployment_id": deployment_id,
                "run_id": run_id,
                "log_tail": log_tail,
            },
        )
        return Job(
            check,
            job_id=run_id,
            token=token,
            poll=poll if poll is not None else DEFAULT_POLL,
            timeout=timeout if timeout is not None else self._client.wait_timeout,
            describe=f"run {run_id}",
        )

    async def _state(self, run: Run, org: str, deployment_id: str, log_tail: int) -> JobState[Run]:
        word = run.status.value
        if word == "FAILED":
            error = await self._failure_text(run, org, deployment_id, log_tail)
            return JobState(JobStatus.FAILED, raw_status=word, detail=run, error=error)
        if word in _ORDER:
            step = _ORDER.index(word)
            progress = Progress(current=step, total=len(_ORDER) - 1, message=word)
            if word == "SUCCEEDED":
                return JobState(
                    JobStatus.SUCCEEDED, raw_status=word, result=run, progress=progress, detail=run
                )
            kind = JobStatus.PENDING if word in _PENDING else JobStatus.RUNNING
            return JobState(kind, raw_status=word, progress=progress, detail=run)
        # a status this tether does not know: not an end we can recognise, so keep waiting
        return JobState(
            JobStatus.RUNNING, raw_status=word, progress=Progress(message=word), detail=run
        )

    async def _failure_text(self, run: Run, org: str, deployment_id: str, count: int) -> str:
        if count == 0:
            return "status FAILED"
        try:
            tail = await self._log_tail(org, deployment_id, run.run_id, count)
        except APIError as exc:
            logger.warning("could not read the logs of failed run %s: %s", run.run_id, exc)
            return f"status FAILED (its logs could not be read: {type(exc).__name__})"
        if not tail:
            return "status FAILED (the run wrote no log lines)"
        lines = "\n".join(f"  {event}" for event in tail)
        return f"status FAILED; its last {len(tail)} log line(s):\n{lines}"

    async def _log_tail(
        self, org: str, deployment_id: str, run_id: str, count: int
    ) -> builtins.list[LogEvent]:
        newest_first: builtins.list[LogEvent] = []
        pages = self.recent_logs(deployment_id, run_id, organization_id=org).iter_pages()
        try:
            async for page in pages:
                newest_first.extend(page.items)
                if len(newest_first) >= count:
                    break
        finally:
            aclose = getattr(pages, "aclose", None)  # an async generator: close it now
            if aclose is not None:
                await aclose()
        return builtins.list(reversed(newest_first[:count]))

    # -- following ------------------------------------------------------------------------------

    async def follow_logs(
        self,
        deployment_id: str,
        run_id: str,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        organization_id: str | None = None,
    ) -> AsyncIterator[LogEvent]:
        """Yield the run's log lines as they are written, from the first, until the run ends.

        Each line comes once, in order, with no gaps across pages: the reader follows the
        platform's ``next_token`` (which points at the end of the log while the run is
        unfinished) and, when a page brings nothing new, checks the run and waits a while. It
        stops once the run has ended and its log is read to the end.

        Args:
            timeout: raise :class:`~tether.JobTimeoutError` if the run has not ended after
                this many seconds (default: the client's ``wait_timeout``).
            poll: how long to wait between empty reads (default: from 0.5 s to 5 s).
            organization_id: overrides the client's organization.

        Example::

            async for event in client.runs.follow_logs(deployment_id, run.run_id):
                print(event.message)
        """
        org = self._organization(organization_id)
        _check_id(deployment_id, "deployment_id")
        _check_id(run_id, "run_id")
        limit = _check_timeout(timeout)
        policy = _check_poll(poll) or DEFAULT_FOLLOW_POLL
        seconds = limit if limit is not None else self._client.wait_timeout
        loop = asyncio.get_running_loop()
        ends = loop.time() + seconds
        url = path(RUN + "/logs", organization_id=org, deployment_id=deployment_id, run_id=run_id)
        status = "unknown"

        async def bounded(make: Callable[[], Awaitable[T]]) -> T:
            remaining = ends - loop.time()
            if remaining > 0:
                scope = asyncio.timeout(remaining)
                try:
                    async with scope:
                        return await make()
                except TimeoutError:
                    if not scope.expired():
                        raise  # the request's own timeout (APITimeoutError), not our deadline
            raise JobTimeoutError(
                f"run {run_id} did not end within {seconds}s (last status: {status})",
                job_id=run_id,
                status=status,
            )

        token: str | None = None  # where the next read starts
        seen_here = 0  # lines already yielded from a read at ``token``
        idle = 0
        ended = False
        while True:
            params = {"next_token": token} if token else {}
            body, response = await bounded(functools.partial(self._object, "GET", url, params))
            events = self._items(body, "events", LogEvent, response)
            fresh = events[seen_here:]
            following = _nonempty(body.get("next_token"))
            if following is not None and following != token:
                token, seen_here = following, 0
            else:
                seen_here = max(seen_here, len(events))  # same place: those lines are seen
            for event in fresh:
                yield event
            if fresh and following is not None:
                idle = 0
                continue  # more pages may be waiting: read on at once
            if ended:
                return  # the run had ended before this read, and nothing more came
            run = await bounded(lambda: self.retrieve(deployment_id, run_id, organization_id=org))
            status = run.status.value
            if run.status.done:
                ended = True  # one more read collects what was written before the end
                continue
            delay = policy.delay(idle)
            idle += 1
            await bounded(functools.partial(asyncio.sleep, delay))


class Runs(Facade[AsyncRuns], mirrors=AsyncRuns):
    """Blocking twin of :class:`AsyncRuns`.

    Example::

        run = client.runs.create(deployment_id, version_id)
        finished = client.runs.wait(deployment_id, run.run_id)
        for event in client.runs.follow_logs(deployment_id, run.run_id):
            print(event.message)
    """

    wait = BlockingJobMethod(AsyncRuns.wait)

    def create(
        self,
        deployment_id: str,
        version_id: str,
        *,
        input_data: Mapping[str, str] | str | None = None,
        output_template: Mapping[str, str] | str | None = None,
        distribution: int | None = None,
        retry_count: int | None = None,
        environment: Mapping[str, str] | None = None,
        model_id: str | None = None,
        organization_id: str | None = None,
    ) -> Run:
        """Submit a run of *version_id*; returns it with status ``SUBMITTED``.

        Never replayed: if the answer is lost (a 5xx or a timeout after sending), the error is
        raised and no second run is created. Check :meth:`list` before trying again.

        Args:
            deployment_id: the deployment.
            version_id: the deployment version to run (``"ver-…"``).
            input_data: ``{"<operator>:<version>": "<payload>"}``, e.g.
                ``{"$datalake:1": "<channel_id>/<file_id>"}``.
            output_template: where the output goes, in the same format.
            distribution: the key whose remainder picks the distributed queue.
            retry_count: how many times the platform retries the run, 0–9 (default 5).
            environment: environment variables for the run's code (strings only).
            model_id: a trained model to use (sent as ``{"alias": model_id}``).
            organization_id: overrides the client's organization.
        """
        return self._run(
            self._wrapped.create,
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

    def retrieve(
        self, deployment_id: str, run_id: str, *, organization_id: str | None = None
    ) -> Run:
        """Fetch one run (its current status)."""
        return self._run(
            self._wrapped.retrieve, deployment_id, run_id, organization_id=organization_id
        )

    def list(
        self,
        deployment_id: str,
        *,
        scan_forward: bool | None = None,
        status: RunStatus | str | Iterable[RunStatus | str] | None = None,
        next_page_token: str | None = None,
        limit: int | None = None,
        organization_id: str | None = None,
    ) -> Pager[Run]:
        """The deployment's runs, newest first (``scan_forward=True``: oldest first).

        Iterate it for every run; ``first_page()`` for one page.

        Args:
            scan_forward: ``True`` for ascending order; ``False`` or ``None`` (the platform's
                default) for descending.
            status: keep only runs in these statuses. The platform has no such filter, so
                tether filters each page as it arrives (a page may then hold fewer runs, and
                pages with none are skipped).
            next_page_token: start at this page (a token from an earlier page).
            limit: stop after this many runs.
            organization_id: overrides the client's organization.
        """
        return Pager(
            self._wrapped.list(
                deployment_id,
                scan_forward=scan_forward,
                status=status,
                next_page_token=next_page_token,
                limit=limit,
                organization_id=organization_id,
            )
        )

    def logs(
        self,
        deployment_id: str,
        run_id: str,
        *,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        next_token: str | None = None,
        organization_id: str | None = None,
    ) -> Pager[LogEvent]:
        """The run's log lines, oldest first, page by page (what is there now).

        Iteration stops at the last page available now; to keep reading while the run goes
        on, use :meth:`follow_logs`.

        Args:
            start_time: an inclusive window of time-zone-aware datetimes. The
            end_time: an inclusive window of time-zone-aware datetimes. The
                platform takes whole seconds; tether asks for the seconds around the bounds
                and drops the lines outside them.
            next_token: start at this page (a token from an earlier page).
            organization_id: overrides the client's organization.
        """
        return Pager(
            self._wrapped.logs(
                deployment_id,
                run_id,
                start_time=start_time,
                end_time=end_time,
                next_token=next_token,
                organization_id=organization_id,
            )
        )

    def recent_logs(
        self,
        deployment_id: str,
        run_id: str,
        *,
        next_forward_token: str | None = None,
        next_backward_token: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        organization_id: str | None = None,
    ) -> Pager[LogEvent]:
        """The run's newest log lines first; iterating walks back towards the oldest.

        Each page holds its events newest first and both tokens (``page["next_forward_token"]``,
        ``page["next_backward_token"]``). With ``next_forward_token`` the pager walks forward
        instead (to lines written later). It stops at the first empty page: the platform keeps
        both tokens at the ends and answers an empty list.

        Args:
            next_forward_token: start at this token and page towards newer lines.
            next_backward_token: start at this token and page towards older lines.
            start_time: an inclusive window of time-zone-aware datetimes (exact to
            end_time: an inclusive window of time-zone-aware datetimes (exact to
                the microsecond, as for :meth:`logs`).
            organization_id: overrides the client's organization.
        """
        return Pager(
            self._wrapped.recent_logs(
                deployment_id,
                run_id,
                next_forward_token=next_forward_token,
                next_backward_token=next_backward_token,
                start_time=start_time,
                end_time=end_time,
                organization_id=organization_id,
            )
        )

    def resume(self, token: str) -> BlockingJob[Run]:
        """Rebuild the :class:`~tether.BlockingJob` of a run wait from its ``resume_token``."""
        return BlockingJob(self._run(self._wrapped.resume, token))

    def follow_logs(
        self,
        deployment_id: str,
        run_id: str,
        *,
        timeout: float | None = None,
        poll: PollPolicy | None = None,
        organization_id: str | None = None,
    ) -> Iterator[LogEvent]:
        """Yield the run's log lines as they are written, from the first, until the run ends.

        Each line comes once, in order, with no gaps across pages. Breaking out of the loop
        stops the reading.

        Args:
            timeout: raise :class:`~tether.JobTimeoutError` if the run has not ended after
                this many seconds (default: the client's ``wait_timeout``).
            poll: how long to wait between empty reads (default: from 0.5 s to 5 s).
            organization_id: overrides the client's organization.
        """
        return iterate(
            self._wrapped.follow_logs(
                deployment_id,
                run_id,
                timeout=timeout,
                poll=poll,
                organization_id=organization_id,
            )
        )
