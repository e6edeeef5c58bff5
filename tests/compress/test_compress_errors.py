"""Bad input: each error names what was wrong, the value, and what is accepted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from compress_helpers import FAST_BENCH

import aimass_lab as am
from aimass_lab.errors import AimassError, DataError, SpecError
from aimass_lab.specs import CompressSpec


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


def test_structured_prune_needs_an_mlp(trained: Any) -> None:
    report = am.compress(trained, ["low-rank:rank=4:epochs=0"], benchmark=FAST_BENCH)
    lowrank = report.versions[report.rows[1]["version"]]
    with pytest.raises(
        AimassError,
        match=r"structured pruning removes the neurons of an MLP's hidden layers, but this model is 'custom'; accepted families: 'mlp'",
    ):
        am.compress(lowrank, ["prune:structured:0.5"], benchmark=FAST_BENCH)
