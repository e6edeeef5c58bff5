"""Data specs that name a data source (source://NAME): real SQLite, PostgreSQL and folders,
loaded only by users the source is granted to, with the password from the secret store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aimass_lab import data, datasets
from aimass_lab.errors import DataError, PermissionDeniedError
from aimass_lab.workspace import (
    Workspace,
    acting_as,
    add_source,
    execute_job,
    grant,
    register_job_kind,
    start_job,
)

SECRET = "pw-Q7-never-in-the-store"
QUERY = "SELECT age, income, label FROM people"


def _sqlite_db(path: Path, frame: pd.DataFrame) -> Path:
    with sqlite3.connect(path) as conn:
        frame.to_sql("people", conn, index=False)
    return path


def _sql_spec(name: str = "warehouse") -> dict[str, Any]:
    return {"source": "sql", "url": f"source://{name}", "query": QUERY, "target": "label"}


def test_a_sqlite_source_is_read_by_its_owner_and_grantees_only(
    sqlite_workspace: Workspace, tmp_path: Path, mixed_frame: pd.DataFrame
) -> None:
    db = _sqlite_db(tmp_path / "shop.db", mixed_frame)
    with acting_as("ada"):
        add_source("warehouse", "sql", f"sqlite:///{db}")
        ds = datasets.from_sql("source://warehouse", QUERY, "label", name="people")
        assert len(ds) == len(mixed_frame)
    stored = data.registered_row("people", sqlite_workspace)
    assert stored is not None and stored["spec"]["url"] == "source://warehouse"
    with acting_as("grace"):
        for attempt in (lambda: data.load("people"), lambda: data.load(_sql_spec())):
            with pytest.raises(PermissionDeniedError) as info:
                attempt()
            assert "user 'grace' may not read data source 'warehouse'" in str(info.value)
            assert "owner 'ada'" in str(info.value)
        with pytest.raises(PermissionDeniedError):
            data.check_access("people")
    with acting_as("ada"):
        grant("warehouse", "user:grace")
    with acting_as("grace"):
        data.check_access("people")
        assert len(data.load("people")) == len(mixed_frame)


def test_postgresql_source_password_comes_from_the_secret_store(
    pg_url: str,
    mixed_frame: pd.DataFrame,
    sqlite_workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    mixed_frame.to_sql("people", engine, index=False)
    engine.dispose()
    real = make_url(pg_url)
    location = real.set(password=None).render_as_string(hide_password=False)
    with acting_as("ada"):
        add_source("warehouse", "sql", location, credential="env:T_WAREHOUSE_PW")
    # the grant is checked before the secret is read: grace learns nothing of the variable
    with acting_as("grace"), pytest.raises(PermissionDeniedError, match="'warehouse'"):
        data.load(_sql_spec())
    with acting_as("ada"):
        with pytest.raises(DataError, match="T_WAREHOUSE_PW is not set"):
            data.load(_sql_spec())
        monkeypatch.setenv("T_WAREHOUSE_PW", SECRET)  # the test server trusts local logins
        ds = datasets.from_sql("source://warehouse", QUERY, "label", name="people")
        assert len(ds) == len(mixed_frame)
        with pytest.raises(DataError, match="the SQL query failed") as info:
            data.load({**_sql_spec(), "query": "SELECT nope FROM people"})
        assert SECRET not in str(info.value)
        add_source("broken", "sql", "nosuchdb://analyst@db/x", credential="env:T_WAREHOUSE_PW")
        with pytest.raises(DataError, match="cannot use the database URL") as info:
            data.load(_sql_spec("broken"))
        assert SECRET not in str(info.value)
    with sqlite_workspace.store.engine.connect() as conn:
        for table in ("datasets", "data_sources"):
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
            assert rows and SECRET not in repr(rows)
    assert SECRET not in json.dumps(data.registered_row("people", sqlite_workspace))


def test_a_folder_source_gives_paths_inside_it(
    sqlite_workspace: Workspace, tmp_path: Path, csv_file: Path, mixed_frame: pd.DataFrame
) -> None:
    with acting_as("ada"):
        add_source("shared", "folder", str(csv_file.parent))
        spec = {"source": "csv", "path": f"source://shared/{csv_file.name}", "target": "label"}
        ds = data.load(spec)
        assert len(ds) == len(mixed_frame)
        assert ds.spec.path == f"source://shared/{csv_file.name}"  # the reference is kept
        found = data.load({"source": "csv", "path": f"source://shared/{csv_file.name}"})
        assert found.spec.target == "label"  # the label column, from the file's header
        with pytest.raises(DataError, match="must stay inside the data source 'shared'"):
            data.load({**spec, "path": "source://shared/../table.csv"})
        with pytest.raises(DataError, match="'folder' source; url= takes a 'sql' source"):
            data.load({**_sql_spec("shared")})
        with pytest.raises(DataError, match="not a source name"):
            data.load({**spec, "path": "source://a b/x.csv"})
        add_source("mounted", "bucket", f"file://{csv_file.parent}")
        assert len(data.load({**spec, "path": f"source://mounted/{csv_file.name}"})) == len(ds)
        add_source("lake", "bucket", "s3://lab-bucket/tables")
        with pytest.raises(DataError, match=r"s3://lab-bucket/tables; the built-in 'csv'"):
            data.load({**spec, "path": "source://lake/t.csv"})
    with acting_as("grace"), pytest.raises(PermissionDeniedError, match="'shared'"):
        data.load(spec)


def _load_job(ctx: Any) -> None:
    data.load(ctx.job.spec["data"], workspace=ctx.workspace)


def test_a_job_reads_what_its_owner_may_read(
    sqlite_workspace: Workspace,
    tmp_path: Path,
    mixed_frame: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register_job_kind("t-read-source", _load_job)
    db = _sqlite_db(tmp_path / "shop.db", mixed_frame)
    with acting_as("ada"):
        add_source("warehouse", "sql", f"sqlite:///{db}")
    monkeypatch.setenv("AIMASS_USER", "grace")  # the process that runs the jobs
    jobs = sqlite_workspace.jobs
    mine = jobs.create("t-read-source", {"data": _sql_spec()}, owner="ada")
    theirs = jobs.create("t-read-source", {"data": _sql_spec()}, owner="grace")
    assert execute_job(start_job(sqlite_workspace, mine.id), _load_job) == 0
    assert execute_job(start_job(sqlite_workspace, theirs.id), _load_job) == 1
    failed = jobs.get(theirs.id)
    assert failed.state == "failed"
    assert "user 'grace' may not read data source 'warehouse'" in str(failed.exit_reason)
