"""Data checks on the raw table: schema, missing values, balance, duplicates, leakage."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aimass_lab.data._target import target_warnings

__all__ = ["DataReport", "class_balance", "compute_report", "leakage_warning"]

#: A class is "strongly" imbalanced when the rarest has fewer rows than this share of the commonest.
IMBALANCE_RATIO = 0.1
#: A numeric feature whose absolute correlation with the target exceeds this is a leak.
LEAK_CORRELATION = 0.99
#: Tables with more rows than this count distinct values and look for leaking features on a
#: fixed-seed random sample of this many rows (missing values and duplicates stay exact).
REPORT_SAMPLE_ROWS = 200_000


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class DataReport:
    """What the checks found in the raw data (before preprocessing).

    Attributes
    ----------
    name
        The dataset's name.
    task
        ``"classification"`` or ``"regression"``.
    target
        The target column.
    n_rows, n_features
        The table's size (features exclude the target; images count pixels).
    schema
        One dict per feature and the target: ``column``, ``dtype``, ``missing``, ``unique``.
    missing
        Missing feature values in total.
    class_balance
        Rows per class (classification), else ``None``.
    duplicates
        Rows that repeat an earlier row (features and target).
    constant_columns
        Features with a single value.
    warnings
        One dict per finding: ``kind`` (``"leakage"``, ``"imbalance"``, ``"missing"``,
        ``"duplicates"``, ``"constant"``, ``"bad_records"``), ``message`` and, where it
        applies, ``column``.
    bad_records
        Records that could not be read (unreadable images, undecodable text) and were
        skipped (``on_bad_record="skip"``).
    bad_examples
        The first of them (file or row), at most 10.
    leaked
        Validation and test rows whose content (by hash) is also in the training part.
    distributions
        Value counts of what the data is made of: ``image_size`` (``"WxH"``), ``image_mode``,
        ``text_length`` (histogram of tokens or characters), as the source knows them.
    sample
        ``None`` when every number is exact; else what was computed on a random sample.
    selection
        What ``preprocess.select`` kept and why (method, features in and out, each
        feature's score or variance, PCA's explained variance), else ``None``.
    """

    name: str
    task: str
    target: str
    n_rows: int
    n_features: int
    schema: list[dict[str, Any]] = field(default_factory=list)
    missing: int = 0
    class_balance: dict[str, int] | None = None
    duplicates: int = 0
    constant_columns: list[str] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    bad_records: int = 0
    bad_examples: list[str] = field(default_factory=list)
    leaked: int = 0
    distributions: dict[str, dict[str, int]] = field(default_factory=dict)
    sample: str | None = None
    selection: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether no warning was raised."""
        return not self.warnings

    def warning_kinds(self) -> list[str]:
        """The kinds of the warnings, in order."""
        return [w["kind"] for w in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON types."""
        data = asdict(self)
        return json.loads(json.dumps(data, default=_jsonable))

    def __repr__(self) -> str:
        lines = [
            f"DataReport({self.name!r}: {self.task}, {self.n_rows} rows x {self.n_features} features, "
            f"missing={self.missing}, duplicates={self.duplicates})"
        ]
        if self.class_balance:
            lines.append(
                "  classes: " + ", ".join(f"{k}={v}" for k, v in self.class_balance.items())
            )
        if self.sample:
            lines.append(f"  sampled: {self.sample}")
        if self.selection:
            lines.append(f"  selection: {self.selection.get('text', self.selection['method'])}")
        lines.extend(f"  ! {w['kind']}: {w['message']}" for w in self.warnings)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(str(s['column']))}</td><td>{e(str(s['dtype']))}</td>"
            f"<td style='text-align:right'>{s['missing']}</td><td style='text-align:right'>{s['unique']}</td></tr>"
            for s in self.schema[:50]
        )
        more = (
            f"<tr><td colspan='4'>… {len(self.schema) - 50} more columns</td></tr>"
            if len(self.schema) > 50
            else ""
        )
        balance = ""
        if self.class_balance:
            balance = (
                "<p><b>classes</b>: "
                + ", ".join(f"{e(str(k))}={v}" for k, v in self.class_balance.items())
                + "</p>"
            )
        warnings = ""
        if self.warnings:
            items = "".join(
                f"<li><b>{e(w['kind'])}</b>: {e(w['message'])}</li>" for w in self.warnings
            )
            warnings = f"<ul style='color:#a15c00'>{items}</ul>"
        if self.sample:
            warnings = f"<p><i>{e(self.sample)}</i></p>" + warnings
        if self.selection:
            text = str(self.selection.get("text", self.selection["method"]))
            warnings = f"<p><b>feature selection</b>: {e(text)}</p>" + warnings
        return (
            "<div class='aimass-data-report'>"
            f"<p><b>{e(self.name)}</b> · {e(self.task)} · target <code>{e(self.target)}</code> · "
            f"{self.n_rows} rows &times; {self.n_features} features · missing {self.missing} · "
            f"duplicates {self.duplicates}</p>{balance}{warnings}"
            "<table><thead><tr><th>column</th><th>dtype</th><th>missing</th><th>unique</th></tr></thead>"
            f"<tbody>{rows}{more}</tbody></table></div>"
        )


def _safe_nunique(values: pd.Series) -> int:
    try:
        return int(values.nunique(dropna=True))
    except TypeError:  # unhashable cells
        return int(values.astype(str).nunique(dropna=True))


def _leak(
    feature: pd.Series, target: pd.Series, target_numeric: bool, classification: bool
) -> str | None:
    """Why ``feature`` leaks the target, or ``None``."""
    pair = pd.DataFrame({"f": feature.to_numpy(), "t": target.to_numpy()}).dropna()
    if len(pair) < 3:
        return None
    f, t = pair["f"], pair["t"]
    try:
        if f.astype(str).equals(t.astype(str)) or (
            pd.api.types.is_numeric_dtype(f)
            and target_numeric
            and np.array_equal(f.to_numpy(), t.to_numpy())
        ):
            return "is identical to the target"
    except (TypeError, ValueError):
        pass
    if target_numeric and pd.api.types.is_numeric_dtype(f) and not pd.api.types.is_bool_dtype(f):
        fv, tv = f.to_numpy(dtype=np.float64), t.to_numpy(dtype=np.float64)
        if fv.std() > 0 and tv.std() > 0:
            corr = float(np.corrcoef(fv, tv)[0, 1])
            if abs(corr) > LEAK_CORRELATION:
                return f"has correlation {corr:+.4f} with the target"
    n_target = _safe_nunique(t)
    if classification or n_target < 0.5 * len(pair):
        try:
            pairs = len(pair.drop_duplicates())
        except TypeError:
            return None
        n_feature = _safe_nunique(f)
        if 1 < n_target == n_feature == pairs:
            return "maps one-to-one onto the target (each value gives exactly one target value)"
    return None


def compute_report(
    X: pd.DataFrame | np.ndarray,
    y: pd.Series,
    *,
    name: str,
    task: str,
    target: str,
    class_order: list[Any] | None = None,
    sample_rows: int = REPORT_SAMPLE_ROWS,
    seed: int = 0,
) -> DataReport:
    """Check raw features ``X`` and targets ``y``.

    Parameters
    ----------
    X
        The raw feature table, or an image array ``(N, C, H, W)``.
    y
        The raw targets (original labels).
    name, task, target
        Labels for the report.
    class_order
        The classes in the dataset's order (for ``class_balance``).
    sample_rows, seed
        A table with more rows than ``sample_rows`` counts distinct values (schema
        ``unique``, constant columns) and looks for leaking features on a random sample of
        ``sample_rows`` rows drawn with ``seed``; the report's ``sample`` says so. Missing
        values, duplicates and the class balance stay exact.
    """
    y = pd.Series(np.asarray(y), name=target)
    n_rows = len(y)
    classification = task == "classification"
    target_row = {
        "column": target,
        "dtype": str(y.dtype),
        "missing": int(y.isna().sum()),
        "unique": _safe_nunique(y),
    }
    sampled = None
    if isinstance(X, pd.DataFrame):
        sample = None
        if n_rows > sample_rows:
            rng = np.random.default_rng(seed)
            sample = np.sort(rng.choice(n_rows, sample_rows, replace=False))
            sampled = (
                "distinct values (schema 'unique'), constant columns and feature leakage "
                f"computed on a sample of {sample_rows:,} of {n_rows:,} rows; the rest is exact"
            )
        found = _check_table(X, y, classification, sample)
    else:
        found = _check_array(np.asarray(X))
    n_features, schema, missing, duplicates, constant, warnings = found
    schema.append(target_row)
    balance = class_balance(y, class_order, warnings) if classification else None
    warnings.extend(target_warnings(X, y, task=task, target=target))
    if duplicates:
        warnings.append(
            {
                "kind": "duplicates",
                "message": f"{duplicates} duplicate row(s); duplicates across train and test inflate test scores",
            }
        )
    for c in constant:
        warnings.append(
            {
                "kind": "constant",
                "column": c,
                "message": f"feature {c!r} has a single value and carries no information",
            }
        )
    return DataReport(
        name=name,
        task=task,
        target=target,
        n_rows=n_rows,
        n_features=n_features,
        schema=schema,
        missing=missing,
        class_balance=balance,
        duplicates=duplicates,
        constant_columns=constant,
        warnings=warnings,
        sample=sampled,
    )


#: What a check of the features finds: n_features, schema rows, missing values, duplicate
#: rows, constant columns, warnings.
_Found = tuple[int, list[dict[str, Any]], int, int, list[str], list[dict[str, Any]]]


def _check_table(
    X: pd.DataFrame, y: pd.Series, classification: bool, sample: np.ndarray | None = None
) -> _Found:
    """Schema, missing values, duplicates, constant and leaking columns of a feature table.

    With ``sample`` (row positions), distinct values and leakage are computed on those rows.
    """
    n_rows = len(y)
    part = X if sample is None else X.iloc[sample]
    part_y = y if sample is None else y.iloc[sample].reset_index(drop=True)
    schema: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    constant: list[str] = []
    missing_by_col: dict[str, int] = {}
    for c in X.columns:
        col = X[c]
        n_missing = int(col.isna().sum())
        unique = _safe_nunique(part[c])
        if unique <= 1 and sample is not None:  # constant on the sample: count them all
            unique = _safe_nunique(col)
        schema.append(
            {"column": str(c), "dtype": str(col.dtype), "missing": n_missing, "unique": unique}
        )
        if n_missing:
            missing_by_col[str(c)] = n_missing
        if unique <= 1 and n_rows > 1:
            constant.append(str(c))
    missing = sum(missing_by_col.values())
    duplicates = _duplicates(X, y)
    target_numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    on = "" if sample is None else f" (on a random sample of {len(sample):,} rows)"
    for c in X.columns:
        reason = _leak(part[c].reset_index(drop=True), part_y, target_numeric, classification)
        if reason:
            warnings.append(
                {
                    "kind": "leakage",
                    "column": str(c),
                    "message": f"feature {str(c)!r} {reason}{on}: it probably leaks the answer; "
                    "leave it out with features=[...]",
                }
            )
    if missing_by_col:
        detail = ", ".join(f"{c!r}: {k}" for c, k in missing_by_col.items())
        warnings.append(
            {
                "kind": "missing",
                "message": f"{missing} missing feature value(s) ({detail}); they are filled by "
                "preprocess.impute (default 'mean')",
            }
        )
    return X.shape[1], schema, missing, duplicates, constant, warnings


def _duplicates(X: pd.DataFrame, y: pd.Series) -> int:
    """Rows (features and target) that repeat an earlier row, by a 64-bit hash of each row."""
    try:
        full = X.reset_index(drop=True).assign(**{"__target__": y.to_numpy()})
        hashes = pd.util.hash_pandas_object(full, index=False)
        return int(hashes.duplicated().sum())
    except TypeError:  # mixed objects the hash does not take: compare them as pandas does
        pass
    try:
        return int(full.duplicated().sum())
    except TypeError:  # unhashable cells
        return 0


def _check_array(arr: np.ndarray) -> _Found:
    """Missing values and duplicate samples of an image array ``(N, C, H, W)``."""
    n_features = int(np.prod(arr.shape[1:])) if arr.ndim > 1 else 1
    flat = arr.reshape(len(arr), -1)
    missing = int(np.isnan(flat).sum()) if np.issubdtype(flat.dtype, np.floating) else 0
    schema = [{"column": "pixels", "dtype": str(arr.dtype), "missing": missing, "unique": -1}]
    duplicates = 0
    if len(flat):
        _, first = np.unique(flat, axis=0, return_index=True)
        duplicates = int(len(flat) - len(first))
    warnings: list[dict[str, Any]] = []
    if missing:
        warnings.append({"kind": "missing", "message": f"{missing} missing pixel value(s)"})
    return n_features, schema, missing, duplicates, [], warnings


def leakage_warning(leaked: int, what: str = "row") -> dict[str, Any]:
    """The warning for validation/test rows whose content is also in the training part."""
    return {
        "kind": "leakage",
        "message": f"{leaked} validation/test {what}(s) have the same content as a training "
        f"{what}; they inflate validation and test scores. Remove the duplicates before splitting",
    }


def class_balance(
    y: pd.Series, class_order: list[Any] | None, warnings: list[dict[str, Any]]
) -> dict[str, int]:
    """Rows per class (in the dataset's class order); warns of a strong imbalance."""
    counts = y.value_counts(dropna=True)
    order = class_order if class_order is not None else sorted(counts.index, key=str)
    balance = {str(k): int(counts.get(k, 0)) for k in order}
    present = {k: v for k, v in balance.items() if v > 0}
    if len(present) > 1:
        rare = min(present, key=lambda k: present[k])
        common = max(present, key=lambda k: present[k])
        ratio = present[rare] / present[common]
        if ratio < IMBALANCE_RATIO:
            warnings.append(
                {
                    "kind": "imbalance",
                    "message": f"strong class imbalance: class {rare!r} has {present[rare]} rows, "
                    f"class {common!r} has {present[common]} (ratio {ratio:.3f}); splits are "
                    "stratified, consider class weights or resampling and watch per-class metrics",
                }
            )
    return balance
