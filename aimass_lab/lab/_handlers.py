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
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
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
    accepted,
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
            status = next((code for cls, code in _STATUS if isinstance(exc, cls)), None)
            if status is None:
                # a bad value a stage refused (e.g. a split that does not add up): 422
                status = 422 if isinstance(exc, ValueError) else 400
            payload: dict[str, Any] = {"error": str(exc)}
            if isinstance(exc, SpecError):
                payload["errors"] = json.loads(json.dumps(exc.errors, default=repr))
            self.set_status(status)
            self.finish(payload)
        except tornado.web.HTTPError:
            raise
        except Exception as exc:
            # Never a traceback to the client: the server log has it.
            self.log.exception("AI Mass Lab: %s %s failed", self.request.method, self.request.path)
            self.set_status(500)
            self.finish(
                {
                    "error": f"internal error ({type(exc).__name__}) in {self.request.method} "
                    f"{self.request.path}; the Jupyter server log has the details"
                }
            )

    return tornado.web.authenticated(authorized(inner))  # type: ignore[return-value]


class BaseHandler(APIHandler):
    """Shared helpers: the workspace, JSON bodies, running work off the event loop."""

    auth_resource = "aimass_lab"

    @property
    def ws(self) -> Any:
        return self.settings["aimass_lab"]["get_workspace"]()

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

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON ``{"error": ...}`` for errors raised outside ``_api`` -- never a traceback."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        message = self._reason
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))


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


class StudiesHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.reply(await self.call(_list_studies, self.ws))


def _list_studies(ws: Any) -> list[dict[str, Any]]:
    from aimass_lab.search import Study, list_studies

    studies = list_studies(workspace=ws)
    for entry in studies:
        try:
            entry["status"] = Study(entry["study"], workspace=ws).status
        except AimassError:
            entry["status"] = None
    return studies


class StudyHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        self.reply(await self.call(_show_study, self.ws, name))


def _show_study(ws: Any, name: str) -> dict[str, Any]:
    from aimass_lab.search import Study, list_studies

    names = sorted(s["study"] for s in list_studies(workspace=ws))
    if name not in names:
        raise NotFoundError(f"no study {name!r} in the workspace; accepted: {accepted(names)}")
    study = Study(name, workspace=ws)
    doc = study.to_dict()
    doc["best"] = [t.to_dict() for t in study.best_trials]
    return doc


class DeploymentsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        from aimass_lab.serve import deployments

        found = await self.call(deployments, workspace=self.ws)
        self.reply([d.to_dict() for d in found])

    @_api
    async def post(self) -> None:
        from aimass_lab.specs import DeploySpec

        spec = DeploySpec.from_dict(self.body())
        deployment = await self.call(_deploy, self.ws, spec)
        self.reply(deployment.to_dict(), status=201)


def _deploy(ws: Any, spec: Any) -> Any:
    from aimass_lab.serve import deploy

    return deploy(spec, workspace=ws)


def _get_deployment(ws: Any, name: str) -> Any:
    from aimass_lab.serve import get_deployment

    return get_deployment(name, workspace=ws)


class DeploymentHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        deployment = await self.call(_get_deployment, self.ws, name)
        self.reply(deployment.to_dict())

    @_api
    async def delete(self, name: str) -> None:
        def stop() -> Any:
            deployment = _get_deployment(self.ws, name)
            deployment.stop()
            return deployment

        deployment = await self.call(stop)
        self.reply({"stopped": deployment.name})


def _split_body(body: dict[str, Any]) -> tuple[dict[str, int], str | None]:
    """The weights and shadow of a split request, with field messages when they are wrong."""
    errors: list[dict[str, Any]] = []
    unknown = sorted(set(body) - {"split", "shadow"})
    if unknown:
        errors.append(
            {
                "field": unknown[0],
                "message": f"unknown field; accepted: {accepted(['split', 'shadow'])}",
            }
        )
    split = body.get("split")
    weights: dict[str, int] = {}
    if not isinstance(split, dict) or not split:
        errors.append(
            {
                "field": "split",
                "value": split,
                "message": 'expected a mapping of version to percent, e.g. {"3": 90, "4": 10}',
            }
        )
    else:
        for version, weight in split.items():
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
                errors.append(
                    {
                        "field": f"split.{version}",
                        "value": weight,
                        "message": "expected an integer percent from 0 to 100",
                    }
                )
            else:
                weights[str(version)] = weight
        if not errors and sum(weights.values()) != 100:
            errors.append(
                {
                    "field": "split",
                    "value": split,
                    "message": f"the weights must add up to 100, not {sum(weights.values())}",
                }
            )
    shadow = body.get("shadow")
    if shadow is not None and not isinstance(shadow, str | int):
        errors.append({"field": "shadow", "value": shadow, "message": "expected a version or null"})
    if errors:
        raise SpecError("split request", errors)
    return weights, None if shadow is None else str(shadow)


class DeploymentSplitHandler(BaseHandler):
    @_api
    async def put(self, name: str) -> None:
        weights, shadow = _split_body(self.body())

        def split() -> Any:
            deployment = _get_deployment(self.ws, name)
            if shadow is None:
                deployment.split(weights)
            else:
                deployment.split(weights, shadow=shadow)
            return deployment.refresh()

        self.reply((await self.call(split)).to_dict())


class DeploymentRollbackHandler(BaseHandler):
    @_api
    async def post(self, name: str) -> None:
        def rollback() -> Any:
            deployment = _get_deployment(self.ws, name)
            deployment.rollback()
            return deployment.refresh()

        self.reply((await self.call(rollback)).to_dict())


class DeploymentStartHandler(BaseHandler):
    @_api
    async def post(self, name: str) -> None:
        def start() -> Any:
            return _get_deployment(self.ws, name).start()

        self.reply((await self.call(start)).to_dict())


class DeploymentMetricsHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        def metrics() -> dict[str, Any]:
            return dict(_get_deployment(self.ws, name).metrics())

        self.reply({"name": name, "metrics": await self.call(metrics)})


class ModelLineageHandler(BaseHandler):
    @_api
    async def get(self, ref: str) -> None:
        from aimass_lab.lab._lineage import model_lineage

        self.reply(await self.call(model_lineage, ref, self.ws))


class CompressHandler(BaseHandler):
    @_api
    async def post(self) -> None:
        job = await self.call(_start_compression, self.ws, self.body())
        self.reply(job.to_dict(), status=201)


def _start_compression(ws: Any, body: dict[str, Any]) -> Any:
    from aimass_lab.specs import CompressSpec

    errors: list[dict[str, Any]] = []
    unknown = sorted(set(body) - {"model", "compress"})
    if unknown:
        errors.append(
            {
                "field": unknown[0],
                "message": f"unknown field; accepted: {accepted(['model', 'compress'])}",
            }
        )
    ref = body.get("model")
    if not isinstance(ref, str) or not ref:
        errors.append(
            {
                "field": "model",
                "value": ref,
                "message": "expected a model ref such as 'digits-mlp:1'",
            }
        )
    raw = body.get("compress")
    spec = None
    try:
        spec = CompressSpec.from_dict(raw if raw is not None else {})
    except SpecError as exc:
        errors.extend(
            {**e, "field": "compress" + (f".{e['field']}" if e.get("field") else "")}
            for e in exc.errors
        )
    if errors or spec is None or not isinstance(ref, str):
        raise SpecError("compression request", errors)
    from aimass_lab.compress import compress

    handle = compress(ref, spec, workspace=ws, launch=True)
    return handle.job


class OpenAPIHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(openapi_document())


def openapi_document() -> str:
    """The OpenAPI 3.1 description of the REST API (``aimass_lab/lab/openapi.json``)."""
    text = (Path(__file__).parent / "openapi.json").read_text(encoding="utf-8")
    return text.replace("__VERSION__", __version__)


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
    (f"models/{_ID.format('ref')}/lineage", ModelLineageHandler),
    ("datasets", DatasetsHandler),
    (f"datasets/{_ID.format('name')}", DatasetHandler),
    ("studies", StudiesHandler),
    (f"studies/{_ID.format('name')}", StudyHandler),
    ("deployments", DeploymentsHandler),
    (f"deployments/{_ID.format('name')}", DeploymentHandler),
    (f"deployments/{_ID.format('name')}/split", DeploymentSplitHandler),
    (f"deployments/{_ID.format('name')}/rollback", DeploymentRollbackHandler),
    (f"deployments/{_ID.format('name')}/start", DeploymentStartHandler),
    (f"deployments/{_ID.format('name')}/metrics", DeploymentMetricsHandler),
    ("compress", CompressHandler),
    ("openapi.json", OpenAPIHandler),
]


def setup_handlers(
    web_app: Any, path: str = "", db_url: str = "", tensorboard_idle_timeout: float = 1800.0
) -> dict[str, Any]:
    """Add the REST routes and the proxies to a Jupyter Server web application.

    Returns the extension's shared state (also in ``web_app.settings["aimass_lab"]``).
    """
    from aimass_lab.lab._proxy import SERVE_PREFIX, ServeProxyHandler, TensorBoardProxyHandler
    from aimass_lab.lab._tensorboard import TensorBoardManager
    from aimass_lab.train import TENSORBOARD_PREFIX

    base_url = web_app.settings["base_url"]
    state: dict[str, Any] = {"path": path, "db_url": db_url, "workspace": None}
    lock = threading.Lock()

    def get_workspace() -> Any:
        with lock:
            if state["workspace"] is None:
                from aimass_lab.workspace import Workspace

                state["workspace"] = Workspace(path or None, db_url=db_url or None)
            return state["workspace"]

    state["get_workspace"] = get_workspace
    state["tensorboards"] = TensorBoardManager(base_url, idle_timeout=tensorboard_idle_timeout)
    web_app.settings["aimass_lab"] = state
    prefix = url_path_join(base_url, *API_PREFIX)
    tensorboard = url_path_join(base_url, *TENSORBOARD_PREFIX)
    web_app.add_handlers(
        ".*$",
        [(url_path_join(prefix, route), handler) for route, handler in ROUTES]
        + [
            (tensorboard + r"/(?P<run_id>[^/]+)(?P<path>/.*)?", TensorBoardProxyHandler),
            (
                url_path_join(base_url, *SERVE_PREFIX) + r"(?:/(?P<path>.*))?",
                ServeProxyHandler,
            ),
        ],
    )
    return state
