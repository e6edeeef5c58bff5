"""Backup and restore of a workspace while a training job and a search run (real jobs, real
SQLite and PostgreSQL stores, real pg_dump/psql)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from common_helpers import wait_for

import aimass_lab as am
from aimass_lab import registry
from aimass_lab._io import temp_tag
from aimass_lab.errors import IntegrityError, WorkspaceError
from aimass_lab.workspace import (
    Workspace,
    backup,
    list_backups,
    parse_interval,
    prune_backups,
    restore,
    verify_backup,
)

LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}


def _complete_trials(study: am.Study) -> dict[int, str]:
    df = study.trials
    done = df[df["state"] == "COMPLETE"] if len(df) else df
    return {int(r.number): str(r.run_id) for r in done.itertuples()}


@pytest.mark.slow
def test_backup_while_a_training_and_a_search_run_restores_everything(
    workspace: Workspace, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ws = workspace
    first = am.train("iris", "mlp", max_epochs=2, wait=True, workspace=ws)
    assert first.job.state == "succeeded", ws.jobs.logs(first.id, tail=30)
    mv = registry.register(first, "iris-mlp", workspace=ws)
    # a training that runs until it is cancelled, and a search with many trials
    long_run = am.train("iris", "mlp", max_epochs=5000, workspace=ws)
    study = am.search(
        "iris",
        "mlp",
        space={"lr": LR},
        objectives="val_acc:max",
        pruner="none",
        n_trials=200,
        max_epochs=1,
        seed=1,
        study="iris-s",
        workspace=ws,
    )
    wait_for(lambda: ws.metrics(long_run.id), timeout=240, what="the training's first metrics")
    trials = wait_for(lambda: _complete_trials(study), timeout=240, what="a finished trial")
    jobs_before = {j.id for j in ws.jobs.list()}

    path = backup(ws, tmp_path / "backups")

    registry.register(first, "after-backup", workspace=ws)  # not in the backup
    study.stop()
    long_run.cancel()
    assert long_run.wait(timeout=120).job.state == "interrupted"
    for worker in study.workers:
        ws.jobs.wait(worker.id, timeout=120)

    manifest = verify_backup(path)
    assert manifest["store"]["backend"] == backend and manifest["store"]["schema_version"] >= 3
    assert {f["path"] for f in manifest["files"]} >= {
        f"runs/{first.id}/job.log",
        "studies/iris-s.journal",
    }
    target_db = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    report = restore(path, tmp_path / "restored", db_url=target_db)
    assert report["model_versions"] == [mv.ref]

    back = Workspace(tmp_path / "restored", db_url=target_db)
    try:
        restored_jobs = {j.id: j for j in back.jobs.list()}
        assert jobs_before <= set(restored_jobs)
        assert restored_jobs[long_run.id].state == "interrupted"  # it was running
        assert "was running when backup" in str(restored_jobs[long_run.id].exit_reason)
        (worker,) = [j for j in restored_jobs.values() if j.kind == "search"]
        assert worker.state == "interrupted"  # the search was running too
        assert back.metrics(long_run.id) and back.last_metrics(first.id)
        assert [m.ref for m in registry.list(workspace=back)] == ["iris-mlp:1"]
        assert registry.verify("iris-mlp:1", back)["ok"]
        assert registry.get("iris-mlp:1", back).load_network() is not None
        restored_study = am.search.load_study("iris-s", workspace=back)
        restored_trials = _complete_trials(restored_study)
        assert trials.items() <= restored_trials.items()
        for run_id in restored_trials.values():
            assert run_id in restored_jobs  # each trial's run is in the snapshot
            assert (tmp_path / "restored" / "runs" / run_id).is_dir()
    finally:
        back.store.close()


def _small_workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    digest = ws.artifacts.put_bytes(b"weights")
    from aimass_lab.workspace import ModelVersionRow, utcnow

    with ws.store.session() as s:
        s.add(
            ModelVersionRow(
                name="m",
                version=1,
                created_at=utcnow(),
                model_spec={"family": "mlp"},
                manifest={"weights.bin": {"sha256": digest, "size": 7}},
            )
        )
    job = ws.jobs.create("train", {"data": "iris"})
    (ws.jobs.run_dir(job.id) / "job.log").write_text("line 1\npartial")
    return ws


def test_backup_manifest_and_append_only_files(tmp_path: Path) -> None:
    ws = _small_workspace(tmp_path)
    unreferenced = ws.artifacts.put_bytes(b"nobody names me")
    path = backup(ws, tmp_path / "b")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == "aimass-backup" and manifest["format_version"] == 1
    assert manifest["source"]["path"] == str(ws.path)
    assert manifest["counts"]["model_versions"] == 1 and manifest["counts"]["jobs"] == 1
    paths = {f["path"]: f for f in manifest["files"]}
    assert "store/aimass.db" in paths
    assert not any(unreferenced in p for p in paths)  # only what the snapshot names
    (log,) = [p for p in paths if p.endswith("job.log")]
    assert (path / log).read_text() == "line 1\n"  # up to the last complete line
    assert not list(path.parent.glob(".*"))  # no staging folder left
    # a backup killed mid-way left its hidden folder: the next backup removes it
    dead = subprocess.Popen(["true"])
    dead.wait()
    tag = temp_tag().replace(str(os.getpid()), str(dead.pid), 1)
    killed = path.parent / f".aimass-backup-20200101T000000.000Z.{tag}backup.part"
    (killed / "store").mkdir(parents=True)
    assert list_backups(path.parent) == [path]  # never taken for a backup
    second = backup(ws, tmp_path / "b")
    assert not killed.exists() and list_backups(path.parent) == [path, second]


def test_restore_refuses_corrupted_backup_and_non_empty_target(tmp_path: Path) -> None:
    ws = _small_workspace(tmp_path)
    path = backup(ws, tmp_path / "b")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match=re.escape(f"restore target {busy} is not empty")):
        restore(path, busy)
    assert (busy / "notes.txt").read_text() == "mine"

    bad = shutil.copytree(path, tmp_path / "bad")
    (art,) = [p for p in bad.rglob("*") if p.is_file() and "artifacts" in p.parts]
    art.write_bytes(b"WEIGHTS")  # same size, other content
    rel = art.relative_to(bad).as_posix()
    with pytest.raises(IntegrityError, match=re.escape(f"{rel}: sha256 is")):
        restore(bad, tmp_path / "r")
    assert not (tmp_path / "r").exists()
    report = restore(path, tmp_path / "r")
    assert report["model_versions"] == ["m:1"] and report["interrupted_jobs"] == 1


def test_backup_refuses_a_target_without_room(tmp_path: Path) -> None:
    ws = _small_workspace(tmp_path)
    with pytest.raises(WorkspaceError, match=r"not enough free space in .* MB are free"):
        backup(ws, tmp_path / "b", free_bytes=lambda folder: 1000)
    assert list((tmp_path / "b").iterdir()) == []
    # room for the store's snapshot but not for the files: nothing half-written either
    room = iter([1 << 40, 1000])  # the store, then the files
    with pytest.raises(WorkspaceError, match="the backup's files"):
        backup(ws, tmp_path / "b", free_bytes=lambda folder: next(room))
    assert list((tmp_path / "b").iterdir()) == []


def test_intervals_and_retention(tmp_path: Path) -> None:
    assert parse_interval("6h") == 6 * 3600 and parse_interval("2s") == 2
    assert parse_interval("1.5m") == 90 and parse_interval("1d") == 86400
    for bad in ("6x", "h", "-2s", "0s", "6 hours"):
        with pytest.raises(am.AimassError, match="accepted: a positive number followed by s, m"):
            parse_interval(bad)
    ws = _small_workspace(tmp_path)
    made = [backup(ws, tmp_path / "b") for _ in range(3)]
    assert list_backups(tmp_path / "b") == made
    assert prune_backups(tmp_path / "b", 2) == made[:1]
    assert list_backups(tmp_path / "b") == made[1:]


def test_sqlite_backup_refuses_a_db_url_and_postgres_needs_one(tmp_path: Path, pg_url: str) -> None:
    ws = _small_workspace(tmp_path)
    path = backup(ws, tmp_path / "b")
    with pytest.raises(WorkspaceError, match="db_url is only for PostgreSQL backups"):
        restore(path, tmp_path / "r", db_url=pg_url)
    pg = Workspace(tmp_path / "pgws", db_url=pg_url)
    try:
        pg_backup = backup(pg, tmp_path / "pgb")
        assert verify_backup(pg_backup)["store"]["tool"].startswith("pg_dump")
        with pytest.raises(WorkspaceError, match="give the URL of an empty database"):
            restore(pg_backup, tmp_path / "r")
        with pytest.raises(WorkspaceError, match=r"is not empty \(tables: .*jobs"):
            restore(pg_backup, tmp_path / "r", db_url=pg_url)  # the source's own database
    finally:
        pg.store.close()


def test_postgres_client_tools_are_found_or_named() -> None:
    from aimass_lab.workspace._backup_db import find_pg_tool

    assert Path(find_pg_tool("pg_dump", server_major=10)).name == "pg_dump"
    with pytest.raises(WorkspaceError, match="server is version 99 and pg_dump must be at least"):
        find_pg_tool("pg_dump", server_major=99)  # a client older than the server is refused
    with pytest.raises(WorkspaceError, match=r"pg_nothing is needed .* not found on PATH"):
        find_pg_tool("pg_nothing")
