"""The report: measured rows, DataFrame, notebook HTML, Pareto figure, pick()."""

from __future__ import annotations

import json
from typing import Any

import pytest
from compress_helpers import FAST_BENCH

import aimass_lab as am
from aimass_lab.compress import CompressionReport
from aimass_lab.errors import AimassError, NotFoundError

FIGURES = ("p50_ms", "p95_ms", "throughput")


@pytest.fixture(scope="module")
def report(trained: Any) -> CompressionReport:
    return am.compress(
        trained,
        ["prune:structured:0.5:epochs=2", "quantize:int8-dynamic"],
        benchmark=FAST_BENCH,
    )


def test_rows_hold_measurements(report: CompressionReport, trained: Any) -> None:
    assert [r["method"] for r in report.rows] == [
        "baseline",
        "prune:structured:0.5",
        "quantize:int8-dynamic",
    ]
    assert report.rows[0]["version"] == trained.ref and report.metric == "accuracy"
    for row in report.rows:
        assert 0.0 <= row["accuracy"] <= 1.0
        assert row["size_bytes"] > 0 and row["params"] > 0
        for name in FIGURES:
            assert row[f"ort_cpu_{name}"] > 0
        assert row["ort_cpu_p95_ms"] >= row["ort_cpu_p50_ms"]
    for row in report.rows[:2]:
        for name in FIGURES:
            assert row[f"torch_{name}"] > 0
    # The measured accuracy of the baseline is the accuracy of its network on the test split.
    import numpy as np
    import torch

    from aimass_lab import data as data_stage

    ds = data_stage.load("digits")
    with torch.no_grad():
        pred = trained.load_network()(torch.from_numpy(ds.X_test)).argmax(-1).numpy()
    assert report.rows[0]["accuracy"] == pytest.approx(float(np.mean(pred == ds.y_test)))


def test_frame_html_json_and_figure(report: CompressionReport) -> None:
    frame = report.to_frame()
    assert list(frame.columns[:5]) == ["method", "version", "parent", "accuracy", "size_bytes"]
    assert len(frame) == 3
    page = report._repr_html_()
    assert "<table>" in page and "quantize:int8-dynamic" in page and "Pareto front" in page
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["model"] == report.rows[0]["version"] and len(doc["rows"]) == 3
    fig = report.figure()
    assert fig.data[0].name == "variants" and len(fig.data[0].x) == 3
    assert fig.data[1].name == "Pareto front" and len(fig.data[1].x) == len(report.pareto()) >= 1
    assert "latency" in fig.layout.xaxis.title.text


def test_pick_by_criteria_index_and_name(report: CompressionReport) -> None:
    smallest = report.pick(by="size_bytes")
    assert smallest.ref == min(report.rows, key=lambda r: r["size_bytes"])["version"]
    assert report.pick(0).ref == report.rows[0]["version"]
    chosen = report.pick("quantize:int8-dynamic", alias="edge")
    assert chosen.aliases == ["edge"]
    assert am.registry.get(f"{chosen.name}:edge", chosen.workspace).ref == chosen.ref
    within = report.pick(max_drop=0.0, by="params")
    base = report.rows[0]["accuracy"]
    assert next(r for r in report.rows if r["version"] == within.ref)["accuracy"] >= base


def test_pick_errors_say_what_is_accepted(report: CompressionReport) -> None:
    with pytest.raises(
        NotFoundError, match=r"no variant 'nope' in the report; accepted: a row index"
    ):
        report.pick("nope")
    with pytest.raises(NotFoundError, match=r"no row 7 in a report of 3 rows"):
        report.pick(7)
    with pytest.raises(AimassError, match=r"cannot pick by 'speed'; accepted: 'ort_cpu_p50_ms'"):
        report.pick(by="speed")
    with pytest.raises(NotFoundError, match=r"within max_drop=-1"):
        report.pick(max_drop=-1)
