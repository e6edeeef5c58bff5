"""One part of a table read in Arrow record batches: :class:`StreamedTableSamples`.

The part is a sorted list of row positions in the table (from the seeded split) with one
label each. Training reads it through :class:`~aimass_lab.data._tablestream.TableStream`
(whole batches, shuffled per epoch, sharded over ranks and workers); :meth:`take` and
:meth:`preview` read just the rows asked for. This module does not import torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.data._samples import Samples

if TYPE_CHECKING:
    from aimass_lab.data._arrow import ArrowTable
    from aimass_lab.data._preprocess import Preprocessor

__all__ = ["StreamedTableSamples"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class StreamedTableSamples(Samples):
    """A part of a large table, read in Arrow record batches on demand.

    Parameters
    ----------
    labels
        The part's labels, one per row of ``rows``.
    table
        The table.
    rows
        The part's row positions in the table, ascending.
    preprocessor
        Fitted (on a sample of the training rows); applied to every record batch.
    columns
        The raw feature columns.
    target
        The target column (shown by :meth:`preview`).
    batch_rows
        Rows per Arrow record batch (``spec.loader.batch_rows``).
    skipped
        Rows of the table skipped for a missing target (``on_bad_record="skip"``).
    names
        The class names of a target stored as class indices (Hugging Face ClassLabel).
    """

    kind = "table"
    streamed = True
    in_memory = False

    def __init__(
        self,
        labels: np.ndarray,
        *,
        table: ArrowTable,
        rows: np.ndarray,
        preprocessor: Preprocessor,
        columns: Sequence[str],
        target: str,
        batch_rows: int,
        skipped: int = 0,
        names: list[str] | None = None,
    ) -> None:
        super().__init__(labels)
        self.table = table
        self.rows = np.asarray(rows, dtype=np.int64)
        self.preprocessor = preprocessor
        self.columns = list(columns)
        self.target = target
        self.batch_rows = int(batch_rows)
        self.skipped = int(skipped)
        self.names = names

    def _span(self, n: int | None, start: int) -> slice:
        start = max(0, int(start))
        return slice(start, None if n is None else start + max(0, int(n)))

    def take(self, n: int | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        span = self._span(n, start)
        rows = self.rows[span]
        table = self.table.read_rows(rows, self.columns, self.batch_rows)
        X = self.preprocessor.transform(table.to_pandas())
        return X, self.labels[span]

    def preview(self, n: int = 20, start: int = 0) -> list[dict[str, Any]]:
        """Raw rows ``start`` to ``start + n`` of the part, as JSON-able dicts.

        Each dict holds ``"index"`` (its position in the part, as in-memory parts give it),
        ``"row"`` (its row in the table), ``"label"`` (the raw target: the class label, or
        the number for regression) and ``"values"`` (``{column: cell}`` of the feature
        columns, unprocessed).
        """
        span = self._span(n, start)
        rows = self.rows[span]
        table = self.table.read_rows(rows, [*self.columns, self.target], self.batch_rows)
        out = []
        for i, (row, record) in enumerate(zip(rows, table.to_pylist(), strict=True)):
            label = _jsonable(record[self.target])
            if self.names is not None and label is not None:  # a ClassLabel index
                label = self.names[int(label)]
            values = {str(c): _jsonable(record[c]) for c in self.columns}
            out.append({"index": span.start + i, "row": int(row), "label": label, "values": values})
        return out

    def torch_dataset(
        self,
        *,
        batch_size: int,
        shuffle: bool,
        seed: int,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> Any:
        """A ``TableStream``: whole ``(x, y)`` batches of ``batch_size`` rows.

        ``rank`` and ``world_size`` default to ``torch.distributed``'s when it is
        initialised (else 0 and 1); giving them reads one rank's shard.
        """
        from aimass_lab.data._tablestream import TableStream

        return TableStream(
            self.table,
            self.rows,
            self.labels,
            self.preprocessor,
            self.columns,
            batch_size=batch_size,
            batch_rows=self.batch_rows,
            shuffle=shuffle,
            seed=seed,
            rank=rank,
            world_size=world_size,
        )

    def __repr__(self) -> str:
        skipped = f", {self.skipped} bad record(s) skipped" if self.skipped else ""
        return f"{type(self).__name__}({len(self)} rows streamed from {self.table.what}{skipped})"
