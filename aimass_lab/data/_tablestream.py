"""The ``IterableDataset`` of a streamed table part: whole batches read from Arrow (imports torch).

Each epoch the part's units (Parquet row groups, or slices of Arrow files) are dealt to
``world_size x num_workers`` readers (:func:`~aimass_lab.data._arrow.shard_plan`):
a distributed rank reads only its units, and within it each ``DataLoader`` worker only its
own. With ``shuffle`` the unit order changes every epoch (seeded) and rows are shuffled
within a buffer of record batches. Under DDP every reader yields as many batches as the
largest one: the shorter ones repeat some of their rows (as ``DistributedSampler`` pads),
since ranks that run out of batches at different steps would wait for each other forever.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import IterableDataset, get_worker_info

from aimass_lab.data._arrow import shard_plan, unit_counts

if TYPE_CHECKING:
    from aimass_lab.data._arrow import ArrowTable, Unit
    from aimass_lab.data._preprocess import Preprocessor

__all__ = ["TableStream", "reader_position"]

Batch = tuple[torch.Tensor, torch.Tensor]


def reader_position(
    rank: int | None = None, world_size: int | None = None
) -> tuple[int, int, int, int]:
    """``(rank, world_size, worker, num_workers)`` of the calling process."""
    if world_size is None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            rank, world_size = dist.get_rank(), dist.get_world_size()
        else:
            rank, world_size = 0, 1
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    return int(rank or 0), int(world_size), int(worker), int(workers)


class NumericTransform:
    """The preprocessor's ``transform`` for record batches of numeric columns, in NumPy.

    The same arithmetic as :meth:`Preprocessor.transform` (fill, then ``(x - mean) / scale``
    in float64, then float32) without building a DataFrame: a table of many numeric
    columns streams several times faster. :meth:`make` gives ``None`` when a column is
    one-hot encoded or not a number (the preprocessor itself is used then).
    """

    def __init__(
        self, columns: list[str], fill: np.ndarray, mean: np.ndarray, scale: np.ndarray
    ) -> None:
        self.columns, self.fill, self.mean, self.scale = columns, fill, mean, scale

    @classmethod
    def make(cls, pre: Preprocessor, schema: pa.Schema) -> NumericTransform | None:
        if pre.kind != "tabular" or pre.categories_ or not isinstance(pre.mean_, dict):
            return None
        assert isinstance(pre.scale_, dict)
        for c in pre.columns_:
            kind = schema.field(c).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                return None
        cols = list(pre.columns_)
        return cls(
            cols,
            np.array([float(pre.fill_[c]) for c in cols]),
            np.array([pre.mean_[c] for c in cols]),
            np.array([pre.scale_[c] for c in cols]),
        )

    def __call__(self, batch: pa.RecordBatch, impute: str) -> np.ndarray | None:
        raw = np.empty((batch.num_rows, len(self.columns)), dtype=np.float64)
        for j, name in enumerate(self.columns):
            column = batch.column(name)
            if column.null_count:
                if impute == "none":
                    return None  # the preprocessor raises its error
                column = column.cast(pa.float64()).fill_null(self.fill[j])
            raw[:, j] = column.to_numpy(zero_copy_only=False)
        raw -= self.mean
        raw /= self.scale
        return raw.astype(np.float32)


class TableStream(IterableDataset[Batch]):
    """Batches ``(x float32 (B, F), y)`` of one table part, read in record batches.

    Parameters
    ----------
    table, rows, labels, preprocessor, columns
        As in :class:`~aimass_lab.data._tablesamples.StreamedTableSamples`.
    batch_size
        Rows per batch (the last batch of a reader may be smaller).
    batch_rows
        Rows per Arrow record batch read.
    shuffle, seed
        Shuffle units and rows, seeded by ``seed`` and the epoch (each pass over the
        dataset, in this process or in a persistent worker, is the next epoch).
    rank, world_size
        The distributed position (default: ``torch.distributed``'s, or 0 of 1).
    buffer_rows
        Rows shuffled together (default: two record batches).
    """

    def __init__(
        self,
        table: ArrowTable,
        rows: np.ndarray,
        labels: np.ndarray,
        preprocessor: Preprocessor,
        columns: Sequence[str],
        *,
        batch_size: int,
        batch_rows: int,
        shuffle: bool,
        seed: int,
        rank: int | None = None,
        world_size: int | None = None,
        buffer_rows: int | None = None,
    ) -> None:
        self.table = table
        self.rows = rows
        self.labels = labels
        self.preprocessor = preprocessor
        self.columns = list(columns)
        self.batch_size = int(batch_size)
        self.batch_rows = int(batch_rows)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank = rank
        self.world_size = world_size
        self.buffer_rows = int(buffer_rows or 2 * self.batch_rows)
        self.counts = unit_counts(table.units, rows)
        self.epoch = 0
        self.numeric = NumericTransform.make(preprocessor, table.schema)

    def transform(self, batch: pa.RecordBatch) -> np.ndarray:
        """Preprocess a record batch (NumPy for numeric tables, else the preprocessor)."""
        if self.numeric is not None:
            x = self.numeric(batch, self.preprocessor.impute)
            if x is not None:
                return x
        return self.preprocessor.transform(batch.to_pandas())

    def plan(self, epoch: int, readers: int) -> list[list[int]]:
        """The units of each reader in ``epoch`` (see :func:`shard_plan`)."""
        return shard_plan(self.counts, readers, seed=self.seed, epoch=epoch, shuffle=self.shuffle)

    def __iter__(self) -> Iterator[Batch]:
        epoch = self.epoch
        self.epoch += 1
        rank, world, worker, workers = reader_position(self.rank, self.world_size)
        readers = world * workers
        plan = self.plan(epoch, readers)
        me = rank * workers + worker
        mine = [self.table.units[u] for u in plan[me]]
        pad = 0
        if world > 1:  # equal batch counts on every rank
            loads = [int(self.counts[p].sum()) if p else 0 for p in plan]
            pad = max(loads) - loads[me]
        rng = np.random.default_rng([self.seed, epoch, me])
        return self._batches(self._blocks(mine, pad), rng)

    # -- reading ---------------------------------------------------------------------------
    def _read(self, units: Sequence[Unit]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Preprocessed ``(x, y)`` of the part's rows in ``units``, a record batch at a time."""
        for start, batch in self.table.iter_batches(self.columns, self.batch_rows, units):
            lo, hi = np.searchsorted(self.rows, [start, start + batch.num_rows])
            if lo == hi:
                continue
            if hi - lo < batch.num_rows:
                batch = batch.take(pa.array(self.rows[lo:hi] - start))
            yield self.transform(batch), self.labels[lo:hi]

    def _blocks(self, units: Sequence[Unit], pad: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from self._read(units)
        while pad > 0:  # repeat rows of the part from its start (DDP only)
            for x, y in self._read(self.table.units):
                yield x[:pad], y[:pad]
                pad -= min(pad, len(y))
                if pad == 0:
                    break

    def _batches(
        self, blocks: Iterator[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
    ) -> Iterator[Batch]:
        size = self.batch_size
        limit = self.buffer_rows if self.shuffle else size
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        held = 0
        exhausted = False
        while not exhausted:
            block = next(blocks, None)
            if block is None:
                exhausted = True
            else:
                xs.append(block[0])
                ys.append(block[1])
                held += len(block[1])
            if held < limit and not exhausted:
                continue
            if not held:
                break
            x, y = np.concatenate(xs), np.concatenate(ys)
            if self.shuffle:
                order = rng.permutation(len(y))
                x, y = x[order], y[order]
            cut = len(y) if exhausted else len(y) // size * size
            for i in range(0, cut, size):
                yield torch.from_numpy(x[i : i + size]), torch.from_numpy(y[i : i + size])
            xs, ys = [x[cut:]], [y[cut:]]
            held = len(y) - cut
