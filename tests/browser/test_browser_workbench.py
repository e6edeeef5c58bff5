"""The Workbench in a real JupyterLab in headless Chromium: click Train, see the chart grow."""

from __future__ import annotations

import json
import re
from typing import Any

import nbformat

#: The notebook the browser runs: a Workbench on the server's workspace, small settings.
CELLS = [
    "import aimass_lab as am\n"
    "wb = am.Workbench(data='iris')\n"
    "train = wb.select('train')\n"
    "train.max_epochs.value = 3\n"
    "train.hparam_fields['hidden'].value = 16\n"
    "wb",
]

#: JavaScript: how many points the live training chart holds (train_loss + val_loss traces).
POINTS_JS = """() => {
  let n = 0;
  for (const el of document.querySelectorAll('.aimass-workbench .js-plotly-plot')) {
    for (const t of (el.data || [])) {
      if ((t.name === 'train_loss' || t.name === 'val_loss') && t.x) { n += t.x.length; }
    }
  }
  return n;
}"""


def _write_notebook(path: Any) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))


def test_workbench_train_click_makes_the_chart_gain_points(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    _write_notebook(lab_server.root_dir / "workbench.ipynb")
    page.goto(f"{lab_server.url}lab/tree/workbench.ipynb?token={lab_server.token}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    # the kernel is up when the status bar says so; then Run > Run All Cells
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()

    workbench = page.locator(".aimass-workbench")
    workbench.wait_for(timeout=90_000)
    buttons = workbench.locator("button.jupyter-button")
    train_button = buttons.filter(has_text=re.compile(r"^\s*Train\s*$"))
    train_button.wait_for()
    assert train_button.is_enabled()
    assert page.evaluate(POINTS_JS) == 0
    screenshot("workbench-train-form", workbench)

    train_button.click()
    # the job starts (the Cancel button comes alive), then the chart gains points live
    buttons.filter(has_text="Cancel").and_(page.locator(":enabled")).wait_for(timeout=60_000)
    page.wait_for_function(f"({POINTS_JS})() > 0", timeout=120_000, polling=500)
    first = page.evaluate(POINTS_JS)
    workbench.get_by_text("succeeded", exact=False).first.wait_for(timeout=120_000)
    assert page.evaluate(POINTS_JS) >= first
    status = workbench.locator(".aimass-status").first.inner_text()
    assert "error" not in status.lower(), status
    workbench.scroll_into_view_if_needed()
    screenshot("workbench-train-live")

    jobs = lab_server.api("GET", "jobs")
    listed = jobs if isinstance(jobs, list) else jobs.get("jobs", [])
    assert any(j.get("kind") == "train" for j in listed), json.dumps(jobs)[:500]
