"""The confirm step of the panels' destructive buttons (cancel, stop, remove).

A destructive button never acts on its first click: it shows a row inside the panel that
names what would stop, with a second button that does it and one that keeps it::

    Stop endpoint "iris"? It stops serving ...   [Confirm stop iris]  [Keep it running]

No browser ``window.confirm``: the row is part of the widget, so it works in every front end
and in tests (``panel.stop_button.click(); panel.confirm.yes.click()``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from aimass_lab.widgets._base import button, esc

__all__ = ["Confirm"]


class Confirm:
    """A hidden question row; :meth:`ask` shows it, its buttons act or dismiss.

    Attributes
    ----------
    box : ipywidgets.HBox
        The row (hidden until :meth:`ask`); put it under the buttons it confirms.
    question : ipywidgets.HTML
        What is asked, naming what stops.
    yes, no : ipywidgets.Button
        "Confirm ..." runs the action; "Keep ..." hides the row and does nothing.
    """

    def __init__(self) -> None:
        self.question = widgets.HTML("")
        self.yes = button("", "danger", "check")
        self.no = button("Keep it", "", "times")
        self.box = widgets.HBox([self.question, self.yes, self.no])
        self.box.add_class("aimass-confirm")
        self.box.layout.display = "none"
        self.box.layout.align_items = "center"
        self.box.layout.flex_flow = "row wrap"
        self._action: Callable[[], Any] | None = None
        self.yes.on_click(self._on_yes)
        self.no.on_click(lambda _b: self.dismiss())

    @property
    def asking(self) -> bool:
        """Whether the row is shown (a question waits for an answer)."""
        return self.box.layout.display != "none"

    def ask(
        self, question: str, confirm: str, action: Callable[[], Any], keep: str = "Keep it"
    ) -> None:
        """Show ``question`` with a ``confirm`` button that runs ``action`` (once)."""
        self.question.value = (
            f"<span style='color:var(--jp-warn-color0, #b45309)'>&#9888;</span> {esc(question)}"
        )
        self.yes.description = confirm
        self.yes.tooltip = confirm
        self.no.description = keep
        self._action = action
        self.box.layout.display = "flex"

    def dismiss(self) -> None:
        """Hide the row; nothing is done."""
        self._action = None
        self.box.layout.display = "none"

    def _on_yes(self, _button: Any = None) -> None:
        action = self._action
        self.dismiss()
        if action is not None:
            action()
