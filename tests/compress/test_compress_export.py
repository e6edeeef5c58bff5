"""``export_onnx``: preflight, dynamic batch axis, parity, and the registered ONNX file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from compress_helpers import register_custom, train_digits

import aimass_lab as am
from aimass_lab.compress import ExportError, ParityError
from aimass_lab.workspace import Workspace


def test_export_registers_a_parity_checked_child_on_each_backend(
    workspace: Workspace, tmp_path: Path
) -> None:
    mv = train_digits(workspace, tmp_path / "m", epochs=1)
    child = am.export_onnx(mv)
    assert child.parent == mv.ref and child.name == mv.name
    files = child.files()
    assert set(files) == {"model.onnx", "model.json", "weights.safetensors"}
    onnx_file = files["model.onnx"]
    assert (
        child.manifest["model.onnx"]["sha256"] == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    )
    # Same weights as the parent, stored once.
    assert child.manifest["weights.safetensors"] == mv.manifest["weights.safetensors"]
    info = child.config["onnx"]
    assert info["opset"] == 17 and info["format"] == "onnx"
    assert info["parity"]["passed"] and info["parity"]["argmax_agreement"] == 1.0
    assert info["parity"]["max_abs_diff"] <= 1e-4
    assert child.lineage["export"]["opset"] == 17
    model = onnx.load(str(onnx_file))
    assert model.opset_import[0].version == 17
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # The batch axis is dynamic: 1 and 7 rows both run and agree with torch.
    sess = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    net = child.load_network()
    import torch

    for rows in (1, 7):
        x = np.random.default_rng(rows).standard_normal((rows, 64)).astype(np.float32)
        out = sess.run(None, {"input": x})[0]
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        assert out.shape == (rows, 10)
        np.testing.assert_allclose(out, ref, atol=1e-4)


def test_unexportable_layer_is_named_and_nothing_registered(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    mv = register_custom(sqlite_workspace, tmp_path / "fft", "compress_helpers:FFTNet", "fft-net")
    with pytest.raises(ExportError) as info:
        am.export_onnx(mv)
    message = str(info.value)
    assert "layer 'spectral' (Spectral)" in message
    assert "aten::fft_fft" in message and "opset 17" in message
    assert [v.ref for v in am.registry.list("fft-net", workspace=sqlite_workspace)] == ["fft-net:1"]


def test_parity_failure_reports_and_registers_nothing(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    mv = register_custom(
        sqlite_workspace, tmp_path / "br", "compress_helpers:BranchyNet", "branchy"
    )
    with pytest.raises(ParityError) as info:
        am.export_onnx(mv)
    report: dict[str, Any] = info.value.report
    assert report["passed"] is False and report["rows"] == 64
    assert report["max_abs_diff"] > 1e-4 and report["argmax_agreement"] < 1.0
    message = str(info.value)
    assert "parity check failed for the export of branchy:1" in message
    assert "max |torch - onnx|" in message and "> atol 0.0001" in message
    assert "nothing was registered" in message
    assert [v.ref for v in am.registry.list("branchy", workspace=sqlite_workspace)] == ["branchy:1"]
    # The same failure inside compress() registers no variant either.
    with pytest.raises(ParityError):
        am.compress(mv, ["prune:0.5:epochs=0"], workspace=sqlite_workspace)
    assert len(am.registry.list("branchy", workspace=sqlite_workspace)) == 1


def test_data_without_a_test_part_is_parity_checked_on_validation_rows(
    sqlite_workspace: Workspace,
) -> None:
    data = {"name": "iris", "split": {"val": 0.2, "test": 0.0}}
    run = am.train(data, "mlp", hparams={"hidden": 8}, max_epochs=1, workspace=sqlite_workspace)
    run.wait(timeout=240)
    assert run.status == "succeeded", run.logs(tail=20)
    mv = run.register("iris-no-test")
    child = am.export_onnx(mv)
    assert child.config["onnx"]["parity"]["passed"]
    report = am.compress(mv, ["quantize:int8-dynamic"], benchmark={"runs": 2})
    assert len(report.rows) == 2
