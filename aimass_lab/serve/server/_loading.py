"""Loading and unloading versions of the served models (the app's :meth:`load`, :meth:`unload`).

A load reads the registry (sha256-verified), prepares the engine's load spec and starts the
version's replicas; a live reload (``replace``) starts the new one beside the one serving
and swaps them in one step once it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from aimass_lab.errors import AimassError
from aimass_lab.serve.server._config import worker_processes
from aimass_lab.serve.server._protocol import HTTPError
from aimass_lab.serve.server._router import ServedModel, ServedVersion, log
from aimass_lab.serve.server._schemas import LoadRequest
from aimass_lab.specs import BatchingSpec

if TYPE_CHECKING:
    from aimass_lab.registry import ModelVersion
    from aimass_lab.serve.server._app import ServeApp

__all__ = ["load", "unload"]


def _batching(app: ServeApp, request: LoadRequest) -> BatchingSpec:
    """The request's batching; the fields it leaves out are the server's."""
    given = request.batching
    if given is None:
        return app.default_batching
    return app.default_batching.model_copy(
        update={k: getattr(given, k) for k in given.model_fields_set}
    )


async def load(
    app: ServeApp, name: str, request: LoadRequest, *, raise_errors: bool = True
) -> ServedVersion:
    """Load a registry version under endpoint ``name`` (sha256-verified); a failure is
    recorded on the version entry, and raised when ``raise_errors``.

    The settings the request leaves out are the server's. With ``replace``, a version
    already ready is loaded again (new replicas, batching or engine) beside the one
    serving, which keeps its traffic until the new one is ready, then drains; a failed
    reload leaves the old one serving."""
    from aimass_lab import registry

    cfg = app.config
    replicas = cfg.replicas if request.replicas is None else request.replicas
    engine = request.engine
    batching = _batching(app, request)
    model = app.models.get(name)
    if model is None:
        model = app.models[name] = ServedModel(name)
    try:
        mv = await asyncio.to_thread(registry.get, request.ref, app.workspace)
    except AimassError as exc:
        if raise_errors:
            if not model.versions:
                app.models.pop(name, None)
            raise
        label = request.ref.partition(":")[2] or "latest"
        v = ServedVersion(name, label, request.ref, engine, replicas, batching)
        v.state, v.error = "failed", str(exc)
        model.versions.setdefault(label, v)
        log(f"cannot load {request.ref} as {name!r}: {exc}")
        return v
    label = str(mv.version)
    existing = _replaced(model, label, request.replace)
    v = ServedVersion(name, label, mv.ref, engine, replicas, batching)
    if existing is None:
        model.versions[label] = v
    isolation = cfg.isolation if request.isolation is None else request.isolation
    try:
        await _start(app, v, mv, worker_processes(replicas, isolation), isolation == "auto")
    except Exception as exc:
        v.state, v.error = (
            "failed",
            str(exc) if isinstance(exc, AimassError) else f"{type(exc).__name__}: {exc}",
        )
        log(f"cannot load {mv.ref} as {name!r}: {v.error}")
        if existing is not None:  # the old one still serves, untouched
            with contextlib.suppress(Exception):
                await v.stop()
            raise
        if raise_errors:
            model.versions.pop(label, None)
            if not model.versions:
                app.models.pop(name, None)
            raise
        return v
    _serve(app, model, v, existing)
    if existing is not None:
        await existing.stop()
    return v


def _replaced(model: ServedModel, label: str, replace: bool) -> ServedVersion | None:
    """The version a load of ``label`` replaces (None: an ordinary load); 409 when one
    is loaded and the load does not ask to replace it."""
    existing = model.versions.get(label)
    if existing is None or existing.state not in ("ready", "loading"):
        return None
    if not (replace and existing.state == "ready"):
        raise HTTPError(
            409,
            f"model {model.name!r} already serves version {label} ({existing.ref}); unload "
            + ("it first" if existing.state == "ready" else "it or wait: it is loading")
            + ', or load it with "replace": true to change its settings live',
        )
    return existing


async def _start(
    app: ServeApp, v: ServedVersion, mv: ModelVersion, workers: int, local: bool = False
) -> None:
    from aimass_lab._cpu import int8_mismatch
    from aimass_lab.serve.server._engine import prepare

    cfg = app.config
    spec = await asyncio.to_thread(prepare, mv, v.engine, cfg.device)
    warning = int8_mismatch(spec["config"])  # quantised for another CPU than this one?
    if warning:
        log(f"warning: {mv.ref} as {v.model!r}: {warning}")
    await v.start(spec, workers, cfg.threads, app.metrics, local=local)


def _serve(
    app: ServeApp, model: ServedModel, v: ServedVersion, existing: ServedVersion | None
) -> None:
    """Put a started version in service (in place of ``existing``, in one step)."""
    if not any(w > 0 for w in model.split.values()):
        model.set_split({v.label: 100}, model.shadow, remember=False)

    def replicas_ready(v: ServedVersion = v) -> float:
        return float(v.executor.alive if v.ready else 0)

    if existing is not None:
        # one step, no await: requests from now on take the new one (its split entry is
        # the label's, unchanged); those already queued on the old one finish there
        model.versions[v.label] = v
    app.metrics.track_replicas(model.name, v.label, replicas_ready)
    log(
        f"{'reloaded' if existing is not None else 'serving'} {v.ref} as {model.name!r} version "
        f"{v.label} ({v.engine} on {v.device}, replicas {v.replicas})"
    )


async def unload(app: ServeApp, name: str, label: str | None = None) -> None:
    """Unload version ``label`` of model ``name`` (None: the model and every version)
    after their queues drain."""
    model = app.model(name)
    if label is None:
        app.models.pop(name, None)
        versions = list(model.versions.values())
        model.set_split({}, None, remember=False)
    else:
        v = app.version(model, label)
        others = [x for x in model.versions if x != label]
        others_weighted = any(model.split.get(o, 0) > 0 for o in others)
        if model.split.get(label, 0) > 0 and others and not others_weighted:
            raise HTTPError(
                409,
                f"version {label} of model {name!r} receives all the traffic; move the split "
                "to another version first (PUT /admin/models/{name}/split)",
            )
        split = {k: w for k, w in model.split.items() if k != label}
        shadow = None if model.shadow == label else model.shadow
        model.set_split(split, shadow, remember=False)
        if model.previous and label in model.previous[0]:
            model.previous = None
        model.versions.pop(label, None)
        versions = [v]
    for v in versions:
        await v.stop()
        app.metrics.forget_version(name, v.label)
