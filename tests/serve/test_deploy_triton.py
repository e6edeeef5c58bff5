"""``aimass models export-triton``: a Triton model repository, written atomically, never over."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from common_helpers import aimass
from deploy_helpers import model_workspace

from aimass_lab import registry
from aimass_lab.cli import cli
from aimass_lab.serve.deploy._triton import TritonExportError, export_triton


def test_export_triton_cli_writes_the_layout(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    repo = tmp_path / "repo"
    proc = aimass(ws.path, "models", "export-triton", "digits-mlp:2", str(repo), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["path"] == str(repo / "digits-mlp")
    assert doc["files"] == [
        "digits-mlp/2/model.onnx",
        "digits-mlp/aimass.json",
        "digits-mlp/config.pbtxt",
        "digits-mlp/labels.txt",
    ]
    config = (repo / "digits-mlp" / "config.pbtxt").read_text()
    for line in (
        'name: "digits-mlp"',
        'platform: "onnxruntime_onnx"',
        "max_batch_size: 32",
        'name: "input"',
        'name: "output"',
        "data_type: TYPE_FP32",
        "dims: [ 64 ]",
        "dims: [ 10 ]",
        'label_filename: "labels.txt"',
        "dynamic_batching {",
        "max_queue_delay_microseconds: 2000",
        "version_policy: { specific: { versions: [ 2 ] } }",
    ):
        assert line in config, line
    assert (repo / "digits-mlp" / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    # The model file is the registered one, byte for byte.
    onnx_file = registry.get("digits-mlp:2", workspace=ws).files()["model.onnx"]
    assert (repo / "digits-mlp" / "2" / "model.onnx").read_bytes() == onnx_file.read_bytes()
    # and ONNX Runtime runs it with the batch axis the config promises
    import onnxruntime as ort

    sess = ort.InferenceSession(str(repo / "digits-mlp" / "2" / "model.onnx"))
    out = sess.run(None, {"input": np.zeros((3, 64), np.float32)})[0]
    assert out.shape == (3, 10)
    # Never overwritten: the second export fails and leaves the first untouched.
    again = aimass(ws.path, "models", "export-triton", "digits-mlp:2", str(repo))
    assert again.returncode == 1
    assert f"error: {repo / 'digits-mlp'} already exists; Triton export never overwrites" in (
        again.stderr
    )
    assert (repo / "digits-mlp" / "config.pbtxt").read_text() == config
    assert not [p for p in repo.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_export_triton_of_a_torch_version_exports_onnx_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    # digits-mlp:1 has no model.onnx; its ONNX export (digits-mlp:2) is found and reused.
    target = export_triton("digits-mlp:1", tmp_path / "repo", name="digits-torch", workspace=ws)
    assert (target / "1" / "model.onnx").is_file()
    assert (
        "version_policy: { specific: { versions: [ 1 ] } }" in (target / "config.pbtxt").read_text()
    )
    assert json.loads((target / "aimass.json").read_text())["onnx_from"] == "digits-mlp:2"
    assert [mv.ref for mv in registry.list(workspace=ws)] == ["digits-mlp:2", "digits-mlp:1"]


def test_export_triton_bad_input(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    runner = CliRunner()
    base = ["--workspace", str(ws.path), "models", "export-triton"]
    result = runner.invoke(cli, [*base, "nope:1", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "no model named 'nope' in the registry" in result.output
    assert "models: 'digits-mlp'" in result.output
    result = runner.invoke(cli, [*base, "digits-mlp:9", str(tmp_path / "r")])
    assert "model 'digits-mlp' has no version 9; versions: 1, 2" in result.output
    (tmp_path / "file").write_text("x")
    with pytest.raises(TritonExportError, match=r"is a file; give the model repository folder"):
        export_triton("digits-mlp:2", tmp_path / "file", workspace=ws)
    with pytest.raises(TritonExportError, match=r"max_batch_size must be 1\.\.65536; got 0"):
        export_triton("digits-mlp:2", tmp_path / "r", max_batch_size=0, workspace=ws)
    assert not (tmp_path / "r" / "digits-mlp").exists()
