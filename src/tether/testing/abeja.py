"""In-process simulator of the ABEJA Platform Run API (the five run endpoints).

The simulator is an aiohttp.web server on loopback with in-memory state. It answers exactly
like the reference (``shared/reference/abeja-runs.md``): the same paths, status codes, error
bodies (``{"error", "error_description", "error_detail"?}``), authentication schemes, token
pagination and run status machine, so the official ``abeja-sdk`` and tether's client can both
be pointed at it.

Runs move ``SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING → SUCCEEDED | FAILED``. Each
*step* moves every unfinished run one status along; a run stays ``RUNNING`` for
``running_steps`` steps and writes ``log_lines_per_step`` log lines on each of them. Steps
happen every ``step_seconds`` of wall time, on :meth:`Simulator.advance`, or on polls
(``advance_on_poll``).

Example::

    from tether.testing.abeja import Simulator

    async with Simulator(step_seconds=None, seed=1) as sim:
        ...  # point a client at sim.url with sim.credential
        sim.advance(sim.steps_to_finish)  # every run is now SUCCEEDED
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Final, Literal, cast

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler

from tether.testing._base import SimulatorBase

__all__ = [
    "STATUSES",
    "TERMINAL_STATUSES",
    "RecordedRequest",
    "Simulator",
]

STATUSES: Final[tuple[str, ...]] = (
    "SUBMITTED",
    "PENDING",
    "RUNNABLE",
    "STARTING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
)
"""Every run status, in the documented order."""

TERMINAL_STATUSES: Final[frozenset[str]] = frozenset({"SUCCEEDED", "FAILED"})
"""Statuses a run never leaves."""

Outcome = Literal["SUCCEEDED", "FAILED"]
RunPredicate = Callable[[dict[str, Any]], bool]

_PRE_RUNNING: Final = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING")
_SECRET_HEADERS: Final = frozenset({"authorization", "cookie", "proxy-authorization"})
_DEFAULT_RETRY_COUNT: Final = 5


@attrs.frozen
class RecordedRequest:
    """One request the simulator received, with secrets redacted.

    Unpacks like the tuple ``(method, path, headers, body)``; ``query`` and ``status`` (the
    status the simulator answered with) are attributes.

    Example::

        posts = [r for r in sim.requests if r.method == "POST"]
        method, path, headers, body = sim.requests[0]
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    query: Mapping[str, str]
    status: int

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.headers, self.body))


@attrs.define
class _Event:
    timestamp: datetime
    message: str


@attrs.define
class _Run:
    seq: int
    run_id: str
    organization_id: str
    deployment_id: str
    version_id: str
    version_name: str
    models: dict[str, str]
    input_data: Any
    output_template: Any
    retry_count: int
    distribution: int | None
    environment: dict[str, str]
    status: str
    created_at: datetime
    modified_at: datetime
    running_ticks: int = 0
    events: list[_Event] = attrs.Factory(list[_Event])


@attrs.define
class _Deployment:
    accessible: bool
    versions: dict[str, str]
    runs: list[_Run] = attrs.Factory(list[_Run])


@attrs.define
class _Organization:
    accessible: bool
    deployments: dict[str, _Deployment] = attrs.Factory(dict[str, _Deployment])


@attrs.define
class _Fault:
    kind: Literal["fail", "rate", "slow"]
    remaining: int
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0
    path_prefix: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


class _ApiError(Exception):
    """An error answer: becomes ``{"error", "error_description", "error_detail"?}``."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.error, "error_description": self.description}
        if self.detail is not None:
            body["error_detail"] = self.detail
        return web.json_response(body, status=self.status, headers=self.headers)


def _bad_request(description: str, detail: Any = None) -> _ApiError:
    return _ApiError(400, "bad_request", description, detail)


def _not_found(what: str, key: str, value: str) -> _ApiError:
    return _ApiError(404, "not_found", f"{what} not found", {key: [f"unknown {what}: {value}"]})


def _error_name(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "error"
    return phrase.lower().replace(" ", "_").replace("-", "_")


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(raw: str, name: str) -> datetime:
    text = raw.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _bad_request(
            f"{name} must look like YYYY-MM-DDTHH:MM:SS", {name: ["invalid datetime"]}
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _encode_token(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.b64encode(raw).decode("ascii")


def _decode_token(raw: str, name: str, kind: str, owner: str) -> int:
    """Return the position a token points at; 400 if it is not ours."""
    invalid = _bad_request(f"invalid {name}", {name: ["invalid token"]})
    try:
        payload: Any = json.loads(base64.b64decode(raw.encode("ascii"), validate=True))
    except (ValueError, UnicodeError, binascii.Error):
        raise invalid from None
    if not isinstance(payload, dict):
        raise invalid
    token = cast("dict[str, Any]", payload)
    position = token.get("p")
    if token.get("t") != kind or token.get("o") != owner or type(position) is not int:
        raise invalid
    return position


def _is_str_map(value: object) -> bool:
    if not isinstance(value, dict):
        return False
    pairs: list[tuple[object, object]] = list(cast("dict[object, object]", value).items())
    return all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)


def _is_plain_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Simulator(SimulatorBase):
    """ABEJA Platform Run API simulator (aiohttp.web on loopback, in-memory state).

    Args:
        host: where to listen (port 0: the kernel picks one; read :attr:`url`).
        port: where to listen (port 0: the kernel picks one; read :attr:`url`).
        organization_id: the organization,
        deployment_id: the organization,
        version_id: the organization,
        version_name: the organization,
            deployment and deployment version that exist from the start.
        user_id: accepted as ``Basic base64("user-<id>:<pat>")``.
        personal_access_token: accepted as ``Basic base64("user-<id>:<pat>")``.
        auth_token: accepted as ``Bearer <auth_token>``.
        datasource_id: accepted as ``Basic base64("datasource-<id>:<s>")``.
        datasource_secret: accepted as ``Basic base64("datasource-<id>:<s>")``.
        seed: seeds the run-id generator (``run-`` + 16 digits) for deterministic ids.
        id_factory: a callable returning run ids; overrides ``seed``.
        epoch: when given, timestamps come from a deterministic clock starting there: each
            step adds ``step_seconds`` (1 s when manual) and each recorded change adds 1 ms.
            Without it, timestamps are wall-clock UTC.
        step_seconds: wall-clock seconds between automatic steps; ``None`` means runs only
            move on :meth:`advance` (or on polls, see ``advance_on_poll``).
        advance_on_poll: steps a run takes each time ``GET …/runs/{run_id}`` reads it.
        running_steps: steps a run spends in ``RUNNING`` before it finishes (at least 1).
        log_lines_per_step: log lines a run writes on each ``RUNNING`` step.
        page_size: runs per ``GET …/runs`` page.
        log_page_size: events per ``…/logs`` and ``…/recentlogs`` page.
        default_outcome: how runs finish unless :meth:`set_outcome` says otherwise.
        input_data_as_string: answer ``input_data`` as a JSON-encoded string (the form the
            upstream test fixture uses) instead of an object.

    Example::

        async with Simulator(step_seconds=None, seed=7) as sim:
            sim.fail_next(1, status=503, retry_after=0)
            sim.set_outcome(lambda run: run["user_env_vars"].get("FAIL") == "1", "FAILED")
            sim.advance(sim.steps_to_finish)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        organization_id: str = "1111111111111",
        deployment_id: str = "2222222222222",
        version_id: str = "ver-1111111111111111",
        version_name: str = "0.0.1",
        user_id: str = "1234567890123",
        personal_access_token: str = "sim-personal-access-token",
        auth_token: str = "sim-platform-auth-token",
        datasource_id: str = "3333333333333",
        datasource_secret: str = "sim-datasource-secret",
        seed: int | None = None,
        id_factory: Callable[[], str] | None = None,
        epoch: datetime | None = None,
        step_seconds: float | None = 1.0,
        advance_on_poll: int = 0,
        running_steps: int = 2,
        log_lines_per_step: int = 3,
        page_size: int = 10,
        log_page_size: int = 10,
        default_outcome: Outcome = "SUCCEEDED",
        input_data_as_string: bool = False,
    ) -> None:
        if step_seconds is not None and step_seconds <= 0:
            raise ValueError("step_seconds must be positive or None")
        if running_steps < 1:
            raise ValueError("running_steps must be at least 1")
        if log_lines_per_step < 0 or advance_on_poll < 0:
            raise ValueError("log_lines_per_step and advance_on_poll must not be negative")
        if page_size < 1 or log_page_size < 1:
            raise ValueError("page_size and log_page_size must be at least 1")
        _check_outcome(default_outcome)
        self.host = host
        self.port = port
        self.organization_id = organization_id
        self.deployment_id = deployment_id
        self.version_id = version_id
        self.user_id = user_id.removeprefix("user-")
        self.personal_access_token = personal_access_token
        self.auth_token = auth_token
        self.datasource_id = datasource_id.removeprefix("datasource-")
        self.datasource_secret = datasource_secret
        self.step_seconds = step_seconds
        self.advance_on_poll = advance_on_poll
        self.running_steps = running_steps
        self.log_lines_per_step = log_lines_per_step
        self.page_size = page_size
        self.log_page_size = log_page_size
        self.default_outcome: Outcome = default_outcome
        self.input_data_as_string = input_data_as_string

        self._rng = random.Random(seed)
        self._id_factory = id_factory
        self._epoch = None if epoch is None else _as_utc(epoch)
        self._tick = timedelta(seconds=step_seconds if step_seconds is not None else 1.0)
        self._steps_taken = 0
        self._changes = 0
        self._last_wall = datetime.min.replace(tzinfo=UTC)

        self._lock = threading.RLock()
        self._orgs: dict[str, _Organization] = {}
        self._runs: dict[str, _Run] = {}
        self._seq = 0
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self._outcome_by_id: dict[str, Outcome] = {}
        self._outcome_rules: list[tuple[RunPredicate, Outcome]] = []

        self.add_organization(organization_id)
        self.add_deployment(deployment_id, versions={version_id: version_name})

        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None

    def __repr__(self) -> str:
        where = self._url or "not started"
        return f"<abeja Simulator {where} organization={self.organization_id}>"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Begin serving on ``host:port``; returns once connections are accepted."""
        if self._runner is not None:
            return
        self._closing = asyncio.Event()
        runner = web.AppRunner(self._build_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        bound: Any = runner.addresses[0]
        self.port = int(bound[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{host}:{self.port}"
        self._runner = runner
        if self.step_seconds is not None:
            self._ticker = asyncio.create_task(self._tick_forever(self.step_seconds))

    async def stop(self) -> None:
        """Stop serving, wake delayed responses and release the socket. Idempotent."""
        runner, self._runner = self._runner, None
        ticker, self._ticker = self._ticker, None
        if self._closing is not None:
            self._closing.set()
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if runner is not None:
            await runner.cleanup()

    def info(self) -> dict[str, str]:
        """Where to reach the simulator and the credentials it accepts, as env-style pairs.

        ``ABEJA_API_URL`` must be in the environment before ``abeja`` is first imported;
        ``ABEJA_PLATFORM_USER_ID`` / ``ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN`` are what the
        official SDK reads when no ``credential=`` is passed. The organization, deployment
        and version ids are the ones to pass to the run methods.
        """
        return {
            "URL": self.url,
            "ABEJA_API_URL": self.url,
            "ABEJA_ORGANIZATION_ID": self.organization_id,
            "ABEJA_DEPLOYMENT_ID": self.deployment_id,
            "ABEJA_VERSION_ID": self.version_id,
            "ABEJA_PLATFORM_USER_ID": self.user_id,
            "ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN": self.personal_access_token,
        }

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        if self._url is None:
            raise RuntimeError("the simulator is not started")
        return self._url

    @property
    def credential(self) -> dict[str, str]:
        """A fresh ``credential=`` dict (user id + personal access token) for the SDKs."""
        return {"user_id": self.user_id, "personal_access_token": self.personal_access_token}

    @property
    def steps_to_finish(self) -> int:
        """Steps a new run needs to reach a terminal status."""
        return len(_PRE_RUNNING) + self.running_steps

    # ------------------------------------------------------------------ world setup

    def add_organization(self, organization_id: str, *, accessible: bool = True) -> None:
        """Create an organization; ``accessible=False`` makes its paths answer 403."""
        with self._lock:
            if organization_id in self._orgs:
                raise ValueError(f"organization {organization_id} already exists")
            self._orgs[organization_id] = _Organization(accessible=accessible)

    def add_deployment(
        self,
        deployment_id: str,
        *,
        organization_id: str | None = None,
        versions: Mapping[str, str] | None = None,
        accessible: bool = True,
    ) -> None:
        """Create a deployment with ``versions`` (version id → version name).

        ``organization_id`` defaults to the simulator's organization; ``accessible=False``
        makes the deployment's paths answer 403.
        """
        with self._lock:
            org = self._orgs.get(organization_id or self.organization_id)
            if org is None:
                raise ValueError(f"unknown organization {organization_id}")
            if deployment_id in org.deployments:
                raise ValueError(f"deployment {deployment_id} already exists")
            org.deployments[deployment_id] = _Deployment(
                accessible=accessible, versions=dict(versions or {})
            )

    # ------------------------------------------------------------------ inspection

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """Every run by id, as ``GET …/runs/{run_id}`` would answer it (a snapshot)."""
        with self._lock:
            return {run_id: self._run_json(run) for run_id, run in self._runs.items()}

    def run_logs(self, run_id: str) -> list[dict[str, str]]:
        """Every log event of ``run_id`` so far, oldest first (a snapshot)."""
        with self._lock:
            return [self._event_json(event) for event in self._runs[run_id].events]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first, with secrets redacted (a copy)."""
        with self._lock:
            return list(self._requests)

    def count_requests(self, method: str | None = None, path_prefix: str | None = None) -> int:
        """How many requests matched ``method`` (any if ``None``) and ``path_prefix``."""
        with self._lock:
            return sum(
                1
                for r in self._requests
                if (method is None or r.method == method.upper())
                and (path_prefix is None or r.path.startswith(path_prefix))
            )

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._requests.clear()

    # ------------------------------------------------------------------ control

    def advance(self, steps: int = 1, *, run_id: str | None = None) -> None:
        """Move every unfinished run (or only ``run_id``) ``steps`` statuses along.

        Example: ``sim.advance(sim.steps_to_finish)`` finishes every run.
        """
        if steps < 0:
            raise ValueError("steps must not be negative")
        with self._lock:
            if run_id is not None and run_id not in self._runs:
                raise KeyError(run_id)
            for _ in range(steps):
                self._steps_taken += 1
                targets = [self._runs[run_id]] if run_id is not None else self._runs.values()
                for run in list(targets):
                    self._step(run)

    def set_outcome(self, run: str | RunPredicate, outcome: Outcome) -> None:
        """Decide how a run finishes: by run id, or for every run a predicate accepts.

        The predicate receives the run as the API shows it. Later rules win over earlier
        ones; a run-id rule wins over predicates.

        Example: ``sim.set_outcome(lambda r: r["retry_count"] == 0, "FAILED")``.
        """
        _check_outcome(outcome)
        with self._lock:
            if isinstance(run, str):
                existing = self._runs.get(run)
                if existing is not None and existing.status in TERMINAL_STATUSES:
                    if existing.status != outcome:
                        raise ValueError(f"run {run} already finished as {existing.status}")
                    return
                self._outcome_by_id[run] = outcome
            else:
                self._outcome_rules.append((run, outcome))

    def fail_next(
        self,
        n: int,
        status: int = 500,
        path_prefix: str | None = None,
        *,
        method: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` and a JSON error body.

        The request is not processed. ``Retry-After`` is sent only when ``retry_after`` is
        given (the official SDK then waits that long instead of its backoff).
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be a 4xx or 5xx code")
        self._add_fault(
            _Fault("fail", _positive(n), status=status, retry_after=retry_after),
            path_prefix,
            method,
        )

    def rate_limit_next(
        self,
        n: int,
        retry_after: float = 1,
        path_prefix: str | None = None,
        *,
        method: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with 429 and ``Retry-After``."""
        self._add_fault(
            _Fault("rate", _positive(n), status=429, retry_after=retry_after), path_prefix, method
        )

    def slow_next(
        self,
        n: int,
        seconds: float,
        path_prefix: str | None = None,
        *,
        method: str | None = None,
    ) -> None:
        """Process the next ``n`` matching requests, then hold each answer ``seconds``.

        The work is done before the delay, so a client that times out and retries a POST
        creates a second run, as the platform would.
        """
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        self._add_fault(_Fault("slow", _positive(n), seconds=seconds), path_prefix, method)

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def _add_fault(self, fault: _Fault, path_prefix: str | None, method: str | None) -> None:
        fault.path_prefix = path_prefix
        fault.method = None if method is None else method.upper()
        with self._lock:
            self._faults.append(fault)

    # ------------------------------------------------------------------ state machine

    def _now(self, *, change: bool = True) -> datetime:
        if self._epoch is not None:
            if change:
                self._changes += 1
            return (
                self._epoch + self._tick * self._steps_taken + timedelta(milliseconds=self._changes)
            )
        wall = datetime.now(UTC)
        if change:
            if wall <= self._last_wall:
                wall = self._last_wall + timedelta(microseconds=1)
            self._last_wall = wall
        return wall

    def _step(self, run: _Run) -> None:
        if run.status in TERMINAL_STATUSES:
            return
        if run.status == "RUNNING":
            if run.running_ticks < self.running_steps:
                run.running_ticks += 1
                self._write_lines(run)
                return
            outcome = self._resolve_outcome(run)
            self._set_status(run, outcome)
            if outcome == "FAILED":
                self._log(run, "ERROR: user code exited with status 1 (simulated failure)")
            return
        self._set_status(run, STATUSES[STATUSES.index(run.status) + 1])
        if run.status == "RUNNING":
            run.running_ticks = 1
            self._write_lines(run)

    def _set_status(self, run: _Run, status: str) -> None:
        run.status = status
        run.modified_at = self._now()

    def _write_lines(self, run: _Run) -> None:
        for line in range(1, self.log_lines_per_step + 1):
            self._log(
                run, f"step {run.running_ticks}/{self.running_steps}: user code output {line}"
            )

    def _log(self, run: _Run, message: str) -> None:
        run.events.append(_Event(self._now(), message))

    def _resolve_outcome(self, run: _Run) -> Outcome:
        if run.run_id in self._outcome_by_id:
            return self._outcome_by_id[run.run_id]
        snapshot = self._run_json(run)
        for predicate, outcome in reversed(self._outcome_rules):
            if predicate(snapshot):
                return outcome
        return self.default_outcome

    def _new_run_id(self) -> str:
        for _ in range(1000):
            if self._id_factory is not None:
                candidate = self._id_factory()
            else:
                candidate = f"run-{self._rng.randrange(10**16):016d}"
            if candidate not in self._runs:
                return candidate
        raise RuntimeError("the run id generator keeps returning ids already in use")

    async def _tick_forever(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            self.advance()

    # ------------------------------------------------------------------ JSON shapes

    def _run_json(self, run: _Run) -> dict[str, Any]:
        input_data: Any = run.input_data
        if self.input_data_as_string and input_data is not None and not isinstance(input_data, str):
            input_data = json.dumps(input_data)
        body: dict[str, Any] = {
            "deployment_id": run.deployment_id,
            "models": dict(run.models),
            "model_version": run.version_name,
            "model_version_id": run.version_id,
            "input_data": input_data,
            "output_template": run.output_template,
            "retry_count": run.retry_count,
            "run_id": run.run_id,
            "status": run.status,
            "user_env_vars": dict(run.environment),
        }
        if run.distribution is not None:
            body["distribution"] = run.distribution
        body["created_at"] = _format_time(run.created_at)
        body["modified_at"] = _format_time(run.modified_at)
        return body

    @staticmethod
    def _event_json(event: _Event) -> dict[str, str]:
        return {"message": event.message, "timestamp": _format_time(event.timestamp)}

    # ------------------------------------------------------------------ HTTP plumbing

    def _build_app(self) -> web.Application:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            return await self._serve(request, handler)

        app = web.Application(middlewares=[middleware])
        base = "/organizations/{organization_id}/deployments/{deployment_id}/runs"
        for path in (base, base + "/"):
            app.router.add_post(path, self._create_run)
            app.router.add_get(path, self._list_runs, allow_head=False)
        for suffix in ("", "/"):
            app.router.add_get(base + "/{run_id}" + suffix, self._get_run, allow_head=False)
            app.router.add_get(base + "/{run_id}/logs" + suffix, self._logs, allow_head=False)
            app.router.add_get(
                base + "/{run_id}/recentlogs" + suffix, self._recent_logs, allow_head=False
            )
        return app

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        recorded = False
        try:
            delay = 0.0
            try:
                with self._lock:
                    fault = self._take_fault(request.method, request.path)
                if fault is not None and fault.kind != "slow":
                    raise self._fault_error(fault)
                if fault is not None:
                    delay = fault.seconds
                http_exc = request.match_info.http_exception
                if http_exc is not None:
                    raise self._routing_error(http_exc)
                self._authenticate(request.headers.get("Authorization"))
                response = await handler(request)
            except _ApiError as error:
                response = error.response()
            # recorded before a slow answer is held back, so tests can count it at once
            self._record(request, raw, response.status)
            recorded = True
            if delay > 0:
                await self._sleep(delay)
            return response
        finally:
            if not recorded:
                self._record(request, raw, 500)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_error(fault: _Fault) -> _ApiError:
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = _seconds_text(fault.retry_after)
        if fault.kind == "rate":
            return _ApiError(
                429,
                "too_many_requests",
                f"rate limit exceeded; retry after {headers['Retry-After']} seconds",
                headers=headers,
            )
        return _ApiError(
            fault.status, _error_name(fault.status), "simulated server fault", headers=headers
        )

    @staticmethod
    def _routing_error(exc: web.HTTPException) -> _ApiError:
        if isinstance(exc, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(exc.allowed_methods))
            return _ApiError(
                405,
                "method_not_allowed",
                f"method not allowed; use {allowed}",
                headers={"Allow": allowed},
            )
        return _ApiError(exc.status, _error_name(exc.status), "no such endpoint")

    async def _sleep(self, seconds: float) -> None:
        closing = self._closing
        if closing is None or closing.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await closing.wait()

    def _record(self, request: web.Request, raw: bytes, status: int) -> None:
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            if key.lower() in _SECRET_HEADERS:
                scheme = value.split(" ", 1)[0] if " " in value else ""
                value = f"{scheme} <redacted>".strip()
            headers[key] = value
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=headers,
            body=body,
            query=dict(request.query),
            status=status,
        )
        with self._lock:
            self._requests.append(record)

    def _authenticate(self, header: str | None) -> None:
        if not header:
            raise _ApiError(
                401,
                "unauthorized",
                "authentication required: send 'Authorization: Bearer <token>' or Basic "
                "credentials",
            )
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            if _same(value, self.auth_token):
                return
        elif scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
            except (ValueError, UnicodeError, binascii.Error):
                decoded = ""
            principal, sep, secret = decoded.partition(":")
            if sep and principal.startswith("user-"):
                if _same(principal, f"user-{self.user_id}") and _same(
                    secret, self.personal_access_token
                ):
                    return
            elif (
                sep
                and principal.startswith("datasource-")
                and _same(principal, f"datasource-{self.datasource_id}")
                and _same(secret, self.datasource_secret)
            ):
                return
        raise _ApiError(401, "unauthorized", "invalid credentials")

    def _deployment(self, request: web.Request) -> _Deployment:
        organization_id = request.match_info["organization_id"]
        deployment_id = request.match_info["deployment_id"]
        org = self._orgs.get(organization_id)
        if org is None:
            raise _not_found("organization", "organization_id", organization_id)
        if not org.accessible:
            raise _ApiError(
                403,
                "forbidden",
                f"you are not allowed to access organization {organization_id}",
            )
        deployment = org.deployments.get(deployment_id)
        if deployment is None:
            raise _not_found("deployment", "deployment_id", deployment_id)
        if not deployment.accessible:
            raise _ApiError(
                403, "forbidden", f"you are not allowed to access deployment {deployment_id}"
            )
        return deployment

    def _run(self, request: web.Request) -> _Run:
        deployment = self._deployment(request)
        run_id = request.match_info["run_id"]
        run = self._runs.get(run_id)
        if run is None or run not in deployment.runs:
            raise _not_found("run", "run_id", run_id)
        return run

    # ------------------------------------------------------------------ endpoints

    async def _create_run(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            raise _bad_request("request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise _bad_request("request body must be a JSON object")
        body = cast("dict[str, Any]", payload)
        with self._lock:
            deployment = self._deployment(request)
            problems = _validate_run_body(body, deployment.versions)
            if problems:
                fields = ", ".join(sorted(problems))
                raise _bad_request(f"invalid request body: {fields}", problems)
            now = self._now()
            self._seq += 1
            environment = cast("dict[str, str]", body.get("environment") or {})
            models = cast("dict[str, str]", body.get("models") or {})
            retry_count = body.get("retry_count")
            run = _Run(
                seq=self._seq,
                run_id=self._new_run_id(),
                organization_id=request.match_info["organization_id"],
                deployment_id=request.match_info["deployment_id"],
                version_id=body["version_id"],
                version_name=deployment.versions[body["version_id"]],
                models=dict(models),
                input_data=body.get("input_data"),
                output_template=body.get("output_template"),
                retry_count=_DEFAULT_RETRY_COUNT if retry_count is None else retry_count,
                distribution=body.get("distribution"),
                environment=dict(environment),
                status="SUBMITTED",
                created_at=now,
                modified_at=now,
            )
            self._runs[run.run_id] = run
            deployment.runs.append(run)
            return web.json_response(self._run_json(run))

    async def _get_run(self, request: web.Request) -> web.Response:
        with self._lock:
            run = self._run(request)
            for _ in range(self.advance_on_poll):
                self._step(run)
            return web.json_response(self._run_json(run))

    async def _list_runs(self, request: web.Request) -> web.Response:
        query = request.query
        scan = query.get("scan_forward", "").strip().lower()
        if scan not in ("", "true", "false", "1", "0"):
            raise _bad_request(
                "scan_forward must be true or false", {"scan_forward": ["invalid boolean"]}
            )
        ascending = scan in ("true", "1")
        with self._lock:
            deployment = self._deployment(request)
            owner = request.match_info["deployment_id"]
            runs = deployment.runs if ascending else list(reversed(deployment.runs))
            token = query.get("next_page_token", "")
            if token:
                after = _decode_token(token, "next_page_token", "runs", owner)
                runs = [r for r in runs if (r.seq > after if ascending else r.seq < after)]
            page = runs[: self.page_size]
            body: dict[str, Any] = {"entries": [self._run_json(r) for r in page]}
            if len(runs) > len(page):
                body["next_page_token"] = _encode_token(
                    {"t": "runs", "o": owner, "p": page[-1].seq}
                )
            return web.json_response(body)

    async def _logs(self, request: web.Request) -> web.Response:
        query = request.query
        start, end = _window(query)
        with self._lock:
            run = self._run(request)
            events = run.events
            position = 0
            token = query.get("next_token", "")
            if token:
                position = _decode_token(token, "next_token", "logs", run.run_id)
                if not 0 <= position <= len(events):
                    raise _bad_request("invalid next_token", {"next_token": ["invalid token"]})
            matching = [i for i in range(position, len(events)) if _within(events[i], start, end)]
            page = matching[: self.log_page_size]
            body: dict[str, Any] = {"events": [self._event_json(events[i]) for i in page]}
            more_now = len(matching) > len(page)
            window_closed = end is not None and end < self._now(change=False)
            if more_now or not (run.status in TERMINAL_STATUSES or window_closed):
                resume = page[-1] + 1 if more_now else len(events)
                body["next_token"] = _encode_token({"t": "logs", "o": run.run_id, "p": resume})
            return web.json_response(body)

    async def _recent_logs(self, request: web.Request) -> web.Response:
        query = request.query
        start, end = _window(query)
        forward = query.get("next_forward_token", "")
        backward = query.get("next_backward_token", "")
        if forward and backward:
            raise _bad_request(
                "send either next_forward_token or next_backward_token, not both",
                {"next_forward_token": ["conflicts with next_backward_token"]},
            )
        with self._lock:
            run = self._run(request)
            events = run.events
            size = self.log_page_size
            if forward:
                low = self._log_position(forward, "next_forward_token", "fwd", run)
                picked = [i for i in range(low, len(events)) if _within(events[i], start, end)]
                page = picked[:size]
                anchor = low
            else:
                high = len(events)
                if backward:
                    high = self._log_position(backward, "next_backward_token", "bwd", run)
                picked = [i for i in range(high) if _within(events[i], start, end)]
                page = picked[-size:]
                anchor = high
            page.sort(reverse=True)
            oldest = page[-1] if page else anchor
            newest_next = page[0] + 1 if page else anchor
            body = {
                "events": [self._event_json(events[i]) for i in page],
                "next_backward_token": _encode_token({"t": "bwd", "o": run.run_id, "p": oldest}),
                "next_forward_token": _encode_token(
                    {"t": "fwd", "o": run.run_id, "p": newest_next}
                ),
            }
            return web.json_response(body)

    @staticmethod
    def _log_position(token: str, name: str, kind: str, run: _Run) -> int:
        position = _decode_token(token, name, kind, run.run_id)
        if not 0 <= position <= len(run.events):
            raise _bad_request(f"invalid {name}", {name: ["invalid token"]})
        return position


def _validate_run_body(body: Mapping[str, Any], versions: Mapping[str, str]) -> dict[str, Any]:
    problems: dict[str, list[str]] = {}
    version_id = body.get("version_id")
    if version_id is None:
        problems["version_id"] = ["required"]
    elif not isinstance(version_id, str):
        problems["version_id"] = ["must be a string"]
    elif version_id not in versions:
        problems["version_id"] = [f"unknown version: {version_id}"]
    environment = body.get("environment")
    if environment is not None and not _is_str_map(environment):
        problems["environment"] = ["must be an object mapping strings to strings"]
    for key in ("input_data", "output_template"):
        value = body.get(key)
        if value is not None and not (isinstance(value, str) or _is_str_map(value)):
            problems[key] = ['must map "<operator>:<version>" to a string payload']
    models = body.get("models")
    if models is not None and not _is_str_map(models):
        problems["models"] = ['must look like {"alias": "<model_id>"}']
    retry_count = body.get("retry_count")
    if retry_count is not None and not (_is_plain_int(retry_count) and 0 <= retry_count <= 9):
        problems["retry_count"] = ["must be an integer from 0 to 9"]
    distribution = body.get("distribution")
    if distribution is not None and not (_is_plain_int(distribution) and distribution >= 0):
        problems["distribution"] = ["must be a non-negative integer"]
    return cast("dict[str, Any]", problems)


def _window(query: Mapping[str, str]) -> tuple[datetime | None, datetime | None]:
    start_raw = query.get("start_time", "")
    end_raw = query.get("end_time", "")
    start = _parse_time(start_raw, "start_time") if start_raw else None
    end = _parse_time(end_raw, "end_time") if end_raw else None
    if start is not None and end is not None and start > end:
        raise _bad_request(
            "start_time must not be after end_time", {"start_time": ["after end_time"]}
        )
    return start, end


def _within(event: _Event, start: datetime | None, end: datetime | None) -> bool:
    if start is not None and event.timestamp < start:
        return False
    return end is None or event.timestamp <= end


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _positive(n: int) -> int:
    if n < 1:
        raise ValueError("n must be at least 1")
    return n


def _check_outcome(outcome: str) -> None:
    if outcome not in TERMINAL_STATUSES:
        raise ValueError("outcome must be 'SUCCEEDED' or 'FAILED'")
