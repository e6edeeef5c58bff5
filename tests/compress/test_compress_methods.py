"""Each method on a real digits MLP: a registered, reloadable, smaller child with lineage."""

from __future__ import annotations

from typing import Any

import onnx
import pytest
import torch
from compress_helpers import FAST_BENCH
from torch import nn

import aimass_lab as am
from aimass_lab.compress import CompressionReport
from aimass_lab.errors import AimassWarning


def _run(mv: Any, *methods: str) -> CompressionReport:
    return am.compress(mv, list(methods), benchmark=FAST_BENCH)


def test_structured_prune_removes_neurons_for_real(trained: Any) -> None:
    report = _run(trained, "prune:structured:0.5:epochs=1")
    base, row = report.rows
    child = report.versions[row["version"]]
    assert child.parent == trained.ref
    assert child.model_spec["hparams"]["hidden"] == 32
    net = child.load_network()
    widths = [m.out_features for m in net.modules() if isinstance(m, nn.Linear)]
    assert widths == [32, 32, 10]
    assert row["params"] < 0.45 * base["params"]
    assert row["size_bytes"] < 0.5 * base["size_bytes"]
    assert row["accuracy"] > 0.5
    lineage = child.lineage["compression"]
    assert lineage["method"] == "prune:structured:0.5" and lineage["source"] == trained.ref
    assert lineage["details"]["hidden"] == [64, 32]
    assert child.lineage["export"]["parity"]["passed"]
    assert child.metrics["test_acc"] == pytest.approx(row["accuracy"])


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_unstructured_prune_is_permanent(trained: Any, scope: str) -> None:
    report = _run(trained, f"prune:unstructured:0.6:{scope}:epochs=1")
    row = report.rows[1]
    child = report.versions[row["version"]]
    net = child.load_network()  # plain state dict: no weight_orig / weight_mask left
    assert not any(k.endswith(("_orig", "_mask")) for k in net.state_dict())
    weights = [m.weight for m in net.modules() if isinstance(m, nn.Linear)]
    sparsity = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert sparsity == pytest.approx(0.6, abs=0.01)
    if scope == "layer":
        for w in weights:
            assert float((w == 0).float().mean()) == pytest.approx(0.6, abs=0.02)
    assert row["nonzero_params"] < 0.5 * row["params"]
    assert child.lineage["compression"]["details"]["sparsity"] == pytest.approx(sparsity)


def test_low_rank_factorises_linear_layers(trained: Any) -> None:
    report = _run(trained, "low-rank:rank=8:epochs=1")
    row = report.rows[1]
    child = report.versions[row["version"]]
    assert child.model_spec["family"] == "custom"
    assert child.model_spec["target"] == "aimass_lab.compress._lowrank:LowRankNetwork"
    ranks = child.lineage["compression"]["details"]["ranks"]
    assert ranks and set(ranks.values()) == {8}
    net = child.load_network()
    from aimass_lab.compress._lowrank import LowRankLinear

    assert sum(isinstance(m, LowRankLinear) for m in net.modules()) == len(ranks)
    assert row["params"] < report.baseline["params"]


def test_energy_threshold_picks_ranks(trained: Any) -> None:
    report = _run(trained, "low-rank:energy=0.5:epochs=0")
    ranks = report.versions[report.rows[1]["version"]].lineage["compression"]["details"]["ranks"]
    assert all(1 <= r < 32 for r in ranks.values())


def test_distill_trains_a_smaller_student(trained: Any) -> None:
    report = _run(trained, "distill:student=mlp-tiny:epochs=3:temperature=2:alpha=0.5")
    row = report.rows[1]
    child = report.versions[row["version"]]
    assert child.model_spec == {
        "family": "mlp",
        "hparams": {"hidden": 16, "layers": 1},
        "path": None,  # ModelSpec.path (pretrained models, issue 14)
        "target": None,
        "architecture": None,
    }
    details = child.lineage["compression"]["details"]
    assert details["temperature"] == 2.0 and details["alpha"] == 0.5
    assert details["student_params"] < details["teacher_params"] == report.baseline["params"]
    assert row["accuracy"] > 0.3  # well above chance (0.1) after 3 epochs


def test_student_larger_than_teacher_warns(trained: Any) -> None:
    big = {
        "method": "distill",
        "student": {"family": "mlp", "hparams": {"hidden": 256}},
        "epochs": 1,
    }
    with pytest.warns(AimassWarning, match=r"is not smaller than its teacher \(8,970 parameters\)"):
        am.compress(trained, [big], benchmark=FAST_BENCH)


@pytest.mark.parametrize(
    ("method", "op"),
    [
        ("quantize:int8-dynamic", "DynamicQuantizeLinear"),
        ("quantize:int8-static:per-channel:calibration_batches=4", "QuantizeLinear"),
    ],
)
def test_quantize_gives_a_smaller_int8_onnx(trained: Any, method: str, op: str) -> None:
    report = _run(trained, method)
    base, row = report.rows
    child = report.versions[row["version"]]
    model = onnx.load(str(child.files()["model.onnx"]))
    assert op in {n.op_type for n in model.graph.node}
    assert row["size_bytes"] < 0.5 * base["size_bytes"]
    assert abs(row["accuracy"] - base["accuracy"]) < 0.05
    assert row["parity_argmax_agreement"] >= 0.9
    assert "torch_p50_ms" not in row  # an int8 model exists only as ONNX
    assert child.config["compression"]["quantized"] == method.split(":")[1]
    if "static" in method:
        assert child.lineage["compression"]["details"]["calibration_rows"] == 4 * 32


def test_steps_compose_in_order_with_lineage(trained: Any) -> None:
    report = _run(
        trained,
        "prune:structured:0.5:epochs=1",
        "low-rank:energy=0.9:epochs=1",
        "quantize:int8-dynamic",
    )
    methods = [r["method"] for r in report.rows]
    assert methods == [
        "baseline",
        "prune:structured:0.5",
        "low-rank:energy=0.9",
        "quantize:int8-dynamic",
    ]
    refs = [r["version"] for r in report.rows]
    parents = [r["parent"] for r in report.rows[1:]]
    assert parents == refs[:-1]
    last = report.versions[refs[-1]]
    assert last.lineage["compression"]["steps"] == methods[1:]
    # The low-rank step started from the pruned network (hidden 32).
    base = report.versions[refs[2]].model_spec["hparams"]["base"]
    assert base["hparams"]["hidden"] == 32
    net = report.versions[refs[2]].load_network()
    with torch.no_grad():
        assert net(torch.zeros(3, 64)).shape == (3, 10)
