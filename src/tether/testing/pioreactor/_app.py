"""The aiohttp application: routes for the contract, the ``Origin`` rule, CORS, error shapes."""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from tether.testing.pioreactor._http import register_all
from tether.testing.pioreactor._leader import Leader, RecordedRequest
from tether.testing.pioreactor._routes_cluster import ClusterRoutes
from tether.testing.pioreactor._routes_data import DataRoutes
from tether.testing.pioreactor._routes_jobs import JobRoutes
from tether.testing.pioreactor._routes_units import UnitRoutes
from tether.testing.pioreactor._wire import ApiError

__all__ = ["build_app"]

logger = logging.getLogger("tether.testing.pioreactor")

NOT_FOUND: Final = (
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again."
)
METHOD_NOT_ALLOWED: Final = "The method is not allowed for the requested URL."
INTERNAL_ERROR: Final = (
    "The server encountered an internal error and was unable to complete your request. Either "
    "the server is overloaded or there is an error in the application."
)
MUTATING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALLOW_METHODS: Final = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS: Final = "Content-Type, Accept, X-Pioreactor-Target"


def _allowed_origin(origin: str, cluster_hosts: set[str]) -> bool:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or parts.path or parts.query:
        return False
    if host in ("localhost", "127.0.0.1"):
        return True
    if port is not None:
        return False
    return host in cluster_hosts


def build_app(leader: Leader) -> web.Application:
    """Build the leader's web app for its contract."""
    contract = leader.contract
    style = contract.error_style

    def cluster_hosts() -> set[str]:
        hosts: set[str] = set()
        for unit in leader.all_units():
            hosts.add(unit.lower())
            hosts.add(unit.lower().removesuffix(".local") + ".local")
        hosts.add("127.0.0.1")
        return hosts

    def origin_rejection(request: web.Request) -> web.Response | None:
        if not contract.origin_check or request.method not in MUTATING:
            return None
        if not request.path.startswith(("/api/", "/unit_api/")):
            return None
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        try:
            same = urlsplit(origin).netloc.lower() == request.host.lower()
        except ValueError:
            same = False
        if same or _allowed_origin(origin, cluster_hosts()):
            return None
        return ApiError(
            403,
            "Cross-site request rejected.",
            cause=f"Requests from {origin} can't change this cluster.",
            remediation=(
                "Use the Pioreactor web interface, or call the API from a Pioreactor in the "
                "inventory."
            ),
        ).response(style)

    def add_cors(request: web.Request, response: web.StreamResponse) -> None:
        if not request.path.startswith("/api/"):
            return
        response.headers["Vary"] = "Origin"
        origin = request.headers.get("Origin")
        if contract.origin_check and origin and _allowed_origin(origin, cluster_hosts()):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"

    def preflight(request: web.Request) -> web.Response | None:
        """Flask's automatic OPTIONS answer: 200, empty, with ``Allow``."""
        if request.method != "OPTIONS":
            return None
        exception = request.match_info.http_exception
        if not isinstance(exception, web.HTTPMethodNotAllowed):
            return None
        allowed = sorted(set(exception.allowed_methods) | {"OPTIONS"})
        return web.Response(
            status=200, content_type="text/html", headers={"Allow": ", ".join(allowed)}
        )

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse | None = origin_rejection(request) or preflight(request)
        if response is None:
            try:
                response = await handler(request)
            except ApiError as exc:
                response = exc.response(style)
            except web.HTTPMethodNotAllowed:
                response = ApiError(405, METHOD_NOT_ALLOWED).response(style)
            except web.HTTPNotFound:
                response = ApiError(404, NOT_FOUND).response(style)
            except web.HTTPException:
                raise
            except Exception:
                logger.exception("simulator route %s %s failed", request.method, request.path)
                response = ApiError(500, INTERNAL_ERROR).response(style)
        add_cors(request, response)
        leader.requests.append(RecordedRequest(request.method, request.path_qs, response.status))
        return response

    app = web.Application(middlewares=[middleware])
    register_all(
        app,
        [ClusterRoutes(leader), JobRoutes(leader), UnitRoutes(leader), DataRoutes(leader)],
    )
    return app
