"""The ``serve`` job kind: the workspace's inference server as a detached job."""

from __future__ import annotations

import os
import secrets
from typing import Any

__all__ = ["ADMIN_KEY_FILE", "run"]

ADMIN_KEY_FILE = "admin.key"


def run(ctx: Any) -> None:
    """Entry point of a ``serve`` job (registered with :func:`aimass_lab.workspace.register_job_kind`).

    The spec holds :class:`~aimass_lab.serve.ServerConfig` fields (``port`` 0 picks a free
    port). The admin API is always on, with a random key written (mode 0600) to
    ``admin.key`` in the job's folder. Once listening, the job's result holds ``url``,
    ``host``, ``port``, ``pid`` and ``admin_key_file``. SIGTERM (stopping the server, or
    ``jobs cancel``) drains; the job then ends ``stopped`` (exit 0).
    """
    from aimass_lab.serve.server import PortInUse, ServerConfig, run_server

    key = secrets.token_urlsafe(32)
    key_file = ctx.run_dir / ADMIN_KEY_FILE
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    os.chmod(key_file, 0o600)
    spec = {k: v for k, v in dict(ctx.spec).items() if k not in ("admin", "admin_key_env")}
    spec["admin_keys"] = [key, *spec.get("admin_keys", [])]
    spec["admin"] = True
    spec.setdefault("workspace", str(ctx.workspace.path))
    spec.setdefault("db_url", ctx.workspace.db_url)
    config = ServerConfig.from_dict(spec)

    def on_ready(info: dict[str, Any]) -> None:
        ctx.set_result({**info, "admin_key_file": str(key_file)})

    ctx.in_loop = True  # the server handles SIGTERM itself: it drains
    try:
        code = run_server(config, on_ready=on_ready)
    except PortInUse:
        ctx.set_result({"port_in_use": config.port})  # what a deploy reads, not the message
        raise
    if code:
        raise SystemExit(code)
    ctx.end_state = "stopped"  # the server returns only when it was asked to stop
