"""Text end to end: tokenize, train the zoo text model for real, register, load, predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import aimass_lab as am
from aimass_lab import datasets, registry
from aimass_lab.data import Preprocessor
from aimass_lab.errors import SpecError
from aimass_lab.models import build_network, check_compatible
from aimass_lab.specs import ModelSpec
from aimass_lab.workspace import Workspace

DATA = {
    "name": "reviews",
    "options": {"n_samples": 240},
    "tokenizer": {"vocab_size": 150, "min_frequency": 1, "max_length": 24},
}
HP = {"d_model": 16, "heads": 2, "layers": 1, "ff": 32, "lr": 3e-3}


def test_text_train_register_load_predict(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    run = am.train(DATA, "text_transformer", hparams=HP, max_epochs=1, batch_size=16, workspace=ws)
    run.wait(timeout=240)
    assert run.status == "succeeded", run.logs(tail=40)
    assert run.job.result["global_step"] > 0 and "test_acc" in run.summary

    mv = run.register("reviews-text")
    config = mv.config
    pre_state = config["preprocess"]
    assert config["input_kind"] == "text" and pre_state["kind"] == "text"
    assert config["vocab_size"] == pre_state["vocab_size"] and config["pad_id"] == 0
    assert '"[UNK]"' in pre_state["tokenizer"] and len(pre_state["tokenizer_sha256"]) == 64

    # the same data as the job: the tokenizer stored with the version is the dataset's
    ds = datasets.load(DATA, workspace=ws)
    assert ds.preprocessor.tokenizer_sha256 == pre_state["tokenizer_sha256"]
    ds.preprocessor.check_matches(pre_state, f"model {mv.ref}")
    ids, _ = ds.take("test", 8)
    texts = [row["text"] for row in ds.parts["test"].preview(8)]

    # predict from raw strings with the registered version (verified files, safetensors)
    pre = Preprocessor.from_state(pre_state)
    from_strings = pre.transform(texts)
    assert np.array_equal(from_strings, ids)
    net = mv.load_network()
    with torch.inference_mode():
        served = net(torch.from_numpy(from_strings))
        as_floats = net(torch.from_numpy(from_strings).float())  # a float-only serving path
    assert served.shape == (8, 2)

    # the trained network itself, rebuilt from the job's Lightning checkpoint
    ckpt = torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)
    trained = build_network(
        ModelSpec(family="text_transformer", hparams={k: v for k, v in HP.items() if k != "lr"}),
        ds.input_shape,
        ds.output_dim,
        input_kind="text",
        vocab_size=ds.vocab_size,
        pad_id=ds.pad_id,
    )
    state = {k.removeprefix("network."): v for k, v in ckpt["state_dict"].items()}
    trained.load_state_dict(state, strict=True)
    trained.eval()
    with torch.inference_mode():
        expected = trained(torch.from_numpy(ids))
    torch.testing.assert_close(served, expected)
    torch.testing.assert_close(as_floats, expected)
    # padding more does not change the outputs (pad tokens are masked)
    with torch.inference_mode():
        padded = net(torch.from_numpy(pre.transform(texts, pad_to_max_length=True)))
    torch.testing.assert_close(padded, expected, atol=1e-5, rtol=1e-4)
    assert registry.get(mv.ref, workspace=ws).verify()["ok"]


def test_text_and_other_models_do_not_mix(sqlite_workspace: Workspace) -> None:
    with pytest.raises(
        SpecError, match=r"takes tabular or image or sequence input.*text_transformer"
    ):
        am.train(DATA, "mlp", max_epochs=1, workspace=sqlite_workspace)
    with pytest.raises(SpecError, match=r"'text_transformer' takes text input"):
        am.train("iris", "text_transformer", max_epochs=1, workspace=sqlite_workspace)
    spec = ModelSpec(family="text_transformer")
    with pytest.raises(SpecError, match="vocab_size and pad_id"):
        build_network(spec, (16,), 2, input_kind="text")
    check_compatible(spec, (16,), input_kind="text")
    with pytest.raises(SpecError, match="must divide d_model"):
        check_compatible(
            ModelSpec(family="text_transformer", hparams={"d_model": 10, "heads": 3}),
            (16,),
            input_kind="text",
        )


def test_text_model_masks_padding() -> None:
    net = build_network(
        ModelSpec(family="text_transformer", hparams={"dropout": 0.0}),
        (12,),
        3,
        input_kind="text",
        vocab_size=30,
        pad_id=0,
    ).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0], [0, 0, 0, 0, 0]])
    with torch.inference_mode():
        out = net(ids)
        short = net(ids[:1, :3])
        long = net(torch.cat([ids, torch.zeros(2, 7, dtype=torch.long)], dim=1))
    assert torch.isfinite(out).all()  # a text of padding only gives numbers, not NaN
    torch.testing.assert_close(out[:1], short, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out, long[:, :], atol=1e-5, rtol=1e-4)


def test_text_ddp_two_cpu_processes_bucketed(sqlite_workspace: Workspace) -> None:
    data = {**DATA, "tokenizer": {**DATA["tokenizer"], "bucket_by_length": True}}  # type: ignore[dict-item]
    run = am.train(
        data,
        "text_transformer",
        hparams=HP,
        max_epochs=1,
        batch_size=16,
        devices=2,
        accelerator="cpu",
        strategy="ddp",
        workspace=sqlite_workspace,
    )
    run.wait(timeout=300)
    assert run.status == "succeeded", run.logs(tail=60)
    assert run.job.result["world_size"] == 2
    # 168 training rows: each rank reads its own 84 in ceil(84 / 16) = 6 bucketed batches
    assert datasets.load(data).sizes["train"] == 168
    assert run.job.result["global_step"] == 6


def test_text_model_exports_to_onnx(tmp_path: Path) -> None:
    from aimass_lab.compress._onnx import export_network, run_onnx, session

    net = build_network(
        ModelSpec(family="text_transformer", hparams={"d_model": 16, "heads": 2, "ff": 32}),
        (12,),
        2,
        input_kind="text",
        vocab_size=50,
        pad_id=0,
    ).eval()
    path = tmp_path / "text.onnx"
    export_network(net, (12,), path)
    ids = np.zeros((3, 12), np.float32)  # ids as the float32 serving input carries them
    ids[:, :4] = [5, 6, 7, 8]
    ids[1, 4:6] = [9, 10]
    with torch.inference_mode():
        expected = net(torch.from_numpy(ids)).numpy()
    np.testing.assert_allclose(run_onnx(session(path), ids), expected, atol=1e-5)
    assert torch.backends.mha.get_fastpath_enabled()  # switched back after the export
