"""From a name, dict or spec to a checked, split and preprocessed :class:`Dataset`."""

from __future__ import annotations

import hashlib
import json
import os
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aimass_lab.data._base import LazyData, RawData
from aimass_lab.data._dataset import Dataset
from aimass_lab.data._plugins import get_source
from aimass_lab.data._preprocess import Preprocessor, category_key
from aimass_lab.data._report import compute_report
from aimass_lab.data._resolve import resolve_named, resolve_spec
from aimass_lab.data._samples import ArraySamples
from aimass_lab.data._sources import resolve_source_refs
from aimass_lab.data._split import split_indices
from aimass_lab.data._textdata import (
    text_data_from_raw,
    text_from_arrow,
    text_read_spec,
    text_spec,
)
from aimass_lab.errors import DataError, accepted
from aimass_lab.specs import DataSpec
from aimass_lab.workspace import resolve_workspace

if TYPE_CHECKING:
    from aimass_lab.data._report import DataReport
    from aimass_lab.workspace import Workspace

__all__ = ["build_dataset", "infer_task", "load", "report", "resolve_spec"]

#: Integer-valued targets with at most this many distinct values are class labels.
MAX_INFERRED_CLASSES = 20
_FINGERPRINT_VERSION = "aimass-data-1"


# ----------------------------------------------------------------------------------- loading
def load(
    data: Any, *, workspace: Workspace | str | os.PathLike[str] | None = None, **overrides: Any
) -> Dataset:
    """Load, check, split and preprocess a dataset.

    The raw data comes from the spec's source; the split is seeded (stratified for
    classification when possible; with ``split.folds`` the test part is held out first and
    ``split.fold`` picks the validation fold); preprocessing is fitted on the training part
    only and applied to every part.

    Parameters
    ----------
    data
        A built-in or registered name, a dict, a DataSpec, or a Dataset.
    workspace
        The workspace for registered names and stored DataFrames/arrays.
    **overrides
        DataSpec fields to change (see :func:`resolve_spec`).

    Returns
    -------
    Dataset
        ``X_train``/``y_train``/``X_val``/``y_val``/``X_test``/``y_test``, ``preprocessor``,
        ``fingerprint``, ``datamodule()``...

    Raises
    ------
    NotFoundError, SpecError, DataError
        With a message that says what was wrong and what is accepted.

    Examples
    --------
    >>> ds = load("iris", split={"val": 0.2, "test": 0.2, "seed": 1})
    >>> ds.task, ds.input_shape, ds.sizes
    ('classification', (4,), {'train': 90, 'val': 30, 'test': 30})
    """
    if isinstance(data, Dataset):
        if not overrides:
            return data
        if workspace is None:
            workspace = data.workspace
    spec, name, registered = resolve_named(data, workspace, overrides)
    source = get_source(spec.source)
    ws = None if workspace is None else resolve_workspace(workspace)
    spec = text_spec(spec)  # text (issue 13): a built-in text dataset names its text column
    read = resolve_source_refs(spec, ws)  # source://NAME: the user's grant checked first
    if read.target != spec.target:  # found in the header of the source's file
        spec = spec.model_copy(update={"target": read.target})
    text = text_from_arrow(read, ws)  # a text Parquet source: two columns, through Arrow
    raw = text if text is not None else source.load(text_read_spec(read), ws)
    if spec.text is not None and isinstance(raw, RawData):  # text: tokenized parts
        raw = text_data_from_raw(spec, raw)
    if isinstance(raw, LazyData):
        dataset = build_lazy_dataset(spec, raw, name=name, registered=registered)
    elif isinstance(raw, RawData):
        dataset = build_dataset(spec, raw, name=name, registered=registered)
    else:
        raise DataError(
            f"the source {spec.source!r} returned {type(raw).__name__}; a Source.load must return "
            "aimass_lab.data.RawData (or LazyData for data read on demand)"
        )
    dataset.workspace = ws
    return dataset


def infer_task(y: pd.Series) -> str:
    """``"classification"`` for text, bool and category targets and integer values with few
    distinct values (at most ``MAX_INFERRED_CLASSES``), else ``"regression"``."""
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return "classification"
    values = y.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]
    integral = bool(np.all(np.mod(values, 1) == 0))
    if integral and len(np.unique(values)) <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _class_order(y: pd.Series, given: Any) -> list[Any]:
    if given is not None:
        return [_jsonable(c) for c in given]
    values = pd.unique(y)
    numeric = all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
        for v in values
    )
    ordered = sorted(values, key=float) if numeric else sorted(values, key=category_key)
    return [_jsonable(v) for v in ordered]


def _where(spec: DataSpec) -> str:
    if spec.source == "builtin":
        return f"the built-in dataset {spec.name!r}"
    if spec.source == "sql":
        return "the SQL query"
    return f"source {spec.source!r}" + (f" ({spec.path})" if spec.path else "")


def _table(spec: DataSpec, raw: RawData) -> tuple[pd.DataFrame | np.ndarray, pd.Series, str]:
    """Features (a table or images), targets and the target's name, with the column checks."""
    X: Any = raw.X
    if raw.y is None:
        if not isinstance(X, pd.DataFrame):
            raise DataError(
                f"{_where(spec)} gave {type(X).__name__} without targets; a source returns "
                "RawData(table) with the target column inside, or RawData(X, y)"
            )
        columns = [str(c) for c in X.columns]
        X = X.set_axis(columns, axis=1)
        if not spec.target:
            raise DataError(
                f"{_where(spec)} gave a table without saying which column to predict; set target to "
                f"one of: {', '.join(columns)}"
            )
        target = spec.target
        if target not in columns:
            raise DataError(f"target column {target!r} not found; columns: {', '.join(columns)}")
        y = X[target]
        X = X.drop(columns=[target])
        if spec.features and target in spec.features:
            raise DataError(
                f"the target column {target!r} cannot also be a feature; remove it from features"
            )
    else:
        target = spec.target or raw.target_name or "target"
        y_arr = raw.y if isinstance(raw.y, pd.Series) else np.asarray(raw.y)
        if getattr(y_arr, "ndim", 1) != 1:
            raise DataError(
                f"the targets must be one value per row; got shape {np.shape(y_arr)}. "
                "Predicting several columns at once is not supported"
            )
        y = pd.Series(y_arr, name=target)
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X)
            if X.dtype == object:
                raise DataError("the features have dtype object; give numbers (or a DataFrame)")
            if X.ndim == 2:
                X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
            elif X.ndim == 3:
                X = X[:, None, :, :]
            elif X.ndim != 4:
                raise DataError(
                    f"features must be a table (N, F) or images (N, C, H, W) or (N, H, W); got shape {X.shape}"
                )
        else:
            X = X.set_axis([str(c) for c in X.columns], axis=1)
    if isinstance(X, pd.DataFrame):
        X = X.reset_index(drop=True)
        if spec.features:
            missing = [f for f in spec.features if f not in X.columns]
            if missing:
                raise DataError(
                    f"feature column(s) {accepted(missing)} not found; columns: {', '.join(X.columns)}"
                )
            X = X[list(spec.features)]
    elif spec.features:
        raise DataError("features selects table columns; this data is images")
    y = y.reset_index(drop=True)
    n = len(X)
    if n == 0:
        raise DataError(
            f"the data is empty: {_where(spec)} gave 0 rows; check the file, query or filter"
        )
    if isinstance(X, pd.DataFrame) and X.shape[1] == 0:
        raise DataError(
            f"there are no feature columns: {_where(spec)} holds only the target {target!r}"
        )
    if len(y) != n:
        raise DataError(
            f"features and targets differ in length: {n} rows of features, {len(y)} targets"
        )
    return X, y, target


def _check_target(y: pd.Series, target: str) -> None:
    missing = y.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        shown = ", ".join(str(r) for r in rows[:5]) + (", …" if len(rows) > 5 else "")
        raise DataError(
            f"target column {target!r} has {len(rows)} missing value(s) (NaN) in {len(rows)} of "
            f"{len(y)} rows (row positions {shown}); drop those rows before loading, e.g. "
            f"df = df.dropna(subset=[{target!r}]), or fill them in"
        )


def _hash_content(digest: Any, X: pd.DataFrame | np.ndarray, y: pd.Series) -> None:
    if isinstance(X, pd.DataFrame):
        for column in X.columns:
            col = X[column]
            digest.update(f"col:{column}:{col.dtype}\n".encode())
            try:
                hashed = pd.util.hash_pandas_object(col, index=False).to_numpy()
            except TypeError:  # unhashable cells
                hashed = pd.util.hash_pandas_object(col.astype(str), index=False).to_numpy()
            digest.update(hashed.tobytes())
    else:
        arr = np.ascontiguousarray(X)
        digest.update(f"images:{arr.shape}:{arr.dtype}\n".encode())
        digest.update(arr.tobytes())
    digest.update(f"target:{y.name}:{y.dtype}\n".encode())
    digest.update(
        pd.util.hash_pandas_object(y.astype(str) if y.dtype == object else y, index=False)
        .to_numpy()
        .tobytes()
    )


def fingerprint_of(
    X: pd.DataFrame | np.ndarray, y: pd.Series, spec: DataSpec, task: str, classes: list[Any] | None
) -> str:
    """sha256 (hex) of the raw content and the settings that shape the arrays."""
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode() + b"\n")
    _hash_content(digest, X, y)
    digest.update(json.dumps(_settings(spec, task, classes), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _labels(
    spec: DataSpec, y: pd.Series, target: str, given_classes: Any, given_task: str | None
) -> tuple[str, list[Any] | None, np.ndarray]:
    """The task, the class order and the model-ready labels (class indices or floats)."""
    _check_target(y, target)
    task = spec.task or given_task or infer_task(y)
    if task not in ("classification", "regression"):
        raise DataError(
            f"unknown task {task!r} from {_where(spec)}; accepted: 'classification', 'regression'"
        )
    classes: list[Any] | None = None
    if task == "classification":
        classes = _class_order(y, given_classes)
        lookup = {category_key(c): i for i, c in enumerate(classes)}
        # one lookup per distinct value, not per row (millions of rows, a few classes)
        inverse, distinct = pd.factorize(y, use_na_sentinel=False)
        mapped = np.array([lookup.get(category_key(v), -1) for v in distinct], dtype=np.int64)
        codes = mapped[inverse]
        if (codes < 0).any():
            unknown = sorted({category_key(v) for v, c in zip(y, codes, strict=True) if c < 0})
            raise DataError(
                f"target values {accepted(unknown[:5])} are not among the classes {accepted(classes)}"
            )
        return task, classes, codes
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        example = y.iloc[0]
        raise DataError(
            f"target column {target!r} holds non-numbers (dtype {y.dtype}, e.g. {example!r}); "
            "a regression target must be numeric. Use task='classification' to predict labels"
        )
    return task, None, y.to_numpy(dtype=np.float32)


def build_lazy_dataset(
    spec: DataSpec, raw: LazyData, *, name: str | None = None, registered: bool = False
) -> Dataset:
    """Check the labels, split the rows and build parts read on demand (see :class:`LazyData`)."""
    target = spec.target or raw.target_name or "target"
    y = raw.y.reset_index(drop=True).rename(target)
    if len(y) == 0:
        raise DataError(f"the data is empty: {_where(spec)} gave 0 rows")
    task, classes, y_all = _labels(spec, y, target, raw.classes, raw.task)
    stratify = y_all if task == "classification" and spec.split.stratify else None
    train, val, test, stratified = split_indices(len(y_all), stratify, spec.split)
    indices = {"train": train, "val": val, "test": test}
    parts, pre = raw.build_parts(spec, indices, y_all, task)
    effective = spec if spec.task == task else spec.model_copy(update={"task": task})
    label = name or _default_name(spec)
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode() + b"\n")
    digest.update(raw.content_digest().encode())
    digest.update(json.dumps(_settings(spec, task, classes), sort_keys=True, default=str).encode())

    return Dataset(
        spec=effective,
        name=label,
        task=task,
        classes=classes,
        target=target,
        parts=parts,
        indices=indices,
        preprocessor=pre,
        fingerprint=digest.hexdigest(),
        stratified=stratified,
        registered=registered,
        report=partial(
            raw.report, name=label, task=task, target=target, classes=classes, indices=indices
        ),
    )


def _settings(spec: DataSpec, task: str, classes: list[Any] | None) -> dict[str, Any]:
    """The settings that shape the model-ready data (part of the fingerprint)."""
    settings: dict[str, Any] = {
        "task": task,
        "classes": classes,
        "split": spec.split.to_dict(),
        "preprocess": spec.preprocess.to_dict(),
        "as_images": spec.as_images,
        "image_size": spec.image_size,
    }
    if spec.text is not None:
        settings.update(text=spec.text, tokenizer=spec.tokenizer.to_dict())
    if spec.on_bad_record != "error":
        settings["on_bad_record"] = spec.on_bad_record
    return settings


def build_dataset(
    spec: DataSpec, raw: RawData, *, name: str | None = None, registered: bool = False
) -> Dataset:
    """Check, split and preprocess raw data into a :class:`Dataset`.

    Parameters
    ----------
    spec
        The data spec.
    raw
        What the source read.
    name
        The dataset's name (default: made from the spec).
    registered
        Whether it is the registered dataset ``name`` as recorded.
    """
    X, y, target = _table(spec, raw)
    task, classes, y_all = _labels(spec, y, target, raw.classes, raw.task)
    image = not isinstance(X, pd.DataFrame)

    if (spec.augment.flip or spec.augment.crop) and not image:
        raise DataError(
            "augment.flip and augment.crop work on images; this dataset is a table. "
            "Use augment.noise for tables, or switch them off"
        )

    stratify = y_all if task == "classification" and spec.split.stratify else None
    train, val, test, stratified = split_indices(len(y_all), stratify, spec.split)

    pre = Preprocessor.from_spec(spec.preprocess, kind="image" if image else "tabular")
    raw_rows: pd.DataFrame | np.ndarray = X  # what a page of samples shows (Samples.preview)
    if image:
        images = np.asarray(X, dtype=np.float32)
        raw_rows = images
        pre.fit(images[train])
        parts = [
            pre.transform(images[idx]) if len(idx) else _empty(images.shape[1:])
            for idx in (train, val, test)
        ]
    else:
        assert isinstance(X, pd.DataFrame)
        pre.fit(X.iloc[train], y_all[train], task)
        width = len(pre.feature_names_)
        parts = [
            pre.transform(X.iloc[idx]) if len(idx) else _empty((width,))
            for idx in (train, val, test)
        ]

    effective = spec if spec.task == task else spec.model_copy(update={"task": task})
    label = name or _default_name(spec)

    return Dataset(
        spec=effective,
        name=label,
        task=task,
        classes=classes,
        target=target,
        parts={
            part: ArraySamples(features, y_all[idx], raw=raw_rows, raw_index=idx)
            for part, features, idx in zip(
                ("train", "val", "test"), parts, (train, val, test), strict=True
            )
        },
        indices={"train": train, "val": val, "test": test},
        preprocessor=pre,
        fingerprint=fingerprint_of(X, y, spec, task, classes),
        stratified=stratified,
        registered=registered,
        report=partial(
            compute_report, X, y, name=label, task=task, target=target, class_order=classes
        ),
    )


def _default_name(spec: DataSpec) -> str:
    if spec.path and spec.path.startswith("sha256:") and not spec.name:
        return f"{spec.source}-{spec.path[7:15]}"
    return spec.label


def _empty(shape: tuple[int, ...]) -> np.ndarray:
    return np.zeros((0, *shape), dtype=np.float32)


# ------------------------------------------------------------------------------------ report
def report(
    data: Any,
    *,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    target: str | None = None,
    **overrides: Any,
) -> DataReport:
    """Check a dataset's raw data: schema, missing values, class balance, duplicates, leakage.

    Parameters
    ----------
    data
        A :class:`Dataset`, anything :func:`load` takes, or a pandas DataFrame (then give
        ``target``).
    workspace
        For registered names.
    target
        The target column when ``data`` is a DataFrame.
    **overrides
        DataSpec fields (see :func:`resolve_spec`); ``task`` for a DataFrame.

    Returns
    -------
    DataReport
        ``to_dict()`` gives JSON; in a notebook it shows as a table.

    Examples
    --------
    >>> report("iris").class_balance
    {'setosa': 50, 'versicolor': 50, 'virginica': 50}
    """
    if isinstance(data, pd.DataFrame):
        from aimass_lab.data._report import compute_report

        if target is None:
            raise DataError(
                f"give target=<column> to report on a DataFrame; columns: {', '.join(map(str, data.columns))}"
            )
        spec = DataSpec(source="dataframe", path="sha256:" + "0" * 64, target=target, **overrides)
        X, y, name = _table(spec, RawData(data))
        task = spec.task or infer_task(y)
        return compute_report(X, y, name="DataFrame", task=task, target=name)
    if target is not None:
        overrides["target"] = target
    dataset = load(data, workspace=workspace, **overrides)
    return dataset.report()
