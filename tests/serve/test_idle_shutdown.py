"""Idle shutdown and ownership of the inference server (real server jobs, a real kernel).

A server started with an idle timeout stops by itself when no request comes, and is
recorded ``stopped`` with its deployments; one that gets requests stays up; one bound to
the kernel that started it stops when the kernel ends; a detached training job started from
that kernel keeps running; ``aimass gc`` finds what is orphaned.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from common_helpers import aimass, real_kernel, run_in_kernel, wait_for
from deploy_helpers import digits_rows

import aimass_lab as am
from aimass_lab.serve import get_deployment
from aimass_lab.serve.server import parse_metrics
from aimass_lab.workspace import (
    Workspace,
    current_kernel,
    current_user,
    orphaned_services,
    service_kinds,
)


def _idle_gauge(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return float(parse_metrics(text)["aimass_idle_seconds"][0]["value"])


def test_an_idle_server_stops_by_itself_and_its_deployment_is_stopped(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="idle", idle_timeout_s=1.5, workspace=ws)
    job = ws.jobs.get(dep._record["job_id"])
    assert job.owner == current_user() and job.kernel_id is None  # not started from a kernel
    assert job.spec["idle_timeout_s"] == 1.5 and "kernel" not in job.spec
    ended = ws.jobs.wait(job.id, timeout=60, poll=0.1)
    assert ended.state == "stopped", (ended.state, ended.exit_reason)
    assert ended.exit_reason == "idle for 1.5s"
    dep.refresh(sync=False)
    assert dep.state == "stopped"
    assert dep.history[-1]["action"] == "stop" and dep.history[-1]["reason"] == "idle for 1.5s"


def test_a_server_that_gets_requests_stays_up(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="busy", idle_timeout_s=2.0, workspace=ws)
    job_id = dep._record["job_id"]
    url = dep.url
    body = {"inputs": digits_rows(2)}
    began = time.monotonic()
    with httpx.Client(timeout=30) as client:
        while time.monotonic() - began < 5.0:  # well past the timeout, never idle that long
            assert client.post(f"{url}/v1/models/busy/predict", json=body).status_code == 200
            assert ws.jobs.get(job_id).state == "running"
    assert _idle_gauge(url) < 2.0
    # then no requests: it stops, idle
    ended = ws.jobs.wait(job_id, timeout=60, poll=0.1)
    assert (ended.state, ended.exit_reason) == ("stopped", "idle for 2s")


def test_cli_deploy_idle_timeout(ws: Workspace) -> None:
    import json

    out = aimass(
        ws.path, "deploy", "digits-mlp:2", "--name", "cli", "--idle-timeout", "1", "--json"
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["spec"]["idle_timeout_s"] == 1.0
    (job,) = ws.jobs.list(kind="serve")
    ended = ws.jobs.wait(job.id, timeout=60, poll=0.1)
    assert (ended.state, ended.exit_reason) == ("stopped", "idle for 1s")
    bad = aimass(ws.path, "deploy", "digits-mlp:2", "--idle-timeout", "-3")
    assert bad.returncode != 0 and "idle_timeout_s" in bad.stderr, bad.stderr


def test_deploy_idle_timeout_is_validated(ws: Workspace) -> None:
    from aimass_lab.errors import SpecError

    with pytest.raises(SpecError, match="idle_timeout_s"):
        am.deploy("digits-mlp:2", idle_timeout_s=-1, workspace=ws)
    assert not [j for j in ws.jobs.list(kind="serve") if j.active]


def test_services_are_only_servers_and_dashboards() -> None:
    assert service_kinds() == ("dashboard", "serve")  # never train, search, compress, backup...
    assert current_kernel() is None  # pytest is not a kernel


@pytest.fixture
def kernel(ws: Workspace) -> Iterator[Any]:
    """A real IPython kernel on the test's workspace, as user ``ada``."""
    with real_kernel(ws.path, "ada") as started:
        yield started


def test_a_kernel_bound_server_stops_with_its_kernel_and_training_goes_on(
    ws: Workspace, kernel: Any
) -> None:
    kernel_id, km, client = kernel
    server_id, train_id = run_in_kernel(
        client,
        "import aimass_lab as am\n"
        "dep = am.deploy('digits-mlp:2', name='nb', stop_with_kernel=True)\n"
        "run = am.train('iris', 'mlp', max_epochs=100000, name='long')\n"
        "out = (dep._record['job_id'], run.id)",
    )
    server, training = ws.jobs.get(server_id), ws.jobs.get(train_id)
    assert (server.owner, server.kernel_id) == ("ada", kernel_id)
    assert (training.owner, training.kernel_id) == ("ada", kernel_id)
    assert server.spec["stop_with_kernel"] is True
    assert server.spec["kernel"]["id"] == kernel_id
    assert orphaned_services(ws, dry_run=True) == []  # its kernel runs
    try:
        km.shutdown_kernel(now=False)
        ended = ws.jobs.wait(server_id, timeout=60, poll=0.1)
        assert (ended.state, ended.exit_reason) == ("stopped", "kernel ended")
        assert get_deployment("nb", workspace=ws).state == "stopped"
        # the detached training job is not a service: it keeps running
        wait_for(lambda: ws.jobs.get(train_id).progress, timeout=180, what="training progress")
        assert ws.jobs.get(train_id).state == "running"
        assert orphaned_services(ws) == []
        assert ws.jobs.get(train_id).state == "running"
    finally:
        if ws.jobs.get(train_id).active:
            ws.jobs.cancel(train_id)
            ws.jobs.wait(train_id, timeout=60)


def test_gc_stops_a_server_whose_kernel_is_gone(ws: Workspace, kernel: Any) -> None:
    _, km, client = kernel
    server_id = run_in_kernel(
        client,
        "import aimass_lab as am\n"
        "dep = am.deploy('digits-mlp:2', name='left', stop_with_kernel=False)\n"
        "out = dep._record['job_id']",
    )
    km.shutdown_kernel(now=False)
    assert ws.jobs.get(server_id).state == "running"  # not bound to its kernel
    listed = aimass(ws.path, "gc", "--dry-run", "--json", check=True)
    assert server_id in listed.stdout and "kernel ended" in listed.stdout
    assert ws.jobs.get(server_id).state == "running"  # a dry run stops nothing
    done = aimass(ws.path, "gc", check=True)
    assert f"stopped service {server_id}" in done.stdout, done.stdout
    ended = ws.jobs.get(server_id)
    assert (ended.state, ended.exit_reason) == ("stopped", "kernel ended (aimass gc)")


def test_gc_records_a_server_whose_process_died(ws: Workspace) -> None:
    import signal

    dep = am.deploy("digits-mlp:2", name="killed", workspace=ws)
    job = ws.jobs.get(dep._record["job_id"])
    assert job.pid is not None
    os.kill(job.pid, signal.SIGKILL)
    wait_for(lambda: not _alive(job.pid), timeout=30, what="the server process to die")
    found = orphaned_services(ws)
    assert [(f["job_id"], f["reason"]) for f in found] == [(job.id, "process died")]
    assert ws.jobs.get(job.id).state == "interrupted"


def _alive(pid: int) -> bool:
    from aimass_lab.workspace import process_alive

    return process_alive(pid)


def test_aimass_serve_idle_timeout_exits_by_itself(ws: Workspace, tmp_path: Path) -> None:
    import subprocess
    import sys

    ready = tmp_path / "ready.json"
    env = {**os.environ, "AIMASS_HOME": str(ws.path)}
    env.pop("AIMASS_DB_URL", None)
    args = ["--port", "0", "--idle-timeout", "1", "--ready-file", str(ready)]
    proc = subprocess.run(
        [sys.executable, "-m", "aimass_lab.cli", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ready.exists()  # it was up, then stopped by itself
    assert "stopping: idle for 1s" in proc.stdout + proc.stderr
