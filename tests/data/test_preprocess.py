"""Preprocessing: fitted on the training part only, imputation, one-hot, JSON state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aimass_lab import datasets
from aimass_lab.data import Preprocessor, get_source, load
from aimass_lab.errors import DataError


def test_standardization_uses_train_only() -> None:
    ds = load("wine", split={"val": 0.2, "test": 0.2, "seed": 0})
    assert np.allclose(ds.X_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(ds.X_train.std(axis=0), 1, atol=1e-3)
    raw = get_source("builtin").load(ds.spec, None).X
    assert isinstance(raw, pd.DataFrame)
    state = ds.preprocessor.state_dict()
    train_mean = raw.iloc[ds.indices["train"]].mean()
    all_mean = raw.mean()
    for column in raw.columns:
        assert state["mean"][column] == pytest.approx(train_mean[column])
    assert any(abs(train_mean[c] - all_mean[c]) > 1e-6 for c in raw.columns)
    # validation rows are transformed with the train statistics, so they are not centred exactly
    assert not np.allclose(ds.X_val.mean(axis=0), 0, atol=1e-5)
    expected = (raw.iloc[ds.indices["val"]] - train_mean) / raw.iloc[ds.indices["train"]].std(
        ddof=0
    )
    assert np.allclose(ds.X_val, expected.to_numpy(dtype=np.float32), atol=1e-4)


def test_changing_validation_rows_does_not_change_the_fit(sqlite_workspace) -> None:
    frame = pd.DataFrame({"x": np.arange(100, dtype=float), "y": np.arange(100) % 2})
    split = {"val": 0.2, "test": 0.2, "seed": 3}
    ds = datasets.from_dataframe(frame, "y", split=split)
    poisoned = frame.copy()
    poisoned.loc[ds.indices["val"], "x"] = 1e6  # only validation rows change
    other = datasets.from_dataframe(poisoned, "y", split=split)
    assert np.array_equal(other.indices["train"], ds.indices["train"])
    assert other.preprocessor.state_dict()["mean"] == ds.preprocessor.state_dict()["mean"]
    assert np.array_equal(other.X_train, ds.X_train)


def test_imputation_strategies() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 2.0, 9.0, np.nan]})
    assert Preprocessor(impute="mean", standardize=False).fit(train).fill_["x"] == pytest.approx(
        3.5
    )
    assert Preprocessor(impute="median", standardize=False).fit(train).fill_["x"] == pytest.approx(
        2.0
    )
    assert Preprocessor(impute="most_frequent", standardize=False).fit(train).fill_["x"] == 2.0
    out = Preprocessor(impute="median", standardize=False).fit_transform(train)
    assert out[-1, 0] == pytest.approx(2.0)
    with pytest.raises(
        DataError, match=r"column 'x' has 1 missing value\(s\) and preprocess.impute is 'none'"
    ):
        Preprocessor(impute="none").fit_transform(train)


def test_categorical_missing_values_take_the_most_frequent() -> None:
    frame = pd.DataFrame({"c": ["a", "b", "b", None]})
    pre = Preprocessor().fit(frame)
    assert pre.fill_["c"] == "b"
    assert pre.transform(frame)[-1].tolist() == [0.0, 1.0]


def test_one_hot_auto_list_and_none() -> None:
    frame = pd.DataFrame(
        {"n": [1.0, 2.0, 3.0, 4.0], "code": [1, 2, 1, 3], "c": ["x", "y", "x", "y"]}
    )
    assert Preprocessor().fit(frame).feature_names_ == ["n", "code", "c=x", "c=y"]
    listed = Preprocessor(one_hot=["code", "c"]).fit(frame)
    assert listed.feature_names_ == ["n", "code=1", "code=2", "code=3", "c=x", "c=y"]
    # unseen categories are all zeros; one-hot columns are not standardized
    row = listed.transform({"n": 2.5, "code": 7, "c": "y"})
    assert row[0, 1:].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    with pytest.raises(
        DataError, match=r"feature column 'c' holds text \(str\) but preprocess.one_hot is 'none'"
    ):
        Preprocessor(one_hot="none").fit(frame)
    with pytest.raises(DataError, match=r"one_hot names column\(s\) 'nope' that are not features"):
        Preprocessor(one_hot=["nope"]).fit(frame)


def test_state_round_trip_transforms_raw_records(
    mixed_frame: pd.DataFrame, sqlite_workspace
) -> None:
    ds = datasets.from_dataframe(mixed_frame, "label")
    state = ds.preprocessor.state_dict()
    restored = Preprocessor.from_state(json.loads(json.dumps(state)))
    raw = mixed_frame.drop(columns=["label"]).iloc[ds.indices["test"]]
    assert np.allclose(restored.transform(raw), ds.X_test, atol=1e-6)
    records = raw.to_dict(orient="records")
    assert np.allclose(restored.transform(records), ds.X_test, atol=1e-6)
    one = restored.transform(records[0])
    assert one.shape == (1, 7) and one.dtype == np.float32
    with pytest.raises(DataError, match=r"the records lack column\(s\) 'income'"):
        restored.transform({"age": 3, "color": "red", "member": True})
    with pytest.raises(DataError, match=r"column 'age' must hold numbers; found 'old'"):
        restored.transform([{**records[0], "age": "old"}])


def test_image_state_round_trip() -> None:
    ds = load("digits", as_images=True)
    state = json.loads(json.dumps(ds.preprocessor.state_dict()))
    assert state["kind"] == "image" and state["input_shape"] == [1, 8, 8]
    pre = Preprocessor.from_state(state)
    raw = np.asarray(get_source("builtin").load(ds.spec, None).X)[ds.indices["test"]]
    assert np.allclose(pre.transform(raw), ds.X_test, atol=1e-6)
    assert pre.transform(raw[0]).shape == (1, 1, 8, 8)
    with pytest.raises(
        DataError, match=r"expected images of shape \(N, 1, 8, 8\); got \(2, 3, 8, 8\)"
    ):
        pre.transform(np.zeros((2, 3, 8, 8)))


def test_numeric_array_input_and_bad_state() -> None:
    pre = Preprocessor().fit(pd.DataFrame({"a": [0.0, 2.0], "b": [1.0, 1.0]}))
    assert pre.transform(np.array([[1.0, 1.0]])).tolist() == [[0.0, 0.0]]
    with pytest.raises(
        DataError, match=r"expected rows of 2 raw values \(a, b\); got an array of shape \(1, 3\)"
    ):
        pre.transform(np.zeros((1, 3)))
    with pytest.raises(DataError, match="malformed preprocessor state: KeyError"):
        Preprocessor.from_state({"kind": "tabular"})
    with pytest.raises(DataError, match="not fitted"):
        Preprocessor().transform(np.zeros((1, 2)))
