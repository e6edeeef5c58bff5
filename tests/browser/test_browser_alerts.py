"""The Alerts section of the AI Mass sidebar, in a real JupyterLab in headless Chromium: the
history the ``alerts`` watcher jobs recorded in the workspace's store."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'


def test_alerts_section_shows_the_recorded_history(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    from aimass_lab.serve.deploy._alerts_job import record_alert
    from aimass_lab.workspace import Workspace

    sidebar = page.locator("#aimass-sidebar")
    if not sidebar.is_visible():
        page.locator(SIDEBAR_TAB).click()
    section = sidebar.locator('.jp-AimassSection[data-section="alerts"]')
    expect(section).to_contain_text("No alerts recorded", timeout=60_000)
    ws = Workspace(lab_server.workspace_path)
    base = {
        "rule": "error_rate_pct above 5 for 30s", "metric": "error_rate_pct", "op": "above",
        "threshold": 5.0, "message": "digits: error_rate_pct is 42, above 5 for 30 s",
    }  # fmt: skip
    record_alert(ws, "j1", {**base, "deployment": "digits", "state": "firing", "value": 42.0})
    record_alert(ws, "j1", {**base, "deployment": "digits", "state": "resolved", "value": 0.5})
    record_alert(
        ws, "j1",
        {**base, "deployment": "iris", "rule": "drift_tv above 0.3", "metric": "drift_tv",
         "state": "firing", "value": 0.61, "message": "iris: drift_tv is 0.61, above 0.3"},
    )  # fmt: skip
    sidebar.get_by_role("button", name="Refresh").click()
    rows = section.locator(".jp-AimassAlert")
    expect(rows).to_have_count(3, timeout=30_000)
    expect(rows.first).to_have_attribute("data-state", "firing")
    expect(rows.first).to_contain_text("iris")
    expect(rows.first).to_contain_text("drift_tv above 0.3")
    expect(rows.nth(1)).to_have_attribute("data-state", "resolved")
    # one rule fires now (digits' resolved; iris' fires)
    expect(section.locator(".jp-AimassSection-extra")).to_have_text("1 firing")
    section.scroll_into_view_if_needed()
    screenshot("sidebar-alerts", section)
