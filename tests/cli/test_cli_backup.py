"""``aimass backup`` and ``aimass restore`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

from common_helpers import aimass, wait_for

from aimass_lab.workspace import Workspace, list_backups


def test_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    Workspace(ws).artifacts.put_bytes(b"x")  # a workspace with a store
    doc = json.loads(aimass(ws, "backup", str(tmp_path / "b"), "--json", check=True).stdout)
    path = Path(doc["backup"])
    assert path.parent == tmp_path / "b" and (path / "manifest.json").is_file()

    out = aimass(ws, "restore", str(path), str(tmp_path / "r"), check=True).stdout
    assert f"into {tmp_path / 'r'}" in out and "0 model versions verified" in out

    again = aimass(ws, "restore", str(path), str(tmp_path / "r"))
    assert again.returncode == 1
    assert f"error: the restore target {tmp_path / 'r'} is not empty" in again.stderr

    bad = aimass(ws, "backup", "--every", "6x", str(tmp_path / "b2"))
    assert bad.returncode == 1 and "unknown interval '6x'; accepted:" in bad.stderr
    assert not (tmp_path / "b2").exists()  # refused before anything was written or recorded
    keep = aimass(ws, "backup", "--keep", "0", str(tmp_path / "b2"))
    assert keep.returncode == 2 and "--keep" in keep.stderr


def test_scheduled_backup_keeps_the_newest(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    target = tmp_path / "backups"
    job = json.loads(
        aimass(
            ws, "backup", "--every", "2s", "--keep", "1", str(target), "--json", check=True
        ).stdout
    )
    assert job["kind"] == "backup" and job["spec"]["every_s"] == 2.0
    jobs = Workspace(ws).jobs
    try:
        wait_for(
            lambda: (jobs.get(job["id"]).result.get("backups_written") or 0) >= 2,
            timeout=180,
            what="two scheduled backups",
        )
        assert len(list_backups(target)) == 1
    finally:
        aimass(ws, "jobs", "cancel", job["id"], check=True)
    done = jobs.wait(job["id"], timeout=60)
    assert done.state == "stopped", jobs.logs(job["id"], tail=30)
    assert "backup written" in jobs.logs(job["id"])
    assert "removed old backup" in jobs.logs(job["id"])
    assert len(list_backups(target)) == 1
