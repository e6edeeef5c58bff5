"""Output to a file or a pipe is plain lines: ``train --wait`` gives the job's log (a line per
epoch, no progress-bar carriage returns) and ``search`` a line per finished trial."""

from __future__ import annotations

import re
from pathlib import Path

from common_helpers import aimass


def test_train_wait_into_a_pipe_prints_a_line_per_epoch(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    proc = aimass(
        ws, "train", "--data", "iris", "--model", "mlp", "--epochs", "3", "--wait", check=True
    )
    out = proc.stdout + proc.stderr
    assert "\r" not in out, out[:500]
    epochs = re.findall(r"^\[train\] epoch (\d)/3 · step \d+ · .*val_loss [\d.]+", out, re.M)
    assert epochs == ["1", "2", "3"], out
    assert re.search(r"^\[train\] test · test_acc [\d.]+", out, re.M), out
    assert re.search(r"^\[aimass\] job \S+ succeeded$", out, re.M), out
    assert re.search(r"^run \S+: succeeded$", out, re.M), out  # then the summary, as before


def test_search_prints_a_line_per_finished_trial(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    # no --space: the Search panel's default space; --parallel still works, with a warning
    args = ("--data", "iris", "--model", "mlp", "--epochs", "1", "--parallel", "1")
    proc = aimass(ws, "search", *args, "--trials", "2", "--objective", "val_loss:min", check=True)
    assert "\r" not in proc.stdout + proc.stderr
    assert "--parallel is deprecated; use --workers" in proc.stderr
    assert "space: lr (float), hidden (int)" in proc.stdout
    lines = re.findall(
        r"^trial (\d) (COMPLETE|PRUNED|FAIL) · value \S+ · hidden=\d+, lr=[\d.e-]+ · [\d.]+ s$",
        proc.stdout,
        re.M,
    )
    assert sorted(n for n, _ in lines) == ["0", "1"], proc.stdout


def test_search_help_names_workers_and_the_shared_defaults(tmp_path: Path) -> None:
    text = aimass(tmp_path / "ws", "search", "--help", check=True).stdout
    assert "--workers" in text and "--parallel" not in text
    assert re.search(r"--pruner.*\[default:\s+median\]", text, re.S)
    assert "default: lr and the model's first hyperparameter" in " ".join(text.split())
    jobs = " ".join(aimass(tmp_path / "ws", "jobs", "--help", check=True).stdout.split())
    assert "logs JOB_ID --follow" in jobs
    root = " ".join(aimass(tmp_path / "ws", "--help", check=True).stdout.split())
    assert "data → train → search → compress → registry → deploy" in root
