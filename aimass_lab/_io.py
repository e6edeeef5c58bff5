"""Small file helpers shared by every stage: atomic writes, their stale temp files, sha256.

An atomic write goes to a temp file beside its target, named
``.<target name>.<pid>-<host>.<random>.tmp`` (``<host>``: 8 hex digits of the hostname's
crc32), fsynced, then renamed onto the target. A writer killed (``kill -9``, power loss)
before the rename leaves its temp file behind; :func:`stale_temp_files` finds such files
and :func:`remove_stale_temp_files` deletes them. A temp file is **stale** when its writer
is gone: written on this host by a process id that no longer runs, or, when its name does
not say (another host sharing the folder, or a name from before this rule), when it has not
been modified for :data:`STALE_TEMP_AGE_S` seconds. A live writer's temp file is never stale
on its own host, and a writer elsewhere keeps its file's modification time fresh as it
writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "STALE_TEMP_AGE_S",
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "fsync_dir",
    "is_stale_temp",
    "remove_stale_temp_files",
    "sha256_bytes",
    "sha256_file",
    "stale_temp_files",
    "temp_tag",
]

_CHUNK = 1 << 20

#: A temp file whose writer cannot be checked (another host, or an older name) is stale
#: once it has not been modified for this many seconds (a day).
STALE_TEMP_AGE_S = 24 * 3600.0

# "<pid>-<host tag>.<mkstemp's random part>.tmp|.part" at the end of a temp file's name
_TAG_RE = re.compile(r"(?:^|\.)(\d+)-([0-9a-f]{8})\.[A-Za-z0-9_]+\.(?:tmp|part)$")


def _host_tag() -> str:
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def temp_tag() -> str:
    """``"<pid>-<host>."``: the part of a temp file's name that names its writer (see the
    module's docstring), for ``tempfile.mkstemp(prefix=...)``."""
    return f"{os.getpid()}-{_host_tag()}."


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def is_stale_temp(path: Path, max_age_s: float = STALE_TEMP_AGE_S) -> bool:
    """Whether the temp file ``path`` was left by a writer that is gone (see the module's
    docstring for the rule)."""
    match = _TAG_RE.search(path.name)
    if match is not None and match.group(2) == _host_tag():
        pid = int(match.group(1))
        return pid != os.getpid() and not _pid_runs(pid)
    try:
        return time.time() - path.stat().st_mtime > max_age_s
    except FileNotFoundError:  # renamed or removed meanwhile: not ours to delete
        return False


# what tempfile.mkstemp names: the prefix, 8 random characters, the suffix
_ATOMIC_RE = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
_STAGING_RE = re.compile(r".*[a-z0-9_]{8}\.part")


def _temp_candidates(root: Path) -> Iterator[Path]:
    """Files under ``root`` named as temp files of atomic writes (``.<name>.*.tmp``) or of
    the artifact store's staging (``artifacts/tmp/*.part``)."""
    for folder, _dirs, files in os.walk(root):
        here = Path(folder)
        staging = here.name == "tmp" and here.parent.name == "artifacts"
        for name in files:
            if _ATOMIC_RE.fullmatch(name) or (staging and _STAGING_RE.fullmatch(name)):
                yield here / name


def stale_temp_files(
    roots: Path | Iterable[Path], max_age_s: float = STALE_TEMP_AGE_S
) -> list[Path]:
    """The stale temp files under ``roots`` (folders searched recursively), sorted."""
    folders = [roots] if isinstance(roots, Path) else list(roots)
    found = {
        path
        for root in folders
        if root.is_dir()
        for path in _temp_candidates(root)
        if is_stale_temp(path, max_age_s)
    }
    return sorted(found)


def remove_stale_temp_files(
    roots: Path | Iterable[Path], max_age_s: float = STALE_TEMP_AGE_S, *, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Delete the stale temp files under ``roots``; return ``[{"path", "bytes"}]`` for each
    (with ``dry_run``, only list them)."""
    removed: list[dict[str, Any]] = []
    for path in stale_temp_files(roots, max_age_s):
        try:
            size = path.stat().st_size
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            continue
        removed.append({"path": str(path), "bytes": size})
    return removed


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: some file systems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success fsync it and rename it into place.

    Readers see either the old file or the complete new one, never a half-written file.
    On error the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path
        The final path.
    mode
        ``"wb"`` or ``"w"``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open mode must be 'wb' or 'w', got {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.{temp_tag()}", suffix=".tmp", dir=target.parent
    )
    os.fchmod(fd, 0o644)  # mkstemp makes 0600; workspaces may be shared by a team
    try:
        fh: IO[Any] = os.fdopen(fd, mode, encoding="utf-8") if mode == "w" else os.fdopen(fd, "wb")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (an exporter).

    On success the file written there is fsynced and renamed to ``path``; on error it is
    removed and ``path`` is left untouched, as with :func:`atomic_open`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.{temp_tag()}", suffix=".tmp", dir=target.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
