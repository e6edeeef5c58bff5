"""Job records: states, cancel of a queued job, stale heartbeats, lookups, errors."""

from __future__ import annotations

import datetime as dt

import pytest
from common_helpers import wait_for
from sqlalchemy import update

from aimass_lab.errors import JobError, NotFoundError
from aimass_lab.workspace import Workspace
from aimass_lab.workspace._store import JobRow, utcnow


def test_queued_job_can_be_cancelled(workspace: Workspace) -> None:
    job = workspace.jobs.create("train", {"data": {"name": "iris"}}, name="later")
    assert job.state == "queued" and job.name == "later"
    assert (workspace.jobs.run_dir(job.id)).is_dir()
    cancelled = workspace.jobs.cancel(job.id)
    assert cancelled.state == "cancelled"
    assert cancelled.exit_reason == "cancelled before it started"
    with pytest.raises(
        JobError, match=r"is already cancelled; only queued or running jobs can be cancelled"
    ):
        workspace.jobs.cancel(job.id)


def test_stale_heartbeat_from_another_host_is_interrupted(workspace: Workspace) -> None:
    job = workspace.jobs.create("train", {})
    old = utcnow() - dt.timedelta(minutes=10)
    with workspace.store.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job.id)
            .values(state="running", pid=12345, host="elsewhere", heartbeat_at=old, started_at=old)
        )
    seen = workspace.jobs.get(job.id)
    assert seen.state == "interrupted"
    assert "no heartbeat since" in (seen.exit_reason or "") and "elsewhere" in (
        seen.exit_reason or ""
    )


def test_fresh_heartbeat_from_another_host_stays_running(workspace: Workspace) -> None:
    job = workspace.jobs.create("train", {})
    with workspace.store.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job.id)
            .values(state="running", pid=12345, host="elsewhere", heartbeat_at=utcnow())
        )
    assert workspace.jobs.get(job.id).state == "running"
    with pytest.raises(JobError, match=r"runs on host elsewhere; cancel it from that machine"):
        workspace.jobs.cancel(job.id)


def test_dead_local_process_is_interrupted_at_once(workspace: Workspace) -> None:
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    job = workspace.jobs.create("train", {})
    with workspace.store.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job.id)
            .values(state="running", pid=proc.pid, host=socket.gethostname(), heartbeat_at=utcnow())
        )
    seen = workspace.jobs.get(job.id)
    assert seen.state == "interrupted"
    assert f"(pid {proc.pid}) vanished" in (seen.exit_reason or "")


def test_lookups_and_errors(workspace: Workspace) -> None:
    a = workspace.jobs.create("train", {})
    b = workspace.jobs.create("train", {})
    assert workspace.jobs.get(a.id).id == a.id
    assert [j.id for j in workspace.jobs.list()] == [b.id, a.id]
    assert workspace.jobs.list(state="succeeded") == []
    with pytest.raises(
        NotFoundError, match=r"no job 'missing-job' in workspace .*aimass jobs list"
    ):
        workspace.jobs.get("missing-job")
    with pytest.raises(
        JobError, match=r"unknown job state 'done'; accepted: 'queued', 'running', 'succeeded'"
    ):
        workspace.jobs.list(state="done")
    with pytest.raises(JobError, match=r"unknown job kind 'bake'; accepted: .*'train'"):
        workspace.jobs.create("bake", {})
    with pytest.raises(
        JobError, match=r"is queued; only interrupted, failed or cancelled jobs can be resumed"
    ):
        workspace.jobs.resume(a.id)
    n = next((i for i, (x, y) in enumerate(zip(a.id, b.id, strict=True)) if x != y), len(a.id))
    prefix = a.id[:n]  # ids start with the date and time: they share a prefix
    assert len(prefix) >= 6, (a.id, b.id)
    with pytest.raises(NotFoundError) as info:
        workspace.jobs.get(prefix)
    assert str(info.value).startswith(f"job id prefix {prefix!r} is ambiguous: ")
    assert repr(a.id) in str(info.value) and repr(b.id) in str(info.value)
    assert workspace.jobs.get(a.id[:-1]).id == a.id  # a prefix of one job finds it


def test_a_cancelled_job_is_not_started_by_a_late_process(sqlite_workspace: Workspace) -> None:

    ws = sqlite_workspace
    job = ws.jobs.create("train", {"data": {"name": "iris"}})
    assert ws.jobs.cancel(job.id).state == "cancelled"
    ws.jobs.launch(job.id)  # a process that arrives after the cancel (e.g. torchrun on a node)
    wait_for(
        lambda: "not starting it" in ws.jobs.logs(job.id),
        what="the late process to log that it does not start a cancelled job",
    )
    assert f"job {job.id} is cancelled, not queued: not starting it" in ws.jobs.logs(job.id)
    assert ws.jobs.get(job.id).state == "cancelled"


def test_process_that_died_before_starting_is_failed(workspace: Workspace) -> None:
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    job = workspace.jobs.create("train", {})
    with workspace.store.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job.id)
            .values(pid=proc.pid, host=socket.gethostname(), heartbeat_at=utcnow())
        )
    seen = workspace.jobs.get(job.id)
    assert seen.state == "failed"
    assert "exited before the job started; see its log" in (seen.exit_reason or "")


def test_passwords_in_spec_urls_are_masked_when_shown(sqlite_workspace: Workspace) -> None:
    spec = {"storage": "postgresql://bob:s3cret@db:5432/optuna", "data": {"url": "mysql://x:y@h/d"}}
    job = sqlite_workspace.jobs.create("train", spec)
    shown = job.to_dict()["spec"]
    assert shown == {
        "storage": "postgresql://bob:***@db:5432/optuna",
        "data": {"url": "mysql://x:***@h/d"},
    }
    assert sqlite_workspace.jobs.get(job.id).spec == spec  # the job itself still has what it needs
