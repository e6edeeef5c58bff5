"""Built-in datasets: scikit-learn's bundled data and seeded generators (no network)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aimass_lab.data._base import RawData, Source
from aimass_lab.errors import DataError, SpecError, accepted
from aimass_lab.specs import BUILTINS

if TYPE_CHECKING:
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["BuiltinSource", "GENERATOR_DEFAULTS"]

#: Default options of the generators; ``spec.options`` overrides them.
GENERATOR_DEFAULTS: dict[str, dict[str, Any]] = {
    "moons": {"n_samples": 500, "noise": 0.2, "random_state": 0},
    "blobs": {"n_samples": 500, "centers": 3, "n_features": 2, "random_state": 0},
    "classification": {"n_samples": 500, "n_features": 20, "n_classes": 2, "random_state": 0},
    "regression": {"n_samples": 500, "n_features": 10, "noise": 0.1, "random_state": 0},
}


def _generator(name: str) -> Callable[..., Any]:
    from sklearn import datasets as skd

    return {
        "moons": skd.make_moons,
        "blobs": skd.make_blobs,
        "classification": skd.make_classification,
        "regression": skd.make_regression,
    }[name]


def _loader(name: str) -> Callable[..., Any]:
    from sklearn import datasets as skd

    return {
        "iris": skd.load_iris,
        "digits": skd.load_digits,
        "wine": skd.load_wine,
        "breast_cancer": skd.load_breast_cancer,
        "diabetes": skd.load_diabetes,
    }[name]


class BuiltinSource(Source):
    """scikit-learn's bundled datasets and generators.

    ``spec.options`` sets the generators' arguments (``n_samples``, ``noise``,
    ``random_state``, ``n_features``, ``centers``, ``n_classes``...); the bundled datasets
    take no options. ``digits`` with ``as_images=True`` gives ``(N, 1, 8, 8)`` images in
    ``[0, 1]``.
    """

    name = "builtin"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData:
        """Load or generate the built-in dataset ``spec.name``."""
        name = spec.name or ""
        info = BUILTINS.get(name)
        if info is None:
            raise DataError(f"unknown built-in dataset {name!r}; accepted: {accepted(BUILTINS)}")
        if name == "reviews":
            from aimass_lab.data._reviews import make_reviews

            return make_reviews(spec.options)
        if info.generator:
            return self._generate(name, spec.options, info.task)
        if spec.options:
            raise SpecError(
                "DataSpec",
                [
                    {
                        "field": "options",
                        "value": spec.options,
                        "message": f"the bundled dataset {name!r} takes no options "
                        f"(only the generators do: {accepted(GENERATOR_DEFAULTS)})",
                    }
                ],
            )
        bunch = _loader(name)()
        data = np.asarray(bunch.data)
        target = np.asarray(bunch.target)
        if name == "digits":
            if spec.as_images:
                images = (data.reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
                return RawData(
                    images, target.astype(np.int64), classes=list(range(10)), task=info.task
                )
            classes: list[Any] | None = list(range(10))
            y: Any = target.astype(np.int64)
        elif info.task == "classification":
            names = [str(n) for n in bunch.target_names]
            classes = names
            y = np.asarray(names, dtype=object)[target]
        else:
            classes = None
            y = target.astype(np.float64)
        columns = [str(c) for c in bunch.feature_names]
        frame = pd.DataFrame(data, columns=columns)
        return RawData(frame, y, classes=classes, task=info.task, target_name="target")

    @staticmethod
    def _generate(name: str, options: dict[str, Any], task: str) -> RawData:
        make = _generator(name)
        params = set(inspect.signature(make).parameters)
        unknown = sorted(set(options) - params)
        if unknown:
            raise SpecError(
                "DataSpec",
                [
                    {
                        "field": "options",
                        "value": options,
                        "message": f"unknown option(s) {accepted(unknown)} for the generator "
                        f"{name!r}; accepted: {accepted(sorted(params))}",
                    }
                ],
            )
        kwargs = {**GENERATOR_DEFAULTS[name], **options}
        try:
            X, y = make(**kwargs)[:2]
        except (TypeError, ValueError) as exc:
            raise SpecError(
                "DataSpec",
                [
                    {
                        "field": "options",
                        "value": options,
                        "message": f"the generator {name!r} refused them: {exc}",
                    }
                ],
            ) from None
        X = np.asarray(X, dtype=np.float64)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
        if task == "classification":
            y = np.asarray(y, dtype=np.int64)
            classes: list[Any] | None = sorted(int(v) for v in np.unique(y))
        else:
            y = np.asarray(y, dtype=np.float64)
            classes = None
        return RawData(frame, y, classes=classes, task=task, target_name="target")
