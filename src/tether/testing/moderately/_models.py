"""Data the Moderately simulator records and the knobs tests hand it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from aiohttp import web
from attrs import define, field, frozen
from multidict import MultiMapping

from tether.testing.moderately._util import JSON

REQUEST_ID = web.RequestKey("tether.sim.request_id", str)
BODY_SIZE = web.RequestKey("tether.sim.body_size", int)
BODY_JSON = web.RequestKey("tether.sim.json", object)
PRINCIPAL = web.RequestKey("tether.sim.principal", object)

Outcome = Literal["completed", "failed"]
OutputStorage = Literal["inline", "s3"]
Compression = Literal["gzip", "none"]


@frozen
class RecordedRequest:
    """One request the simulator received, secrets redacted.

    ``headers`` keep their names; ``Authorization`` and ``Cookie`` values are replaced by
    ``[REDACTED]`` (the scheme of ``Authorization`` is kept), ``X-Amz-Signature`` in
    ``query`` likewise. ``json`` is the decoded body (``None`` for empty or binary bodies),
    with ``password``/``token`` keys redacted; ``body_size`` is its length in bytes.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]
    json: Any
    body_size: int
    status: int
    request_id: str
    at: str

    def query_dict(self) -> dict[str, list[str]]:
        """The query as ``{name: [values...]}``."""
        out: dict[str, list[str]] = {}
        for key, value in self.query:
            out.setdefault(key, []).append(value)
        return out


@frozen
class ExecutionPlan:
    """How a simulated pipeline or agent execution will play out.

    Give one to :meth:`Simulator.plan_next_execution`, or put the same keys (camelCase:
    ``outcome``, ``steps``, ``failAtStep``, ``error``, ``output``, ``outputStorage``,
    ``compression``, ``stepSeconds``) in the input under ``"__sim__"``.

    Example::

        sim.plan_next_execution(ExecutionPlan(outcome="failed", error="block b2 crashed"))
    """

    outcome: Outcome = "completed"
    steps: int | None = None
    fail_at_step: int | None = None
    error: str = "Simulated failure"
    output: JSON | None = None
    output_storage: OutputStorage | None = None
    compression: Compression = "gzip"
    step_seconds: float | None = None


@frozen
class StoredObject:
    """An object in the simulated object store (what a presigned PUT stored)."""

    key: str
    data: bytes
    content_type: str
    sha256: str
    created_at: str

    @property
    def size(self) -> int:
        """Length of the stored bytes."""
        return len(self.data)


@frozen
class SentEmail:
    """A sign-in email the simulator "sent" (``/authentication/email/initialize``)."""

    to: str
    token: str


@define
class FaultRule:
    """An injected failure for the next ``remaining`` matching requests."""

    remaining: int
    status: int
    path_prefix: str | None
    method: str | None
    retry_after: int | None
    body: JSON | None
    storage: bool = False
    delay: float = 0.0


@frozen
class Principal:
    """Who is calling: a user, optionally through a team-scoped API token or a session."""

    user_id: str
    token_id: str | None = None
    token_team: str | None = None
    role: str = "admin"
    session: str | None = None


@frozen
class Reply:
    """What an API handler answers: status, JSON body (``None`` = no body), headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(factory=lambda: dict[str, str]())


@frozen
class Ctx:
    """One API request as handlers see it."""

    method: str
    path: str
    params: Mapping[str, str]
    query: MultiMapping[str]
    body: JSON
    principal: Principal | None
    request_id: str
    user_agent: str | None
    remote: str | None


Handler = Callable[[Ctx], Reply]


@frozen
class Route:
    """An API route: method, path template, handler and bookkeeping flags."""

    method: str
    path: str
    handler: Handler
    auth: bool = True
    audit: tuple[str, str] | None = None
    audit_kind: str | None = None
    audit_id: str | None = None
    compat: bool = False
    spec: bool = True


@define
class Run:
    """The progression state of one execution (pipeline or agent)."""

    kind: Literal["pipeline", "agent"]
    plan: ExecutionPlan
    total_steps: int
    step_seconds: float
    anchor: float
    anchor_tick: int = 0
    state: Literal["auto", "paused", "done", "manual"] = "auto"
    observed: int = 0
    stamps: dict[int, str] = field(factory=lambda: dict[int, str]())
