"""The workspace: a metadata store plus an artifact folder, shared by every front door."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select

from aimass_lab.settings import settings
from aimass_lab.workspace._artifacts import ArtifactStore
from aimass_lab.workspace._jobs import JobManager
from aimass_lab.workspace._store import MetricRow, Store, redact_url, utcnow

if TYPE_CHECKING:
    from aimass_lab.workspace._uploads import Uploads

__all__ = ["DEFAULT_DIRNAME", "Workspace", "current_workspace", "set_current_workspace"]

DEFAULT_DIRNAME = "aimass-workspace"


class Workspace:
    """Where results live: a metadata store (SQLite or PostgreSQL) and an artifact folder.

    Parameters
    ----------
    path
        The workspace folder. Default: ``$AIMASS_HOME``, else ``./aimass-workspace``.
    db_url
        SQLAlchemy URL of the metadata store. Default: ``$AIMASS_DB_URL``, else a SQLite
        file ``aimass.db`` in the folder. A PostgreSQL URL lets teams, workshops and many
        machines share one store (artifacts then go on a shared folder).

    Examples
    --------
    >>> ws = Workspace("/tmp/aimass-doctest")  # doctest: +SKIP
    >>> ws.jobs.list()  # doctest: +SKIP
    []
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, db_url: str | None = None
    ) -> None:
        env = settings()
        root = path or env.home or DEFAULT_DIRNAME
        self.path = Path(root).expanduser().resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        url = db_url or env.db_url or f"sqlite:///{self.path / 'aimass.db'}"
        self.store = Store(url)
        self.artifacts = ArtifactStore(self.path / "artifacts")
        self.jobs = JobManager(self.store, self.path)

    def __repr__(self) -> str:
        return f"Workspace(path={str(self.path)!r}, db={redact_url(self.store.url)!r})"

    @property
    def uploads(self) -> Uploads:
        """The resumable upload sessions of this workspace (:class:`Uploads`)."""
        from aimass_lab.workspace._uploads import Uploads

        return Uploads(self.store, self.path)

    @property
    def db_url(self) -> str:
        """The store's SQLAlchemy URL."""
        return self.store.url

    # -- housekeeping -------------------------------------------------------------------------
    def gc(self, *, dry_run: bool = False) -> list[dict[str, Any]]:
        """Delete the stale temp files of interrupted atomic writes (``aimass gc``).

        A save killed before its rename (``kill -9`` during a checkpoint, say) leaves a temp
        file beside its target (``.last.ckpt.<pid>-<host>.<random>.tmp``). This removes
        those whose writer is gone (see :mod:`aimass_lab._io`: written on this host by a
        process that no longer runs, else unmodified for a day) in the workspace folder and
        the cache folder (``AIMASS_CACHE_DIR``); a live writer's file is kept. Upload
        sessions not written to for a day go too (:meth:`Uploads.gc`).

        Parameters
        ----------
        dry_run
            Only list them.

        Returns
        -------
        list of dict
            ``{"path", "bytes"}`` of each file removed (or, with ``dry_run``, to remove).
        """
        from aimass_lab._io import remove_stale_temp_files

        roots = [self.path, Path(settings().cache_dir).expanduser()]
        removed = remove_stale_temp_files(roots, dry_run=dry_run)
        # upload sessions not written to for a day (issue 17 part 4)
        return removed + self.uploads.gc(dry_run=dry_run)

    # -- metrics ------------------------------------------------------------------------------
    def log_metrics(self, job_id: str, rows: Iterable[tuple[str, int, int | None, float]]) -> int:
        """Append metric points ``(name, step, epoch, value)`` for a job in one transaction."""
        now = utcnow()
        payload = [
            {"job_id": job_id, "name": n, "step": int(s), "epoch": e, "value": float(v), "ts": now}
            for n, s, e, v in rows
        ]
        if payload:
            with self.store.session() as session:
                session.execute(insert(MetricRow), payload)
        return len(payload)

    def metrics(
        self, job_id: str, name: str | None = None, after_id: int = 0
    ) -> list[dict[str, Any]]:
        """Metric points of a job in the order they were logged.

        Parameters
        ----------
        job_id
            The job (run) id.
        name
            Only this metric.
        after_id
            Only points logged after this point id (for incremental polling).
        """
        query = select(MetricRow).where(MetricRow.job_id == job_id, MetricRow.id > after_id)
        if name:
            query = query.where(MetricRow.name == name)
        with self.store.session() as s:
            rows = s.scalars(query.order_by(MetricRow.id)).all()
            return [
                {"id": r.id, "name": r.name, "step": r.step, "epoch": r.epoch, "value": r.value}
                for r in rows
            ]

    def last_metrics(self, job_id: str) -> dict[str, float]:
        """The last logged value of every metric of a job."""
        with self.store.session() as s:
            last_ids = (
                select(func.max(MetricRow.id))
                .where(MetricRow.job_id == job_id)
                .group_by(MetricRow.name)
                .scalar_subquery()
            )
            rows = s.execute(
                select(MetricRow.name, MetricRow.value).where(MetricRow.id.in_(last_ids))
            )
            return {name: value for name, value in rows}


_CURRENT: Workspace | None = None


def current_workspace() -> Workspace:
    """The default workspace of this process (created on first use)."""
    global _CURRENT
    if _CURRENT is None:
        _CURRENT = Workspace()
    return _CURRENT


def set_current_workspace(workspace: Workspace | str | os.PathLike[str] | None) -> Workspace | None:
    """Make ``workspace`` the default of this process (``None`` resets to the environment's)."""
    global _CURRENT
    if workspace is None or isinstance(workspace, Workspace):
        _CURRENT = workspace
    else:
        _CURRENT = Workspace(workspace)
    return _CURRENT


def resolve_workspace(workspace: Workspace | str | os.PathLike[str] | None) -> Workspace:
    """A Workspace from an instance, a path, or the process default."""
    if isinstance(workspace, Workspace):
        return workspace
    if workspace is not None:
        return Workspace(workspace)
    return current_workspace()
