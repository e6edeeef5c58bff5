"""sha256 of files, computed in one streaming pass and cached by (path, size, mtime_ns).

A data set's fingerprint hashes its files' bytes; a 100,000-image folder or a 2 GB Parquet
file should not be read again at every load. The digests are kept in a small SQLite table
(``digests`` in ``files.sqlite`` under ``AIMASS_CACHE_DIR``, beside the image-folder scan's
table): a file whose absolute path, size and modification time (nanoseconds) are unchanged
keeps its digest; any change hashes it again.

Examples
--------
>>> from aimass_lab.data._filecache import cached_digest  # doctest: +SKIP
>>> cached_digest("train.parquet")  # doctest: +SKIP
'5f3c…'
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from aimass_lab._io import sha256_file
from aimass_lab.settings import settings

__all__ = ["cache_dir", "cached_digest", "cached_digests", "file_key"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS digests ("
    " path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL)"
)
#: Rows written per transaction in :func:`cached_digests`.
_COMMIT_EVERY = 500


def cache_dir() -> Path:
    """The folder of caches kept by (path, size, mtime): ``AIMASS_CACHE_DIR``.

    Default ``~/.cache/aimass-lab`` (or ``$XDG_CACHE_HOME/aimass-lab``); created on demand.
    """
    folder = Path(settings().cache_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_key(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """``(absolute path, size, mtime_ns)``: what identifies a file's version in the caches."""
    resolved = Path(path).expanduser().resolve()
    stat = resolved.stat()
    return str(resolved), int(stat.st_size), int(stat.st_mtime_ns)


@contextlib.contextmanager
def _connect() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(cache_dir() / "files.sqlite", timeout=30.0)
    try:
        with contextlib.suppress(sqlite3.OperationalError):  # e.g. a file system without locks
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        yield conn
    finally:
        conn.close()


def _lookup(conn: sqlite3.Connection, key: tuple[str, int, int]) -> str | None:
    row = conn.execute(
        "SELECT sha256 FROM digests WHERE path = ? AND size = ? AND mtime_ns = ?", key
    ).fetchone()
    return None if row is None else str(row[0])


def _store(conn: sqlite3.Connection, key: tuple[str, int, int], digest: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO digests (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
        (*key, digest),
    )


def cached_digest(path: str | os.PathLike[str]) -> str:
    """sha256 (hex) of a file's bytes, from the cache when the file is unchanged.

    Parameters
    ----------
    path
        The file.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    """
    return cached_digests([path])[0]


def cached_digests(
    paths: Sequence[str | os.PathLike[str]],
    *,
    desc: str | None = None,
) -> list[str]:
    """sha256 (hex) of many files, in order; only new or changed files are read.

    Parameters
    ----------
    paths
        The files.
    desc
        When given, the hashing of files not in the cache reports progress under this name
        (:func:`aimass_lab.data._progress.progress`).
    """
    keys = [file_key(p) for p in paths]
    out: list[str | None] = [None] * len(keys)
    with _connect() as conn:
        todo = []
        for i, key in enumerate(keys):
            out[i] = _lookup(conn, key)
            if out[i] is None:
                todo.append(i)
        items: Any = todo
        if desc is not None and todo:
            from aimass_lab.data._progress import progress

            items = progress(todo, total=len(todo), desc=desc, unit="file")
        for done, i in enumerate(items, 1):
            digest = sha256_file(keys[i][0])
            out[i] = digest
            _store(conn, keys[i], digest)
            if done % _COMMIT_EVERY == 0:
                conn.commit()
        conn.commit()
    return [d for d in out if d is not None]
