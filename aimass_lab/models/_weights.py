"""Weights on disk: safetensors, sharded when large (no pickle; torch imported on use)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aimass_lab._io import atomic_open

if TYPE_CHECKING:
    import torch

__all__ = [
    "MAX_SHARD_BYTES",
    "WEIGHTS_FILE",
    "load_weights",
    "save_weights",
    "shard_name",
    "weight_files",
]

WEIGHTS_FILE = "weights.safetensors"
#: Largest weight file written (larger state dicts are split into shards).
MAX_SHARD_BYTES = 2 * 1024**3


def shard_name(index: int, stem: str = "weights") -> str:
    """``weights.safetensors`` for the first shard, ``weights-00002.safetensors`` after it."""
    return f"{stem}.safetensors" if index == 1 else f"{stem}-{index:05d}.safetensors"


def weight_files(config: Mapping[str, object]) -> list[str]:
    """The weight files a ``model.json`` names: its shards, or ``weights.safetensors``."""
    names = config.get("weight_files")
    return [str(n) for n in names] if isinstance(names, list) and names else [WEIGHTS_FILE]


def save_weights(
    state: Mapping[str, torch.Tensor],
    folder: str | os.PathLike[str],
    max_bytes: int = MAX_SHARD_BYTES,
    stem: str = "weights",
) -> list[str]:
    """Write ``state`` as safetensors shards of at most ``max_bytes`` each (a tensor larger
    than that gets a shard of its own); each file atomically. Returns the file names, first
    ``weights.safetensors``."""
    from safetensors.torch import save

    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in state.items():
        value = tensor.detach().cpu().contiguous()
        nbytes = value.numel() * value.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = value
        size += nbytes
    names: list[str] = []
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for i, shard in enumerate(shards, start=1):
        name = shard_name(i, stem)
        with atomic_open(out / name, "wb") as fh:
            fh.write(save(shard))
        names.append(name)
    return names


def load_weights(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], device: str = "cpu"
) -> dict[str, torch.Tensor]:
    """One state dict from a weight file or its shards."""
    from safetensors.torch import load_file

    files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(str(file), device=device))
    return state
