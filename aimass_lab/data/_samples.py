"""One part of a dataset (train, validation or test): labels up front, features on demand.

A :class:`Samples` is what the data stage hands to training, compression and the front doors
instead of "all rows in one array". The labels (one small number per row) are read when the
dataset is loaded; features are read, decoded, tokenized and preprocessed only when a
``DataLoader`` asks for them, in its worker processes. :class:`ArraySamples` is the fast
special case of a small table or image set already in memory.

This module does not import torch; :meth:`Samples.torch_dataset` does, when called.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

__all__ = ["ArraySamples", "Samples", "auto_workers"]


def auto_workers() -> int:
    """``min(4, CPUs - 1)`` worker processes for data read from files (at least 1)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, (cpus or 1) - 1))


class Samples(abc.ABC):
    """One part of a dataset.

    Attributes
    ----------
    labels : numpy.ndarray
        ``int64`` class indices or ``float32`` regression targets, one per row of the part.
    streamed : bool
        Whether :meth:`torch_dataset` is an ``IterableDataset`` that yields whole batches
        (and shards itself over distributed ranks and workers); otherwise it is a map-style
        dataset of single samples that a sampler indexes (Lightning gives it a
        ``DistributedSampler`` under DDP).
    in_memory : bool
        Whether the features are in memory already (0 loader workers by default).
    """

    kind: ClassVar[str] = ""
    streamed: ClassVar[bool] = False
    in_memory: ClassVar[bool] = False

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    @abc.abstractmethod
    def take(self, n: int | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Model-ready features and labels of rows ``start`` to ``start + n`` of this part.

        Parameters
        ----------
        n
            How many rows (``None``: to the end; keep it small for large data).
        start
            The first row (in the part's order).

        Returns
        -------
        tuple
            ``(X, y)``: preprocessed ``float32`` features (``int64`` token ids for text)
            and the labels.
        """

    @abc.abstractmethod
    def torch_dataset(self, *, batch_size: int, shuffle: bool, seed: int) -> Any:
        """The ``torch.utils.data`` dataset the ``DataLoader`` reads this part from.

        ``batch_size``, ``shuffle`` and ``seed`` matter to streamed parts, which batch and
        shuffle themselves; map-style parts ignore them (the loader's sampler does both).
        """

    def collate_fn(self) -> Callable[[Any], Any] | None:
        """The ``DataLoader`` ``collate_fn`` (``None``: torch's default)."""
        return None

    def batch_sampler(self, *, batch_size: int, shuffle: bool, seed: int) -> Any | None:
        """A batch sampler of its own (e.g. length buckets), or ``None`` for the default."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} rows)"


class ArraySamples(Samples):
    """Features already in memory as one array (small tables, digits, generated data)."""

    kind = "array"
    in_memory = True

    def __init__(self, X: np.ndarray, labels: np.ndarray) -> None:
        super().__init__(labels)
        self.X = X

    def take(self, n: int | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        stop = None if n is None else start + n
        return self.X[start:stop], self.labels[start:stop]

    def torch_dataset(self, *, batch_size: int, shuffle: bool, seed: int) -> Any:
        from aimass_lab.data._torchdata import ArrayDataset

        return ArrayDataset(self.X, self.labels)

    def collate_fn(self) -> Callable[[Any], Any] | None:
        from aimass_lab.data._torchdata import collate_batched

        return collate_batched
