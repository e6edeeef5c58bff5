"""The TrainPanel's pretrained model choice and its extra training fields.

With the model family ``pretrained``, a dropdown lists the local pretrained models of the
models folder (``AIMASS_MODELS_DIR``, else ``<workspace>/pretrained``), one entry per model
with its kind, size and input; the fine-tuning options (``finetune``, ``top_layers``,
``lora_rank``, ...) are the family's hyperparameters, shown as for any family. The training
column gains warm-up steps, the learning-rate schedule, gradient accumulation, gradient
clipping and a step limit (0: off).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from aimass_lab.specs import LR_SCHEDULES, TrainSpec
from aimass_lab.widgets._base import Field, dropdown, set_options

__all__ = ["PretrainedChoice"]

#: TrainSpec fields of the training column added here: (field, label).
EXTRA_FIELDS = (
    ("warmup_steps", "warm-up steps"),
    ("lr_schedule", "lr schedule"),
    ("accumulate_grad_batches", "accumulate"),
    ("gradient_clip_val", "clip grad norm"),
    ("max_steps", "max steps"),
)
#: Fields that are off when None: the form shows 0 for off.
OPTIONAL_FIELDS = ("gradient_clip_val", "max_steps")


class PretrainedChoice:
    """Mixin of the TrainPanel: the pretrained model dropdown and the extra training fields.

    The panel has ``workspace``, ``family`` (the model family Field) and calls
    :meth:`_build_pretrained` while it builds its form.
    """

    workspace: Any
    family: Field

    def _build_pretrained(self) -> dict[str, Field]:
        """Build the pretrained dropdown and the extra fields; their TrainSpec field paths."""
        self.pretrained = Field("pretrained", dropdown([], width="22em"))
        self.pretrained_note = widgets.HTML()
        self.pretrained_box = widgets.VBox([self.pretrained.box, self.pretrained_note])
        self.pretrained_models: list[Any] = []
        self.extra_fields: dict[str, Field] = {}
        for name, label in EXTRA_FIELDS:
            default = TrainSpec.model_fields[name].default
            layout = widgets.Layout(width="9em")
            if name == "lr_schedule":
                control: widgets.Widget = dropdown(list(LR_SCHEDULES), width="9em")
            elif name == "gradient_clip_val":
                control = widgets.BoundedFloatText(0.0, min=0.0, max=1e6, layout=layout)
            elif name in OPTIONAL_FIELDS:
                control = widgets.BoundedIntText(0, min=0, max=10**9, layout=layout)
            else:
                control = widgets.IntText(default, layout=layout)
            self.extra_fields[name] = Field(label, control)
        self.refresh_pretrained()
        return {"model.path": self.pretrained, "path": self.pretrained, **self.extra_fields}

    def refresh_pretrained(self) -> list[Any]:
        """Read the models folder again; one dropdown entry per model found."""
        from aimass_lab.models import find_pretrained, models_dir

        root = models_dir(self.workspace.path)
        self.pretrained_models = find_pretrained(root)
        options = [(info.label(), info.path) for info in self.pretrained_models]
        set_options(self.pretrained.control, options)
        self.pretrained_note.value = (
            ""
            if options
            else f"<small>no pretrained model in {root}: copy a folder written by "
            "save_pretrained there, or set AIMASS_MODELS_DIR</small>"
        )
        self._show_pretrained()
        return self.pretrained_models

    def _show_pretrained(self) -> None:
        shown = self.family.value == "pretrained"
        self.pretrained_box.layout.display = "" if shown else "none"

    def model_spec(self) -> str | dict[str, Any]:
        """The model of the form: a family name, or a pretrained ModelSpec as a dict."""
        if self.family.value == "pretrained":
            return {"family": "pretrained", "path": self.pretrained.value}
        return str(self.family.value)

    def extra_values(self) -> dict[str, Any]:
        """The extra training fields as set in the form."""
        out = {name: f.value for name, f in self.extra_fields.items()}
        for name in OPTIONAL_FIELDS:  # 0: off
            out[name] = out[name] or None
        return out

    def _fill_pretrained(self, spec: Any) -> None:
        """Set the pretrained model and the extra fields from a TrainSpec."""
        if spec.model.family == "pretrained" and spec.model.path:
            paths = [path for _, path in self.pretrained.control.options]
            if spec.model.path not in paths:
                label = f"{spec.model.path} (not in the models folder)"
                self.pretrained.control.options = [
                    *self.pretrained.control.options,
                    (label, spec.model.path),
                ]
            self.pretrained.value = spec.model.path
        for name, f in self.extra_fields.items():
            value = getattr(spec, name)
            f.value = 0 if value is None and name in OPTIONAL_FIELDS else value
