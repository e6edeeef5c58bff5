"""One pass over the files of an image folder: content hash and header, cached.

Each file is read once, hashed (sha256) and its header parsed (mode and size; pixels are not
decoded). What was found is kept in a SQLite cache under ``settings().cache_dir`` keyed by
(absolute path, size, mtime_ns), so a second load of the same folder only stats the files.
Memory stays bounded by the file list.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from aimass_lab.data._filecache import cache_dir
from aimass_lab.data._progress import Progress

__all__ = ["FileInfo", "Scan", "scan_images"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS image_files (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
    sha256 TEXT, mode TEXT, width INTEGER, height INTEGER, error TEXT
)
"""
#: Files hashed per thread-pool round (and per cache write).
_CHUNK = 2048


@dataclass(frozen=True)
class FileInfo:
    """What the scan found in one file: its hash and header, or why it cannot be read."""

    sha256: str
    mode: str
    width: int
    height: int
    error: str | None = None


def _connect() -> sqlite3.Connection | None:
    """The cache, or ``None`` when it cannot be opened (the scan then runs uncached)."""
    try:
        conn = sqlite3.connect(cache_dir() / "files.sqlite", timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        return conn
    except (OSError, sqlite3.Error):
        return None


def _read(path: str) -> FileInfo:
    from PIL import Image, UnidentifiedImageError

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return FileInfo("", "", 0, 0, f"cannot read: {exc.strerror or exc}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return FileInfo(digest, str(image.mode), int(width), int(height))
    except UnidentifiedImageError:
        return FileInfo(digest, "", 0, 0, "not an image format Pillow knows, or a corrupt header")
    except (OSError, ValueError) as exc:
        return FileInfo(digest, "", 0, 0, f"corrupt image ({exc})")


def _stat(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


@dataclass
class Scan:
    """What one scan found, one row per file, in compact arrays (no object per file).

    Attributes
    ----------
    sha256 : numpy.ndarray
        Hex digests (``S64``).
    mode : numpy.ndarray
        Pillow modes (``S8``, e.g. ``b"RGB"``).
    width, height : numpy.ndarray
        ``int32`` sizes from the header.
    errors : dict
        ``{row: why}`` for the files that cannot be read.
    """

    sha256: np.ndarray
    mode: np.ndarray
    width: np.ndarray
    height: np.ndarray
    errors: dict[int, str]

    @classmethod
    def empty(cls, n: int) -> Scan:
        return cls(
            np.zeros(n, "S64"), np.zeros(n, "S8"), np.zeros(n, np.int32), np.zeros(n, np.int32), {}
        )

    def put(self, i: int, info: FileInfo) -> None:
        self.sha256[i] = info.sha256
        self.mode[i] = info.mode
        self.width[i] = info.width
        self.height[i] = info.height
        if info.error:
            self.errors[i] = info.error

    def take(self, rows: np.ndarray) -> Scan:
        """The rows ``rows`` (in that order); their errors are dropped."""
        return Scan(self.sha256[rows], self.mode[rows], self.width[rows], self.height[rows], {})


def _cached(
    conn: sqlite3.Connection, paths: Sequence[str], stats: Sequence[tuple[int, int]], scan: Scan
) -> np.ndarray:
    """Fill ``scan`` from the cache where (size, mtime) still match; the rows found."""
    found = np.zeros(len(paths), dtype=bool)
    index = {path: i for i, path in enumerate(paths)}
    prefix = os.path.commonpath([paths[0], paths[-1]])
    for row in conn.execute(
        "SELECT path, size, mtime_ns, sha256, mode, width, height, error FROM image_files "
        "WHERE path >= ? AND path < ?",
        (prefix, prefix + "\U0010ffff"),
    ):
        i = index.get(row[0])
        if i is not None and (row[1], row[2]) == stats[i]:
            scan.put(i, FileInfo(row[3], row[4], row[5], row[6], row[7]))
            found[i] = True
    return found


def _store(conn: sqlite3.Connection | None, rows: list[tuple[object, ...]]) -> None:
    if conn is None or not rows:
        return
    try:
        with conn:
            conn.executemany(
                "INSERT OR REPLACE INTO image_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
    except sqlite3.Error:
        pass  # a read-only or busy cache costs speed, not correctness


def scan_images(
    paths: Sequence[str],
    *,
    stats: Sequence[tuple[int, int]] | None = None,
    desc: str = "scan images",
) -> Scan:
    """Hash and read the header of every file (cached by path, size and mtime).

    Parameters
    ----------
    paths
        Absolute file paths.
    stats
        ``(size, mtime_ns)`` of each path when the caller has them already (else ``os.stat``).
    desc
        What progress lines call the pass.

    Returns
    -------
    Scan
        One row per path, in order.
    """
    if stats is None:
        stats = [_stat(path) for path in paths]
    scan = Scan.empty(len(paths))
    conn = _connect()
    found = np.zeros(len(paths), dtype=bool)
    if conn is not None and paths:
        found = _cached(conn, paths, stats, scan)
    missing = np.flatnonzero(~found).tolist()
    if missing:
        workers = max(2, min(8, (os.cpu_count() or 2) * 2))
        with Progress(len(missing), desc, unit="file") as bar, ThreadPoolExecutor(workers) as pool:
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                rows: list[tuple[object, ...]] = []
                for i, info in zip(chunk, pool.map(_read, [paths[i] for i in chunk]), strict=True):
                    scan.put(i, info)
                    if stats[i][0] >= 0:
                        rows.append((paths[i], *stats[i], info.sha256, info.mode, info.width,
                                     info.height, info.error))  # fmt: skip
                _store(conn, rows)
                bar.update(len(chunk))
    if conn is not None:
        conn.close()
    return scan
