"""Choosing a table's target: a column named like a label is the default, none is guessed
otherwise, and the report warns when the target looks like a feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimass_lab import datasets
from aimass_lab.errors import SpecError


def _features(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.random(n)})


def test_a_csv_without_a_label_column_is_refused_naming_its_columns(
    tmp_path: Path, sqlite_workspace
) -> None:
    path = tmp_path / "points.csv"
    _features().to_csv(path, index=False)
    with pytest.raises(SpecError) as info:
        datasets.load({"source": "csv", "path": str(path)}, workspace=sqlite_workspace)
    message = str(info.value)
    assert "which column to predict" in message
    assert "'x1', 'x2', 'x3'" in message
    assert "target='<column>'" in message and "--target" in message and "dropdown" in message
    assert info.value.errors[0]["field"] == "target"
    # the same through from_csv; naming the target loads it
    with pytest.raises(SpecError, match="columns: 'x1', 'x2', 'x3'"):
        datasets.from_csv(path, workspace=sqlite_workspace)
    ds = datasets.from_csv(path, target="x3", workspace=sqlite_workspace)
    assert ds.spec.target == "x3" and ds.task == "regression"


@pytest.mark.parametrize("column", ["label", "Target", "CLASS", "y"])
def test_a_column_named_like_a_label_is_the_default_target(
    tmp_path: Path, sqlite_workspace, column: str
) -> None:
    frame = _features()
    frame[column] = np.where(frame["x1"] > 0, "yes", "no")
    path = tmp_path / "labelled.parquet"
    frame.to_parquet(path)
    ds = datasets.load({"source": "parquet", "path": str(path)}, workspace=sqlite_workspace)
    assert ds.spec.target == column and ds.task == "classification"
    assert ds.feature_names == ["x1", "x2", "x3"]
    # the registered spec records the chosen target
    datasets.add("labelled", ds, workspace=sqlite_workspace)
    assert datasets.get("labelled", workspace=sqlite_workspace).spec.target == column


def test_report_warns_when_the_target_looks_like_a_feature(
    tmp_path: Path, sqlite_workspace
) -> None:
    frame = _features()
    frame["label"] = np.where(frame["x1"] > 0, "yes", "no")
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    # x3 (continuous) chosen as a class label, with the text column `label` as an input
    ds = datasets.load(
        {"source": "csv", "path": str(path), "target": "x3", "task": "classification"},
        workspace=sqlite_workspace,
    )
    warnings = {w["kind"]: w for w in ds.report().warnings}
    assert "continuous number" in warnings["target"]["message"]
    assert warnings["target"]["column"] == "x3"
    assert (
        "'label' is named like a label but is used as an input"
        in (warnings["label_feature"]["message"])
    )
    # a row id as the target
    ids = _features().assign(row_id=np.arange(80))
    ids.to_csv(tmp_path / "ids.csv", index=False)
    report = datasets.report(
        {"source": "csv", "path": str(tmp_path / "ids.csv"), "target": "row_id"},
        workspace=sqlite_workspace,
    )
    assert any("looks like a row id" in w["message"] for w in report.warnings)
    # the right target gives none of these warnings
    ok = datasets.load({"source": "csv", "path": str(path)}, workspace=sqlite_workspace)
    assert ok.spec.target == "label"
    assert not {"target", "label_feature"} & set(ok.report().warning_kinds())
