"""The server's routes in one table: method, path pattern, handler, security, body models.

The ASGI app dispatches with a :class:`~aimass_lab.serve.server._routing.Router` over
:data:`ROUTES`; the OpenAPI document is generated from the same table and the models of
``_schemas``. To add a route: write its handler (an async function of the app and the
:class:`Request`) in ``_handlers`` or ``_admin`` and add a :class:`Route` here.
"""

from __future__ import annotations

from aimass_lab.serve.server import _admin as admin
from aimass_lab.serve.server import _handlers as h
from aimass_lab.serve.server._routing import Route
from aimass_lab.serve.server._schemas import (
    AdminModel,
    AdminModels,
    AdminVersion,
    InferRequest,
    InferResponse,
    LoadRequest,
    ModelList,
    ModelMetadata,
    ModelSummary,
    PredictRequest,
    PredictResponse,
    RepositoryIndex,
    ServerMetadata,
    SplitRequest,
)

__all__ = ["ROUTES"]

_INFER = (400, 401, 403, 404, 413, 422, 429, 503, 504)
_API = (400, 401, 403, 404)
_ADMIN = (401, 403, 404)

R = Route
ROUTES: tuple[Route, ...] = (
    R("GET", "/v2/health/live", h.health_live, "Liveness", "health", "open", errors=()),
    R("GET", "/v2/health/ready", h.health_ready, "Readiness (503 while loading or draining)",
      "health", "open", errors=(503,)),
    R("GET", "/v2", h.server_metadata, "Server metadata", "oip", "open",
      response=ServerMetadata, errors=()),
    R("POST", "/v2/repository/index", h.repository_index, "Model repository index", "oip",
      response=RepositoryIndex),
    R("GET", "/v2/repository/index", h.repository_index, "Model repository index", "oip",
      response=RepositoryIndex),
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
      "admin", response=AdminModels, errors=_ADMIN),
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
