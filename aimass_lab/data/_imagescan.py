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
from pathlib import Path

from aimass_lab.data._progress import Progress
from aimass_lab.settings import settings

__all__ = ["FileInfo", "scan_images"]

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


def _cache_file() -> Path:
    folder = Path(settings().cache_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "files.sqlite"


def _connect() -> sqlite3.Connection | None:
    """The cache, or ``None`` when it cannot be opened (the scan then runs uncached)."""
    try:
        conn = sqlite3.connect(_cache_file(), timeout=30.0)
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


def scan_images(paths: Sequence[str], *, desc: str = "scan images") -> list[FileInfo]:
    """Hash and read the header of every file (cached by path, size and mtime).

    Parameters
    ----------
    paths
        Absolute file paths.
    desc
        What progress lines call the pass.

    Returns
    -------
    list of FileInfo
        One per path, in order.
    """
    stats: list[tuple[int, int]] = []
    for path in paths:
        try:
            st = os.stat(path)
            stats.append((st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((-1, -1))
    conn = _connect()
    cached: dict[str, tuple[int, int, FileInfo]] = {}
    if conn is not None and paths:
        wanted = set(paths)
        prefix = os.path.commonpath(paths)
        for row in conn.execute(
            "SELECT path, size, mtime_ns, sha256, mode, width, height, error FROM image_files "
            "WHERE path >= ? AND path < ?",
            (prefix, prefix + "\U0010ffff"),
        ):
            if row[0] in wanted:
                cached[row[0]] = (row[1], row[2], FileInfo(row[3], row[4], row[5], row[6], row[7]))
    found: list[FileInfo | None] = [None] * len(paths)
    missing: list[int] = []
    for i, (path, stat) in enumerate(zip(paths, stats, strict=True)):
        hit = cached.get(path)
        if hit is not None and (hit[0], hit[1]) == stat:
            found[i] = hit[2]
        else:
            missing.append(i)
    if missing:
        workers = max(2, min(8, (os.cpu_count() or 2) * 2))
        with Progress(len(missing), desc, unit="file") as bar, ThreadPoolExecutor(workers) as pool:
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                infos = list(pool.map(_read, [paths[i] for i in chunk]))
                rows = []
                for i, info in zip(chunk, infos, strict=True):
                    found[i] = info
                    if stats[i][0] >= 0:
                        rows.append(
                            (
                                paths[i],
                                *stats[i],
                                info.sha256,
                                info.mode,
                                info.width,
                                info.height,
                                info.error,
                            )
                        )
                if conn is not None and rows:
                    try:
                        with conn:
                            conn.executemany(
                                "INSERT OR REPLACE INTO image_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                rows,
                            )
                    except sqlite3.Error:
                        pass  # a read-only or busy cache costs speed, not correctness
                bar.update(len(chunk))
    if conn is not None:
        conn.close()
    return [info for info in found if info is not None]
