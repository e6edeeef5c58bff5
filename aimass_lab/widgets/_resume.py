"""What a new Workbench picks up from its workspace: the running jobs, the latest run, the
registered datasets (after a kernel restart the work is still there; the widget shows it).

A training run or a search that is running is offered in a row at the top of the Workbench,
``A training job is running: NAME (id, 40%) — [Watch it]``: one click opens its tab and
attaches the live view to it. The Train form is filled from the latest run's spec, and the
Data tab lists the registered datasets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.widgets._base import button, esc

if TYPE_CHECKING:
    from aimass_lab.workspace import Job, Workspace

__all__ = ["ResumeBar", "active_jobs", "latest_run"]


def latest_run(ws: Workspace) -> Job | None:
    """The newest training job started on its own (not a trial of a search), if any."""
    for job in ws.jobs.list(kind="train", limit=50):
        if job.parent_id is None:
            return job
    return None


def active_jobs(ws: Workspace) -> dict[str, Job]:
    """The newest queued or running ``train`` (not a trial) and ``search`` job, by kind."""
    found: dict[str, Job] = {}
    for kind in ("train", "search"):
        for job in ws.jobs.list(kind=kind, limit=50):
            if job.active and (kind == "search" or job.parent_id is None):
                found[kind] = job
                break
    return found


def _progress(job: Job) -> str:
    return "" if job.progress is None else f", {job.progress:.0%}"


class ResumeBar(widgets.VBox):
    """The rows that offer the workspace's running jobs; each ``Watch it`` calls
    ``watch(kind, job)`` and hides its row.

    Attributes
    ----------
    offers : dict
        ``{"train": (row, button), "search": (row, button)}`` for the running jobs found.
    """

    def __init__(self, jobs: dict[str, Job], watch: Callable[[str, Job], Any]) -> None:
        super().__init__()
        self.offers: dict[str, tuple[widgets.HBox, widgets.Button]] = {}
        what = {"train": "A training job", "search": "A search"}
        for kind, job in jobs.items():
            name = job.spec.get("study") if kind == "search" else job.label
            text = widgets.HTML(
                f"&#9654; {what[kind]} is running: <b>{esc(name)}</b> "
                f"<small>(job {esc(job.id)}{_progress(job)})</small> — "
            )
            watch_button = button("Watch it", "info", "eye")
            watch_button.tooltip = f"open the {kind.title()} tab and follow {name} live"
            row = widgets.HBox([text, watch_button])
            row.layout.align_items = "center"
            row.add_class(f"aimass-running-{kind}")

            def on_click(_b: Any, kind: str = kind, job: Job = job, row: Any = row) -> None:
                row.layout.display = "none"
                watch(kind, job)

            watch_button.on_click(on_click)
            self.offers[kind] = (row, watch_button)
        self.children = [row for row, _ in self.offers.values()]
        self.add_class("aimass-resume")


def registered_datasets_note(ws: Workspace) -> widgets.HTML | None:
    """``Registered in this workspace: a, b`` (None when there are none)."""
    from aimass_lab.data import registered_names

    try:
        names = list(registered_names(ws))
    except Exception:
        return None
    if not names:
        return None
    shown = ", ".join(esc(n) for n in names)
    return widgets.HTML(
        f"<small>Datasets registered in this workspace: <b>{shown}</b> "
        "(source <i>registered</i>)</small>"
    )
