"""The OpenAPI 3.1 document of the server, generated from the route table and the models.

Every path and operation comes from the route table (``_routes.ROUTES``); every schema is the JSON schema of a
pydantic model of ``_schemas`` (the request models are the ones the routes validate with).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from aimass_lab._version import __version__
from aimass_lab.serve.server._routing import Route
from aimass_lab.serve.server._schemas import ErrorBody

__all__ = ["openapi"]

_REF = "#/components/schemas/{model}"
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "api": [{"bearer": []}, {"apiKey": []}],
    "open-api": [{"bearer": []}, {"apiKey": []}, {}],  # {}: a server without API keys
    "admin": [{"adminKey": []}],
}
_PARAMETERS: dict[str, dict[str, Any]] = {
    "name": {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    "version": {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}},
    "target": {
        "name": "target",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "example": "digits:prod",
    },
}
_INFO = {
    "title": "AI Mass Lab inference server",
    "version": __version__,
    "description": (
        "Open Inference Protocol v2 over HTTP/JSON plus a JSON predict route and an "
        "admin API. Every inference answer carries the header x-model-version. "
        'Errors are {"error": "..."}.'
    ),
}


def _schema(model: type[BaseModel] | None) -> dict[str, Any]:
    if model is None:
        return {"type": "object"}
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(route: Route, keyed: bool) -> dict[str, Any]:
    content = (
        {route.content: {}}
        if route.content != "application/json"
        else {route.content: {"schema": _schema(route.response)}}
    )
    op: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "responses": {"200": {"description": "OK", "content": content}},
    }
    for code in route.errors:
        op["responses"][str(code)] = {"$ref": "#/components/responses/Error"}
    if route.request is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(route.request)}},
        }
    params = re.findall(r"\{(\w+)\}", route.path)
    if params:
        op["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if route.security == "api":
        op["security"] = _SECURITY["api" if keyed else "open-api"]
    elif route.security in _SECURITY:
        op["security"] = _SECURITY[route.security]
    return op


@functools.cache
def _document(routes: tuple[Route, ...], keyed: bool) -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        for model in (route.request, route.response):
            if model is not None:
                models[model.__name__] = model
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, keyed)
    _, defs = models_json_schema([(m, "validation") for m in models.values()], ref_template=_REF)
    schemas = defs.get("$defs", {})
    schemas["Error"] = schemas.pop("ErrorBody")
    error_schema = {"$ref": _REF.format(model="Error")}
    error = {"description": "Error", "content": {"application/json": {"schema": error_schema}}}
    return {
        "openapi": "3.1.0",
        "info": _INFO,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "adminKey": {"type": "apiKey", "in": "header", "name": "x-admin-key"},
            },
            "parameters": _PARAMETERS,
            "responses": {"Error": error},
            "schemas": dict(sorted(schemas.items())),
        },
    }


def openapi(routes: tuple[Route, ...], keyed: bool = False) -> dict[str, Any]:
    """The OpenAPI document of a route table (the server's, ``_routes.ROUTES``, is served at
    ``/openapi.json``). ``keyed``: the server has API keys, so the API routes need one (else
    they may also be called without)."""
    import copy

    return copy.deepcopy(_document(routes, keyed))
