"""Shared fixtures: real workspaces on SQLite and on a real PostgreSQL server.

The test command (scripts/test.sh) starts a throwaway PostgreSQL server and exports
``AIMASS_TEST_PG_URL`` (an admin URL to its ``postgres`` database). Each test that asks for
the PostgreSQL flavour gets a database of its own. With ``AIMASS_REQUIRE_PG=1`` (set by the
test command) a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from aimass_lab.workspace import Workspace, set_current_workspace

PG_URL = os.environ.get("AIMASS_TEST_PG_URL")
REQUIRE_PG = os.environ.get("AIMASS_REQUIRE_PG") == "1"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep every test away from the user's workspace and from other tests' settings."""
    monkeypatch.delenv("AIMASS_DB_URL", raising=False)
    monkeypatch.delenv("AIMASS_MODELS_DIR", raising=False)
    monkeypatch.setenv("AIMASS_HOME", str(tmp_path / "default-workspace"))
    monkeypatch.setenv("AIMASS_CACHE_DIR", str(tmp_path / "cache"))
    set_current_workspace(None)
    yield
    set_current_workspace(None)


def _pg_database() -> str:
    """Create a fresh database on the test server; return its URL."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("AIMASS_REQUIRE_PG=1 but AIMASS_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server (run the tests with scripts/test.sh)")
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


def _drop_pg_database(url: str) -> None:
    """Drop a test database (best effort): a long-lived test server does not fill up."""
    import psycopg

    name = url.rpartition("/")[2]
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass  # a server gone or busy: the throwaway server of scripts/test.sh is removed anyway


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of an empty PostgreSQL database of this test's own (dropped afterwards)."""
    url = _pg_database()
    yield url
    _drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both store backends."""
    return str(request.param)


@pytest.fixture
def workspace(backend: str, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on each backend, made the process default."""
    url = None if backend == "sqlite" else _pg_database()
    ws = Workspace(tmp_path / "ws", db_url=url)
    set_current_workspace(ws)
    yield ws
    ws.store.close()  # give the test server's connections back
    if url is not None:
        _drop_pg_database(url)


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Workspace:
    """A fresh SQLite workspace, made the process default (for tests that need one backend)."""
    ws = Workspace(tmp_path / "ws")
    set_current_workspace(ws)
    return ws


DOCS = Path(__file__).resolve().parents[1] / "docs"
_DOC_BLOCK = re.compile(r"(<!-- not run:[^>]*-->\s*)?```python\n(.*?)```", re.S)


@pytest.fixture
def run_doc_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run a docs page's ```python blocks in order, in one namespace, in a fresh folder.

    A block right after an ``<!-- not run: reason -->`` comment is skipped. Returns the
    number of blocks run and what they printed.
    """

    def run(page: str, min_blocks: int = 1) -> tuple[int, str]:
        path = DOCS / page
        blocks = [
            (bool(skip), code)
            for skip, code in _DOC_BLOCK.findall(path.read_text(encoding="utf-8"))
        ]
        runnable = [(i, code) for i, (skip, code) in enumerate(blocks) if not skip]
        assert len(runnable) >= min_blocks, f"{page} has {len(runnable)} runnable examples"
        monkeypatch.chdir(tmp_path)
        namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for i, code in runnable:
                exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
        return len(runnable), out.getvalue()

    return run
