"""``aimass restore``: verify a backup, then restore it into an empty workspace.

Every file of the manifest is checked (size and sha256) before anything is written; a
corrupted backup is refused, naming the file. The workspace folder is assembled in a hidden
folder beside the target and renamed onto it when complete. A PostgreSQL backup is loaded
into an empty database (one transaction). Then the restored workspace is opened (an older
schema is migrated forward) and every model version's files are checked against its sha256.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from aimass_lab._io import fsync_dir, sha256_file
from aimass_lab.errors import IntegrityError, WorkspaceError
from aimass_lab.workspace._backup import FORMAT, FORMAT_VERSION, MANIFEST
from aimass_lab.workspace._backup_db import load_pg_dump, pg_is_empty
from aimass_lab.workspace._jobs import ACTIVE_STATES
from aimass_lab.workspace._store import JobRow, ModelVersionRow, redact_url, utcnow
from aimass_lab.workspace._workspace import Workspace

__all__ = ["read_manifest", "restore", "verify_backup", "verify_model_versions"]


def read_manifest(backup: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a backup folder (checked to be one)."""
    folder = Path(backup).expanduser()
    path = folder / MANIFEST
    if not path.is_file():
        raise WorkspaceError(
            f"{folder} is not an AI Mass Lab backup: it has no {MANIFEST} "
            "(a backup folder is named aimass-backup-<time>)"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise WorkspaceError(f"{path} is not an AI Mass Lab backup manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise WorkspaceError(
            f"backup {folder} has format version {version!r}; this release reads "
            f"format {FORMAT_VERSION} and older: upgrade with pip install -U aimass-lab"
        )
    return manifest


def verify_backup(backup: str | os.PathLike[str]) -> dict[str, Any]:
    """Check the size and sha256 of every file in a backup's manifest.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    IntegrityError
        Naming every file that is missing, of another size or another sha256.
    """
    folder = Path(backup).expanduser().resolve()
    manifest = read_manifest(folder)
    problems: list[str] = []
    for entry in manifest.get("files", []):
        rel = str(entry["path"])
        path = folder / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            problems.append(f"{rel}: not a path inside the backup")
        elif not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(
                f"{rel}: {path.stat().st_size} bytes, the manifest says {entry['size']}"
            )
        elif (actual := sha256_file(path)) != entry["sha256"]:
            problems.append(f"{rel}: sha256 is {actual}, the manifest says {entry['sha256']}")
    if problems:
        raise IntegrityError(
            f"backup {folder} is corrupted, refusing to restore it:\n- " + "\n- ".join(problems)
        )
    return manifest


def _check_empty_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise WorkspaceError(
            f"the restore target {target} is not empty; restore into a new or empty folder"
        )


def _assemble(folder: Path, manifest: dict[str, Any], staging: Path) -> None:
    store_file = manifest["store"]["file"]
    for entry in manifest["files"]:
        rel = str(entry["path"])
        if rel == store_file:
            continue
        _copy_synced(folder / rel, staging / rel)
    if manifest["store"]["backend"] == "sqlite":
        _copy_synced(folder / store_file, staging / "aimass.db")


def _copy_synced(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as inp, open(dst, "wb") as out:
        shutil.copyfileobj(inp, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _close_interrupted_jobs(ws: Workspace, folder: Path) -> int:
    """Jobs running when the backup was taken are recorded ``interrupted`` (resumable)."""
    reason = f"was running when backup {folder.name} was taken; resume it to continue"
    with ws.store.session() as s:
        done = s.execute(
            update(JobRow)
            .where(JobRow.state.in_(ACTIVE_STATES))
            .values(state="interrupted", finished_at=utcnow(), exit_reason=reason)
        )
    return int(getattr(done, "rowcount", 0) or 0)


def verify_model_versions(ws: Workspace) -> list[str]:
    """Check every model version's files against their sha256; return the refs checked."""
    checked: list[str] = []
    problems: list[str] = []
    with ws.store.session() as s:
        rows = [(r.name, r.version, r.manifest) for r in s.scalars(select(ModelVersionRow))]
    for name, version, files in rows:
        for filename, entry in sorted((files or {}).items()):
            label = f"file {filename!r} of model {name}:{version}"
            try:
                ws.artifacts.verify(str(entry.get("sha256", "")), label=label)
            except IntegrityError as exc:
                problems.append(str(exc))
        checked.append(f"{name}:{version}")
    if problems:
        raise IntegrityError(
            "the restored registry failed verification:\n- " + "\n- ".join(problems)
        )
    return checked


def restore(
    backup: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    db_url: str | None = None,
) -> dict[str, Any]:
    """Restore a backup into a new, empty workspace.

    Parameters
    ----------
    backup
        The backup folder (``aimass-backup-<time>``, with ``manifest.json``).
    target
        The new workspace folder: missing or empty.
    db_url
        For a PostgreSQL backup: the URL of an empty database to restore the store into
        (required). A SQLite backup restores ``aimass.db`` into ``target``.

    Returns
    -------
    dict
        ``{"workspace", "db", "backend", "files", "jobs", "interrupted_jobs",
        "model_versions"}`` (``model_versions``: the refs verified by sha256).

    Raises
    ------
    IntegrityError
        A file of the backup is missing or corrupted (named), or a restored model version
        fails verification.
    WorkspaceError
        The target folder or database is not empty, or a PostgreSQL backup lacks ``db_url``.
    """
    folder = Path(backup).expanduser().resolve()
    dest = Path(target).expanduser().resolve()
    manifest = verify_backup(folder)
    backend = manifest["store"]["backend"]
    _check_empty_target(dest)
    if backend == "postgresql":
        if not db_url:
            raise WorkspaceError(
                f"backup {folder.name} holds a PostgreSQL store: give the URL of an empty "
                "database to restore it into (--db-url / db_url=)"
            )
        tables = pg_is_empty(db_url)
        if tables:
            raise WorkspaceError(
                f"the database {redact_url(db_url)} is not empty (tables: {', '.join(tables)}); "
                "restore into an empty database"
            )
    elif db_url:
        raise WorkspaceError(
            f"backup {folder.name} holds a SQLite store, restored as aimass.db in {dest}; "
            "db_url is only for PostgreSQL backups"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f".{dest.name}.restoring-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _assemble(folder, manifest, staging)
        if backend == "postgresql":
            assert db_url is not None
            load_pg_dump(folder / manifest["store"]["file"], db_url)
        fsync_dir(staging)
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    ws = Workspace(dest, db_url=db_url)
    interrupted = _close_interrupted_jobs(ws, folder)
    refs = verify_model_versions(ws)
    return {
        "workspace": str(dest),
        "db": redact_url(ws.store.url),
        "backend": backend,
        "files": len(manifest["files"]),
        "jobs": len(ws.jobs.list()),
        "interrupted_jobs": interrupted,
        "model_versions": refs,
    }
