"""Temp files of checkpoint saves killed before their rename: a real training job killed
with SIGKILL, then resume removes the stale temp file (and says so), and ``aimass gc``
removes what dead writers left while keeping the files of live ones."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from common_helpers import aimass, wait_for

import aimass_lab as am
from aimass_lab._io import temp_tag
from aimass_lab.workspace import Workspace


def _leftover(folder: Path, pid: int, random: str, size: int = 1 << 20) -> Path:
    """A temp file as an atomic save by process ``pid`` on this host names it."""
    host = temp_tag().split("-")[1].rstrip(".")
    path = folder / f".last.ckpt.{pid}-{host}.{random}.tmp"
    path.write_bytes(b"\0" * size)
    return path


def _dead_pid() -> int:
    """The id of a process that ran and ended."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(proc.stdout)


def test_resume_removes_the_temp_file_of_a_killed_save(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    run = am.train(
        "digits", "mlp", max_epochs=50, batch_size=8, checkpoint_interval_s=1, workspace=ws
    )
    wait_for(lambda: run.checkpoint_path.exists(), timeout=120, what="a first last.ckpt")
    pid = run.job.pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: run.status != "running", timeout=30, what="the killed job's state")
    assert run.job.state == "interrupted"
    # what a save killed before its rename leaves: the killed process's temp file
    folder = run.checkpoint_path.parent
    stale = _leftover(folder, pid, "killed01")
    live = _leftover(folder, os.getpid(), "writing1")  # a writer that runs: this test
    assert [r["path"] for r in ws.gc(dry_run=True)] == [str(stale)]
    assert stale.exists()  # a dry run removes nothing

    run.resume()
    message = "removed 1 stale temp file(s) of interrupted checkpoint saves (1.0 MB): "
    wait_for(lambda: message in run.logs(), timeout=120, what="the resumed run's cleanup")
    assert f"{message}{stale.name}" in run.logs()
    assert not stale.exists() and live.exists()
    run.cancel()
    run.wait(timeout=60)
    assert run.job.state == "interrupted", run.logs(tail=30)
    live.unlink()
    # its own saves leave no temp file behind
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


def test_gc_removes_stale_temp_files_and_keeps_live_ones(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    checkpoints = ws.path / "runs" / "r1" / "checkpoints"
    checkpoints.mkdir(parents=True)
    staging = ws.path / "artifacts" / "tmp"
    staging.mkdir(parents=True)
    dead = _dead_pid()
    stale = [
        _leftover(checkpoints, dead, "dead0001"),
        checkpoints / ".last.ckpt.4242-00000000.other001.tmp",  # another host, a day old
        checkpoints / ".last.ckpt.legacy01.tmp",  # a name from before, a day old
        staging / f"{dead}-{temp_tag().split('-')[1].rstrip('.')}.part0001.part",
    ]
    kept = [
        _leftover(checkpoints, os.getpid(), "live0001"),  # a live writer on this host
        checkpoints / ".last.ckpt.4242-00000000.other002.tmp",  # another host, just written
        checkpoints / ".last.ckpt.legacy02.tmp",  # a name from before, just written
        checkpoints / ".notes.tmp",  # not a name an atomic write makes
        checkpoints / "last.ckpt",
    ]
    for path in [*stale, *kept]:
        if not path.exists():
            path.write_bytes(b"x" * 1000)
    day_ago = os.path.getmtime(kept[1]) - 25 * 3600
    for path in stale[1:3]:
        os.utime(path, (day_ago, day_ago))
    os.utime(kept[3], (day_ago, day_ago))

    listed = json.loads(aimass(ws.path, "gc", "--dry-run", "--json", check=True).stdout)
    assert listed["dry_run"] and sorted(r["path"] for r in listed["removed"]) == sorted(
        str(p) for p in stale
    )
    assert all(p.exists() for p in stale)
    out = aimass(ws.path, "gc", check=True).stdout
    assert f"removed {len(stale)} stale temp file(s)" in out
    assert all(f"removed {p}" in out for p in stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    again = json.loads(aimass(ws.path, "gc", "--json", check=True).stdout)
    assert again == {"bytes": 0, "dry_run": False, "removed": [], "services": []}
