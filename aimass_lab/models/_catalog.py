"""The model zoo's catalogue: families, their hyperparameters and defaults.

This module has no torch import, so specs can validate hyperparameters at import speed.
The builders that make real ``nn.Module`` objects live in :mod:`aimass_lab.models._zoo`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAMILIES", "Family", "coerce_hparams"]


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
        The kinds of input it takes: ``"tabular"``, ``"image"``, ``"sequence"``.
    """

    name: str
    description: str
    defaults: dict[str, Any]
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bounds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    inputs: tuple[str, ...] = ("tabular", "image", "sequence")


_DROPOUT = (0.0, 0.95)
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
                    "(training hyperparameters: lr, batch_size, weight_decay, optimizer)",
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
                    "message": f"must be between {low} and {high if high is not None else 'any'}",
                }
            )
            continue
        out[key] = coerced
    return out, errors
