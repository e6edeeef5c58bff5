"""The challenge panel: a live board that shows submissions from elsewhere as they are scored,
a participant's submit row, and the owner's buttons (reset behind a confirm step)."""

from __future__ import annotations

from pathlib import Path

import pytest
from challenge_helpers import iris_challenge, train_public
from common_helpers import wait_for

import aimass_lab as am
from aimass_lab.workspace import Workspace, acting_as


def test_challenge_panel_is_live(
    sqlite_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.widgets import ChallengePanel

    ws = sqlite_workspace
    monkeypatch.setenv("AIMASS_USER", "teacher")
    iris_challenge(ws)
    mv = train_public(ws, tmp_path / "m", "m")
    panel = ChallengePanel("iris-cup", ws, poll_interval=0.25)
    try:
        assert panel.polling and panel.table.rows == []
        assert "38 hidden rows" in panel.summary.value and "iris-cup-public" in panel.summary.value
        assert panel.teacher.layout.display == "flex"  # the owner sees the teacher's buttons
        with acting_as("ada"):  # another participant, elsewhere: the poller picks it up
            am.submit("iris-cup", mv, workspace=ws)
        wait_for(lambda: [r["participant"] for r in panel.table.rows] == ["ada"], timeout=30)
        panel.model.value = "m:1"
        panel.submit_button.click()  # as the panel's user
        assert "scored" in panel.status.value and panel.last_error is None
        assert [r["participant"] for r in panel.table.rows] == ["ada", "teacher"]

        panel.reset_button.click()
        assert panel.confirm.asking and len(panel.table.rows) == 2  # nothing yet
        panel.confirm.yes.click()
        assert panel.table.rows == [] and "removed 2 submission(s)" in panel.status.value

        panel.freeze_button.click()
        assert "frozen" in panel.summary.value
        panel.submit_button.click()
        assert "challenge 'iris-cup' is frozen" in (panel.last_error or "")
        panel.export_path.value = str(tmp_path / "board.csv")
        panel.export_button.click()
        assert (tmp_path / "board.csv").read_text().startswith("rank,participant,score")
    finally:
        panel.close()
    wait_for(lambda: not panel.polling, timeout=30)
    monkeypatch.setenv("AIMASS_USER", "ada")
    other = ChallengePanel("iris-cup", ws)
    other.stop_polling()
    assert other.teacher.layout.display == "none"  # not the owner: no teacher's buttons
    other.close()
    from aimass_lab._display import panel_for

    shown = panel_for(am.leaderboard("iris-cup", workspace=ws))  # a board shows as its panel
    shown.stop_polling()
    assert isinstance(shown, ChallengePanel) and shown.workspace is ws
    shown.close()
