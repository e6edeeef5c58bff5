"""Helpers of the deploy tests: one tiny digits model, trained once per test session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from aimass_lab.workspace import Workspace

_CACHE: dict[str, Path] = {}


def _train_once(root: Path) -> Path:
    """Train a small MLP on digits for 2 epochs in this process; register it and its ONNX export.

    Returns the folder of a SQLite workspace with ``digits-mlp:1`` (torch) and
    ``digits-mlp:2`` (ONNX export of 1).
    """
    import lightning.pytorch as pl

    from aimass_lab import data as data_stage
    from aimass_lab import registry
    from aimass_lab.compress import export_onnx
    from aimass_lab.models import TaskModule, build_network
    from aimass_lab.specs import TrainSpec
    from aimass_lab.train._job import _quiet_lightning, write_model

    _quiet_lightning()
    ws = Workspace(root / "ws")
    spec = TrainSpec.from_dict(
        {
            "data": {"name": "digits"},
            "model": {"family": "mlp", "hparams": {"hidden": 32, "layers": 1}},
            "max_epochs": 2,
            "lr": 5e-3,
        }
    )
    pl.seed_everything(0, verbose=False)
    dataset = data_stage.load(spec.data, workspace=ws)
    network = build_network(spec.model, tuple(dataset.input_shape), int(dataset.output_dim))
    module = TaskModule(network, output_dim=int(dataset.output_dim), lr=spec.lr)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=dataset.datamodule(batch_size=64))
    write_model(root / "model", network, spec, dataset, {"val_acc": 0.0}, "test-run")
    mv = registry.register(root / "model", "digits-mlp", workspace=ws)
    export_onnx(mv, workspace=ws)
    ws.store.close()
    return root / "ws"


def model_workspace(tmp_path_factory: Any, dest: Path) -> Workspace:
    """A fresh copy (at ``dest``) of the session's workspace holding ``digits-mlp:1`` and ``:2``."""
    if "ws" not in _CACHE:
        _CACHE["ws"] = _train_once(tmp_path_factory.mktemp("deploy-model"))
    shutil.copytree(_CACHE["ws"], dest)
    return Workspace(dest)


def digits_rows(n: int = 4) -> list[list[float]]:
    """``n`` raw rows of the digits features (as the JSON route takes them)."""
    from sklearn.datasets import load_digits

    return json.loads(json.dumps(load_digits().data[:n].tolist()))
