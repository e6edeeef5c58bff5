"""Upload sessions in the workspace: chunks at the stored offset, another process resumes,
a crash's unrecorded bytes are cut, the sha256 is checked, nothing imported before, gc."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from aimass_lab.errors import DataError, IntegrityError, JobError
from aimass_lab.workspace import (
    UploadOffsetError,
    UploadOwnerError,
    Workspace,
    acting_as,
)

DATA = bytes(range(256)) * 40  # 10240 bytes
SHA = hashlib.sha256(DATA).hexdigest()


def _new(ws: Workspace, **kw: Any) -> Any:
    fields: dict[str, Any] = {
        "kind": "model",
        "filename": "m.aimass.tar.gz",
        "size": len(DATA),
        "sha256": SHA,
    }
    return ws.uploads.create(**{**fields, **kw})


def test_chunks_resume_in_another_process_and_finish_once_verified(workspace: Workspace) -> None:
    ws = workspace  # SQLite and PostgreSQL
    with acting_as("alice"):
        up = _new(ws)
        assert ws.uploads.append(up.id, 0, DATA[:4000]).offset == 4000
        with pytest.raises(UploadOffsetError) as info:
            ws.uploads.append(up.id, 3000, DATA[3000:5000])  # overlaps
        assert info.value.expected == 4000 and "offset 4000" in str(info.value)
        with pytest.raises(DataError, match="from offset 4000"):
            ws.uploads.finish(up.id, lambda p, u: {})
    # another process sharing the workspace (a second Jupyter server) resumes from the store
    code = f"""
        from aimass_lab.workspace import Workspace, acting_as
        ws = Workspace({str(ws.path)!r}, db_url={ws.db_url!r})
        data = bytes(range(256)) * 40
        with acting_as("alice"):
            up = ws.uploads.get({up.id!r})
            print(ws.uploads.append(up.id, up.offset, data[up.offset:]).offset)
    """
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(DATA))
    seen: list[bytes] = []
    with acting_as("bob"), pytest.raises(UploadOwnerError, match="belongs to 'alice'"):
        ws.uploads.finish(up.id, lambda p, u: {})
    with acting_as("alice"):
        done = ws.uploads.finish(up.id, lambda p, u: seen.append(p.read_bytes()) or {"ok": 1})
    assert seen == [DATA] and done.state == "done" and done.result == {"ok": 1}
    assert not ws.uploads.partial_path(up.id).exists()


def test_unrecorded_bytes_are_cut_and_a_wrong_hash_discards(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    up = _new(ws, sha256="a" * 64)
    ws.uploads.append(up.id, 0, DATA[:100])
    with ws.uploads.partial_path(up.id).open("ab") as fh:  # a crash after write, before record
        fh.write(b"garbage")
    assert ws.uploads.append(up.id, 100, DATA[100:]).offset == len(DATA)
    assert ws.uploads.partial_path(up.id).read_bytes() == DATA
    # bytes lost (a restored workspace has no partial files): resume from what is there
    lost = _new(ws)
    ws.uploads.append(lost.id, 0, DATA[:500])
    ws.uploads.partial_path(lost.id).unlink()
    with pytest.raises(UploadOffsetError, match="offset 0"):
        ws.uploads.append(lost.id, 500, DATA[500:])
    assert ws.uploads.get(lost.id).offset == 0
    called: list[Path] = []
    with pytest.raises(IntegrityError, match=f"is {SHA}, not a{{64}}"):
        ws.uploads.finish(up.id, lambda p, u: called.append(p) or {})
    assert called == [] and ws.uploads.get(up.id).state == "failed"
    assert not ws.uploads.partial_path(up.id).exists()
    with pytest.raises(JobError, match="is failed"):
        ws.uploads.append(up.id, 0, DATA)


def test_a_failed_import_keeps_the_bytes_for_another_finish(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    up = _new(ws)
    ws.uploads.append(up.id, 0, DATA)

    def refuse(path: Path, upload: Any) -> dict[str, Any]:
        raise DataError("not a model archive")

    with pytest.raises(DataError):
        ws.uploads.finish(up.id, refuse)
    again = ws.uploads.get(up.id)
    assert again.state == "open" and "not a model archive" in (again.error or "")
    assert ws.uploads.finish(up.id, lambda p, u: {"n": p.stat().st_size}).result == {"n": len(DATA)}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "video"}, "unknown upload kind"),
        ({"kind": ["model"]}, "unknown upload kind"),
        ({"filename": "../m.tar.gz"}, "plain file name"),
        ({"kind": "dataset", "filename": "t.xlsx"}, r"\*.csv"),
        ({"size": 0}, "1 or more"),
        ({"sha256": "XYZ"}, "64 lowercase hex"),
        ({"options": {"colour": "red"}}, "unknown option"),
        ({"kind": "dataset", "filename": "t.csv"}, "needs options.name"),
        ({"size": 1 << 62}, "does not fit"),
    ],
)
def test_bad_sessions_are_refused(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(DataError, match=message):
        _new(ws, **fields)
    assert ws.uploads.list(all_users=True) == []


def test_gc_removes_stale_sessions_and_orphans(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    stale = _new(ws)
    ws.uploads.append(stale.id, 0, DATA[:10])
    aborted = ws.uploads.abort(_new(ws).id)
    assert aborted.state == "aborted" and not ws.uploads.partial_path(aborted.id).exists()
    orphan = ws.uploads.folder / "0123.part"
    orphan.write_bytes(b"x")
    listed = ws.uploads.gc(max_age_s=0, dry_run=True)
    assert {r["upload"] for r in listed} == {stale.id, aborted.id, None}
    assert orphan.exists() and ws.uploads.get(stale.id).state == "open"
    ws.uploads.gc(max_age_s=0)
    assert ws.uploads.get(stale.id).state == "expired" and not orphan.exists()
    assert [u.id for u in ws.uploads.list()] == [stale.id]  # the aborted row is gone
    fresh = _new(ws)
    assert all(r["upload"] != fresh.id for r in ws.gc())  # a day old only
