"""TrainPanel with local pretrained models: the dropdown, the fine-tuning options, a real
LoRA fine-tuning of a tiny BERT from the Train button, and a model of the wrong kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from widgets_helpers import poll_until, stop_polling

from aimass_lab.workspace import Workspace

#: A small text dataset: the built-in reviews, few rows, short texts.
REVIEWS = {"name": "reviews", "options": {"n_samples": 80}, "tokenizer": {"max_length": 32}}


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with a tiny BERT (and its tokenizer) and a tiny ViT."""
    from aimass_lab.models import create_pretrained

    root = tmp_path_factory.mktemp("models")
    create_pretrained(root / "bert-tiny", "text", "tiny", max_length=32)
    create_pretrained(root / "vit-tiny", "image", "tiny", image_size=16)
    return root


def test_the_dropdown_lists_the_models_folder_and_the_finetune_options(
    tmp_path: Path, models_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.widgets import TrainPanel

    monkeypatch.setenv("AIMASS_MODELS_DIR", str(models_folder))
    panel = TrainPanel(REVIEWS, "mlp", workspace=Workspace(tmp_path / "ws"))
    labels = [label for label, _ in panel.pretrained.control.options]
    assert [path for _, path in panel.pretrained.control.options] == [
        str(models_folder / "bert-tiny"),
        str(models_folder / "vit-tiny"),
    ]
    assert labels[0].startswith("bert-tiny: text bert, ") and "parameters" in labels[0]
    assert labels[0].endswith("max_length 32, tokenizer") and labels[1].endswith("image 16px")
    assert panel.pretrained_box.layout.display == "none"  # only for the pretrained family

    panel.family.value = "pretrained"
    assert panel.pretrained_box.layout.display == ""
    for option in ("finetune", "top_layers", "lora_rank", "lora_alpha", "gradient_checkpointing"):
        assert option in panel.hparam_fields
    assert panel.hparam_fields["finetune"].control.options == ("full", "head", "top", "lora")
    assert set(panel.extra_fields) == {
        "warmup_steps", "lr_schedule", "accumulate_grad_batches", "gradient_clip_val", "max_steps"
    }  # fmt: skip
    assert "one_cycle" in panel.extra_fields["lr_schedule"].control.options
    assert panel.valid
    panel.hparam_fields["lora_rank"].value = 0
    assert not panel.valid and panel.hparam_fields["lora_rank"].has_error
    panel.hparam_fields["lora_rank"].value = 4
    panel.extra_fields["accumulate_grad_batches"].value = 0
    assert not panel.valid and panel.extra_fields["accumulate_grad_batches"].has_error
    panel.close()


def test_no_models_found_says_where_to_put_them(tmp_path: Path) -> None:
    from aimass_lab.widgets import TrainPanel

    panel = TrainPanel(REVIEWS, "pretrained", workspace=Workspace(tmp_path / "ws"))
    assert panel.pretrained.control.options == ()
    assert f"no pretrained model in {tmp_path / 'ws' / 'pretrained'}" in (
        panel.pretrained_note.value
    )
    assert not panel.valid and "needs path" in panel.pretrained.error.value
    (tmp_path / "ws" / "pretrained").mkdir()
    from aimass_lab.models import create_pretrained

    create_pretrained(tmp_path / "ws" / "pretrained" / "bert", "text", "tiny", max_length=32)
    assert [i.name for i in panel.refresh_pretrained()] == ["bert"]
    assert panel.valid and panel.pretrained_note.value == ""
    panel.close()


def test_a_model_of_the_wrong_kind_is_refused_next_to_the_dropdown(
    tmp_path: Path, models_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.widgets import TrainPanel

    monkeypatch.setenv("AIMASS_MODELS_DIR", str(models_folder))
    ws = Workspace(tmp_path / "ws")
    panel = TrainPanel(REVIEWS, "pretrained", workspace=ws)
    panel.pretrained.value = str(models_folder / "vit-tiny")
    assert panel.train() is None
    assert (
        "is an image model but dataset 'reviews' is text"
        in panel.pretrained.error.value.replace("&#x27;", "'")
    )
    assert ws.jobs.list() == []
    panel.close()


def test_train_button_fine_tunes_a_tiny_bert_with_lora(
    tmp_path: Path, models_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.widgets import TrainPanel

    monkeypatch.setenv("AIMASS_MODELS_DIR", str(models_folder))
    ws = Workspace(tmp_path / "ws")
    panel = TrainPanel(REVIEWS, "pretrained", workspace=ws, max_epochs=1)
    panel.hparam_fields["finetune"].value = "lora"
    panel.hparam_fields["lora_rank"].value = 2
    panel.extra_fields["warmup_steps"].value = 1
    panel.extra_fields["lr_schedule"].value = "linear"
    panel.extra_fields["gradient_clip_val"].value = 1.0  # max_steps stays 0: off
    panel.batch_size.value = 32
    panel.train_button.click()
    assert panel.last_error is None and panel.run is not None, panel.status.value
    stop_polling(panel)
    poll_until(panel.refresh, timeout=240)
    run = panel.run
    assert run.status == "succeeded", run.logs(tail=30)
    spec = run.spec
    assert spec.model.family == "pretrained" and spec.model.path == str(models_folder / "bert-tiny")
    assert spec.model.hparams["finetune"] == "lora" and spec.model.hparams["lora_rank"] == 2
    assert (spec.warmup_steps, spec.lr_schedule) == (1, "linear")
    assert (spec.gradient_clip_val, spec.max_steps) == (1.0, None)
    assert run.history("lr")  # a schedule: the rate of every step is recorded
    lr_trace = next(t for t in panel.chart.data if t.name == "lr")  # on its own log axis
    assert lr_trace.yaxis == "y3" and len(lr_trace.y) == len(run.history("lr"))
    panel.close()

    again = TrainPanel(run=run)  # the form shows the run's settings
    assert again.family.value == "pretrained"
    assert again.pretrained.value == str(models_folder / "bert-tiny")
    assert again.hparam_fields["lora_rank"].value == 2
    assert again.extra_fields["lr_schedule"].value == "linear"
    assert again.extra_fields["gradient_clip_val"].value == 1.0
    assert again.extra_fields["max_steps"].value == 0
    again.close()
