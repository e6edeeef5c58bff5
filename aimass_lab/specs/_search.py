"""Search specs: a hyperparameter search space, its objectives, sampler and pruner."""

from __future__ import annotations

import re
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from aimass_lab.errors import SpecError, accepted
from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._catalog import FAMILIES
from aimass_lab.specs._choices import (
    DISTRIBUTIONS,
    PRUNERS,
    SAMPLERS,
    Distribution,
    Pruner,
    Sampler,
)
from aimass_lab.specs._train import TrainSpec

__all__ = [
    "FAMILY_PARAM",
    "SPACE_TRAIN_PARAMS",
    "ParamSpec",
    "SearchSpec",
    "default_space",
    "space_params",
]

#: One parameter offered for a search space: (type, low, high, log, choices).
SpaceParam = tuple[str, float | None, float | None, bool, list[Any] | None]

#: Training hyperparameters offered for a search space, with their default ranges.
SPACE_TRAIN_PARAMS: dict[str, SpaceParam] = {
    "lr": ("float", 1e-4, 1e-1, True, None),
    "batch_size": ("int", 16, 128, True, None),
    "weight_decay": ("float", 1e-6, 1e-2, True, None),
    "optimizer": ("categorical", None, None, False, ["adam", "adamw", "sgd"]),
    "lr_schedule": ("categorical", None, None, False, ["constant", "cosine", "one_cycle"]),
    "gradient_clip_val": ("float", 0.1, 10.0, True, None),
}


def space_params(family: str) -> dict[str, SpaceParam]:
    """The model family's hyperparameters offered for a search space, with default ranges
    (a quarter to twice an integer's default, 0 to 0.5 for a float, its choices)."""
    fam = FAMILIES[family]
    out: dict[str, SpaceParam] = {}
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


def _param_dict(param: SpaceParam) -> dict[str, Any]:
    kind, low, high, log, choices = param
    if kind == "categorical":
        return {"type": kind, "choices": list(choices or [])}
    if kind == "int":
        return {"type": kind, "low": int(low or 0), "high": int(high or 0), "log": log}
    return {"type": kind, "low": low, "high": high, "log": log}


def default_space(family: str) -> dict[str, dict[str, Any]]:
    """The search space used when none is given (``aimass search`` without ``--space``, the
    Search panel's ticked rows): ``lr`` and the model family's first hyperparameter.

    Examples
    --------
    >>> sorted(default_space("mlp"))
    ['hidden', 'lr']
    """
    space = {"lr": _param_dict(SPACE_TRAIN_PARAMS["lr"])}
    first = next(iter(space_params(family).items()), None) if family in FAMILIES else None
    if first is not None:
        space[first[0]] = _param_dict(first[1])
    return space


#: The search-space parameter that picks the model family (its choices are zoo names).
FAMILY_PARAM = "family"


class ParamSpec(Spec):
    """One parameter of a search space.

    ``int`` and ``float`` take ``low``, ``high`` and optionally ``log`` or ``step``;
    ``categorical`` takes ``choices``. ``condition`` maps earlier parameters to the value (or
    list of values) they must have for this one to be sampled, e.g. ``{"family": "mlp"}``.
    """

    type: Distribution = Field(description="int, float or categorical")
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(None, gt=0.0)
    choices: list[Any] | None = None
    condition: dict[str, Any] | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: object) -> object:
        return one_of(value, DISTRIBUTIONS, "distribution")

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty list of choices")
            bad = [c for c in self.choices if not isinstance(c, str | int | float | bool | None)]
            if bad:
                raise ValueError(
                    f"categorical choices must be strings, numbers, booleans or null; got {bad[0]!r}"
                )
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"an {self.type} parameter needs both low and high")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) must not exceed high ({self.high:g})")
        if self.log:
            if self.low <= 0:
                raise ValueError(
                    f"log scale needs positive bounds; got low={self.low:g} "
                    "(accepted: low > 0, or log: false)"
                )
            if self.step is not None:
                raise ValueError("log and step cannot be combined; give one of them")
        if self.type == "int":
            for name in ("low", "high", "step"):
                value = getattr(self, name)
                if value is not None and not float(value).is_integer():
                    raise ValueError(f"an int parameter needs a whole {name}; got {value:g}")
        return self

    @property
    def finite(self) -> bool:
        """Whether the parameter takes a finite set of values (what the grid sampler needs)."""
        return self.type in ("int", "categorical") or self.step is not None

    def grid_values(self) -> list[Any]:
        """Every value of a finite parameter, in order."""
        if self.type == "categorical":
            return list(self.choices or [])
        assert self.low is not None and self.high is not None
        step = self.step or 1
        count = int((self.high - self.low) // step) + 1
        values = [self.low + i * step for i in range(count)]
        return [int(v) for v in values] if self.type == "int" else values


def _field_error(field: str, value: object, message: str) -> SpecError:
    """A whole-spec check's error that names the field to change (kept by the error conversion)."""
    entry: dict[str, object] = {"field": field, "message": message}
    if value is not None:
        entry["value"] = value
    return SpecError("SearchSpec", [entry])


class SearchSpec(Spec):
    """A hyperparameter search: a base training, a space, objectives, sampler and pruner.

    Each trial trains ``train`` with the sampled parameters routed to the training fields
    (``lr``, ``batch_size``, ...), the model family (``family``) or the model's
    hyperparameters.

    Examples
    --------
    >>> spec = SearchSpec(
    ...     train={"data": {"name": "iris"}, "model": {"family": "mlp"}, "max_epochs": 2},
    ...     space={"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
    ...     objectives=["val_acc:max"],
    ... )
    >>> spec.directions
    ['maximize']
    """

    train: TrainSpec
    space: dict[str, ParamSpec]
    objectives: list[str] = Field(
        default_factory=lambda: ["val_loss:min"],
        description="'metric:min' or 'metric:max'; a logged val metric, params, size_kb, latency_ms",
    )
    sampler: Sampler = Field("tpe", description="random, grid, tpe, cmaes, gp, nsga2 or qmc")
    pruner: Pruner = Field(
        "median",
        description="none, median, percentile, successive-halving, hyperband or wilcoxon (cv)",
    )
    n_trials: int | None = Field(20, ge=1, le=1_000_000, description="trials in all workers")
    timeout: float | None = Field(None, gt=0.0, description="seconds for the whole search")
    workers: int = Field(
        1,
        ge=1,
        le=256,
        validation_alias=AliasChoices("workers", "parallel"),
        description="worker jobs running trials at the same time (also read as `parallel`, its former name)",
    )
    seed: int | None = Field(None, description="seed of the sampler")
    study: str | None = Field(None, description="the study name (default: made up)")
    storage: str | None = Field(
        None, description="an Optuna RDB URL (postgresql://...); default: a journal file"
    )
    max_retry: int = Field(2, ge=0, le=100, description="retries of a trial whose worker died")
    cv: int | None = Field(
        None, ge=2, le=20, description="k-fold cross-validation: k runs per trial, values averaged"
    )

    @field_validator("space")
    @classmethod
    def _space(cls, value: dict[str, ParamSpec]) -> dict[str, ParamSpec]:
        if not value:
            raise ValueError(
                "the search space is empty; give at least one parameter, e.g. "
                "{'lr': {'type': 'float', 'low': 0.0001, 'high': 0.1, 'log': True}}"
            )
        seen: list[str] = []
        for name, param in value.items():
            for other in param.condition or {}:
                if other not in seen:
                    raise ValueError(
                        f"parameter {name!r} has a condition on {other!r}, which is not an "
                        f"earlier parameter of the space; accepted: {accepted(seen)}"
                    )
            seen.append(name)
        family = value.get(FAMILY_PARAM)
        if family is not None:
            unknown = [c for c in family.choices or [] if c not in FAMILIES]
            if family.type != "categorical" or unknown:
                raise ValueError(
                    f"{FAMILY_PARAM!r} picks the model family: a categorical parameter whose "
                    f"choices are zoo names; accepted: {accepted(FAMILIES)}"
                )
        return value

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("give at least one objective, e.g. 'val_acc:max'")
        out = []
        for item in value:
            metric, sep, direction = str(item).rpartition(":")
            if not sep or not metric or direction not in ("min", "max"):
                raise ValueError(
                    f"objective {item!r} is not 'metric:min' or 'metric:max' "
                    "(e.g. 'val_acc:max', 'params:min')"
                )
            out.append(f"{metric}:{direction}")
        if len({o.rpartition(":")[0] for o in out}) != len(out):
            raise ValueError(f"each metric may appear once among the objectives; got {out}")
        return out

    @field_validator("sampler", mode="before")
    @classmethod
    def _sampler(cls, value: object) -> object:
        return one_of(value, SAMPLERS, "sampler")

    @field_validator("pruner", mode="before")
    @classmethod
    def _pruner(cls, value: object) -> object:
        return one_of(value, PRUNERS, "pruner")

    @field_validator("study")
    @classmethod
    def _study(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", value):
            raise ValueError(
                "a study name takes letters, digits, '.', '_' and '-' (1 to 100 characters, "
                "starting with a letter or digit)"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> SearchSpec:
        # Each error names the field the user should change (a form shows it beside that field).
        if self.n_trials is None and self.timeout is None:
            raise _field_error("n_trials", None, "give a budget: n_trials, timeout, or both")
        if len(self.objectives) > 1 and self.pruner != "none":
            if "pruner" in self.model_fields_set:
                raise _field_error(
                    "pruner",
                    self.pruner,
                    f"pruner {self.pruner!r} needs a single objective (Optuna prunes on one "
                    "reported value); accepted with several objectives: 'none'",
                )
            object.__setattr__(self, "pruner", "none")
        if len(self.objectives) > 1 and self.sampler == "cmaes":
            raise _field_error(
                "sampler",
                self.sampler,
                "sampler 'cmaes' optimises a single objective; accepted with several "
                "objectives: 'random', 'grid', 'tpe', 'gp', 'nsga2', 'qmc'",
            )
        if self.pruner == "wilcoxon" and self.cv is None:
            raise _field_error(
                "pruner",
                self.pruner,
                "pruner 'wilcoxon' compares trials fold by fold and needs cv (e.g. cv=5); "
                "accepted without cv: 'none', 'median', 'percentile', 'successive-halving', "
                "'hyperband'",
            )
        if self.sampler == "grid":
            for name, param in self.space.items():
                if not param.finite:
                    raise _field_error(
                        "sampler",
                        self.sampler,
                        f"the grid sampler needs a finite set of values, but {name!r} is a "
                        "continuous float range; accepted: give it a step, make it "
                        "categorical, or use another sampler",
                    )
                if param.condition:
                    raise _field_error(
                        "sampler",
                        self.sampler,
                        f"the grid sampler cannot follow conditions ({name!r} has one); "
                        "accepted: tpe, random, qmc or nsga2",
                    )
        return self

    @property
    def metrics(self) -> list[str]:
        """The objective metric names, in order."""
        return [o.rpartition(":")[0] for o in self.objectives]

    @property
    def directions(self) -> list[str]:
        """Optuna directions (``minimize``/``maximize``), one per objective."""
        return ["minimize" if o.endswith(":min") else "maximize" for o in self.objectives]
