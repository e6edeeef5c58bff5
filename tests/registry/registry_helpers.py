"""Helpers of the registry tests: real model folders (safetensors + model.json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

MODEL_SPEC: dict[str, Any] = {"family": "mlp", "hparams": {"hidden": 8, "layers": 1}}
INPUT_SHAPE = [4]
OUTPUT_DIM = 3


def write_model_folder(
    folder: Path, *, seed: int = 0, metrics: dict[str, Any] | None = None, run_id: str | None = None
) -> Path:
    """Write ``weights.safetensors`` and ``model.json`` as a training run leaves them."""
    import torch
    from safetensors.torch import save_file

    from aimass_lab.models import build_network
    from aimass_lab.specs import ModelSpec

    torch.manual_seed(seed)
    network = build_network(ModelSpec.from_dict(MODEL_SPEC), tuple(INPUT_SHAPE), OUTPUT_DIM)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in network.state_dict().items()},
        str(folder / "weights.safetensors"),
    )
    config = {
        "model_spec": MODEL_SPEC,
        "hparams": {
            **MODEL_SPEC["hparams"],
            "dropout": 0.0,
            "activation": "relu",
            "lr": 0.01,
            "batch_size": 32,
        },
        "task": "classification",
        "input_shape": INPUT_SHAPE,
        "input_kind": "tabular",
        "output_dim": OUTPUT_DIM,
        "classes": ["a", "b", "c"],
        "target_stats": None,
        "preprocess": {"standardize": True},
        "data_spec": {"name": "iris"},
        "data_fingerprint": "f" * 64,
        "metrics": metrics if metrics is not None else {"val_acc": 0.9 + seed / 100},
        "run_id": run_id,
    }
    (folder / "model.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


MakeJob = Callable[..., str]
