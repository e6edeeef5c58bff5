"""The store's half of a backup: a consistent snapshot of the database and what it references.

SQLite: the online backup API (:meth:`sqlite3.Connection.backup`) copies the database while
jobs write to it; the copy is then read for what it references. PostgreSQL: one read-only
``REPEATABLE READ`` transaction exports its snapshot, ``pg_dump --snapshot`` dumps exactly
that state, and the references are read in the same transaction. Restoring: the SQLite file
is copied; a dump is loaded with ``psql --single-transaction`` into an empty database.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from aimass_lab.errors import WorkspaceError
from aimass_lab.workspace._store import Store, normalize_db_url, redact_url

__all__ = [
    "Snapshot",
    "find_pg_tool",
    "load_pg_dump",
    "pg_is_empty",
    "snapshot_store",
    "sqlite_path",
]

_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")

#: What the snapshot is read for: job ids (run folders) and every sha256 named anywhere.
_QUERIES = {
    "jobs": "SELECT id, state, CAST(spec AS TEXT), CAST(result AS TEXT) FROM jobs",
    "model_versions": (
        "SELECT name, version, CAST(manifest AS TEXT), CAST(model_spec AS TEXT), "
        "CAST(lineage AS TEXT) FROM model_versions"
    ),
    "datasets": "SELECT name, CAST(spec AS TEXT) FROM datasets",
    "challenges": "SELECT name, CAST(hidden AS TEXT) FROM challenges",  # their hidden rows
}


@dataclass
class Snapshot:
    """What a store snapshot holds: its file, schema and the things it references."""

    file: str
    backend: str
    schema_version: int
    job_ids: list[str] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    tool: str | None = None


def sqlite_path(url: str) -> Path:
    """The database file of a SQLite URL."""
    database = make_url(url).database
    if not database or database == ":memory:":
        raise WorkspaceError(f"the SQLite store {url} has no file to back up")
    return Path(database)


def _read_references(snap: Snapshot, rows_of: dict[str, Iterable[Any]]) -> None:
    for table, rows in rows_of.items():
        count = 0
        for row in rows:
            count += 1
            if table == "jobs":
                snap.job_ids.append(str(row[0]))
            for value in row:
                if isinstance(value, str):
                    snap.digests.update(_DIGEST.findall(value))
        snap.counts[table] = count
    snap.job_ids.sort()


def _schema_of(conn_rows: Iterable[Any]) -> int:
    for row in conn_rows:
        return int(row[0])
    return 0


def snapshot_store(store: Store, dest: Path) -> Snapshot:
    """Write a consistent snapshot of ``store`` into the folder ``dest``; read its references."""
    if store.dialect == "sqlite":
        return _snapshot_sqlite(store, dest)
    if store.dialect == "postgresql":
        return _snapshot_postgresql(store, dest)
    raise WorkspaceError(
        f"cannot back up a {store.dialect} store; accepted backends: sqlite, postgresql"
    )


def _snapshot_sqlite(store: Store, dest: Path) -> Snapshot:
    out = dest / "aimass.db"
    src = sqlite3.connect(str(sqlite_path(store.url)), timeout=30)
    dst = sqlite3.connect(str(out))
    try:
        src.backup(dst)  # one step: a read transaction, so a consistent state
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        schema = _schema_of(
            dst.execute("SELECT value FROM aimass_meta WHERE key = 'schema_version'")
        )
        snap = Snapshot(file="store/aimass.db", backend="sqlite", schema_version=schema)
        _read_references(snap, {t: dst.execute(q).fetchall() for t, q in _QUERIES.items()})
    finally:
        src.close()
        dst.close()
    return snap


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for pg_dump/psql: ``-d dbname``, the rest in PG* variables (so no
    password on a command line)."""
    u: URL = make_url(normalize_db_url(url))
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", u.host),
        ("PGPORT", u.port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
    ):
        if value is not None:
            env[var] = str(value)
    return ["--dbname", str(u.database or "postgres")], env


def _tool_major(path: str) -> int:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else 0


def find_pg_tool(name: str, server_major: int | None = None) -> str:
    """The path of ``pg_dump``/``psql``: on PATH or in ``/usr/lib/postgresql/*/bin``; with
    ``server_major``, one whose major version is at least the server's (pg_dump refuses to
    dump a newer server)."""
    candidates = [p for p in [shutil.which(name)] if p]
    candidates += sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(re.sub(r"\D", "", p.split("/")[4]) or 0),
        reverse=True,
    )
    if not candidates:
        raise WorkspaceError(
            f"{name} is needed to back up or restore a PostgreSQL store and was not found on PATH "
            f"nor in /usr/lib/postgresql/*/bin; install the PostgreSQL client (postgresql-client)"
        )
    if server_major is None:
        return candidates[0]
    majors = {p: _tool_major(p) for p in candidates}
    for path, major in majors.items():
        if major >= server_major:
            return path
    found = ", ".join(f"{p} (version {m})" for p, m in majors.items())
    raise WorkspaceError(
        f"the PostgreSQL server is version {server_major} and {name} must be at least as new; "
        f"found only {found}. Install postgresql-client-{server_major} (or newer)"
    )


def _run_tool(cmd: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise WorkspaceError(f"{what} failed ({cmd[0]}, exit {proc.returncode}): {proc.stderr}")


def _snapshot_postgresql(store: Store, dest: Path) -> Snapshot:
    out = dest / "aimass.sql"
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
            snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tool = find_pg_tool("pg_dump", server)
            args, env = _libpq(store.url)
            cmd = [tool, *args, "--format=plain", "--no-owner", "--no-privileges"]
            _run_tool([*cmd, f"--snapshot={snapshot_id}", "--file", str(out)], env, "pg_dump")
            schema = _schema_of(
                conn.execute(text("SELECT value FROM aimass_meta WHERE key = 'schema_version'"))
            )
            snap = Snapshot(
                file="store/aimass.sql",
                backend="postgresql",
                schema_version=schema,
                tool=f"pg_dump {_tool_major(tool)}",
            )
            _read_references(
                snap, {t: conn.execute(text(q)).fetchall() for t, q in _QUERIES.items()}
            )
    return snap


def pg_is_empty(url: str) -> list[str]:
    """The tables of the database at ``url`` (empty list: an empty database)."""
    engine = create_engine(normalize_db_url(url))
    try:
        with engine.connect() as conn:
            return sorted(inspect(conn).get_table_names())
    except Exception as exc:
        raise WorkspaceError(f"cannot open the database {redact_url(url)}: {exc}") from None
    finally:
        engine.dispose()


def load_pg_dump(dump: Path, url: str) -> None:
    """Load a plain ``pg_dump`` file into the (empty) database at ``url``, all or nothing."""
    args, env = _libpq(url)
    tool = find_pg_tool("psql")
    cmd = [tool, *args, "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    _run_tool([*cmd, "--file", str(dump)], env, f"restoring the store into {redact_url(url)}")
