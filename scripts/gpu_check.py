"""Check the GPU paths of pretrained fine-tuning on a machine with CUDA; print a JSON summary.

Run on a GPU machine from the repository root::

    PYTHONPATH=$PWD python scripts/gpu_check.py [--out results.json]

Each case fine-tunes a small BERT (text, built-in ``reviews``) or ViT (a generated image
folder) built from a config, in a real ``train`` job: bf16 and fp16 mixed precision, LoRA,
gradient checkpointing, FSDP and DDP passed through to Lightning, learning-rate schedules
with gradient clipping (by norm under a float16 gradient scaler, by value) and ``max_steps``. Each succeeded run is
registered, loaded back on the GPU and on the CPU, and their logits compared. Nothing
downloads. Results are recorded in BENCHMARKS.md ("GPU checks").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _image_folder(root: Path, size: int = 40, per_class: int = 48) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, base in (("dark", 60), ("light", 190)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.normal(base, 30, (size, size, 3)).clip(0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _first(frame: Any) -> float | None:
    return float(frame.value.iloc[0]) if len(frame) else None


def _last(frame: Any) -> float | None:
    return float(frame.value.iloc[-1]) if len(frame) else None


def _steps(run: Any) -> int | None:
    steps = run.metrics.step.dropna()
    return int(steps.max()) if len(steps) else None


def _case(name: str, data: Any, model: dict[str, Any], **fields: Any) -> dict[str, Any]:
    import torch

    import aimass_lab as am

    started = time.perf_counter()
    row: dict[str, Any] = {"case": name, **{k: str(v) for k, v in fields.items()}}
    try:
        run = am.train(data, model, max_epochs=2, batch_size=32, lr=2e-3, wait=True, **fields)
    except Exception as exc:  # a preflight refusal is a result too
        row.update(status="refused", error=f"{type(exc).__name__}: {exc}"[:400])
        return row
    row.update(
        status=run.status,
        seconds=round(time.perf_counter() - started, 1),
        val_acc=run.summary.get("val_acc"),
        reason=run.job.exit_reason,
    )
    lr = run.metrics[run.metrics.name == "lr"]
    row.update(lr_points=len(lr), lr_first=_first(lr), lr_last=_last(lr), steps=_steps(run))
    if run.status != "succeeded":
        row["log"] = run.logs(tail=25)[-2500:]
        return row
    mv = run.register(name.replace(" ", "-").replace("/", "-"))
    gpu = mv.load_network(device="cuda")
    cpu = mv.load_network(device="cpu")
    shape = [int(s) for s in mv.config["input_shape"]]
    if mv.config.get("input_kind") == "text":
        x = torch.randint(5, int(mv.config["vocab_size"]), (4, shape[0]))
    else:
        x = torch.randn(4, *shape)
    with torch.inference_mode():
        diff = (gpu(x.cuda()).float().cpu() - cpu(x)).abs().max().item()
    row["gpu_vs_cpu_max_abs_logit_diff"] = diff
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aimass-gpu-"))
    os.environ.setdefault("AIMASS_HOME", str(work / "ws"))
    import torch

    from aimass_lab.models import create_pretrained

    summary: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "gpus": torch.cuda.device_count(),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": sys.version.split()[0],
    }
    if not torch.cuda.is_available():
        print(json.dumps({**summary, "cases": []}, indent=1))
        return 1
    bert = create_pretrained(work / "bert", "text", "small", max_length=64)
    vit = create_pretrained(work / "vit", "image", "small", image_size=32)
    text = {"name": "reviews", "options": {"n_samples": 1200}, "tokenizer": {"max_length": 64}}
    images = {
        "source": "image_folder",
        "path": str(_image_folder(work / "images")),
        "image_size": 32,
    }

    def spec(path: Path, **hp: Any) -> dict[str, Any]:
        return {"family": "pretrained", "path": str(path), "hparams": hp}

    gpu = {"accelerator": "gpu", "devices": 1}
    cases = [
        ("text lora bf16-mixed", text, spec(bert, finetune="lora", lora_rank=8), {**gpu, "precision": "bf16-mixed"}),
        ("text full 16-mixed", text, spec(bert), {**gpu, "precision": "16-mixed", "warmup_steps": 5}),
        ("text top bf16-true checkpointing", text, spec(bert, finetune="top", top_layers=2, gradient_checkpointing=True), {**gpu, "precision": "bf16-true"}),
        ("image lora 16-mixed", images, spec(vit, finetune="lora", lora_rank=4), {**gpu, "precision": "16-mixed"}),
        ("text full fsdp bf16", text, spec(bert), {**gpu, "strategy": "fsdp", "precision": "bf16-mixed"}),
        ("text lora ddp 1 gpu", text, spec(bert, finetune="lora"), {**gpu, "strategy": "ddp", "precision": "bf16-mixed"}),
        ("text full 16-mixed one-cycle clip-norm", text, spec(bert), {**gpu, "precision": "16-mixed", "lr_schedule": "one_cycle", "gradient_clip_val": 1.0}),
        ("text lora bf16-mixed plateau clip-value max_steps", text, spec(bert, finetune="lora"), {**gpu, "precision": "bf16-mixed", "lr_schedule": "plateau", "gradient_clip_val": 0.5, "gradient_clip_algorithm": "value", "max_steps": 40}),
        ("text deepspeed", text, spec(bert), {**gpu, "strategy": "deepspeed"}),
        ("text fsdp on cpu", text, spec(bert), {"accelerator": "cpu", "strategy": "fsdp"}),
    ]  # fmt: skip
    summary["cases"] = [_case(name, data, model, **fields) for name, data, model, fields in cases]
    text_out = json.dumps(summary, indent=1, default=str)
    print(text_out)
    if args.out:
        Path(args.out).write_text(text_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
