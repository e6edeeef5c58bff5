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
- data sources and their permissions: :func:`add_source`, :func:`sources`, :func:`grant`,
  :func:`revoke`, :func:`check_read`, groups (:func:`add_to_group`), the secret store
  (:func:`read_secret`, :func:`sql_url_with_secret`);
- services (idle shutdown, kernel binding): :func:`register_service_kind`, :func:`service_kinds`,
  :func:`service_lifetime`, :func:`service_idle_timeout`,
  :func:`current_kernel`, :func:`current_kernel_id`, :func:`kernel_alive`,
  :func:`process_alive`, :func:`orphaned_services` (``aimass gc``);
- backups: :func:`backup`, :func:`restore`, :func:`verify_backup`, :func:`schedule_backup`
  (the ``backup`` job kind, the workspace's own), :func:`list_backups`, :func:`prune_backups`,
  :func:`parse_interval`;
- resumable uploads: :class:`Uploads` (``Workspace.uploads``), :class:`Upload`,
  :data:`UPLOAD_KINDS`, :class:`UploadOffsetError`, :class:`UploadOwnerError`.
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
    from aimass_lab.workspace._kernel import (
        current_kernel,
        current_kernel_id,
        kernel_alive,
        process_alive,
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
    from aimass_lab.workspace._secrets import join_location, read_secret, sql_url_with_secret
    from aimass_lab.workspace._services import (
        orphaned_services,
        register_service_kind,
        service_idle_timeout,
        service_kinds,
        service_lifetime,
    )
    from aimass_lab.workspace._sources import (
        acting_in_groups,
        add_source,
        add_to_group,
        check_read,
        current_groups,
        get_source,
        grant,
        groups,
        remove_from_group,
        remove_source,
        revoke,
        sources,
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
        UploadRow,
        normalize_db_url,
        redact_url,
        utcnow,
    )
    from aimass_lab.workspace._upload_chunks import Upload, UploadOffsetError, UploadOwnerError
    from aimass_lab.workspace._uploads import UPLOAD_KINDS, UPLOAD_STALE_AGE_S, Uploads
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
    "_secrets": ("join_location", "read_secret", "sql_url_with_secret"),
    "_sources": (
        "acting_in_groups",
        "add_source",
        "add_to_group",
        "check_read",
        "current_groups",
        "get_source",
        "grant",
        "groups",
        "remove_from_group",
        "remove_source",
        "revoke",
        "sources",
    ),
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
    "_kernel": ("current_kernel", "current_kernel_id", "kernel_alive", "process_alive"),
    "_services": (
        "orphaned_services",
        "register_service_kind",
        "service_idle_timeout",
        "service_kinds",
        "service_lifetime",
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
        "UploadRow",
        "SubmissionRow",
        "normalize_db_url",
        "redact_url",
        "utcnow",
    ),
    "_upload_chunks": ("Upload", "UploadOffsetError", "UploadOwnerError"),
    "_uploads": ("UPLOAD_KINDS", "UPLOAD_STALE_AGE_S", "Uploads"),
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
    "UPLOAD_KINDS",
    "UPLOAD_STALE_AGE_S",
    "Upload",
    "UploadOffsetError",
    "UploadOwnerError",
    "UploadRow",
    "Uploads",
    "SubmissionRow",
    "Workspace",
    "acting_as",
    "backup",
    "current_kernel",
    "current_kernel_id",
    "current_user",
    "current_workspace",
    "execute_job",
    "is_primary_process",
    "job_function",
    "job_kinds",
    "kernel_alive",
    "list_backups",
    "new_id",
    "normalize_db_url",
    "orphaned_services",
    "parse_interval",
    "process_alive",
    "prune_backups",
    "redact_url",
    "register_job_kind",
    "register_service_kind",
    "resolve_workspace",
    "restore",
    "run_backup_job",
    "run_job_process",
    "schedule_backup",
    "service_idle_timeout",
    "service_kinds",
    "service_lifetime",
    "set_job_kind_loader",
    "set_current_workspace",
    "start_job",
    "utcnow",
    "verify_backup",
    "acting_in_groups",
    "add_source",
    "add_to_group",
    "check_read",
    "current_groups",
    "get_source",
    "grant",
    "groups",
    "remove_from_group",
    "remove_source",
    "revoke",
    "sources",
    "join_location",
    "read_secret",
    "sql_url_with_secret",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
