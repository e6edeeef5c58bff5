"""Bad input: each error names what was wrong, the value, and what is accepted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compress_helpers import FAST_BENCH, train_regression

import aimass_lab as am
from aimass_lab.compress import ParityError
from aimass_lab.errors import AimassError, DataError, SpecError
from aimass_lab.specs import CompressSpec
from aimass_lab.workspace import Workspace


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.2, "half"])
def test_prune_ratio_outside_zero_one(ratio: Any) -> None:
    with pytest.raises(SpecError) as info:
        CompressSpec(methods=[{"method": "prune", "ratio": ratio}])
    message = str(info.value)
    assert "methods.ratio" in message
    assert "prune ratio must be strictly between 0 and 1" in message
    assert f"got {ratio!r}" in message


def test_prune_ratio_from_a_string() -> None:
    with pytest.raises(SpecError, match=r"prune ratio must be strictly between 0 and 1 .*got 1.5"):
        CompressSpec(methods=["prune:structured:1.5"])


def test_unknown_method_and_misplaced_quantize() -> None:
    with pytest.raises(
        SpecError,
        match=r"unknown compression method 'shrink' in 'shrink:2'; accepted: 'prune', 'quantize', 'distill', 'low-rank'",
    ):
        CompressSpec(methods=["shrink:2"])
    with pytest.raises(SpecError, match=r"quantize must be the last step .* at step 1 of 2"):
        CompressSpec(methods=["quantize:int8-dynamic", "prune:0.5"])
    with pytest.raises(
        SpecError, match=r"unknown quantize mode 'int4'; accepted: 'int8-dynamic', 'int8-static'"
    ):
        CompressSpec(methods=["quantize:int4"])
    with pytest.raises(SpecError, match=r"unknown student 'gpt'; accepted: a preset \('mlp-small'"):
        CompressSpec(methods=["distill:student=gpt"])
    with pytest.raises(SpecError, match=r"give at least one method"):
        CompressSpec(methods=[])


def test_calibration_data_of_the_wrong_shape(trained: Any) -> None:
    before = len(am.registry.list(trained.name, workspace=trained.workspace))
    with pytest.raises(DataError) as info:
        am.compress(
            trained,
            ["quantize:int8-static"],
            calibration=np.zeros((20, 8, 8), np.float32),
            benchmark=FAST_BENCH,
        )
    message = str(info.value)
    assert "calibration data for quantize:int8-static has samples of shape (8, 8)" in message
    assert "the model takes samples of shape (64,)" in message
    assert "accepted: an array of shape (N, 64)" in message
    assert len(am.registry.list(trained.name, workspace=trained.workspace)) == before


def test_data_that_does_not_fit_the_model(trained: Any) -> None:
    with pytest.raises(
        DataError,
        match=r"dataset 'iris' has samples of shape \(4,\), but model digits-mlp:1 takes samples of shape \(64,\)",
    ):
        am.compress(trained, ["prune:0.5"], data="iris")


def test_quantising_an_int8_model_again(trained: Any) -> None:
    report = am.compress(trained, ["quantize:int8-dynamic"], benchmark=FAST_BENCH)
    int8 = report.versions[report.rows[1]["version"]]
    count = len(am.registry.list(trained.name, workspace=trained.workspace))
    with pytest.raises(AimassError) as info:
        am.compress(int8, ["quantize:int8-static"], benchmark=FAST_BENCH)
    message = str(info.value)
    assert f"quantize:int8-static: model {int8.ref} is already int8 (int8-dynamic)" in message
    assert f"Quantise its float32 parent instead ({trained.ref})" in message
    assert len(am.registry.list(trained.name, workspace=trained.workspace)) == count


def test_structured_prune_needs_an_mlp_or_a_cnn(trained: Any) -> None:
    report = am.compress(trained, ["low-rank:rank=4:epochs=0"], benchmark=FAST_BENCH)
    lowrank = report.versions[report.rows[1]["version"]]
    with pytest.raises(
        AimassError,
        match=r"structured pruning removes the hidden neurons of an MLP and the channels of a CNN, but this model is 'custom' \(a custom or already factorised network: its layer graph is not known\); accepted families: 'mlp', 'cnn'",
    ):
        am.compress(lowrank, ["prune:structured:0.5"], benchmark=FAST_BENCH)


def test_int8_regression_is_held_to_a_relative_error_bound(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    mv = train_regression(sqlite_workspace, tmp_path / "reg")
    report = am.compress(mv, ["quantize:int8-dynamic"], benchmark=FAST_BENCH)
    row = report.rows[1]
    assert report.metric == "rmse" and row["rmse"] > 0
    parity = report.versions[row["version"]].lineage["export"]["parity"]
    assert parity["passed"] and parity["max_rel_error"] == 0.05
    assert 0 < row["parity_relative_error"] == parity["relative_error"] <= 0.05
    assert parity["argmax_agreement"] is None
    count = len(am.registry.list("reg-mlp", workspace=sqlite_workspace))
    with pytest.raises(ParityError) as info:
        am.compress(mv, ["quantize:int8-dynamic"], int8_max_rel_error=1e-6, benchmark=FAST_BENCH)
    message = str(info.value)
    assert (
        f"parity check failed for step 1 (quantize:int8-dynamic) of {mv.ref} (int8 against"
        in message
    )
    assert "relative error max|onnx - reference| / max|reference| = " in message
    assert "> 1e-06; nothing was registered" in message
    assert info.value.report["relative_error"] > 1e-6 and not info.value.report["passed"]
    assert len(am.registry.list("reg-mlp", workspace=sqlite_workspace)) == count


def test_int8_classification_below_the_agreement_bound_registers_nothing(trained: Any) -> None:
    count = len(am.registry.list(trained.name, workspace=trained.workspace))
    # Static int8 calibrated on 1 sample of zeros clips nearly every activation.
    with pytest.raises(ParityError) as info:
        am.compress(
            trained,
            ["quantize:int8-static:calibration_batches=1:batch_size=1"],
            calibration=np.zeros((1, 64), np.float32),
            int8_min_agreement=1.0,
            benchmark=FAST_BENCH,
        )
    assert "argmax agreement" in str(info.value) and "< 100.0% of 64 rows" in str(info.value)
    assert len(am.registry.list(trained.name, workspace=trained.workspace)) == count
