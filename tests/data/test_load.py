"""Loading built-ins: shapes, dtypes, task inference, splits, folds, seeds and fingerprints."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aimass_lab import datasets
from aimass_lab.data import Dataset, infer_task, load, resolve_spec
from aimass_lab.specs import DataSpec


def test_import_is_light() -> None:
    code = (
        "import sys, aimass_lab.data, aimass_lab.specs; "
        "print([m for m in ('pandas', 'sklearn', 'torch', 'lightning') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "load" in datasets.__all__ and "Dataset" in dir(datasets)


def test_iris_is_tabular_classification() -> None:
    ds = load("iris")
    assert isinstance(ds, Dataset)
    assert (ds.task, ds.input_kind, ds.input_shape, ds.output_dim, ds.num_classes) == (
        "classification",
        "tabular",
        (4,),
        3,
        3,
    )
    assert ds.classes == ["setosa", "versicolor", "virginica"]
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.sizes == {"train": 104, "val": 23, "test": 23}
    assert ds.feature_names[0] == "sepal length (cm)"
    assert ds.target_stats is None
    json.dumps(ds.info())
    assert "iris" in repr(ds) and "<table" in ds._repr_html_()


def test_digits_as_images() -> None:
    ds = load("digits", as_images=True)
    assert ds.input_kind == "image" and ds.input_shape == (1, 8, 8)
    assert ds.X_train.shape[1:] == (1, 8, 8) and ds.X_train.dtype == np.float32
    assert ds.classes == list(range(10)) and ds.feature_names == []
    # one global mean/std fitted on the training images
    assert abs(float(ds.X_train.mean())) < 1e-4 and abs(float(ds.X_train.std()) - 1) < 1e-3
    assert load("digits").input_shape == (64,)


def test_regression_target_stats() -> None:
    ds = load("diabetes")
    assert (
        ds.task == "regression"
        and ds.output_dim == 1
        and ds.classes is None
        and ds.num_classes is None
    )
    assert ds.y_train.dtype == np.float32
    stats = ds.target_stats
    assert stats is not None
    assert stats["mean"] == pytest.approx(float(ds.y_train.astype(np.float64).mean()))
    assert stats["std"] == pytest.approx(float(ds.y_train.astype(np.float64).std()))


def test_generators_take_options() -> None:
    ds = load("moons", options={"n_samples": 200, "noise": 0.1, "random_state": 3})
    assert len(ds) == 200 and ds.input_shape == (2,) and ds.classes == [0, 1]
    assert load("blobs", options={"centers": 4, "n_features": 3}).num_classes == 4
    assert load("regression", options={"n_samples": 100, "n_features": 5}).input_shape == (5,)
    other = load("moons", options={"n_samples": 200, "noise": 0.1, "random_state": 4})
    assert other.fingerprint != ds.fingerprint


def test_split_is_stratified_and_seeded() -> None:
    ds = load("breast_cancer", split={"val": 0.2, "test": 0.2, "seed": 7})
    assert ds.stratified
    overall = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test])) / len(ds)
    for labels in (ds.y_train, ds.y_val, ds.y_test):
        assert np.allclose(np.bincount(labels) / len(labels), overall, atol=0.02)
    again = load("breast_cancer", split={"val": 0.2, "test": 0.2, "seed": 7})
    for part in ("train", "val", "test"):
        assert np.array_equal(ds.indices[part], again.indices[part])
    assert np.array_equal(ds.X_train, again.X_train)
    other = load("breast_cancer", split={"val": 0.2, "test": 0.2, "seed": 8})
    assert not np.array_equal(ds.indices["test"], other.indices["test"])
    # the parts cover every row exactly once
    everything = np.concatenate(list(ds.indices.values()))
    assert sorted(everything.tolist()) == list(range(len(ds)))


def test_zero_fractions_give_empty_parts() -> None:
    ds = load("iris", split={"val": 0.0, "test": 0.0})
    assert ds.sizes == {"train": 150, "val": 0, "test": 0}
    assert ds.X_val.shape == (0, 4) and ds.X_test.dtype == np.float32


def test_folds_hold_out_test_then_rotate_validation() -> None:
    folds = [load("wine", split={"test": 0.2, "folds": 4, "fold": k, "seed": 1}) for k in range(4)]
    tests = {tuple(ds.indices["test"]) for ds in folds}
    assert len(tests) == 1  # the same test part for every fold
    test = set(next(iter(tests)))
    vals = [set(ds.indices["val"].tolist()) for ds in folds]
    assert all(not (v & test) for v in vals)
    assert set().union(*vals) == set(range(178)) - test  # the folds cover the rest
    assert all(not (a & b) for i, a in enumerate(vals) for b in vals[i + 1 :])
    for ds in folds:
        assert ds.stratified
        assert not set(ds.indices["train"].tolist()) & (test | set(ds.indices["val"].tolist()))


def test_fingerprint_tracks_content_and_settings() -> None:
    base = load("iris").fingerprint
    assert len(base) == 64 and base == load("iris").fingerprint
    changed = {
        load("iris", split={"seed": 1}).fingerprint,
        load("iris", split={"val": 0.2}).fingerprint,
        load("iris", preprocess={"standardize": False}).fingerprint,
        load("iris", features=["petal length (cm)", "petal width (cm)"]).fingerprint,
        load("wine").fingerprint,
    }
    assert base not in changed and len(changed) == 5
    # augmentation does not change the data
    assert (
        load("digits", as_images=True, augment={"noise": 0.1}).fingerprint
        == load("digits", as_images=True).fingerprint
    )


def test_resolve_spec_merges_overrides() -> None:
    spec = resolve_spec("iris", split={"seed": 5}, preprocess={"standardize": False})
    assert isinstance(spec, DataSpec)
    assert (spec.split.seed, spec.split.val, spec.preprocess.standardize) == (5, 0.15, False)
    assert resolve_spec({"name": "wine"}).name == "wine"
    assert resolve_spec(DataSpec(name="iris"), task="classification").task == "classification"
    ds = load("iris")
    assert resolve_spec(ds) == ds.spec and load(ds) is ds
    assert load(ds, split={"seed": 2}).spec.split.seed == 2


def test_relative_paths_become_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = resolve_spec({"source": "csv", "path": "t.csv", "target": "y"})
    assert spec.path == str(tmp_path / "t.csv")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1], "classification"),
        ([0.0, 1.0, 1.0], "classification"),
        ([0.5, 1.25, 3.0], "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_infer_task(values: list[object], task: str) -> None:
    assert infer_task(pd.Series(values)) == task
