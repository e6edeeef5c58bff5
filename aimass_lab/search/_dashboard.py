"""optuna-dashboard on a study, on 127.0.0.1, as a service that stops by itself.

A dashboard is a job of the kind ``dashboard`` (a service, like the inference server): it
records who started it (``jobs.owner``) and from which Jupyter kernel, so that the
sidebar's *Services* lists it with its owner and idle time, only its owner stops it, and
``aimass gc`` stops it once its kernel is gone. It stops by itself after an idle time
(``idle_timeout_s``, default ``AIMASS_IDLE_SHUTDOWN_S``; 0: never) and, with
``stop_with_kernel`` (default ``AIMASS_STOP_WITH_KERNEL``), when the kernel that started it
ends. :meth:`Study.dashboard <aimass_lab.search.Study.dashboard>` and ``aimass search
dashboard NAME --detach`` start one in the background; ``aimass search dashboard NAME``
runs one in the terminal (Ctrl-C stops it), recorded as a job all the same.

``GET /aimass/idle`` on a dashboard answers ``{"idle_s", "idle_timeout_s"}`` without
counting as a use (the services listing reads it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import AimassError, JobError, SpecError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from aimass_lab.workspace import Job, JobContext, Workspace

__all__ = [
    "DASHBOARD_KIND",
    "IDLE_PATH",
    "Dashboard",
    "run",
    "run_dashboard_here",
    "serve_dashboard",
    "start_dashboard",
]

#: The job kind of a dashboard (a service: see :func:`aimass_lab.workspace.register_service_kind`).
DASHBOARD_KIND = "dashboard"
#: The path that tells the idle time without counting as a use.
IDLE_PATH = "/aimass/idle"


class _Idle:
    """A WSGI middleware that remembers when the last request ended and answers
    :data:`IDLE_PATH`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], timeout: float) -> None:
        self.app = app
        self.timeout = timeout
        self.last = time.monotonic()
        self.busy = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == IDLE_PATH:
            body = json.dumps({"idle_s": self.idle_s(), "idle_timeout_s": self.timeout})
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body.encode()]
        self.busy += 1
        try:
            return list(self.app(environ, start_response))
        finally:
            self.busy -= 1
            self.last = time.monotonic()

    def idle_s(self) -> float:
        return 0.0 if self.busy else round(time.monotonic() - self.last, 1)


def _bind(port: int) -> WSGIServer:
    """A WSGI server bound to 127.0.0.1:``port`` (0: a free port), with no app yet."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    if not 0 <= int(port) <= 65535:
        raise SpecError(
            "dashboard",
            [{"field": "port", "value": port, "message": "accepted: 0 (a free port) to 65535"}],
        )
    try:
        server = make_server("127.0.0.1", int(port), _no_app, handler_class=_Quiet)
    except OSError as exc:
        raise AimassError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
            "choose another port, or 0 for a free one"
        ) from None
    server.timeout = 0.5
    return server


def _no_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def _dashboard_app(storage: Any) -> Callable[..., Iterable[bytes]]:
    try:
        from optuna_dashboard import wsgi
    except ImportError:
        raise AimassError(
            "the dashboard needs the optuna-dashboard package: pip install optuna-dashboard"
        ) from None
    app: Callable[..., Iterable[bytes]] = wsgi(storage)
    return app


def _loop(
    server: WSGIServer,
    app: _Idle,
    on_ready: Callable[[str], Any] | None,
    stop: Callable[[], str | None] | None,
) -> str:
    """Serve ``app`` until ``stop()`` names a reason, it is idle for its timeout, or Ctrl-C;
    return why it stopped."""
    server.set_app(app)
    url = f"http://127.0.0.1:{server.server_port}/"
    if on_ready is not None:
        on_ready(url)
    try:
        while True:
            reason = stop() if stop is not None else None
            if reason:
                return reason
            if app.timeout > 0 and app.idle_s() >= app.timeout:
                return f"idle for {app.timeout:g}s"
            server.handle_request()
    except KeyboardInterrupt:
        return "interrupted"
    finally:
        server.server_close()


def serve_dashboard(
    storage: Any,
    port: int = 8080,
    idle_timeout_s: float | None = None,
    on_ready: Callable[[str], Any] | None = None,
) -> str:
    """Serve optuna-dashboard on ``storage`` at 127.0.0.1:``port`` (0: a free port) in this
    thread until Ctrl-C or, with ``idle_timeout_s`` > 0 (``None``: ``AIMASS_IDLE_SHUTDOWN_S``),
    until that many seconds pass without a request. Not recorded anywhere: see
    :func:`start_dashboard` for a dashboard the workspace knows about.

    Parameters
    ----------
    on_ready
        Called with the URL once listening.

    Returns
    -------
    str
        Why it stopped: ``"idle for 600s"`` or ``"interrupted"``.
    """
    from aimass_lab.workspace import service_idle_timeout

    timeout = service_idle_timeout(idle_timeout_s, "dashboard")
    app = _Idle(_dashboard_app(storage), timeout)
    return _loop(_bind(port), app, on_ready, None)


# -- the job kind ---------------------------------------------------------------------------
def _serve_job(ctx: JobContext, server: WSGIServer, on_ready: Callable[[str], Any] | None) -> None:
    from aimass_lab.search._factory import open_storage
    from aimass_lab.workspace import kernel_alive

    spec = ctx.spec
    app = _Idle(
        _dashboard_app(open_storage(ctx.workspace, spec["study"], spec.get("storage"))),
        float(spec.get("idle_timeout_s") or 0.0),
    )
    kernel = spec.get("kernel") if spec.get("stop_with_kernel") else None
    checked = [0.0]

    def stop() -> str | None:
        if ctx.stop_requested.is_set():
            return "stopped on request"
        now = time.monotonic()
        if kernel and now - checked[0] >= 1.0:  # a process lookup, once a second
            checked[0] = now
            if kernel_alive(kernel) is False:
                return "kernel ended"
        return None

    def ready(url: str) -> None:
        ctx.set_result({"url": url, "port": server.server_port, "study": spec["study"]})
        if on_ready is not None:
            on_ready(url)

    ctx.in_loop = True  # SIGTERM sets stop_requested; the loop sees it within half a second
    reason = _loop(server, app, ready, stop)
    ctx.end_state, ctx.end_reason = "stopped", reason


def run(ctx: JobContext) -> None:
    """Entry point of a ``dashboard`` job: the spec holds ``study``, ``storage`` (``None``:
    the workspace's journal), ``port``, ``idle_timeout_s`` and, when a kernel started it,
    ``kernel`` and ``stop_with_kernel``. Once listening, its result holds ``url`` and
    ``port``; it ends ``stopped`` with the reason (``"idle for 600s"``, ``"kernel ended"``,
    ``"stopped on request"``)."""
    _serve_job(ctx, _bind(int(ctx.spec.get("port") or 0)), None)


def _spec(
    study: str,
    storage: str | None,
    port: int,
    idle_timeout_s: float | None,
    stop_with_kernel: bool | None,
) -> dict[str, Any]:
    from aimass_lab.workspace import service_lifetime

    return {
        "study": study,
        "storage": storage,
        "port": int(port),
        **service_lifetime(idle_timeout_s, stop_with_kernel, "dashboard"),
    }


def run_dashboard_here(
    ws: Workspace,
    study: str,
    storage: str | None = None,
    *,
    port: int = 8080,
    idle_timeout_s: float | None = None,
    on_ready: Callable[[str], Any] | None = None,
) -> tuple[str, int]:
    """Run a dashboard in this process (``aimass search dashboard``), recorded as a job;
    SIGTERM or Ctrl-C stops it.

    Returns
    -------
    tuple
        Why it stopped and the exit code.
    """
    import signal

    from aimass_lab.search._factory import study_storage
    from aimass_lab.workspace import execute_job, start_job

    study_storage(ws, study, storage)  # fails now for an unknown study
    spec = _spec(study, storage, port, idle_timeout_s, False)
    server = _bind(port)  # a port in use is refused before anything is recorded
    job = ws.jobs.create(DASHBOARD_KIND, spec, name=f"optuna-dashboard {study}")
    try:
        ctx = start_job(ws, job.id)
    except BaseException:
        server.server_close()
        raise

    def on_signal(signum: int, frame: Any) -> None:
        ctx.stop_requested.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = execute_job(ctx, lambda c: _serve_job(c, server, on_ready))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    ended = ws.jobs.get(job.id)
    return ended.exit_reason or ended.state, code


@dataclass(frozen=True)
class Dashboard:
    """A running optuna-dashboard: its URL, its job and its study."""

    url: str
    job_id: str
    study: str
    owner: str | None

    def stop(self, workspace: Workspace | str | None = None, timeout: float = 30.0) -> Job:
        """Stop it (only what its owner should do) and wait until it has ended."""
        from aimass_lab.workspace import resolve_workspace

        ws = resolve_workspace(workspace)
        try:
            ws.jobs.cancel(self.job_id)
        except JobError:
            pass  # it ended already
        return ws.jobs.wait(self.job_id, timeout=timeout, poll=0.1)

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f'optuna-dashboard of <b>{escape(self.study)}</b>: <a href="{escape(self.url)}" '
            f'target="_blank">{escape(self.url)}</a> (job {escape(self.job_id)})'
        )


def start_dashboard(
    ws: Workspace,
    study: str,
    storage: str | None = None,
    *,
    port: int = 0,
    idle_timeout_s: float | None = None,
    stop_with_kernel: bool | None = None,
    timeout: float = 60.0,
) -> Dashboard:
    """Start optuna-dashboard on a study as a background service job and wait until it
    listens; a dashboard of this study that the same user runs on this host is reused.

    Raises
    ------
    JobError
        When it ended before listening (its reason: a port in use, a missing package) or did
        not listen within ``timeout`` seconds (then it is stopped).
    """
    import socket

    from aimass_lab.search._factory import study_storage
    from aimass_lab.workspace import current_user

    study_storage(ws, study, storage)  # fails now for an unknown study
    spec = _spec(study, storage, port, idle_timeout_s, stop_with_kernel)
    me, here = current_user(), socket.gethostname()
    for job in ws.jobs.list(kind=DASHBOARD_KIND, state="running"):
        same = job.spec.get("study") == study and job.spec.get("storage") == storage
        if same and job.owner == me and job.host == here and job.result.get("url"):
            return _handle(job)
    job = ws.jobs.submit(DASHBOARD_KIND, spec, name=f"optuna-dashboard {study}")
    deadline = time.monotonic() + timeout
    while True:
        current = ws.jobs.get(job.id)
        if current.result.get("url"):
            return _handle(current)
        if not current.active:
            raise JobError(
                f"optuna-dashboard of {study!r} ended {current.state} before listening: "
                f"{current.exit_reason}; its log: aimass logs {job.id}"
            )
        if time.monotonic() > deadline:
            Dashboard("", job.id, study, None).stop(ws)
            raise JobError(
                f"optuna-dashboard of {study!r} did not listen within {timeout:g}s "
                f"(stopped it); its log: aimass logs {job.id}"
            )
        time.sleep(0.1)


def _handle(job: Job) -> Dashboard:
    return Dashboard(str(job.result["url"]), job.id, str(job.spec["study"]), job.owner)
