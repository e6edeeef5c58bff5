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
    space = tmp_path / "space.yaml"
    space.write_text("hidden: {type: int, low: 8, high: 32}\n")
    args = ("--data", "iris", "--model", "mlp", "--space", str(space), "--epochs", "1")
    proc = aimass(ws, "search", *args, "--trials", "2", "--objective", "val_loss:min", check=True)
    assert "\r" not in proc.stdout + proc.stderr
    lines = re.findall(
        r"^trial (\d) (COMPLETE|PRUNED|FAIL) · value \S+ · hidden=\d+ · [\d.]+ s$",
        proc.stdout,
        re.M,
    )
    assert sorted(n for n, _ in lines) == ["0", "1"], proc.stdout
