"""The AI Mass sidebar, launcher card and commands in a real JupyterLab in headless Chromium.

One JupyterLab serves the module (``lab_server``); the tests run in file order and the later
ones reuse what the first recorded (its training job). Screenshots: .test-artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from browser_helpers import run_cell
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'
MODEL_NAME = "digits-mlp"


def open_sidebar(page: Any) -> Any:
    """Click the AI Mass tab of the left area; return the sidebar."""
    sidebar = page.locator("#aimass-sidebar")
    if not sidebar.is_visible():
        page.locator(SIDEBAR_TAB).click()
    sidebar.wait_for(state="visible")
    return sidebar


def test_launcher_card_opens_a_notebook_whose_job_shows_in_the_sidebar(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    # The launcher card writes aimass-1.ipynb from the template and opens it with a kernel.
    card = page.locator(".jp-LauncherCard", has_text="AI Mass notebook")
    card.wait_for()
    screenshot("launcher-card", page.locator(".jp-Launcher-body").first)
    card.click()
    panel = page.locator(".jp-NotebookPanel").first
    panel.wait_for()
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell >> nth=2")
    notebook = json.loads((lab_server.root_dir / "aimass-1.ipynb").read_text())
    sources = ["".join(c["source"]) for c in notebook["cells"]]
    assert any("aimass_lab.Workbench()" in s for s in sources), sources

    # Start a training job (a background process) from a cell of the notebook, once the
    # kernel is up (a cell run before that may never run).
    page.get_by_text("AI Mass (Python 3) | Idle").wait_for(timeout=90_000)
    before = {j["id"] for j in lab_server.api("GET", "jobs")}  # the module's other tests' jobs
    cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(2)
    output = run_cell(
        page,
        cell,
        'import aimass_lab; run = aimass_lab.train("digits", "mlp", max_epochs=2, name="from-notebook"); run.id',
        kernel="AI Mass (Python 3)",
    )
    # the job's id is the cell's result: the cell started one job, in the workspace now
    job_id = output.strip().strip("'")
    jobs = lab_server.api("GET", "jobs")
    assert [j["id"] for j in jobs if j["id"] not in before] == [job_id], (output, jobs)

    sidebar = open_sidebar(page)
    job = sidebar.locator(f'.jp-AimassJob[data-job-id="{job_id}"]')
    job.wait_for(timeout=60_000)
    expect(job.locator(".jp-AimassItem-kind")).to_have_text(f"train #{job_id[-6:]}")
    expect(job.locator(".jp-AimassItem-name")).to_have_text("from-notebook")
    screenshot("sidebar-job-started", sidebar)
    expect(job).to_have_attribute("data-state", "succeeded", timeout=120_000)
    # one row per job: the sidebar lists exactly the workspace's jobs
    expect(sidebar.locator(".jp-AimassJob")).to_have_count(len(lab_server.api("GET", "jobs")))
    screenshot("sidebar-job-finished")

    # The Log button opens the job's log in the main area.
    job.get_by_role("button", name="Log").click()
    page.locator(".jp-AimassLog-status", has_text="succeeded").wait_for()


@pytest.mark.page_noise(  # the refused deploy (422) this test sends on purpose
    r"^HTTP 422: POST .*/aimass-lab/api/v1/deployments",
    r"^console error: Failed to load resource: the server responded with a status of 422",
)
def test_deploy_from_the_models_section(lab_server: Any, page: Any, screenshot: Any) -> None:
    from aimass_lab.train import Run
    from aimass_lab.workspace import Workspace

    ws = Workspace(lab_server.workspace_path)
    done = [j for j in ws.jobs.list(kind="train", state="succeeded")]
    if not done:  # run on its own: train here
        import aimass_lab

        run = aimass_lab.train("digits", "mlp", max_epochs=2, wait=True, workspace=ws)
    else:
        run = Run(done[0].id, ws)
    version = run.register(MODEL_NAME, aliases=["prod"])
    # The workspace's inference server on a free port (8500 may be taken on a shared machine);
    # the deploy below reuses it, as it reuses any running one.
    from aimass_lab.serve.deploy import ensure_server

    ensure_server(ws, port=0)

    sidebar = open_sidebar(page)
    row = sidebar.locator(f'.jp-AimassVersion[data-ref="{version.ref}"]')
    row.wait_for(timeout=30_000)
    # its parameter count and size, e.g. "4.55K params · 19.6 KB"
    expect(row.locator(".jp-AimassVersion-size")).to_have_text(
        re.compile(r"^[\d.]+K? params · [\d.]+ [KM]?B$")
    )
    # Lineage: dataset -> run -> this version.
    row.get_by_role("button", name="Lineage").click()
    lineage = page.locator(".jp-Dialog", has_text=f"Lineage of {version.ref}")
    expect(lineage.locator(".jp-AimassLineage")).to_contain_text("trained on")
    expect(lineage.locator(".jp-AimassLineage")).to_contain_text("registered")
    screenshot("lineage-dialog", lineage.locator(".jp-Dialog-content"))
    lineage.locator("button.jp-mod-accept").click()
    lineage.wait_for(state="detached")

    # A refused deploy: the toast is cut, its "Details" shows the whole message.
    row.get_by_role("button", name="Deploy").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator('input[name="name"]').fill("bad name!")
    dialog.locator("button.jp-mod-accept").click()
    toast = page.locator(".Toastify__toast", has_text="invalid DeploySpec")
    toast.get_by_role("button", name="Details").click()
    details = page.locator(".jp-Dialog .jp-AimassErrorDetails")
    expect(details).to_contain_text("invalid endpoint name 'bad name!'")
    expect(details).to_contain_text("e.g. 'digits-mlp'")  # the end the toast cuts
    screenshot("error-details", page.locator(".jp-Dialog-content"))
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    details.wait_for(state="detached")

    row.get_by_role("button", name="Deploy").click()
    dialog.locator('input[name="name"]').wait_for()
    assert dialog.locator('input[name="name"]').input_value() == MODEL_NAME
    screenshot("deploy-dialog", dialog.locator(".jp-Dialog-content"))
    dialog.locator("button.jp-mod-accept").click()

    deployment = sidebar.locator(f'.jp-AimassDeployment[data-deployment="{MODEL_NAME}"]')
    deployment.wait_for(timeout=120_000)
    sidebar.locator(
        f'.jp-AimassDeployment[data-deployment="{MODEL_NAME}"][data-state="running"]'
    ).wait_for(timeout=30_000)
    expect(deployment.locator(".jp-AimassSplit")).to_contain_text(f"v{version.version} 100%")
    assert lab_server.api("GET", f"deployments/{MODEL_NAME}")["state"] == "running"
    screenshot("sidebar-deployed", sidebar)
    screenshot("sidebar")  # the whole window, for docs/img/sidebar.png

    deployment.get_by_role("button", name="Stop").click()
    page.locator(".jp-Dialog button.jp-mod-warn").click()
    sidebar.locator(
        f'.jp-AimassDeployment[data-deployment="{MODEL_NAME}"][data-state="stopped"]'
    ).wait_for(timeout=60_000)
    screenshot("sidebar-stopped", deployment)
    # Start serves it again as recorded (version, settings, split)
    deployment.get_by_role("button", name="Start").click()
    sidebar.locator(
        f'.jp-AimassDeployment[data-deployment="{MODEL_NAME}"][data-state="running"]'
    ).wait_for(timeout=120_000)
    expect(deployment.locator(".jp-AimassSplit")).to_contain_text(f"v{version.version} 100%")
    assert deployment.get_by_role("button", name="Start").count() == 0


@pytest.mark.page_noise(  # the 404 this test fakes, and Chromium's console line for it
    r"^HTTP 404: GET .*/aimass-lab/api/v1/studies",
    r"^console error: Failed to load resource: the server responded with a status of 404",
)
@pytest.mark.blank_page
def test_version_mismatch_dialog_and_missing_routes(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    # An older or newer server: the version differs and a route is missing (404).
    page.route(
        re.compile(r".*/aimass-lab/api/v1/version(\?.*)?$"),
        lambda route: route.fulfill(json={"version": "9.9.9", "api": "v1"}),
    )
    page.route(
        re.compile(r".*/aimass-lab/api/v1/studies(\?.*)?$"),
        lambda route: route.fulfill(status=404, body="Not Found"),
    )
    page.goto(f"{lab_server.url}lab?token={lab_server.token}")
    dialog = page.locator(".jp-Dialog", has_text="version mismatch")
    dialog.wait_for(timeout=60_000)
    text = dialog.inner_text()
    assert "9.9.9" in text and "0.1.0" in text, text
    screenshot("version-mismatch", dialog.locator(".jp-Dialog-content"))
    dialog.locator("button.jp-mod-accept").click()

    sidebar = open_sidebar(page)
    studies = sidebar.locator('.jp-AimassSection[data-section="studies"]')
    studies.locator(".jp-AimassSection-note", has_text="Not available").wait_for()
    assert studies.get_attribute("data-status") == "unavailable"
    # the other sections still work
    jobs = sidebar.locator('.jp-AimassSection[data-section="jobs"]')
    assert jobs.get_attribute("data-status") == "ok"


def test_command_palette_lists_the_commands(page: Any) -> None:
    palette = page.locator("#command-palette .lm-CommandPalette-input")
    items = page.locator("#command-palette .lm-CommandPalette-item")
    wanted = (
        "Open the AI Mass Sidebar",
        "Refresh the AI Mass Sidebar",
        "New AI Mass Notebook",
        "Check the AI Mass Lab Version",
    )
    labels: list[str] = []
    deadline = time.monotonic() + 120
    # Wait until the palette lists every command: the modal palette closes when a restoring
    # tab takes the focus, and the commands appear once the extension has registered them.
    while True:
        try:
            if not palette.is_visible():
                page.locator(".lm-MenuBar-itemLabel", has_text="View").click(timeout=5_000)
                page.locator(".lm-Menu-itemLabel", has_text="Activate Command Palette").click(
                    timeout=5_000
                )
                palette.fill("AI Mass", timeout=5_000)
            labels = items.all_inner_texts()
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
        if all(any(label in text for text in labels) for label in wanted):
            break
        assert time.monotonic() < deadline, (
            f"timed out after 120 s waiting for the command palette to list {wanted}; "
            f"it listed {labels}"
        )
        page.wait_for_timeout(250)
    page.locator(".lm-CommandPalette-item", has_text="Open the AI Mass Sidebar").click()
    page.locator("#aimass-sidebar").wait_for(state="visible")


def test_pretrained_section_lists_the_local_models(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    from aimass_lab.models import create_pretrained

    folder = lab_server.workspace_path / "pretrained" / "bert-tiny"
    create_pretrained(folder, "text", "tiny", max_length=32)
    sidebar = open_sidebar(page)
    sidebar.get_by_role("button", name="Refresh").click()
    row = sidebar.locator('.jp-AimassPretrained[data-pretrained="bert-tiny"]')
    row.wait_for(timeout=30_000)
    expect(row.locator(".jp-AimassItem-kind").first).to_have_text("text · bert")
    size = row.locator(".jp-AimassPretrained-size")
    expect(size).to_contain_text(re.compile(r"[\d.]+K params · [\d.]+ KB"))
    expect(size).to_contain_text("max_length 32 · tokenizer")
    screenshot("sidebar-pretrained", row)
