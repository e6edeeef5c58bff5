"""The handlers of the admin routes (see ``_routes.ROUTES``): load, unload, split, rollback.

Every change runs under the app's admin lock, so two admin calls never interleave.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab.errors import AimassError
from aimass_lab.serve.server import _loading
from aimass_lab.serve.server._errors import LOAD_ERRORS, http_error
from aimass_lab.serve.server._handlers import ok
from aimass_lab.serve.server._protocol import HTTPError
from aimass_lab.serve.server._router import log, split_from_doc
from aimass_lab.serve.server._schemas import LoadRequest, SplitRequest
from aimass_lab.specs import validate_name

if TYPE_CHECKING:
    from aimass_lab.serve.server._app import ServeApp
    from aimass_lab.serve.server._routing import Reply, Request

__all__ = [
    "load",
    "model",
    "models",
    "rollback",
    "split",
    "unload_model",
    "unload_version",
    "version",
]


async def models(app: ServeApp, req: Request) -> Reply:
    return ok([m.entry() for m in app.models.values()])


async def model(app: ServeApp, req: Request) -> Reply:
    return ok(app.model(req.params["name"]).entry())


async def version(app: ServeApp, req: Request) -> Reply:
    return ok(app.version(app.model(req.params["name"]), req.params["version"]).entry())


async def unload_model(app: ServeApp, req: Request) -> Reply:
    name = req.params["name"]
    async with app.lock():
        app.model(name)
        await _loading.unload(app, name)
    return ok({"name": name, "unloaded": True})


async def unload_version(app: ServeApp, req: Request) -> Reply:
    name, label = req.params["name"], req.params["version"]
    async with app.lock():
        await _loading.unload(app, name, label)
    return ok({"name": name, "version": label, "unloaded": True})


async def load(app: ServeApp, req: Request) -> Reply:
    request: LoadRequest = req.data
    try:  # the endpoint name follows the registry's rule for names (no '.', '..')
        validate_name(req.params["name"])
    except AimassError as exc:
        raise HTTPError(400, str(exc).replace("model name", "endpoint name")) from None
    async with app.lock():
        try:
            v = await _loading.load(app, req.params["name"], request)
        except Exception as exc:
            error = http_error(exc, LOAD_ERRORS, ref=request.ref)
            if error is None:
                raise
            raise error from None
    return ok(v.entry())


async def split(app: ServeApp, req: Request) -> Reply:
    body: SplitRequest = req.data
    name = req.params["name"]
    async with app.lock():
        served = app.model(name)
        weights, shadow = split_from_doc(served, body.split, body.shadow)
        served.set_split(weights, shadow)
        log(f"{name!r}: split {weights}" + (f", shadow {shadow}" if shadow else ""))
        return ok(served.entry())


async def rollback(app: ServeApp, req: Request) -> Reply:
    name = req.params["name"]
    async with app.lock():
        served = app.model(name)
        if served.previous is None:
            raise HTTPError(409, f"model {name!r} has no previous split to roll back to")
        weights, shadow = served.previous
        missing = [
            lab
            for lab, w in weights.items()
            if w > 0 and (lab not in served.versions or served.versions[lab].state != "ready")
        ]
        if missing:
            raise HTTPError(
                409,
                f"cannot roll back model {name!r}: version(s) {', '.join(missing)} of the "
                "previous split are no longer loaded",
            )
        if shadow is not None and shadow not in served.versions:
            shadow = None
        served.set_split(weights, shadow)
        log(f"{name!r}: rolled back to split {weights}")
        return ok(served.entry())
