"""The sidebar's Services section in a real JupyterLab: owner and idle time of the inference
server; Stop only for its owner (disabled for anyone else), and it stops it; an
optuna-dashboard with its link, stopped by its owner."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from aimass_lab.serve.deploy import ensure_server
from aimass_lab.workspace import Workspace, acting_as

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'


def _server_as(lab_server: Any, user: str) -> Any:
    with acting_as(user):
        return ensure_server(Workspace(lab_server.workspace_path), port=0, timeout=120)


def test_services_show_owner_and_idle_time_and_only_the_owner_stops(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    me = lab_server.api("GET", "services")["user"]
    assert me != "ada"
    ws = Workspace(lab_server.workspace_path)
    theirs = _server_as(lab_server, "ada")
    sidebar = page.locator("#aimass-sidebar")
    if not sidebar.is_visible():
        page.locator(SIDEBAR_TAB).click()
    sidebar.wait_for(state="visible")
    row = sidebar.locator(f'.jp-AimassService[data-service-id="{theirs.id}"]')
    row.wait_for(timeout=60_000)
    expect(row).to_have_attribute("data-owner", "ada")
    expect(row.locator(".jp-AimassService-owner")).to_have_text("by ada")
    expect(row.locator(".jp-AimassService-idle")).to_contain_text("idle")
    stop = row.locator(".jp-AimassService-stop")
    expect(stop).to_be_disabled()
    expect(stop).to_have_attribute("title", "Only its owner, ada, may stop it")
    screenshot("services-not-mine", sidebar.locator('[data-section="services"]'))
    ws.jobs.cancel(theirs.id)
    ws.jobs.wait(theirs.id, timeout=60)

    mine = _server_as(lab_server, me)
    row = sidebar.locator(f'.jp-AimassService[data-service-id="{mine.id}"]')
    row.wait_for(timeout=60_000)
    expect(row.locator(".jp-AimassService-owner")).to_have_text(f"by {me}")
    stop = row.locator(".jp-AimassService-stop")
    expect(stop).to_be_enabled()
    screenshot("services-mine", sidebar.locator('[data-section="services"]'))
    stop.click()
    page.get_by_role("button", name="Stop inference server").click()
    row.wait_for(state="detached", timeout=60_000)
    assert ws.jobs.wait(mine.id, timeout=60).state == "stopped"


def test_a_dashboard_is_listed_with_its_link_and_its_owner_stops_it(
    lab_server: Any, page: Any, screenshot: Any
) -> None:
    from common_helpers import recorded_study

    from aimass_lab.search import start_dashboard

    me = lab_server.api("GET", "services")["user"]
    ws = Workspace(lab_server.workspace_path)
    recorded_study(ws, "services-board")
    with acting_as(me):
        board = start_dashboard(ws, "services-board", idle_timeout_s=600)
    try:
        sidebar = page.locator("#aimass-sidebar")
        if not sidebar.is_visible():
            page.locator(SIDEBAR_TAB).click()
        row = sidebar.locator(f'.jp-AimassService[data-service-id="{board.job_id}"]')
        row.wait_for(timeout=60_000)
        expect(row).to_have_attribute("data-kind", "dashboard")
        link = row.locator(".jp-AimassItem-name a")
        expect(link).to_have_text("optuna-dashboard services-board")
        expect(link).to_have_attribute("href", board.url)
        expect(row.locator(".jp-AimassService-idle")).to_contain_text("stops after 10m 00s")
        screenshot("services-dashboard", sidebar.locator('[data-section="services"]'))
        row.locator(".jp-AimassService-stop").click()
        page.get_by_role("button", name="Stop optuna-dashboard").click()
        row.wait_for(state="detached", timeout=60_000)
        ended = ws.jobs.wait(board.job_id, timeout=60)
        assert (ended.state, ended.exit_reason) == ("stopped", "stopped on request")
    finally:
        if ws.jobs.get(board.job_id).active:
            board.stop(ws)
