"""The workspace's inference server as a detached ``serve`` job: start it, find it, stop it.

The workspace has one inference server on this machine: a detached ``serve`` job (see
``python -m aimass_lab.serve``) started with its admin API on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aimass_lab.errors import JobError
from aimass_lab.serve.deploy._records import DeployError, WorkspaceLike
from aimass_lab.serve.server import DEFAULT_PORT
from aimass_lab.settings import settings
from aimass_lab.workspace import Job, Workspace, resolve_workspace, service_lifetime

__all__ = [
    "DEFAULT_PORT",
    "READY_TIMEOUT",
    "SERVE_KIND",
    "client_for",
    "ensure_server",
    "server_job",
    "server_url",
    "start_server",
    "stop_if_idle",
    "stop_server",
]

#: The job kind of the workspace's inference server.
SERVE_KIND = "serve"

#: Seconds :func:`deploy` waits for the server to listen and the version to load.
READY_TIMEOUT = settings().deploy_timeout


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _hostname() -> str:
    return socket.gethostname()


def server_job(workspace: WorkspaceLike = None) -> Job | None:
    """The workspace's running inference server job on this machine, if any."""
    ws = resolve_workspace(workspace)
    for job in ws.jobs.list(kind=SERVE_KIND, state="running"):
        if job.host == _hostname() and job.result.get("url"):
            return job
    return None


def server_url(workspace: WorkspaceLike = None) -> str | None:
    """The base URL of the workspace's inference server on this machine (None: not running).

    Examples
    --------
    >>> aimass_lab.serve.server_url()  # doctest: +SKIP
    'http://127.0.0.1:8500'
    """
    job = server_job(workspace)
    return str(job.result["url"]).rstrip("/") if job is not None else None


def admin_key(job: Job) -> str | None:
    """The admin key of a server job (read from its 0600 file)."""
    path = job.result.get("admin_key_file")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def api_key(job: Job | None) -> str | None:
    """The first inference API key of a server job (from the env var it was started with)."""
    if job is None:
        return None
    var = job.spec.get("api_key_env")
    if not var:
        return None
    keys = [k.strip() for k in os.environ.get(str(var), "").split(",") if k.strip()]
    return keys[0] if keys else None


def client_for(job: Job, timeout: float = 30.0) -> Any:
    """A :class:`~aimass_lab.serve.Client` of a server job, with its API and admin keys."""
    from aimass_lab.serve.deploy._client import Client

    return Client(
        str(job.result["url"]).rstrip("/"),
        api_key=api_key(job),
        admin_key=admin_key(job),
        timeout=timeout,
    )


@contextlib.contextmanager
def _server_lock(ws: Workspace) -> Iterator[None]:
    """One process at a time starts the workspace's server (an flock beside the runs)."""
    path = ws.path / "runs" / ".serve.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log_tail(ws: Workspace, job_id: str, lines: int = 15) -> str:
    text = ws.jobs.logs(job_id, tail=lines).strip()
    return ("\n" + text) if text else ""


def _wait_listening(ws: Workspace, job_id: str, timeout: float) -> Job:
    """Wait until a server job has recorded its URL and answers ``/v2/health/live``."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        job = ws.jobs.get(job_id)
        if not job.active:
            raise JobError(
                f"the inference server (job {job.id}) {job.state} before it was ready"
                + (f": {job.exit_reason}" if job.exit_reason else "")
                + f"; its log ({ws.jobs.log_path(job.id)}) ends with:"
                + _log_tail(ws, job.id)
            )
        url = job.result.get("url")
        if url:
            try:
                if httpx.get(f"{str(url).rstrip('/')}/v2/health/live", timeout=2.0).is_success:
                    return job
            except httpx.HTTPError:
                pass
        if time.monotonic() >= deadline:
            raise JobError(
                f"the inference server (job {job.id}) was not listening after {timeout:.0f} s; "
                f"its log ({ws.jobs.log_path(job.id)}) ends with:" + _log_tail(ws, job.id)
            )
        time.sleep(0.1)


def ensure_server(
    workspace: WorkspaceLike = None,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    api_key_env: str | None = None,
    timeout: float = READY_TIMEOUT,
) -> Job:
    """Start the workspace's inference server job, or reuse the one running on this machine.

    Parameters
    ----------
    port
        The port of a new server (``None``: 8500 when free, else any free port). With a server
        already running, a different port is an error.
    api_key_env
        Require the API keys in this environment variable on the inference routes (a new
        server only).

    Returns
    -------
    Job
        The running ``serve`` job; its ``result`` holds ``url``, ``port`` and
        ``admin_key_file``.
    """
    job, _ = start_server(workspace, port=port, host=host, api_key_env=api_key_env, timeout=timeout)
    return job


def start_server(
    workspace: WorkspaceLike = None,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    api_key_env: str | None = None,
    timeout: float = READY_TIMEOUT,
    idle_timeout_s: float | None = None,
    stop_with_kernel: bool | None = None,
) -> tuple[Job, bool]:
    """:func:`ensure_server`, and whether this call started the server (``True``) or
    reused the running one (``False``), so that a caller which fails later stops only what
    it started (see :func:`stop_if_idle`). A server this call started that does not become
    ready is stopped before the error is raised.

    A new server records the kernel this process is, if any, and stops after
    ``idle_timeout_s`` seconds without an inference request (``None``:
    ``AIMASS_IDLE_SHUTDOWN_S``; 0: never) and, with ``stop_with_kernel`` (``None``:
    ``AIMASS_STOP_WITH_KERNEL``), when that kernel ends. A reused server keeps the
    settings of the call that started it."""
    ws = resolve_workspace(workspace)
    with _server_lock(ws):
        running = [j for j in ws.jobs.list(kind=SERVE_KIND) if j.active and j.host == _hostname()]
        if running:
            job = _wait_listening(ws, running[0].id, timeout)
            actual = job.result.get("port")
            if port not in (None, 0) and actual is not None and int(actual) != port:
                raise DeployError(
                    f"the workspace's inference server already runs on port {actual} "
                    f"({job.result.get('url')}, job {job.id}); deploy to it without a port, or "
                    "stop its deployments first (aimass deployments stop NAME)"
                )
            return job, False
        auto = port is None
        if port is None:
            port = DEFAULT_PORT if _port_free(DEFAULT_PORT, host) else 0
        spec: dict[str, Any] = {"host": host, "port": port, "admin": True}
        if api_key_env:
            spec["api_key_env"] = api_key_env
        spec.update(service_lifetime(idle_timeout_s, stop_with_kernel, "deploy"))
        job = ws.jobs.submit(SERVE_KIND, spec, name="aimass serve")
        try:
            return _wait_started(ws, job, timeout), True
        except JobError:
            # Another process took the default port between the check and the bind: when no
            # port was asked for, any free port will do.
            if not (auto and port and ws.jobs.get(job.id).result.get("port_in_use")):
                raise
        job = ws.jobs.submit(SERVE_KIND, {**spec, "port": 0}, name="aimass serve")
        return _wait_started(ws, job, timeout), True


def _wait_started(ws: Workspace, job: Job, timeout: float) -> Job:
    """Wait for a server job this process submitted; stop it when it does not get ready."""
    try:
        return _wait_listening(ws, job.id, timeout)
    except BaseException:
        if ws.jobs.get(job.id).active:
            with contextlib.suppress(Exception):
                stop_server(ws, job)
        raise


def stop_if_idle(ws: Workspace, job: Job, timeout: float = 30.0) -> bool:
    """Stop a server job that serves no model (one a failed deploy started); a server that
    serves something by now (another deploy reached it) is left running.

    Returns
    -------
    bool
        Whether the server was stopped (or had ended already).
    """
    if ws.jobs.get(job.id).active:
        try:
            with client_for(job, timeout=timeout) as client:
                if client.admin_models():
                    return False
        except Exception:  # it does not answer: nothing it serves is reachable, stop it
            pass
        stop_server(ws, job, timeout=timeout)
    return True


def stop_server(ws: Workspace, job: Job, timeout: float = 30.0) -> Job:
    """Stop a server job (SIGTERM: it drains) and wait for it to end: for its state, then
    for its process (which records the state as it shuts down) to exit."""
    with contextlib.suppress(JobError):
        ws.jobs.cancel(job.id)
    ended = ws.jobs.wait(job.id, timeout=timeout, poll=0.1)
    if ended.pid is not None and ended.host == _hostname():
        import psutil

        with contextlib.suppress(psutil.Error):
            psutil.Process(ended.pid).wait(timeout)
    return ended
