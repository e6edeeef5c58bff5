"""Every Workbench tab and the sidebar at two widths: no text cut off, no chart labels on top
of each other.

A notebook trains, searches and compresses a little (iris) so every panel has content, then
shows a Workbench. For each width and each tab the page is walked in the browser
(:data:`OVERFLOW_JS`): an element that cuts its content (``overflow`` hidden/clip or
``text-overflow: ellipsis`` with ``scrollWidth > clientWidth + 1``), an SVG text of a chart
whose box meets another's, or one that sticks out of its chart, fails the test, named by tag,
class and text. Screenshots: ``.test-artifacts/browser/layout-<width>-<tab>.png``.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pytest
from browser_helpers import open_and_run_notebook
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

WIDTHS = (1400, 900)
TABS = ("Data", "Train", "Search", "Compress", "Models", "Deploy")

#: The notebook: a bit of everything in the server's workspace, then the Workbench showing it.
CELLS = [
    "import aimass_lab as am\n"
    "run = am.train('iris', max_epochs=2, name='layout-run', wait=True)\n"
    "mv = run.register('iris-mlp')\n"
    "report = am.compress.compress(mv.ref, [{'method': 'quantize', 'mode': 'int8-dynamic'}])\n"
    "study = am.search.search('iris', n_trials=3, max_epochs=1, seed=0, wait=True,\n"
    "    space={'lr': {'type': 'float', 'low': 1e-3, 'high': 1e-1, 'log': True},\n"
    "           'activation': {'type': 'categorical', 'choices': ['relu', 'gelu']}})\n"
    "wb = am.Workbench(data='iris')\n"
    "wb.data_panel.load()\n"
    "wb.train_panel.attach(run)\n"
    "wb.search_panel.attach(study)\n"
    "wb.compress_panel.show_report(report)\n"
    "wb.models_panel.select(report.rows[-1]['version'])\n"
    "wb.deploy_panel.show_error('the model server could not start: port 8123 is in use by "
    "another process; stop it or pick another port in the field above, then press Deploy')\n"
    "wb",
]

#: JavaScript: the layout problems under ``root`` (elements and chart labels), as strings.
OVERFLOW_JS = r"""(root) => {
  const problems = [];
  const name = (el) => {
    const cls = typeof el.className === 'string' ? el.className : (el.getAttribute('class') || '');
    const text = (el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 70);
    return `<${el.tagName.toLowerCase()} class="${cls.trim().slice(0, 80)}"> "${text}"`;
  };
  // on screen: not in a hidden tab (display: none or content-visibility: hidden)
  const shown = (el) => el.getClientRects().length > 0 && el.checkVisibility({
    contentVisibilityAuto: true, opacityProperty: true, visibilityProperty: true});
  const skip = new Set(['INPUT', 'SELECT', 'TEXTAREA', 'OPTION', 'svg', 'CANVAS']);
  for (const el of root.querySelectorAll('*')) {
    if (!(el instanceof HTMLElement) || skip.has(el.tagName) || !shown(el)) { continue; }
    if (el.closest('.js-plotly-plot, .CodeMirror, .cm-editor')) { continue; }
    const style = getComputedStyle(el);
    const clips = ['hidden', 'clip'].includes(style.overflowX) || style.textOverflow === 'ellipsis';
    if (clips && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`cut (${el.scrollWidth} px of content in ${el.clientWidth} px): ${name(el)}`);
    }
  }
  // content that sticks out of the widget on the right (cut by the output area), unless it
  // is inside a box of the widget that scrolls
  const edge = root.getBoundingClientRect().right;
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) { return true; }
    }
    return false;
  };
  for (const el of root.querySelectorAll('*')) {
    if (!shown(el) || el.closest('.js-plotly-plot svg')) { continue; }
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > edge + 1 && !scrolls(el) &&
        !(el.parentElement && el.parentElement.getBoundingClientRect().right > edge + 1)) {
      problems.push(`out of the widget by ${Math.round(box.right - edge)} px: ${name(el)}`);
    }
  }
  const meets = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
    a.top < b.bottom - 1 && b.top < a.bottom - 1;
  for (const plot of root.querySelectorAll('.js-plotly-plot')) {
    if (!shown(plot)) { continue; }
    const frame = plot.getBoundingClientRect();
    const texts = [];
    for (const t of plot.querySelectorAll('text')) {
      if (!(t.textContent || '').trim() || !shown(t)) { continue; }
      if (getComputedStyle(t).opacity === '0') { continue; }
      const box = t.getBoundingClientRect();
      if (box.width < 1 || box.height < 1) { continue; }
      texts.push([t, box]);
      if (box.left < frame.left - 1 || box.right > frame.right + 1 ||
          box.top < frame.top - 1 || box.bottom > frame.bottom + 1) {
        problems.push(`chart text out of its chart: ${name(t)}`);
      }
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const [a, ra] = texts[i];
        const [b, rb] = texts[j];
        if (a.contains(b) || b.contains(a)) { continue; }
        if (meets(ra, rb)) { problems.push(`chart texts overlap: ${name(a)} and ${name(b)}`); }
      }
    }
  }
  return problems;
}"""

#: JavaScript: every Plotly chart of the visible tab has drawn (an SVG inside) at its size: it
#: fits its box, or its drawn width has not changed for two seconds (a window resize redraws a
#: chart that follows its box a moment later; one drawn at a fixed width never changes, and
#: waiting longer for it to fit only costs time). The widths seen are kept on each chart
#: (:func:`_settle` forgets them first).
CHARTS_DRAWN_JS = """(root) => {
  const now = performance.now();
  const plots = [...root.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent);
  return plots.map(p => {
    const svg = p.querySelector('svg.main-svg');
    if (!svg || !p._fullLayout) { return false; }
    const width = svg.getBoundingClientRect().width;
    if (width <= p.getBoundingClientRect().width + 1) { return true; }
    const seen = p._aimassLayoutWidth;
    if (!seen || seen.width !== width) {
      p._aimassLayoutWidth = {width: width, since: now};
      return false;
    }
    return now - seen.since >= 2000;
  }).every(Boolean);
}"""

#: JavaScript: the run-comparison table's first column is sorted (``descending`` or not).
SORTED_JS = """(descending) => {
  const cells = document.querySelectorAll('.aimass-sort-table tbody tr td:first-child');
  const names = [...cells].map(td => td.textContent.toLowerCase());
  const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (descending) { sorted.reverse(); }
  return names.length >= 2 && names.join('|') === sorted.join('|');
}"""

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'


def _settle(page: Any) -> None:
    """Wait for the visible charts to draw within their boxes, or at a width that no longer
    changes (:data:`CHARTS_DRAWN_JS`), then for two animation frames (layout done)."""
    page.evaluate(
        "() => document.querySelectorAll('.js-plotly-plot').forEach(p => {"
        " delete p._aimassLayoutWidth; })"
    )
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            f"({CHARTS_DRAWN_JS})(document.querySelector('.aimass-workbench'))",
            timeout=20_000,
            polling=250,
        )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _problems(page: Any, root: Any) -> list[str]:
    """The layout problems under ``root`` that last: a chart still redrawing after a tab
    switch or a resize (its axes briefly at plotly's defaults) is given up to 10 s to settle."""
    handle = root.element_handle()
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            f"(root) => ({OVERFLOW_JS})(root).length === 0", arg=handle, timeout=10_000, polling=500
        )
    return list(page.evaluate(OVERFLOW_JS, handle))


@pytest.mark.blank_page
def test_every_tab_and_the_sidebar_fit_at_two_widths(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    open_and_run_notebook(lab_server, page, "layout", CELLS)
    workbench = page.locator(".aimass-workbench")
    workbench.wait_for(timeout=600_000)  # the cell trains, searches and compresses first
    sidebar = page.locator("#aimass-sidebar")

    problems: list[str] = []
    for width in WIDTHS:
        # tall enough for the notebook to show the whole Workbench (the screenshots)
        page.set_viewport_size({"width": width, "height": 2600})
        if sidebar.is_visible():  # the Workbench with the left area closed, then the sidebar
            page.locator(SIDEBAR_TAB).click()
            sidebar.wait_for(state="hidden")
        for title in TABS:
            workbench.get_by_role("tab", name=title, exact=True).click()
            _settle(page)
            found = _problems(page, workbench)
            problems += [f"{width} px, {title} tab: {p}" for p in found]
            screenshot(f"layout-{width}-{title.lower()}", workbench)
        page.locator(SIDEBAR_TAB).click()
        sidebar.wait_for(state="visible")
        sidebar.locator(".jp-AimassJob").first.wait_for(timeout=60_000)
        found = _problems(page, sidebar)
        problems += [f"{width} px, sidebar: {p}" for p in found]
        screenshot(f"layout-{width}-sidebar", sidebar)
    assert not problems, f"{len(problems)} layout problems:\n" + "\n".join(dict.fromkeys(problems))

    # The run-comparison table (Train tab, "compare runs") fits and sorts by a click on a
    # header (at 1400 px, the sidebar closed).
    page.locator(SIDEBAR_TAB).click()
    sidebar.wait_for(state="hidden")
    page.set_viewport_size({"width": 1400, "height": 2600})
    workbench.get_by_role("tab", name="Train", exact=True).click()
    workbench.get_by_text("compare runs").click()
    table = workbench.locator(".aimass-sort-table")
    table.wait_for()
    _settle(page)
    found = _problems(page, workbench)
    assert not found, "compare runs:\n" + "\n".join(found)
    header = table.locator("th[data-column='run']")
    header.wait_for()
    for arrow, descending in (("▲", False), ("▼", True)):
        header.click()
        table.locator("th", has_text=f"run {arrow}").wait_for()
        # the rows come back sorted from the kernel a moment after the header changed
        page.wait_for_function(SORTED_JS, arg=descending, timeout=30_000, polling=250)
        names = table.locator("tbody tr td:nth-child(1)").all_inner_texts()
        assert len(names) >= 2, names
        assert names == sorted(names, key=str.lower, reverse=descending), names
    table.scroll_into_view_if_needed()
    screenshot("compare-table-sorted", workbench)


@pytest.mark.blank_page
def test_overflow_check_names_cut_and_overlapping_text(lab_server: Any, page: Any) -> None:
    """The check itself: a cut label and two overlapping SVG texts are reported by name (on a
    blank page: the elements carry their own styles)."""
    found = page.evaluate(
        """(js) => {
      const root = document.createElement('div');
      root.innerHTML = `<div class="cut-me" style="width:40px;overflow:hidden;white-space:nowrap">
        activation (categorical)</div><div class="js-plotly-plot" style="width:300px;height:100px">
        <svg width="300" height="100"><text x="10" y="50">first title</text>
        <text x="20" y="52">second title</text></svg></div>`;
      document.body.appendChild(root);
      const out = eval(js)(root);
      root.remove();
      return out;
    }""",
        OVERFLOW_JS,
    )
    text = json.dumps(found)
    assert any(re.search(r"cut .*cut-me.*activation \(categorical\)", p) for p in found), text
    assert any("overlap" in p and "first title" in p and "second title" in p for p in found), text
