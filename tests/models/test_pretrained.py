"""Pretrained Transformers models from local folders: load, fine-tuning modes, LoRA, bad input.

Every model here is built from a config and saved with ``save_pretrained``
(:func:`aimass_lab.models.create_pretrained`): nothing downloads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import aimass_lab as am
from aimass_lab.errors import AimassError, DeviceError, NotFoundError, SpecError
from aimass_lab.models import (
    build_network,
    create_pretrained,
    find_pretrained,
    inspect_pretrained,
    load_network,
    load_weights,
    network_options,
    save_weights,
)
from aimass_lab.specs import ModelSpec, TrainSpec
from aimass_lab.workspace import Workspace

MAX_LENGTH = 32
DATA = {"name": "reviews", "options": {"n_samples": 160}, "tokenizer": {"max_length": MAX_LENGTH}}


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with its WordPiece tokenizer (read-only for the tests that use it)."""
    return create_pretrained(
        tmp_path_factory.mktemp("models") / "bert", "text", "tiny", max_length=MAX_LENGTH
    )


@pytest.fixture(scope="module")
def vit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_pretrained(
        tmp_path_factory.mktemp("models") / "vit", "image", "tiny", image_size=16
    )


def _spec(path: Path, **hparams: object) -> ModelSpec:
    return ModelSpec(family="pretrained", path=str(path), hparams=hparams)


def _text_net(path: Path, **hparams: object) -> torch.nn.Module:
    return build_network(
        _spec(path, **hparams), (MAX_LENGTH,), 3, input_kind="text", vocab_size=300, pad_id=0
    )


def _trainable(net: torch.nn.Module) -> set[str]:
    return {n for n, p in net.named_parameters() if p.requires_grad}


def test_inspect_and_find(bert: Path, vit: Path) -> None:
    info = inspect_pretrained(bert)
    assert info.kind == "text" and info.model_type == "bert" and info.tokenizer
    assert info.max_length == MAX_LENGTH and info.weight_files == ["model.safetensors"]
    # counted from the safetensors header: the same number torch counts
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(bert, local_files_only=True)
    assert info.parameters == sum(p.numel() for p in model.parameters())
    assert info.size_bytes == 4 * info.parameters
    image = inspect_pretrained(vit)
    assert image.kind == "image" and image.image_size == 16 and image.image_mean == [0.5] * 3
    assert [i.path for i in find_pretrained(bert.parent)] == [str(bert)]
    assert find_pretrained(bert.parent / "nowhere") == []


def test_folders_that_are_not_models(tmp_path: Path, bert: Path) -> None:
    with pytest.raises(NotFoundError, match=r"folder not found.*nothing is downloaded"):
        inspect_pretrained(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match=r"no config.json.*save_pretrained"):
        inspect_pretrained(tmp_path / "empty")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((bert / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(
        NotFoundError, match=r"pytorch_model.bin is a pickle file.*safe_serialization"
    ):
        inspect_pretrained(pickled)
    (tmp_path / "noconfig").mkdir()
    (tmp_path / "noconfig" / "config.json").write_text(json.dumps({"hidden_size": 3}))
    (tmp_path / "noconfig" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(AimassError, match=r"no model_type"):
        inspect_pretrained(tmp_path / "noconfig")


def test_weights_that_do_not_match_the_config(tmp_path: Path, bert: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in bert.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    config = json.loads((bert / "config.json").read_text())
    config["intermediate_size"] = 48  # the saved weights have 64
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(AimassError, match=r"do not match its config.json: \d+ tensor"):
        _text_net(broken)


def test_new_head_and_finetune_modes(bert: Path) -> None:
    full = _text_net(bert)
    assert full.info["new_head"] and full.info["head"] == "classifier"
    assert _trainable(full) == {n for n, _ in full.named_parameters()}
    ids = torch.randint(1, 300, (4, 20))
    assert full(ids).shape == (4, 3)
    assert full.model.config.id2label[2] == "LABEL_2"

    head = _trainable(_text_net(bert, finetune="head"))
    assert head == {"model.classifier.weight", "model.classifier.bias"}

    top = _trainable(_text_net(bert, finetune="top", top_layers=1))
    assert any(".layer.1." in n for n in top) and not any(".layer.0." in n for n in top)
    assert not any("embeddings" in n for n in top) and head <= top

    lora = _text_net(bert, finetune="lora", lora_rank=4, lora_targets="query,value")
    names = _trainable(lora)
    assert names and all("lora_" in n or "classifier" in n for n in names)
    assert lora.info["lora"]["targets"] == ["query", "value"]
    groups = lora.param_groups(1e-3)
    assert [g["name"] for g in groups] == ["head", "backbone"]


def test_bad_lora_target_and_tokenizer_mismatch(bert: Path) -> None:
    with pytest.raises(SpecError, match=r"no Linear module named 'qkv'.*accepted.*query"):
        _text_net(bert, finetune="lora", lora_targets="query,qkv")
    with pytest.raises(
        AimassError, match=r"tokenizer does not match the model.*3000 tokens.*at most \d+ tokens"
    ):
        build_network(_spec(bert), (MAX_LENGTH,), 2, input_kind="text", vocab_size=3000, pad_id=0)
    with pytest.raises(AimassError, match=r"max_length is 64 but the model .* at most 32"):
        build_network(_spec(bert), (64,), 2, input_kind="text", vocab_size=300, pad_id=0)
    with pytest.raises(AimassError, match=r"takes text input, the data is image"):
        build_network(_spec(bert), (3, 16, 16), 2, input_kind="image")


def test_image_model_checks_and_normalisation(vit: Path) -> None:
    with pytest.raises(AimassError, match=r"takes 16x16 images.*set data image_size=16"):
        build_network(_spec(vit), (3, 32, 32), 2, input_kind="image")
    # the dataset normalised pixels p with (p - 0.4) / 0.2; the model wants (p - 0.5) / 0.5
    net = build_network(_spec(vit), (1, 16, 16), 2, input_kind="image", input_norm=(0.4, 0.2))
    pixels = torch.rand(2, 1, 16, 16)
    net.eval()
    with torch.inference_mode():
        ours = net((pixels - 0.4) / 0.2)
        theirs = net.model(pixel_values=((pixels - 0.5) / 0.5).expand(-1, 3, -1, -1)).logits
    torch.testing.assert_close(ours, theirs)


def test_rebuilt_from_model_json_equals_the_trained_network(bert: Path) -> None:
    for merge in (True, False):
        net = _text_net(bert, finetune="lora", lora_rank=2, lora_merge=merge)
        with torch.no_grad():  # move the adapter off its zero init so merging matters
            for name, param in net.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.1)
        net.eval()
        saved = net.merged() if merge else net
        config = {
            "model_spec": _spec(bert).to_dict(),
            "input_shape": [MAX_LENGTH],
            "output_dim": 3,
            "input_kind": "text",
            "vocab_size": 300,
            "pad_id": 0,
            "pretrained": saved.describe(),
        }
        assert network_options(config)["pretrained"]["lora"]["merged"] is merge
        state = {k: v.clone() for k, v in saved.state_dict().items()}
        rebuilt = build_network(
            ModelSpec.from_dict(config["model_spec"]), (MAX_LENGTH,), 3, **network_options(config)
        )
        rebuilt.load_state_dict(state, strict=True)
        rebuilt.eval()
        ids = torch.randint(1, 300, (3, 12))
        ids[0, 6:] = 0  # padding is masked out
        with torch.inference_mode():
            torch.testing.assert_close(rebuilt(ids), net(ids), atol=1e-5, rtol=1e-4)
        assert net.adapter_state() and not net.merged().adapter_state()


def test_weights_are_sharded_and_read_back(tmp_path: Path) -> None:
    state = {f"w{i}": torch.full((64,), float(i)) for i in range(5)}  # 256 bytes each
    names = save_weights(state, tmp_path, max_bytes=600)
    assert names == [
        "weights.safetensors",
        "weights-00002.safetensors",
        "weights-00003.safetensors",
    ]
    back = load_weights([tmp_path / n for n in names])
    assert list(back) == list(state) and all(torch.equal(back[k], state[k]) for k in state)


def test_spec_fills_the_tokenizer_and_preflight_refuses_gpu_strategies(bert: Path) -> None:
    spec = TrainSpec.from_dict({"data": DATA, "model": _spec(bert).to_dict()})
    assert spec.data.tokenizer.path == str(bert)
    own = TrainSpec.from_dict(
        {"data": {**DATA, "tokenizer": {"path": "/elsewhere"}}, "model": _spec(bert).to_dict()}
    )
    assert own.data.tokenizer.path == "/elsewhere"
    with pytest.raises(SpecError, match=r"family 'pretrained' needs path"):
        ModelSpec(family="pretrained")
    with pytest.raises(SpecError, match=r"finetune.*accepted: full, head, top, lora"):
        ModelSpec(family="pretrained", path="x", hparams={"finetune": "some"})
    if torch.cuda.device_count() == 0:
        for strategy in ("fsdp", "deepspeed"):
            fsdp = spec.model_copy(update={"strategy": strategy, "accelerator": "cpu"})
            with pytest.raises(DeviceError, match=rf"strategy='{strategy}'.*needs CUDA GPUs"):
                _preflight(fsdp)
        half = spec.model_copy(update={"precision": "16-mixed", "accelerator": "cpu"})
        with pytest.raises(DeviceError, match=r"float16.*bf16-mixed"):
            _preflight(half)


def _preflight(spec: TrainSpec) -> None:
    from aimass_lab.train import preflight

    preflight(spec)


def test_lora_train_register_load(sqlite_workspace: Workspace, bert: Path) -> None:
    """A real job: LoRA fine-tuning with warm-up, accumulation; registered; loaded back."""
    run = am.train(
        DATA,
        _spec(bert, finetune="lora", lora_rank=4).to_dict(),
        max_epochs=1,
        batch_size=16,
        lr=3e-3,
        warmup_steps=2,
        lr_schedule="linear",
        accumulate_grad_batches=2,
        workspace=sqlite_workspace,
    )
    run.wait(timeout=300)
    assert run.status == "succeeded", run.logs(tail=40)
    files = sorted(p.name for p in run.model_dir.iterdir())
    assert files == ["adapter.safetensors", "model.json", "weights.safetensors"]
    adapter = load_weights(run.model_dir / "adapter.safetensors")
    assert adapter and all("lora_" in k or "classifier" in k for k in adapter)
    mv = run.register("tiny-bert")
    assert "adapter.safetensors" in mv.manifest
    config = mv.config
    assert config["pretrained"]["lora"]["merged"] is True
    assert config["preprocess"]["kind"] == "text" and config["hparams"]["warmup_steps"] == 2
    net = mv.load_network()
    direct = load_network(config, run.model_dir / "weights.safetensors")
    ids = torch.randint(1, 300, (2, 10))
    with torch.inference_mode():
        torch.testing.assert_close(net(ids), direct(ids))
    assert "a new 2-class head (classifier) is initialised" in run.logs(tail=200)


def test_search_over_lora_rank_lr_and_frozen_layers(
    sqlite_workspace: Workspace, bert: Path
) -> None:
    study = am.search(
        DATA,
        _spec(bert, finetune="lora").to_dict(),
        space={
            "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
            "lora_rank": {"type": "categorical", "choices": [2, 4]},
            "finetune": {"type": "categorical", "choices": ["lora", "top"]},
            "warmup_steps": {"type": "int", "low": 0, "high": 3},
        },
        objectives="val_loss:min",
        pruner="none",
        n_trials=2,
        max_epochs=1,
        batch_size=32,
        seed=1,
        workspace=sqlite_workspace,
    )
    study.wait(timeout=300)
    (worker,) = study.workers
    assert worker.state == "succeeded", sqlite_workspace.jobs.logs(worker.id, tail=40)
    for row in study.trials.itertuples():
        run = am.Run(row.run_id, sqlite_workspace)
        hp = run.spec.model.hparams
        assert (
            hp["lora_rank"] == row.params["lora_rank"] and hp["finetune"] == row.params["finetune"]
        )
        assert run.spec.warmup_steps == row.params["warmup_steps"]
        assert run.spec.model.path == str(bert) and run.spec.data.tokenizer.path == str(bert)
        finetune = json.loads((run.model_dir / "model.json").read_text())["pretrained"]["finetune"]
        assert finetune == row.params["finetune"]


def test_a_default_max_length_fits_the_model(bert: Path) -> None:
    from aimass_lab.train import build_train_spec

    model = _spec(bert).to_dict()
    spec = build_train_spec({"name": "reviews"}, model)  # tokenizer max_length left at 128
    assert spec.data.tokenizer.max_length == MAX_LENGTH and spec.data.tokenizer.path == str(bert)
    given = build_train_spec({"name": "reviews", "tokenizer": {"max_length": 16}}, model)
    assert given.data.tokenizer.max_length == 16
    too_long = build_train_spec({"name": "reviews", "tokenizer": {"max_length": 64}}, model)
    assert too_long.data.tokenizer.max_length == 64  # explicit: refused when the model is built
