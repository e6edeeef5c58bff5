"""GET pretrained, and training a pretrained model through POST jobs (the spec is the vocabulary)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import api_error, api_json

from aimass_lab.workspace import Workspace


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT (with its tokenizer) and a tiny ViT, written once for the module."""
    from aimass_lab.models import create_pretrained

    root = tmp_path_factory.mktemp("tiny-pretrained")
    create_pretrained(root / "bert-tiny", "text", "tiny", max_length=32)
    create_pretrained(root / "vit-tiny", "image", "tiny", image_size=16)
    return root


def _copy_into(ws_path: Path, tiny_models: Path) -> Path:
    """The tiny models copied into the workspace's default models folder."""
    import shutil

    target = ws_path / "pretrained"
    shutil.copytree(tiny_models, target)
    return target


async def test_pretrained_lists_the_workspace_models_folder(
    jp_fetch: Any, ws_path: Path, tiny_models: Path
) -> None:
    empty = await api_json(jp_fetch, "pretrained")
    assert empty == {"dir": str(ws_path / "pretrained"), "models": []}
    folder = _copy_into(ws_path, tiny_models)
    (folder / "stray").mkdir()  # not a model: skipped
    doc = await api_json(jp_fetch, "pretrained")
    assert doc["dir"] == str(folder)
    assert [m["name"] for m in doc["models"]] == ["bert-tiny", "vit-tiny"]
    bert, vit = doc["models"]
    assert bert["path"] == str(folder / "bert-tiny") and bert["kind"] == "text"
    assert bert["max_length"] == 32 and bert["tokenizer"] is True
    assert bert["parameters"] > 0 and bert["size_bytes"] == 4 * bert["parameters"]
    assert vit["kind"] == "image" and vit["image_size"] == 16 and vit["tokenizer"] is False


async def test_a_pretrained_model_trains_through_post_jobs(
    jp_fetch: Any, ws_path: Path, tiny_models: Path
) -> None:
    folder = _copy_into(ws_path, tiny_models)
    listed = (await api_json(jp_fetch, "pretrained"))["models"]
    spec = {
        "data": {"name": "reviews", "options": {"n_samples": 80}, "tokenizer": {"max_length": 32}},
        "model": {
            "family": "pretrained",
            "path": listed[0]["path"],
            "hparams": {"finetune": "lora", "lora_rank": 2},
        },
        "max_epochs": 1,
        "batch_size": 32,
        "warmup_steps": 1,
        "lr_schedule": "cosine",
    }
    job = await api_json(
        jp_fetch, "jobs", method="POST", body=json.dumps({"kind": "train", "spec": spec})
    )
    assert job["spec"]["data"]["tokenizer"]["path"] == str(folder / "bert-tiny")
    ws = Workspace(ws_path)
    final = ws.jobs.wait(job["id"], timeout=240)
    assert final.state == "succeeded", ws.jobs.logs(job["id"], tail=40)
    from aimass_lab.train import Run

    run = Run(job["id"], ws)
    model_json = json.loads((run.model_dir / "model.json").read_text())
    assert model_json["pretrained"]["kind"] == "text"

    # the registered version is listed with its parameter count and its size
    run.register("bert-reviews")
    (version,) = await api_json(jp_fetch, "models")
    weights = version["manifest"]["weights.safetensors"]["size"]
    assert 0 < 4 * version["parameters"] <= weights  # float32 tensors plus a JSON header
    assert version["size_bytes"] == sum(e["size"] for e in version["manifest"].values())


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("not-a-model", "is not a pretrained model folder: it has no config.json"),
        ("missing", "pretrained model folder not found"),
        ("image-for-text", "is an image model but dataset 'reviews' is text"),
    ],
)
async def test_a_bad_pretrained_folder_is_refused_before_any_job(
    jp_fetch: Any, ws_path: Path, tmp_path: Path, tiny_models: Path, which: str, message: str
) -> None:
    path = {
        "not-a-model": tmp_path,
        "missing": tmp_path / "nowhere",
        "image-for-text": tiny_models / "vit-tiny",
    }[which]
    spec = {"data": {"name": "reviews"}, "model": {"family": "pretrained", "path": str(path)}}
    code, body = await api_error(
        jp_fetch, "jobs", method="POST", body=json.dumps({"kind": "train", "spec": spec})
    )
    assert code == 422, body  # a SpecError, as for any bad field
    assert body["errors"][0]["field"] == "path" and message in body["errors"][0]["message"]
    assert "accepted" in body["errors"][0]["message"]
    assert Workspace(ws_path).jobs.list() == []  # nothing half-started
