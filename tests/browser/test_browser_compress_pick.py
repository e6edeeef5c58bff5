"""Picking a variant on the Compress chart in a real JupyterLab: a click on the exact centre of
a marker (where the dotted Pareto line passes too) picks it; Set alias and Deploy come alive."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_helpers import open_and_run_notebook
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

CELLS = [
    "import aimass_lab as am\n"
    "from aimass_lab.widgets import CompressPanel\n"
    "run = am.train('iris', max_epochs=1, name='pick-run', wait=True)\n"
    "mv = run.register('iris-pick')\n"
    "report = am.compress.compress(mv.ref, [{'method': 'quantize', 'mode': 'int8-dynamic'}])\n"
    "panel = CompressPanel(report=report)\n"
    "panel",
]

#: JavaScript: the page centres of the markers of the "variants" trace, with their refs.
MARKERS_JS = """() => {
  const plot = document.querySelector('.aimass-panel .js-plotly-plot');
  const i = plot.data.findIndex(t => t.name === 'variants');
  const trace = plot.querySelectorAll('.scatterlayer .trace')[i];
  return [...trace.querySelectorAll('.points path.point')].map((p, k) => {
    const r = p.getBoundingClientRect();
    return {x: r.left + r.width / 2, y: r.top + r.height / 2, ref: plot.data[i].customdata[k]};
  });
}"""


@pytest.mark.blank_page
def test_a_click_on_the_centre_of_a_marker_picks_the_variant(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    open_and_run_notebook(lab_server, page, "pick", CELLS)
    panel = page.locator(".aimass-panel")
    panel.wait_for(timeout=300_000)
    page.wait_for_function(f"({MARKERS_JS})().length >= 2", timeout=60_000, polling=250)
    deploy = panel.get_by_role("button", name=re.compile("Deploy"))
    alias_button = panel.get_by_role("button", name=re.compile("Set alias"))
    expect(deploy).to_be_disabled()
    panel.get_by_placeholder("edge").fill("edge")
    panel.get_by_placeholder("edge").press("Tab")
    # the chart in view, then each marker in turn: its centre picks it
    panel.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    refs = [m["ref"] for m in page.evaluate(MARKERS_JS)]
    for ref in refs:
        _click_until_picked(page, panel, ref)
        expect(deploy).to_be_enabled()
        expect(alias_button).to_be_enabled()
    screenshot("compress-picked", panel)


def _click_until_picked(page: Any, panel: Any, ref: str, tries: int = 3) -> None:
    """Click the centre of ``ref``'s marker, measured just before each click (the chart may
    still move while the page settles); the kernel's answer may take a while under load, so
    a click is repeated at most ``tries`` times before the test fails."""
    picked = panel.get_by_text(f"picked {ref}")
    for attempt in range(1, tries + 1):
        marker = next(m for m in page.evaluate(MARKERS_JS) if m["ref"] == ref)
        page.mouse.move(marker["x"], marker["y"])
        page.mouse.click(marker["x"], marker["y"])
        try:
            picked.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == tries:
                raise AssertionError(
                    f"clicked the centre of {ref}'s marker {tries} times; "
                    f"the panel never said 'picked {ref}'"
                ) from None
