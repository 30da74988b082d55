"""The Moderately AI simulator: an aiohttp.web server over the in-memory platform."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from datetime import datetime
from typing import Any, Self, cast

from aiohttp import web

from tether.testing._base import SimulatorBase
from tether.testing.moderately._core import KINDS, Kind
from tether.testing.moderately._files import FileRoutes, s3_error
from tether.testing.moderately._identity import IdentityRoutes
from tether.testing.moderately._models import (
    BODY_JSON,
    BODY_SIZE,
    PRINCIPAL,
    REQUEST_ID,
    Ctx,
    ExecutionPlan,
    FaultRule,
    Principal,
    RecordedRequest,
    Reply,
    Route,
    SentEmail,
    StoredObject,
)
from tether.testing.moderately._util import JSON, ApiError, ClockMode, as_list, as_obj, parse_iso

log = logging.getLogger("tether.testing.moderately")

_SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "x-api-key", "proxy-authorization")
_SECRET_KEYS = frozenset({"password", "token", "apikey", "api_key", "secret", "x-amz-signature"})
REDACTED = "[REDACTED]"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _redact_json(value: Any) -> Any:
    obj = as_obj(value)
    if obj is not None:
        return {
            k: REDACTED if k.lower() in _SECRET_KEYS else _redact_json(v) for k, v in obj.items()
        }
    items = as_list(value)
    if items is not None:
        return [_redact_json(v) for v in items]
    return value


def _redact_header(name: str, value: str) -> str:
    if name.lower() not in _SECRET_HEADERS:
        return value
    scheme, _, rest = value.partition(" ")
    if name.lower() == "authorization" and rest:
        return f"{scheme} {REDACTED}"
    return REDACTED


class Simulator(FileRoutes, IdentityRoutes, SimulatorBase):
    """An in-process Moderately AI platform on a loopback socket.

    It serves every path of the platform's OpenAPI document (plus the undeclared routes
    the official SDK calls, in ``compat`` mode), keeps all state in memory, and hands out
    presigned URLs that point back at its own ``/_storage/…`` object store.

    Args:
        host: where to listen (``port=0``: the kernel picks one).
        port: where to listen (``port=0``: the kernel picks one).
        seed: makes ids, tokens and signatures reproducible.
        id_factory: ``f(kind) -> id`` replacing the id generator (kinds: ``"dataset"``, …).
        api_key: the credentials :meth:`info` reports (generated when omitted).
        team_id: the credentials :meth:`info` reports (generated when omitted).
        clock: ``"real"`` (time flows) or ``"manual"`` (only :meth:`advance` moves time).
        epoch: the UTC wall time at simulator time 0 (default: now).
        step_seconds: how long each execution step takes (``0``: executions finish at once).
        advance_on_poll: every GET of one execution advances it one step.
        default_total_steps: steps of an execution whose configuration has no blocks.
        inline_output_limit: outputs whose JSON is larger are stored (``type: s3``, gzip).
        presign_ttl: lifetime of presigned URLs in seconds.
        compat: accept what the official SDK sends off-spec (see the reference, §7).
        prefix: serve the API under a path prefix (e.g. ``"/moderately"``).
        user_email: the default user's login (``/authentication/login``).
        user_password: the default user's login (``/authentication/login``).

    Example::

        async with Simulator(seed=1, step_seconds=0.01) as sim:
            env = sim.info()   # URL, MODERATELY_API_KEY, MODERATELY_TEAM_ID, MODERATELY_BASE_URL
            sim.rate_limit_next(1, retry_after=2)
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        id_factory: Callable[[str], str] | None = None,
        api_key: str | None = None,
        team_id: str | None = None,
        clock: ClockMode = "real",
        epoch: datetime | None = None,
        step_seconds: float = 1.0,
        advance_on_poll: bool = False,
        default_total_steps: int = 3,
        inline_output_limit: int = 1024,
        presign_ttl: float = 900.0,
        compat: bool = True,
        prefix: str = "",
        user_email: str = "sim@example.com",
        user_password: str = "moderately",
    ) -> None:
        if clock not in ("real", "manual"):
            raise ValueError("clock must be 'real' or 'manual'")
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError("prefix must start with '/' and not end with '/'")
        super().__init__(
            seed=seed,
            id_factory=id_factory,
            clock=clock,
            epoch=epoch,
            step_seconds=step_seconds,
            advance_on_poll=advance_on_poll,
            default_total_steps=default_total_steps,
            inline_output_limit=inline_output_limit,
            presign_ttl=presign_ttl,
            compat=compat,
            api_key=api_key,
            team_id=team_id,
            user_email=user_email,
            user_password=user_password,
        )
        self._host = host
        self._port = port
        self._prefix = prefix
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        where = self._base_url or "not started"
        return f"<moderately.Simulator {where} team={self._team_id}>"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the socket and serve. Idempotent."""
        if self._runner is not None:
            return
        runner = web.AppRunner(
            self._build_app(), access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        port = int(runner.addresses[0][1])
        host = f"[{self._host}]" if ":" in self._host else self._host
        with self._lock:
            self._base_url = f"http://{host}:{port}{self._prefix}"
            self._runner = runner
        log.debug("moderately simulator listening on %s", self._base_url)

    async def stop(self) -> None:
        """Stop serving and close every connection. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def info(self) -> dict[str, str]:
        """Where and how to reach the simulator, as environment variables.

        ``URL`` and ``MODERATELY_BASE_URL`` are the base URL; ``MODERATELY_API_KEY`` and
        ``MODERATELY_TEAM_ID`` the credentials the official SDK and tether read.
        """
        if not self._base_url:
            raise RuntimeError("the simulator is not started")
        return {
            "URL": self._base_url,
            "MODERATELY_API_KEY": self._api_key,
            "MODERATELY_TEAM_ID": self._team_id,
            "MODERATELY_BASE_URL": self._base_url,
        }

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:PORT`` plus the prefix); empty before start."""
        return self._base_url

    base_url = url

    @property
    def api_key(self) -> str:
        """The API key the simulator accepts (a test credential)."""
        return self._api_key

    @property
    def team_id(self) -> str:
        """The default team's id."""
        return self._team_id

    @property
    def user_id(self) -> str:
        """The default user's id (the owner of :attr:`api_key`)."""
        return self._user_id

    @contextlib.contextmanager
    def serve_in_thread(self) -> Generator[Self, None, None]:
        """Run the simulator on its own event loop in a daemon thread.

        Needed when the code under test blocks the calling thread (the official sync
        SDK, blocking ``urllib`` downloads inside ``async def``)::

            with Simulator(seed=1).serve_in_thread() as sim:
                client = ModeratelyAI(api_key=sim.api_key, team_id=sim.team_id, base_url=sim.url)
        """
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        thread = threading.Thread(target=run, name="moderately-simulator", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=30)
            yield self
        finally:
            try:
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=30)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=30)

    # ------------------------------------------------------------------ app

    def api_routes(self) -> list[Route]:
        """Every API route: ``spec=True`` for the OpenAPI operations, ``compat`` for the rest."""
        return [
            *self._routes_identity(),
            *self._routes_agents(),
            *self._routes_datasets(),
            *self._routes_pipelines(),
            *self._routes_files(),
        ]

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        for route in self.api_routes():
            app.router.add_route(route.method, route.path, self._endpoint(route))
        for method, path, handler in self._storage_routes():
            app.router.add_route(method, path, handler)
        if not self._prefix:
            return app
        root = web.Application()
        root.add_subapp(self._prefix, app)
        return root

    def _relative(self, request: web.Request) -> str:
        path = request.path
        if self._prefix and path.startswith(self._prefix):
            return path[len(self._prefix) :] or "/"
        return path

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        started = time.perf_counter()
        with self._lock:
            self._request_seq += 1
            request_id = f"req_{self._request_seq:06d}"
        request[REQUEST_ID] = request_id
        path = self._relative(request)
        response: web.StreamResponse
        try:
            fault = self._take_fault(request.method, path)
            if fault is not None and fault.delay > 0:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.status:
                response = self._fault_response(fault, request, path, request_id)
            else:
                response = await handler(request)
        except ApiError as err:
            response = self._error_response(err, path, request_id)
        except web.HTTPException as exc:
            if exc.status >= 400:
                message = "Route not found" if exc.status == 404 else exc.reason
                response = self._error_response(ApiError(exc.status, message), path, request_id)
            else:
                raise
        response.headers["X-Request-Id"] = request_id
        self._record(request, response, path, request_id, time.perf_counter() - started)
        return response

    def _take_fault(self, method: str, path: str) -> FaultRule | None:
        is_storage = path.startswith("/_storage/")
        with self._lock:
            for rule in self._faults:
                if rule.storage or rule.remaining <= 0:
                    continue
                if rule.method is not None and rule.method != method:
                    continue
                if rule.path_prefix is None:
                    if is_storage:
                        continue
                elif not path.startswith(rule.path_prefix):
                    continue
                rule.remaining -= 1
                self._faults = [r for r in self._faults if r.remaining > 0]
                return rule
        return None

    def _fault_response(
        self, rule: FaultRule, request: web.Request, path: str, request_id: str
    ) -> web.Response:
        headers: dict[str, str] = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(rule.retry_after)
        if rule.body is not None:
            return web.json_response(rule.body, status=rule.status, headers=headers)
        if path.startswith("/_storage/"):
            code = "AccessDenied" if rule.status == 403 else "InternalError"
            response = s3_error(
                rule.status, code, "Simulated storage failure", path[10:], request_id
            )
            response.headers.update(headers)
            return response
        message = (
            "Rate limit exceeded" if rule.status == 429 else f"Simulated failure ({rule.status})"
        )
        return self._error_response(
            ApiError(rule.status, message, headers=headers), path, request_id
        )

    def _error_response(self, err: ApiError, path: str, request_id: str) -> web.Response:
        headers = dict(err.headers)
        if err.status in (429, 503):
            headers.setdefault("Retry-After", "1")
        if self.flat_errors:
            body: JSON = {
                "message": err.message,
                "code": err.code,
                "details": err.details if err.details is not None else [],
            }
        else:
            body = {
                "error": {
                    "code": err.code,
                    "message": err.message,
                    "details": err.details,
                    "timestamp": self._now(),
                    "path": path,
                    "requestId": request_id,
                }
            }
        return web.json_response(body, status=err.status, headers=headers)

    def _record(
        self,
        request: web.Request,
        response: web.StreamResponse,
        path: str,
        request_id: str,
        elapsed: float,
    ) -> None:
        query = tuple(
            (k, REDACTED if k.lower() in _SECRET_KEYS else v) for k, v in request.query.items()
        )
        headers = {k: _redact_header(k, v) for k, v in request.headers.items()}
        principal = request.get(PRINCIPAL)
        entry = RecordedRequest(
            method=request.method,
            path=request.path,
            query=query,
            headers=headers,
            json=_redact_json(request.get(BODY_JSON)),
            body_size=int(request.get(BODY_SIZE, 0)),
            status=response.status,
            request_id=request_id,
            at=self._now(),
        )
        with self._lock:
            self._log.append(entry)
            if isinstance(principal, Principal) and principal.token_id is not None:
                usage = self._token_usage.setdefault(principal.token_id, [])
                usage.append(
                    (self._clock.now(), request.method, path, response.status, elapsed * 1000)
                )
        log.debug("%s %s -> %s (%s)", request.method, request.path, response.status, request_id)

    def _endpoint(self, route: Route) -> _Handler:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            body = await self._read_body(request)
            with self._lock:
                if route.compat and not self.compat:
                    raise ApiError(404, "Route not found")
                principal = self._authenticate(request) if route.auth else None
                request[PRINCIPAL] = principal
                ctx = Ctx(
                    method=request.method,
                    path=self._relative(request),
                    params=dict(request.match_info),
                    query=request.query,
                    body=body,
                    principal=principal,
                    request_id=str(request[REQUEST_ID]),
                    user_agent=request.headers.get("User-Agent"),
                    remote=request.remote,
                )
                team_before = self._audit_team(route, ctx, None)
                reply = route.handler(ctx)
                if route.audit is not None and reply.status < 300:
                    self._audit_route(route, ctx, reply, team_before)
            return self._reply(reply)

        return endpoint

    async def _read_body(self, request: web.Request) -> JSON:
        raw = await request.read()
        request[BODY_SIZE] = len(raw)
        if not raw.strip():
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "Request body is not valid JSON") from exc
        request[BODY_JSON] = parsed
        body = as_obj(parsed)
        if body is None:
            if request.method in ("POST", "PATCH", "PUT"):
                raise ApiError(400, "Request body must be a JSON object")
            return {}
        return body

    def _authenticate(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not token:
            token = request.cookies.get("session", "")
        if not token:
            raise ApiError(401, "Missing or invalid authentication token")
        if hmac.compare_digest(token.encode(), self._api_key.encode()):
            return Principal(user_id=self._user_id)
        token_id = self._token_secrets.get(token)
        if token_id is not None:
            record = self._db["apiTokens"][token_id]
            expires = parse_iso(record["expiresAt"]) if record["expiresAt"] else None
            if not record["isActive"] or (expires is not None and expires <= self._clock.wall()):
                raise ApiError(401, "API token is inactive or expired")
            record["lastUsedAt"] = self._now()
            return Principal(
                user_id=record["createdByUserId"],
                token_id=token_id,
                token_team=record["teamId"],
                role=record["role"],
            )
        user_id = self._sessions.get(token)
        if user_id is not None:
            return Principal(user_id=user_id, session=token)
        raise ApiError(401, "Missing or invalid authentication token")

    def _audit_team(self, route: Route, ctx: Ctx, record_id: str | None) -> str | None:
        if route.audit_kind is None:
            return None
        kind = cast(Kind, route.audit_kind)
        if record_id is None and ctx.params:
            record_id = next(iter(ctx.params.values()))
        if record_id is None:
            return None
        record = self._find(kind, record_id)
        return None if record is None else self._team_of(kind, record)

    def _audit_route(self, route: Route, ctx: Ctx, reply: Reply, team_before: str | None) -> None:
        assert route.audit is not None
        record_id: Any = next(iter(ctx.params.values()), None)
        if route.audit_id is not None:
            record_id = reply.body
            for part in route.audit_id.split("."):
                record_id = (as_obj(record_id) or {}).get(part)
        if not isinstance(record_id, str):
            return
        team = team_before or self._audit_team(route, ctx, record_id)
        if team is None:
            team = ctx.body.get("teamId") if isinstance(ctx.body.get("teamId"), str) else None
        self._audit(ctx, route.audit[0], record_id, route.audit[1], team, ctx.body or None)

    def _reply(self, reply: Reply) -> web.Response:
        if reply.status == 204 or reply.body is None:
            return web.Response(status=reply.status, headers=dict(reply.headers))
        return web.json_response(reply.body, status=reply.status, headers=dict(reply.headers))

    # ------------------------------------------------------------------ test control

    def fail_next(
        self,
        n: int,
        status: int,
        path_prefix: str | None = None,
        *,
        method: str | None = None,
        retry_after: int | None = None,
        body: JSON | None = None,
    ) -> None:
        """Answer the next *n* matching API requests with *status* (error envelope).

        *path_prefix* is relative to the base URL (``"/datasets"``); ``None`` matches every
        API path but not the object store (use ``"/_storage/"`` for that). ``body``
        replaces the envelope. Faults are checked before authentication.
        """
        if n < 1 or status < 100:
            raise ValueError("n must be >= 1 and status a valid HTTP status")
        with self._lock:
            self._faults.append(
                FaultRule(
                    remaining=n,
                    status=status,
                    path_prefix=path_prefix,
                    method=method.upper() if method else None,
                    retry_after=retry_after,
                    body=copy.deepcopy(body),
                )
            )

    def rate_limit_next(self, n: int, retry_after: int = 1, path_prefix: str | None = None) -> None:
        """Answer the next *n* API requests with ``429`` and ``Retry-After: retry_after``."""
        self.fail_next(n, 429, path_prefix, retry_after=retry_after)

    def delay_next(self, n: int, seconds: float, path_prefix: str | None = None) -> None:
        """Hold the next *n* matching requests for *seconds* before handling them."""
        if n < 1 or seconds < 0:
            raise ValueError("n must be >= 1 and seconds >= 0")
        with self._lock:
            self._faults.append(
                FaultRule(
                    remaining=n,
                    status=0,
                    path_prefix=path_prefix,
                    method=None,
                    retry_after=None,
                    body=None,
                    delay=seconds,
                )
            )

    def fail_storage_put_next(self, n: int, status: int = 500) -> None:
        """Make the next *n* presigned PUTs fail with *status* (an S3 XML error) after
        the body was received; nothing is stored."""
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._faults.append(
                FaultRule(
                    remaining=n,
                    status=status,
                    path_prefix="/_storage/",
                    method="PUT",
                    retry_after=None,
                    body=None,
                    storage=True,
                )
            )

    def clear_faults(self) -> None:
        """Drop every pending injected failure and delay."""
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log (oldest first), secrets redacted."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()

    def advance(self, seconds: float | None = None, *, steps: int | None = None) -> None:
        """Move simulated time: *seconds*, or *steps* × ``step_seconds`` (default one step)."""
        if seconds is not None and steps is not None:
            raise ValueError("pass seconds or steps, not both")
        with self._lock:
            amount = (
                seconds
                if seconds is not None
                else (steps if steps is not None else 1) * self.step_seconds
            )
            self._clock.advance(amount)

    def now(self) -> datetime:
        """The simulator's current wall time (UTC)."""
        with self._lock:
            return self._clock.wall()

    def plan_next_execution(self, plan: ExecutionPlan | None = None, **fields: Any) -> None:
        """Queue how the next created execution (pipeline or agent) plays out.

        Pass an :class:`ExecutionPlan`, or its fields as keywords
        (``sim.plan_next_execution(outcome="failed", error="boom")``). A ``__sim__`` object
        in the execution's input takes precedence over the queue.
        """
        chosen = plan if plan is not None else ExecutionPlan(**fields)
        with self._lock:
            self._planned.append(chosen)

    def pause_execution(self, execution_id: str) -> None:
        """Pause a pipeline or agent execution (its steps stop advancing)."""
        with self._lock:
            record = self._execution_record(execution_id)
            self._pause(execution_id, record)

    def resume_execution(self, execution_id: str) -> None:
        """Resume a paused execution."""
        with self._lock:
            record = self._execution_record(execution_id)
            self._resume(execution_id, record)

    def _execution_record(self, execution_id: str) -> JSON:
        kinds: tuple[Kind, ...] = ("pipelineExecutions", "agentExecutions")
        for kind in kinds:
            record = self._db[kind].get(execution_id)
            if record is not None:
                return record
        raise KeyError(f"no execution {execution_id!r}")

    def resource(self, kind: str, resource_id: str) -> JSON:
        """A deep copy of one stored record as served (private fields dropped).

        *kind* is one of :data:`RESOURCE_KINDS` (``"datasets"``, ``"pipelineExecutions"``…).
        """
        checked = _kind(kind)
        with self._lock:
            record = self._db[checked].get(resource_id)
            if record is None:
                raise KeyError(f"no {kind} record {resource_id!r}")
            if checked in ("pipelineExecutions", "agentExecutions"):
                self._observe(resource_id, record)
            return {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}

    def resources(self, kind: str) -> list[JSON]:
        """Deep copies of every record of *kind*, in creation order."""
        checked = _kind(kind)
        with self._lock:
            if checked in ("pipelineExecutions", "agentExecutions"):
                self._observe_kind(checked)
            return [
                {k: copy.deepcopy(v) for k, v in r.items() if not k.startswith("_")}
                for r in sorted(self._db[checked].values(), key=lambda r: int(r["_seq"]))
            ]

    def storage_object(self, key: str) -> StoredObject | None:
        """The object stored under *key* (``files/<fileId>``, ``outputs/<id>.json.gz``…)."""
        with self._lock:
            return self._objects.get(key)

    def storage_keys(self) -> list[str]:
        """Every key in the simulated object store."""
        with self._lock:
            return sorted(self._objects)

    def add_team(self, name: str, *, member: bool = True, role: str = "admin") -> str:
        """Create a team; with ``member=False`` the default user cannot see it."""
        with self._lock:
            now = self._now()
            team_id = self._ids.new("team")
            self._insert(
                "teams", {"teamId": team_id, "name": name, "createdAt": now, "updatedAt": now}
            )
            if member:
                self._add_member(team_id, self._user_id, role, is_default=False)
            return team_id

    def add_user(
        self,
        full_name: str,
        email: str,
        *,
        team_id: str | None = None,
        role: str = "member",
        password: str | None = None,
    ) -> str:
        """Create a user, optionally a member of *team_id*; returns the user id."""
        with self._lock:
            now = self._now()
            user_id = self._ids.new("user")
            self._insert(
                "users",
                {
                    "userId": user_id,
                    "fullName": full_name,
                    "nickname": None,
                    "createdAt": now,
                    "updatedAt": now,
                    "_email": email,
                },
            )
            if password is not None:
                self._passwords[user_id] = password
            if team_id is not None:
                self._get("teams", team_id, "Team")
                self._add_member(team_id, user_id, role, is_default=False)
            return user_id

    @property
    def sent_emails(self) -> list[SentEmail]:
        """Sign-in emails "sent" by ``/authentication/email/initialize`` (with their tokens)."""
        with self._lock:
            return list(self._sent_emails)


RESOURCE_KINDS: tuple[str, ...] = KINDS
"""Names accepted by :meth:`Simulator.resource` and :meth:`Simulator.resources`."""


def _kind(kind: str) -> Kind:
    for known in KINDS:
        if known == kind:
            return known
    raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
