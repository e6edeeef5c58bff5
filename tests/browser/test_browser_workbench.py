"""The Workbench in a real JupyterLab in headless Chromium: click Train, see the chart grow."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from browser_helpers import open_and_run_notebook

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


@pytest.mark.blank_page
def test_workbench_train_click_makes_the_chart_gain_points(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    open_and_run_notebook(lab_server, page, "workbench", CELLS)

    workbench = page.locator(".aimass-workbench")
    workbench.wait_for(timeout=90_000)
    buttons = workbench.locator("button.jupyter-button")
    train_button = buttons.filter(has_text=re.compile(r"^\s*Train\s*$"))
    train_button.wait_for()
    assert train_button.is_enabled()
    assert page.evaluate(POINTS_JS) == 0
    screenshot("workbench-train-form", workbench)

    before = {j["id"] for j in lab_server.api("GET", "jobs")}  # other tests' jobs, if any
    train_button.click()
    # the job starts (the Cancel button comes alive), then the chart gains points live
    buttons.filter(has_text="Cancel").and_(page.locator(":enabled")).wait_for(timeout=60_000)
    page.wait_for_function(f"({POINTS_JS})() > 0", timeout=120_000, polling=500)
    workbench.get_by_text("succeeded", exact=False).first.wait_for(timeout=120_000)
    # the click started one training job, with the notebook's settings, and it succeeded
    jobs = lab_server.api("GET", "jobs", timeout=30)
    trains = [j for j in jobs if j["kind"] == "train" and j["id"] not in before]
    assert len(trains) == 1 and trains[0]["state"] == "succeeded", json.dumps(jobs)[:500]
    assert trains[0]["spec"]["max_epochs"] == 3
    assert trains[0]["spec"]["model"]["hparams"]["hidden"] == 16
    # the panel says which run succeeded
    workbench.locator(
        ".aimass-status", has_text=f"run {trains[0]['id']} succeeded in "
    ).first.wait_for(timeout=60_000)
    # one val_loss point per epoch: the chart shows the whole run
    page.wait_for_function(f"({TRACE_POINTS_JS})('val_loss') === 3", timeout=60_000, polling=500)
    workbench.scroll_into_view_if_needed()
    screenshot("workbench-train-live")


#: The notebook of the click-only tour: a bare Workbench, every setting made in the browser.
TOUR_CELLS = ["import aimass_lab as am\nam.Workbench()"]

#: JavaScript: how many points the visible Plotly traces called ``name`` hold.
TRACE_POINTS_JS = """(name) => {
  let n = 0;
  for (const el of document.querySelectorAll('.aimass-workbench .js-plotly-plot')) {
    if (!el.offsetParent) { continue; }
    for (const t of (el.data || [])) {
      if (t.name === name && t.x) { n += t.x.length; }
    }
  }
  return n;
}"""

WAIT_MS = 90_000


def _trace_points(page: Any, name: str) -> int:
    return int(page.evaluate(TRACE_POINTS_JS, name))


def _wait_trace_points(page: Any, name: str, at_least: int = 1) -> None:
    page.wait_for_function(
        f"({TRACE_POINTS_JS})({json.dumps(name)}) >= {at_least}", timeout=WAIT_MS, polling=500
    )


@pytest.mark.blank_page
def test_workbench_click_only_tour_data_train_search_compress_deploy(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    open_and_run_notebook(lab_server, page, "tour", TOUR_CELLS)
    workbench = page.locator(".aimass-workbench")
    workbench.wait_for(timeout=WAIT_MS)

    def tab(title: str) -> None:
        workbench.get_by_role("tab", name=title, exact=True).click()

    def button(label: str) -> Any:
        return workbench.locator("button.jupyter-button:visible").filter(
            has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")
        )

    def field(label: str) -> Any:
        """The visible input or select of the Field labelled ``label``."""
        return workbench.locator(
            "xpath=//div[contains(@class,'widget-hbox')][./div[contains(@class,'widget-label')"
            f" and normalize-space()='{label}']]//*[self::input or self::select]"
        ).locator("visible=true")

    def set_field(label: str, value: str) -> None:
        control = field(label)
        control.fill(value)
        control.press("Tab")  # number and text boxes send their value on change

    def status() -> Any:
        return workbench.locator(".aimass-status:visible")

    def wait_status(pattern: str) -> None:
        status().filter(has_text=re.compile(pattern)).wait_for(timeout=WAIT_MS)

    def no_error() -> None:
        text = status().inner_text()
        assert "error" not in text.lower() and "failed" not in text.lower(), text

    # (1) Data: the default built-in (iris), Load; the summary and the class-balance chart show
    tab("Data")
    assert field("dataset").input_value() == "iris"
    button("Load").click()
    wait_status(r"loaded iris")
    _wait_trace_points(page, "rows", 2)
    no_error()
    screenshot("tour-1-data", workbench)

    # (2) Train: 2 epochs, Train; the live chart gains points; Register under a name
    tab("Train")
    set_field("epochs", "2")
    button("Train").click()
    _wait_trace_points(page, "train_loss")
    wait_status(r"succeeded")
    assert _trace_points(page, "val_loss") >= 1
    set_field("register as", "tour-mlp")
    register = button("Register")
    expect_enabled(register)
    register.click()
    # the note beside Register says what it did; the status line keeps the run's summary
    note = workbench.locator(".aimass-register-note:visible")
    note.filter(has_text=re.compile(r"registered tour-mlp:1")).wait_for(timeout=WAIT_MS)
    wait_status(r"succeeded")
    screenshot("tour-2-train", workbench)

    # (3) Search: 2 trials of 1 epoch; the history chart fills; the study finishes; Register best
    tab("Search")
    set_field("epochs per trial", "1")
    set_field("trials", "2")
    start = button("Start search")
    expect_enabled(start)
    start.click()
    _wait_trace_points(page, "trials", 2)
    wait_status(r"finished")
    set_field("register as", "tour-best")
    best = button("Register best")
    expect_enabled(best)
    best.click()
    wait_status(r"registered tour-best:1")
    screenshot("tour-3-search", workbench)

    # (4) Compress the trained model: quantize int8-dynamic only; the variants table and chart
    tab("Compress")
    field("model").select_option("tour-mlp:1")
    prune = workbench.get_by_role("checkbox", name="prune")
    if prune.is_checked():
        prune.uncheck()
    quantize = workbench.get_by_role("checkbox", name="quantize")
    if not quantize.is_checked():
        quantize.check()
    run = button("Run")
    expect_enabled(run)
    run.click()
    wait_status(r"compress job \S+ succeeded")
    _wait_trace_points(page, "variants", 2)
    table = workbench.locator("table:visible").first.inner_text()
    rows = [line for line in table.splitlines() if line.strip()]
    assert any(r.startswith("baseline") and "tour-mlp:1" in r for r in rows), table
    assert any(r.startswith("quantize:int8-dynamic") and "tour-mlp:2" in r for r in rows), table
    screenshot("tour-4-compress", workbench)

    # (5) Deploy the trained model with one click; the endpoint shows; try it; stop it
    tab("Deploy")
    field("model").select_option("tour-mlp:1")
    deploy = button("Deploy")
    expect_enabled(deploy)
    deploy.click()
    wait_status(r"deployed tour-mlp:1 at http")
    info = workbench.get_by_text("JSON: POST http", exact=False)
    info.wait_for(timeout=WAIT_MS)
    button("Predict").click()
    workbench.get_by_text("answered by version 1").wait_for(timeout=WAIT_MS)
    screenshot("tour-5-deploy", workbench)
    button("Stop endpoint").click()  # asks first: a row naming the endpoint
    confirm = workbench.locator(".aimass-confirm:visible")
    confirm.wait_for(timeout=WAIT_MS)
    confirm.locator("button.jupyter-button").filter(has_text="Confirm stop").click()
    wait_status(r"endpoint \S+ stopped")


def expect_enabled(locator: Any) -> None:
    """Wait (bounded) until a button can be clicked."""
    locator.and_(locator.page.locator(":enabled")).wait_for(timeout=WAIT_MS)
