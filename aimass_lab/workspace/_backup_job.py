"""The ``backup`` job kind: a detached job that writes a backup every interval and keeps the
newest ones (``aimass backup --every 6h --keep 7 DIR``).

Its spec: ``{"directory": str, "every_s": float, "keep": int | None}``. Older backups are
removed only after a new one is complete. A failed backup (no room, say) is logged and
recorded in the job's result; the next interval tries again. Stopping the job (``aimass jobs
cancel``) lets a backup in progress finish, then records the job ``stopped``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError, DataError
from aimass_lab.workspace._backup import backup, parse_interval, prune_backups
from aimass_lab.workspace._jobs import Job
from aimass_lab.workspace._workspace import Workspace

__all__ = ["BACKUP_KIND", "run_backup_job", "schedule_backup"]

BACKUP_KIND = "backup"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_backup_job(ctx: Any) -> None:
    """Write a backup every ``every_s`` seconds until the job is stopped."""
    spec = ctx.spec
    directory, every_s, keep = spec["directory"], float(spec["every_s"]), spec.get("keep")
    ctx.in_loop = True  # SIGTERM sets stop_requested; a backup in progress completes
    written = 0
    while not ctx.stop_requested.is_set():
        try:
            path = backup(ctx.workspace, directory)
            written += 1
            removed = prune_backups(directory, int(keep)) if keep else []
            print(f"[aimass] {_now()} backup written: {path}", flush=True)
            for old in removed:
                print(f"[aimass] removed old backup {old.name} (keep {keep})", flush=True)
            result: dict[str, Any] = {"last_backup": str(path), "backups_written": written}
            result["last_error"] = None
        except AimassError as exc:
            print(f"[aimass] {_now()} backup failed: {exc}", flush=True)
            result = {"last_error": str(exc), "last_error_at": _now()}
        ctx.set_result(result)
        if ctx.stop_requested.wait(every_s):
            break
    ctx.end_state = "stopped"


def schedule_backup(
    workspace: Workspace,
    directory: str | Path,
    every: str | float,
    keep: int | None = None,
    *,
    name: str | None = None,
) -> Job:
    """Start a detached job that backs ``workspace`` up into ``directory`` every interval.

    Parameters
    ----------
    workspace
        The workspace to back up.
    directory
        Where the backups go (``aimass-backup-<UTC time>`` folders).
    every
        The interval: seconds, or a string like ``"30s"``, ``"15m"``, ``"6h"``, ``"1d"``.
    keep
        Keep only the newest ``keep`` backups (older ones are removed after a new one is
        complete); ``None`` keeps them all.
    name
        The job's name.

    Returns
    -------
    Job
        The backup job (stop it with ``aimass jobs cancel`` / ``workspace.jobs.cancel``).
    """
    every_s = every if isinstance(every, (int, float)) else parse_interval(every)
    if every_s <= 0:
        raise DataError(f"the interval must be positive; got {every!r}")
    if keep is not None and keep < 1:
        raise DataError(f"keep must be at least 1; got {keep}")
    folder = Path(directory).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"directory": str(folder), "every_s": float(every_s), "keep": keep}
    return workspace.jobs.submit(BACKUP_KIND, spec, name=name or f"backup every {every}")
