"""REST handlers of jobs, training runs and compression jobs."""

from typing import Any

from aimass_lab.errors import (
    SpecError,
    accepted,
)
from aimass_lab.lab._base import BaseHandler, _api
from aimass_lab.lab._services_api import acting_user, may_stop, refuse_non_owner
from aimass_lab.workspace import service_kinds

__all__ = [
    "CompressHandler",
    "JobActionHandler",
    "JobHandler",
    "JobLogHandler",
    "JobsHandler",
    "RunMetricsHandler",
]


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
    from aimass_lab.train import check_pretrained, fit_to_pretrained, preflight

    train_spec = fit_to_pretrained(TrainSpec.from_dict(spec if spec is not None else {}))
    check_pretrained(train_spec)  # a pretrained folder is read before the data it tokenizes
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
            job = await self.call(self.ws.jobs.get, job_id)
            user = acting_user(self)
            if job.kind in service_kinds() and not may_stop(job.owner, user):
                refuse_non_owner(self, f"the {job.kind} job {job.id}", job.owner, user)
                return
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
