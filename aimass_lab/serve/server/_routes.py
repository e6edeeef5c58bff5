"""The server's routes in one table: method, path pattern, handler, security, body models.

The ASGI app dispatches with :func:`find`; the OpenAPI document is generated from
:data:`ROUTES` and the models of ``_schemas``. To add a route: write its handler (an async
function of the app and the :class:`Request`) and add a :class:`Route` here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from aimass_lab.serve.server import _admin as admin
from aimass_lab.serve.server import _handlers as h
from aimass_lab.serve.server._protocol import HTTPError
from aimass_lab.serve.server._schemas import (
    AdminModel,
    AdminVersion,
    InferRequest,
    InferResponse,
    LoadRequest,
    ModelList,
    ModelMetadata,
    ModelSummary,
    PredictRequest,
    PredictResponse,
    ServerMetadata,
    SplitRequest,
)

if TYPE_CHECKING:
    from aimass_lab.serve.server._app import Receive, Scope, ServeApp

__all__ = ["ROUTES", "Match", "Reply", "Request", "Route", "find", "no_route"]

#: status, body, headers
Reply = tuple[int, bytes, dict[str, str]]
Security = Literal["open", "api", "admin"]
Handler = Callable[["ServeApp", "Request"], Awaitable[Reply]]

_INFER = (400, 401, 403, 404, 413, 429, 503, 504)
_API = (400, 401, 403, 404)
_ADMIN = (401, 403, 404)


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
    errors: tuple[int, ...] = _API
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


R = Route
ROUTES: tuple[Route, ...] = (
    R("GET", "/v2/health/live", h.health_live, "Liveness", "health", "open", errors=()),
    R("GET", "/v2/health/ready", h.health_ready, "Readiness (503 while loading or draining)",
      "health", "open", errors=(503,)),
    R("GET", "/v2", h.server_metadata, "Server metadata", "oip", "open",
      response=ServerMetadata, errors=()),
    R("POST", "/v2/repository/index", h.repository_index, "Model repository index", "oip"),
    R("GET", "/v2/repository/index", h.repository_index, "Model repository index", "oip"),
    R("GET", "/v2/models/{name}", h.model_metadata, "Model metadata", "oip",
      response=ModelMetadata),
    R("GET", "/v2/models/{name}/ready", h.model_ready, "Model readiness", "oip",
      errors=(401, 403, 404, 503)),
    R("POST", "/v2/models/{name}/infer", h.model_infer,
      "Infer (version drawn by the traffic split)", "oip", request=InferRequest,
      response=InferResponse, errors=_INFER, validate=False),
    R("GET", "/v2/models/{name}/versions/{version}", h.model_metadata, "Version metadata",
      "oip", response=ModelMetadata),
    R("GET", "/v2/models/{name}/versions/{version}/ready", h.model_ready, "Version readiness",
      "oip", errors=(401, 403, 404, 503)),
    R("POST", "/v2/models/{name}/versions/{version}/infer", h.model_infer,
      "Infer on one version", "oip", request=InferRequest, response=InferResponse,
      errors=_INFER, validate=False),
    R("GET", "/v1/models", h.list_models, "Served models", "inference", response=ModelList),
    R("GET", "/v1/models/{target}", h.model_summary, "One served model", "inference",
      response=ModelSummary),
    R("POST", "/v1/models/{target}/predict", h.predict,
      "Predict: target is NAME, NAME:VERSION or NAME:ALIAS", "inference",
      request=PredictRequest, response=PredictResponse, errors=_INFER, validate=False),
    R("GET", "/metrics", h.metrics, "Prometheus metrics", "health", "open", errors=(),
      content="text/plain"),
    R("GET", "/openapi.json", h.openapi_document, "This OpenAPI document", "health", "open",
      errors=()),
    R("GET", "/", h.index, "Server name, version and main routes", "health", "open", errors=()),
    R("GET", "/admin/models", admin.models, "Served models, versions, split (admin)", "admin",
      "admin", response=AdminModel, errors=_ADMIN),
    R("DELETE", "/admin/models/{name}", admin.unload_model,
      "Unload a model and all its versions", "admin", "admin", errors=_ADMIN),
    R("GET", "/admin/models/{name}", admin.model, "One served model (admin)", "admin", "admin",
      response=AdminModel, errors=_ADMIN),
    R("POST", "/admin/models/{name}/versions", admin.load,
      "Load a registry version (sha256-verified)", "admin", "admin", request=LoadRequest,
      response=AdminVersion, errors=(400, 401, 403, 404, 409, 422)),
    R("DELETE", "/admin/models/{name}/versions/{version}", admin.unload_version,
      "Unload a version (after its queue drains)", "admin", "admin",
      errors=(401, 403, 404, 409)),
    R("GET", "/admin/models/{name}/versions/{version}", admin.version, "One loaded version",
      "admin", "admin", response=AdminVersion, errors=_ADMIN),
    R("PUT", "/admin/models/{name}/split", admin.split,
      "Set the traffic split and the shadow version", "admin", "admin", request=SplitRequest,
      response=AdminModel, errors=(400, 401, 403, 404, 409)),
    R("POST", "/admin/models/{name}/rollback", admin.rollback, "Restore the previous split",
      "admin", "admin", response=AdminModel, errors=(401, 403, 404, 409)),
)  # fmt: skip

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


# the routes by (number of segments, first segment): a lookup tries two or three routes
_INDEX: dict[tuple[int, str], tuple[Route, ...]] = {}
for _route in ROUTES:
    _key = (len(_route.segments), _route.segments[0])
    _INDEX[_key] = (*_INDEX.get(_key, ()), _route)


def find(method: str, parts: list[str]) -> Match:
    """The route of ``method`` on the path split into ``parts`` (HEAD answers as GET)."""
    want = "GET" if method == "HEAD" else method
    matched: list[Route] = []
    for route in _INDEX.get((len(parts), parts[0]), ()):
        params = route.match(parts)
        if params is not None:
            if route.method == want:
                return Match(route.security, route, params)
            matched.append(route)
    if not matched:
        return Match(_security_of(parts), None, {})
    return Match(matched[0].security, None, {}, tuple(r.method for r in matched))


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
