"""``aimass backup``: a consistent snapshot of a workspace, written while jobs run.

Order makes it consistent: the searches' study journals (``studies/*.journal``, append-only)
are copied first, then the store is snapshotted (see :mod:`aimass_lab.workspace._backup_db`),
then only what that snapshot references is copied: the run folder of every job it records
and every artifact whose sha256 it names (model versions' files, stored datasets). A model
version registered after the snapshot is not in the backup, and neither are its files; a
trial in a journal copy has its run in the store snapshot, taken later.

Files being written: an append-only text file (a ``.journal``, a job's ``.log``) is copied up
to its last complete line at that moment, never a torn record. Any other file that changes
while it is copied (TensorBoard events of a running job) is copied again; if it changes again
it is left out and listed under ``skipped`` in the manifest. Temp files of atomic writes
(``*.tmp``, ``*.part``) and lock files are never copied: the file they become is.

Everything goes into a hidden folder beside the backup, renamed to
``aimass-backup-<UTC time>`` when complete; an interrupted backup leaves no backup, and its
hidden folder is removed by the next backup into that folder once its process is gone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimass_lab._io import atomic_write_json, fsync_dir, is_stale_temp, sha256_file, temp_tag
from aimass_lab._version import __version__
from aimass_lab.errors import DataError, WorkspaceError
from aimass_lab.workspace._backup_db import snapshot_store, sqlite_path
from aimass_lab.workspace._store import redact_url
from aimass_lab.workspace._workspace import Workspace, resolve_workspace

__all__ = [
    "BACKUP_PREFIX",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "backup",
    "list_backups",
    "parse_interval",
    "prune_backups",
]

FORMAT = "aimass-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BACKUP_PREFIX = "aimass-backup-"
#: Room kept free beyond the backup's own size (the file system needs some).
SPACE_MARGIN = 16 << 20

FreeBytes = Callable[[Path], int]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_interval(value: str) -> float:
    """Seconds in an interval like ``30s``, ``15m``, ``6h`` or ``1d``."""
    found = _INTERVAL.match(str(value).lower())
    if not found or float(found.group(1)) <= 0:
        raise DataError(
            f"unknown interval {value!r}; accepted: a positive number followed by s, m, h or d "
            "(30s, 15m, 6h, 1d)"
        )
    return float(found.group(1)) * _UNITS[found.group(2)]


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def _check_room(target: Path, needed: int, free_bytes: FreeBytes, what: str) -> None:
    free = free_bytes(target)
    if free < needed + SPACE_MARGIN:
        raise WorkspaceError(
            f"not enough free space in {target} for {what}: it needs about "
            f"{(needed + SPACE_MARGIN) / 1e6:.1f} MB and {free / 1e6:.1f} MB are free; "
            "free some space or choose another folder"
        )


def _store_size(ws: Workspace) -> int:
    if ws.store.dialect == "sqlite":
        db = sqlite_path(ws.store.url)
        return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    from sqlalchemy import text

    with ws.store.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


#: The searches' journal files (the search stage's default Optuna storage).
STUDIES_DIRNAME = "studies"
#: Append-only text files: copied up to their last complete line.
_APPEND_ONLY = (".journal", ".log")


def _is_temp(path: Path) -> bool:
    return path.suffix in (".tmp", ".part", ".lock")


def _copy_lines(src: Path, dst: Path) -> tuple[int, str]:
    """Copy an append-only text file up to its last complete line; return size and sha256."""
    size = src.stat().st_size
    with open(src, "rb") as inp:
        data = inp.read(size)
    data = data[: data.rfind(b"\n") + 1]
    with open(dst, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return len(data), hashlib.sha256(data).hexdigest()


def _copy_once(src: Path, dst: Path) -> tuple[int, str] | None:
    """Copy ``src``; return its size and sha256, or None when it changed during the copy."""
    before = src.stat()
    digest = hashlib.sha256()
    size = 0
    with open(src, "rb") as inp, open(dst, "wb") as out:
        while chunk := inp.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    after = src.stat()
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        return None
    if size != after.st_size:
        return None
    return size, digest.hexdigest()


class _Copier:
    """Copies files into the staging folder and records them for the manifest."""

    def __init__(self, staging: Path) -> None:
        self.staging = staging
        self.files: list[dict[str, Any]] = []
        self.skipped: list[dict[str, str]] = []

    def add(self, src: Path, rel: str) -> None:
        dst = self.staging / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(2):
            try:
                copied = (_copy_lines if src.suffix in _APPEND_ONLY else _copy_once)(src, dst)
            except FileNotFoundError:
                dst.unlink(missing_ok=True)
                self.skipped.append({"path": rel, "reason": "removed while the backup ran"})
                return
            if copied is not None:
                size, digest = copied
                self.files.append({"path": rel, "size": size, "sha256": digest})
                return
        dst.unlink(missing_ok=True)
        self.skipped.append({"path": rel, "reason": "being written while the backup ran"})

    def add_tree(self, src: Path, rel: str) -> None:
        for path in sorted(src.rglob("*")):
            if path.is_file() and not path.is_symlink() and not _is_temp(path):
                self.add(path, f"{rel}/{path.relative_to(src).as_posix()}")


def _plan(ws: Workspace, job_ids: list[str], digests: set[str]) -> tuple[list[Path], list[Path]]:
    runs = [ws.jobs.run_dir(j) for j in job_ids if ws.jobs.run_dir(j).is_dir()]
    artifacts = [ws.artifacts.path(d) for d in sorted(digests) if ws.artifacts.exists(d)]
    return runs, artifacts


def _tree_size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        if not _is_temp(path):
            try:
                total += path.stat().st_size if path.is_file() else 0
            except FileNotFoundError:  # removed meanwhile by a running job
                pass
    return total


def _stamp(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S.") + f"{now.microsecond // 1000:03d}Z"


def backup(
    workspace: Workspace | str | os.PathLike[str] | None,
    directory: str | os.PathLike[str],
    *,
    free_bytes: FreeBytes | None = None,
) -> Path:
    """Write a consistent backup of ``workspace`` into a new folder of ``directory``.

    Parameters
    ----------
    workspace
        The workspace, its folder, or ``None`` for the current one (its jobs may be running).
    directory
        Where the backup folder ``aimass-backup-<UTC time>`` is created.
    free_bytes
        How many bytes are free in a folder (default: :func:`shutil.disk_usage`); checked
        before the store is snapshotted and again before the files are copied.

    Returns
    -------
    Path
        The complete backup folder (it holds ``manifest.json``).

    Raises
    ------
    WorkspaceError
        When the target lacks room, or the store cannot be snapshotted (``pg_dump``
        missing or too old); nothing is left behind.
    """
    workspace = resolve_workspace(workspace)
    free_bytes = free_bytes or _disk_free
    target = Path(directory).expanduser().resolve()
    target.mkdir(parents=True, exist_ok=True)
    _check_room(target, _store_size(workspace), free_bytes, "the store's snapshot")
    now = dt.datetime.now(dt.timezone.utc)
    final = target / f"{BACKUP_PREFIX}{_stamp(now)}"
    _remove_stale_staging(target)
    staging = target / f".{final.name}.{temp_tag()}backup.part"
    staging.mkdir()
    try:
        copier = _Copier(staging)
        studies = workspace.path / STUDIES_DIRNAME
        if studies.is_dir():
            _check_room(target, _tree_size(studies), free_bytes, "the study journals")
            copier.add_tree(studies, STUDIES_DIRNAME)
        (staging / "store").mkdir()
        snap = snapshot_store(workspace.store, staging / "store")
        runs, artifacts = _plan(workspace, snap.job_ids, snap.digests)
        needed = sum(_tree_size(r) for r in runs) + sum(a.stat().st_size for a in artifacts)
        _check_room(target, needed, free_bytes, "the backup's files")
        store_file = staging / snap.file
        copier.files.append(
            {
                "path": snap.file,
                "size": store_file.stat().st_size,
                "sha256": sha256_file(store_file),
            }
        )
        for art in artifacts:
            copier.add(art, art.relative_to(workspace.path).as_posix())
        for run in runs:
            copier.add_tree(run, run.relative_to(workspace.path).as_posix())
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "aimass_lab": __version__,
            "source": {"path": str(workspace.path), "db": redact_url(workspace.store.url)},
            "store": {
                "backend": snap.backend,
                "file": snap.file,
                "schema_version": snap.schema_version,
                "tool": snap.tool,
            },
            "counts": {**snap.counts, "artifacts": len(artifacts), "files": len(copier.files)},
            "files": copier.files,
            "skipped": copier.skipped,
        }
        atomic_write_json(staging / MANIFEST, manifest)
        fsync_dir(staging)
        os.replace(staging, final)
        fsync_dir(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _remove_stale_staging(target: Path) -> None:
    """Remove the hidden folders of backups (or removals) whose process is gone (killed)."""
    for folder in target.glob(f".{BACKUP_PREFIX}*.part"):
        if folder.is_dir() and is_stale_temp(folder):
            shutil.rmtree(folder, ignore_errors=True)


def list_backups(directory: str | os.PathLike[str]) -> list[Path]:
    """The complete backups in ``directory``, oldest first."""
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        return []
    found = [
        p for p in folder.iterdir() if p.name.startswith(BACKUP_PREFIX) and (p / MANIFEST).is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def prune_backups(directory: str | os.PathLike[str], keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` complete backups; return the removed folders."""
    if keep < 1:
        raise DataError(f"keep must be at least 1; got {keep}")
    backups = list_backups(directory)
    removed = backups[:-keep]
    for old in removed:
        # Renamed first: a half-removed backup is never mistaken for a complete one.
        doomed = old.with_name(f".{old.name}.{temp_tag()}removing.part")
        os.replace(old, doomed)
        shutil.rmtree(doomed)
    return removed
