"""Structured pruning for real: CNN channels and MLP neurons removed, the next layers adjusted."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from compress_helpers import FAST_BENCH, register_zoo, train_digits
from onnx import numpy_helper
from torch import nn

import aimass_lab as am
from aimass_lab.compress._prune import shrink_into
from aimass_lab.errors import AimassError
from aimass_lab.models import build_network
from aimass_lab.specs import ModelSpec
from aimass_lab.workspace import Workspace

IMAGES = {"name": "digits", "as_images": True}
CNN = {"family": "cnn", "hparams": {"channels": 16, "layers": 2, "hidden": 64}}


def _cnn(channels: int, hidden: int) -> nn.Module:
    spec = ModelSpec(family="cnn", hparams={"channels": channels, "layers": 2, "hidden": hidden})
    return build_network(spec, (1, 8, 8), 10).eval()


def test_removing_dead_channels_and_neurons_changes_nothing() -> None:
    """Units whose output is zero are the ones removed, so the narrower network is exact."""
    torch.manual_seed(0)
    old = _cnn(8, 16)
    with torch.no_grad():
        for m in old.modules():
            if isinstance(m, nn.BatchNorm2d):  # every other channel outputs zero
                m.weight[1::2] = 0
                m.bias[1::2] = 0
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2.0)
        hidden = next(m for m in old.modules() if isinstance(m, nn.Linear))
        hidden.weight[::2] = 0  # every other neuron of the head outputs zero
        hidden.bias[::2] = 0
    new = _cnn(4, 8)
    removed = shrink_into(old, new)
    assert removed == {"features.0": [8, 4], "features.4": [16, 8], "head.1": [16, 8]}
    x = torch.randn(7, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(new(x), old(x), atol=1e-5, rtol=1e-5)
    # The kept head columns are those of the kept channels at every spatial position.
    assert new.get_submodule("head.1").in_features == 8 * 2 * 2


def test_layers_that_cannot_pass_channels_on_are_named() -> None:
    class Odd(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, width, 3)
            self.norm = nn.LayerNorm([width, 6, 6])
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * 36, 10))

    with pytest.raises(AimassError) as info:
        shrink_into(Odd(8), Odd(4), "prune:structured:0.5")
    message = str(info.value)
    assert (
        "prune:structured:0.5: layer 'norm' (LayerNorm) cannot pass the kept channels on" in message
    )
    assert "accepted between pruned layers: BatchNorm, Flatten" in message


def test_structured_prune_of_a_cnn_is_smaller_and_runs(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    mv = train_digits(
        sqlite_workspace, tmp_path / "cnn", name="digits-cnn", model=CNN, epochs=2, data=IMAGES
    )
    report = am.compress(mv, ["prune:structured:0.5:epochs=1"], benchmark=FAST_BENCH)
    base, row = report.rows
    child = report.versions[row["version"]]
    assert child.model_spec["family"] == "cnn"
    assert child.model_spec["hparams"] == {"channels": 8, "layers": 2, "hidden": 32}
    details = child.lineage["compression"]["details"]
    assert details["channels"] == [16, 8] and details["hidden"] == [64, 32]
    assert details["layers"] == {"features.0": [16, 8], "features.4": [32, 16], "head.1": [64, 32]}
    assert row["params"] < 0.3 * base["params"] and details["params"] == [
        base["params"],
        row["params"],
    ]
    assert row["size_bytes"] < 0.4 * base["size_bytes"]
    assert child.lineage["export"]["parity"]["passed"]
    assert row["accuracy"] > 0.5
    # The ONNX graph has the narrower convolutions for real.
    graph = onnx.load(str(child.files()["model.onnx"])).graph
    shapes = sorted(tuple(numpy_helper.to_array(t).shape) for t in graph.initializer)
    assert {s for s in shapes if len(s) == 4} == {(8, 1, 3, 3), (16, 8, 3, 3)}
    net = child.load_network()
    with torch.no_grad():
        assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_structured_prune_of_a_resnet_says_why_not(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    mv = register_zoo(
        sqlite_workspace,
        tmp_path / "res",
        {"family": "resnet", "hparams": {"channels": 4, "blocks": 1}},
        IMAGES,
        "res",
    )
    with pytest.raises(AimassError) as info:
        am.compress(mv, ["prune:structured:0.5"], benchmark=FAST_BENCH)
    message = str(info.value)
    assert (
        "structured pruning removes the hidden neurons of an MLP and the channels of a CNN"
        in message
    )
    assert "but this model is 'resnet' (its residual connections add" in message
    assert "accepted families: 'mlp', 'cnn'" in message
    assert "Use unstructured pruning ('prune:unstructured:0.5')" in message
    assert len(am.registry.list("res", workspace=sqlite_workspace)) == 1


def test_structured_prune_of_an_mlp_keeps_the_strongest_neurons() -> None:
    torch.manual_seed(0)
    old = build_network(ModelSpec(family="mlp", hparams={"hidden": 64, "layers": 2}), (64,), 10)
    new = build_network(ModelSpec(family="mlp", hparams={"hidden": 32, "layers": 2}), (64,), 10)
    removed = shrink_into(old, new)
    assert removed == {"net.1": [64, 32], "net.3": [64, 32]}
    first = old.get_submodule("net.1")
    assert isinstance(first, nn.Linear)
    score = first.weight.pow(2).sum(1) + first.bias.pow(2)
    kept = torch.topk(score, 32).indices.sort().values
    torch.testing.assert_close(new.get_submodule("net.1").weight, first.weight[kept])
