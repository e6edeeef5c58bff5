"""The data report of a streamed table, in one pass over its record batches, bounded memory.

Exact: the row count, missing values per column (Arrow null counts), class balance (the
labels are in memory already), duplicate rows and rows shared between the splits (by a
64-bit hash of each row's features and target: 8 bytes of memory per row), and the text
length distribution of string columns. On a seeded random sample of :data:`SAMPLE_ROWS`
rows (stated in the report): distinct values per column, constant columns and the
feature-leaks-the-target checks, which need whole columns at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aimass_lab.data._progress import Progress
from aimass_lab.data._report import DataReport, _class_balance, compute_report

if TYPE_CHECKING:
    from aimass_lab.data._arrow import ArrowTable

__all__ = ["SAMPLE_ROWS", "table_report"]

#: Rows of the random sample the column-wise checks of a streamed report run on.
SAMPLE_ROWS = 50_000
_PAIRS = (("train", "val"), ("train", "test"), ("val", "test"))
_EDGES = np.array([0, *[2**k for k in range(0, 21)], np.iinfo(np.int64).max])


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists): hash their text
        return pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()


class _Lengths:
    """Exact text length distribution of one string column, batch by batch."""

    def __init__(self) -> None:
        self.counts = np.zeros(len(_EDGES) - 1, dtype=np.int64)
        self.total = 0
        self.n = 0
        self.low: int | None = None
        self.high: int | None = None

    def add(self, column: pa.Array) -> None:
        lengths = pc.utf8_length(column).drop_null().to_numpy(zero_copy_only=False)
        if not len(lengths):
            return
        self.counts += np.histogram(lengths, bins=_EDGES)[0]
        self.total += int(lengths.sum())
        self.n += len(lengths)
        low, high = int(lengths.min()), int(lengths.max())
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def to_dict(self) -> dict[str, Any]:
        histogram = {
            f"<={int(_EDGES[i + 1] - 1) if i else 0}": int(c)
            for i, c in enumerate(self.counts)
            if c
        }
        return {
            "min": self.low,
            "max": self.high,
            "mean": round(self.total / self.n, 2) if self.n else None,
            "histogram": histogram,
        }


def _overlaps(hashes: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, int]:
    out = {}
    for a, b in _PAIRS:
        if len(parts.get(a, ())) and len(parts.get(b, ())):
            known = np.sort(hashes[parts[a]])
            probe = hashes[parts[b]]
            at = np.minimum(np.searchsorted(known, probe), len(known) - 1)
            out[f"{a}/{b}"] = int((known[at] == probe).sum())
        else:
            out[f"{a}/{b}"] = 0
    return out


def _one_pass(
    table: ArrowTable,
    features: list[str],
    target: str,
    kept: np.ndarray,
    *,
    name: str,
    batch_rows: int,
    seed: int,
) -> tuple[dict[str, int], dict[str, _Lengths], np.ndarray, pd.DataFrame, np.ndarray]:
    """Null counts, text lengths and row hashes of every row, and the sample, in one pass."""
    columns = [*features, target]
    n_table = table.num_rows
    strings = [
        c
        for c in features
        if pa.types.is_string(table.schema.field(c).type)
        or pa.types.is_large_string(table.schema.field(c).type)
    ]
    lengths = {c: _Lengths() for c in strings}
    missing = dict.fromkeys(columns, 0)
    hashes = np.zeros(n_table, dtype=np.uint64)
    rng = np.random.default_rng(seed)
    sample_pos = np.sort(rng.choice(len(kept), min(SAMPLE_ROWS, len(kept)), replace=False))
    sample_rows = kept[sample_pos]
    pieces: list[pd.DataFrame] = []
    with Progress(n_table, f"report {name}", "rows") as bar:
        for start, batch in table.iter_batches(columns, batch_rows):
            n = batch.num_rows
            for c in columns:
                missing[c] += batch.column(c).null_count
            for c in strings:
                lengths[c].add(batch.column(c))
            frame = batch.to_pandas()
            hashes[start : start + n] = _row_hashes(frame)
            lo, hi = np.searchsorted(sample_rows, [start, start + n])
            if lo < hi:
                pieces.append(frame.iloc[sample_rows[lo:hi] - start][features])
            bar.update(n)
    sample = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=features)
    return missing, lengths, hashes, sample, sample_pos


def _content_checks(
    hashes: np.ndarray,
    kept: np.ndarray,
    parts: dict[str, np.ndarray],
    warnings: list[dict[str, Any]],
) -> tuple[int, dict[str, int]]:
    """Duplicate rows and rows shared between parts, by row hash; warnings for them."""
    kept_hashes = hashes[kept]
    ordered = np.sort(kept_hashes)
    duplicates = int((ordered[1:] == ordered[:-1]).sum())
    if duplicates:
        warnings.append(
            {
                "kind": "duplicates",
                "message": f"{duplicates} duplicate row(s); duplicates across train and test inflate test scores",
            }
        )
    overlap = _overlaps(hashes, parts)
    shared = {k: v for k, v in overlap.items() if v}
    if shared:
        warnings.append(
            {
                "kind": "split_leakage",
                "message": "rows of one part repeat rows of another ("
                + ", ".join(f"{k}: {v}" for k, v in shared.items())
                + "); scores on the later part are inflated. Drop duplicate rows before splitting",
            }
        )
    return duplicates, overlap


def table_report(
    table: ArrowTable,
    *,
    features: list[str],
    target: str,
    y: pd.Series,
    kept: np.ndarray,
    name: str,
    task: str,
    classes: list[Any] | None,
    parts: dict[str, np.ndarray],
    skipped: int = 0,
    skipped_rows: list[int] | None = None,
    batch_rows: int = 65_536,
    seed: int = 0,
) -> DataReport:
    """Check a streamed table in one pass (see the module's docstring for what is exact).

    Parameters
    ----------
    table
        The table.
    features, target
        The columns checked.
    y
        The raw targets of the kept rows (in memory already).
    kept
        The table rows of the dataset (rows without a target may have been skipped).
    name, task, classes
        As for :func:`~aimass_lab.data._report.compute_report`.
    parts
        Table rows of each part (for the leakage between splits).
    skipped, skipped_rows
        Rows skipped for a missing target, and the first of them.
    """
    missing, lengths, hashes, sample, sample_pos = _one_pass(
        table, features, target, kept, name=name, batch_rows=batch_rows, seed=seed
    )
    base = compute_report(
        sample,
        y.iloc[sample_pos].reset_index(drop=True),
        name=name,
        task=task,
        target=target,
        class_order=classes,
    )
    warnings = [w for w in base.warnings if w["kind"] in ("leakage", "constant")]
    partial = len(sample) < len(kept)
    if partial:
        for w in warnings:
            w["message"] += f" (on a random sample of {len(sample)} rows)"
    for row in base.schema:
        row["missing"] = int(missing.get(row["column"], row["missing"]))
    for row in base.schema:
        if row["column"] == target:
            row["missing"] = int(y.isna().sum())
    n_missing = sum(missing[c] for c in features)
    if n_missing:
        detail = ", ".join(f"{c!r}: {missing[c]}" for c in features if missing[c])
        warnings.append(
            {
                "kind": "missing",
                "message": f"{n_missing} missing feature value(s) ({detail}); they are filled by "
                "preprocess.impute (default 'mean')",
            }
        )
    class_balance = _class_balance(y, classes, warnings) if task == "classification" else None
    duplicates, overlap = _content_checks(hashes, kept, parts, warnings)
    if skipped:
        shown = ", ".join(str(r) for r in (skipped_rows or []))
        warnings.append(
            {
                "kind": "skipped",
                "message": f"{skipped} row(s) without a target were skipped (on_bad_record='skip'; "
                f"first rows: {shown})",
            }
        )
    return DataReport(
        name=name,
        task=task,
        target=target,
        n_rows=len(kept),
        n_features=len(features),
        schema=base.schema,
        missing=n_missing,
        class_balance=class_balance,
        duplicates=duplicates,
        constant_columns=base.constant_columns,
        warnings=warnings,
        rows_read=table.num_rows,
        sample_rows=len(sample) if partial else None,
        sampled=["schema.unique", "constant_columns", "leakage"] if partial else [],
        split_overlap=overlap,
        text_lengths={c: v.to_dict() for c, v in lengths.items()} or None,
        skipped=skipped,
        skipped_rows=list(skipped_rows or []),
    )
