"""Helpers of the compress tests: a real digits MLP trained briefly, odd custom networks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from common_helpers import train_digits as train_digits  # re-exported for the compress tests
from torch import nn

from aimass_lab.workspace import Workspace

FAST_BENCH: dict[str, Any] = {"warmup": 1, "runs": 5, "throughput_runs": 2}


def train_regression(ws: Workspace, folder: Path) -> Any:
    """A regression MLP (hidden 32, 5 epochs) registered as ``reg-mlp``: the model whose int8
    error was 0.196 on a CPU without VNNI before the int8 settings followed the CPU."""
    return train_digits(
        ws,
        folder,
        name="reg-mlp",
        model={"family": "mlp", "hparams": {"hidden": 32, "layers": 1}},
        epochs=5,
        data={"name": "regression"},
    )


class Spectral(nn.Module):
    """A layer ONNX opset 17 cannot express (an FFT)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.fft(x).real


class FFTNet(nn.Module):
    """Flatten, an FFT layer, a Linear head."""

    def __init__(self, input_shape: tuple[int, ...], output_dim: int) -> None:
        super().__init__()
        self.spectral = Spectral()
        self.head = nn.Linear(math.prod(input_shape), output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.spectral(x.flatten(1)))


class BranchyNet(nn.Module):
    """Python control flow on the data: tracing bakes in the branch of the example batch."""

    def __init__(self, input_shape: tuple[int, ...], output_dim: int) -> None:
        super().__init__()
        self.head = nn.Linear(math.prod(input_shape), output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(x.flatten(1))
        if bool((x > 0).any()):
            return out
        return -out


def _register_untrained(
    ws: Workspace,
    folder: Path,
    spec: Any,
    input_shape: tuple[int, ...],
    config: dict[str, Any],
    name: str,
) -> Any:
    """Build ``spec``'s network (seed 0) for ``input_shape``, save it with ``config`` (plus the
    model spec, shape and output size) in ``folder`` and register it as ``name``."""
    from safetensors.torch import save_file

    from aimass_lab import registry
    from aimass_lab.models import build_network

    torch.manual_seed(0)
    network = build_network(spec, input_shape, int(config["output_dim"]))
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in network.state_dict().items()},
        str(folder / "weights.safetensors"),
    )
    config = {
        "model_spec": spec.to_dict(),
        "task": config["task"],
        "input_shape": list(input_shape),
        **config,
    }
    (folder / "model.json").write_text(json.dumps(config), encoding="utf-8")
    return registry.register(folder, name, workspace=ws)


def register_custom(ws: Workspace, folder: Path, target: str, name: str) -> Any:
    """Register an untrained custom network on digits (64 features, 10 classes)."""
    from aimass_lab.specs import ModelSpec

    spec = ModelSpec(family="custom", target=target)
    config = {
        "task": "classification",
        "output_dim": 10,
        "data_spec": {"name": "digits"},
        "metrics": {},
    }
    return _register_untrained(ws, folder, spec, (64,), config, name)


def register_zoo(
    ws: Workspace, folder: Path, model: dict[str, Any], data: dict[str, Any], name: str
) -> Any:
    """Register an untrained zoo network for ``data`` (no training: for error paths)."""
    from aimass_lab import data as data_stage
    from aimass_lab.specs import ModelSpec

    dataset = data_stage.load(data, workspace=ws)
    config = {
        "task": dataset.task,
        "output_dim": int(dataset.output_dim),
        "data_spec": dataset.spec.to_dict(),
        "metrics": {},
    }
    spec = ModelSpec.from_dict(model)
    return _register_untrained(ws, folder, spec, tuple(dataset.input_shape), config, name)
