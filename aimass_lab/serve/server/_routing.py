"""Routing of the inference server: requests, routes, the lookup and the 404/405 answers.

The route table itself is ``_routes.ROUTES`` (it names the handlers); this module names no
handler, so the handlers, the app and the OpenAPI generator can all import it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from aimass_lab.serve.server._protocol import HTTPError

__all__ = [
    "Handler",
    "Match",
    "Receive",
    "Reply",
    "Request",
    "Route",
    "Router",
    "Scope",
    "Security",
    "Send",
    "no_route",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: status, body, headers
Reply = tuple[int, bytes, dict[str, str]]
Security = Literal["open", "api", "admin"]
#: A route's handler: ``async (app, request) -> Reply`` (the app is the ServeApp).
Handler = Callable[[Any, "Request"], Awaitable[Reply]]


@dataclass(slots=True)
class Request:
    """One request as a handler sees it: the path's parameters and, for a route with a
    ``request`` model, its validated body (``data``)."""

    scope: Scope
    receive: Receive
    method: str
    params: dict[str, str]
    labels: list[str]  # model, version, route: the labels of the request's metrics
    data: Any = None


@dataclass(frozen=True)
class Route:
    """One route. ``security``: ``open``, ``api`` (the API keys, when the server has some)
    or ``admin`` (the admin key). With a ``request`` model and ``validate``, the body is
    parsed and validated before the handler runs; else the model only documents it."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    security: Security = "api"
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400, 401, 403, 404)  # the API routes' errors
    validate: bool = True
    content: str = "application/json"
    segments: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.path.strip("/").split("/")))

    def match(self, parts: list[str]) -> dict[str, str] | None:
        """The path parameters when ``parts`` (the path split on ``/``) is this route's."""
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for seg, part in zip(self.segments, parts, strict=True):
            if seg.startswith("{"):
                if not part:
                    return None
                params[seg[1:-1]] = part
            elif seg != part:
                return None
        return params


#: Where a path matches no route: (its first segments, its security, what the 404 says).
_NO_ROUTE: tuple[tuple[tuple[str, ...], Security, str], ...] = (
    (("v2", "health"), "open", "health routes: /v2/health/live, /v2/health/ready"),
    (("v2", "models"), "api", "see /openapi.json"),
    (("v1", "models"), "api", "the JSON route is POST /v1/models/NAME[:VERSION]/predict"),
    (("admin",), "admin", "see /openapi.json"),
)


@dataclass(slots=True)
class Match:
    """Where a path leads: its security, and its route for the method (None: the path has
    no route, or, with ``allowed``, only routes for other methods)."""

    security: Security
    route: Route | None
    params: dict[str, str]
    allowed: tuple[str, ...] = ()

    def error(self, method: str, path: str, parts: list[str]) -> HTTPError:
        """The 405 (naming the accepted methods) or the 404 of a match without route."""
        if self.allowed:
            allowed = ", ".join(self.allowed)
            message = f"method {method} not allowed here; accepted: {allowed}"
            return HTTPError(405, message, {"allow": allowed})
        return no_route(path, parts)


class Router:
    """Dispatch over a route table: the routes indexed by (number of segments, first
    segment), so a lookup tries two or three routes."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self.routes = routes
        index: dict[tuple[int, str], tuple[Route, ...]] = {}
        for route in routes:
            key = (len(route.segments), route.segments[0])
            index[key] = (*index.get(key, ()), route)
        self._index = index

    def find(self, method: str, parts: list[str]) -> Match:
        """The route of ``method`` on the path split into ``parts`` (HEAD answers as GET)."""
        want = "GET" if method == "HEAD" else method
        matched: list[Route] = []
        for route in self._index.get((len(parts), parts[0]), ()):
            params = route.match(parts)
            if params is not None:
                if route.method == want:
                    return Match(route.security, route, params)
                matched.append(route)
        if not matched:
            return Match(_security_of(parts), None, {})
        allowed = tuple(r.method for r in matched)
        if want == "OPTIONS":  # 200 with the methods of the path, as the OpenAPI document
            return Match(matched[0].security, _options_route(matched[0], allowed), {}, allowed)
        return Match(matched[0].security, None, {}, allowed)


def _options_route(route: Route, allowed: tuple[str, ...]) -> Route:
    """The answer to ``OPTIONS`` on ``route``'s path: 200, no body, and ``Allow`` naming the
    methods of the route table for the path (those the OpenAPI document lists), as a 405
    does."""
    header = {"allow": ", ".join(allowed)}

    async def options(app: Any, req: Request) -> Reply:
        return 200, b"", dict(header)

    return Route("OPTIONS", route.path, options, "Allowed methods", route.tag, route.security)


def _security_of(parts: list[str]) -> Security:
    for prefix, security, _ in _NO_ROUTE:
        if tuple(parts[: len(prefix)]) == prefix:
            return security
    return "open"


def no_route(path: str, parts: list[str]) -> HTTPError:
    """The 404 of a path no route has."""
    for prefix, _, hint in _NO_ROUTE:
        if tuple(parts[: len(prefix)]) == prefix:
            where = "admin route" if prefix == ("admin",) else "route"
            return HTTPError(404, f"no {where} {path!r}; {hint}")
    return HTTPError(404, f"no route {path!r}; see /openapi.json")
