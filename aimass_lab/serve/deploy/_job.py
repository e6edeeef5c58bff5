"""The ``serve`` job kind: the workspace's inference server as a detached job."""

from __future__ import annotations

import os
import secrets
from typing import Any

__all__ = ["ADMIN_KEY_FILE", "run", "stop_deployments"]

ADMIN_KEY_FILE = "admin.key"


def run(ctx: Any) -> None:
    """Entry point of a ``serve`` job (registered with :func:`aimass_lab.workspace.register_job_kind`).

    The spec holds :class:`~aimass_lab.serve.ServerConfig` fields (``port`` 0 picks a free
    port). The admin API is always on, with a random key written (mode 0600) to
    ``admin.key`` in the job's folder. Once listening, the job's result holds ``url``,
    ``host``, ``port``, ``pid`` and ``admin_key_file``. SIGTERM (stopping the server, or
    ``jobs cancel``) drains; the job then ends ``stopped`` (exit 0).

    Idle shutdown: ``idle_timeout_s`` stops it after that many seconds without an inference
    request; with ``stop_with_kernel`` it stops when the kernel in ``kernel`` (the one that
    started it, see :func:`aimass_lab.workspace.current_kernel`) ends. Either way the job
    ends ``stopped`` with the reason (``"idle for 30s"``, ``"kernel ended"``) and the
    deployments it served are recorded ``stopped``.
    """
    from aimass_lab.serve.server import PortInUse, ServerConfig, run_server

    key = secrets.token_urlsafe(32)
    key_file = ctx.run_dir / ADMIN_KEY_FILE
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    os.chmod(key_file, 0o600)
    own = ("admin", "admin_key_env", "kernel", "stop_with_kernel")
    spec = {k: v for k, v in dict(ctx.spec).items() if k not in own}
    kernel = ctx.spec.get("kernel") or {}
    if ctx.spec.get("stop_with_kernel") and kernel.get("pid"):
        spec["kernel_pid"] = int(kernel["pid"])
        spec["kernel_started"] = kernel.get("started")
    spec["admin_keys"] = [key, *spec.get("admin_keys", [])]
    spec["admin"] = True
    spec.setdefault("workspace", str(ctx.workspace.path))
    spec.setdefault("db_url", ctx.workspace.db_url)
    config = ServerConfig.from_dict(spec)

    def on_ready(info: dict[str, Any]) -> None:
        ctx.set_result({**info, "admin_key_file": str(key_file)})

    def on_stop(reason: str | None) -> None:
        if reason:
            ctx.end_reason = reason
            stop_deployments(ctx.workspace, ctx.job.id, reason)

    ctx.in_loop = True  # the server handles SIGTERM itself: it drains
    try:
        code = run_server(config, on_ready=on_ready, on_stop=on_stop)
    except PortInUse:
        ctx.set_result({"port_in_use": config.port})  # what a deploy reads, not the message
        raise
    if code:
        raise SystemExit(code)
    ctx.end_state = "stopped"  # the server returns only when it was asked to stop


def stop_deployments(ws: Any, job_id: str, reason: str) -> list[str]:
    """Record the running deployments served by server job ``job_id`` as stopped (the server
    stopped by itself: ``reason``); return their names."""
    from aimass_lab.serve.deploy._records import read_record, record, record_names
    from aimass_lab.workspace import utcnow

    names = []
    for name in record_names(ws):
        rec = read_record(ws, name)
        if rec and rec["state"] == "running" and rec["job_id"] == job_id:
            record(
                ws, name, {"action": "stop", "reason": reason}, state="stopped", stopped_at=utcnow()
            )
            names.append(name)
    return names
