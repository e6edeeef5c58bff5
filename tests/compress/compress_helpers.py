"""Helpers of the compress tests: a real digits MLP trained briefly, odd custom networks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aimass_lab.workspace import Workspace

FAST_BENCH: dict[str, Any] = {"warmup": 1, "runs": 5, "throughput_runs": 2}


def train_digits(
    ws: Workspace,
    folder: Path,
    *,
    name: str = "digits-mlp",
    model: dict[str, Any] | None = None,
    epochs: int = 3,
    data: dict[str, Any] | None = None,
) -> Any:
    """Train a model (on digits unless ``data`` says otherwise) in this process and register it."""
    import lightning.pytorch as pl

    from aimass_lab import data as data_stage
    from aimass_lab import registry
    from aimass_lab.models import TaskModule, build_network
    from aimass_lab.specs import TrainSpec
    from aimass_lab.train._job import _quiet_lightning, write_model

    _quiet_lightning()
    spec = TrainSpec.from_dict(
        {
            "data": data or {"name": "digits"},
            "model": model or {"family": "mlp", "hparams": {"hidden": 64, "layers": 2}},
            "max_epochs": epochs,
            "lr": 3e-3,
        }
    )
    pl.seed_everything(0, verbose=False)
    dataset = data_stage.load(spec.data, workspace=ws)
    network = build_network(spec.model, tuple(dataset.input_shape), int(dataset.output_dim))
    module = TaskModule(
        network,
        task=dataset.task,  # type: ignore[arg-type]
        output_dim=int(dataset.output_dim),
        lr=spec.lr,
        target_stats=dataset.target_stats,
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=dataset.datamodule(batch_size=64))
    write_model(folder, network, spec, dataset, {"val_acc": 0.0}, "test-run")
    return registry.register(folder, name, workspace=ws)


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


def register_custom(ws: Workspace, folder: Path, target: str, name: str) -> Any:
    """Register an untrained custom network on digits (64 features, 10 classes)."""
    from safetensors.torch import save_file

    from aimass_lab import registry
    from aimass_lab.models import build_network
    from aimass_lab.specs import ModelSpec

    spec = ModelSpec(family="custom", target=target)
    torch.manual_seed(0)
    network = build_network(spec, (64,), 10)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in network.state_dict().items()},
        str(folder / "weights.safetensors"),
    )
    config = {
        "model_spec": spec.to_dict(),
        "task": "classification",
        "input_shape": [64],
        "output_dim": 10,
        "data_spec": {"name": "digits"},
        "metrics": {},
    }
    (folder / "model.json").write_text(json.dumps(config), encoding="utf-8")
    return registry.register(folder, name, workspace=ws)


def register_zoo(
    ws: Workspace, folder: Path, model: dict[str, Any], data: dict[str, Any], name: str
) -> Any:
    """Register an untrained zoo network for ``data`` (no training: for error paths)."""
    from safetensors.torch import save_file

    from aimass_lab import data as data_stage
    from aimass_lab import registry
    from aimass_lab.models import build_network
    from aimass_lab.specs import ModelSpec

    dataset = data_stage.load(data, workspace=ws)
    spec = ModelSpec.from_dict(model)
    torch.manual_seed(0)
    network = build_network(spec, tuple(dataset.input_shape), int(dataset.output_dim))
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in network.state_dict().items()},
        str(folder / "weights.safetensors"),
    )
    config = {
        "model_spec": spec.to_dict(),
        "task": dataset.task,
        "input_shape": list(dataset.input_shape),
        "output_dim": int(dataset.output_dim),
        "data_spec": dataset.spec.to_dict(),
        "metrics": {},
    }
    (folder / "model.json").write_text(json.dumps(config), encoding="utf-8")
    return registry.register(folder, name, workspace=ws)
