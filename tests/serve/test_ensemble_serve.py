"""An ensemble version made with ``aimass models ensemble`` in a real process, then served by
a real server like any version: ``/v1`` predict on raw rows and OIP ``infer``, with ONNX
Runtime and with the torch engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from common_helpers import aimass, train_digits
from serve_helpers import oip_body, running

import aimass_lab as am
from aimass_lab import registry
from aimass_lab.workspace import Workspace


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two digits MLPs trained 1 epoch and exported to ONNX: ``dm:2`` and ``dm:4``."""
    root = tmp_path_factory.mktemp("ens-serve")
    ws = Workspace(root / "ws")
    for i, hidden in enumerate((32, 16)):
        mv = train_digits(
            ws, root / f"m{i}", name="dm", model={"family": "mlp", "hparams": {"hidden": hidden}},
            epochs=1,
        )  # fmt: skip
        am.export_onnx(mv, workspace=ws)
    ws.store.close()
    return root / "ws"


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _rows(ws: Workspace, n: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw digits rows, the same rows preprocessed as the members were trained, and the
    weighted mean (2:1) of the members' probabilities on them."""
    from sklearn.datasets import load_digits

    from aimass_lab.compress._onnx import run_onnx, session
    from aimass_lab.data._preprocess import Preprocessor

    raw = np.asarray(load_digits().data[:n], np.float64)
    members = [registry.get(r, workspace=ws) for r in ("dm:2", "dm:4")]
    ready = Preprocessor.from_state(members[0].config["preprocess"]).transform(raw)
    ready = ready.astype(np.float32)
    outs = [_softmax(run_onnx(session(m.files()["model.onnx"]), ready)) for m in members]
    return raw, ready, (2 * outs[0] + outs[1]) / 3


def test_cli_ensemble_then_serve_v1_and_oip(ws_path: Path, tmp_path: Path) -> None:
    proc = aimass(
        ws_path, "models", "ensemble", "dm:2", "dm:4", "--method", "median", "--name", "x"
    )
    assert proc.returncode != 0
    assert "accepted: 'mean', 'vote', 'weighted', 'stack'" in proc.stderr
    proc = aimass(
        ws_path, "models", "ensemble", "dm:2", "dm:4", "-m", "weighted", "-w", "2,1",
        "--name", "dm-ens", "--alias", "prod", "--runs", "2", "--json", check=True,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    rows = report["rows"]
    assert [r["method"] for r in rows] == ["member", "member", "ensemble:weighted"]
    assert rows[-1]["version"] == "dm-ens:1"
    shown = json.loads(
        aimass(ws_path, "models", "show", "dm-ens:prod", "--json", check=True).stdout
    )
    assert shown["members"] == ["dm:2", "dm:4"] and shown["parent"] == "dm:2"
    table = aimass(ws_path, "models", "show", "dm-ens:1", check=True).stdout
    assert "dm:4" in table

    ws = Workspace(ws_path)
    raw, ready, expected = _rows(ws)
    ws.store.close()
    for engine in ("auto", "torch"):
        with (
            running(ws_path, tmp_path, "--models", "dm-ens:prod", "--engine", engine) as server,
            server.client() as http,
        ):
            r = http.post("/v1/models/dm-ens/predict", json={"inputs": raw.tolist()})
            assert r.status_code == 200, r.text
            doc: dict[str, Any] = r.json()
            assert doc["model"] == "dm-ens" and doc["version"] == "1"
            np.testing.assert_allclose(doc["probabilities"], expected, atol=1e-5)
            assert doc["predictions"] == expected.argmax(1).tolist()
            r = http.post("/v2/models/dm-ens/infer", json=oip_body(ready))
            assert r.status_code == 200, r.text
            out = r.json()["outputs"][0]
            assert out["shape"] == [len(ready), 10]
            got = np.reshape(out["data"], out["shape"])
            np.testing.assert_allclose(_softmax(got), expected, atol=1e-5)
