"""Worker jobs of a study: each is a ``search`` job whose record carries the study's spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aimass_lab.specs import SearchSpec
    from aimass_lab.workspace import Workspace

__all__ = ["launch_workers"]


def launch_workers(
    workspace: Workspace,
    study: str,
    storage: str | None,
    spec: SearchSpec,
    parallel: int,
    launch: bool = True,
) -> list[str]:
    """Record (and start) ``parallel`` worker jobs for a study; return their ids.

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
    for i in range(parallel):
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
