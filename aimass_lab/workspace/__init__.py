"""The workspace: metadata store, content-addressed artifacts and jobs."""

from aimass_lab.workspace._artifacts import ArtifactStore
from aimass_lab.workspace._jobs import ACTIVE_STATES, FINAL_STATES, JOB_STATES, Job, JobManager
from aimass_lab.workspace._store import SCHEMA_VERSION, Store
from aimass_lab.workspace._workspace import (
    Workspace,
    current_workspace,
    resolve_workspace,
    set_current_workspace,
)

__all__ = [
    "ACTIVE_STATES",
    "ArtifactStore",
    "FINAL_STATES",
    "JOB_STATES",
    "Job",
    "JobManager",
    "SCHEMA_VERSION",
    "Store",
    "Workspace",
    "current_workspace",
    "resolve_workspace",
    "set_current_workspace",
]
