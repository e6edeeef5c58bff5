"""The search-space editor of the Search panel: the hyperparameters offered and one row each."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from aimass_lab.specs import FAMILIES
from aimass_lab.widgets._base import error_html

__all__ = ["TRAIN_PARAMS", "ParamRow", "model_params"]

#: Training hyperparameters offered in the space editor: (type, low, high, log, choices).
TRAIN_PARAMS: dict[str, tuple[str, float | None, float | None, bool, list[Any] | None]] = {
    "lr": ("float", 1e-4, 1e-1, True, None),
    "batch_size": ("int", 16, 128, True, None),
    "weight_decay": ("float", 1e-6, 1e-2, True, None),
    "optimizer": ("categorical", None, None, False, ["adam", "adamw", "sgd"]),
    "lr_schedule": ("categorical", None, None, False, ["constant", "cosine", "one_cycle"]),
    "gradient_clip_val": ("float", 0.1, 10.0, True, None),
}


def model_params(
    family: str,
) -> dict[str, tuple[str, float | None, float | None, bool, list[Any] | None]]:
    """The model family's hyperparameters offered in the space editor, with default ranges."""
    fam = FAMILIES[family]
    out: dict[str, tuple[str, float | None, float | None, bool, list[Any] | None]] = {}
    for name, default in fam.defaults.items():
        low_b, high_b = fam.bounds.get(name, (None, None))
        if name in fam.choices:
            out[name] = ("categorical", None, None, False, list(fam.choices[name]))
        elif isinstance(default, bool):
            out[name] = ("categorical", None, None, False, [False, True])
        elif isinstance(default, int):
            low = max(int(low_b or 1), max(1, default // 4))
            high = max(low, default * 2)
            if high_b is not None:
                high = min(high, int(high_b))
            out[name] = ("int", float(low), float(high), default >= 8 and low > 0, None)
        elif isinstance(default, float):
            out[name] = ("float", 0.0, 0.5, False, None)
    return out


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
