"""Data reports on the raw table: schema, balance, duplicates, constants and leakage warnings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aimass_lab import datasets
from aimass_lab.data import DataReport, report
from aimass_lab.errors import DataError


def _designed() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    y = np.where(rng.random(n) < 0.05, "rare", "common")
    return pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "copy": y,  # identical to the target
            "code": np.where(y == "rare", 7, 3),  # maps one-to-one onto the target
            "const": 1.0,
            "gappy": np.where(rng.random(n) < 0.1, np.nan, 1.0) * rng.normal(size=n),
            "y": y,
        }
    )


def test_report_on_designed_table() -> None:
    frame = _designed()
    rep = report(frame, target="y")
    assert isinstance(rep, DataReport)
    assert (rep.n_rows, rep.n_features, rep.task, rep.target) == (200, 5, "classification", "y")
    schema = {s["column"]: s for s in rep.schema}
    assert schema["const"]["unique"] == 1 and schema["gappy"]["missing"] == int(
        frame["gappy"].isna().sum()
    )
    assert rep.missing == int(frame["gappy"].isna().sum()) > 0
    assert rep.class_balance == {
        "common": int((frame.y == "common").sum()),
        "rare": int((frame.y == "rare").sum()),
    }
    assert rep.constant_columns == ["const"]
    leaks = {w["column"]: w["message"] for w in rep.warnings if w["kind"] == "leakage"}
    assert set(leaks) == {"copy", "code"}
    assert "is identical to the target" in leaks["copy"]
    assert "maps one-to-one onto the target" in leaks["code"]
    assert {"imbalance", "missing", "constant"} <= set(rep.warning_kinds())
    imbalance = next(w for w in rep.warnings if w["kind"] == "imbalance")["message"]
    assert imbalance.startswith("strong class imbalance: class 'rare' has")
    assert not rep.ok


def test_correlated_feature_is_a_leak_for_regression() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    frame = pd.DataFrame(
        {"x": rng.normal(size=300), "almost": 3 * y + rng.normal(scale=0.01, size=300), "t": y}
    )
    rep = report(frame, target="t")
    assert rep.task == "regression" and rep.class_balance is None
    assert [w["column"] for w in rep.warnings if w["kind"] == "leakage"] == ["almost"]
    assert "has correlation +1.0000 with the target" in rep.warnings[0]["message"]


def test_report_of_a_clean_builtin_is_json_and_html() -> None:
    rep = datasets.load("wine").report()
    assert rep.ok and rep.duplicates == 0 and rep.n_rows == 178 and rep.n_features == 13
    data = rep.to_dict()
    assert json.loads(json.dumps(data)) == data and data["class_balance"]["class_0"] == 59
    html = rep._repr_html_()
    assert html.startswith("<div") and "<table>" in html and "alcohol" in html


def test_report_escapes_html_and_counts_duplicates(sqlite_workspace) -> None:
    frame = pd.DataFrame({"<b>x</b>": [1.0, 1.0, 2.0, 3.0] * 5, "y": [0, 0, 1, 1] * 5})
    rep = datasets.from_dataframe(frame, "y").report()
    assert rep.duplicates == 17  # 20 rows, 3 distinct
    assert "&lt;b&gt;x&lt;/b&gt;" in rep._repr_html_() and "<b>x</b>" not in rep._repr_html_()
    assert "duplicates" in rep.warning_kinds()


def test_report_on_images() -> None:
    rep = report("digits", as_images=True)
    assert rep.n_features == 64 and sum((rep.class_balance or {}).values()) == 1797
    assert rep.schema[0]["column"] == "pixels"


def test_report_on_a_dataframe_needs_a_target() -> None:
    with pytest.raises(
        DataError, match=r"give target=<column> to report on a DataFrame; columns: a, b"
    ):
        report(pd.DataFrame({"a": [1], "b": [2]}))


def test_large_table_report_samples_and_still_finds_a_planted_leak() -> None:
    from aimass_lab.data._report import compute_report

    rng = np.random.default_rng(3)
    n = 6_000
    y = pd.Series(rng.integers(0, 3, n), name="y")
    X = pd.DataFrame(
        {
            "noise": rng.normal(size=n),
            "const": 2.0,
            "gappy": np.where(rng.random(n) < 0.1, np.nan, 1.0),
            "leak": y.to_numpy(),
        }
    )
    X.loc[[0, 1], :] = X.loc[[2, 3], :].to_numpy()  # two duplicate rows (with their targets)
    y.iloc[[0, 1]] = y.iloc[[2, 3]].to_numpy()
    rep = compute_report(X, y, name="big", task="classification", target="y", sample_rows=500)
    assert rep.sample is not None and "computed on a sample of 500 of 6,000 rows" in rep.sample
    leaks = [w for w in rep.warnings if w["kind"] == "leakage"]
    assert [w["column"] for w in leaks] == ["leak"]
    assert "on a random sample of 500 rows" in leaks[0]["message"]
    schema = {s["column"]: s for s in rep.schema}
    # exact despite the sample: missing values, duplicates, constant columns
    assert schema["gappy"]["missing"] == int(X["gappy"].isna().sum())
    assert rep.duplicates == 2 and rep.constant_columns == ["const", "gappy"]
    # small tables stay exact
    exact = compute_report(X, y, name="big", task="classification", target="y")
    assert exact.sample is None and exact.duplicates == 2
