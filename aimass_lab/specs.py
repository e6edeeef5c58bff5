"""The specs: plain, validated, JSON-serialisable descriptions of work.

The same spec is built by a Python call, a widget form, a YAML file given to the CLI and a
JSON body sent to the server extension. A bad spec fails here, with a :class:`SpecError`
naming the field, the value and what is accepted.

Examples
--------
>>> from aimass_lab.specs import TrainSpec
>>> spec = TrainSpec.from_dict({"data": {"name": "digits"}, "model": {"family": "mlp"}})
>>> spec.max_epochs
10
>>> TrainSpec.from_yaml(spec.to_yaml()) == spec
True
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aimass_lab.data._catalog import BUILTINS, source_names
from aimass_lab.errors import SpecError, accepted
from aimass_lab.models._catalog import FAMILIES, coerce_hparams

__all__ = [
    "AugmentSpec",
    "BatchingSpec",
    "BenchmarkSpec",
    "DEPLOY_ENGINES",
    "DeploySpec",
    "COMPRESS_METHODS",
    "CompressSpec",
    "DistillSpec",
    "LowRankSpec",
    "PruneSpec",
    "QuantizeSpec",
    "STUDENT_PRESETS",
    "parse_method",
    "DISTRIBUTIONS",
    "MEASURED_OBJECTIVES",
    "PRUNERS",
    "ParamSpec",
    "SAMPLERS",
    "SearchSpec",
    "DataSpec",
    "EarlyStoppingSpec",
    "ModelSpec",
    "PreprocessSpec",
    "Spec",
    "SplitSpec",
    "TRAIN_HPARAMS",
    "TrainSpec",
    "split_hparams",
]

S = TypeVar("S", bound="Spec")

#: Hyperparameters that belong to training rather than to the model; ``--set`` routes them.
TRAIN_HPARAMS: tuple[str, ...] = (
    "lr",
    "batch_size",
    "weight_decay",
    "optimizer",
    "max_epochs",
    "seed",
)

PRECISIONS: tuple[str, ...] = (
    "64-true",
    "32-true",
    "16-mixed",
    "bf16-mixed",
    "16-true",
    "bf16-true",
)
STRATEGIES: tuple[str, ...] = (
    "auto",
    "ddp",
    "ddp_spawn",
    "ddp_notebook",
    "ddp_find_unused_parameters_true",
    "fsdp",
    "deepspeed",
    "single_device",
)


def one_of(value: Any, choices: Any, what: str) -> Any:
    """Return ``value`` if it is among ``choices``; else raise a ValueError that lists them."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; accepted: {accepted(choices)}")
    return value


def _fields_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The field names of the spec class found by walking ``loc`` (for 'unknown field' errors)."""
    current: Any = cls
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        annotation = info.annotation
        args = getattr(annotation, "__args__", None)
        if args:
            annotation = next(
                (a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), annotation
            )
        current = annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _spec_error(cls: type[BaseModel], exc: ValidationError) -> SpecError:
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        field = ".".join(str(p) for p in loc)
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, SpecError):  # a nested spec's own __init__ already explained itself
            for sub in nested.errors:
                inner = sub.get("field") or ""
                errors.append({**sub, "field": ".".join(p for p in (field, inner) if p)})
            continue
        msg = str(err.get("msg", ""))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        entry: dict[str, Any] = {"field": field, "message": msg}
        if err.get("type") == "extra_forbidden":
            fields = _fields_at(cls, loc[:-1]) or []
            entry["message"] = f"unknown field {loc[-1]!r}; accepted: {', '.join(fields)}"
        elif err.get("type") == "missing":
            entry["message"] = "required field is missing"
        else:
            value = err.get("input")
            if not isinstance(value, dict):
                entry["value"] = value
        errors.append(entry)
    return SpecError(cls.__name__, errors)


class Spec(BaseModel):
    """Base of every spec: strict fields, clear errors, JSON and YAML round trips."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _spec_error(type(self), exc) from None

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any] | S) -> S:
        """Validate a dict (or return a spec of this class unchanged)."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise SpecError(
                cls.__name__,
                [
                    {
                        "field": "",
                        "value": data,
                        "message": "expected a mapping of field names to values",
                    }
                ],
            )
        return cls(**data)

    @classmethod
    def from_json(cls: type[S], text: str | bytes) -> S:
        """Validate a JSON document."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(
                cls.__name__, [{"field": "", "message": f"malformed JSON: {exc}"}]
            ) from None
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls: type[S], source: str | os.PathLike[str]) -> S:
        """Validate YAML text, or the YAML file at a path."""
        text = str(source)
        if isinstance(source, os.PathLike) or (
            "\n" not in text and text.endswith((".yaml", ".yml", ".json"))
        ):
            path = Path(source)
            if not path.is_file():
                raise SpecError(
                    cls.__name__, [{"field": "", "message": f"config file not found: {path}"}]
                )
            text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(
                cls.__name__, [{"field": "", "message": f"malformed YAML: {exc}"}]
            ) from None
        return cls.from_dict(data or {})

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of JSON types."""
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = None) -> str:
        """The spec as JSON."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    def to_yaml(self) -> str:
        """The spec as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# --------------------------------------------------------------------------------------- data
class SplitSpec(Spec):
    """How a dataset is split into train, validation and test parts.

    With ``folds`` set, the test part is held out first and the rest is cut into ``folds``
    folds; ``fold`` picks the validation fold.
    """

    val: float = Field(0.15, ge=0.0, lt=1.0, description="fraction for validation")
    test: float = Field(0.15, ge=0.0, lt=1.0, description="fraction held out for testing")
    seed: int = Field(0, description="seed of the shuffle")
    stratify: bool = Field(True, description="keep class proportions (classification)")
    folds: int | None = Field(None, ge=2, le=100, description="k for k-fold cross-validation")
    fold: int = Field(0, ge=0, description="which fold is the validation part")

    @model_validator(mode="after")
    def _check(self) -> SplitSpec:
        if self.val + self.test >= 1.0:
            raise ValueError(
                f"val + test must be below 1 so that something is left to train on; got {self.val} + {self.test}"
            )
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"fold must be below folds ({self.folds}); got {self.fold}")
        return self


class PreprocessSpec(Spec):
    """Preprocessing fitted on the training part only and stored with every model."""

    standardize: bool = Field(True, description="zero mean, unit variance per numeric feature")
    impute: Literal["mean", "median", "most_frequent", "none"] = Field(
        "mean", description="how missing feature values are filled"
    )
    one_hot: Literal["auto", "none"] | list[str] = Field(
        "auto", description="categorical columns to one-hot encode ('auto': text/category columns)"
    )


class AugmentSpec(Spec):
    """Image augmentation applied to training batches as torch ops."""

    flip: bool = Field(False, description="random horizontal flip (p=0.5)")
    crop: int = Field(0, ge=0, le=64, description="pad by this many pixels, then random-crop back")
    noise: float = Field(0.0, ge=0.0, le=10.0, description="std of added Gaussian noise")

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return self.flip or self.crop > 0 or self.noise > 0


_TABLE_SOURCES = ("csv", "parquet", "dataframe", "sql")


class DataSpec(Spec):
    """Where data comes from and how it is split and preprocessed.

    Examples
    --------
    >>> DataSpec(name="digits").source
    'builtin'
    >>> DataSpec(source="csv", path="train.csv", target="label").target
    'label'
    """

    source: str = Field(
        "builtin",
        description="builtin, csv, parquet, dataframe, numpy, image_folder, sql, or a plugin",
    )
    name: str | None = Field(None, description="the built-in dataset's name")
    path: str | None = Field(
        None, description="file or folder (csv, parquet, image_folder) or sha256:… artifact"
    )
    url: str | None = Field(None, description="SQLAlchemy URL (sql)")
    query: str | None = Field(None, description="SELECT statement (sql)")
    target: str | None = Field(None, description="the target column (tabular sources)")
    features: list[str] | None = Field(
        None, description="feature columns (default: all but the target)"
    )
    task: Literal["classification", "regression"] | None = Field(
        None, description="inferred when None"
    )
    as_images: bool = Field(False, description="give 'digits' as 1x8x8 images")
    image_size: int | None = Field(
        None, ge=4, le=1024, description="resize images to this square size"
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="source options (generator sizes, plugin options)"
    )
    split: SplitSpec = Field(default_factory=SplitSpec)
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec)
    augment: AugmentSpec = Field(default_factory=AugmentSpec)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        names = source_names()
        return one_of(value, names, "source")

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        src = self.source
        if src == "builtin":
            if not self.name:
                raise ValueError(f"source 'builtin' needs a name; accepted: {accepted(BUILTINS)}")
            if self.name not in BUILTINS:
                raise ValueError(
                    f"unknown dataset {self.name!r}; built-in datasets: {accepted(BUILTINS)} "
                    "(datasets you registered are found with aimass_lab.datasets.get(name))"
                )
            if self.as_images and self.name != "digits":
                raise ValueError("as_images is available for 'digits' only")
        elif src in ("csv", "parquet", "image_folder", "dataframe", "numpy") and not self.path:
            raise ValueError(f"source {src!r} needs a path")
        elif src == "sql" and not (self.url and self.query):
            raise ValueError(
                "source 'sql' needs both url (a SQLAlchemy URL) and query (a SELECT statement)"
            )
        if src in _TABLE_SOURCES and not self.target:
            raise ValueError(f"source {src!r} needs target: the name of the column to predict")
        return self

    @property
    def label(self) -> str:
        """A short human name: the built-in name or the file name."""
        if self.source == "builtin":
            return f"{self.name}{' (images)' if self.as_images else ''}"
        if self.path:
            return (
                Path(self.path).name
                if not self.path.startswith("sha256:")
                else self.name or self.path[:15]
            )
        return self.name or self.source


# -------------------------------------------------------------------------------------- model
class ModelSpec(Spec):
    """A model from the zoo with its hyperparameters, or a user class by import path.

    ``family="custom"`` with ``target="package.module:Class"`` builds any importable
    ``nn.Module`` or ``LightningModule``; ``hparams`` become its keyword arguments.
    """

    family: str = Field("mlp", description="mlp, cnn, resnet, gru, lstm, transformer, or custom")
    hparams: dict[str, Any] = Field(
        default_factory=dict, description="the family's hyperparameters"
    )
    target: str | None = Field(None, description="'package.module:Class' for family='custom'")

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.family == "custom":
            if not self.target or ":" not in self.target:
                raise ValueError("family 'custom' needs target='package.module:Class'")
            return self
        family = FAMILIES.get(self.family)
        if family is None:
            raise ValueError(
                f"unknown model {self.family!r}; accepted: {accepted([*FAMILIES, 'custom'])}"
            )
        coerced, errors = coerce_hparams(family, self.hparams)
        if errors:
            raise ValueError(
                "; ".join(f"{e['field']}={e['value']!r}: {e['message']}" for e in errors)
            )
        object.__setattr__(self, "hparams", coerced)
        return self

    def resolved_hparams(self) -> dict[str, Any]:
        """The family's defaults updated with the given hyperparameters."""
        family = FAMILIES.get(self.family)
        return {**(family.defaults if family else {}), **self.hparams}


# -------------------------------------------------------------------------------------- train
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
    devices: int | str | list[int] = Field(
        "auto", description="'auto', a count, -1 for all, or a list of indices"
    )
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    strategy: str = Field("auto", description="Lightning strategy: auto, ddp, ddp_spawn, fsdp, …")
    num_nodes: int = Field(1, ge=1)
    precision: str = Field("32-true", description="Lightning precision, e.g. 32-true, bf16-mixed")
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

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        return one_of(value, STRATEGIES, "strategy")

    @field_validator("precision", mode="before")
    @classmethod
    def _precision(cls, value: Any) -> str:
        text = str(value)
        aliases = {"32": "32-true", "64": "64-true", "16": "16-mixed", "bf16": "bf16-mixed"}
        text = aliases.get(text, text)
        if text not in PRECISIONS:
            raise ValueError(f"unknown precision {value!r}; accepted: {accepted(PRECISIONS)}")
        return text


def split_hparams(hparams: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split one hyperparameter dict into training fields and model hyperparameters.

    ``{"lr": 0.01, "hidden": 64}`` gives ``({"lr": 0.01}, {"hidden": 64})``.
    """
    train: dict[str, Any] = {}
    model: dict[str, Any] = {}
    for key, value in (hparams or {}).items():
        (train if key in TRAIN_HPARAMS else model)[key] = value
    return train, model


# ------------------------------------------------------------------------------------- search
#: Distributions a search-space parameter can take.
DISTRIBUTIONS: tuple[str, ...] = ("int", "float", "categorical")
#: Optuna samplers a search can use.
SAMPLERS: tuple[str, ...] = ("random", "grid", "tpe", "cmaes", "gp", "nsga2", "qmc")
#: Optuna pruners a search can use.
PRUNERS: tuple[str, ...] = (
    "none",
    "median",
    "percentile",
    "successive-halving",
    "hyperband",
    "wilcoxon",
)
#: Objectives measured on the trained model rather than logged during training.
MEASURED_OBJECTIVES: tuple[str, ...] = ("params", "size_kb", "latency_ms")
#: The search-space parameter that picks the model family (its choices are zoo names).
FAMILY_PARAM = "family"


class ParamSpec(Spec):
    """One parameter of a search space.

    ``int`` and ``float`` take ``low``, ``high`` and optionally ``log`` or ``step``;
    ``categorical`` takes ``choices``. ``condition`` maps earlier parameters to the value (or
    list of values) they must have for this one to be sampled, e.g. ``{"family": "mlp"}``.
    """

    type: str = Field(description="int, float or categorical")
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(None, gt=0.0)
    choices: list[Any] | None = None
    condition: dict[str, Any] | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
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
    sampler: str = Field("tpe", description="random, grid, tpe, cmaes, gp, nsga2 or qmc")
    pruner: str = Field(
        "median",
        description="none, median, percentile, successive-halving, hyperband or wilcoxon (cv)",
    )
    n_trials: int | None = Field(20, ge=1, le=1_000_000, description="trials in all workers")
    timeout: float | None = Field(None, gt=0.0, description="seconds for the whole search")
    parallel: int = Field(1, ge=1, le=256, description="worker jobs")
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

    @field_validator("sampler")
    @classmethod
    def _sampler(cls, value: str) -> str:
        return one_of(value, SAMPLERS, "sampler")

    @field_validator("pruner")
    @classmethod
    def _pruner(cls, value: str) -> str:
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
        if self.n_trials is None and self.timeout is None:
            raise ValueError("give a budget: n_trials, timeout, or both")
        if len(self.objectives) > 1 and self.pruner != "none":
            if "pruner" in self.model_fields_set:
                raise ValueError(
                    f"pruner {self.pruner!r} needs a single objective (Optuna prunes on one "
                    "reported value); accepted with several objectives: 'none'"
                )
            object.__setattr__(self, "pruner", "none")
        if len(self.objectives) > 1 and self.sampler == "cmaes":
            raise ValueError(
                "sampler 'cmaes' optimises a single objective; accepted with several "
                "objectives: 'random', 'grid', 'tpe', 'gp', 'nsga2', 'qmc'"
            )
        if self.pruner == "wilcoxon" and self.cv is None:
            raise ValueError(
                "pruner 'wilcoxon' compares trials fold by fold and needs cv (e.g. cv=5); "
                "accepted without cv: 'none', 'median', 'percentile', 'successive-halving', "
                "'hyperband'"
            )
        if self.sampler == "grid":
            for name, param in self.space.items():
                if not param.finite:
                    raise ValueError(
                        f"the grid sampler needs a finite set of values, but {name!r} is a "
                        "continuous float range; accepted: give it a step, make it "
                        "categorical, or use another sampler"
                    )
                if param.condition:
                    raise ValueError(
                        f"the grid sampler cannot follow conditions ({name!r} has one); "
                        "accepted: tpe, random, qmc or nsga2"
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


# ----------------------------------------------------------------------------------- compress
#: The compression methods a :class:`CompressSpec` step can name.
COMPRESS_METHODS: tuple[str, ...] = ("prune", "quantize", "distill", "low-rank")
#: Kinds of pruning: zero the smallest weights, or remove whole neurons.
PRUNE_KINDS: tuple[str, ...] = ("unstructured", "structured")
#: ONNX Runtime int8 quantisation modes.
QUANTIZE_MODES: tuple[str, ...] = ("int8-dynamic", "int8-static")
#: Named students for distillation: a zoo family with small hyperparameters.
STUDENT_PRESETS: dict[str, dict[str, Any]] = {
    "mlp-small": {"family": "mlp", "hparams": {"hidden": 32, "layers": 1}},
    "mlp-tiny": {"family": "mlp", "hparams": {"hidden": 16, "layers": 1}},
    "cnn-small": {"family": "cnn", "hparams": {"channels": 8, "layers": 1, "hidden": 32}},
}

_METHOD_ALIASES = {"lowrank": "low-rank", "low_rank": "low-rank", "svd": "low-rank"}
_MODE_ALIASES = {
    "dynamic": "int8-dynamic",
    "int8": "int8-dynamic",
    "static": "int8-static",
    "qdq": "int8-static",
    "int8-qdq": "int8-static",
}


def _ratio(value: Any) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        ratio = float("nan")
    if not 0.0 < ratio < 1.0:
        raise ValueError(
            f"prune ratio must be strictly between 0 and 1 (the fraction of weights, or of "
            f"neurons for structured pruning, to remove, e.g. 0.5); got {value!r}"
        )
    return ratio


class PruneSpec(Spec):
    """Magnitude pruning, then fine-tuning.

    ``unstructured`` zeroes the smallest weights of Linear and Conv layers (``scope``:
    ``global`` ranks all of them together, ``layer`` prunes each layer by ``ratio``);
    ``structured`` removes whole neurons of an MLP's hidden layers, or whole channels of a
    CNN's convolutions (and neurons of its head), so that the network gets smaller and faster.
    """

    method: Literal["prune"] = "prune"
    kind: str = Field("unstructured", description="unstructured or structured")
    ratio: float = Field(0.5, description="fraction removed, strictly between 0 and 1")
    scope: Literal["global", "layer"] = Field("global", description="unstructured: global or layer")
    finetune_epochs: int = Field(2, ge=0, le=10_000, description="epochs of fine-tuning after")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="fine-tuning learning rate")

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return one_of(value, PRUNE_KINDS, "prune kind")

    @field_validator("ratio", mode="before")
    @classmethod
    def _check_ratio(cls, value: Any) -> float:
        return _ratio(value)

    @property
    def label(self) -> str:
        """``prune:structured:0.5``."""
        return f"prune:{self.kind}:{self.ratio:g}"


class QuantizeSpec(Spec):
    """ONNX Runtime int8 quantisation: dynamic, or static QDQ calibrated on training batches."""

    method: Literal["quantize"] = "quantize"
    mode: str = Field("int8-dynamic", description="int8-dynamic or int8-static")
    per_channel: bool = Field(False, description="one scale per output channel of each weight")
    calibration_batches: int = Field(
        8, ge=1, le=100_000, description="int8-static: training batches used to calibrate"
    )
    batch_size: int = Field(32, ge=1, le=1_000_000, description="rows per calibration batch")
    target_cpu: str = Field(
        "auto",
        description="the CPU the model is quantised for: 'auto' (this machine, or "
        "AIMASS_CPU_ISA) or an instruction set such as 'avx2' or 'avx512-vnni'; on x86 "
        "without VNNI the weights are quantised to 7 bits (reduce_range)",
    )

    @field_validator("target_cpu", mode="before")
    @classmethod
    def _target_cpu(cls, value: Any) -> str:
        from aimass_lab._cpu import ISAS

        text = str(value).strip().lower()
        if text != "auto" and text not in ISAS:
            raise ValueError(f"unknown target_cpu {value!r}; accepted: {accepted(('auto', *ISAS))}")
        return text

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> str:
        text = _MODE_ALIASES.get(str(value), str(value))
        if text not in QUANTIZE_MODES:
            raise ValueError(
                f"unknown quantize mode {value!r}; accepted: {accepted(QUANTIZE_MODES)}"
            )
        return text

    @property
    def label(self) -> str:
        """``quantize:int8-dynamic``, ``quantize:int8-static:per-channel:target_cpu=avx2``."""
        cpu = "" if self.target_cpu == "auto" else f":target_cpu={self.target_cpu}"
        return f"quantize:{self.mode}{':per-channel' if self.per_channel else ''}{cpu}"


class DistillSpec(Spec):
    """Knowledge distillation of the model (the teacher) into a smaller zoo student.

    The loss is ``alpha * T^2 * KL(student/T || teacher/T) + (1 - alpha) * cross-entropy``.
    """

    method: Literal["distill"] = "distill"
    student: str | ModelSpec = Field(
        "mlp-small", description="a preset (mlp-small, mlp-tiny, cnn-small), zoo name or ModelSpec"
    )
    temperature: float = Field(4.0, gt=0.0, le=100.0)
    alpha: float = Field(0.7, ge=0.0, le=1.0, description="weight of the distillation term")
    epochs: int = Field(10, ge=1, le=10_000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    batch_size: int = Field(64, ge=1, le=1_000_000)

    @field_validator("student")
    @classmethod
    def _student(cls, value: str | ModelSpec) -> str | ModelSpec:
        if isinstance(value, str) and value not in STUDENT_PRESETS and value not in FAMILIES:
            raise ValueError(
                f"unknown student {value!r}; accepted: a preset "
                f"({accepted(STUDENT_PRESETS)}), a zoo name ({accepted(FAMILIES)}) or a "
                "ModelSpec such as {'family': 'mlp', 'hparams': {'hidden': 32}}"
            )
        return value

    def student_spec(self) -> ModelSpec:
        """The student as a :class:`ModelSpec`."""
        if isinstance(self.student, ModelSpec):
            return self.student
        return ModelSpec.from_dict(STUDENT_PRESETS.get(self.student, {"family": self.student}))

    @property
    def label(self) -> str:
        """``distill:student=mlp-small``."""
        name = self.student if isinstance(self.student, str) else self.student.family
        return f"distill:student={name}"


class LowRankSpec(Spec):
    """SVD factorisation of Linear layers to a rank or an energy threshold, then fine-tuning.

    Give ``rank`` (the same rank for every layer) or ``energy`` (the smallest rank keeping
    that fraction of each layer's squared singular values). A layer is factorised only when
    that makes it smaller.
    """

    method: Literal["low-rank"] = "low-rank"
    rank: int | None = Field(None, ge=1, le=1_000_000)
    energy: float | None = Field(None, gt=0.0, le=1.0)
    finetune_epochs: int = Field(2, ge=0, le=10_000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)

    @model_validator(mode="after")
    def _check(self) -> LowRankSpec:
        if (self.rank is None) == (self.energy is None):
            if self.rank is None and self.energy is None:
                object.__setattr__(self, "energy", 0.9)
                return self
            raise ValueError("give rank or energy, not both")
        return self

    @property
    def label(self) -> str:
        """``low-rank:rank=16`` or ``low-rank:energy=0.9``."""
        return f"low-rank:rank={self.rank}" if self.rank else f"low-rank:energy={self.energy:g}"


class BenchmarkSpec(Spec):
    """How latency and throughput are measured for the compression report."""

    warmup: int = Field(5, ge=0, le=100_000)
    runs: int = Field(50, ge=2, le=1_000_000, description="timed runs at batch 1 (p50, p95)")
    batch_size: int = Field(32, ge=1, le=100_000, description="batch of the throughput figure")
    throughput_runs: int = Field(10, ge=1, le=1_000_000)
    threads: int | None = Field(None, ge=1, le=1024, description="intra-op threads (torch, ORT)")


CompressMethodSpec = PruneSpec | QuantizeSpec | DistillSpec | LowRankSpec
_METHOD_SPECS: dict[str, type[Spec]] = {
    "prune": PruneSpec,
    "quantize": QuantizeSpec,
    "distill": DistillSpec,
    "low-rank": LowRankSpec,
}
_EPOCHS_FIELD = {"prune": "finetune_epochs", "low-rank": "finetune_epochs", "distill": "epochs"}


def parse_method(text: str) -> dict[str, Any]:
    """Turn a method string into the dict of its spec.

    ``prune:structured:0.5``, ``prune:0.3``, ``quantize:int8-static:per-channel``,
    ``distill:student=mlp-small``, ``low-rank:rank=16``, ``low-rank:0.9`` (energy);
    ``key=value`` parts set any field, ``epochs=N`` the fine-tuning epochs.

    Raises
    ------
    ValueError
        For an unknown method or a part it does not understand.
    """
    parts = [p.strip() for p in str(text).split(":")]
    method = _METHOD_ALIASES.get(parts[0], parts[0])
    if method not in COMPRESS_METHODS:
        raise ValueError(
            f"unknown compression method {parts[0]!r} in {text!r}; accepted: "
            f"{accepted(COMPRESS_METHODS)}, e.g. 'prune:structured:0.5'"
        )
    out: dict[str, Any] = {"method": method}
    for part in parts[1:]:
        if not part:
            continue
        key, sep, value = part.partition("=")
        if sep:
            key = key.strip().replace("-", "_")
            if key == "epochs":
                key = _EPOCHS_FIELD.get(method, key)
            out[key] = yaml.safe_load(value) if value else value
            continue
        if method == "prune":
            if part in PRUNE_KINDS:
                out["kind"] = part
            elif part in ("global", "layer"):
                out["scope"] = part
            else:
                out["ratio"] = yaml.safe_load(part)
        elif method == "quantize":
            if part in ("per-channel", "per_channel"):
                out["per_channel"] = True
            else:
                out["mode"] = part
        elif method == "distill":
            out["student"] = part
        else:
            if re.fullmatch(r"\d+", part):
                out["rank"] = int(part)
            else:
                out["energy"] = yaml.safe_load(part)
    return out


class CompressSpec(Spec):
    """Compression steps applied in order to a registered model, each registered as a child.

    Steps are :class:`PruneSpec`, :class:`QuantizeSpec`, :class:`DistillSpec` and
    :class:`LowRankSpec` (dicts with a ``method`` key, or strings such as
    ``"prune:structured:0.5"``). Quantisation turns the model into int8 ONNX and must be the
    last step.

    Examples
    --------
    >>> spec = CompressSpec(methods=["prune:structured:0.5", "quantize:int8-dynamic"])
    >>> [m.label for m in spec.methods]
    ['prune:structured:0.5', 'quantize:int8-dynamic']
    """

    methods: list[CompressMethodSpec] = Field(description="the steps, applied in order")
    data: DataSpec | None = Field(
        None, description="data to fine-tune, calibrate and evaluate on (default: the model's)"
    )
    name: str | None = Field(
        None, description="registry name of the variants (default: the model's)"
    )
    parity_atol: float = Field(
        1e-4, gt=0.0, description="largest |torch - ONNX| accepted for a float32 export"
    )
    int8_min_agreement: float = Field(
        0.9, ge=0.0, le=1.0, description="smallest argmax agreement of an int8 model with fp32"
    )
    int8_max_rel_error: float = Field(
        0.05,
        gt=0.0,
        le=10.0,
        description="regression: largest max|int8 - fp32| / max|fp32| of an int8 model",
    )
    batch_size: int = Field(64, ge=1, le=1_000_000, description="fine-tuning batch size")
    seed: int = 0
    benchmark: BenchmarkSpec = Field(default_factory=BenchmarkSpec)

    @field_validator("methods", mode="before")
    @classmethod
    def _parse_methods(cls, value: Any) -> Any:
        if isinstance(value, str | dict | Spec):
            value = [value]
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(
                "give at least one method, e.g. ['prune:structured:0.5', 'quantize:int8-dynamic']"
            )
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                item = parse_method(item)
            if isinstance(item, dict):
                method = _METHOD_ALIASES.get(str(item.get("method")), item.get("method"))
                if method not in _METHOD_SPECS:
                    raise ValueError(
                        f"unknown compression method {item.get('method')!r}; accepted: "
                        f"{accepted(COMPRESS_METHODS)}"
                    )
                item = _METHOD_SPECS[method](**{**item, "method": method})
            out.append(item)
        return out

    @model_validator(mode="after")
    def _check(self) -> CompressSpec:
        for i, step in enumerate(self.methods):
            if isinstance(step, QuantizeSpec) and i != len(self.methods) - 1:
                raise ValueError(
                    f"quantize must be the last step (it turns the model into int8 ONNX, which "
                    f"the later steps cannot change); got it at step {i + 1} of "
                    f"{len(self.methods)}: {[m.label for m in self.methods]}"
                )
        return self


# ------------------------------------------------------------------------------------- deploy
#: The inference engines a :class:`DeploySpec` can ask for.
DEPLOY_ENGINES: tuple[str, ...] = ("auto", "onnxruntime", "torch")


class BatchingSpec(Spec):
    """Dynamic batching of one served model version.

    Requests that arrive within ``max_delay_ms`` of each other are run as one batch of at
    most ``max_batch_size`` rows; at most ``queue_size`` requests wait (more: 429).
    ``max_batch_size=1`` turns batching off.
    """

    max_batch_size: int = Field(32, ge=1, le=65_536, description="rows per batch at most")
    max_delay_ms: float = Field(
        2.0, ge=0.0, le=10_000.0, description="how long a batch waits to fill up"
    )
    queue_size: int = Field(1024, ge=1, le=1_000_000, description="requests waiting at most")

    @classmethod
    def off(cls) -> BatchingSpec:
        """Batching switched off: every request runs on its own."""
        return cls(max_batch_size=1, max_delay_ms=0.0)


class DeploySpec(Spec):
    """A registered model version served by the workspace's inference server.

    Examples
    --------
    >>> spec = DeploySpec(model="digits-mlp:3", replicas=2)
    >>> spec.endpoint, spec.batching.max_batch_size
    ('digits-mlp', 32)
    >>> DeploySpec(model="digits-mlp:3", batching=False).batching.max_batch_size
    1
    """

    model: str = Field(description="registry ref: 'name:version', 'name:alias' or 'name'")
    name: str | None = Field(None, description="endpoint name (default: the registry name)")
    replicas: int = Field(1, ge=1, le=64, description="engine worker processes")
    batching: BatchingSpec = Field(default_factory=BatchingSpec)
    engine: str = Field("auto", description="auto, onnxruntime or torch")
    port: int | None = Field(
        None, ge=0, le=65_535, description="port of the workspace server (None: its default)"
    )

    @field_validator("model", mode="before")
    @classmethod
    def _model_ref(cls, value: Any) -> Any:
        from aimass_lab.registry._model_version import parse_ref

        ref = getattr(value, "ref", value)  # a ModelVersion
        try:
            parse_ref(ref)
        except Exception as exc:
            raise ValueError(str(exc)) from None
        return ref

    @field_validator("name")
    @classmethod
    def _endpoint_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from aimass_lab.registry._model_version import validate_name

        try:
            return validate_name(value)
        except Exception as exc:
            raise ValueError(str(exc).replace("model name", "endpoint name")) from None

    @field_validator("batching", mode="before")
    @classmethod
    def _batching(cls, value: Any) -> Any:
        if value is None or value is True:
            return BatchingSpec()
        if value is False:
            return BatchingSpec.off()
        return value

    @field_validator("engine")
    @classmethod
    def _engine(cls, value: str) -> str:
        return one_of(value, DEPLOY_ENGINES, "engine")

    @property
    def endpoint(self) -> str:
        """The endpoint name: ``name``, else the registry name of ``model``."""
        return self.name or self.model.partition(":")[0]
