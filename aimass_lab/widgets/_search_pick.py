"""Picking a trial of the Search panel (a click on a chart's point) and registering it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.widgets._base import Field, button, check_text, esc, guarded

if TYPE_CHECKING:
    from aimass_lab.search import Study

__all__ = ["TrialPicking"]


class TrialPicking:
    """Mixin of the Search panel: the picked trial, the register name and buttons."""

    study: Study | None
    selected_trial: int | None
    on_registered: list[Callable[[Any], Any]]
    _complete_seen: int

    if TYPE_CHECKING:

        def show_status(self, message: str, html_text: bool = False) -> None: ...

    def _build_register(self) -> None:
        """The register name, the picked trial's label and the two register buttons."""
        self.register_name = Field(
            "register as",
            widgets.Text("", placeholder="model name", layout=widgets.Layout(width="12em")),
        )
        self.selected_label = widgets.HTML("<i>click a point to pick a trial</i>")
        self.register_best_button = button("Register best", "success", "trophy")
        self.register_point_button = button("Register this point", "success", "archive")
        self.register_best_button.disabled = True
        self.register_point_button.disabled = True
        self.register_best_button.on_click(self._on_register_best)
        self.register_point_button.on_click(self._on_register_point)
        self.register_name.control.observe(self._check_register, "value")

    def _on_point_click(self, trace: Any, points: Any, _state: Any = None) -> None:
        indices = list(getattr(points, "point_inds", []) or [])
        if not indices:
            return
        custom = trace.customdata
        if custom is None:
            return
        self.select_trial(int(custom[indices[0]]))

    def select_trial(self, number: int) -> None:
        """Pick a trial (as a click on its point does)."""
        if self.study is None:
            return
        trial = self.study.trial(number)
        self.selected_trial = number
        values = ", ".join(f"{v:.4g}" for v in trial.values or []) or trial.state.lower()
        self.selected_label.value = (
            f"picked <b>trial {number}</b> ({esc(values)}) · {esc(trial.params)}"
        )
        self._check_register()

    def _check_register(self, _change: Any = None) -> None:
        from aimass_lab.specs import validate_name

        ok = check_text(self.register_name, validate_name)
        self.register_point_button.disabled = not (ok and self.selected_trial is not None)
        multi = self.study is not None and len(self.study.spec.objectives) > 1
        has_complete = self._complete_seen > 0
        self.register_best_button.disabled = not (ok and has_complete and not multi)

    @guarded
    def _on_register_best(self, _button: Any = None) -> Any:
        if self.study is None:
            return None
        mv = self.study.best_model(register=True, name=self.register_name.value.strip())
        self._registered(mv)
        return mv

    @guarded
    def _on_register_point(self, _button: Any = None) -> Any:
        if self.study is None or self.selected_trial is None:
            return None
        mv = self.study.register(self.selected_trial, self.register_name.value.strip())
        self._registered(mv)
        return mv

    def _registered(self, mv: Any) -> None:
        self.show_status(
            f"registered {mv.ref} (lineage: study {self.study.name if self.study else ''})"
        )
        for callback in self.on_registered:
            callback(mv)
