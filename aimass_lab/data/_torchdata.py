"""``torch.utils.data`` datasets behind :class:`~aimass_lab.data._samples.Samples` (imports torch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import default_collate

__all__ = ["ArrayDataset", "SampleDataset", "collate_batched", "collate_skipping"]


class ArrayDataset(TorchDataset[tuple[torch.Tensor, torch.Tensor]]):
    """Rows of in-memory arrays; a batch is one fancy-indexing call (``__getitems__``).

    ``DataLoader`` calls ``__getitems__`` with a batch's indices when it exists, so a batch of
    64 rows costs one index operation instead of 64 ``__getitem__`` calls and a stack.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X = torch.from_numpy(np.ascontiguousarray(X))
        self.y = torch.from_numpy(np.ascontiguousarray(y))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[index], self.y[index]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.X[idx], self.y[idx]


def collate_batched(batch: Any) -> Any:
    """The collate of datasets whose ``__getitems__`` returns a whole batch already."""
    if isinstance(batch, tuple):
        return batch
    return default_collate(batch)


def collate_skipping(batch: list[Any]) -> Any:
    """Default collate without the samples a dataset skipped (``None``: a bad record).

    A batch whose every sample was skipped becomes an empty batch of the right kind is not
    possible to build, so it raises; with a handful of bad records among many rows a whole
    batch of them does not happen in practice.
    """
    kept = [sample for sample in batch if sample is not None]
    if not kept:
        from aimass_lab.errors import DataError

        raise DataError(
            f"every sample of a batch of {len(batch)} was an unreadable record and skipped; "
            "look at the data report (dataset.report()) for the files or rows"
        )
    return default_collate(kept)


class SampleDataset(TorchDataset[Any]):
    """Map-style dataset over a part whose ``decode(i)`` reads one sample (e.g. an image file).

    ``__getitem__`` gives ``(features, label)`` tensors, or ``None`` for a bad record the part
    skips (its collate, :func:`collate_skipping`, drops those).
    """

    def __init__(self, samples: Any) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        features = self.samples.decode(index)
        if features is None:
            return None
        return torch.from_numpy(features), torch.as_tensor(self.samples.labels[index])
