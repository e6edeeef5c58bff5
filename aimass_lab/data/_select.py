"""Feature selection and PCA on the preprocessed table, fitted on the training part only.

``preprocess.select`` (:class:`~aimass_lab.specs.SelectSpec`) picks one method:

``variance``  drop features whose variance is at most ``threshold`` (``VarianceThreshold``)
``kbest``     keep the ``k`` best by mutual information or the F-test (``SelectKBest``)
``l1``        keep the features an L1 model uses (``SelectFromModel`` with a logistic
              regression or a Lasso)
``pca``       project onto ``n_components`` principal components (or as many as explain that
              fraction of the variance)

The method runs after imputation, one-hot encoding and standardisation. What it learned is
plain JSON (:meth:`Selector.state_dict`): kept column indices, names and scores, or PCA's
``components`` and ``mean``, so a served model applies it to raw rows without scikit-learn.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from aimass_lab.errors import DataError

__all__ = ["Selector"]

METHODS = ("variance", "kbest", "l1", "pca")
SCORES = ("mutual_info", "f_test")
#: The settings each method reads (the others are left out of the state).
USES = {
    "variance": ("threshold",),
    "kbest": ("k", "score"),
    "l1": ("alpha", "solver", "max_features", "threshold"),
    "pca": ("n_components",),
}


def _json_floats(values: Any) -> list[float]:
    arr = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return [float(v) for v in arr]


class Selector:
    """One fitted feature-selection step: keeps columns, or projects onto PCA components.

    Parameters
    ----------
    settings
        The ``preprocess.select`` spec as a dict (``method``, ``k``, ``score``, ...).
    """

    keep_: list[int]
    scores_: list[float]
    names_: list[str]
    input_names_: list[str]
    components_: np.ndarray | None
    mean_: np.ndarray | None
    explained_: list[float]
    fit_rows_: int

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.method = str(settings.get("method"))
        if self.method not in METHODS:
            raise DataError(
                f"unknown preprocess.select.method {self.method!r}; accepted: "
                + ", ".join(map(repr, METHODS))
            )
        self.settings = {"method": self.method}
        self.settings.update(
            (k, settings[k]) for k in USES[self.method] if settings.get(k) is not None
        )

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray | None, task: str, names: list[str]) -> Selector:
        """Learn what to keep from the preprocessed training features ``X`` and targets ``y``."""
        X = np.asarray(X, dtype=np.float64)
        width = X.shape[1]
        self.input_names_ = list(names)
        self.components_ = self.mean_ = None
        self.explained_ = []
        self.fit_rows_ = len(X)
        if len(X) < 2:
            raise DataError(
                f"preprocess.select needs at least 2 training rows; the training part has {len(X)}"
            )
        if self.method in ("kbest", "l1") and y is None:
            raise DataError(f"preprocess.select method {self.method!r} needs the targets")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant features, convergence: scores say it
            if self.method == "variance":
                self._fit_variance(X)
            elif self.method == "kbest":
                assert y is not None
                self._fit_kbest(X, y, task, width)
            elif self.method == "l1":
                assert y is not None
                self._fit_l1(X, y, task)
            else:
                self._fit_pca(X, width)
        if self.components_ is None:
            self.names_ = [self.input_names_[i] for i in self.keep_]
        return self

    def _fit_variance(self, X: np.ndarray) -> None:
        threshold = float(self.settings.get("threshold", 0.0))
        variances = X.var(axis=0)
        self.scores_ = _json_floats(variances)
        self.keep_ = [int(i) for i in np.flatnonzero(variances > threshold)]
        if not self.keep_:
            raise DataError(
                f"preprocess.select: no feature has a variance above threshold {threshold} "
                f"(the largest is {float(variances.max()):.4g}); lower the threshold"
            )

    def _fit_kbest(self, X: np.ndarray, y: np.ndarray, task: str, width: int) -> None:
        from sklearn import feature_selection as fs

        k = int(self.settings["k"])
        if k > width:
            raise DataError(
                f"preprocess.select.k is {k} but there are only {width} features after one-hot "
                f"encoding; choose k from 1 to {width}"
            )
        score = str(self.settings.get("score", "f_test"))
        classify = task == "classification"
        if score == "mutual_info":
            func = fs.mutual_info_classif if classify else fs.mutual_info_regression
            scorer: Any = functools.partial(func, random_state=0)
        else:
            scorer = fs.f_classif if classify else fs.f_regression
        model = fs.SelectKBest(scorer, k=k).fit(X, y)
        self.scores_ = _json_floats(model.scores_)
        order = np.argsort(-np.asarray(self.scores_), kind="stable")[:k]
        self.keep_ = sorted(int(i) for i in order)

    def _fit_l1(self, X: np.ndarray, y: np.ndarray, task: str) -> None:
        import sklearn
        from sklearn.feature_selection import SelectFromModel
        from sklearn.linear_model import Lasso, LogisticRegression

        alpha = float(self.settings.get("alpha", 0.01))
        if task == "classification":
            solver = str(self.settings.get("solver", "saga"))
            if solver == "liblinear" and len(np.unique(y)) > 2:
                raise DataError(
                    "preprocess.select.solver 'liblinear' handles two classes; this target has "
                    f"{len(np.unique(y))}: use solver 'saga'"
                )
            new = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)
            l1: dict[str, Any] = {"l1_ratio": 1.0} if new else {"penalty": "l1"}
            estimator: Any = LogisticRegression(
                C=1.0 / alpha, solver=solver, max_iter=500, random_state=0, **l1
            )
        else:
            estimator = Lasso(alpha=alpha, max_iter=5000, random_state=0)
        model = SelectFromModel(
            estimator,
            threshold=self.settings.get("threshold"),
            max_features=self.settings.get("max_features"),
        ).fit(X, y)
        coef = np.abs(np.atleast_2d(model.estimator_.coef_)).sum(axis=0)
        self.scores_ = _json_floats(coef)
        self.keep_ = [int(i) for i in model.get_support(indices=True)]
        if not self.keep_:
            raise DataError(
                f"preprocess.select: the L1 model with alpha {alpha} uses no feature; "
                "choose a smaller alpha or a lower threshold"
            )

    def _fit_pca(self, X: np.ndarray, width: int) -> None:
        from sklearn.decomposition import PCA

        n = self.settings["n_components"]
        limit = min(len(X), width)
        if isinstance(n, int) and n > limit:
            raise DataError(
                f"preprocess.select.n_components is {n} but PCA can give at most {limit} "
                f"components here ({width} features after one-hot encoding, {len(X)} training "
                f"rows); choose 1 to {limit}, or a fraction of the variance such as 0.95"
            )
        model = PCA(n_components=n, svd_solver="full", random_state=0).fit(X)
        self.components_ = np.asarray(model.components_, dtype=np.float64)
        self.mean_ = np.asarray(model.mean_, dtype=np.float64)
        self.explained_ = _json_floats(model.explained_variance_ratio_)
        self.keep_ = list(range(len(self.components_)))
        self.scores_ = list(self.explained_)
        self.names_ = [f"pc{i + 1}" for i in range(len(self.components_))]

    # -- applying ------------------------------------------------------------------------------
    def transform(self, X: np.ndarray) -> np.ndarray:
        """The selected columns (or PCA projection) of preprocessed features ``X``."""
        if self.components_ is not None and self.mean_ is not None:
            out = (np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T
            return out.astype(np.float32)
        return np.ascontiguousarray(np.asarray(X)[:, self.keep_], dtype=np.float32)

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Settings and what was learned, as JSON types."""
        state: dict[str, Any] = {
            **self.settings,
            "input_names": list(self.input_names_),
            "keep": list(self.keep_),
            "names": list(self.names_),
            "scores": list(self.scores_),
            "fit_rows": int(self.fit_rows_),
        }
        if self.components_ is not None and self.mean_ is not None:
            state["components"] = self.components_.tolist()
            state["mean"] = self.mean_.tolist()
            state["explained_variance_ratio"] = list(self.explained_)
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Selector:
        """Rebuild a fitted selector from :meth:`state_dict` (``KeyError``/``ValueError`` when
        malformed; :meth:`Preprocessor.from_state` turns them into a ``DataError``)."""
        learned = ("input_names", "keep", "names", "scores", "fit_rows", "components", "mean")
        settings = {k: v for k, v in state.items() if k not in learned}
        settings.pop("explained_variance_ratio", None)
        sel = cls(settings)
        sel.input_names_ = [str(n) for n in state["input_names"]]
        sel.keep_ = [int(i) for i in state["keep"]]
        sel.names_ = [str(n) for n in state["names"]]
        sel.scores_ = [float(s) for s in state["scores"]]
        sel.fit_rows_ = int(state.get("fit_rows", 0))
        sel.components_ = sel.mean_ = None
        sel.explained_ = []
        if "components" in state:
            sel.components_ = np.asarray(state["components"], dtype=np.float64)
            sel.mean_ = np.asarray(state["mean"], dtype=np.float64)
            sel.explained_ = [float(v) for v in state.get("explained_variance_ratio", [])]
            width = len(sel.input_names_)
            if sel.components_.ndim != 2 or sel.components_.shape[1] != width:
                raise ValueError(f"PCA components must have {width} columns")
        elif any(not 0 <= i < len(sel.input_names_) for i in sel.keep_):
            raise ValueError("kept column index out of range")
        return sel

    def summary(self) -> dict[str, Any]:
        """What was kept and why, for the data report."""
        out: dict[str, Any] = {
            "method": self.method,
            "settings": {k: v for k, v in self.settings.items() if k != "method"},
            "features_in": len(self.input_names_),
            "features_out": len(self.names_),
            "fit_rows": self.fit_rows_,
            "text": self.describe(),
        }
        if self.components_ is not None:
            out["explained_variance_ratio"] = list(self.explained_)
            out["explained_variance_total"] = float(sum(self.explained_))
            return out
        what = {"variance": "variance", "kbest": "score", "l1": "abs_coef"}[self.method]
        rows = [
            {"feature": n, what: s, "kept": i in set(self.keep_)}
            for i, (n, s) in enumerate(zip(self.input_names_, self.scores_, strict=True))
        ]
        out["features"] = sorted(rows, key=lambda r: -r[what])
        out["dropped"] = [r["feature"] for r in rows if not r["kept"]]
        return out

    def describe(self) -> str:
        """One line for a report: method, widths and the strongest kept features."""
        head = f"{self.method}: {len(self.input_names_)} -> {len(self.names_)} features"
        if self.components_ is not None:
            return f"{head}, explaining {sum(self.explained_):.1%} of the variance"
        ranked = sorted(self.keep_, key=lambda i: -self.scores_[i])[:5]
        best = ", ".join(f"{self.input_names_[i]} ({self.scores_[i]:.3g})" for i in ranked)
        return f"{head}; strongest kept: {best}"
