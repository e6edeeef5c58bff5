"""``torch.utils.data`` pieces of text parts: token rows, dynamic padding, length buckets.

Imports torch. The tokens of a part are one flat ``int32`` array with offsets (see
:mod:`aimass_lab.data._text`); a batch is padded to its longest text by the collate.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import BatchSampler, RandomSampler, Sampler, SequentialSampler
from torch.utils.data import Dataset as TorchDataset

__all__ = ["BucketBatchSampler", "PadCollate", "TextDataset", "base_sampler"]

#: Batches per bucket: indices are sorted by length within windows of this many batches.
BUCKET_BATCHES = 50


class TextDataset(TorchDataset[tuple[torch.Tensor, torch.Tensor]]):
    """Token rows of a part; ``__getitems__`` gives a whole batch padded to its longest row.

    Attributes
    ----------
    lengths : numpy.ndarray
        Tokens per row (what :class:`BucketBatchSampler` sorts by).
    seed : int
        The seed of the bucket shuffle.
    """

    def __init__(
        self,
        tokens: np.ndarray,
        offsets: np.ndarray,
        labels: np.ndarray,
        pad_id: int,
        seed: int = 0,
    ) -> None:
        self.tokens = tokens
        self.offsets = offsets
        self.labels = labels
        self.pad_id = int(pad_id)
        self.seed = int(seed)
        self.lengths = np.diff(offsets)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        row = self.tokens[self.offsets[index] : self.offsets[index + 1]]
        return torch.from_numpy(row.astype(np.int64)), torch.as_tensor(self.labels[index])

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(indices, dtype=np.int64)
        starts, stops = self.offsets[idx], self.offsets[idx + 1]
        width = max(int((stops - starts).max(initial=1)), 1)
        out = np.full((len(idx), width), self.pad_id, dtype=np.int64)
        for i, (a, b) in enumerate(zip(starts, stops, strict=True)):
            out[i, : b - a] = self.tokens[a:b]
        return torch.from_numpy(out), torch.from_numpy(np.ascontiguousarray(self.labels[idx]))


class PadCollate:
    """Dynamic padding: ``(ids, label)`` samples padded with ``pad_id`` to the longest."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = int(pad_id)

    def __call__(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(batch, tuple):  # from TextDataset.__getitems__: padded already
            return batch
        width = max(max((len(ids) for ids, _ in batch), default=1), 1)
        out = torch.full((len(batch), width), self.pad_id, dtype=torch.int64)
        for i, (ids, _) in enumerate(batch):
            out[i, : len(ids)] = ids
        return out, torch.stack([torch.as_tensor(y) for _, y in batch])


def base_sampler(dataset: TextDataset, shuffle: bool, seed: int) -> Sampler[int]:
    """A seeded random sampler (training) or the sequential one."""
    if shuffle:
        return RandomSampler(dataset, generator=torch.Generator().manual_seed(int(seed)))
    return SequentialSampler(dataset)


def _source_dataset(sampler: Any) -> Any:
    for name in ("dataset", "data_source"):
        data = getattr(sampler, name, None)
        if data is not None:
            return data
    return None


class BucketBatchSampler(BatchSampler):
    """Batches of texts of similar length: fewer pad tokens, same rows per epoch.

    The indices come from ``sampler`` (shuffled for training; under DDP Lightning replaces it
    with a ``DistributedSampler``, so each rank buckets only its own shard). They are cut into
    windows of ``BUCKET_BATCHES`` batches, each window is sorted by length and cut into
    batches, and the batches are shuffled with a seed that changes every epoch. The number of
    batches is the plain batch sampler's, so every DDP rank runs as many steps.

    Parameters
    ----------
    sampler
        Where the indices come from; the lengths are read from its dataset (a
        :class:`TextDataset`) unless given.
    batch_size, drop_last
        As for :class:`torch.utils.data.BatchSampler`.
    lengths
        Tokens per row of the dataset (default: ``sampler``'s dataset's ``lengths``).
    shuffle
        Whether the order of the batches is shuffled (training).
    seed
        Seed of that shuffle (default: the dataset's ``seed``).
    """

    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        lengths: np.ndarray | None = None,
        shuffle: bool | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        source = _source_dataset(sampler)
        if lengths is None:
            lengths = getattr(source, "lengths", None)
        if lengths is None:
            raise TypeError("BucketBatchSampler needs lengths or a sampler over a TextDataset")
        self.lengths = np.asarray(lengths)
        if shuffle is None:
            shuffle = not isinstance(sampler, SequentialSampler) and bool(
                getattr(sampler, "shuffle", True)
            )
        self.shuffle = bool(shuffle)
        self.seed = int(seed if seed is not None else getattr(source, "seed", 0))
        self._epoch = 0

    def __iter__(self) -> Iterator[list[int]]:
        indices = np.fromiter(iter(self.sampler), dtype=np.int64)
        window = self.batch_size * BUCKET_BATCHES
        batches: list[np.ndarray] = []
        for start in range(0, len(indices), window):
            part = indices[start : start + window]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches.extend(
                part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)
            )
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            order = np.random.default_rng([self.seed, self._epoch]).permutation(len(batches))
            batches = [batches[i] for i in order]
        self._epoch += 1
        for batch in batches:
            yield batch.tolist()
