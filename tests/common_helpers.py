"""Helpers shared by the test folders: the ``aimass`` command in a real process, polling until
a condition holds, a quiet CPU trainer and a small model trained in this process.

``tests/`` is on ``sys.path`` (its conftest.py puts it there), so tests in any folder import
this module by name: ``from common_helpers import aimass``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from aimass_lab.workspace import Workspace


def aimass(
    ws: Path, *args: str, check: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``aimass ARGS`` in a real process on the workspace folder ``ws``; with ``check``,
    fail the test (showing the output) when the command exits non-zero."""
    env = {**os.environ, "AIMASS_HOME": str(ws)}
    env.pop("AIMASS_DB_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "aimass_lab.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"aimass {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 120.0,
    every: float = 0.2,
    what: str | None = None,
) -> Any:
    """Poll until ``predicate()`` is truthy; return its value.

    On timeout the AssertionError names ``what`` was awaited (default: the predicate's name).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    awaited = what or getattr(predicate, "__name__", "a condition")
    raise AssertionError(f"timed out after {timeout:g} s waiting for {awaited}")


@contextlib.contextmanager
def real_kernel(ws: Path, user: str = "ada") -> Iterator[tuple[str, Any, Any]]:
    """A real IPython kernel (jupyter_client) on the workspace folder ``ws``, acting as
    ``user``: ``(kernel_id, kernel_manager, client)``; shut down when the block ends."""
    from jupyter_client.multikernelmanager import MultiKernelManager

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "AIMASS_HOME": str(ws),
        "AIMASS_USER": user,
        "PYTHONPATH": os.pathsep.join([str(root), str(root / "tests")]),
    }
    env.pop("AIMASS_DB_URL", None)
    mkm = MultiKernelManager()
    kernel_id = mkm.start_kernel(kernel_name="python3", env=env, cwd=str(ws))
    km = mkm.get_kernel(kernel_id)
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        yield kernel_id, km, client
    finally:
        client.stop_channels()
        if km.is_alive():
            km.shutdown_kernel(now=True)


def run_in_kernel(client: Any, code: str, timeout: float = 300) -> Any:
    """Run ``code`` in a kernel (:func:`real_kernel`); return the value of its variable
    ``out`` (a Python literal: evaluated here from its repr)."""
    import ast

    msg_id = client.execute(code, user_expressions={"out": "out"})
    reply = client.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=timeout)
    content = reply["content"]
    assert content["status"] == "ok", "\n".join(content.get("traceback", []))
    out = content["user_expressions"]["out"]
    assert out["status"] == "ok", out
    return ast.literal_eval(out["data"]["text/plain"])


def recorded_study(ws: Workspace | Path, name: str) -> Any:
    """A one-trial iris study whose spec is recorded and whose worker is not started (nothing
    trains): enough for a dashboard or a listing."""
    import aimass_lab as am

    return am.search(
        "iris",
        "mlp",
        space={"lr": {"type": "categorical", "choices": [0.05]}},
        objectives="val_acc:max",
        n_trials=1,
        study=name,
        launch=False,
        workspace=ws if isinstance(ws, Workspace) else Workspace(ws),
    )


def cpu_trainer(max_epochs: int, **options: Any) -> Any:
    """A quiet Lightning Trainer on the CPU: no logger, checkpoints, progress bar or summary."""
    import lightning.pytorch as pl

    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **options,
    )


def train_digits(
    ws: Workspace,
    folder: Path,
    *,
    name: str = "digits-mlp",
    model: dict[str, Any] | None = None,
    epochs: int = 3,
    data: dict[str, Any] | None = None,
    lr: float = 3e-3,
) -> Any:
    """Train a model (on digits unless ``data`` says otherwise) in this process and register it."""
    import lightning.pytorch as pl

    from aimass_lab import data as data_stage
    from aimass_lab import registry
    from aimass_lab.models import TaskModule, build_network
    from aimass_lab.specs import TrainSpec
    from aimass_lab.train._job import quiet_lightning, write_model

    quiet_lightning()
    spec = TrainSpec.from_dict(
        {
            "data": data or {"name": "digits"},
            "model": model or {"family": "mlp", "hparams": {"hidden": 64, "layers": 2}},
            "max_epochs": epochs,
            "lr": lr,
        }
    )
    pl.seed_everything(0, verbose=False)
    dataset = data_stage.load(spec.data, workspace=ws)
    network = build_network(spec.model, tuple(dataset.input_shape), int(dataset.output_dim))
    module = TaskModule(
        network,
        task=dataset.task,  # type: ignore[arg-type]
        output_dim=int(dataset.output_dim),
        lr=spec.lr,
        target_stats=dataset.target_stats,
    )
    cpu_trainer(epochs).fit(module, datamodule=dataset.datamodule(batch_size=64))
    write_model(folder, network, spec, dataset, {"val_acc": 0.0}, "test-run")
    return registry.register(folder, name, workspace=ws)


def write_image_folder(
    root: Path, *, classes: tuple[str, ...] = ("cat", "dog"), per_class: int = 3, size: int = 16
) -> Path:
    """A real image folder: ``root/<class>/<i>.png``, one colour per class (dark to light)."""
    import numpy as np
    from PIL import Image

    for k, cls in enumerate(classes):
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        level = 40 + 180 * k // max(len(classes) - 1, 1)
        for i in range(per_class):
            pixels = np.full((size, size, 3), level, dtype=np.uint8)
            pixels[: size // 2, :, k % 3] = 255 - 10 * i
            Image.fromarray(pixels, mode="RGB").save(folder / f"{i}.png")
    return root


class BadData(NamedTuple):
    """A dataset that is fine until :attr:`spoil` breaks its files (as data breaks after it
    was registered), with the words its error must hold."""

    spec: dict[str, Any]
    spoil: Callable[[], None]
    message: str


def write_bad_data(root: Path) -> dict[str, BadData]:
    """The bad inputs of large data and text, each in its own files under ``root``:
    ``{case: BadData}``. Call ``spoil()`` before giving ``spec`` to break it."""
    import numpy as np
    import pandas as pd
    from tokenizers import Tokenizer, models, pre_tokenizers

    root.mkdir(parents=True, exist_ok=True)
    texts = pd.DataFrame(
        {"review": [f"good words {i}" for i in range(30)], "stars": ["up", "down"] * 15}
    )

    def text_spec(name: str, **more: Any) -> dict[str, Any]:
        texts.to_csv(root / name, index=False)
        spec = {"source": "csv", "path": str(root / name), "target": "stars", "text": "review"}
        return {**spec, "tokenizer": {"vocab_size": 60}, **more}

    def tokenizer(name: str) -> Path:
        tok = Tokenizer(models.WordLevel({"[UNK]": 0, "good": 1, "words": 2}, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        (root / name).mkdir()
        tok.save(str(root / name / "tokenizer.json"))
        (root / name / "vocab.txt").write_text("[UNK]\ngood\nwords\n")
        return root / name

    gone, vocab_only = tokenizer("tok-gone"), tokenizer("tok-vocab")
    latin = [b"review,stars"] + [b"good words %d,up" % i for i in range(30)]
    latin[5] = b"caf\xe9 cr\xe8me,down"
    parts = root / "parts"
    parts.mkdir()
    table = pd.DataFrame({"x": np.arange(20.0), "color": ["r", "g"] * 10, "label": ["a", "b"] * 10})
    table.to_parquet(parts / "a.parquet")
    table.to_parquet(parts / "b.parquet")
    other = table.assign(x=table["x"].astype(str)).drop(columns=["color"])
    return {
        "missing text column": BadData(
            text_spec("texts.csv"),
            lambda: texts.rename(columns={"review": "body"}).to_csv(
                root / "texts.csv", index=False
            ),
            "text column 'review' not found; columns: body, stars",
        ),
        "tokenizer folder not found": BadData(
            text_spec("gone.csv", tokenizer={"path": str(gone)}),
            lambda: shutil.rmtree(gone),
            f"tokenizer folder not found: {gone}",
        ),
        "tokenizer folder without tokenizer.json": BadData(
            text_spec("vocab.csv", tokenizer={"path": str(vocab_only)}),
            lambda: (vocab_only / "tokenizer.json").unlink(),
            "has no tokenizer.json (it holds: vocab.txt)",
        ),
        "text not UTF-8": BadData(
            text_spec("latin.csv", on_bad_record="error"),
            lambda: (root / "latin.csv").write_bytes(b"\n".join(latin) + b"\n"),
            "row 4: not UTF-8",
        ),
        "Parquet parts with different schemas": BadData(
            {"source": "parquet", "path": str(parts), "target": "label"},
            lambda: other.to_parquet(parts / "b.parquet"),
            "b.parquet have different schemas: column 'color' only in a.parquet",
        ),
    }


def write_scale_data(root: Path) -> dict[str, dict[str, Any]]:
    """Specs of a streamed table (``x``, ``color`` -> ``label``: ``a``/``b``) and of a text
    dataset (the built-in ``reviews``), both read on demand: ``{kind: spec}``."""
    import numpy as np
    import pandas as pd

    root.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {"x": np.arange(40.0), "color": ["red", "blue"] * 20, "label": ["a", "b"] * 20}
    )
    frame.to_parquet(root / "table.parquet")
    table = {"source": "parquet", "path": str(root / "table.parquet"), "target": "label"}
    text = {"source": "builtin", "name": "reviews", "options": {"n_samples": 60}}
    return {"streamed table": {**table, "streaming": True}, "text": text}
