"""``aimass models export-kserve``: an InferenceService valid against KServe's schema and the
model repository it reads, written atomically; bad input refused with nothing written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from common_helpers import aimass
from deploy_helpers import model_workspace

from aimass_lab.serve import KServeExportError, export_kserve

SCHEMA = json.loads(
    (Path(__file__).parent / "data" / "kserve-inferenceservice-v1beta1.schema.json").read_text()
)


def test_export_kserve_writes_a_valid_inference_service(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    out = tmp_path / "kserve"
    proc = aimass(
        ws.path, "models", "export-kserve", "digits-mlp:2", str(out),
        "--storage-uri", "s3://models/digits", "--max-replicas", "3", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["files"] == [
        "inference-service.yaml",
        "model-repository/digits-mlp/2/model.onnx",
        "model-repository/digits-mlp/aimass.json",
        "model-repository/digits-mlp/config.pbtxt",
        "model-repository/digits-mlp/labels.txt",
    ]
    isvc = yaml.safe_load((out / "inference-service.yaml").read_text())
    jsonschema.validate(isvc, SCHEMA)  # KServe's CRD (the parts written), unknown fields refused
    assert isvc["metadata"]["name"] == "digits-mlp"
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "triton"} and model["protocolVersion"] == "v2"
    assert model["runtime"] == "kserve-tritonserver"
    assert model["storageUri"] == "s3://models/digits"
    assert isvc["spec"]["predictor"]["maxReplicas"] == 3
    onnx = (out / "model-repository" / "digits-mlp" / "2" / "model.onnx").read_bytes()
    assert isvc["metadata"]["annotations"]["aimass-lab/ref"] == "digits-mlp:2"
    assert isvc["metadata"]["annotations"]["aimass-lab/sha256"] == hashlib.sha256(onnx).hexdigest()
    assert 'name: "digits-mlp"' in (out / "model-repository/digits-mlp/config.pbtxt").read_text()


def test_the_schema_catches_what_kserve_would_drop() -> None:
    good = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "digits"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "triton"}}}},
    }
    jsonschema.validate(good, SCHEMA)
    for bad in (
        {**good, "metadata": {"name": "Digits_1"}},  # not a DNS-1035 label
        {**good, "spec": {"predictor": {"model": {"modelFormat": {}}}}},  # no format name
        {**good, "spec": {"predictor": {"model": {"storageURI": "s3://x"}}}},  # a typo
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_export_kserve_bad_input(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    with pytest.raises(KServeExportError, match=r"digits-mlp:1 has no model\.onnx.*export_onnx"):
        export_kserve("digits-mlp:1", tmp_path / "a", workspace=ws)  # a torch version
    with pytest.raises(KServeExportError, match="accepted: a DNS-1035 label"):
        export_kserve("digits-mlp:2", tmp_path / "b", name="-digits", workspace=ws)
    with pytest.raises(KServeExportError, match=r"accepted: gs://\.\.\., s3://"):
        export_kserve("digits-mlp:2", tmp_path / "c", storage_uri="ftp://x/y", workspace=ws)
    with pytest.raises(KServeExportError, match="min_replicas <= max_replicas"):
        export_kserve("digits-mlp:2", tmp_path / "d", min_replicas=3, max_replicas=1, workspace=ws)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    with pytest.raises(KServeExportError, match="not an empty folder"):
        export_kserve("digits-mlp:2", full, workspace=ws)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "ws"]  # nothing half-written
    assert [p.name for p in full.iterdir()] == ["keep.txt"]
    proc = aimass(ws.path, "models", "export-kserve", "digits-mlp:1", str(tmp_path / "e"))
    assert proc.returncode == 1 and "has no model.onnx" in proc.stderr
