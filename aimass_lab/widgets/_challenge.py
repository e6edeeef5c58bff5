"""The board of a workshop challenge, live: ranks, a participant's submit row, and the
owner's freeze, unfreeze, reset (with a confirm step) and CSV export.

The panel reads the board from the store every ``poll_interval`` seconds while it is open
(the shared :class:`~aimass_lab.widgets._poller.Poller`), so submissions from every kernel
and machine of a shared workspace appear as they are scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from aimass_lab.widgets._base import Panel, button, esc, guarded, section
from aimass_lab.widgets._confirm import Confirm
from aimass_lab.widgets._table import SortTable
from aimass_lab.workspace import Workspace, current_user

__all__ = ["ChallengePanel"]

COLUMNS = ["rank", "participant", "score", "model", "submitted_at", "submissions"]


class ChallengePanel(Panel):
    """The live board of ``challenge``.

    Parameters
    ----------
    challenge
        The challenge's name.
    workspace
        The (shared) workspace; default: the current one.
    poll_interval
        Seconds between reads of the board (default 2).

    Examples
    --------
    >>> from aimass_lab.widgets import ChallengePanel  # doctest: +SKIP
    >>> ChallengePanel("iris-cup")  # doctest: +SKIP
    """

    title = "Challenge"

    def __init__(
        self, challenge: str, workspace: Workspace | str | None = None, poll_interval: float = 2.0
    ) -> None:
        super().__init__(workspace, poll_interval)
        self.challenge = challenge
        self.heading = section(f"Challenge {challenge}")
        self.summary = widgets.HTML()
        self.table = SortTable(columns=COLUMNS, empty="no submissions yet")
        self.model = widgets.Text(placeholder="model:version", description="Model")
        self.submit_button = button("Submit", "primary", "upload")
        self.freeze_button = button("Freeze", "warning", "lock")
        self.unfreeze_button = button("Unfreeze", "", "unlock")
        self.reset_button = button("Reset", "danger", "trash")
        self.export_path = widgets.Text(value=f"{challenge}-board.csv", description="CSV")
        self.export_button = button("Export", "", "download")
        self.confirm = Confirm()
        self.submit_button.on_click(lambda _b: self.submit())
        self.freeze_button.on_click(lambda _b: self.freeze())
        self.unfreeze_button.on_click(lambda _b: self.unfreeze())
        self.reset_button.on_click(lambda _b: self.ask_reset())
        self.export_button.on_click(lambda _b: self.export())
        self.teacher = widgets.HBox(
            [self.freeze_button, self.unfreeze_button, self.reset_button,
             self.export_path, self.export_button]
        )  # fmt: skip
        self.children = [
            self.heading,
            self.summary,
            self.table,
            widgets.HBox([self.model, self.submit_button]),
            self.teacher,
            self.confirm.box,
            self.status,
        ]
        self.add_class("aimass-challenge")
        self.refresh_and_poll()

    def refresh(self) -> Any:
        """Read the board once; keep polling while the panel is open."""
        from aimass_lab.challenge import leaderboard

        board = leaderboard(self.challenge, self.workspace)
        c = board.challenge
        state = "<b style='color:#b45309'>frozen</b>" if c.frozen else "open"
        self.summary.value = (
            f"{esc(c.spec.metric)} ({'higher' if c.spec.higher_is_better else 'lower'} is "
            f"better) on {c.hidden_rows} hidden rows; train on <code>{esc(c.public)}</code>; "
            f"{len(board.rows)} participants, {board.submissions} submissions; {state}; "
            f"owner {esc(c.owner)}"
        )
        rows = [
            {
                **r,
                "score": round(float(r["score"]), 6),
                "submitted_at": str(r["submitted_at"])[:19].replace("T", " ") + " UTC",
            }
            for r in board.rows
        ]
        self.table.set_rows(rows)
        self.teacher.layout.display = "flex" if c.owner == current_user() else "none"
        return True

    @guarded
    def submit(self) -> None:
        """Submit the model named in the text box, as :func:`current_user`."""
        from aimass_lab.challenge import submit

        ref = self.model.value.strip()
        if not ref:
            self.show_error("name a registered model version, e.g. my-model:1")
            return
        sub = submit(self.challenge, ref, self.workspace)
        self.show_status(f"{sub.model} scored {sub.score:.4f} for {sub.participant}")
        self.refresh()

    @guarded
    def freeze(self) -> None:
        from aimass_lab.challenge import freeze

        freeze(self.challenge, self.workspace)
        self.show_status(f"challenge {self.challenge} is frozen")
        self.refresh()

    @guarded
    def unfreeze(self) -> None:
        from aimass_lab.challenge import unfreeze

        unfreeze(self.challenge, self.workspace)
        self.show_status(f"challenge {self.challenge} takes submissions again")
        self.refresh()

    def ask_reset(self) -> None:
        """Ask before removing every submission (the confirm row)."""
        self.confirm.ask(
            f"Remove every submission of {self.challenge}? The board starts empty.",
            f"Confirm reset {self.challenge}",
            self._reset,
            keep="Keep the board",
        )

    @guarded
    def _reset(self) -> None:
        from aimass_lab.challenge import reset

        n = reset(self.challenge, self.workspace)
        self.show_status(f"removed {n} submission(s)")
        self.refresh()

    @guarded
    def export(self) -> Path:
        from aimass_lab.challenge import export_csv

        path = export_csv(self.challenge, self.export_path.value.strip(), self.workspace)
        self.show_status(f"wrote {path}")
        return path
