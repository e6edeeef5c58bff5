"""REST handlers under ``{base_url}aimass-lab/api/v1/``: thin translations to stage calls.

Every verb is authenticated and authorized (``auth_resource = "aimass_lab"``); blocking work
runs in a thread, off the server's event loop. Errors come back as JSON
``{"error": message, "errors": [...]}`` with a status that says what went wrong — never a
server traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from aimass_lab._version import __version__
from aimass_lab.errors import (
    AimassError,
    ArchiveError,
    DataError,
    DeviceError,
    IntegrityError,
    JobError,
    NotFoundError,
    SpecError,
)

__all__ = ["API_PREFIX", "ROUTES", "setup_handlers"]

API_PREFIX = ("aimass-lab", "api", "v1")
H = TypeVar("H", bound=Callable[..., Awaitable[None]])

_STATUS: list[tuple[type[AimassError], int]] = [
    (NotFoundError, 404),
    (SpecError, 422),
    (DataError, 422),
    (DeviceError, 422),
    (JobError, 409),
    (IntegrityError, 409),
    (ArchiveError, 400),
]


def _api(method: H) -> H:
    """Authenticate, authorize, and turn AimassError into a JSON error with a fitting status."""

    @functools.wraps(method)
    async def inner(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        try:
            await method(self, *args, **kwargs)
        except AimassError as exc:
            status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
            payload: dict[str, Any] = {"error": str(exc)}
            if isinstance(exc, SpecError):
                payload["errors"] = json.loads(json.dumps(exc.errors, default=repr))
            self.set_status(status)
            self.finish(payload)

    return tornado.web.authenticated(authorized(inner))  # type: ignore[return-value]


class BaseHandler(APIHandler):
    """Shared helpers: the workspace, JSON bodies, running work off the event loop."""

    auth_resource = "aimass_lab"

    @property
    def ws(self) -> Any:
        state = self.settings["aimass_lab"]
        if state.get("workspace") is None:
            from aimass_lab.workspace import Workspace

            state["workspace"] = Workspace(
                state.get("path") or None, db_url=state.get("db_url") or None
            )
        return state["workspace"]

    async def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking stage code in a thread."""
        return await asyncio.to_thread(func, *args, **kwargs)

    def body(self) -> dict[str, Any]:
        """The JSON object sent as the request body."""
        try:
            data = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as exc:
            raise SpecError(
                "request body", [{"field": "", "message": f"malformed JSON: {exc}"}]
            ) from None
        if not isinstance(data, dict):
            raise SpecError("request body", [{"field": "", "message": "expected a JSON object"}])
        return data

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        """An integer query argument, with a clear error when it is not one."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise SpecError(
                "query", [{"field": name, "value": raw, "message": "expected an integer"}]
            ) from None

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, default=str))


class VersionHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.reply({"version": __version__, "api": "v1"})


class JobsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        kind = self.get_query_argument("kind", None)
        state = self.get_query_argument("state", None)
        limit = self.int_arg("limit", 100)
        jobs = await self.call(self.ws.jobs.list, kind=kind, state=state, limit=limit)
        self.reply([j.to_dict() for j in jobs])

    @_api
    async def post(self) -> None:
        body = self.body()
        kind = body.get("kind", "train")
        if kind != "train":
            raise SpecError(
                "job request", [{"field": "kind", "value": kind, "message": "accepted: 'train'"}]
            )
        spec = body.get("spec")
        job = await self.call(_start_training, self.ws, spec)
        self.reply(job.to_dict(), status=201)


def _start_training(ws: Any, spec: Any) -> Any:
    from aimass_lab import data
    from aimass_lab.specs import TrainSpec
    from aimass_lab.train import preflight

    train_spec = TrainSpec.from_dict(spec if spec is not None else {})
    preflight(train_spec, data.load(train_spec.data, workspace=ws))
    return ws.jobs.submit("train", train_spec.to_dict(), name=train_spec.name)


class JobHandler(BaseHandler):
    @_api
    async def get(self, job_id: str) -> None:
        job = await self.call(self.ws.jobs.get, job_id)
        self.reply(job.to_dict())


class JobActionHandler(BaseHandler):
    @_api
    async def post(self, job_id: str, action: str) -> None:
        if action == "cancel":
            job = await self.call(self.ws.jobs.cancel, job_id)
        else:
            job = await self.call(_resume, self.ws, job_id)
        self.reply(job.to_dict())


def _resume(ws: Any, job_id: str) -> Any:
    job = ws.jobs.get(job_id)
    if job.kind == "train":
        from aimass_lab.train import Run

        return Run(job.id, ws).resume().job
    return ws.jobs.resume(job.id)


class JobLogHandler(BaseHandler):
    @_api
    async def get(self, job_id: str) -> None:
        tail = self.int_arg("tail", 200)
        text = await self.call(self.ws.jobs.logs, job_id, tail)
        self.reply({"id": job_id, "log": text})


class RunMetricsHandler(BaseHandler):
    @_api
    async def get(self, run_id: str) -> None:
        job = await self.call(self.ws.jobs.get, run_id)
        name = self.get_query_argument("name", None)
        after = self.int_arg("after_id", 0) or 0
        points = await self.call(self.ws.metrics, job.id, name, after)
        self.reply({"id": job.id, "state": job.state, "progress": job.progress, "points": points})


class ModelsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        from aimass_lab import registry

        name = self.get_query_argument("name", None)
        versions = await self.call(registry.list, name, workspace=self.ws)
        self.reply([v.to_dict() for v in versions])


class ModelHandler(BaseHandler):
    @_api
    async def get(self, ref: str) -> None:
        from aimass_lab import registry

        version = await self.call(registry.get, ref, workspace=self.ws)
        self.reply(version.to_dict())

    @_api
    async def delete(self, ref: str) -> None:
        from aimass_lab import registry

        version = await self.call(registry.delete, ref, workspace=self.ws)
        self.reply({"deleted": version.ref})


class ModelVerifyHandler(BaseHandler):
    @_api
    async def get(self, ref: str) -> None:
        from aimass_lab import registry

        self.reply(await self.call(registry.verify, ref, workspace=self.ws))


class ModelAliasesHandler(BaseHandler):
    @_api
    async def post(self, ref: str) -> None:
        from aimass_lab import registry

        alias = self.body().get("alias")
        version = await self.call(registry.set_alias, ref, alias, workspace=self.ws)
        self.reply(version.to_dict())


class ModelAliasHandler(BaseHandler):
    @_api
    async def delete(self, name: str, alias: str) -> None:
        from aimass_lab import registry

        await self.call(registry.remove_alias, name, alias, workspace=self.ws)
        self.reply({"removed": f"{name}:{alias}"})


class DatasetsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        from aimass_lab import data

        self.reply(await self.call(data.list, workspace=self.ws))


class DatasetHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        from aimass_lab import data

        def describe() -> dict[str, Any]:
            dataset = data.load(name, workspace=self.ws)
            return {"info": dataset.info(), "report": dataset.report().to_dict()}

        self.reply(await self.call(describe))


_ID = r"(?P<{}>[^/]+)"

#: (path under the API prefix, handler): the whole REST surface, in one place.
ROUTES: list[tuple[str, type[BaseHandler]]] = [
    ("version", VersionHandler),
    ("jobs", JobsHandler),
    (f"jobs/{_ID.format('job_id')}", JobHandler),
    (f"jobs/{_ID.format('job_id')}/(?P<action>cancel|resume)", JobActionHandler),
    (f"jobs/{_ID.format('job_id')}/log", JobLogHandler),
    (f"runs/{_ID.format('run_id')}/metrics", RunMetricsHandler),
    ("models", ModelsHandler),
    (f"models/{_ID.format('ref')}", ModelHandler),
    (f"models/{_ID.format('ref')}/verify", ModelVerifyHandler),
    (f"models/{_ID.format('ref')}/aliases", ModelAliasesHandler),
    (f"models/{_ID.format('name')}/aliases/{_ID.format('alias')}", ModelAliasHandler),
    ("datasets", DatasetsHandler),
    (f"datasets/{_ID.format('name')}", DatasetHandler),
]


def setup_handlers(web_app: Any, path: str = "", db_url: str = "") -> None:
    """Add the REST routes to a Jupyter Server web application."""
    base_url = web_app.settings["base_url"]
    web_app.settings["aimass_lab"] = {"path": path, "db_url": db_url, "workspace": None}
    prefix = url_path_join(base_url, *API_PREFIX)
    web_app.add_handlers(
        ".*$", [(url_path_join(prefix, route), handler) for route, handler in ROUTES]
    )
