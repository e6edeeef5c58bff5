"""The handlers of the inference, health and metadata routes (see ``_routes.ROUTES``).

Each is ``async (app, request) -> (status, body, headers)``; the hot path (``model_infer``,
``predict``) parses its body with the protocol's own fast parsers, not with pydantic.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab._version import __version__
from aimass_lab.serve.server._errors import INFER_ERRORS, http_error
from aimass_lab.serve.server._predict import format_predictions, parse_predict
from aimass_lab.serve.server._protocol import (
    HTTPError,
    encode_infer_response,
    json_bytes,
    json_bytes_finite,
    parse_infer_request,
    parse_json,
)
from aimass_lab.serve.server._router import ServedModel, ServedVersion

if TYPE_CHECKING:
    from aimass_lab.serve.server._app import ServeApp
    from aimass_lab.serve.server._routing import Reply, Request

__all__ = [
    "health_live",
    "health_ready",
    "index",
    "list_models",
    "metrics",
    "model_infer",
    "model_metadata",
    "model_ready",
    "model_summary",
    "openapi_document",
    "predict",
    "repository_index",
    "server_metadata",
]

_JSON = {"content-type": "application/json"}
_EXTENSIONS = ["model_repository", "binary_tensor_data", "aimass_json_predict", "aimass_admin"]


def ok(doc: Any) -> Reply:
    """200 with ``doc`` as JSON."""
    return 200, json_bytes(doc), dict(_JSON)


# ------------------------------------------------------------------------ health and server
async def health_live(app: ServeApp, req: Request) -> Reply:
    return ok({"live": True})


async def health_ready(app: ServeApp, req: Request) -> Reply:
    """Ready: the startup models are loaded, the server is not draining and (with strict
    readiness, the default) no served version failed to load."""
    failed = [v for m in app.models.values() for v in m.versions.values() if v.state == "failed"]
    if app.loaded and not app.draining and not (failed and app.config.strict_readiness):
        doc: dict[str, Any] = {"ready": True}
        if failed:  # --no-strict-readiness: ready for the others, and says which is not
            doc["failed"] = [f"{v.model}:{v.label}" for v in failed]
        return ok(doc)
    if app.draining:
        why = "shutting down"
    elif not app.loaded:
        why = "loading models"
    else:
        v = failed[0]
        why = (
            f"{v.what} failed to load: {v.error}; the other models serve. Unload it "
            f"(DELETE /admin/models/{v.model}) or start the server with "
            "--no-strict-readiness to be ready without it"
        )
    return 503, json_bytes({"ready": False, "error": why}), dict(_JSON)


async def server_metadata(app: ServeApp, req: Request) -> Reply:
    return ok({"name": "aimass-serve", "version": __version__, "extensions": _EXTENSIONS})


async def index(app: ServeApp, req: Request) -> Reply:
    routes = ["/v2", "/v2/health/ready", "/v1/models", "/metrics", "/openapi.json"]
    return ok({"name": "aimass-serve", "version": __version__, "routes": routes})


async def metrics(app: ServeApp, req: Request) -> Reply:
    return 200, app.metrics.render(), {"content-type": "text/plain; version=0.0.4; charset=utf-8"}


async def openapi_document(app: ServeApp, req: Request) -> Reply:
    from aimass_lab.serve.server._openapi import openapi

    return ok(openapi(app.router.routes, keyed=bool(app.config.api_keys)))


async def repository_index(app: ServeApp, req: Request) -> Reply:
    return ok(
        [
            {
                "name": m.name,
                "version": v.label,
                "state": "READY" if v.ready else v.state.upper(),
                "reason": v.error or "",
            }
            for m in app.models.values()
            for v in m.versions.values()
        ]
    )


# ------------------------------------------------------------------------------------ OIP v2
def _target(app: ServeApp, req: Request) -> tuple[ServedModel, ServedVersion | None]:
    model = app.model(req.params["name"])
    label = req.params.get("version")
    return model, app.version(model, label) if label is not None else None


async def model_metadata(app: ServeApp, req: Request) -> Reply:
    model, version = _target(app, req)
    return ok(_model_metadata(model) if version is None else version.metadata())


async def model_ready(app: ServeApp, req: Request) -> Reply:
    model, version = _target(app, req)
    if version is None:
        ready = any(model.versions[lab].ready for lab in model.split if lab in model.versions)
    else:
        ready = version.ready
    if ready:
        return ok({"name": model.name, "ready": True})
    versions = [version] if version is not None else list(model.versions.values())
    error = next(
        (f"{v.what} {v.state}: {v.error}" for v in versions if v.error),
        "no version is ready" if version is None else f"{version.what} is {version.state}",
    )
    return 503, json_bytes({"name": model.name, "ready": False, "error": error}), dict(_JSON)


async def model_infer(app: ServeApp, req: Request) -> Reply:
    model, version = _target(app, req)
    app.check_serving()
    labels = req.labels
    labels[0], labels[2] = model.name, "infer"
    body = await app.body(req.scope, req.receive)
    # a version reloaded (new settings) while the body was read: the new one answers
    version = model.pick() if version is None else model.versions.get(version.label, version)
    labels[1] = version.label
    hl = app.header(req.scope, b"inference-header-content-length")
    header_length: int | None = None
    if hl is not None:
        try:
            header_length = int(hl)
        except ValueError:
            raise HTTPError(400, "Inference-Header-Content-Length is not a number") from None
    require_ready(version)
    raw = version.card.raw if version.card is not None else None
    parsed = parse_infer_request(
        body, header_length, version.inputs, version.outputs,
        version.batching.max_batch_size, version.what, raw,
    )  # fmt: skip
    shadow(app, model, version, parsed.arrays, parsed.rows)
    outs = await infer(app, version, parsed.arrays, parsed.rows)
    payload, headers = encode_infer_response(
        model.name, version.label, version.outputs, outs, parsed
    )
    headers["x-model-version"] = version.label
    return 200, payload, headers


def _model_metadata(model: ServedModel) -> dict[str, Any]:
    ready = [v for v in model.versions.values() if v.state == "ready"]
    if not ready:
        raise HTTPError(503, f"model {model.name!r} has no version ready")
    # the metadata of the version that takes the most traffic
    main = max(ready, key=lambda v: model.split.get(v.label, 0))
    doc = main.metadata()
    doc["versions"] = list(model.versions)
    doc["parameters"] = {**doc["parameters"], "split": dict(model.split), "shadow": model.shadow}
    return doc


# ---------------------------------------------------------------------------- the JSON route
async def list_models(app: ServeApp, req: Request) -> Reply:
    return ok({"models": [_summary(m) for m in app.models.values()]})


async def model_summary(app: ServeApp, req: Request) -> Reply:
    name = req.params["target"].partition(":")[0]
    return ok(_summary(app.model(name)))


async def predict(app: ServeApp, req: Request) -> Reply:
    name, _, selector = req.params["target"].partition(":")
    app.check_serving()
    model = app.model(name)
    labels = req.labels
    labels[0], labels[2] = model.name, "predict"
    body = await app.body(req.scope, req.receive)
    version = model.resolve(selector) if selector else model.pick()
    labels[1] = version.label
    require_ready(version)
    doc = parse_json(body)
    assert version.card is not None
    notes: dict[str, Any] = {}
    arrays, rows = parse_predict(
        doc, version.card, version.inputs[0].name, version.inputs[0].shape,
        version.batching.max_batch_size, version.what, notes,
    )  # fmt: skip
    if not selector:
        shadow(app, model, version, arrays, rows)
    outs = await infer(app, version, arrays, rows)
    answer = format_predictions(version.card, model.name, version.label, outs, notes)
    # finite outputs give finite predictions: the fast encoder may write them
    finite = bool(np.isfinite(outs[0]).all())
    return (
        200,
        json_bytes_finite(answer) if finite else json_bytes(answer),
        {"content-type": "application/json", "x-model-version": version.label},
    )


def _summary(model: ServedModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "versions": [
            {
                "version": v.label,
                "ref": v.ref,
                "ready": v.ready,
                "aliases": v.aliases,
                "engine": v.engine,
            }
            for v in model.versions.values()
        ],
        "split": dict(model.split),
        "shadow": model.shadow,
    }


# ------------------------------------------------------------------------- running a request
def require_ready(version: ServedVersion) -> None:
    """503 (retry in 1 s) unless the version is ready."""
    if version.state != "ready":
        state = "failed to load" if version.state == "failed" else f"is {version.state}"
        raise HTTPError(
            503,
            f"{version.what} {state}" + (f": {version.error}" if version.error else ""),
            {"retry-after": "1"},
        )


async def infer(
    app: ServeApp, version: ServedVersion, arrays: dict[str, Any], rows: int
) -> list[Any]:
    """Run ``rows`` rows through the version's batcher, within the server's timeout."""
    batcher = version.batcher
    if batcher is None or version.state != "ready":
        require_ready(version)
        raise HTTPError(503, f"{version.what} is not ready", {"retry-after": "1"})
    timeout = app.config.timeout_s
    handle: asyncio.TimerHandle | None = None
    try:
        fut = batcher.submit(arrays, rows)
        handle = asyncio.get_running_loop().call_later(timeout, _expire, fut)
        return await fut
    except Exception as exc:
        error = http_error(
            exc, INFER_ERRORS, what=version.what, queue_size=batcher.queue_size, timeout=timeout
        )
        if error is None:
            raise
        raise error from None
    finally:
        if handle is not None:
            handle.cancel()


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(asyncio.TimeoutError())


def shadow(
    app: ServeApp, model: ServedModel, primary: ServedVersion, arrays: dict[str, Any], rows: int
) -> None:
    """Mirror the request to the model's shadow version, if any (its answer is dropped)."""
    label = model.shadow
    if label is None or label == primary.label:
        return
    v = model.versions.get(label)
    if v is None or v.batcher is None or v.state != "ready":
        return
    if [m.name for m in v.inputs] != list(arrays) or rows > v.batching.max_batch_size:
        app.metrics.shadowed(model.name, label, "skipped")
        return
    from aimass_lab.serve.server._batcher import QueueFull

    try:
        fut = v.batcher.submit(arrays, rows)
    except QueueFull:
        app.metrics.shadowed(model.name, label, "dropped")
        return
    start = time.perf_counter()

    def done(f: asyncio.Future[Any]) -> None:
        good = not f.cancelled() and f.exception() is None
        app.metrics.shadowed(model.name, label, "ok" if good else "error")
        app.metrics.observe_request(
            model.name, label, "shadow", 200 if good else 500, time.perf_counter() - start
        )

    fut.add_done_callback(done)
