"""``aimass search``: real processes against a real workspace (and a real PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from common_helpers import aimass as run_aimass
from common_helpers import wait_for

import aimass_lab as am
from aimass_lab.workspace import Workspace

SPACE = """\
lr: {type: float, low: 0.003, high: 0.1, log: true}
hidden: {type: int, low: 4, high: 32}
"""


#: ``aimass`` in a real process; a call must succeed unless it says ``check=False``.
aimass = partial(run_aimass, check=True)


def _dashboard_serves_the_study(ws: Path, study: str) -> None:
    """``aimass search dashboard`` serves optuna-dashboard on 127.0.0.1 with the study in it."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "AIMASS_HOME": str(ws)}
    env.pop("AIMASS_DB_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "aimass_lab.cli", "search", "dashboard", study, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def studies() -> Any:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                return None

        listed = wait_for(studies, timeout=60, every=0.5)
        assert [s["study_name"] for s in listed["study_summaries"]] == [study]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_cli_search_end_to_end(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    common = ["--space", str(space), "--objective", "val_acc:max", "--epochs", "3"]
    out = aimass(
        ws,
        "search",
        "--data",
        "iris",
        "--model",
        "mlp",
        *common,
        "--sampler",
        "random",
        "--pruner",
        "hyperband",
        "--trials",
        "4",
        "--workers",
        "2",
        "--seed",
        "0",
        "--study",
        "cli",
        "--json",
    ).stdout
    doc = json.loads(out)
    assert doc["study"] == "cli" and doc["status"] == "finished"
    trials = doc["trials"]
    # two workers share the budget; a simultaneous last start may add one trial at most
    assert 4 <= len(trials) <= 5
    assert {"number", "state", "params", "values"} <= set(trials[0])
    assert {t["state"] for t in trials} <= {"COMPLETE", "PRUNED"}
    assert doc["registered"] == "cli:1"

    listed = json.loads(aimass(ws, "search", "list", "--json").stdout)
    assert [s["study"] for s in listed] == ["cli"] and listed[0]["objectives"] == ["val_acc:max"]
    assert "COMPLETE" in aimass(ws, "search", "show", "cli").stdout
    best = json.loads(aimass(ws, "search", "best", "cli", "--json").stdout)
    assert len(best) == 1 and best[0]["state"] == "COMPLETE"
    reg = json.loads(
        aimass(
            ws, "search", "register", "cli", "--trial", "0", "--model-name", "t0", "--json"
        ).stdout
    )
    assert reg["ref"] == "t0:1" and reg["lineage"]["trial"] == 0

    _dashboard_serves_the_study(ws, "cli")

    bad = aimass(ws, "search", "--data", "iris", *common, "--sampler", "bayes", check=False)
    assert bad.returncode == 1 and "unknown sampler 'bayes'" in bad.stderr
    missing = aimass(ws, "search", "show", "nope", check=False)
    assert missing.returncode == 1 and "no study 'nope'" in missing.stderr


def test_postgresql_study_accepts_a_second_worker_process(pg_url: str, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    study = am.search(
        "iris",
        "mlp",
        space={"lr": {"type": "float", "low": 3e-3, "high": 0.1, "log": True}},
        objectives="val_acc:max",
        pruner="none",
        n_trials=6,
        max_epochs=2,
        storage=pg_url,
        study="shared",
        workspace=ws,
    )
    second = aimass(ws.path, "search", "worker", "--study", "shared", "--storage", pg_url)
    assert "ended" in second.stdout
    study.wait(timeout=300)
    done = [t for t in study.trial_results() if t.state == "COMPLETE"]
    assert 6 <= len(done) <= 7
    raw = study.optuna_study.trials
    workers = {raw[t.number].user_attrs["worker_job"] for t in done}
    assert len(workers) == 2, "both worker processes ran trials"
    assert all(j.state == "succeeded" for j in study.workers)
    assert [s["study"] for s in am.search.list_studies(pg_url, workspace=ws)] == ["shared"]


def test_postgresql_killed_worker_on_another_host_is_retried_by_heartbeat(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker recorded in another workspace (as on another machine) is killed -9 mid-trial;
    Optuna's heartbeat on the PostgreSQL storage fails its trial and the other worker retries
    it."""
    monkeypatch.setenv("AIMASS_HEARTBEAT_TIMEOUT", "4")  # grace period of the job processes
    monkeypatch.setenv("AIMASS_HEARTBEAT_INTERVAL", "1")
    ws = Workspace(tmp_path / "ws")
    study = am.search(
        "iris",
        "mlp",
        space={"lr": {"type": "float", "low": 3e-3, "high": 0.1, "log": True}},
        objectives="val_acc:max",
        pruner="none",
        n_trials=5,
        max_epochs=3,
        storage=pg_url,
        study="remote",
        workspace=ws,
    )
    elsewhere = tmp_path / "other-machine"
    env = {**os.environ, "AIMASS_HOME": str(elsewhere)}
    cmd = [sys.executable, "-m", "aimass_lab.cli", "search", "worker", "--study", "remote"]
    proc = subprocess.Popen(
        [*cmd, "--storage", pg_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def remote_running() -> Any:
            for t in study.optuna_study.get_trials(deepcopy=False):
                if t.state.name == "RUNNING" and t.user_attrs.get("workspace") == str(elsewhere):
                    return t
            return None

        doomed = wait_for(remote_running, timeout=120, every=0.05)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    study.wait(timeout=300)
    assert all(j.state == "succeeded" for j in study.workers)
    failed = study.trial(doomed.number)
    assert failed.state == "FAIL"
    retries = [t for t in study.trial_results() if t.retry_of == doomed.number]
    assert len(retries) == 1 and retries[0].state == "COMPLETE"
    assert len([t for t in study.trial_results() if t.state == "COMPLETE"]) >= 5
