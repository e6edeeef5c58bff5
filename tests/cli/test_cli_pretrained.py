"""``aimass models pretrained`` and ``aimass train --pretrained``, as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from common_helpers import aimass


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with a tiny BERT (and its tokenizer), a tiny ViT and a stray folder."""
    from aimass_lab.models import create_pretrained

    root = tmp_path_factory.mktemp("pretrained")
    create_pretrained(root / "bert-tiny", "text", "tiny", max_length=32)
    create_pretrained(root / "vit-tiny", "image", "tiny", image_size=16)
    (root / "notes").mkdir()
    (root / "notes" / "README.txt").write_text("not a model\n")
    return root


def test_models_pretrained_lists_the_models_folder(
    tmp_path: Path, models_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = json.loads(
        aimass(tmp_path, "models", "pretrained", "--dir", str(models_folder), "--json").stdout
    )
    assert doc["dir"] == str(models_folder)
    by_name = {m["name"]: m for m in doc["models"]}
    assert sorted(by_name) == ["bert-tiny", "vit-tiny"]  # the stray folder is skipped
    bert, vit = by_name["bert-tiny"], by_name["vit-tiny"]
    assert (bert["kind"], bert["model_type"], bert["max_length"], bert["tokenizer"]) == (
        "text",
        "bert",
        32,
        True,
    )
    assert (vit["kind"], vit["model_type"], vit["image_size"], vit["tokenizer"]) == (
        "image",
        "vit",
        16,
        False,
    )
    assert bert["parameters"] > 0 and bert["size_bytes"] == 4 * bert["parameters"]

    # AIMASS_MODELS_DIR is the default folder; the table has one line per model.
    monkeypatch.setenv("AIMASS_MODELS_DIR", str(models_folder))
    lines = aimass(tmp_path, "models", "pretrained", check=True).stdout.splitlines()
    assert lines[0] == f"pretrained models in {models_folder}:"
    assert lines[1].split() == ["NAME", "KIND", "MODEL_TYPE", "PARAMS", "SIZE", "INPUT", "TOK"]
    assert lines[2].split()[:3] == ["bert-tiny", "text", "bert"]
    assert "max_length 32" in lines[2] and lines[2].split()[-1] == "yes"
    assert "image 16px" in lines[3] and lines[3].split()[-1] == "no"


def test_models_pretrained_default_folder_is_in_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    out = aimass(ws, "models", "pretrained", check=True).stdout.splitlines()
    assert out == [f"pretrained models in {ws / 'pretrained'}:", "(none)"]
    proc = aimass(ws, "models", "pretrained", "--dir", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "folder not found" in proc.stderr


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("stray", "is not a pretrained model folder: it has no config.json (it holds: README.txt)"),
        ("missing", "pretrained model folder not found"),
        ("pickle", "pytorch_model.bin is a pickle file, which is not loaded"),
    ],
)
def test_train_refuses_a_folder_that_is_not_a_model(
    tmp_path: Path, models_folder: Path, which: str, message: str
) -> None:
    folder = {
        "stray": models_folder / "notes",
        "missing": tmp_path / "nowhere",
        "pickle": tmp_path / "pickled",
    }[which]
    if which == "pickle":
        folder.mkdir()
        (folder / "config.json").write_text('{"model_type": "bert"}')
        (folder / "pytorch_model.bin").write_bytes(b"\x80\x04")
    proc = aimass(tmp_path / "ws", "train", "--data", "reviews", "--pretrained", str(folder))
    assert proc.returncode == 2, proc.stderr
    assert "Invalid value for --pretrained" in proc.stderr and message in proc.stderr
    assert "accepted" in proc.stderr or "save_pretrained" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "ws" / "runs").exists() or not any((tmp_path / "ws" / "runs").iterdir())


def test_train_refuses_a_model_of_the_wrong_kind_and_a_second_model(
    tmp_path: Path, models_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMASS_MODELS_DIR", str(models_folder))
    proc = aimass(tmp_path, "train", "--data", "reviews", "--pretrained", "vit-tiny")
    assert proc.returncode == 1, proc.stderr
    assert (
        "is an image model but dataset 'reviews' is text; accepted: a text model folder"
        in proc.stderr
    )
    proc = aimass(tmp_path, "train", "--data", "reviews", "-m", "mlp", "--pretrained", "bert-tiny")
    assert proc.returncode == 2 and "drop --model mlp" in proc.stderr
    proc = aimass(tmp_path, "train", "--data", "reviews", "--pretrained", "bert-tin")
    assert proc.returncode == 2 and "models in " in proc.stderr and "bert-tiny" in proc.stderr


def test_train_fine_tunes_a_pretrained_model_by_name_with_lora(
    tmp_path: Path, models_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "data: {name: reviews, options: {n_samples: 120}, tokenizer: {max_length: 32}}\n"
        "batch_size: 32\n"
    )
    monkeypatch.setenv("AIMASS_MODELS_DIR", str(models_folder))
    doc = json.loads(
        aimass(
            tmp_path / "ws",
            "train",
            "--config",
            str(config),
            "--pretrained",
            "bert-tiny",
            "--set",
            "finetune=lora",
            "--set",
            "lora_rank=4",
            "--epochs",
            "1",
            "--warmup-steps",
            "2",
            "--lr-schedule",
            "linear",
            "--accumulate-grad-batches",
            "2",
            "--wait",
            "--json",
            check=True,
        ).stdout
    )
    assert doc["state"] == "succeeded", doc
    spec = doc["spec"]
    assert spec["model"] == {
        "family": "pretrained",
        "path": str(models_folder / "bert-tiny"),
        "hparams": {"finetune": "lora", "lora_rank": 4},
        "target": None,
        "architecture": None,
    }
    assert (spec["warmup_steps"], spec["lr_schedule"], spec["accumulate_grad_batches"]) == (
        2,
        "linear",
        2,
    )
    assert spec["data"]["tokenizer"]["path"] == str(models_folder / "bert-tiny")
