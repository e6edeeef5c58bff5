"""The store on SQLite and PostgreSQL: schema versions, migrations, artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from aimass_lab.errors import IntegrityError, SchemaVersionError, WorkspaceError
from aimass_lab.workspace import SCHEMA_VERSION, Workspace


def test_fresh_workspace_has_current_schema(workspace: Workspace) -> None:
    assert workspace.store.schema_version == SCHEMA_VERSION
    assert (workspace.path / "artifacts" / "sha256").is_dir()


def test_metrics_roundtrip(workspace: Workspace) -> None:
    job = workspace.jobs.create("train", {"a": 1})
    workspace.log_metrics(job.id, [("loss", 1, 0, 0.5), ("loss", 2, 0, 0.25), ("acc", 2, 0, 0.75)])
    points = workspace.metrics(job.id)
    assert [(p["name"], p["step"], p["value"]) for p in points] == [
        ("loss", 1, 0.5),
        ("loss", 2, 0.25),
        ("acc", 2, 0.75),
    ]
    assert workspace.metrics(job.id, after_id=points[1]["id"]) == points[2:]
    assert workspace.last_metrics(job.id) == {"loss": 0.25, "acc": 0.75}


def test_older_workspace_is_migrated(workspace: Workspace, tmp_path: Path) -> None:
    # Turn the fresh store into a schema-1 store, as the first release wrote it.
    with workspace.store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE jobs DROP COLUMN progress"))
        conn.execute(text("UPDATE aimass_meta SET value = '1' WHERE key = 'schema_version'"))
    reopened = Workspace(workspace.path, db_url=workspace.db_url)
    assert reopened.store.schema_version == SCHEMA_VERSION
    with reopened.store.engine.connect() as conn:
        assert "progress" in {c["name"] for c in inspect(conn).get_columns("jobs")}
    job = reopened.jobs.create("train", {})
    assert reopened.jobs.get(job.id).progress is None


def test_newer_workspace_is_refused(workspace: Workspace) -> None:
    with workspace.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE aimass_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(SCHEMA_VERSION + 5)},
        )
    with pytest.raises(
        SchemaVersionError, match=rf"schema {SCHEMA_VERSION + 5}.*newer.*pip install -U aimass-lab"
    ):
        Workspace(workspace.path, db_url=workspace.db_url)


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        WorkspaceError,
        match=r"cannot open the workspace database postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:9/x",
    ):
        Workspace(tmp_path / "ws", db_url="postgresql://u:secret@127.0.0.1:9/x")


def test_artifacts_are_content_addressed_and_verified(workspace: Workspace, tmp_path: Path) -> None:
    digest = workspace.artifacts.put_bytes(b"hello")
    assert digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert workspace.artifacts.put_bytes(b"hello") == digest
    path = workspace.artifacts.verify(digest)
    assert path.read_bytes() == b"hello"
    path.write_bytes(b"hellO")
    with pytest.raises(
        IntegrityError, match=r"modified or corrupted: sha256 is .* the manifest says"
    ):
        workspace.artifacts.verify(digest, label="weights.safetensors")
    path.unlink()
    with pytest.raises(IntegrityError, match=r"weights\.safetensors is missing"):
        workspace.artifacts.verify(digest, label="weights.safetensors")
    assert not list((workspace.path / "artifacts" / "tmp").glob("*"))


def test_schema_4_workspace_gains_job_owners(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A schema-4 store: no owner/kernel columns on jobs.
    old = workspace.jobs.create("train", {"old": True})
    with workspace.store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE jobs DROP COLUMN owner"))
        conn.execute(text("ALTER TABLE jobs DROP COLUMN kernel_id"))
        conn.execute(text("UPDATE aimass_meta SET value = '4' WHERE key = 'schema_version'"))
    monkeypatch.setenv("AIMASS_USER", "ada")
    reopened = Workspace(workspace.path, db_url=workspace.db_url)
    assert reopened.store.schema_version == SCHEMA_VERSION
    assert reopened.jobs.get(old.id).owner is None  # unknown for jobs of older releases
    job = reopened.jobs.create("train", {})
    assert reopened.jobs.get(job.id).owner == "ada"
    assert reopened.jobs.get(job.id).to_dict()["owner"] == "ada"
    other = reopened.jobs.create("train", {}, owner="grace")  # the REST API passes its identity
    assert reopened.jobs.get(other.id).owner == "grace"
    reopened.store.close()
