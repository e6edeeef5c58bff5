"""The catalogues specs validate against: built-in datasets, source kinds and model families.

Pure data, without pandas, scikit-learn or torch, so that a spec is checked at import speed.
The data stage loads what :data:`BUILTINS` and the source kinds name (and registers run-time
sources here with :func:`add_runtime_source`); the model zoo builds what :data:`FAMILIES`
describes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any

from aimass_lab.specs._choices import TRAIN_HPARAMS

__all__ = [
    "BUILTINS",
    "BuiltinInfo",
    "CORE_SOURCES",
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "FINETUNE_MODES",
    "Family",
    "RUNTIME_SOURCES",
    "add_runtime_source",
    "coerce_hparams",
    "plugin_sources",
    "remove_runtime_source",
    "source_names",
]

# ------------------------------------------------------------------------------------ datasets
ENTRY_POINT_GROUP = "aimass_lab.sources"


@dataclass(frozen=True)
class BuiltinInfo:
    """A built-in dataset: scikit-learn bundled data or a seeded generator."""

    name: str
    task: str
    description: str
    generator: bool = False
    #: The text column of a text dataset (its ``DataSpec.text``), else ``None``.
    text: str | None = None


BUILTINS: dict[str, BuiltinInfo] = {
    b.name: b
    for b in [
        BuiltinInfo("iris", "classification", "150 irises, 4 features, 3 classes"),
        BuiltinInfo(
            "digits",
            "classification",
            "1797 8x8 handwritten digits, 64 features (or 1x8x8 images), 10 classes",
        ),
        BuiltinInfo("wine", "classification", "178 wines, 13 features, 3 classes"),
        BuiltinInfo("breast_cancer", "classification", "569 tumours, 30 features, 2 classes"),
        BuiltinInfo("diabetes", "regression", "442 patients, 10 features, disease progression"),
        BuiltinInfo("moons", "classification", "two interleaving half circles (generator)", True),
        BuiltinInfo("blobs", "classification", "isotropic Gaussian blobs (generator)", True),
        BuiltinInfo("classification", "classification", "random n-class problem (generator)", True),
        BuiltinInfo(
            "regression", "regression", "random linear regression problem (generator)", True
        ),
        BuiltinInfo(
            "reviews",
            "classification",
            "short product reviews with a sentiment label, 2 classes (text generator)",
            True,
            text="text",
        ),
    ]
}

#: Source kinds that ship with AI Mass Lab.
CORE_SOURCES: tuple[str, ...] = (
    "builtin",
    "csv",
    "parquet",
    "jsonl",
    "hf",
    "dataframe",
    "numpy",
    "image_folder",
    "sql",
)


@lru_cache(maxsize=1)
def plugin_sources() -> dict[str, str]:
    """Third-party sources registered in the ``aimass_lab.sources`` entry-point group.

    Returns
    -------
    dict
        ``{name: "module:attr"}``.
    """
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


#: Sources registered in this process with :func:`aimass_lab.data.register_source`
#: (``{name: "module:Class"}``); kept here so that specs accept them without importing them.
RUNTIME_SOURCES: dict[str, str] = {}


def add_runtime_source(name: str, target: str) -> None:
    """Accept ``name`` as a source kind in this process (``target``: ``"module:Class"``)."""
    RUNTIME_SOURCES[name] = target


def remove_runtime_source(name: str) -> None:
    """Forget a source kind added with :func:`add_runtime_source` (no error if unknown)."""
    RUNTIME_SOURCES.pop(name, None)


def source_names() -> list[str]:
    """Every accepted source kind, core first."""
    extra = (set(plugin_sources()) | set(RUNTIME_SOURCES)) - set(CORE_SOURCES)
    return list(CORE_SOURCES) + sorted(extra)


# ---------------------------------------------------------------------------- model families
@dataclass(frozen=True)
class Family:
    """One model family of the zoo.

    Parameters
    ----------
    name
        The name used in specs, the CLI and the REST API (``"mlp"``).
    description
        One line for listings.
    defaults
        Every hyperparameter the family takes, with its default value; the default's type is
        the accepted type.
    choices
        Accepted values for string hyperparameters.
    bounds
        ``(low, high)`` inclusive bounds for numeric hyperparameters (``None`` for open).
    inputs
        The kinds of input it takes: ``"tabular"``, ``"image"``, ``"sequence"``, ``"text"``
        (token ids, see ``DataSpec.text``).
    """

    name: str
    description: str
    defaults: dict[str, Any]
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bounds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    inputs: tuple[str, ...] = ("tabular", "image", "sequence")


_DROPOUT = (0.0, 0.95)
#: How a pretrained model is fine-tuned: every weight (``full``), the new head only
#: (``head``), the head and the top ``top_layers`` blocks (``top``), or LoRA adapters plus
#: the head (``lora``).
FINETUNE_MODES: tuple[str, ...] = ("full", "head", "top", "lora")
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "mlp",
            "multi-layer perceptron; images are flattened",
            {"hidden": 128, "layers": 2, "dropout": 0.0, "activation": "relu"},
            choices={"activation": ("relu", "gelu", "tanh", "silu")},
            bounds={"hidden": (1, None), "layers": (0, 64), "dropout": _DROPOUT},
        ),
        Family(
            "cnn",
            "small convolutional network (conv-bn-relu-pool blocks) for images",
            {"channels": 16, "layers": 2, "kernel_size": 3, "hidden": 64, "dropout": 0.0},
            bounds={
                "channels": (1, None),
                "layers": (1, 8),
                "kernel_size": (1, 11),
                "hidden": (1, None),
                "dropout": _DROPOUT,
            },
            inputs=("image",),
        ),
        Family(
            "resnet",
            "small residual network (basic blocks) for images",
            {"channels": 16, "blocks": 2, "dropout": 0.0},
            bounds={"channels": (1, None), "blocks": (1, 16), "dropout": _DROPOUT},
            inputs=("image",),
        ),
        Family(
            "gru",
            "GRU over a sequence (tabular features or image rows become time steps)",
            {"hidden": 64, "layers": 1, "bidirectional": False, "dropout": 0.0},
            bounds={"hidden": (1, None), "layers": (1, 8), "dropout": _DROPOUT},
        ),
        Family(
            "lstm",
            "LSTM over a sequence (tabular features or image rows become time steps)",
            {"hidden": 64, "layers": 1, "bidirectional": False, "dropout": 0.0},
            bounds={"hidden": (1, None), "layers": (1, 8), "dropout": _DROPOUT},
        ),
        Family(
            "transformer",
            "tiny Transformer encoder over a sequence, mean-pooled",
            {"d_model": 32, "heads": 4, "layers": 2, "ff": 64, "dropout": 0.1},
            bounds={
                "d_model": (1, None),
                "heads": (1, 64),
                "layers": (1, 12),
                "ff": (1, None),
                "dropout": _DROPOUT,
            },
        ),
        Family(
            "text_transformer",
            "Transformer encoder over token ids (embedding, learned positions, masked mean pooling)",
            {"d_model": 64, "heads": 4, "layers": 2, "ff": 128, "dropout": 0.1},
            bounds={
                "d_model": (1, None),
                "heads": (1, 64),
                "layers": (1, 24),
                "ff": (1, None),
                "dropout": _DROPOUT,
            },
            inputs=("text",),
        ),
        Family(
            "pretrained",
            "a pretrained Hugging Face Transformers model from a local folder (ModelSpec.path), "
            "fine-tuned: full, head only, top layers or LoRA",
            {
                "finetune": "full",
                "top_layers": 2,
                "lora_rank": 8,
                "lora_alpha": 16,
                "lora_dropout": 0.05,
                "lora_targets": "auto",
                "lora_merge": True,
                "gradient_checkpointing": False,
                "backbone_lr_scale": 1.0,
            },
            choices={"finetune": FINETUNE_MODES},
            bounds={
                "top_layers": (0, 1000),
                "lora_rank": (1, 4096),
                "lora_alpha": (0.0, None),
                "lora_dropout": _DROPOUT,
                "backbone_lr_scale": (0.0, 100.0),
            },
            inputs=("text", "image"),
        ),
    ]
}


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError("expected a boolean (true or false)")
    if isinstance(default, int):
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ValueError("expected an integer")
    if isinstance(default, float):
        if isinstance(value, bool):
            raise ValueError("expected a number")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError("expected a number")
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _bounds_text(low: Any, high: Any) -> str:
    """What a bounded hyperparameter accepts: ``must be at least 1``, ``at most 9``, or
    ``between 1 and 9``."""
    if high is None:
        return f"must be at least {low}"
    if low is None:
        return f"must be at most {high}"
    return f"must be between {low} and {high}"


def coerce_hparams(
    family: Family, hparams: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Check and coerce ``hparams`` against a family (strings from the CLI become numbers).

    Returns
    -------
    tuple
        The coerced hyperparameters (only those given) and a list of error dicts
        (``field``, ``value``, ``message``), empty when all is well.
    """
    out: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for key, value in hparams.items():
        if key not in family.defaults:
            errors.append(
                {
                    "field": f"hparams.{key}",
                    "value": value,
                    "message": f"model {family.name!r} takes no hyperparameter {key!r}; "
                    f"accepted: {', '.join(sorted(family.defaults))} "
                    f"(training hyperparameters: {', '.join(TRAIN_HPARAMS)})",
                }
            )
            continue
        default = family.defaults[key]
        try:
            coerced = _coerce(value, default)
        except ValueError as exc:
            errors.append({"field": f"hparams.{key}", "value": value, "message": str(exc)})
            continue
        if key in family.choices and coerced not in family.choices[key]:
            errors.append(
                {
                    "field": f"hparams.{key}",
                    "value": value,
                    "message": f"accepted: {', '.join(family.choices[key])}",
                }
            )
            continue
        low, high = family.bounds.get(key, (None, None))
        if (low is not None and coerced < low) or (high is not None and coerced > high):
            errors.append(
                {
                    "field": f"hparams.{key}",
                    "value": value,
                    "message": _bounds_text(low, high),
                }
            )
            continue
        out[key] = coerced
    return out, errors
