"""The headless end-to-end path a new user takes: ``aimass quickstart --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_quickstart_trains_registers_and_evaluates(tmp_path: Path) -> None:
    env = {**os.environ, "AIMASS_HOME": str(tmp_path / "ws")}
    env.pop("AIMASS_DB_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "aimass_lab.cli", "quickstart", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "succeeded"
    assert summary["model"] == "quickstart-digits:1"
    assert summary["test_acc"] >= 0.95
    assert summary["test_samples"] > 200
    # The accuracy measured on the model reloaded from the registry matches the run's own test metric.
    assert abs(summary["test_acc"] - summary["metrics"]["test_acc"]) < 1e-6
    # The short search ran its trials as worker jobs and found a good point.
    search = summary["search"]
    assert search["trials"] >= 4 and sum(search["states"].values()) == search["trials"]
    assert search["best_value"] > 0.8 and set(search["best_params"]) == {"lr", "hidden"}
    # The compression step: the registered model pruned (structured) then quantised (int8),
    # each a registered child version, measured on this machine.
    compressed = summary["compressed"]
    rows = compressed["rows"]
    assert [r["method"] for r in rows] == [
        "baseline",
        "prune:structured:0.5",
        "quantize:int8-dynamic",
    ]
    assert [r["version"] for r in rows] == [
        "quickstart-digits:1",
        "quickstart-digits:2",
        "quickstart-digits:3",
    ]
    base, pruned, int8 = rows
    assert abs(base["accuracy"] - summary["test_acc"]) < 0.01
    assert pruned["params"] < 0.5 * base["params"]
    assert pruned["size_bytes"] < 0.5 * base["size_bytes"]
    assert int8["size_bytes"] < 0.5 * pruned["size_bytes"]
    assert pruned["accuracy"] >= base["accuracy"] - 0.03
    assert int8["accuracy"] >= pruned["accuracy"] - 0.03
    for row in rows:
        assert row["ort_cpu_p50_ms"] > 0
    assert base["torch_p50_ms"] > 0 and int8["torch_p50_ms"] is None
    assert compressed["picked"] in {r["version"] for r in rows}
    # The deploy step: the picked variant served, asked over JSON and OIP v2, then stopped.
    deployed = summary["deployed"]
    picked_row = next(r for r in rows if r["version"] == compressed["picked"])
    assert deployed["ref"] == compressed["picked"] and deployed["state"] == "stopped"
    assert deployed["version"] == compressed["picked"].rsplit(":", 1)[1]
    assert abs(deployed["json_accuracy"] - picked_row["accuracy"]) < 0.01
    assert deployed["oip_agreement"] == 1.0
    assert deployed["endpoint"].endswith("/v1/models/quickstart-digits/predict")
