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

__all__ = ["MAX_PREVIEW_ROWS", "ArraySamples", "Samples", "auto_workers", "jsonable_cell"]

#: The most rows one page of samples (:meth:`Samples.preview`) may hold.
MAX_PREVIEW_ROWS = 100


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

    def preview(self, n: int = 12, start: int = 0) -> list[dict[str, Any]]:
        """A page of rows to look at: what the front doors show of this part.

        Sources that read on demand give raw values (the file's path and a thumbnail, the
        text, the table's cells); this default is built from :meth:`take` and shows
        preprocessed values, so subclasses override it.

        Parameters
        ----------
        n
            How many rows (at most :data:`MAX_PREVIEW_ROWS`).
        start
            The first row, in the part's order.

        Returns
        -------
        list of dict
            One JSON-able dict per row: ``"index"`` (the row's position in the part),
            ``"label"`` (:meth:`Dataset.preview` sets it again from :attr:`labels`: the
            class label or the target), then ``"thumbnail"`` (a PNG ``data:`` URI, with
            ``"path"`` where the image is a file, or ``"error"`` where it cannot be read),
            ``"text"``, or ``"values"`` (``{column: value}``).
        """
        X, y = self.take(n, start)
        rows = []
        for i, (x, label) in enumerate(zip(X, y, strict=True)):
            row: dict[str, Any] = {"index": start + i, "label": jsonable_cell(label)}
            x = np.asarray(x)
            if x.ndim == 3:
                from aimass_lab.data._thumbs import thumbnail_uri

                low, high = float(x.min()), float(x.max())
                row["thumbnail"] = thumbnail_uri((x - low) / (high - low) if high > low else x * 0)
            elif np.issubdtype(x.dtype, np.integer):
                row["values"] = {"tokens": " ".join(str(int(t)) for t in x[:64])}
            else:
                row["values"] = {f"x{j}": jsonable_cell(v) for j, v in enumerate(x.reshape(-1))}
            rows.append(row)
        return rows

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} rows)"


def jsonable_cell(value: Any) -> Any:
    """A table cell or label as JSON: numpy scalars as Python numbers, NaN as ``None``,
    anything else that JSON lacks as its ``str``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if value != value or value in (float("inf"), float("-inf")) else value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError, ImportError):
        pass
    return str(value)


class ArraySamples(Samples):
    """Features already in memory as one array (small tables, digits, generated data).

    Parameters
    ----------
    X
        The model-ready features of the part.
    labels
        Its labels.
    raw, raw_index
        Optional: the raw data the part was made from (a DataFrame of the raw columns, or
        images ``(N, C, H, W)`` in ``[0, 1]``) and the part's row positions in it, so that
        :meth:`preview` shows raw values (no copy is made).
    """

    kind = "array"
    in_memory = True

    def __init__(
        self,
        X: np.ndarray,
        labels: np.ndarray,
        *,
        raw: Any = None,
        raw_index: np.ndarray | None = None,
    ) -> None:
        super().__init__(labels)
        self.X = X
        self.raw = raw
        self.raw_index = raw_index

    def preview(self, n: int = 12, start: int = 0) -> list[dict[str, Any]]:
        """A page of raw rows (cells of the table, thumbnails of the images); the base
        class's preprocessed rows when the part was made without its raw data."""
        if self.raw is None or self.raw_index is None:
            return super().preview(n, start)
        positions = self.raw_index[start : start + n]
        labels = self.labels[start : start + n]
        rows: list[dict[str, Any]] = []
        if isinstance(self.raw, np.ndarray):
            from aimass_lab.data._thumbs import thumbnail_uri

            for i, (pos, label) in enumerate(zip(positions, labels, strict=True)):
                rows.append(
                    {
                        "index": start + i,
                        "label": jsonable_cell(label),
                        "thumbnail": thumbnail_uri(self.raw[pos]),
                    }
                )
            return rows
        frame = self.raw.iloc[positions]
        columns = [str(c) for c in frame.columns]
        for i, (cells, label) in enumerate(
            zip(frame.itertuples(index=False, name=None), labels, strict=True)
        ):
            values = {c: jsonable_cell(v) for c, v in zip(columns, cells, strict=True)}
            rows.append({"index": start + i, "label": jsonable_cell(label), "values": values})
        return rows

    def take(self, n: int | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        stop = None if n is None else start + n
        return self.X[start:stop], self.labels[start:stop]

    def torch_dataset(self, *, batch_size: int, shuffle: bool, seed: int) -> Any:
        from aimass_lab.data._torchdata import ArrayDataset

        return ArrayDataset(self.X, self.labels)

    def collate_fn(self) -> Callable[[Any], Any] | None:
        from aimass_lab.data._torchdata import collate_batched

        return collate_batched
