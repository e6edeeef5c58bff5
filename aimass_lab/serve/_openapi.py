"""The OpenAPI 3.1 document of the server: JSON, OIP v2, metrics and admin routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aimass_lab._version import __version__

__all__ = ["openapi"]

_ERR = {"$ref": "#/components/responses/Error"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    security: str | None = "api",
    params: Sequence[str] = (),
    errors: tuple[int, ...] = (400, 401, 403, 404),
    tag: str = "inference",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {"200": {"description": "OK", **_json(ok)}},
    }
    for code in errors:
        op["responses"][str(code)] = _ERR
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if security == "api":
        op["security"] = [{"bearer": []}, {"apiKey": []}, {}]
    elif security == "admin":
        op["security"] = [{"adminKey": []}]
    return op


def openapi() -> dict[str, Any]:
    """The OpenAPI document (also served at ``/openapi.json``)."""
    S = "#/components/schemas/"
    infer_errors = (400, 401, 403, 404, 413, 429, 503, 504)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI Mass Lab inference server",
            "version": __version__,
            "description": (
                "Open Inference Protocol v2 over HTTP/JSON plus a JSON predict route and an "
                "admin API. Every inference answer carries the header x-model-version. "
                'Errors are {"error": "..."}.'
            ),
        },
        "paths": {
            "/v2/health/live": {
                "get": _op("Liveness", {"type": "object"}, security=None, errors=(), tag="health")
            },
            "/v2/health/ready": {
                "get": _op(
                    "Readiness (503 while loading or draining)",
                    {"type": "object"},
                    security=None,
                    errors=(503,),
                    tag="health",
                )
            },
            "/v2": {
                "get": _op(
                    "Server metadata",
                    {"$ref": S + "ServerMetadata"},
                    security=None,
                    errors=(),
                    tag="oip",
                )
            },
            "/v2/models/{name}": {
                "get": _op(
                    "Model metadata", {"$ref": S + "ModelMetadata"}, params=["name"], tag="oip"
                )
            },
            "/v2/models/{name}/ready": {
                "get": _op(
                    "Model readiness",
                    {"type": "object"},
                    params=["name"],
                    errors=(401, 403, 404, 503),
                    tag="oip",
                )
            },
            "/v2/models/{name}/infer": {
                "post": _op(
                    "Infer (version drawn by the traffic split)",
                    {"$ref": S + "InferResponse"},
                    body={"$ref": S + "InferRequest"},
                    params=["name"],
                    errors=infer_errors,
                    tag="oip",
                )
            },
            "/v2/models/{name}/versions/{version}": {
                "get": _op(
                    "Version metadata",
                    {"$ref": S + "ModelMetadata"},
                    params=["name", "version"],
                    tag="oip",
                )
            },
            "/v2/models/{name}/versions/{version}/ready": {
                "get": _op(
                    "Version readiness",
                    {"type": "object"},
                    params=["name", "version"],
                    errors=(401, 403, 404, 503),
                    tag="oip",
                )
            },
            "/v2/models/{name}/versions/{version}/infer": {
                "post": _op(
                    "Infer on one version",
                    {"$ref": S + "InferResponse"},
                    body={"$ref": S + "InferRequest"},
                    params=["name", "version"],
                    errors=infer_errors,
                    tag="oip",
                )
            },
            "/v1/models": {
                "get": _op(
                    "Served models",
                    {
                        "type": "object",
                        "properties": {
                            "models": {"type": "array", "items": {"$ref": S + "ModelSummary"}}
                        },
                    },
                )
            },
            "/v1/models/{target}/predict": {
                "post": _op(
                    "Predict: target is NAME, NAME:VERSION or NAME:ALIAS",
                    {"$ref": S + "PredictResponse"},
                    body={"$ref": S + "PredictRequest"},
                    params=["target"],
                    errors=infer_errors,
                )
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "tags": ["health"],
                    "responses": {
                        "200": {"description": "Prometheus text", "content": {"text/plain": {}}}
                    },
                }
            },
            "/admin/models": {
                "get": _op(
                    "Served models, versions, split (admin)",
                    {"type": "array", "items": {"$ref": S + "AdminModel"}},
                    security="admin",
                    errors=(401, 403, 404),
                    tag="admin",
                )
            },
            "/admin/models/{name}": {
                "get": _op(
                    "One served model (admin)",
                    {"$ref": S + "AdminModel"},
                    security="admin",
                    params=["name"],
                    errors=(401, 403, 404),
                    tag="admin",
                ),
                "delete": _op(
                    "Unload a model and all its versions",
                    {"type": "object"},
                    security="admin",
                    params=["name"],
                    errors=(401, 403, 404),
                    tag="admin",
                ),
            },
            "/admin/models/{name}/versions": {
                "post": _op(
                    "Load a registry version (sha256-verified)",
                    {"$ref": S + "AdminVersion"},
                    body={"$ref": S + "LoadRequest"},
                    security="admin",
                    params=["name"],
                    errors=(400, 401, 403, 404, 409, 422),
                    tag="admin",
                )
            },
            "/admin/models/{name}/versions/{version}": {
                "delete": _op(
                    "Unload a version (after its queue drains)",
                    {"type": "object"},
                    security="admin",
                    params=["name", "version"],
                    errors=(401, 403, 404, 409),
                    tag="admin",
                )
            },
            "/admin/models/{name}/split": {
                "put": _op(
                    "Set the traffic split and the shadow version",
                    {"$ref": S + "AdminModel"},
                    body={"$ref": S + "SplitRequest"},
                    security="admin",
                    params=["name"],
                    errors=(400, 401, 403, 404, 409),
                    tag="admin",
                )
            },
            "/admin/models/{name}/rollback": {
                "post": _op(
                    "Restore the previous split",
                    {"$ref": S + "AdminModel"},
                    security="admin",
                    params=["name"],
                    errors=(401, 403, 404, 409),
                    tag="admin",
                )
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "adminKey": {"type": "apiKey", "in": "header", "name": "x-admin-key"},
            },
            "parameters": {
                "name": {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
                "version": {
                    "name": "version",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
                "target": {
                    "name": "target",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "example": "digits:prod",
                },
            },
            "responses": {"Error": {"description": "Error", **_json({"$ref": S + "Error"})}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Tensor": {
                    "type": "object",
                    "required": ["name", "shape", "datatype"],
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                        "datatype": {
                            "type": "string",
                            "enum": [
                                "BOOL",
                                "UINT8",
                                "UINT16",
                                "UINT32",
                                "UINT64",
                                "INT8",
                                "INT16",
                                "INT32",
                                "INT64",
                                "FP16",
                                "FP32",
                                "FP64",
                            ],
                        },
                        "data": {"type": "array"},
                        "parameters": {"type": "object"},
                    },
                },
                "TensorMetadata": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "datatype": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                    },
                },
                "ServerMetadata": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "version": {"type": "string"},
                        "extensions": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "ModelMetadata": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "versions": {"type": "array", "items": {"type": "string"}},
                        "platform": {"type": "string"},
                        "inputs": {"type": "array", "items": {"$ref": S + "TensorMetadata"}},
                        "outputs": {"type": "array", "items": {"$ref": S + "TensorMetadata"}},
                        "parameters": {"type": "object"},
                    },
                },
                "InferRequest": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {"type": "array", "items": {"$ref": S + "Tensor"}},
                        "outputs": {"type": "array", "items": {"type": "object"}},
                        "parameters": {"type": "object"},
                    },
                },
                "InferResponse": {
                    "type": "object",
                    "properties": {
                        "model_name": {"type": "string"},
                        "model_version": {"type": "string"},
                        "id": {"type": "string"},
                        "outputs": {"type": "array", "items": {"$ref": S + "Tensor"}},
                    },
                },
                "PredictRequest": {
                    "type": "object",
                    "description": "Exactly one of inputs (model-ready rows; raw=true: raw values in column order) or records (raw {column: value}, preprocessed by the server).",
                    "properties": {
                        "inputs": {"type": "array"},
                        "records": {"type": "array", "items": {"type": "object"}},
                        "raw": {"type": "boolean", "default": False},
                    },
                },
                "PredictResponse": {
                    "type": "object",
                    "required": ["model", "version", "predictions"],
                    "properties": {
                        "model": {"type": "string"},
                        "version": {"type": "string"},
                        "predictions": {
                            "type": "array",
                            "description": "class labels (classification) or values (regression)",
                        },
                        "probabilities": {
                            "type": "array",
                            "items": {"type": "array", "items": {"type": "number"}},
                        },
                        "confidence": {"type": "array", "items": {"type": "number"}},
                    },
                },
                "ModelSummary": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "versions": {"type": "array", "items": {"type": "object"}},
                        "split": {"type": "object"},
                        "shadow": {"type": ["string", "null"]},
                    },
                },
                "AdminVersion": {
                    "type": "object",
                    "properties": {
                        "version": {"type": "string"},
                        "ref": {"type": "string"},
                        "engine": {"type": "string"},
                        "device": {"type": "string"},
                        "replicas": {"type": "integer"},
                        "ready": {"type": "boolean"},
                        "state": {"type": "string"},
                        "error": {"type": ["string", "null"]},
                        "aliases": {"type": "array", "items": {"type": "string"}},
                        "batching": {"$ref": S + "Batching"},
                        "workers": {"type": "array", "items": {"type": "integer"}},
                        "restarts": {"type": "integer"},
                    },
                },
                "AdminModel": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "versions": {"type": "array", "items": {"$ref": S + "AdminVersion"}},
                        "split": {"type": "object", "additionalProperties": {"type": "number"}},
                        "shadow": {"type": ["string", "null"]},
                        "previous_split": {"type": ["object", "null"]},
                    },
                },
                "Batching": {
                    "type": "object",
                    "properties": {
                        "max_batch_size": {"type": "integer", "minimum": 1},
                        "max_delay_ms": {"type": "number", "minimum": 0},
                        "queue_size": {"type": "integer", "minimum": 1},
                    },
                },
                "LoadRequest": {
                    "type": "object",
                    "required": ["ref"],
                    "properties": {
                        "ref": {"type": "string", "example": "digits:4"},
                        "replicas": {"type": "integer", "minimum": 1, "default": 1},
                        "batching": {"$ref": S + "Batching"},
                        "engine": {"type": "string", "enum": ["auto", "onnxruntime", "torch"]},
                        "isolation": {"type": "string", "enum": ["auto", "thread", "process"]},
                        "replace": {
                            "type": "boolean",
                            "default": False,
                            "description": "reload a version already loaded with these "
                            "settings: the new one loads beside it and takes its traffic "
                            "once ready, the old one drains (no failed request)",
                        },
                    },
                },
                "SplitRequest": {
                    "type": "object",
                    "required": ["split"],
                    "properties": {
                        "split": {
                            "type": "object",
                            "additionalProperties": {"type": "number", "minimum": 0},
                            "example": {"3": 90, "4": 10},
                        },
                        "shadow": {"type": ["string", "null"]},
                    },
                },
            },
        },
    }
