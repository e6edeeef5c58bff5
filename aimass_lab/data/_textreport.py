"""The data report of a text dataset, computed in one pass over the texts in chunks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aimass_lab.data._report import DataReport, class_balance, leakage_warning

__all__ = ["text_report"]


def _hashes_and_lengths(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """uint64 content hash (text and target) and character length of every text."""
    hashes: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    labels = data.y.astype(str).to_numpy(dtype=object)
    start = 0
    for texts in data.texts_at(np.arange(len(data))):
        stop = start + len(texts)
        pairs = pd.DataFrame({"t": pd.Series(texts, dtype=object), "y": labels[start:stop]})
        hashes.append(pd.util.hash_pandas_object(pairs, index=False).to_numpy())
        lengths.append(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
        start = stop
    empty_u, empty_i = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    return (
        np.concatenate(hashes) if hashes else empty_u,
        np.concatenate(lengths) if lengths else empty_i,
    )


def _length_stats(lengths: np.ndarray) -> dict[str, float]:
    if not len(lengths):
        return {}
    q = np.percentile(lengths, [5, 50, 95])
    return {
        "min": int(lengths.min()),
        "p5": float(q[0]),
        "median": float(q[1]),
        "p95": float(q[2]),
        "max": int(lengths.max()),
        "mean": float(lengths.mean()),
    }


def _length_histogram(lengths: np.ndarray) -> dict[str, int]:
    """Texts per character-length bin (``"0"``, ``"1-8"``, ``"9-16"``, ``"17-32"``, ...)."""
    if not len(lengths):
        return {}
    bins = np.where(lengths > 0, np.ceil(np.log2(np.maximum(lengths, 1))), -1).astype(int)
    out: dict[str, int] = {}
    for b, count in zip(*np.unique(bins, return_counts=True), strict=True):
        if b < 0:
            label = "0"
        elif b <= 3:
            label = "1-8"
        else:
            label = f"{2 ** (b - 1) + 1}-{2**b}"
        out[label] = out.get(label, 0) + int(count)
    return out


def text_report(
    data: Any,
    *,
    name: str,
    task: str,
    target: str,
    classes: list[Any] | None,
    indices: dict[str, np.ndarray],
) -> DataReport:
    """Schema (text lengths in characters), duplicates, leakage between parts, bad records;
    ``distributions["text_length"]`` is a histogram of character lengths.

    ``data`` is a :class:`~aimass_lab.data._textdata.TextData` (``texts_at``, ``y``,
    ``bad_rows``, ``text_name``).

    Exact: every text is read once, in chunks. Duplicates and leakage compare a 64-bit hash
    of (text, target); a text in the validation or test part that is also in the training
    part is reported as leakage.
    """
    hashes, lengths = _hashes_and_lengths(data)
    y = data.y
    warnings: list[dict[str, Any]] = []
    duplicates = int(len(hashes) - len(np.unique(hashes))) if len(hashes) else 0
    schema = [
        {
            "column": data.text_name,
            "dtype": "text",
            "missing": len(data.bad_rows),
            "unique": len(np.unique(hashes)),
            "length_chars": _length_stats(lengths),
        },
        {
            "column": target,
            "dtype": str(y.dtype),
            "missing": int(y.isna().sum()),
            "unique": int(y.nunique(dropna=True)),
        },
    ]
    balance = class_balance(y, classes, warnings) if task == "classification" else None
    if data.bad_rows:
        shown = [r for r, _ in data.bad_rows[:10]]
        warnings.append(
            {
                "kind": "bad_records",
                "column": data.text_name,
                "count": len(data.bad_rows),
                "rows": shown,
                "message": f"{len(data.bad_rows)} bad text record(s) skipped (missing or not "
                f"UTF-8), first rows: {shown}",
            }
        )
    if duplicates:
        warnings.append(
            {
                "kind": "duplicates",
                "message": f"{duplicates} duplicate text(s) with the same target; duplicates "
                "across train and test inflate test scores",
            }
        )
    train = set(hashes[indices["train"]].tolist()) if len(indices["train"]) else set()
    leaked = 0
    for part in ("val", "test"):
        idx = indices.get(part)
        if idx is not None and len(idx):
            leaked += int(sum(h in train for h in hashes[idx].tolist()))
    if leaked:
        warnings.append({**leakage_warning(leaked, "text"), "column": data.text_name})
    return DataReport(
        name=name,
        task=task,
        target=target,
        n_rows=len(data),
        n_features=1,
        schema=schema,
        missing=len(data.bad_rows),
        class_balance=balance,
        duplicates=duplicates,
        warnings=warnings,
        bad_records=len(data.bad_rows),
        bad_examples=[f"row {row}: {why}" for row, why in data.bad_rows[:10]],
        leaked=leaked,
        distributions={"text_length": _length_histogram(lengths)},
    )
