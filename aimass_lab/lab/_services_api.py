"""REST handlers of the long-running services: the inference server, optuna-dashboards and
the TensorBoards.

``GET services`` lists them with their owner, kernel and idle time; ``POST
services/{kind}/{id}/stop`` stops one, for its owner only (anyone else gets 403 naming the
owner and the user).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aimass_lab.errors import NotFoundError
from aimass_lab.lab._base import BaseHandler, _api

__all__ = ["ServiceStopHandler", "ServicesHandler", "acting_user", "may_stop", "refuse_non_owner"]

#: The kinds of services, as the routes name them.
SERVICE_KINDS = ("server", "dashboard", "tensorboard")


def _server_idle(url: str) -> tuple[float | None, float | None]:
    """A server's (idle seconds, idle timeout) from its ``/metrics`` (``None`` when it does
    not answer)."""
    import httpx

    from aimass_lab.serve.server import parse_metrics

    try:
        parsed = parse_metrics(httpx.get(f"{url}/metrics", timeout=2.0).text)
        return (
            float(parsed["aimass_idle_seconds"][0]["value"]),
            float(parsed["aimass_idle_timeout_seconds"][0]["value"]),
        )
    except Exception:  # not answering, or an older server without the gauges
        return None, None


def _job_service(
    job: Any, kind: str, name: str, url: str, idle: tuple[float | None, float | None]
) -> dict[str, Any]:
    """A service job as the listing shows it: owner, kernel, idle time."""
    kernel = job.spec.get("kernel") or {}
    timeout = idle[1] if idle[1] is not None else job.spec.get("idle_timeout_s")
    return {
        "kind": kind,
        "id": job.id,
        "name": name,
        "owner": job.owner,
        "kernel_id": job.kernel_id,
        "stop_with_kernel": bool(job.spec.get("stop_with_kernel")) and bool(kernel),
        "started_at": job.started_at.timestamp() if job.started_at else None,
        "idle_s": None if idle[0] is None else round(idle[0], 1),
        "idle_timeout_s": timeout,
        "url": url or None,
        "host": job.host,
        "state": job.state,
    }


def _running_services(
    ws: Any,
    job_kind: str,
    kind: str,
    url_of: Callable[[Any], str],
    name_of: Callable[[Any, str], str],
    idle_of: Callable[[str], tuple[float | None, float | None]],
) -> list[dict[str, Any]]:
    """The running jobs of ``job_kind`` as services; their idle times are asked all at once
    (each answer may take up to its 2 s timeout)."""
    jobs = ws.jobs.list(kind=job_kind, state="running")
    urls = [url_of(job) for job in jobs]
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        idles = list(pool.map(lambda url: idle_of(url) if url else (None, None), urls))
    return [
        _job_service(job, kind, name_of(job, url), url, idle)
        for job, url, idle in zip(jobs, urls, idles, strict=True)
    ]


def list_servers(ws: Any) -> list[dict[str, Any]]:
    """The workspace's running inference servers, as services."""
    from aimass_lab.serve.deploy import SERVE_KIND

    return _running_services(
        ws,
        SERVE_KIND,
        "server",
        lambda job: str(job.result.get("url") or "").rstrip("/"),
        lambda job, url: f"inference server {url or job.id}",
        _server_idle,
    )


def _dashboard_idle(url: str) -> tuple[float | None, float | None]:
    """A dashboard's (idle seconds, idle timeout), asked without counting as a use."""
    import httpx

    from aimass_lab.search import IDLE_PATH

    try:
        answer = httpx.get(url.rstrip("/") + IDLE_PATH, timeout=2.0).json()
        return float(answer["idle_s"]), float(answer["idle_timeout_s"])
    except Exception:  # not answering
        return None, None


def list_dashboards(ws: Any) -> list[dict[str, Any]]:
    """The workspace's running optuna-dashboards, as services."""
    from aimass_lab.search import DASHBOARD_KIND

    return _running_services(
        ws,
        DASHBOARD_KIND,
        "dashboard",
        lambda job: str(job.result.get("url") or ""),
        lambda job, url: f"optuna-dashboard {job.spec.get('study')}",
        _dashboard_idle,
    )


def stop_dashboard_job(ws: Any, job_id: str, user: str) -> dict[str, Any]:
    """Stop a dashboard job and wait for it to end."""
    from aimass_lab.search import DASHBOARD_KIND, Dashboard

    job = ws.jobs.get(job_id)
    if job.kind != DASHBOARD_KIND or not job.active:
        raise NotFoundError(f"no running optuna-dashboard {job_id!r}")
    ended = Dashboard("", job.id, "", job.owner).stop(ws)
    return {"kind": "dashboard", "id": job.id, "state": ended.state}


def stop_server_job(ws: Any, job_id: str, user: str) -> dict[str, Any]:
    """Stop a server job; its deployments are recorded stopped ("stopped by USER")."""
    from aimass_lab.serve.deploy import SERVE_KIND, stop_deployments, stop_server

    job = ws.jobs.get(job_id)
    if job.kind != SERVE_KIND or not job.active:
        raise NotFoundError(f"no running inference server {job_id!r}")
    ended = stop_server(ws, job)
    names = stop_deployments(ws, job.id, f"stopped by {user}")
    return {"kind": "server", "id": job.id, "state": ended.state, "deployments": names}


def may_stop(owner: str | None, user: str) -> bool:
    """Only a service's owner may stop it (one with no recorded owner: anyone)."""
    return not owner or owner == user


def refuse_non_owner(handler: BaseHandler, what: str, owner: str | None, user: str) -> None:
    """Answer 403 naming the owner and the user."""
    handler.set_status(403)
    handler.finish(
        {
            "error": f"{what} is owned by {owner!r}; user {user!r} may not stop it (only its owner may)"
        }
    )


def acting_user(handler: BaseHandler) -> str:
    from aimass_lab.workspace import current_user

    return handler.user_name or current_user()


class ServicesHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        servers, dashboards = await asyncio.gather(
            self.call(list_servers, self.ws), self.call(list_dashboards, self.ws)
        )
        tensorboards = self.settings["aimass_lab"]["tensorboards"].describe()
        user = acting_user(self)
        every = servers + dashboards + tensorboards
        services = [{**s, "can_stop": may_stop(s["owner"], user)} for s in every]
        self.reply({"services": services, "user": user, "now": time.time()})


class ServiceStopHandler(BaseHandler):
    @_api
    async def post(self, kind: str, service_id: str) -> None:
        user = acting_user(self)
        if kind in _JOB_SERVICES:
            job_kind, what, stop = _JOB_SERVICES[kind]
            job = await self.call(self.ws.jobs.get, service_id)
            if job.kind != job_kind or not job.active:
                raise NotFoundError(f"no running {what} {service_id!r}")
            owner = job.owner
        else:
            tb = self.settings["aimass_lab"]["tensorboards"].processes.get(service_id)
            if tb is None:
                raise NotFoundError(f"no running TensorBoard of run {service_id!r}")
            owner = tb.owner
        if not may_stop(owner, user):
            refuse_non_owner(self, f"the {kind} {service_id}", owner, user)
            return
        if kind in _JOB_SERVICES:
            done = await self.call(stop, self.ws, service_id, user)
        else:
            self.settings["aimass_lab"]["tensorboards"].stop(service_id)
            done = {"kind": "tensorboard", "id": service_id, "state": "stopped"}
        self.reply(done)


#: Route kind -> (job kind, what it is called, how to stop it) of the services that are jobs.
_JOB_SERVICES: dict[str, tuple[str, str, Any]] = {
    "server": ("serve", "inference server", stop_server_job),
    "dashboard": ("dashboard", "optuna-dashboard", stop_dashboard_job),
}
