"""Rebuild a trained network from its ``model.json`` and safetensors weights (no pickle)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from aimass_lab.errors import AimassError
from aimass_lab.models._text import network_options
from aimass_lab.models._zoo import build_network
from aimass_lab.specs import ModelSpec

__all__ = ["load_network"]


def load_network(
    config: dict[str, Any],
    weights: str | Path | Sequence[str | Path],
    *,
    label: str = "the model",
    device: str = "cpu",
) -> nn.Module:
    """Build the network a ``model.json`` describes and load its weights with ``strict=True``.

    Parameters
    ----------
    config
        The parsed ``model.json``: ``model_spec``, ``input_shape``, ``output_dim``.
    weights
        The ``weights.safetensors`` file, or every shard (``model.json``'s ``weight_files``)
        of a large model.
    label
        How errors name the model (``"model digits-mlp:3"``, ``"run 2026…"``).
    device
        Where the weights go.

    Returns
    -------
    torch.nn.Module
        The network, in eval mode.
    """
    from aimass_lab.models._weights import load_weights

    spec = ModelSpec.from_dict(config["model_spec"])
    input_shape = tuple(int(d) for d in config["input_shape"])
    output_dim = int(config["output_dim"])
    try:
        network = build_network(spec, input_shape, output_dim, **network_options(config))
    except AimassError as exc:
        raise AimassError(f"cannot build the network of {label}: {exc}") from None
    try:
        network.load_state_dict(load_weights(weights, device=device), strict=True)
    except RuntimeError as exc:
        raise AimassError(
            f"the weights of {label} do not fit the network built from its model.json "
            f"(family {spec.family!r}, input_shape {list(input_shape)}, output_dim {output_dim}): {exc}"
        ) from None
    network.to(device)
    network.eval()
    return network
