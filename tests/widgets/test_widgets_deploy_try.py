"""DeployPanel's try-it box on real pretrained models: raw text for a fine-tuned tiny BERT,
an uploaded image (sent as ``{"inputs": [{"image_b64": ...}]}``) for a fine-tuned tiny ViT.

Answering an image needs the server's raw-image decoding (the serve branch of issue 14):
the image test checks the body the box sends; the query itself is tested there."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from common_helpers import write_image_folder

from aimass_lab.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A new workspace; its endpoints stop after the test."""
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    for job in workspace.jobs.list():
        if job.active:
            workspace.jobs.cancel(job.id)
            workspace.jobs.wait(job.id, timeout=60)


def _register(ws: Workspace, tmp_path: Path, kind: str) -> str:
    """Fine-tune a tiny pretrained model of ``kind`` for one epoch; register it."""
    import aimass_lab as am
    from aimass_lab.models import create_pretrained

    if kind == "text":
        folder = create_pretrained(tmp_path / "bert", "text", "tiny", max_length=32)
        data: dict[str, object] = {
            "name": "reviews",
            "options": {"n_samples": 80},
            "tokenizer": {"max_length": 32},
        }
        hparams: dict[str, object] = {"finetune": "lora", "lora_rank": 2}
    else:
        folder = create_pretrained(tmp_path / "vit", "image", "tiny", image_size=16)
        root = write_image_folder(tmp_path / "pets", per_class=8)
        data = {"source": "image_folder", "path": str(root), "image_size": 16}
        hparams = {"finetune": "head"}
    run = am.train(
        data,
        {"family": "pretrained", "path": str(folder), "hparams": hparams},
        max_epochs=1,
        batch_size=32,
        wait=True,
        workspace=ws,
    )
    assert run.status == "succeeded", run.logs(tail=30)
    return str(run.register(f"tiny-{kind}").ref)


def test_a_text_model_takes_raw_text(ws: Workspace, tmp_path: Path) -> None:
    from aimass_lab.widgets import DeployPanel

    ref = _register(ws, tmp_path, "text")
    panel = DeployPanel(ref, workspace=ws)
    panel.endpoint_name.value = "texts"
    panel.deploy_button.click()
    assert panel.last_error is None, panel.status.value
    panel.stop_polling()
    assert panel.try_kind == "text"
    assert panel.try_text.layout.display == "" and panel.try_image.layout.display == "none"
    example = json.loads(panel.request.value)["inputs"]
    assert len(example) == 2 and all(isinstance(t, str) and t for t in example)
    assert panel.try_text.value == "\n".join(example)  # the test texts, editable

    panel.try_text.value = "a wonderful, moving film\n\nboring and far too long\n"
    assert json.loads(panel.request.value) == {
        "inputs": ["a wonderful, moving film", "boring and far too long"]
    }
    result = panel.predict()
    assert result is not None, panel.status.value
    assert len(result["predictions"]) == 2 and "answered by version 1" in panel.response.value
    direct = panel.deployment.predict(["a wonderful, moving film", "boring and far too long"])
    assert direct["predictions"] == result["predictions"]
    panel.close()


def test_an_image_model_takes_an_uploaded_image(ws: Workspace, tmp_path: Path) -> None:
    from aimass_lab.widgets import DeployPanel

    ref = _register(ws, tmp_path, "image")
    panel = DeployPanel(ref, workspace=ws)
    panel.endpoint_name.value = "images"
    panel.deploy_button.click()
    assert panel.last_error is None, panel.status.value
    panel.stop_polling()
    assert panel.try_kind == "image"
    assert panel.try_image.layout.display == "" and panel.try_text.layout.display == "none"
    assert "upload an image" in panel.try_note.value
    # the box starts with the first test image, and shows it
    first = json.loads(panel.request.value)["inputs"][0]["image_b64"]
    assert base64.b64decode(first)[:4] == b"\x89PNG" and f"base64,{first}" in panel.try_note.value

    content = (tmp_path / "pets" / "dog" / "0.png").read_bytes()
    panel.set_image(content, "0.png")
    body = json.loads(panel.request.value)
    assert list(body) == ["inputs"] and list(body["inputs"][0]) == ["image_b64"]
    assert base64.b64decode(body["inputs"][0]["image_b64"]) == content
    assert body["inputs"][0]["image_b64"] in panel.try_note.value  # the picture sent
    assert not panel.predict_button.disabled and panel.request_error.value == ""
    result = panel.predict()  # the server decodes, resizes and normalises the uploaded bytes
    assert result is not None, panel.status.value
    assert len(result["predictions"]) == 1 and result["predictions"][0] in ("cat", "dog")
    panel.close()


def test_a_bad_body_is_refused_before_sending(ws: Workspace) -> None:
    from aimass_lab.widgets import DeployPanel

    panel = DeployPanel(workspace=ws)
    panel.request.value = '{"image": "x"}'
    assert panel.predict_button.disabled
    assert "{&quot;inputs&quot;: [{&quot;image_b64&quot;" in panel.request_error.value
    panel.close()
