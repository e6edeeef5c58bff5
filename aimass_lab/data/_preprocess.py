"""Preprocessing fitted on the training part only, with a JSON state stored beside every model.

Tabular data: impute numeric columns (mean, median or most frequent), fill categorical
columns with their most frequent value, one-hot encode categorical columns, and standardize
numeric columns. Images: one global mean and standard deviation. Text: a fitted tokenizer
(``kind="text"``, :class:`aimass_lab.data._text.TextPreprocessor`).

The state is plain JSON (:meth:`Preprocessor.state_dict`), so a served model can rebuild the
preprocessor with :meth:`Preprocessor.from_state` and transform raw records without pickle.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from aimass_lab.data._select import Selector
from aimass_lab.errors import DataError, SpecError, accepted

__all__ = ["Preprocessor", "category_key"]

STATE_VERSION = 1
#: Kinds whose preprocessor is a subclass in a module of its own ("module:Class"; named, not
#: imported, since that module imports this one): text's tokenizer.
_STATE_KINDS = {"text": "aimass_lab.data._text:TextPreprocessor"}
_IMPUTE = ("mean", "median", "most_frequent", "none")


def category_key(value: Any) -> str:
    """The text key of a categorical value, the same for ``1``, ``1.0`` and ``np.int64(1)``."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def _is_missing(values: pd.Series) -> np.ndarray:
    return np.asarray(values.isna(), dtype=bool)


def _most_frequent(values: pd.Series) -> Any:
    counts = values.dropna().value_counts(sort=False)
    if counts.empty:
        return None
    # ties: the smallest key, so the result does not depend on row order
    best = counts.max()
    return min((v for v, c in counts.items() if c == best), key=category_key)


def _finite(value: Any, default: float = 0.0) -> float:
    number = float(value)
    return number if math.isfinite(number) else default


class Preprocessor:
    """Impute, one-hot encode and standardize features; learned on the training part.

    Follows scikit-learn: ``__init__`` stores the settings, :meth:`fit` learns attributes
    whose names end in ``_``, :meth:`transform` gives a ``float32`` array.

    Parameters
    ----------
    kind
        ``"tabular"`` (a DataFrame, or an array with one column per feature) or ``"image"``
        (an ``(N, C, H, W)`` array).
    impute
        How missing numeric values are filled: ``"mean"``, ``"median"``, ``"most_frequent"``
        or ``"none"`` (missing values are then an error). Categorical columns are always
        filled with their most frequent value.
    one_hot
        ``"auto"`` (one-hot encode object, string, category and bool columns), ``"none"``,
        or a list of columns to one-hot encode.
    standardize
        Zero mean, unit variance: per numeric column for tables, one global mean and
        standard deviation for images. One-hot columns stay 0/1.

    Examples
    --------
    >>> import pandas as pd
    >>> pre = Preprocessor().fit(pd.DataFrame({"x": [1.0, 3.0], "c": ["a", "b"]}))
    >>> pre.feature_names_
    ['x', 'c=a', 'c=b']
    >>> pre.transform({"x": 2.0, "c": "b"}).tolist()
    [[0.0, 0.0, 1.0]]
    >>> Preprocessor.from_state(pre.state_dict()).feature_names_
    ['x', 'c=a', 'c=b']
    """

    columns_: list[str]
    categories_: dict[str, list[str]]
    fill_: dict[str, Any]
    mean_: dict[str, float] | float
    scale_: dict[str, float] | float
    feature_names_: list[str]
    encoded_names_: list[str]
    input_shape_: list[int]

    def __init__(
        self,
        kind: str = "tabular",
        impute: str = "mean",
        one_hot: str | Sequence[str] = "auto",
        standardize: bool = True,
        select: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.impute = impute
        self.one_hot = one_hot
        self.standardize = standardize
        self.select = dict(select) if select else None
        #: The fitted feature selection (``preprocess.select``), else ``None``.
        self.select_: Selector | None = None

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: Any, kind: str = "tabular") -> Preprocessor:
        """A preprocessor with the settings of a :class:`~aimass_lab.specs.PreprocessSpec`."""
        one_hot = spec.one_hot if isinstance(spec.one_hot, str) else list(spec.one_hot)
        chosen = getattr(spec, "select", None)
        select = None
        if chosen is not None:
            select = chosen.model_dump(exclude_none=True)
        return cls(
            kind=kind,
            impute=spec.impute,
            one_hot=one_hot,
            standardize=spec.standardize,
            select=select,
        )

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_state`) has run."""
        return hasattr(self, "feature_names_")

    def _check_settings(self) -> None:
        errors = []
        if self.kind not in ("tabular", "image"):
            errors.append(
                {"field": "kind", "value": self.kind, "message": "accepted: 'tabular', 'image'"}
            )
        if self.impute not in _IMPUTE:
            errors.append(
                {
                    "field": "impute",
                    "value": self.impute,
                    "message": f"accepted: {accepted(_IMPUTE)}",
                }
            )
        if errors:
            raise SpecError("Preprocessor", errors)

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, task: str = "classification") -> Preprocessor:
        """Learn fill values, categories and scales from ``X`` (the training part only).

        Parameters
        ----------
        X
            A DataFrame (tabular) or an ``(N, C, H, W)`` array (image).
        y, task
            The training targets (encoded class indices, or numbers) and the task; needed
            by the ``kbest`` and ``l1`` feature selections (``select``).

        Returns
        -------
        Preprocessor
            ``self``.
        """
        self._check_settings()
        self.select_ = None
        if self.kind == "image":
            if self.select:
                raise DataError(
                    "preprocess.select works on tables; this dataset holds images. Remove it"
                )
            return self._fit_image(np.asarray(X, dtype=np.float32))
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
        frame.columns = pd.Index([str(c) for c in frame.columns])
        self._fit_table(frame)
        if self.select:
            encoded = self._transform_table(frame)
            labels = None if y is None else np.asarray(y)
            selector = Selector(self.select).fit(encoded, labels, task, self.encoded_names_)
            self.select_ = selector
            self.feature_names_ = list(selector.names_)
        return self

    def _fit_image(self, X: np.ndarray) -> Preprocessor:
        if X.ndim != 4:
            raise DataError(f"image data must have shape (N, C, H, W); got {X.shape}")
        self.input_shape_ = [int(d) for d in X.shape[1:]]
        if self.standardize and X.size:
            mean = float(X.mean(dtype=np.float64))
            std = float(X.std(dtype=np.float64))
        else:
            mean, std = 0.0, 1.0
        self.mean_ = _finite(mean)
        self.scale_ = std if std > 1e-12 and math.isfinite(std) else 1.0
        self.feature_names_ = []
        return self

    def _categorical_columns(self, frame: pd.DataFrame) -> list[str]:
        if self.one_hot == "none":
            return []
        if self.one_hot == "auto":
            return [
                c
                for c in frame.columns
                if pd.api.types.is_bool_dtype(frame[c])
                or not pd.api.types.is_numeric_dtype(frame[c])
            ]
        listed = [str(c) for c in self.one_hot]
        missing = [c for c in listed if c not in frame.columns]
        if missing:
            raise DataError(
                f"preprocess.one_hot names column(s) {accepted(missing)} that are not features; "
                f"features: {accepted(frame.columns)}"
            )
        return listed

    def _fit_table(self, frame: pd.DataFrame) -> Preprocessor:
        categorical = set(self._categorical_columns(frame))
        columns = [str(c) for c in frame.columns]
        for c in columns:
            if c in categorical:
                continue
            dtype = frame[c].dtype
            if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(
                dtype
            ):
                raise DataError(
                    f"feature column {c!r} holds dates or durations ({dtype}); convert it to numbers "
                    "(e.g. df[col].dt.dayofweek) or leave it out with features=[...]"
                )
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
                raise DataError(
                    f"feature column {c!r} holds text ({dtype}) but preprocess.one_hot is {self.one_hot!r}; "
                    "one-hot encode it (one_hot='auto' or a list naming it) or leave it out with features=[...]"
                )
        self.columns_ = columns
        self.categories_ = {}
        self.fill_ = {}
        means: dict[str, float] = {}
        scales: dict[str, float] = {}
        names: list[str] = []
        for c in columns:
            values = frame[c]
            if c in categorical:
                mode = _most_frequent(values)
                keys = sorted({category_key(v) for v in values.dropna()})
                if not keys:
                    raise DataError(f"categorical column {c!r} has no values in the training part")
                self.fill_[c] = category_key(mode)
                self.categories_[c] = keys
                names.extend(f"{c}={k}" for k in keys)
                continue
            numeric = pd.to_numeric(values, errors="coerce").astype("float64")
            present = numeric.dropna()
            if self.impute == "median":
                fill = present.median() if len(present) else 0.0
            elif self.impute == "most_frequent":
                mode = _most_frequent(present)
                fill = 0.0 if mode is None else mode
            else:  # mean, and a harmless value for "none" (missing values are an error then)
                fill = present.mean() if len(present) else 0.0
            self.fill_[c] = _finite(fill)
            filled = numeric.fillna(self.fill_[c]).to_numpy()
            if self.standardize and len(filled):
                mean, std = float(filled.mean()), float(filled.std())
            else:
                mean, std = 0.0, 1.0
            means[c] = _finite(mean)
            scales[c] = std if std > 1e-12 and math.isfinite(std) else 1.0
            names.append(c)
        self.mean_, self.scale_ = means, scales
        self.feature_names_ = names
        self.encoded_names_ = list(names)
        return self

    def fit_transform(self, X: Any) -> np.ndarray:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(X).transform(X)

    # -- transforming ------------------------------------------------------------------------
    @property
    def output_shape(self) -> tuple[int, ...]:
        """The shape of one transformed sample: ``(F,)`` or ``(C, H, W)``."""
        self._require_fitted()
        if self.kind == "image":
            return tuple(self.input_shape_)
        return (len(self.feature_names_),)

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise DataError(
                "this Preprocessor is not fitted; call fit(X) or Preprocessor.from_state(state)"
            )

    def transform(self, X: Any) -> np.ndarray:
        """Preprocess raw features with the learned settings.

        Parameters
        ----------
        X
            Tabular: a DataFrame, one record (a dict), a list of records, or an array with
            the raw columns in :attr:`columns_` order. Image: an ``(N, C, H, W)`` array or
            one ``(C, H, W)`` image, values in ``[0, 1]``.

        Returns
        -------
        numpy.ndarray
            ``float32``, shape ``(N, F)`` or ``(N, C, H, W)``.

        Raises
        ------
        DataError
            When columns are missing, values are not numbers, or values are missing and
            ``impute`` is ``"none"``.
        """
        self._require_fitted()
        if self.kind == "image":
            return self._transform_image(X)
        return self._transform_table(self._as_frame(X))

    def _transform_image(self, X: Any) -> np.ndarray:
        arr = np.asarray(X, dtype=np.float32)
        shape = tuple(self.input_shape_)
        if arr.shape == shape:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[1:] != shape:
            raise DataError(
                f"expected images of shape (N, {', '.join(map(str, shape))}); got {arr.shape}"
            )
        assert isinstance(self.mean_, float) and isinstance(self.scale_, float)
        return ((arr - np.float32(self.mean_)) / np.float32(self.scale_)).astype(np.float32)

    def _as_frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            frame = X
        elif isinstance(X, Mapping):
            frame = pd.DataFrame([dict(X)])
        elif isinstance(X, Sequence) and X and all(isinstance(r, Mapping) for r in X):
            frame = pd.DataFrame([dict(r) for r in X])
        else:
            arr = np.asarray(X, dtype=object if self.categories_ else None)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2 or arr.shape[1] != len(self.columns_):
                raise DataError(
                    f"expected rows of {len(self.columns_)} raw values ({', '.join(self.columns_)}); "
                    f"got an array of shape {arr.shape}"
                )
            frame = pd.DataFrame(arr, columns=self.columns_)
        frame = frame.rename(columns=str)
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise DataError(
                f"the records lack column(s) {accepted(missing)}; expected: {accepted(self.columns_)}"
            )
        return frame

    def _transform_table(self, frame: pd.DataFrame) -> np.ndarray:
        assert isinstance(self.mean_, dict) and isinstance(self.scale_, dict)
        n = len(frame)
        out = np.empty((n, len(self.encoded_names_)), dtype=np.float32)
        j = 0
        for c in self.columns_:
            values = frame[c]
            if c in self.categories_:
                keys = self.categories_[c]
                index = {k: i for i, k in enumerate(keys)}
                filled = [
                    self.fill_[c] if m else category_key(v)
                    for v, m in zip(values, _is_missing(values), strict=True)
                ]
                block = np.zeros((n, len(keys)), dtype=np.float32)
                for row, key in enumerate(filled):
                    i = index.get(key)
                    if i is not None:  # unseen categories: all zeros
                        block[row, i] = 1.0
                out[:, j : j + len(keys)] = block
                j += len(keys)
                continue
            numeric = pd.to_numeric(values, errors="coerce").astype("float64")
            bad = numeric.isna() & ~values.isna()
            if bad.any():
                example = values[bad].iloc[0]
                raise DataError(
                    f"column {c!r} must hold numbers; found {example!r} in {int(bad.sum())} row(s)"
                )
            if numeric.isna().any():
                if self.impute == "none":
                    raise DataError(
                        f"column {c!r} has {int(numeric.isna().sum())} missing value(s) and "
                        f"preprocess.impute is 'none'; choose impute from {accepted(_IMPUTE[:3])}, "
                        "or drop those rows before loading"
                    )
                numeric = numeric.fillna(self.fill_[c])
            out[:, j] = ((numeric.to_numpy() - self.mean_[c]) / self.scale_[c]).astype(np.float32)
            j += 1
        return out if self.select_ is None else self.select_.transform(out)

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The settings and learned values as a JSON-able dict."""
        self._require_fitted()
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "kind": self.kind,
            "impute": self.impute,
            "one_hot": self.one_hot if isinstance(self.one_hot, str) else list(self.one_hot),
            "standardize": bool(self.standardize),
            "feature_names": list(self.feature_names_),
        }
        if self.kind == "image":
            state.update(input_shape=list(self.input_shape_), mean=self.mean_, std=self.scale_)
        else:
            state.update(
                columns=list(self.columns_),
                categories={c: list(v) for c, v in self.categories_.items()},
                fill=dict(self.fill_),
                mean=dict(self.mean_),  # type: ignore[arg-type]
                std=dict(self.scale_),  # type: ignore[arg-type]
            )
            if self.select_ is not None:
                state["select"] = self.select_.state_dict()
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`state_dict`.

        Raises
        ------
        DataError
            When the state is malformed or from a newer release.
        """
        subclass = _STATE_KINDS.get(str(state.get("kind")))
        if subclass is not None:
            module_name, _, attr = subclass.partition(":")
            cls_: type[Preprocessor] = getattr(importlib.import_module(module_name), attr)
            return cls_.from_state(state)
        try:
            version = int(state.get("version", 0))
            if version > STATE_VERSION:
                raise DataError(
                    f"this preprocessor state has version {version}; this release reads {STATE_VERSION} "
                    "and older. Upgrade with: pip install -U aimass-lab"
                )
            pre = cls(
                kind=state["kind"],
                impute=state["impute"],
                one_hot=state["one_hot"],
                standardize=bool(state["standardize"]),
            )
            pre._check_settings()
            pre.feature_names_ = [str(n) for n in state["feature_names"]]
            if pre.kind == "image":
                pre.input_shape_ = [int(d) for d in state["input_shape"]]
                pre.mean_ = float(state["mean"])
                pre.scale_ = float(state["std"])
            else:
                pre.columns_ = [str(c) for c in state["columns"]]
                pre.categories_ = {
                    str(c): [str(k) for k in v] for c, v in state["categories"].items()
                }
                pre.fill_ = dict(state["fill"])
                pre.mean_ = {str(c): float(v) for c, v in state["mean"].items()}
                pre.scale_ = {str(c): float(v) for c, v in state["std"].items()}
                pre.encoded_names_ = list(pre.feature_names_)
                if state.get("select"):
                    pre.select_ = Selector.from_state(state["select"])
                    pre.select = dict(pre.select_.settings)
                    pre.encoded_names_ = list(pre.select_.input_names_)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"malformed preprocessor state: {type(exc).__name__}: {exc}") from None
        return pre

    def __repr__(self) -> str:
        one_hot = self.one_hot if isinstance(self.one_hot, str) else list(self.one_hot)
        text = f"Preprocessor(kind={self.kind!r}, impute={self.impute!r}, one_hot={one_hot!r}, standardize={self.standardize})"
        if self.fitted:
            text += f" -> {self.output_shape}"
        return text
