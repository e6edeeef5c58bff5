"""The parts of an upload session that touch bytes: the snapshot, the chunk writer, the lock.

See :mod:`aimass_lab.workspace._uploads`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aimass_lab.errors import DataError, JobError, NotFoundError
from aimass_lab.workspace._store import Store, UploadRow, utcnow

__all__ = [
    "ChunkWriter",
    "Upload",
    "UploadOffsetError",
    "UploadOwnerError",
    "lock_partial",
    "read_upload",
    "row_offset",
    "sha256_fd",
]

_READ = 1 << 20


class UploadOffsetError(JobError):
    """A chunk that does not start at the stored size; :attr:`expected` is where it must."""

    def __init__(self, message: str, expected: int) -> None:
        super().__init__(message)
        self.expected = expected


class UploadOwnerError(JobError):
    """Another user's upload session (the REST API answers 403)."""


@dataclass(frozen=True)
class Upload:
    """A snapshot of one upload session.

    ``offset`` is the number of bytes stored: the next chunk starts there.
    """

    id: str
    owner: str
    kind: str
    filename: str
    size: int
    sha256: str
    offset: int
    state: str
    options: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def _of(cls, row: UploadRow) -> Upload:
        return cls(
            row.id,
            row.owner,
            row.kind,
            row.filename,
            int(row.size),
            row.sha256,
            int(row.received),
            row.state,
            dict(row.options or {}),
            row.result,
            row.error,
            row.created_at,
            row.updated_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times in ISO 8601, UTC)."""
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat() + "Z"
        out["updated_at"] = self.updated_at.isoformat() + "Z"
        return out


def read_upload(store: Store, upload_id: str) -> Upload:
    """The session's snapshot, whoever owns it (:class:`NotFoundError` for an unknown id)."""
    with store.session() as s:
        row = s.get(UploadRow, upload_id)
        if row is None:
            raise NotFoundError(f"no upload session {upload_id!r} in this workspace")
        return Upload._of(row)


def _record(store: Store, upload_id: str, offset: int) -> int:
    with store.session() as s:
        row = s.get(UploadRow, upload_id)
        if row is not None and row.state == "open":
            row.received = offset
            row.updated_at = utcnow()
    return offset


def row_offset(store: Store, upload_id: str) -> int:
    """The recorded number of bytes stored."""
    with store.session() as s:
        row = s.get(UploadRow, upload_id)
        return int(row.received) if row is not None else 0


class ChunkWriter:
    """Appends one chunk to a session's partial file (see :meth:`Uploads.writer`).

    Holds an exclusive lock on the partial file (other writers, in any process of this host,
    are refused) until :meth:`close`, which fsyncs and records the new size.
    """

    def __init__(self, store: Store, path: Path, upload: Upload, start: int, length: int) -> None:
        self.upload = upload
        self.start = start
        self.length = length
        self.written = 0
        self._store = store
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            lock_partial(self._fd, upload.id)
            stored = row_offset(store, upload.id)  # fresh, under the lock
            actual = os.fstat(self._fd).st_size
            if actual > stored:
                os.ftruncate(self._fd, stored)  # bytes written but never recorded (a crash)
            elif actual < stored:  # bytes lost (a restored workspace, another host's folder)
                stored = _record(store, upload.id, actual)
            if start != stored:
                raise UploadOffsetError(
                    f"upload {upload.id}: this chunk starts at byte {start}, but {stored} bytes "
                    f"are stored; send the chunk that starts at offset {stored}",
                    stored,
                )
            os.lseek(self._fd, start, os.SEEK_SET)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    def write(self, data: bytes | memoryview) -> None:
        """Append bytes (refused past the chunk's declared length)."""
        if self._fd is None:
            raise JobError(f"upload {self.upload.id}: this chunk's writer is closed")
        if self.written + len(data) > self.length:
            raise DataError(
                f"upload {self.upload.id}: the chunk has more than the {self.length} bytes declared"
            )
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.written += len(data)

    def close(self) -> Upload:
        """Fsync what was written, record the new size and release the lock."""
        if self._fd is None:
            return read_upload(self._store, self.upload.id)
        try:
            os.fsync(self._fd)
            offset = self.start + self.written
            with self._store.session() as s:
                row = s.get(UploadRow, self.upload.id)
                if row is not None and row.state == "open":
                    row.received = offset
                    row.updated_at = utcnow()
        finally:
            os.close(self._fd)  # releases the lock
            self._fd = None
        return read_upload(self._store, self.upload.id)


def lock_partial(fd: int, upload_id: str) -> None:
    """Lock a partial file for this process (another writer gets a clear :class:`JobError`)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JobError(
            f"upload {upload_id} is being written by another request; ask for its offset "
            "(GET) and send from there once that request ends"
        ) from None


def sha256_fd(fd: int, size: int) -> str:
    """The sha256 of the first ``size`` bytes of an open file."""
    digest = hashlib.sha256()
    with contextlib.closing(os.fdopen(os.dup(fd), "rb")) as fh:
        fh.seek(0)
        left = size
        while left > 0:
            block = fh.read(min(_READ, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()
