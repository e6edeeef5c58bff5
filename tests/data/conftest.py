"""Fixtures of the data stage's tests: real files written to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    """A small table with numbers, text, a bool, missing values and a 3-class target."""
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "income": rng.normal(50_000, 8_000, n).round(0),
            "color": rng.choice(["red", "green", "blue"], n),
            "member": rng.choice([True, False], n),
            "label": rng.choice(["a", "b", "c"], n),
        }
    )
    frame.loc[[3, 10, 50], "age"] = np.nan
    return frame


@pytest.fixture
def csv_file(tmp_path: Path, mixed_frame: pd.DataFrame) -> Path:
    path = tmp_path / "table.csv"
    mixed_frame.to_csv(path, index=False)
    return path


def _write_image_folder(
    root: Path, *, mode: str = "RGB", size: int = 10, per_class: int = 6
) -> Path:
    """Two classes of small PNGs: 'dark' images and 'light' images with a bright left column."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for cls, base in (("dark", 30), ("light", 200)):
        folder = root / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(base + rng.integers(-20, 20, (size, size)), 0, 255).astype(np.uint8)
            pixels[:, 0] = 255
            if mode == "L":
                img = Image.fromarray(pixels, mode="L")
            else:
                img = Image.fromarray(
                    np.stack([pixels, pixels // 2, pixels // 3], axis=-1), mode="RGB"
                )
            img.save(folder / f"{i}.png")
    return root


@pytest.fixture
def make_image_folder() -> Callable[..., Path]:
    """A function that writes a real image folder: ``make_image_folder(root, mode="L")``."""
    return _write_image_folder
