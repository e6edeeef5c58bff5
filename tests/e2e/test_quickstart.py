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
    assert summary["test_accuracy"] >= 0.95
    assert summary["test_samples"] > 200
    # The accuracy measured on the model reloaded from the registry matches the run's own test metric.
    assert abs(summary["test_accuracy"] - summary["metrics"]["test_acc"]) < 1e-6
    # The short search ran its trials as worker jobs and found a good point.
    search = summary["search"]
    assert search["trials"] >= 4 and sum(search["states"].values()) == search["trials"]
    assert search["best_value"] > 0.8 and set(search["best_params"]) == {"lr", "hidden"}
