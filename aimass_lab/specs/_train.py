"""Training specs: a run's data, model, optimisation and where it runs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from aimass_lab.errors import SpecError, accepted
from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._choices import (
    PRECISION_ALIASES,
    PRECISIONS,
    STRATEGIES,
    TRAIN_HPARAMS,
    LrSchedule,
    Precision,
    Strategy,
)
from aimass_lab.specs._data import DataSpec
from aimass_lab.specs._model import ModelSpec

__all__ = ["EarlyStoppingSpec", "TrainSpec", "split_hparams"]


class EarlyStoppingSpec(Spec):
    """Stop when a monitored validation metric stops improving."""

    monitor: str = Field("val_loss", description="a logged metric, e.g. val_loss or val_acc")
    patience: int = Field(3, ge=1)
    mode: Literal["min", "max"] = "min"
    min_delta: float = Field(0.0, ge=0.0)


class TrainSpec(Spec):
    """A training run: data, model, optimisation and where it runs.

    ``devices``, ``accelerator``, ``strategy``, ``num_nodes`` and ``precision`` go to
    Lightning's ``Trainer`` as they are.
    """

    data: DataSpec
    model: ModelSpec = Field(default_factory=ModelSpec)
    name: str | None = Field(None, description="a label for the run")
    max_epochs: int = Field(10, ge=1, le=100_000)
    batch_size: int = Field(64, ge=1, le=1_000_000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(0.0, ge=0.0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    accumulate_grad_batches: int = Field(
        1, ge=1, le=10_000, description="batches whose gradients add up before one step"
    )
    warmup_steps: int = Field(
        0, ge=0, description="optimizer steps over which the learning rate rises from 0"
    )
    lr_schedule: LrSchedule = Field(
        "constant",
        description="constant, linear or cosine decay to 0 (after the warm-up), step (x "
        "lr_gamma every lr_step_epochs epochs), one_cycle (up over the warm-up or 30% of the "
        "steps, then down), plateau (x lr_gamma when val_loss stalls for lr_patience epochs)",
    )
    lr_gamma: float = Field(
        0.1, gt=0.0, lt=1.0, description="step and plateau: the factor the learning rate is cut by"
    )
    lr_step_epochs: int = Field(
        10, ge=1, description="step: epochs between two cuts of the learning rate"
    )
    lr_patience: int = Field(
        2, ge=0, description="plateau: epochs without a better val_loss before a cut"
    )
    gradient_clip_val: float | None = Field(
        None, gt=0.0, description="clip gradients to this norm (or value) before each step"
    )
    gradient_clip_algorithm: Literal["norm", "value"] = Field(
        "norm", description="norm: scale the whole gradient; value: clip each element"
    )
    max_steps: int | None = Field(
        None, ge=1, description="stop after this many optimizer steps (max_epochs still bounds)"
    )
    devices: int | str | list[int] = Field(
        "auto", description="'auto', a count, -1 for all, or a list of indices"
    )
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    strategy: Strategy = Field(
        "auto", description="Lightning strategy: auto, ddp, ddp_spawn, fsdp, …"
    )
    num_nodes: int = Field(1, ge=1)
    precision: Precision = Field(
        "32-true", description="Lightning precision, e.g. 32-true, bf16-mixed"
    )
    early_stopping: EarlyStoppingSpec | None = None
    seed: int = 0
    deterministic: bool = True
    checkpoint_interval_s: float = Field(
        10.0,
        ge=0.0,
        description="write last.ckpt at most this often while training (0: every epoch); "
        "also on cancel and at the end",
    )
    limit_train_batches: int | float | None = Field(
        None, description="Lightning limit_train_batches (smoke runs)"
    )

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: int | str | list[int]) -> int | str | list[int]:
        if isinstance(value, str):
            if value == "auto":
                return value
            try:
                value = int(value)
            except ValueError:
                raise ValueError(
                    "accepted: 'auto', a positive count, -1 for all, or a list of indices"
                ) from None
        if isinstance(value, int) and (value == 0 or value < -1):
            raise ValueError("accepted: 'auto', a positive count, -1 for all, or a list of indices")
        if isinstance(value, list) and (not value or any(i < 0 for i in value)):
            raise ValueError("a device list must hold one or more indices >= 0")
        return value

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: object) -> object:
        return one_of(value, STRATEGIES, "strategy")

    @field_validator("precision", mode="before")
    @classmethod
    def _precision(cls, value: object) -> str:
        text = str(value)
        text = PRECISION_ALIASES.get(text, text)
        if text not in PRECISIONS:
            raise ValueError(f"unknown precision {value!r}; accepted: {accepted(PRECISIONS)}")
        return text

    @model_validator(mode="after")
    def _schedule(self) -> TrainSpec:
        if self.lr_schedule == "plateau" and self.warmup_steps:
            raise SpecError(
                "TrainSpec",
                [
                    {
                        "field": "warmup_steps",
                        "value": self.warmup_steps,
                        "message": "the plateau schedule cuts the learning rate when val_loss "
                        "stalls and takes no warm-up; accepted: warmup_steps 0 with plateau, "
                        "or a schedule with a warm-up: constant, linear, cosine, step, one_cycle",
                    }
                ],
            )
        return self

    @model_validator(mode="after")
    def _pretrained_tokenizer(self) -> TrainSpec:
        # A pretrained text model reads text with its own tokenizer: the tokenizer.json
        # beside its config.json, unless the data names one.
        data = self.data
        if self.model.family == "pretrained" and data.text_column and not data.tokenizer.path:
            tokenizer = data.tokenizer.model_copy(update={"path": self.model.path})
            object.__setattr__(self, "data", data.model_copy(update={"tokenizer": tokenizer}))
        return self


def split_hparams(
    hparams: dict[str, Any] | None, given: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split one hyperparameter dict into training fields and model hyperparameters.

    ``{"lr": 0.01, "hidden": 64}`` gives ``({"lr": 0.01}, {"hidden": 64})``.

    Parameters
    ----------
    hparams
        Model and training hyperparameters in one dict.
    given
        Training fields given on their own (``max_epochs=5``; ``None`` values count as not
        given). A training key of ``hparams`` given there too must have the same value.

    Raises
    ------
    SpecError
        When a training field is given twice with different values, naming both.

    Examples
    --------
    >>> split_hparams({"max_epochs": 5, "hidden": 64}, {"max_epochs": 5})
    ({'max_epochs': 5}, {'hidden': 64})
    """
    train: dict[str, Any] = {}
    model: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for key, value in (hparams or {}).items():
        if key not in TRAIN_HPARAMS:
            model[key] = value
            continue
        train[key] = value
        other = (given or {}).get(key)
        if other is not None and other != value:
            errors.append(
                {
                    "field": key,
                    "value": value,
                    "message": f"{key} is given twice with different values: {key}={other!r} "
                    f"and hparams[{key!r}]={value!r}; give it once",
                }
            )
    if errors:
        raise SpecError("TrainSpec", errors)
    return train, model
