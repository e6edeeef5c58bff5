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
from aimass_lab.serve.server._batcher import QueueFull
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
    "admit",
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
    chosen = model.pick() if version is None else version
    labels[1] = chosen.label
    admit(app, chosen)  # a full queue answers 429 before the body is read
    body = await app.body(req.scope, req.receive)
    # a version reloaded (new settings) while the body was read: the new one answers
    version = model.versions.get(chosen.label) or (model.pick() if version is None else chosen)
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
    parsed = await app.bodies.parse(
        len(body), parse_infer_request, body, header_length, version.inputs, version.outputs,
        request_rows(app, version), version.what, raw,
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
    version = model.resolve(selector) if selector else model.pick()
    labels[1] = version.label
    admit(app, version)  # a full queue answers 429 before the body is read
    body = await app.body(req.scope, req.receive)
    version = model.versions.get(version.label) or version  # reloaded while the body was read
    require_ready(version)
    assert version.card is not None
    notes: dict[str, Any] = {}
    arrays, rows = await app.bodies.parse(
        len(body), _parse_predict_body, body, version, request_rows(app, version), notes
    )
    if not selector:
        shadow(app, model, version, arrays, rows)
    outs = await infer(app, version, arrays, rows)
    # finite predictions (format_predictions answers 422 otherwise): the fast encoder
    answer = format_predictions(version.card, model.name, version.label, outs, notes)
    return (
        200,
        json_bytes_finite(answer),
        {"content-type": "application/json", "x-model-version": version.label},
    )


def _parse_predict_body(
    body: bytes, version: ServedVersion, max_rows: int, notes: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    assert version.card is not None
    return parse_predict(
        parse_json(body), version.card, version.inputs[0].name, version.inputs[0].shape,
        max_rows, version.what, notes,
    )  # fmt: skip


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


def admit(app: ServeApp, version: ServedVersion) -> None:
    """429 (retry in 1 s) at once when the version's queue is full: refusing costs nothing
    more than the request's headers, so a saturated server answers its refusals quickly."""
    batcher = version.batcher
    if batcher is not None and batcher.depth >= batcher.queue_size:
        error = http_error(
            QueueFull(), INFER_ERRORS, what=version.what, queue_size=batcher.queue_size,
            timeout=app.config.timeout_s,
        )  # fmt: skip
        assert error is not None
        raise error


def request_rows(app: ServeApp, version: ServedVersion) -> int:
    """The most rows a request to ``version`` may hold (more: 400, split the request).

    ``max_request_rows`` (a request above the version's ``max_batch_size`` is split into
    batches), at most as many batches as its queue holds, at least ``max_batch_size``;
    ``max_request_rows`` 0: ``max_batch_size`` (no splitting, as Triton).
    """
    size, queue = version.batching.max_batch_size, version.batching.queue_size
    return max(min(app.config.max_request_rows, size * queue), size)


def submit_pieces(batcher: Any, arrays: dict[str, Any], rows: int) -> list[asyncio.Future[Any]]:
    """Queue a request as pieces of at most ``max_batch_size`` rows, all or none.

    A request of ``rows`` rows takes ``ceil(rows / max_batch_size)`` places of the queue;
    when they are not all free, ``QueueFull`` is raised and nothing stays queued.
    """
    from aimass_lab.serve.server._batcher import QueueFull

    size = batcher.max_batch_size
    if rows <= size:
        return [batcher.submit(arrays, rows)]
    starts = range(0, rows, size)
    if batcher.depth + len(starts) > batcher.queue_size:
        raise QueueFull()
    futs: list[asyncio.Future[Any]] = []
    try:
        for start in starts:
            n = min(size, rows - start)
            futs.append(batcher.submit({k: a[start : start + n] for k, a in arrays.items()}, n))
    except BaseException:
        for f in futs:  # the batcher skips the cancelled pieces still queued
            f.cancel()
        raise
    return futs


async def _gather(futs: list[asyncio.Future[Any]]) -> list[Any]:
    """The outputs of a request's pieces, joined in order (the first failure raises)."""
    if len(futs) == 1:
        return await futs[0]  # type: ignore[no-any-return]
    results = await asyncio.gather(*futs, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [np.concatenate(parts) for parts in zip(*results, strict=True)]


async def infer(
    app: ServeApp, version: ServedVersion, arrays: dict[str, Any], rows: int
) -> list[Any]:
    """Run ``rows`` rows through the version's batcher (as pieces of at most
    ``max_batch_size`` rows, see :func:`submit_pieces`), within the server's timeout."""
    batcher = version.batcher
    if batcher is None or version.state != "ready":
        require_ready(version)
        raise HTTPError(503, f"{version.what} is not ready", {"retry-after": "1"})
    timeout = app.config.timeout_s
    handle: asyncio.TimerHandle | None = None
    futs: list[asyncio.Future[Any]] = []
    try:
        futs = submit_pieces(batcher, arrays, rows)
        handle = asyncio.get_running_loop().call_later(timeout, _expire, *futs)
        outs = await _gather(futs)
        count_predictions(app, version, outs)
        return outs
    except Exception as exc:
        for f in futs:  # a piece failed or timed out: the others are not waited for
            f.cancel()
        error = http_error(
            exc, INFER_ERRORS, what=version.what, queue_size=batcher.queue_size, timeout=timeout
        )
        if error is None:
            raise
        raise error from None
    finally:
        if handle is not None:
            handle.cancel()


def count_predictions(app: ServeApp, version: ServedVersion, outs: list[Any]) -> None:
    """Count a classifier's answered rows per predicted class (``aimass_predictions_total``):
    one argmax and one bincount per request."""
    card = version.card
    if card is None or card.task == "regression" or not outs:
        return
    out = np.asarray(outs[0])
    if out.ndim < 2 or out.shape[0] == 0 or out.dtype.kind not in "fiu":
        return
    flat = out.reshape(out.shape[0], -1)
    if flat.shape[1] < 2:
        return
    counts = np.bincount(flat.argmax(axis=1), minlength=flat.shape[1])
    app.metrics.observe_predictions(version.model, version.label, card.classes, counts.tolist())


def _expire(*futs: asyncio.Future[Any]) -> None:
    for fut in futs:
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
    if [m.name for m in v.inputs] != list(arrays) or rows > request_rows(app, v):
        app.metrics.shadowed(model.name, label, "skipped")
        return
    try:
        pieces = submit_pieces(v.batcher, arrays, rows)
    except QueueFull:
        app.metrics.shadowed(model.name, label, "dropped")
        return
    fut = pieces[0] if len(pieces) == 1 else asyncio.gather(*pieces, return_exceptions=True)
    start = time.perf_counter()

    def done(f: asyncio.Future[Any]) -> None:
        good = not f.cancelled() and f.exception() is None
        if good and len(pieces) > 1:  # gathered with return_exceptions
            good = not any(isinstance(r, BaseException) for r in f.result())
        app.metrics.shadowed(model.name, label, "ok" if good else "error")
        app.metrics.observe_request(
            model.name, label, "shadow", 200 if good else 500, time.perf_counter() - start
        )

    fut.add_done_callback(done)
