"""Helpers of the deploy tests: one tiny digits model, trained once per test session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from common_helpers import train_digits

from aimass_lab.workspace import Workspace

_CACHE: dict[str, Path] = {}


def _train_once(root: Path) -> Path:
    """Train a small MLP on digits for 2 epochs in this process; register it and its ONNX export.

    Returns the folder of a SQLite workspace with ``digits-mlp:1`` (torch) and
    ``digits-mlp:2`` (ONNX export of 1).
    """
    from aimass_lab.compress import export_onnx

    ws = Workspace(root / "ws")
    mv = train_digits(
        ws,
        root / "model",
        model={"family": "mlp", "hparams": {"hidden": 32, "layers": 1}},
        epochs=2,
        lr=5e-3,
    )
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
