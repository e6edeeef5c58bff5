"""Helpers shared by the test folders: the ``aimass`` command in a real process, polling until
a condition holds, a quiet CPU trainer and a small model trained in this process.

``tests/`` is on ``sys.path`` (its conftest.py puts it there), so tests in any folder import
this module by name: ``from common_helpers import aimass``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimass_lab.workspace import Workspace


def aimass(
    ws: Path, *args: str, check: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``aimass ARGS`` in a real process on the workspace folder ``ws``; with ``check``,
    fail the test (showing the output) when the command exits non-zero."""
    env = {**os.environ, "AIMASS_HOME": str(ws)}
    env.pop("AIMASS_DB_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "aimass_lab.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"aimass {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 120.0,
    every: float = 0.2,
    what: str | None = None,
) -> Any:
    """Poll until ``predicate()`` is truthy; return its value.

    On timeout the AssertionError names ``what`` was awaited (default: the predicate's name).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    awaited = what or getattr(predicate, "__name__", "a condition")
    raise AssertionError(f"timed out after {timeout:g} s waiting for {awaited}")


def cpu_trainer(max_epochs: int, **options: Any) -> Any:
    """A quiet Lightning Trainer on the CPU: no logger, checkpoints, progress bar or summary."""
    import lightning.pytorch as pl

    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **options,
    )


def train_digits(
    ws: Workspace,
    folder: Path,
    *,
    name: str = "digits-mlp",
    model: dict[str, Any] | None = None,
    epochs: int = 3,
    data: dict[str, Any] | None = None,
    lr: float = 3e-3,
) -> Any:
    """Train a model (on digits unless ``data`` says otherwise) in this process and register it."""
    import lightning.pytorch as pl

    from aimass_lab import data as data_stage
    from aimass_lab import registry
    from aimass_lab.models import TaskModule, build_network
    from aimass_lab.specs import TrainSpec
    from aimass_lab.train._job import quiet_lightning, write_model

    quiet_lightning()
    spec = TrainSpec.from_dict(
        {
            "data": data or {"name": "digits"},
            "model": model or {"family": "mlp", "hparams": {"hidden": 64, "layers": 2}},
            "max_epochs": epochs,
            "lr": lr,
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
    cpu_trainer(epochs).fit(module, datamodule=dataset.datamodule(batch_size=64))
    write_model(folder, network, spec, dataset, {"val_acc": 0.0}, "test-run")
    return registry.register(folder, name, workspace=ws)


def write_image_folder(
    root: Path, *, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 3, size: int = 16
) -> Path:
    """A real image folder: ``root/<class>/<i>.png``, one colour per class (dark to light)."""
    import numpy as np
    from PIL import Image

    for k, cls in enumerate(classes):
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        level = 40 + 180 * k // max(len(classes) - 1, 1)
        for i in range(per_class):
            pixels = np.full((size, size, 3), level, dtype=np.uint8)
            pixels[: size // 2, :, k % 3] = 255 - 10 * i
            Image.fromarray(pixels, mode="RGB").save(folder / f"{i}.png")
    return root
