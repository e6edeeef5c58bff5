"""Feature selection (preprocess.select): fitted on the training part, kept in the state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimass_lab import data
from aimass_lab.data import Preprocessor
from aimass_lab.errors import DataError, SpecError
from aimass_lab.specs import PreprocessSpec


def _raw_test(ds: data.Dataset) -> pd.DataFrame:
    part = ds.parts["test"]
    return part.raw.iloc[part.raw_index]  # type: ignore[attr-defined]


def test_kbest_on_digits_keeps_k_columns_and_round_trips_the_state() -> None:
    ds = data.load({"name": "digits", "preprocess": {"select": {"method": "kbest", "k": 20}}})
    assert ds.input_shape == (20,) and len(ds.feature_names) == 20
    assert ds.X_test.shape[1] == 20
    state = json.loads(json.dumps(ds.preprocessor.state_dict()))
    assert state["feature_names"] == ds.feature_names
    sel = state["select"]
    assert sel["method"] == "kbest" and len(sel["keep"]) == 20 and len(sel["scores"]) == 64
    pre = Preprocessor.from_state(state)
    assert pre.feature_names_ == ds.feature_names
    np.testing.assert_array_equal(pre.transform(_raw_test(ds)), ds.X_test)
    records = _raw_test(ds).head(3).to_dict("records")
    np.testing.assert_array_equal(pre.transform(records), ds.X_test[:3])
    # the kept columns are the best-scoring ones
    scores = np.asarray(sel["scores"])
    assert scores[sel["keep"]].min() >= np.delete(scores, sel["keep"]).max()


def test_pca_on_iris_and_mutual_info_on_a_regression() -> None:
    ds = data.load({"name": "iris", "preprocess": {"select": {"method": "pca", "n_components": 2}}})
    assert ds.input_shape == (2,) and ds.feature_names == ["pc1", "pc2"]
    state = json.loads(json.dumps(ds.preprocessor.state_dict()))
    assert np.asarray(state["select"]["components"]).shape == (2, 4)
    assert 0.9 < sum(state["select"]["explained_variance_ratio"]) <= 1.0
    np.testing.assert_allclose(
        Preprocessor.from_state(state).transform(_raw_test(ds)), ds.X_test, atol=1e-6
    )
    # a fraction of the variance, and train-only fitting: the val/test rows do not change it
    frac = data.load(
        {"name": "digits", "preprocess": {"select": {"method": "pca", "n_components": 0.8}}}
    )
    assert 1 < frac.input_shape[0] < 64
    reg = data.load(
        {
            "name": "diabetes",
            "preprocess": {"select": {"method": "kbest", "k": 3, "score": "mutual_info"}},
        }
    )
    assert reg.input_shape == (3,) and "bmi" in reg.feature_names


def test_variance_and_l1_after_one_hot(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "signal": y + rng.normal(scale=0.3, size=n),
            "noise": rng.normal(size=n),
            "colour": rng.choice(["red", "blue"], n),
            "const": 1.0,
            "y": y,
        }
    )
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    spec = {"source": "csv", "path": str(path), "target": "y"}
    var = data.load({**spec, "preprocess": {"select": {"method": "variance"}}})
    assert "const" not in var.feature_names and "colour=red" in var.feature_names
    l1 = data.load(
        {**spec, "preprocess": {"select": {"method": "l1", "alpha": 0.5, "max_features": 2}}}
    )
    assert "signal" in l1.feature_names and len(l1.feature_names) <= 2
    report = l1.report()
    assert report.selection is not None and report.selection["method"] == "l1"
    assert "l1" in repr(report) and "signal" in repr(report)


def test_bad_selections_are_clear_errors() -> None:
    with pytest.raises(SpecError, match="'variance', 'kbest', 'l1' or 'pca'"):
        PreprocessSpec(select={"method": "lasso"})
    with pytest.raises(SpecError, match="'mutual_info' or 'f_test'"):
        PreprocessSpec(select={"method": "kbest", "k": 3, "score": "chi2"})
    with pytest.raises(SpecError, match="needs k"):
        PreprocessSpec(select={"method": "kbest"})
    with pytest.raises(SpecError, match=r"in \(0, 1\)"):
        PreprocessSpec(select={"method": "pca", "n_components": 1.5})
    with pytest.raises(SpecError, match="k: not used by method 'pca'"):
        PreprocessSpec(select={"method": "pca", "n_components": 2, "k": 3})
    with pytest.raises(DataError, match="k is 80 but there are only 64 features"):
        data.load({"name": "digits", "preprocess": {"select": {"method": "kbest", "k": 80}}})
    with pytest.raises(DataError, match="n_components is 9 but PCA can give at most 4"):
        data.load({"name": "iris", "preprocess": {"select": {"method": "pca", "n_components": 9}}})
    with pytest.raises(DataError, match="no feature has a variance above threshold 5"):
        data.load(
            {"name": "iris", "preprocess": {"select": {"method": "variance", "threshold": 5}}}
        )
    with pytest.raises(DataError, match="malformed preprocessor state"):
        state = data.load(
            {"name": "iris", "preprocess": {"select": {"method": "kbest", "k": 2}}}
        ).preprocessor.state_dict()
        Preprocessor.from_state({**state, "select": {**state["select"], "keep": [0, 99]}})


def test_a_streamed_table_fits_the_selection_on_its_training_sample(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 240
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "noise": rng.normal(size=n),
            "color": rng.choice(["red", "green", "blue"], n),
            "label": np.where(x > 0, "hi", "lo").astype(object),
        }
    )
    frame.loc[[3, 50, 77], "label"] = None  # skipped rows: dataset rows != table rows
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=50)
    select = {"method": "kbest", "k": 2}
    streamed = data.load(
        {
            "source": "parquet",
            "path": str(tmp_path / "t.parquet"),
            "target": "label",
            "streaming": True,
            "on_bad_record": "skip",
            "loader": {"num_workers": 0},
            "preprocess": {"select": select},
        }
    )
    kept = frame.dropna(subset=["label"]).reset_index(drop=True)
    kept.to_parquet(tmp_path / "kept.parquet")
    memory = data.load(
        {
            "source": "parquet",
            "path": str(tmp_path / "kept.parquet"),
            "target": "label",
            "preprocess": {"select": select},
        }
    )
    assert not streamed.in_memory and streamed.input_shape == (2,)
    assert streamed.feature_names == memory.feature_names and "x" in streamed.feature_names
    X, _ = streamed.take("test", None)
    np.testing.assert_allclose(X, memory.X_test, atol=1e-6)
    assert streamed.preprocessor.select_.fit_rows_ == streamed.sizes["train"]  # type: ignore[union-attr]
