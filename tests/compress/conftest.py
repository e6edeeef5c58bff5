"""Fixtures of the compress tests: one digits MLP trained for real, shared by a module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from compress_helpers import train_digits

from aimass_lab.workspace import Workspace


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A digits MLP (hidden 64, 2 layers) trained 3 epochs and registered in a SQLite workspace."""
    root: Path = tmp_path_factory.mktemp("compress")
    ws = Workspace(root / "ws")
    return train_digits(ws, root / "model")
