"""Helpers every route group shares: body decoding, task answers, route registration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiohttp import web

from tether.testing.pioreactor._leader import BROADCAST, Leader, UnitOp
from tether.testing.pioreactor._tasks import TaskRecord
from tether.testing.pioreactor._wire import ApiError, Field, decode_body, json_response

__all__ = ["Handler", "RouteGroup"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RouteGroup:
    """Base of the route modules: owns a :class:`Leader` and registers handlers."""

    def __init__(self, leader: Leader) -> None:
        self.leader = leader
        self.contract = leader.contract
        self.routes: list[tuple[str, str, Handler]] = []

    def add(self, methods: str, path: str, handler: Handler) -> None:
        """Register *handler* for each comma-separated method on *path*."""
        for method in methods.split(","):
            self.routes.append((method.strip(), path, handler))

    def register(self) -> None:
        """Subclasses add their routes here (honouring the contract)."""

    # -- request helpers ------------------------------------------------------------------------

    async def body(self, request: web.Request, fields: Sequence[Field]) -> dict[str, Any]:
        """The decoded JSON body (strict on 26.5.3+)."""
        return decode_body(await request.read(), request.content_type, fields, self.contract)

    def accepted(self, record: TaskRecord) -> web.Response:
        """202 with the task id to poll."""
        return json_response(self.leader.tasks.accepted_body(record), status=202)

    def no_task(self, status: str | None = None) -> web.Response:
        """202 without a task (``{"status": "accepted"}`` on 26.5.3+, else ``success``)."""
        return json_response({"status": status or self.contract.no_task_status}, status=202)

    def fanout_task(self, units: list[str], method: str, path: str, op: UnitOp) -> web.Response:
        """Start a fan-out task over *units* and answer 202."""
        leader = self.leader
        return self.accepted(leader.tasks.submit(lambda: leader.fanout(units, method, path, op)))

    def units_for(self, unit: str, *, workers_only: bool = False) -> list[str]:
        """``$broadcast`` → every unit (or worker); otherwise *unit*, once it is known."""
        leader = self.leader
        if unit == BROADCAST:
            return list(leader.workers) if workers_only else leader.all_units()
        if workers_only:
            leader.require_registered_worker(unit)
        else:
            leader.require_registered_unit(unit)
        return [unit]

    @staticmethod
    def query(request: web.Request, name: str, default: str | None = None) -> str | None:
        """A query parameter, or *default*."""
        return request.query.get(name, default)

    @staticmethod
    def int_query(
        request: web.Request,
        name: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        """Parse an integer query parameter with the leader's 400 messages."""
        raw = request.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(
                400,
                f"Invalid {name}",
                cause=f"{name} must be an integer.",
                remediation=f"Provide {name} as an integer.",
            ) from None
        if minimum is not None and value < minimum:
            raise ApiError(
                400,
                f"Invalid {name}",
                cause=f"{name} must be at least {minimum}.",
                remediation=f"Provide {name} as an integer greater than or equal to {minimum}.",
            )
        if maximum is not None and value > maximum:
            raise ApiError(
                400,
                f"Invalid {name}",
                cause=f"{name} must be at most {maximum}.",
                remediation=f"Provide {name} as an integer less than or equal to {maximum}.",
            )
        return value


def register_all(app: web.Application, groups: Iterable[RouteGroup]) -> None:
    """Add every group's routes to *app*, in order (static paths before dynamic ones)."""
    for group in groups:
        group.register()
        for method, path, handler in group.routes:
            app.router.add_route(method, path, handler)
            if method == "GET":  # Flask answers HEAD for every GET rule
                app.router.add_route("HEAD", path, handler)
