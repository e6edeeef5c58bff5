"""Export and compress pretrained Transformers models: a tiny BERT fine-tuned with LoRA on
``reviews`` and a tiny ViT on a generated image folder, both trained for real (1 epoch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from compress_helpers import FAST_BENCH, train_digits

import aimass_lab as am
from aimass_lab import registry
from aimass_lab.errors import AimassError
from aimass_lab.models import create_pretrained
from aimass_lab.workspace import Workspace

MAX_LENGTH = 32


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("pretrained-compress") / "ws")


@pytest.fixture(scope="module")
def bert(ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny BERT (2 layers) fine-tuned with LoRA for 1 epoch on 200 reviews, registered."""
    folder = create_pretrained(
        tmp_path_factory.mktemp("bert") / "bert", "text", "tiny", max_length=MAX_LENGTH
    )
    run = am.train(
        {"name": "reviews", "options": {"n_samples": 200}, "tokenizer": {"max_length": MAX_LENGTH}},
        {
            "family": "pretrained",
            "path": str(folder),
            "hparams": {"finetune": "lora", "lora_rank": 4},
        },
        max_epochs=1,
        lr=3e-3,
        wait=True,
        workspace=ws,
    )
    assert run.status == "succeeded", run.job.exit_reason
    return run.register("bert-reviews")


@pytest.fixture(scope="module")
def vit(ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny ViT fine-tuned with LoRA for 1 epoch on a generated dark/light image folder."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label, base in (("dark", 60), ("light", 190)):
        (root / label).mkdir()
        for i in range(24):
            pixels = rng.normal(base, 30, (32, 32, 3)).clip(0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    folder = create_pretrained(root.parent / "vit", "image", "tiny", image_size=32)
    run = am.train(
        {"source": "image_folder", "path": str(root), "image_size": 32},
        {
            "family": "pretrained",
            "path": str(folder),
            # "auto" does not know the q_proj/v_proj names of the ViT in transformers 5
            "hparams": {"finetune": "lora", "lora_rank": 4, "lora_targets": "q_proj,v_proj"},
        },
        max_epochs=1,
        lr=1e-3,
        wait=True,
        workspace=ws,
    )
    assert run.status == "succeeded", run.job.exit_reason
    return run.register("vit-shades")


def _token_rows(mv: Any, length: int, batch: int) -> np.ndarray:
    """``batch`` rows of token ids of ``length``, the later rows padded more."""
    pad = float(mv.config["pretrained"]["pad_id"] or 0)
    rng = np.random.default_rng(length)
    vocab = int(mv.config["pretrained"]["config"]["vocab_size"])
    x = rng.integers(5, vocab, (batch, length)).astype(np.float32)
    for i in range(1, batch):
        x[i, max(1, length - 3 * i) :] = pad
    return x


def test_text_export_merges_lora_has_a_sequence_axis_and_external_data(bert: Any) -> None:
    import onnx
    import torch

    from aimass_lab.serve.server._engine import open_engine, prepare

    before = len(registry.list("bert-reviews", workspace=bert.workspace))
    exported = am.export_onnx(bert, external_data_threshold=0)
    files = exported.files()
    assert {"model.onnx", "model.onnx.data", "weights.safetensors"} <= set(files)
    onnx_info = exported.config["onnx"]
    assert onnx_info["dynamic_axes"] == {"batch": 0, "sequence": 1}
    assert onnx_info["external_data"] == "model.onnx.data"
    assert onnx_info["parity"]["passed"] and onnx_info["parity"]["max_abs_diff"] <= 1e-4
    assert len(registry.list("bert-reviews", workspace=bert.workspace)) == before + 1
    graph = onnx.load(str(files["model.onnx"]), load_external_data=False).graph
    assert not [t.name for t in graph.initializer if "lora" in t.name.lower()]  # merged
    # the server opens it from the content-addressed store (files named by sha256)
    engine = open_engine(prepare(exported, engine="onnxruntime", device="cpu"))
    network = bert.load_network().eval()
    for length, batch in ((7, 1), (19, 5)):  # exported with 32 tokens; other lengths work
        x = _token_rows(bert, length, batch)
        (out,) = engine.run({"input": x})
        with torch.inference_mode():
            ref = network(torch.from_numpy(x)).numpy()
        assert out.shape == (batch, 2)
        np.testing.assert_allclose(out, ref, atol=1e-4)


def test_text_optimize_then_int8_shrinks_and_agrees(bert: Any) -> None:
    report = am.compress(
        bert,
        ["quantize:int8-dynamic:optimize:target_cpu=avx2"],
        benchmark=FAST_BENCH,
        name="bert-int8",
    )
    base, int8 = report.rows
    assert int8["size_bytes"] < base["size_bytes"]
    assert int8["parity_argmax_agreement"] >= 0.9
    assert int8["int8_reduce_range"] is True  # the avx2 settings, whatever this CPU is
    for row in (base, int8):
        for length in (MAX_LENGTH // 4, MAX_LENGTH):
            assert row[f"ort_cpu_p50_ms_len{length}"] > 0
            assert row[f"ort_cpu_throughput_len{length}"] > 0
        assert row["ort_cpu_peak_bytes"] >= 0 and row["ort_cpu_p50_ms"] > 0
    child = report.versions[int8["version"]]
    details = child.lineage["compression"]["details"]
    assert details["ort_optimizer"]["model_type"] == "bert"
    assert details["ort_optimizer"]["fused"].get("Attention") == 2  # one per layer


def test_distill_into_fewer_layers_is_a_loadable_version(bert: Any) -> None:
    report = am.compress(
        bert, ["distill:layers=1:epochs=1:lr=3e-3"], benchmark=FAST_BENCH, name="bert-1l"
    )
    base, row = report.rows
    assert row["params"] < base["params"]
    student = report.versions[row["version"]]
    network = registry.get(student.ref, workspace=bert.workspace).load_network()
    assert network.model.config.num_hidden_layers == 1
    info = student.config["pretrained"]
    assert info["config"]["num_hidden_layers"] == 1 and info["lora"] is None
    assert student.lineage["compression"]["details"]["layers"] == {
        "layers": 1,
        "teacher_layers": 2,
        "init": "teacher",
    }


def test_vit_export_optimize_and_int8(vit: Any) -> None:
    exported = am.export_onnx(vit, optimize=True)
    assert exported.config["onnx"]["dynamic_axes"] == {"batch": 0}
    assert exported.config["onnx"]["ort_optimizer"]["model_type"] == "vit"
    assert exported.config["onnx"]["ort_optimizer"]["fused"]
    assert "model.onnx.data" not in exported.files()  # under the threshold: one file
    report = am.compress(vit, ["quantize:int8-dynamic:optimize"], benchmark=FAST_BENCH)
    base, int8 = report.rows
    assert int8["size_bytes"] < base["size_bytes"]
    assert int8["parity_argmax_agreement"] >= 0.9
    assert not any(k.endswith(f"_len{MAX_LENGTH}") for k in int8)  # images: no lengths


def test_options_that_do_not_apply_fail_before_any_work(
    bert: Any, ws: Workspace, tmp_path: Path
) -> None:
    mlp = train_digits(ws, tmp_path / "mlp", name="digits-for-options", epochs=1)
    count = len(registry.list(workspace=ws))
    with pytest.raises(AimassError, match=r"pretrained Transformers models.*'mlp'"):
        am.export_onnx(mlp, optimize=True)
    with pytest.raises(AimassError, match=r"pretrained Transformers models.*'mlp'"):
        am.compress(mlp, ["quantize:int8-dynamic:optimize"])
    with pytest.raises(AimassError, match=r"layers= builds the student.*'mlp'"):
        am.compress(mlp, ["distill:layers=1"])
    with pytest.raises(AimassError, match=r"fewer layers than its teacher.*layers=1\.\.1"):
        am.compress(bert, ["distill:layers=2"])
    assert len(registry.list(workspace=ws)) == count


def test_pretrained_options_in_method_strings() -> None:
    from aimass_lab.specs import CompressSpec

    spec = CompressSpec(
        methods=["distill:layers=2:student_init=fresh", "quantize:int8-dynamic:optimize"],
        external_data_threshold=0,
    )
    distill, quantize = spec.methods
    assert (distill.layers, distill.student_init) == (2, "fresh")
    assert distill.label == "distill:layers=2:student_init=fresh"
    assert quantize.optimize and quantize.label == "quantize:int8-dynamic:optimize"
    assert spec.external_data_threshold == 0


def test_external_tensors_of_any_layout_are_gathered_or_inlined(tmp_path: Path) -> None:
    """The exporter of a model over 2 GiB writes one file per tensor: save_onnx gathers them
    into model.onnx.data over the threshold, and inlines them under it."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from aimass_lab.compress._transformer import onnx_files, save_onnx

    weight = numpy_helper.from_array(np.ones((256, 256), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 256])],
        [weight],
    )
    src = tmp_path / "export" / "raw.onnx"
    src.parent.mkdir()
    onnx.save_model(
        helper.make_model(graph),
        str(src),
        save_as_external_data=True,
        all_tensors_to_one_file=False,
        size_threshold=0,
    )
    for threshold, names in ((100_000, ["model.onnx", "model.onnx.data"]), (10**9, ["model.onnx"])):
        dst = tmp_path / str(threshold) / "model.onnx"
        assert save_onnx(src, dst, threshold) is (len(names) == 2)
        assert [p.name for p in onnx_files(dst)] == names
        assert sorted(p.name for p in dst.parent.iterdir()) == names  # no scratch left
        out = ort.InferenceSession(str(dst)).run(None, {"x": np.ones((2, 256), np.float32)})[0]
        assert out[0, 0] == 256.0
