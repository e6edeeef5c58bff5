"""int8 settings follow the CPU a model is quantised for, on any machine running the tests.

ONNX Runtime's u8 x s8 kernels on x86 without VNNI (AVX2, AVX-512 without VNNI) add pairs of
products into saturating int16 (VPMADDUBSW). These tests force the settings of such a CPU
(``target_cpu``) whatever CPU runs them, check their accuracy, and prove by emulating the
instruction that the chosen settings cannot saturate while the old ones did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from compress_helpers import FAST_BENCH, train_regression
from onnx import numpy_helper

import aimass_lab as am
from aimass_lab import _cpu
from aimass_lab._cpu import ISAS, detect_isa, int8_mismatch, int8_settings, saturates
from aimass_lab.compress import CompressionReport
from aimass_lab.errors import AimassError, SpecError
from aimass_lab.specs import CompressSpec, QuantizeSpec
from aimass_lab.workspace import Workspace

INT16_MAX = 32767


# ----------------------------------------------------------------------- the choice, per ISA
@pytest.mark.parametrize(
    ("flags", "machine", "isa"),
    [
        ({"avx2", "avx512bw", "avx512_vnni", "amx_int8"}, "x86_64", "amx"),
        ({"avx2", "avx512bw", "avx512_vnni"}, "x86_64", "avx512-vnni"),
        ({"avx2", "avx_vnni"}, "x86_64", "avx-vnni"),
        ({"avx2", "avx512f", "avx512bw"}, "x86_64", "avx512"),
        ({"avx2", "fma"}, "x86_64", "avx2"),
        ({"sse4_2"}, "x86_64", "sse"),
        ({"asimd", "asimddp", "i8mm"}, "aarch64", "arm64-i8mm"),
        ({"asimd", "asimddp"}, "aarch64", "arm64-dotprod"),
        ({"asimd"}, "aarch64", "arm64"),
        ({"whatever"}, "riscv64", "unknown"),
    ],
)
def test_the_instruction_set_is_read_from_the_cpu_flags(
    flags: set[str], machine: str, isa: str
) -> None:
    assert _cpu._from_flags(flags, machine) == isa


@pytest.mark.parametrize("isa", ISAS)
def test_settings_for_each_instruction_set(isa: str) -> None:
    settings = int8_settings(isa)
    assert settings["isa"] == isa
    without_vnni = isa in ("avx512", "avx2", "sse")
    assert saturates(isa) is without_vnni
    assert settings["reduce_range"] is without_vnni
    if without_vnni:
        assert "VPMADDUBSW" in settings["why"] and "7 bits" in settings["why"]
    else:
        assert "full 8-bit weights" in settings["why"]


def test_an_unknown_instruction_set_is_refused() -> None:
    with pytest.raises(AimassError, match=r"unknown instruction set 'avx3'; accepted: 'amx', "):
        int8_settings("avx3")


def test_the_environment_overrides_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMASS_CPU_ISA", "avx2")
    assert detect_isa() == "avx2"
    monkeypatch.setenv("AIMASS_CPU_ISA", "arm64")
    assert detect_isa() == "arm64"
    monkeypatch.setenv("AIMASS_CPU_ISA", "pentium")
    with pytest.raises(AimassError, match=r"AIMASS_CPU_ISA='pentium' is not an instruction set"):
        detect_isa()
    monkeypatch.delenv("AIMASS_CPU_ISA")
    assert detect_isa() in ISAS


def test_the_spec_field_names_what_is_accepted() -> None:
    spec = CompressSpec(methods=["quantize:int8-dynamic:target_cpu=avx2"])
    step = spec.methods[0]
    assert isinstance(step, QuantizeSpec) and step.target_cpu == "avx2"
    assert step.label == "quantize:int8-dynamic:target_cpu=avx2"
    assert QuantizeSpec().target_cpu == "auto" and QuantizeSpec().label == "quantize:int8-dynamic"
    with pytest.raises(SpecError) as info:
        QuantizeSpec(target_cpu="avx3")
    message = str(info.value)
    assert "target_cpu: got 'avx3': " in message
    assert "unknown target_cpu 'avx3'; accepted: 'auto', 'amx', 'avx512-vnni'" in message


def test_serving_elsewhere_warns_when_it_matters() -> None:
    vnni = {"compression": {"int8": {"isa": "avx512-vnni", "reduce_range": False}}}
    safe = {"compression": {"int8": {"isa": "avx2", "reduce_range": True}}}
    assert int8_mismatch({"task": "regression"}, "avx2") is None  # not int8
    assert int8_mismatch(vnni, "avx512-vnni") is None
    assert int8_mismatch(safe, "avx2") is None
    unsafe = int8_mismatch(vnni, "avx2")
    assert unsafe is not None
    assert unsafe.startswith("this int8 model was quantised for avx512-vnni with full 8-bit")
    assert "target_cpu=avx2" in unsafe
    other = int8_mismatch(safe, "avx512-vnni")
    assert other is not None and "its settings are safe here" in other


def test_the_serving_cpu_is_read_only_for_int8_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """A float model loads whatever AIMASS_CPU_ISA says; an int8 one is checked against it."""
    monkeypatch.setenv("AIMASS_CPU_ISA", "avx3")  # not an instruction set
    assert int8_mismatch({"task": "regression"}) is None
    vnni = {"compression": {"int8": {"isa": "avx512-vnni", "reduce_range": False}}}
    with pytest.raises(AimassError, match="AIMASS_CPU_ISA='avx3' is not an instruction set"):
        int8_mismatch(vnni)
    monkeypatch.setenv("AIMASS_CPU_ISA", "avx2")
    assert "target_cpu=avx2" in (int8_mismatch(vnni) or "")


# ------------------------------------------------------------ accuracy with non-VNNI settings
@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The regression MLP whose int8 error was 0.196 on an AVX2 machine."""
    root: Path = tmp_path_factory.mktemp("cpu-reg")
    return train_regression(Workspace(root / "ws"), root / "reg")


@pytest.mark.parametrize("mode", ["int8-dynamic", "int8-static"])
def test_non_vnni_settings_hold_regression_accuracy(regression: Any, mode: str) -> None:
    report = am.compress(regression, [f"quantize:{mode}:target_cpu=avx2"], benchmark=FAST_BENCH)
    row = report.rows[1]
    assert row["int8_isa"] == "avx2" and row["int8_reduce_range"] is True
    version = report.versions[row["version"]]
    parity = version.lineage["export"]["parity"]
    assert parity["passed"] and 0 < parity["relative_error"] <= 0.05
    int8 = version.config["compression"]["int8"]
    assert int8["isa"] == "avx2" and int8["reduce_range"] is True
    assert int8["detected_isa"] == detect_isa()
    assert version.lineage["compression"]["details"]["int8"] == int8


@pytest.mark.parametrize("mode", ["int8-dynamic", "int8-static"])
def test_non_vnni_settings_hold_classification_accuracy(trained: Any, mode: str) -> None:
    report = am.compress(trained, [f"quantize:{mode}:target_cpu=avx512"], benchmark=FAST_BENCH)
    base, row = report.rows
    assert row["int8_isa"] == "avx512" and row["int8_reduce_range"] is True
    parity = report.versions[row["version"]].lineage["export"]["parity"]
    assert parity["passed"] and parity["argmax_agreement"] >= 0.95
    assert row["accuracy"] >= base["accuracy"] - 0.03


def test_vnni_settings_keep_full_range(trained: Any) -> None:
    report = am.compress(
        trained, ["quantize:int8-dynamic:target_cpu=avx512-vnni"], benchmark=FAST_BENCH
    )
    row = report.rows[1]
    assert row["int8_isa"] == "avx512-vnni" and row["int8_reduce_range"] is False
    weights = _quantized_weights(report.versions[row["version"]])
    assert max(int(np.abs(w).max()) for w in weights) > 63  # 8-bit weights are used


def test_a_slower_int8_variant_says_so() -> None:
    from aimass_lab.compress._variants import int8_columns as _int8_columns

    int8 = {"isa": "avx2", "reduce_range": True, "detected_isa": "avx2"}
    slow = _int8_columns(int8, {"ort_cpu_p50_ms": 0.05}, {"ort_cpu_p50_ms": 0.02})
    assert slow["note"].startswith("int8 is slower than float32 on this CPU (avx2): 0.05 ms")
    fast = _int8_columns(int8, {"ort_cpu_p50_ms": 0.01}, {"ort_cpu_p50_ms": 0.02})
    assert "note" not in fast and fast["int8_isa"] == "avx2"
    report = CompressionReport(
        [
            {"method": "baseline", "version": "m:1", "rmse": 1.0, "size_bytes": 9000}
            | {"ort_cpu_p50_ms": 0.02},
            {"method": "quantize:int8-dynamic", "version": "m:2", "rmse": 1.1, **slow}
            | {"ort_cpu_p50_ms": 0.05, "size_bytes": 3000},
        ],
        {},
        "rmse",
    )
    assert report.notes == [f"quantize:int8-dynamic (m:2): {slow['note']}"]
    assert (
        "<p>Note: quantize:int8-dynamic (m:2): int8 is slower than float32" in report._repr_html_()
    )


# ---------------------------------------------------------------- VPMADDUBSW, emulated in numpy
def _quantized_weights(version: Any) -> list[np.ndarray]:
    """The int8 weight matrices (K, N) of a quantised version's ONNX graph, in graph order."""
    model = onnx.load(str(version.files()["model.onnx"]))
    out = []
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.int8 and arr.ndim == 2:
            out.append(arr)
    return out


def _layer_inputs(version: Any, x: np.ndarray) -> list[np.ndarray]:
    """The float input of every Linear layer of the version's network, for rows ``x``."""
    network = version.load_network().eval()
    seen: list[np.ndarray] = []
    hooks = [
        m.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().numpy()))
        for m in network.modules()
        if isinstance(m, torch.nn.Linear)
    ]
    with torch.no_grad():
        network(torch.as_tensor(x, dtype=torch.float32))
    for h in hooks:
        h.remove()
    return seen


def _as_uint8(x: np.ndarray) -> np.ndarray:
    """ONNX Runtime's DynamicQuantizeLinear of a batch: uint8 with the range including 0."""
    lo, hi = min(0.0, float(x.min())), max(0.0, float(x.max()))
    scale = (hi - lo) / 255 or 1.0
    zero = np.clip(np.round(-lo / scale), 0, 255)
    return np.clip(np.round(x / scale) + zero, 0, 255).astype(np.int64)


def _worst_pair_sum(a: np.ndarray, w: np.ndarray) -> int:
    """The largest |u8 x s8 + u8 x s8| of adjacent K pairs: what VPMADDUBSW puts in int16."""
    k = a.shape[1] - a.shape[1] % 2
    prods = a[:, None, :k] * w.T[None, :, :k].astype(np.int64)  # (M, N, K)
    pairs = prods[..., 0::2] + prods[..., 1::2]
    return int(np.abs(pairs).max())


def test_emulated_vpmaddubsw_saturates_with_full_range_weights_only(regression: Any) -> None:
    x = np.asarray(am.datasets.load("regression").X_test[:256], dtype=np.float32)

    def worst(target: str) -> int:
        report = am.compress(
            regression, [f"quantize:int8-dynamic:target_cpu={target}"], benchmark=FAST_BENCH
        )
        version = report.versions[report.rows[1]["version"]]
        weights = _quantized_weights(version)
        inputs = _layer_inputs(version, x)
        assert [w.shape for w in weights] == [
            (i.shape[1], w.shape[1]) for i, w in zip(inputs, weights, strict=True)
        ]
        return max(_worst_pair_sum(_as_uint8(i), w) for i, w in zip(inputs, weights, strict=True))

    full = worst("avx512-vnni")  # the old settings everywhere
    reduced = worst("avx2")
    assert full > INT16_MAX, f"full 8-bit weights: worst pair {full} should overflow int16"
    assert reduced <= 255 * 64 * 2 <= INT16_MAX, f"7-bit weights: worst pair {reduced}"
