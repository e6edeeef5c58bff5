"""optuna-dashboard as a service (real dashboard processes, a real kernel): recorded as a job
with its owner and kernel, reused, stopped on request, when idle (asking its idle time is no
use), with its kernel, or by ``aimass gc`` once its kernel is gone; bad input is refused before
anything is recorded."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from common_helpers import aimass, real_kernel, recorded_study, run_in_kernel, wait_for

from aimass_lab.errors import AimassError, JobError, NotFoundError, SpecError
from aimass_lab.search import IDLE_PATH, run_dashboard_here, start_dashboard
from aimass_lab.workspace import Workspace, orphaned_services


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A workspace where ``ada`` works; every dashboard left running is stopped after."""
    monkeypatch.setenv("AIMASS_USER", "ada")
    monkeypatch.delenv("AIMASS_DB_URL", raising=False)
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    for job in workspace.jobs.list(kind="dashboard"):
        if job.active:
            workspace.jobs.cancel(job.id)
            workspace.jobs.wait(job.id, timeout=30)


def test_a_dashboard_from_python_is_a_service_job_reused_and_stopped(ws: Workspace) -> None:
    study = recorded_study(ws, "board")
    board = study.dashboard(idle_timeout_s=0)
    job = ws.jobs.get(board.job_id)
    assert (job.kind, job.state, job.owner, job.kernel_id) == ("dashboard", "running", "ada", None)
    assert job.spec["idle_timeout_s"] == 0 and "kernel" not in job.spec  # pytest is no kernel
    assert board.url == job.result["url"] and board.url.startswith("http://127.0.0.1:")
    listed = httpx.get(board.url + "api/studies", timeout=10).json()["study_summaries"]
    assert [s["study_name"] for s in listed] == ["board"]
    idle = httpx.get(board.url.rstrip("/") + IDLE_PATH, timeout=10).json()
    assert idle["idle_timeout_s"] == 0 and idle["idle_s"] >= 0
    assert board.url in board._repr_html_()

    assert study.dashboard().job_id == board.job_id  # the one ada runs already
    ended = board.stop(ws)
    assert (ended.state, ended.exit_reason) == ("stopped", "stopped on request")
    with pytest.raises(httpx.TransportError):
        httpx.get(board.url + "api/studies", timeout=5)


def test_an_idle_dashboard_stops_by_itself_while_its_idle_time_is_asked(ws: Workspace) -> None:
    recorded_study(ws, "idle")
    board = start_dashboard(ws, "idle", idle_timeout_s=1.5)
    assert ws.jobs.get(board.job_id).spec["idle_timeout_s"] == 1.5

    def stopped() -> bool:
        try:  # asking the idle time must not count as a use, or it never stops
            httpx.get(board.url.rstrip("/") + IDLE_PATH, timeout=5)
        except httpx.TransportError:
            pass
        return not ws.jobs.get(board.job_id).active

    wait_for(stopped, timeout=60, what="the idle dashboard to stop by itself")
    ended = ws.jobs.get(board.job_id)
    assert (ended.state, ended.exit_reason) == ("stopped", "idle for 1.5s")


def test_bad_dashboard_input_is_refused_before_anything_is_recorded(ws: Workspace) -> None:
    recorded_study(ws, "bad")
    with pytest.raises(SpecError, match=r"idle_timeout_s: got -1\.0: accepted: seconds >= 0"):
        start_dashboard(ws, "bad", idle_timeout_s=-1)
    with pytest.raises(NotFoundError, match="no study 'nope' in the workspace"):
        start_dashboard(ws, "nope")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SpecError, match="port: got 70000: accepted: 0"):
            run_dashboard_here(ws, "bad", port=70000)
        with pytest.raises(AimassError, match=f"cannot listen on 127.0.0.1:{port}"):
            run_dashboard_here(ws, "bad", port=port)  # in the terminal: refused, not recorded
        assert ws.jobs.list(kind="dashboard") == []
        with pytest.raises(
            JobError, match=f"ended failed before listening: cannot listen on 127.0.0.1:{port}"
        ):
            start_dashboard(ws, "bad", port=port)  # in the background: its job says why
    (failed,) = ws.jobs.list(kind="dashboard")
    assert failed.state == "failed"


def test_cli_detach_prints_the_url_and_jobs_cancel_stops_it(ws: Workspace) -> None:
    recorded_study(ws, "cli-board")
    out = aimass(
        ws.path,
        "search",
        "dashboard",
        "cli-board",
        "--detach",
        "--port",
        "0",
        "--idle-timeout",
        "0",
        check=True,
    ).stdout
    found = re.search(
        r"optuna-dashboard on (http://127\.0\.0\.1:\d+/) \(job (\S+), started by ada\)", out
    )
    assert found, out
    url, job_id = found.groups()
    assert httpx.get(url + "api/studies", timeout=10).status_code == 200
    aimass(ws.path, "jobs", "cancel", job_id, check=True)
    ended = ws.jobs.wait(job_id, timeout=60, poll=0.1)
    assert (ended.state, ended.exit_reason) == ("stopped", "stopped on request")


def test_a_kernel_bound_dashboard_stops_with_its_kernel_and_gc_stops_the_other(
    ws: Workspace,
) -> None:
    recorded_study(ws, "bound")
    recorded_study(ws, "left")
    with real_kernel(ws.path, "ada") as (kernel_id, km, client):
        bound, left = run_in_kernel(
            client,
            "from aimass_lab.search import load_study\n"
            "b = load_study('bound').dashboard(stop_with_kernel=True, idle_timeout_s=0)\n"
            "l = load_study('left').dashboard(stop_with_kernel=False, idle_timeout_s=0)\n"
            "out = (b.job_id, l.job_id)",
        )
        for job_id, bind in ((bound, True), (left, False)):
            job = ws.jobs.get(job_id)
            assert (job.owner, job.kernel_id, job.state) == ("ada", kernel_id, "running")
            assert job.spec["kernel"]["id"] == kernel_id and job.spec["stop_with_kernel"] is bind
        assert orphaned_services(ws, dry_run=True) == []  # its kernel runs
        km.shutdown_kernel(now=False)
    ended = ws.jobs.wait(bound, timeout=60, poll=0.1)
    assert (ended.state, ended.exit_reason) == ("stopped", "kernel ended")
    assert ws.jobs.get(left).state == "running"  # not bound to its kernel
    done = aimass(ws.path, "gc", check=True)
    assert f"stopped service {left}" in done.stdout, done.stdout
    ended = ws.jobs.get(left)
    assert (ended.state, ended.exit_reason) == ("stopped", "kernel ended (aimass gc)")
