"""The sidebar's Jobs list in a real JupyterLab: trials and workers of a search are told
apart by what differs (``trial 3 · NAME``), and a new job is held back while the pointer is
over the list (the row under the pointer stays the same job), shown when it leaves.

The jobs are recorded in the workspace's store and never started (queued): the sidebar
reads them through the REST API as it reads any job.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from aimass_lab.workspace import Workspace

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'
STUDY = "digits-mlp-20261204-1830"


def test_trials_are_told_apart_and_new_jobs_wait_for_the_pointer(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    ws = Workspace(lab_server.workspace_path)
    worker = ws.jobs.create("search", {"study": STUDY}, name=f"{STUDY}-worker-0")
    for n in (3, 12):
        ws.jobs.create("train", {}, name=f"{STUDY}-trial-{n}", parent_id=worker.id)

    page.locator(SIDEBAR_TAB).click()
    sidebar = page.locator("#aimass-sidebar")
    names = sidebar.locator(".jp-AimassJob .jp-AimassItem-name")
    # newest first; what tells them apart comes first, so an ellipsis never hides it
    expect(names).to_have_text(
        [f"trial 12 · {STUDY}", f"trial 3 · {STUDY}", f"worker 0 · {STUDY}"], timeout=30_000
    )
    rows = sidebar.locator(".jp-AimassJob")
    first = rows.first.get_attribute("data-job-id")

    # The pointer over the list: a new job does not push the rows down.
    rows.first.hover()
    newer = ws.jobs.create("train", {}, name=f"{STUDY}-trial-13", parent_id=worker.id)
    held = sidebar.locator(".jp-AimassJobs-held")
    expect(held).to_have_text("1 new job: shown when the pointer leaves the list", timeout=30_000)
    assert rows.first.get_attribute("data-job-id") == first
    assert sidebar.locator(f'.jp-AimassJob[data-job-id="{newer.id}"]').count() == 0
    screenshot("jobs-held", sidebar.locator(".jp-AimassSection").first)

    # The pointer leaves: the new job shows, on top.
    page.mouse.move(900, 400)
    expect(held).to_have_count(0, timeout=30_000)
    expect(rows.first).to_have_attribute("data-job-id", newer.id)
    expect(names.first).to_have_text(f"trial 13 · {STUDY}")
    for job in ws.jobs.list():
        if job.active:
            ws.jobs.cancel(job.id)
