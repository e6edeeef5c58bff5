"""The optional ``[vision]`` extra, tested where torchvision imports (see docs/install.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aimass_lab import datasets


def _torchvision() -> object:
    try:
        import torchvision
    except Exception as exc:  # not installed, or built for another torch (a RuntimeError)
        pytest.skip(f"torchvision does not import here: {type(exc).__name__}: {exc}")
    return torchvision


def test_image_folder_agrees_with_torchvision(tmp_path: Path) -> None:
    _torchvision()
    from torchvision.datasets import ImageFolder

    rng = np.random.default_rng(0)
    for label in ("cat", "dog", "emu"):
        (tmp_path / label).mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (9, 9, 3), dtype=np.uint8)).save(
                tmp_path / label / f"{i}.png"
            )
    ours = datasets.load(
        {
            "source": "image_folder",
            "path": str(tmp_path),
            "image_size": 9,
            "split": {"val": 0.0, "test": 0.0},
        }
    )
    theirs = ImageFolder(str(tmp_path))
    assert ours.classes == theirs.classes
    files = {
        Path(p.decode()).name + str(lab)
        for p, lab in zip(ours.parts["train"].paths, ours.y_train, strict=True)
    }
    assert files == {Path(p).name + str(lab) for p, lab in theirs.samples}
