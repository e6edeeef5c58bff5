"""``aimass search dashboard --idle-timeout``: a real optuna-dashboard process that says who
started it, is recorded as a job while it runs, answers while used, and stops by itself when
nobody asks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from common_helpers import recorded_study

from aimass_lab.workspace import Workspace


def test_dashboard_stops_when_idle(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    recorded_study(ws, "idle-board")
    env = {**os.environ, "AIMASS_HOME": str(ws.path), "AIMASS_USER": "ada"}
    env.pop("AIMASS_DB_URL", None)
    cmd = [sys.executable, "-m", "aimass_lab.cli", "search", "dashboard", "idle-board"]
    proc = subprocess.Popen(
        [*cmd, "--port", "0", "--idle-timeout", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started = proc.stdout.readline()  # the job's first log line
        assert "(dashboard) attempt 1" in started, started + proc.stdout.read()
        first = proc.stdout.readline()  # blocks until it listens (or ends)
        assert "started by ada" in first, first + proc.stdout.read()
        url = first.split(" on ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(url + "api/studies", timeout=10) as r:
            names = [s["study_name"] for s in json.loads(r.read())["study_summaries"]]
        assert names == ["idle-board"]
        (job,) = ws.jobs.list(kind="dashboard")
        assert (job.state, job.owner, job.pid) == ("running", "ada", proc.pid)
        assert proc.wait(timeout=60) == 0  # nobody asks any more: it stops by itself
        assert "optuna-dashboard stopped: idle for 2s" in proc.stdout.read()
        ended = ws.jobs.get(job.id)
        assert (ended.state, ended.exit_reason) == ("stopped", "idle for 2s")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_dashboard_in_a_terminal_stops_when_its_job_is_cancelled(tmp_path: Path) -> None:
    """The terminal's process is no process-group leader here (as under a pipe or a script):
    cancelling its job still reaches it, and it ends ``stopped``."""
    ws = Workspace(tmp_path / "ws")
    recorded_study(ws, "cancel-board")
    env = {**os.environ, "AIMASS_HOME": str(ws.path)}
    env.pop("AIMASS_DB_URL", None)
    cmd = [sys.executable, "-m", "aimass_lab.cli", "search", "dashboard", "cancel-board"]
    proc = subprocess.Popen(
        [*cmd, "--port", "0", "--idle-timeout", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert os.getpgid(proc.pid) != proc.pid
        for line in proc.stdout:  # until it listens
            if line.startswith("optuna-dashboard on "):
                break
        (job,) = ws.jobs.list(kind="dashboard", state="running")
        ws.jobs.cancel(job.id)
        assert proc.wait(timeout=60) == 0
        assert "optuna-dashboard stopped: stopped on request" in proc.stdout.read()
        assert ws.jobs.get(job.id).state == "stopped"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)
