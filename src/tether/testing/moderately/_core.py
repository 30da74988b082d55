"""State and shared helpers of the Moderately simulator (no HTTP here)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode

from multidict import MultiMapping

from tether.testing.moderately._models import (
    Ctx,
    ExecutionPlan,
    FaultRule,
    Principal,
    RecordedRequest,
    Run,
    SentEmail,
    StoredObject,
)
from tether.testing.moderately._util import (
    JSON,
    ApiError,
    ClockMode,
    IdFactory,
    SimClock,
    as_obj,
    iso,
    not_found,
)

SPEC_VERSION = "e16e016a7171c835f565a2a8d83a02a9743faf2a"
"""The OpenAPI document version (``info.version``) the simulator implements."""

BUCKET = "moderately-sim"
"""Bucket name used in ``s3://`` URIs the simulator reports."""

Kind = Literal[
    "users",
    "teams",
    "teamUsers",
    "apiTokens",
    "agents",
    "agentConfigurationVersions",
    "agentExecutions",
    "datasets",
    "dataVersions",
    "schemaVersions",
    "pipelines",
    "pipelineConfigurationVersions",
    "pipelineExecutions",
    "files",
    "auditLogs",
]

KINDS: tuple[Kind, ...] = (
    "users",
    "teams",
    "teamUsers",
    "apiTokens",
    "agents",
    "agentConfigurationVersions",
    "agentExecutions",
    "datasets",
    "dataVersions",
    "schemaVersions",
    "pipelines",
    "pipelineConfigurationVersions",
    "pipelineExecutions",
    "files",
    "auditLogs",
)

ID_FIELDS: dict[Kind, str] = {
    "users": "userId",
    "teams": "teamId",
    "teamUsers": "teamUserId",
    "apiTokens": "tokenId",
    "agents": "agentId",
    "agentConfigurationVersions": "agentConfigurationVersionId",
    "agentExecutions": "agentExecutionId",
    "datasets": "datasetId",
    "dataVersions": "datasetDataVersionId",
    "schemaVersions": "datasetSchemaVersionId",
    "pipelines": "pipelineId",
    "pipelineConfigurationVersions": "pipelineConfigurationVersionId",
    "pipelineExecutions": "pipelineExecutionId",
    "files": "fileId",
    "auditLogs": "auditLogId",
}


class SimCore:
    """The simulator's in-memory platform: records, runs, object store, knobs.

    Every mutation happens under ``self._lock`` (a re-entrant thread lock), so the
    test-control API may be called from any thread while the server runs.
    """

    def __init__(
        self,
        *,
        seed: int | None,
        id_factory: Callable[[str], str] | None,
        clock: ClockMode,
        epoch: datetime | None,
        step_seconds: float,
        advance_on_poll: bool,
        default_total_steps: int,
        inline_output_limit: int,
        presign_ttl: float,
        compat: bool,
        api_key: str | None,
        team_id: str | None,
        user_email: str,
        user_password: str,
    ) -> None:
        if step_seconds < 0:
            raise ValueError("step_seconds must be >= 0")
        if default_total_steps < 1:
            raise ValueError("default_total_steps must be >= 1")
        self._lock = threading.RLock()
        self._ids = IdFactory(seed, id_factory)
        self._clock = SimClock(clock, epoch)
        self.step_seconds = step_seconds
        self.advance_on_poll = advance_on_poll
        self.default_total_steps = default_total_steps
        self.inline_output_limit = inline_output_limit
        self.presign_ttl = presign_ttl
        self.compat = compat
        self.flat_errors = False
        self._seq = 0
        self._request_seq = 0
        self._db: dict[Kind, dict[str, JSON]] = {kind: {} for kind in KINDS}
        self._runs: dict[str, Run] = {}
        self._memory_ids: dict[tuple[str, int], str] = {}
        self._objects: dict[str, StoredObject] = {}
        self._faults: list[FaultRule] = []
        self._log: list[RecordedRequest] = []
        self._planned: deque[ExecutionPlan] = deque()
        self._token_secrets: dict[str, str] = {}
        self._sessions: dict[str, str] = {}
        self._email_tokens: dict[str, tuple[str, float]] = {}
        self._sent_emails: list[SentEmail] = []
        self._passwords: dict[str, str] = {}
        self._login_failures: dict[str, int] = {}
        self._token_usage: dict[str, list[tuple[float, str, str, int, float]]] = {}
        self._signing_key = self._ids.secret(40)
        self._base_url = ""
        self._api_key = api_key if api_key is not None else "sk-sim-" + self._ids.secret(32)
        if not self._api_key:
            raise ValueError("api_key must not be empty")
        self._user_id = self._ids.new("user")
        self._team_id = team_id if team_id is not None else self._ids.new("team")
        now = self._now()
        self._insert(
            "users",
            {
                "userId": self._user_id,
                "fullName": "Simulated User",
                "nickname": None,
                "createdAt": now,
                "updatedAt": now,
                "_email": user_email,
            },
        )
        self._passwords[self._user_id] = user_password
        self._insert(
            "teams",
            {"teamId": self._team_id, "name": "Simulated Team", "createdAt": now, "updatedAt": now},
        )
        self._add_member(self._team_id, self._user_id, "admin", is_default=True)

    # ------------------------------------------------------------------ records

    def _now(self) -> str:
        return self._clock.iso()

    def _insert(self, kind: Kind, record: JSON) -> JSON:
        self._seq += 1
        record["_seq"] = self._seq
        self._db[kind][str(record[ID_FIELDS[kind]])] = record
        return record

    def _find(self, kind: Kind, record_id: str) -> JSON | None:
        return self._db[kind].get(record_id)

    def _get(self, kind: Kind, record_id: str, what: str) -> JSON:
        record = self._db[kind].get(record_id)
        if record is None:
            raise not_found(what)
        return record

    def _all(self, kind: Kind) -> list[JSON]:
        return list(self._db[kind].values())

    def _add_member(self, team_id: str, user_id: str, role: str, *, is_default: bool) -> JSON:
        now = self._now()
        return self._insert(
            "teamUsers",
            {
                "teamUserId": self._ids.new("teamUser"),
                "teamId": team_id,
                "userId": user_id,
                "role": role,
                "isDefault": is_default,
                "createdAt": now,
                "updatedAt": now,
                "email": self._db["users"][user_id].get("_email"),
            },
        )

    # ------------------------------------------------------------------ access

    def _member_teams(self, user_id: str) -> set[str]:
        return {m["teamId"] for m in self._db["teamUsers"].values() if m["userId"] == user_id}

    def _teams_of(self, principal: Principal | None) -> set[str]:
        if principal is None:
            return set()
        teams = self._member_teams(principal.user_id)
        if principal.token_team is not None:
            return teams & {principal.token_team} if principal.token_team in teams else set()
        return teams

    def _require_team(self, ctx: Ctx, team_id: str | None) -> None:
        if team_id is None or team_id not in self._teams_of(ctx.principal):
            raise ApiError(403, "You are not a member of this team")

    def _require_write(self, ctx: Ctx) -> None:
        if ctx.principal is not None and ctx.principal.role == "readonly":
            raise ApiError(403, "This API token is read-only")

    def _visible_teams(self, ctx: Ctx, query_teams: list[str] | None) -> set[str]:
        """Teams a list may show: the caller's, narrowed by ``teamIds`` (403 on others)."""
        mine = self._teams_of(ctx.principal)
        if query_teams is None:
            return mine
        foreign = [t for t in query_teams if t not in mine]
        if foreign:
            raise ApiError(403, "You are not a member of every requested team", details=foreign)
        return set(query_teams)

    def _team_of(self, kind: Kind, record: JSON) -> str | None:
        """The team that owns *record* (walking up parents where needed)."""
        if kind in ("teams", "agents", "datasets", "pipelines", "files", "apiTokens", "teamUsers"):
            value = record.get("teamId")
            return value if isinstance(value, str) else None
        if kind == "agentConfigurationVersions":
            agent = self._find("agents", record["agentId"])
            return None if agent is None else self._team_of("agents", agent)
        if kind == "agentExecutions":
            acv = self._find("agentConfigurationVersions", record["agentConfigurationVersionId"])
            return None if acv is None else self._team_of("agentConfigurationVersions", acv)
        if kind in ("dataVersions", "schemaVersions"):
            dataset = self._find("datasets", record["datasetId"])
            return None if dataset is None else self._team_of("datasets", dataset)
        if kind == "pipelineConfigurationVersions":
            pipeline = self._find("pipelines", record["pipelineId"])
            return None if pipeline is None else self._team_of("pipelines", pipeline)
        if kind == "pipelineExecutions":
            pcv = self._find(
                "pipelineConfigurationVersions", record["pipelineConfigurationVersionId"]
            )
            return None if pcv is None else self._team_of("pipelineConfigurationVersions", pcv)
        return None

    def _owned(self, ctx: Ctx, kind: Kind, record_id: str, what: str) -> JSON:
        """Fetch a record the caller may see: 404 if missing, 403 if another team's."""
        record = self._get(kind, record_id, what)
        self._require_team(ctx, self._team_of(kind, record))
        return record

    # ------------------------------------------------------------------ audit

    def _audit(
        self,
        ctx: Ctx,
        resource_type: str,
        resource_id: str,
        action: str,
        team_id: str | None,
        changes: Any = None,
    ) -> None:
        principal = ctx.principal
        self._insert(
            "auditLogs",
            {
                "auditLogId": self._ids.new("auditLog"),
                "teamId": team_id,
                "userId": principal.user_id if principal else None,
                "apiTokenId": principal.token_id if principal else None,
                "sessionId": principal.session if principal else None,
                "eventType": f"{resource_type}.{action}",
                "resourceType": resource_type,
                "resourceId": resource_id,
                "action": action,
                "changes": copy.deepcopy(changes) if changes is not None else None,
                "metadata": {
                    "ipAddress": ctx.remote,
                    "userAgent": ctx.user_agent,
                    "correlationId": ctx.request_id,
                    "requestId": ctx.request_id,
                    "additionalInfo": {"method": ctx.method, "path": ctx.path},
                },
                "createdAt": self._now(),
            },
        )

    # ------------------------------------------------------------------ object store

    def _presign(self, method: str, key: str) -> tuple[str, str]:
        """An absolute presigned URL for *method* on *key*, and its expiry (ISO)."""
        ttl = max(1, int(self.presign_ttl))
        now = self._clock.wall().replace(microsecond=0)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        signature = self._signature(method, key, amz_date, str(ttl))
        query = urlencode(
            [
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                ("X-Amz-Credential", f"SIMULATOR/{now:%Y%m%d}/us-east-1/s3/aws4_request"),
                ("X-Amz-Date", amz_date),
                ("X-Amz-Expires", str(ttl)),
                ("X-Amz-SignedHeaders", "host"),
                ("X-Amz-Signature", signature),
            ]
        )
        url = f"{self._base_url}/_storage/{quote(key, safe='/')}?{query}"
        return url, iso(now + timedelta(seconds=ttl))

    def _signature(self, method: str, key: str, amz_date: str, expires: str) -> str:
        message = f"{method}\n{key}\n{amz_date}\n{expires}".encode()
        return hmac.new(self._signing_key.encode(), message, hashlib.sha256).hexdigest()

    def _check_presigned(
        self, method: str, key: str, query: MultiMapping[str]
    ) -> tuple[str, str] | None:
        """``None`` when the presigned query is valid, else ``(S3 code, message)``."""
        amz_date = query.get("X-Amz-Date")
        expires = query.get("X-Amz-Expires")
        signature = query.get("X-Amz-Signature")
        if not amz_date or not expires or not signature:
            return ("AccessDenied", "Query-string authentication requires a signature")
        expected = self._signature(method, key, amz_date, expires)
        if not hmac.compare_digest(expected, signature):
            return ("SignatureDoesNotMatch", "The request signature we calculated does not match")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=self._clock.wall().tzinfo
            )
            lifetime = int(expires)
        except ValueError:
            return ("AccessDenied", "Malformed presigned query")
        if self._clock.wall() > signed_at + timedelta(seconds=lifetime):
            return ("AccessDenied", "Request has expired")
        return None

    def _store_object(self, key: str, data: bytes, content_type: str) -> StoredObject:
        stored = StoredObject(
            key=key,
            data=data,
            content_type=content_type,
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=self._now(),
        )
        self._objects[key] = stored
        return stored

    # ------------------------------------------------------------------ misc

    def _next_plan(self, given: Any) -> ExecutionPlan:
        """The plan for a new execution: input ``__sim__`` directive, queued plan, or default."""
        directive = as_obj(given)
        if directive is not None:
            return _plan_from_directive(directive)
        if self._planned:
            return self._planned.popleft()
        return ExecutionPlan()

    def _matching(self, items: Iterable[JSON], **equals: Any) -> list[JSON]:
        return [r for r in items if all(r.get(k) == v for k, v in equals.items())]


def _plan_from_directive(raw: JSON) -> ExecutionPlan:
    errors: list[JSON] = []

    def pick(key: str, types: tuple[type, ...], allowed: tuple[Any, ...] | None = None) -> Any:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            errors.append({"field": f"__sim__.{key}", "message": "has the wrong type"})
            return None
        if allowed is not None and value not in allowed:
            errors.append({"field": f"__sim__.{key}", "message": f"must be one of {allowed}"})
            return None
        return value

    outcome = pick("outcome", (str,), ("completed", "failed"))
    steps = pick("steps", (int,))
    fail_at = pick("failAtStep", (int,))
    error = pick("error", (str,))
    output = pick("output", (dict,))
    storage = pick("outputStorage", (str,), ("inline", "s3"))
    compression = pick("compression", (str,), ("gzip", "none"))
    step_seconds = pick("stepSeconds", (int, float))
    if errors:
        raise ApiError(400, "Invalid __sim__ directive", details=errors)
    return ExecutionPlan(
        outcome=outcome or "completed",
        steps=steps,
        fail_at_step=fail_at,
        error=error or "Simulated failure",
        output=output,
        output_storage=storage,
        compression=compression or "gzip",
        step_seconds=float(step_seconds) if step_seconds is not None else None,
    )
