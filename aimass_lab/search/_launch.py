"""Worker jobs of a study: each is a ``search`` job whose record carries the study's spec."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aimass_lab.specs import SearchSpec
    from aimass_lab.workspace import Workspace

__all__ = ["deprecated_name", "launch_workers"]


def deprecated_name(old: str, old_value: Any, new: str, new_value: Any) -> Any:
    """``new_value``, or ``old_value`` (with a DeprecationWarning) when the old name was used."""
    if old_value is None:
        return new_value
    warnings.warn(f"{old}= is deprecated; use {new}=", DeprecationWarning, stacklevel=3)
    return old_value


def launch_workers(
    workspace: Workspace,
    study: str,
    storage: str | None,
    spec: SearchSpec,
    workers: int,
    launch: bool = True,
) -> list[str]:
    """Record (and start) ``workers`` worker jobs for a study; return their ids.

    A worker's job spec names the study and its storage (what the worker reads) and holds
    the whole search spec under ``"search"``, so the job record says what it searched even
    where the Optuna storage is not reachable.
    """
    earlier = sum(
        1
        for j in workspace.jobs.list(kind="search")
        if j.spec.get("study") == study and j.spec.get("storage") == storage
    )
    search_spec = {**spec.to_dict(), "study": study}
    ids = []
    for i in range(workers):
        index = earlier + i
        job = workspace.jobs.create(
            "search",
            {"study": study, "storage": storage, "index": index, "search": search_spec},
            name=f"{study}-worker-{index}",
        )
        if launch:
            workspace.jobs.launch(job.id)
        ids.append(job.id)
    return ids
