"""A challenge on iris and small models trained on its public dataset, for tests/challenge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common_helpers import train_digits

from aimass_lab import challenge, datasets
from aimass_lab.workspace import Workspace


def iris_challenge(ws: Workspace, name: str = "iris-cup", **options: Any) -> challenge.Challenge:
    """The challenge ``name`` on the built-in iris (38 hidden rows, 112 public)."""
    return challenge.create_challenge(name, "iris", workspace=ws, **options)


def train_public(
    ws: Workspace, folder: Path, name: str, public: str = "iris-cup-public", lr: float = 3e-3
) -> Any:
    """A one-epoch MLP trained in this process on the challenge's public dataset, registered."""
    data = datasets.resolve_spec(public, workspace=ws).to_dict()
    return train_digits(
        ws, folder, name=name, epochs=1, data=data, lr=lr,
        model={"family": "mlp", "hparams": {"hidden": 16, "layers": 1}},
    )  # fmt: skip
