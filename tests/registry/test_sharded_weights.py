"""A version whose weights are split into shards: registered, verified, loaded and served."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

import aimass_lab as am
from aimass_lab import registry
from aimass_lab.models import load_weights, save_weights
from aimass_lab.workspace import Workspace


def test_shards_register_load_and_serve(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    from aimass_lab.serve.server._engine import open_engine, prepare

    run = am.train("iris", "mlp", hparams={"hidden": 16}, max_epochs=1, workspace=sqlite_workspace)
    run.wait(timeout=240)
    assert run.status == "succeeded", run.logs(tail=20)
    folder = tmp_path / "sharded"
    shutil.copytree(run.model_dir, folder)
    state = load_weights(folder / "weights.safetensors")
    (folder / "weights.safetensors").unlink()
    names = save_weights(state, folder, max_bytes=300)  # a few hundred bytes a shard
    assert len(names) > 2 and names[0] == "weights.safetensors"
    config = json.loads((folder / "model.json").read_text())
    config["weight_files"] = names
    (folder / "model.json").write_text(json.dumps(config))

    mv = registry.register(folder, "iris-sharded", workspace=sqlite_workspace)
    assert set(names) <= set(mv.manifest) and mv.verify()["ok"]
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    net = mv.load_network()
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(expected, run.model()(torch.from_numpy(x)).numpy(), atol=1e-6)
    engine = open_engine(prepare(mv, engine="torch", device="cpu"))
    (served,) = engine.run({"input": x})
    np.testing.assert_allclose(served, expected, atol=1e-6)
