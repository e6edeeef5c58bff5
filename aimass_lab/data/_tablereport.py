"""The data report of a streamed table, in one pass over its record batches, bounded memory.

Exact: the row count, missing values per column (Arrow null counts), class balance (the
labels are in memory already), duplicate rows and validation/test rows whose content is in
the training part (``leaked``; by a 64-bit hash of each row's features and target: 8 bytes
of memory per row), and the text length distribution of string columns
(``distributions["text_length:<column>"]``, characters). On a seeded random sample of
:data:`SAMPLE_ROWS` rows (said in ``report.sample``): distinct values per column, constant
columns and the feature-leaks-the-target checks, which need whole columns at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aimass_lab.data._progress import Progress
from aimass_lab.data._report import DataReport, class_balance, compute_report, leakage_warning

if TYPE_CHECKING:
    from aimass_lab.data._arrow import ArrowTable

__all__ = ["SAMPLE_ROWS", "table_report"]

#: Rows of the random sample the column-wise checks of a streamed report run on.
SAMPLE_ROWS = 50_000
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

    def add(self, column: pa.Array) -> None:
        lengths = pc.utf8_length(column).drop_null().to_numpy(zero_copy_only=False)
        if not len(lengths):
            return
        self.counts += np.histogram(lengths, bins=_EDGES)[0]

    def histogram(self) -> dict[str, int]:
        """Rows per length bucket (``"<=N"`` characters, powers of two)."""
        return {f"<={int(_EDGES[i + 1] - 1)}": int(c) for i, c in enumerate(self.counts) if c}


def _leaked(hashes: np.ndarray, parts: dict[str, np.ndarray]) -> int:
    """Validation and test rows whose content (hash) is also in the training part."""
    train = np.sort(hashes[parts.get("train", np.zeros(0, dtype=np.int64))])
    if not len(train):
        return 0
    probe = np.concatenate([hashes[parts[p]] for p in ("val", "test") if p in parts] or [train[:0]])
    at = np.minimum(np.searchsorted(train, probe), len(train) - 1)
    return int((train[at] == probe).sum())


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
) -> tuple[int, int]:
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
    leaked = _leaked(hashes, parts)
    if leaked:
        warnings.append(leakage_warning(leaked, "row"))
    return duplicates, leaked


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
        Table rows of each part (for the rows shared between the parts).
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
    warnings = [
        w for w in base.warnings if w["kind"] in ("leakage", "constant", "target", "label_feature")
    ]
    if len(sample) < len(kept):
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
    balance = class_balance(y, classes, warnings) if task == "classification" else None
    duplicates, leaked = _content_checks(hashes, kept, parts, warnings)
    examples = [f"row {r}: the target {target!r} is missing" for r in skipped_rows or []]
    if skipped:
        warnings.append(
            {
                "kind": "bad_records",
                "message": f"{skipped} row(s) without a target skipped (on_bad_record='skip'), "
                f"e.g. {examples[0] if examples else 'row ?'}",
            }
        )
    sampled = None
    if len(sample) < len(kept):
        sampled = (
            "distinct values (schema 'unique'), constant columns and feature leakage on a "
            f"random sample of {len(sample):,} of {len(kept):,} rows; the rest is exact"
        )
    return DataReport(
        name=name,
        task=task,
        target=target,
        n_rows=len(kept),
        n_features=len(features),
        schema=base.schema,
        missing=n_missing,
        class_balance=balance,
        duplicates=duplicates,
        constant_columns=base.constant_columns,
        warnings=warnings,
        bad_records=skipped,
        bad_examples=examples,
        leaked=leaked,
        distributions={f"text_length:{c}": v.histogram() for c, v in lengths.items()},
        sample=sampled,
    )
