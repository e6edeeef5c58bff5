"""Seeded train/validation/test splits, stratified when possible, and k-fold selection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from aimass_lab.errors import DataError

if TYPE_CHECKING:
    from aimass_lab.specs import SplitSpec

__all__ = ["split_indices"]


def _holdout(
    index: np.ndarray, y: np.ndarray | None, size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Split ``index`` into (rest, held out); stratify on ``y`` when it is given and possible."""
    from sklearn.model_selection import train_test_split

    if y is not None:
        try:
            rest, held = train_test_split(index, test_size=size, random_state=seed, stratify=y)
            return np.asarray(rest), np.asarray(held), True
        except ValueError:  # a class with one member, or fewer held-out rows than classes
            pass
    rest, held = train_test_split(index, test_size=size, random_state=seed)
    return np.asarray(rest), np.asarray(held), False


def split_indices(
    n: int, y: np.ndarray | None, spec: SplitSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Row indices of the train, validation and test parts.

    Parameters
    ----------
    n
        The number of rows.
    y
        Class indices to stratify on (classification with ``spec.stratify``), else ``None``.
    spec
        Fractions, seed and folds.

    Returns
    -------
    tuple
        ``(train, val, test, stratified)``; each index array is sorted.

    Raises
    ------
    DataError
        When there are too few rows for the asked fractions or folds.
    """
    spec.check_rows(n)  # the one rule for how many rows each part needs
    index = np.arange(n)
    stratified = y is not None
    empty = np.empty(0, dtype=np.int64)
    try:
        if spec.test > 0:
            rest, test, ok = _holdout(index, y, spec.test, spec.seed)
            stratified &= ok
        else:
            rest, test = index, empty
        if spec.folds is not None:
            val, train, ok = _fold(
                rest, None if y is None else y[rest], spec.folds, spec.fold, spec.seed
            )
            stratified &= ok
        elif spec.val > 0:
            fraction = spec.val / (1.0 - spec.test)
            train, val, ok = _holdout(rest, None if y is None else y[rest], fraction, spec.seed)
            stratified &= ok
        else:
            train, val = rest, empty
    except ValueError as exc:
        raise DataError(
            f"cannot split {n} rows with val={spec.val}, test={spec.test}"
            f"{f', folds={spec.folds}' if spec.folds else ''}: {exc}. Use more data or smaller fractions"
        ) from None
    return (
        np.sort(train).astype(np.int64),
        np.sort(val).astype(np.int64),
        np.sort(test).astype(np.int64),
        stratified,
    )


def _fold(
    rest: np.ndarray, y: np.ndarray | None, folds: int, fold: int, seed: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """(validation, train) for fold ``fold`` of ``folds`` over ``rest``."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if y is not None:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= folds:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            train, val = list(splitter.split(rest, y))[fold]
            return rest[val], rest[train], True
    train, val = list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(rest))[fold]
    return rest[val], rest[train], False
