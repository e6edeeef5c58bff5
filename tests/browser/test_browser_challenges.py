"""The Challenges section of the AI Mass sidebar, in a real JupyterLab in headless Chromium:
each workshop board's state and its first three ranks, as the workspace records them."""

from __future__ import annotations

from typing import Any

import pytest
from browser_helpers import open_and_run_notebook
from challenge_helpers import iris_challenge
from playwright.sync_api import expect

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'


def test_challenges_section_shows_the_boards(lab_server: Any, page: Any, screenshot: Any) -> None:
    from aimass_lab import challenge
    from aimass_lab.workspace import SubmissionRow, Workspace, acting_as, utcnow

    sidebar = page.locator("#aimass-sidebar")
    if not sidebar.is_visible():
        page.locator(SIDEBAR_TAB).click()
    section = sidebar.locator('.jp-AimassSection[data-section="challenges"]')
    ws = Workspace(lab_server.workspace_path)
    others = len(challenge.list_challenges(ws))  # the module's other test may have made one
    if not others:
        expect(section).to_contain_text("No challenges", timeout=60_000)
    with acting_as("teacher"):
        iris_challenge(ws)
        iris_challenge(ws, name="iris-final", metric="f1_macro")
        challenge.freeze("iris-final", ws)
    with ws.store.session() as s:  # scored submissions, as submit records them
        for who, score in (("ada", 0.97), ("grace", 0.99), ("linus", 0.91), ("ken", 0.89)):
            s.add(SubmissionRow(challenge="iris-cup", participant=who, model="m:1",
                                score=score, state="scored", submitted_at=utcnow()))  # fmt: skip
    sidebar.get_by_role("button", name="Refresh").click()
    rows = section.locator(".jp-AimassChallenge")
    expect(rows).to_have_count(others + 2, timeout=30_000)
    cup = section.locator('.jp-AimassChallenge[data-challenge="iris-cup"]')
    expect(cup).to_have_attribute("data-state", "open")
    expect(cup.locator(".jp-AimassItem-kind")).to_have_text("accuracy")
    expect(cup.locator(".jp-AimassChallenge-count")).to_have_text("4 participants, 4 submissions")
    leaders = cup.locator("[data-participant]")
    expect(leaders).to_have_count(3)
    expect(leaders.nth(0)).to_contain_text("1. grace")
    expect(leaders.nth(0)).to_contain_text("0.99")
    expect(leaders.nth(2)).to_contain_text("3. linus")
    final = section.locator('.jp-AimassChallenge[data-challenge="iris-final"]')
    expect(final).to_have_attribute("data-state", "frozen")
    expect(final.locator(".jp-AimassBadge")).to_have_text("frozen")
    section.scroll_into_view_if_needed()
    screenshot("sidebar-challenges", section)


@pytest.mark.blank_page
def test_challenge_panel_in_a_notebook(lab_server: Any, page: Any, screenshot: Any) -> None:

    from aimass_lab.workspace import SubmissionRow, Workspace, acting_as, utcnow

    ws = Workspace(lab_server.workspace_path)
    with acting_as("teacher"):
        iris_challenge(ws, name="panel-cup")
    with ws.store.session() as s:
        for who, score in (("ada", 0.95), ("grace", 0.97)):
            s.add(SubmissionRow(challenge="panel-cup", participant=who, model="m:1",
                                score=score, state="scored", submitted_at=utcnow()))  # fmt: skip
    code = (
        "import os\nos.environ['AIMASS_USER'] = 'teacher'\n"
        "from aimass_lab.widgets import ChallengePanel\nChallengePanel('panel-cup')"
    )
    open_and_run_notebook(lab_server, page, "board", [code])
    panel = page.locator(".aimass-challenge")
    panel.wait_for(timeout=90_000)
    rows = panel.locator(".aimass-sort-table tbody tr")
    expect(rows).to_have_count(2, timeout=30_000)
    expect(rows.first).to_contain_text("grace")
    expect(panel).to_contain_text("2 participants, 2 submissions")
    screenshot("challenge-panel", panel)
    panel.get_by_role("button", name="Reset").click()
    confirm = panel.locator(".aimass-confirm")
    expect(confirm).to_contain_text("Remove every submission of panel-cup?")
    confirm.get_by_role("button", name="Confirm reset panel-cup").click()
    expect(panel.locator(".aimass-sort-table")).to_contain_text(
        "no submissions yet", timeout=30_000
    )
    expect(panel.locator(".aimass-status")).to_contain_text("removed 2 submission(s)")
