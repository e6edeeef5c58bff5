"""The search-space editor of the Search panel: the hyperparameters offered and one row each."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from aimass_lab.specs import SPACE_TRAIN_PARAMS, space_params
from aimass_lab.widgets._base import error_html

__all__ = ["TRAIN_PARAMS", "ParamRow", "model_params"]

#: Training hyperparameters offered in the space editor: (type, low, high, log, choices).
TRAIN_PARAMS = SPACE_TRAIN_PARAMS


def model_params(
    family: str,
) -> dict[str, tuple[str, float | None, float | None, bool, list[Any] | None]]:
    """The model family's hyperparameters offered in the space editor, with default ranges."""
    return space_params(family)


def _parse_choice(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except Exception:
        return text


class ParamRow:
    """One hyperparameter of the space editor: include it, and its range or choices."""

    def __init__(
        self,
        name: str,
        kind: str,
        low: float | None,
        high: float | None,
        log: bool,
        choices: list[Any] | None,
        include: bool = False,
    ) -> None:
        self.name = name
        self.kind = kind
        small = widgets.Layout(width="7em")
        self.include = widgets.Checkbox(include, indent=False, layout=widgets.Layout(width="2em"))
        self.low = widgets.FloatText(low if low is not None else 0.0, layout=small)
        self.high = widgets.FloatText(high if high is not None else 1.0, layout=small)
        self.log = widgets.Checkbox(
            log, description="log", indent=False, layout=widgets.Layout(width="5em")
        )
        self.choices = widgets.Text(
            ", ".join(str(c) for c in choices or []), layout=widgets.Layout(width="14em")
        )
        self.error = widgets.HTML()
        label = widgets.Label(f"{name} ({kind})", layout=widgets.Layout(width="15em"))
        if kind == "categorical":
            inputs: list[widgets.Widget] = [self.choices]
        else:
            inputs = [self.low, widgets.Label("to"), self.high, self.log]
        self.box = widgets.HBox([self.include, label, *inputs, self.error])

    def controls(self) -> list[widgets.Widget]:
        return [self.include, self.low, self.high, self.log, self.choices]

    def to_dict(self) -> dict[str, Any]:
        """The parameter as a ParamSpec dict."""
        if self.kind == "categorical":
            choices = [_parse_choice(c.strip()) for c in self.choices.value.split(",") if c.strip()]
            return {"type": "categorical", "choices": choices}
        low, high = self.low.value, self.high.value
        if self.kind == "int":
            low = int(low) if float(low).is_integer() else low
            high = int(high) if float(high).is_integer() else high
        return {"type": self.kind, "low": low, "high": high, "log": bool(self.log.value)}

    def set_error(self, message: str | None) -> None:
        self.error.value = error_html(message)
