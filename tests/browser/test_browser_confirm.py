"""Destructive clicks ask first, in a real JupyterLab in headless Chromium: the sidebar's
Cancel and Stop server open a dialog naming what stops (dismissing keeps it running,
confirming stops it); the inference server's job row has no Cancel; a stopped server reads
"stopped"; in the Workbench, a new one offers the running job and its Cancel asks in a row.

Screenshots: .test-artifacts/browser/ (and AIMASS_SCREENSHOTS, when set, gets copies).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import open_and_run_notebook
from playwright.sync_api import expect

from aimass_lab.workspace import Workspace

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'


def _keep(path: Path) -> None:
    """Copy a screenshot to AIMASS_SCREENSHOTS (a folder to look at them in), when set."""
    folder = os.environ.get("AIMASS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


def _long_run(ws: Workspace, name: str) -> Any:
    """A detached training run that runs until it is cancelled (thousands of tiny epochs)."""
    import aimass_lab as am

    run = am.train(
        "iris", "mlp", hparams={"hidden": 8}, max_epochs=100_000, batch_size=32,
        name=name, workspace=ws, launch=True,
    )  # fmt: skip
    return run


def _state(lab_server: Any, job_id: str) -> str:
    return str(lab_server.api("GET", f"jobs/{job_id}")["state"])


def test_sidebar_cancel_and_stop_server_ask_first(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    from aimass_lab.serve.deploy import ensure_server

    ws = Workspace(lab_server.workspace_path)
    run = _long_run(ws, "long-sidebar")
    server = ensure_server(ws, port=0)

    sidebar = page.locator("#aimass-sidebar")
    if not sidebar.is_visible():
        page.locator(SIDEBAR_TAB).click()
    sidebar.wait_for(state="visible")
    row = sidebar.locator(f'.jp-AimassJob[data-job-id="{run.id}"][data-state="running"]')
    row.wait_for(timeout=90_000)
    # the row tells the run apart: its name, and its kind with the id's tail
    expect(row.locator(".jp-AimassItem-name")).to_have_text("long-sidebar")
    expect(row.locator(".jp-AimassItem-kind")).to_have_text(f"train #{run.id[-6:]}")

    # the inference server's job row has no Cancel: it is stopped from Deployments
    serve_row = sidebar.locator(f'.jp-AimassJob[data-job-id="{server.id}"]')
    expect(serve_row).to_have_attribute("data-state", "running")
    expect(serve_row.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(serve_row).to_contain_text("stop it from Deployments")
    _keep(screenshot("confirm-sidebar-jobs", sidebar))

    # Cancel asks, naming the job; "Keep it running" leaves it running
    row.get_by_role("button", name="Cancel").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_contain_text("Cancel long-sidebar?")
    expect(dialog.locator(".jp-Dialog-body")).to_contain_text(run.id)
    _keep(screenshot("confirm-cancel-dialog", dialog.locator(".jp-Dialog-content")))
    dialog.get_by_role("button", name="Keep it running").click()
    dialog.wait_for(state="detached")
    assert _state(lab_server, run.id) == "running"

    # confirming cancels it: it saves a checkpoint and ends interrupted
    row.get_by_role("button", name="Cancel").click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    sidebar.locator(f'.jp-AimassJob[data-job-id="{run.id}"][data-state="interrupted"]').wait_for(
        timeout=120_000
    )
    assert _state(lab_server, server.id) == "running"  # the server was never touched

    # Deployments: Stop server asks too; dismissed, the server keeps running
    server_row = sidebar.locator(f'.jp-AimassServer[data-job-id="{server.id}"]')
    server_row.wait_for()
    server_row.get_by_role("button", name="Stop server").click()
    expect(dialog.locator(".jp-Dialog-header")).to_contain_text("Stop the inference server?")
    _keep(screenshot("confirm-stop-server-dialog", dialog.locator(".jp-Dialog-content")))
    dialog.get_by_role("button", name="Keep it running").click()
    dialog.wait_for(state="detached")
    assert _state(lab_server, server.id) == "running"
    server_row.get_by_role("button", name="Stop server").click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()

    # a stopped server reads "stopped", never "succeeded 100%"
    stopped = sidebar.locator(f'.jp-AimassJob[data-job-id="{server.id}"][data-state="stopped"]')
    stopped.wait_for(timeout=60_000)
    expect(stopped.locator(".jp-AimassBadge")).to_have_text("stopped")
    expect(stopped).not_to_contain_text("100%")
    expect(sidebar.locator(".jp-AimassServer")).to_have_count(0)
    assert _state(lab_server, server.id) == "stopped"
    _keep(screenshot("confirm-sidebar-stopped", sidebar))


@pytest.mark.blank_page
def test_a_new_workbench_watches_the_running_job_and_cancel_asks(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    ws = Workspace(lab_server.workspace_path)
    run = _long_run(ws, "long-workbench")
    open_and_run_notebook(
        lab_server, page, "resume", ["import aimass_lab as am\nwb = am.Workbench()\nwb"]
    )

    workbench = page.locator(".aimass-workbench")
    offer = workbench.locator(".aimass-running-train")
    offer.wait_for(timeout=90_000)
    expect(offer).to_contain_text("A training job is running: long-workbench")
    _keep(screenshot("confirm-workbench-offer", workbench))
    offer.get_by_role("button", name="Watch it").click()
    expect(offer).to_be_hidden()

    buttons = workbench.locator("button.jupyter-button")
    cancel = buttons.filter(has_text=re.compile(r"^\s*Cancel\s*$"))
    expect(cancel).to_be_enabled(timeout=60_000)
    cancel.click()
    confirm = workbench.locator(".aimass-confirm").filter(has_text="Cancel run long-workbench")
    expect(confirm).to_be_visible()
    _keep(screenshot("confirm-workbench-cancel-row", confirm))
    confirm.get_by_role("button", name="Keep it running").click()
    expect(confirm).to_be_hidden()
    assert _state(lab_server, run.id) == "running"

    cancel.click()
    confirm.get_by_role("button", name="Confirm cancel long-workbench").click()
    workbench.locator(".aimass-status", has_text=f"run {run.id} interrupted").first.wait_for(
        timeout=120_000
    )
    assert _state(lab_server, run.id) == "interrupted"
