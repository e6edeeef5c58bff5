"""The workspace: metadata store, content-addressed artifacts and jobs.

Everything other packages use is exported here (imported lazily, so that a stage registering
its job kind with :func:`register_job_kind` does not load SQLAlchemy):

- the workspace: :class:`Workspace`, :func:`current_workspace`, :func:`set_current_workspace`,
  :func:`resolve_workspace`; its parts :class:`Store`, :class:`ArtifactStore`;
- the store's tables (``*Row``), :func:`utcnow`, :func:`normalize_db_url`, :func:`redact_url`;
- jobs: :class:`Job`, :class:`JobManager`, :class:`JobHandle` (base of ``Run`` and
  ``CompressJob``), the states, :func:`new_id`;
- running a job: :func:`register_job_kind` (stages), :class:`JobContext` (what a job's
  function gets), :func:`start_job` + :func:`execute_job` (run one in this process),
  :data:`IN_PROCESS`, :func:`is_primary_process`, :class:`JobInterrupted`;
- who is acting: :func:`current_user`, :func:`acting_as` (owner of jobs in a shared workspace);
- backups: :func:`backup`, :func:`restore`, :func:`verify_backup`, :func:`schedule_backup`
  (the ``backup`` job kind, the workspace's own), :func:`list_backups`, :func:`prune_backups`,
  :func:`parse_interval`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab._lazy import lazy_exports

if TYPE_CHECKING:
    from aimass_lab.workspace._artifacts import ArtifactStore
    from aimass_lab.workspace._backup import backup, list_backups, parse_interval, prune_backups
    from aimass_lab.workspace._backup_job import BACKUP_KIND, run_backup_job, schedule_backup
    from aimass_lab.workspace._handle import JobHandle
    from aimass_lab.workspace._identity import acting_as, current_user
    from aimass_lab.workspace._jobs import (
        ACTIVE_STATES,
        FINAL_STATES,
        HEARTBEAT_INTERVAL,
        HEARTBEAT_TIMEOUT,
        JOB_STATES,
        Job,
        JobManager,
        new_id,
    )
    from aimass_lab.workspace._kinds import (
        IN_PROCESS,
        job_function,
        job_kinds,
        register_job_kind,
        set_job_kind_loader,
    )
    from aimass_lab.workspace._restore import restore, verify_backup
    from aimass_lab.workspace._runner import (
        JobContext,
        JobInterrupted,
        execute_job,
        is_primary_process,
        run_job_process,
        start_job,
    )
    from aimass_lab.workspace._store import (
        SCHEMA_VERSION,
        AlertRow,
        AliasRow,
        ChallengeRow,
        DatasetRow,
        DeploymentRow,
        JobRow,
        MetricRow,
        ModelVersionRow,
        Store,
        SubmissionRow,
        normalize_db_url,
        redact_url,
        utcnow,
    )
    from aimass_lab.workspace._workspace import (
        DEFAULT_DIRNAME,
        Workspace,
        current_workspace,
        resolve_workspace,
        set_current_workspace,
    )

_WHERE: dict[str, tuple[str, ...]] = {
    "_artifacts": ("ArtifactStore",),
    "_backup": ("backup", "list_backups", "parse_interval", "prune_backups"),
    "_backup_job": ("BACKUP_KIND", "run_backup_job", "schedule_backup"),
    "_restore": ("restore", "verify_backup"),
    "_handle": ("JobHandle",),
    "_identity": ("acting_as", "current_user"),
    "_jobs": (
        "ACTIVE_STATES",
        "FINAL_STATES",
        "HEARTBEAT_INTERVAL",
        "HEARTBEAT_TIMEOUT",
        "JOB_STATES",
        "Job",
        "JobManager",
        "new_id",
    ),
    "_kinds": (
        "IN_PROCESS",
        "job_function",
        "job_kinds",
        "register_job_kind",
        "set_job_kind_loader",
    ),
    "_runner": (
        "JobContext",
        "JobInterrupted",
        "execute_job",
        "is_primary_process",
        "run_job_process",
        "start_job",
    ),
    "_store": (
        "SCHEMA_VERSION",
        "AlertRow",
        "AliasRow",
        "ChallengeRow",
        "DatasetRow",
        "DeploymentRow",
        "JobRow",
        "MetricRow",
        "ModelVersionRow",
        "Store",
        "SubmissionRow",
        "normalize_db_url",
        "redact_url",
        "utcnow",
    ),
    "_workspace": (
        "DEFAULT_DIRNAME",
        "Workspace",
        "current_workspace",
        "resolve_workspace",
        "set_current_workspace",
    ),
}
_LAZY = {name: f"{__name__}.{module}" for module, names in _WHERE.items() for name in names}

__all__ = [
    "ACTIVE_STATES",
    "BACKUP_KIND",
    "AlertRow",
    "AliasRow",
    "ArtifactStore",
    "ChallengeRow",
    "DEFAULT_DIRNAME",
    "DatasetRow",
    "DeploymentRow",
    "FINAL_STATES",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_TIMEOUT",
    "IN_PROCESS",
    "JOB_STATES",
    "Job",
    "JobContext",
    "JobHandle",
    "JobInterrupted",
    "JobManager",
    "JobRow",
    "MetricRow",
    "ModelVersionRow",
    "SCHEMA_VERSION",
    "Store",
    "SubmissionRow",
    "Workspace",
    "acting_as",
    "backup",
    "current_user",
    "current_workspace",
    "execute_job",
    "is_primary_process",
    "job_function",
    "job_kinds",
    "list_backups",
    "new_id",
    "normalize_db_url",
    "parse_interval",
    "prune_backups",
    "redact_url",
    "register_job_kind",
    "resolve_workspace",
    "restore",
    "run_backup_job",
    "run_job_process",
    "schedule_backup",
    "set_job_kind_loader",
    "set_current_workspace",
    "start_job",
    "utcnow",
    "verify_backup",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
