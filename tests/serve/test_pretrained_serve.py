"""Raw text and images served by a real server: registered pretrained BERT and ViT versions."""

from __future__ import annotations

import base64
import io
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from common_helpers import write_image_folder
from serve_helpers import running

from aimass_lab.workspace import Workspace

_CACHE: dict[str, Path] = {}
TEXTS = ["the phone is great", "awful battery, broke in a day", "ok"]
LONG = " ".join(["great phone really"] * 20)  # far above max_length 16


def _train_once(root: Path) -> Path:
    """bert:1 (tiny BERT on reviews), bert:2 (the same, on_too_long 'refuse'), vit:1."""
    import aimass_lab as am
    from aimass_lab.models import create_pretrained

    ws = Workspace(root / "ws")
    bert = create_pretrained(root / "bert", "text", "tiny", max_length=16)
    vit = create_pretrained(root / "vit", "image", "tiny", image_size=16)
    model = {"family": "pretrained", "path": str(bert), "hparams": {"finetune": "head"}}
    for mode in ("truncate", "refuse"):
        data = {
            "name": "reviews",
            "options": {"n_samples": 48},
            "tokenizer": {"max_length": 16, "on_too_long": mode},
        }
        run = am.train(data, model, max_epochs=1, wait=True, workspace=ws)
        assert run.status == "succeeded", run.status
        run.register("bert")
    images = {
        "source": "image_folder",
        "path": str(
            write_image_folder(root / "imgs", classes=("dark", "light"), per_class=8, size=20)
        ),
        "image_size": 16,
    }
    vmodel = {"family": "pretrained", "path": str(vit), "hparams": {"finetune": "head"}}
    run = am.train(images, vmodel, max_epochs=1, wait=True, workspace=ws)
    assert run.status == "succeeded", run.status
    run.register("vit")
    ws.store.close()
    return root / "ws"


@pytest.fixture
def pws(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if "ws" not in _CACHE:
        _CACHE["ws"] = _train_once(tmp_path_factory.mktemp("pretrained-serve"))
    shutil.copytree(_CACHE["ws"], tmp_path / "ws")
    return tmp_path / "ws"


def _reference(ws: Path, ref: str, x: np.ndarray) -> np.ndarray:
    """Probabilities in process: the registry version's network on the same input."""
    import torch

    from aimass_lab import registry

    workspace = Workspace(ws)
    try:
        net = registry.get(ref, workspace=workspace).load_network()
    finally:
        workspace.store.close()
    with torch.inference_mode():
        logits = net(torch.from_numpy(x)).double()
    return torch.softmax(logits, dim=1).numpy()


def _config(ws: Path, ref: str) -> dict[str, Any]:
    from aimass_lab import registry

    workspace = Workspace(ws)
    try:
        return registry.get(ref, workspace=workspace).config
    finally:
        workspace.store.close()


def _png(value: int, size: int = 24) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    arr = np.full((size, size, 3), value, np.uint8)
    arr[::3] = 255 - value
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _binary_bytes(values: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def test_text_json_and_oip_bytes_match_in_process(pws: Path, tmp_path: Path) -> None:
    from aimass_lab.data import Preprocessor

    pre = Preprocessor.from_state(_config(pws, "bert:1")["preprocess"])
    ids = pre.transform(TEXTS).astype(np.int64)  # padded to the longest text
    expected = _reference(pws, "bert:1", ids)
    with running(pws, tmp_path, "--models", "bert:1", "--engine", "torch") as server:
        c = server.client()
        doc = c.post("/v1/models/bert/predict", json={"inputs": TEXTS}).json()
        np.testing.assert_allclose(doc["probabilities"], expected, atol=1e-5)
        assert doc["truncated"] == [False, False, False]
        assert set(doc) >= {"predictions", "probabilities", "confidence"}
        # OIP v2 BYTES, JSON data
        body = {"inputs": [{"name": "input", "datatype": "BYTES", "shape": [3], "data": TEXTS}]}
        out = c.post("/v2/models/bert/infer", json=body).json()
        logits = np.reshape(out["outputs"][0]["data"], (3, -1))
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        np.testing.assert_allclose(probs, expected, atol=1e-5)
        assert out["parameters"] == {"truncated": False}
        # OIP v2 BYTES, binary tensor extension
        blob = _binary_bytes([t.encode() for t in [*TEXTS, LONG]])
        head = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "datatype": "BYTES",
                        "shape": [4, 1],
                        "parameters": {"binary_data_size": len(blob)},
                    }
                ]
            }
        ).encode()
        r = c.post(
            "/v2/models/bert/infer",
            content=head + blob,
            headers={"inference-header-content-length": str(len(head))},
        )
        assert r.status_code == 200, r.text
        assert r.json()["parameters"] == {"truncated": True, "truncated_rows": "3"}
        # a long text: truncated and flagged
        doc = c.post("/v1/models/bert/predict", json={"inputs": ["ok", LONG]}).json()
        assert doc["truncated"] == [False, True]
        # not UTF-8: a binary BYTES element, then a JSON body
        bad = _binary_bytes([b"fine", b"caf\xe9 \xff"])
        head = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "datatype": "BYTES",
                        "shape": [2],
                        "parameters": {"binary_data_size": len(bad)},
                    }
                ]
            }
        ).encode()
        r = c.post(
            "/v2/models/bert/infer",
            content=head + bad,
            headers={"inference-header-content-length": str(len(head))},
        )
        assert r.status_code == 400
        assert "UTF-8 bytes" in r.text
        r = c.post(
            "/v1/models/bert/predict",
            content=b'{"inputs": ["caf\xe9"]}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 400 and "not UTF-8" in r.text and "accepted" in r.text


def test_too_long_text_refused_when_the_tokenizer_says_so(pws: Path, tmp_path: Path) -> None:
    assert _config(pws, "bert:2")["preprocess"]["on_too_long"] == "refuse"
    with running(pws, tmp_path, "--models", "bert:2") as server:
        c = server.client()
        assert c.post("/v1/models/bert/predict", json={"inputs": ["ok"]}).status_code == 200
        r = c.post("/v1/models/bert/predict", json={"inputs": ["ok", LONG]})
        assert r.status_code == 422
        assert "inputs[1] has" in r.text and "max_length 16" in r.text


def test_images_as_base64_json_and_oip_bytes(pws: Path, tmp_path: Path) -> None:
    from aimass_lab.data import Preprocessor, decode_image_bytes

    files = [_png(40), _png(220)]
    pre = Preprocessor.from_state(_config(pws, "vit:1")["preprocess"])
    x = pre.transform(np.stack([decode_image_bytes(f, 16, False) for f in files]))
    expected = _reference(pws, "vit:1", np.asarray(x, np.float32))
    b64 = [base64.b64encode(f).decode() for f in files]
    with running(pws, tmp_path, "--models", "vit:1") as server:
        c = server.client()
        doc = c.post("/v1/models/vit/predict", json={"inputs": b64}).json()
        np.testing.assert_allclose(doc["probabilities"], expected, atol=1e-5)
        assert doc["predictions"] == [["dark", "light"][i] for i in expected.argmax(1)]
        doc = c.post(
            "/v1/models/vit/predict", json={"inputs": [{"image_b64": s} for s in b64]}
        ).json()
        np.testing.assert_allclose(doc["probabilities"], expected, atol=1e-5)
        body = {"inputs": [{"name": "input", "datatype": "BYTES", "shape": [2], "data": b64}]}
        out = c.post("/v2/models/vit/infer", json=body).json()
        assert np.reshape(out["outputs"][0]["data"], (2, -1)).shape == (2, 2)
        blob = _binary_bytes(files)
        head = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "datatype": "BYTES",
                        "shape": [2],
                        "parameters": {"binary_data_size": len(blob)},
                    }
                ]
            }
        ).encode()
        r = c.post(
            "/v2/models/vit/infer",
            content=head + blob,
            headers={"inference-header-content-length": str(len(head))},
        )
        assert r.status_code == 200, r.text
        logits = np.reshape(r.json()["outputs"][0]["data"], (2, -1))
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        np.testing.assert_allclose(probs, expected, atol=1e-5)
        # not an image
        junk = base64.b64encode(b"GIF? no, just text").decode()
        r = c.post("/v1/models/vit/predict", json={"inputs": [b64[0], junk]})
        assert r.status_code == 400 and "inputs[1]" in r.text and "PNG" in r.text
        r = c.post("/v1/models/vit/predict", json={"inputs": ["@@not base64@@"]})
        assert r.status_code == 400 and "base64" in r.text


def test_deploy_refuses_replicas_that_do_not_fit_in_memory(
    pws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab import deploy
    from aimass_lab.errors import AimassError

    monkeypatch.setenv("AIMASS_DEPLOY_MEMORY_MB", "0.05")  # never the machine's real memory
    workspace = Workspace(pws)
    try:
        with pytest.raises(AimassError, match=r"vit:1 needs about .* for 8 replica\(s\)") as err:
            deploy("vit:1", replicas=8, workspace=workspace)
        assert "MB of memory is available" in str(err.value)
        assert not workspace.jobs.list(kind="serve")  # refused before any server started
    finally:
        workspace.store.close()


def test_onnx_exports_serve_raw_text_and_images(pws: Path, tmp_path: Path) -> None:
    """The whole way for both kinds: export (ONNX, dynamic sequence axis) and int8, served by
    onnxruntime from raw strings and raw image bytes; answers equal to in-process inference
    within the export's parity bound."""
    import aimass_lab as am
    from aimass_lab import registry
    from aimass_lab.data import Preprocessor, decode_image_bytes

    workspace = Workspace(pws)
    try:
        for ref in ("bert:1", "vit:1"):
            exported = am.export_onnx(registry.get(ref, workspace=workspace), workspace=workspace)
            assert exported.config["onnx"]["parity"]["argmax_agreement"] == 1.0
            am.compress(exported.ref, ["quantize:int8-dynamic"], workspace=workspace)
        refs = sorted(v.ref for v in registry.list(workspace=workspace))
    finally:
        workspace.store.close()
    pre = Preprocessor.from_state(_config(pws, "bert:1")["preprocess"])
    text_expected = _reference(pws, "bert:1", pre.transform(TEXTS).astype(np.int64))
    files = [_png(40), _png(220)]
    ipre = Preprocessor.from_state(_config(pws, "vit:1")["preprocess"])
    pixels = ipre.transform(np.stack([decode_image_bytes(f, 16, False) for f in files]))
    image_expected = _reference(pws, "vit:1", np.asarray(pixels, np.float32))
    b64 = [base64.b64encode(f).decode() for f in files]
    # bert:3 and vit:2 are the float32 exports, bert:4 and vit:3 their int8 children
    assert {"bert:3", "bert:4", "vit:2", "vit:3"} <= set(refs)
    models = [arg for ref in ("bert:3", "bert:4", "vit:2", "vit:3") for arg in ("--models", ref)]
    with running(pws, tmp_path, *models, "--engine", "onnxruntime") as server:
        c = server.client()
        for fp32, int8, inputs, expected in (
            ("bert:3", "bert:4", TEXTS, text_expected),
            ("vit:2", "vit:3", b64, image_expected),
        ):
            for ref, bound in ((fp32, 1e-4), (int8, 0.1)):
                r = c.post(f"/v1/models/{ref}/predict", json={"inputs": inputs})
                assert r.status_code == 200, r.text
                np.testing.assert_allclose(r.json()["probabilities"], expected, atol=bound)
