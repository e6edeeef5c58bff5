"""Resumable uploads: a large file sent in chunks, verified, then handed to a stage to register.

An upload session is a row of the ``uploads`` table (so another process sharing the
workspace, a second Jupyter server say, can resume it) plus a partial file
``uploads/<id>.part`` in the workspace folder. Each chunk must start exactly at the number of
bytes already stored (out-of-order or overlapping chunks are refused, naming the expected
offset); its bytes are written to the partial file and fsync'd, then the store records the new
size. A connection dropped mid-chunk keeps what arrived: the writer is closed (fsync, record)
and the client resumes from :attr:`Upload.offset`. Bytes past the recorded size (a crash
between the write and the record) are cut off by the next writer.

:meth:`Uploads.finish` checks the total size and the sha256 and only then calls the
importer a front door gives it (the registry's archive import, a dataset registration): nothing
is registered before the upload is complete and verified. A wrong sha256 discards the bytes
(the session becomes ``failed``; start a new one); an importer that fails leaves the session
``open`` with every byte stored, so ``finish`` can be called again (with other options).
"""

from __future__ import annotations

import builtins
import datetime as dt
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from aimass_lab._io import fsync_dir
from aimass_lab.errors import DataError, IntegrityError, JobError, accepted
from aimass_lab.workspace._identity import current_user
from aimass_lab.workspace._store import Store, UploadRow, utcnow
from aimass_lab.workspace._upload_chunks import (
    ChunkWriter,
    Upload,
    UploadOffsetError,
    UploadOwnerError,
    lock_partial,
    read_upload,
    sha256_fd,
)

__all__ = [
    "UPLOAD_KINDS",
    "UPLOAD_STALE_AGE_S",
    "ChunkWriter",
    "Upload",
    "UploadOffsetError",
    "UploadOwnerError",
    "Uploads",
]

#: What an upload becomes once complete, with the file names and options each accepts.
UPLOAD_KINDS: dict[str, dict[str, tuple[str, ...]]] = {
    "model": {"suffixes": (".tar.gz", ".tgz"), "options": ("name",)},
    "dataset": {
        "suffixes": (".csv", ".parquet", ".pq"),
        "options": ("name", "target", "description"),
    },
}
#: An open session not written to for this long is removed by ``aimass gc`` (seconds).
UPLOAD_STALE_AGE_S = 24 * 3600.0
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_new(kind: str, filename: str, size: Any, sha256: str, options: dict[str, Any]) -> None:
    if not isinstance(kind, str) or kind not in UPLOAD_KINDS:
        raise DataError(f"unknown upload kind {kind!r}; accepted: {accepted(UPLOAD_KINDS)}")
    rules = UPLOAD_KINDS[kind]
    if (
        not filename
        or len(filename) > 255
        or filename != os.path.basename(filename)
        or filename in (".", "..")
        or "\\" in filename
        or "\x00" in filename
    ):
        raise DataError(f"upload filename {filename!r} must be a plain file name (no folders)")
    if not filename.lower().endswith(rules["suffixes"]):
        raise DataError(
            f"a {kind} upload must be a file named *{' or *'.join(rules['suffixes'])}, "
            f"got {filename!r}"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DataError(f"upload size must be a whole number of bytes, 1 or more; got {size!r}")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise DataError(f"upload sha256 must be 64 lowercase hex digits; got {sha256!r}")
    unknown = sorted(set(options) - set(rules["options"]))
    if unknown:
        raise DataError(
            f"unknown option(s) {', '.join(unknown)} for a {kind} upload; "
            f"accepted: {accepted(rules['options'])}"
        )
    bad = [k for k, v in options.items() if v is not None and not isinstance(v, str)]
    if bad:
        raise DataError(f"upload option(s) {', '.join(bad)} must be strings")
    if kind == "dataset" and not options.get("name"):
        raise DataError("a dataset upload needs options.name: the name to register it under")


class Uploads:
    """The upload sessions of a workspace (``Workspace.uploads``).

    Every method acts as :func:`~aimass_lab.workspace.current_user`: a session belongs to the
    user who created it, and another user's session is refused (:class:`UploadOwnerError`).

    Parameters
    ----------
    store
        The workspace's store.
    root
        The workspace folder (partial files go to ``root/uploads``).
    """

    def __init__(self, store: Store, root: Path) -> None:
        self.store = store
        self.folder = Path(root) / "uploads"

    def partial_path(self, upload_id: str) -> Path:
        """Where the bytes of a session are stored until it finishes."""
        return self.folder / f"{upload_id}.part"

    # -- sessions -----------------------------------------------------------------------------
    def create(
        self,
        kind: str,
        filename: str,
        size: int,
        sha256: str,
        options: dict[str, Any] | None = None,
    ) -> Upload:
        """Open a session for ``size`` bytes that must hash to ``sha256``.

        Parameters
        ----------
        kind
            ``"model"`` (a model archive, imported as a new model version) or ``"dataset"``
            (a CSV or Parquet file, registered as a dataset).
        filename
            The file's name (its suffix must fit the kind).
        size
            The total size in bytes.
        sha256
            The expected sha256 (hex).
        options
            ``name`` (model: register under this name instead of the archive's; dataset:
            required), ``target`` and ``description`` (dataset).

        Raises
        ------
        DataError
            For a bad field, or when ``size`` does not fit in the free space of the
            workspace's disk (less what other open sessions still need).
        """
        options = dict(options or {})
        _check_new(kind, filename, size, sha256, options)
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.store.session() as s:
            pending = s.scalar(
                select(func.coalesce(func.sum(UploadRow.size - UploadRow.received), 0)).where(
                    UploadRow.state == "open"
                )
            )
        free = shutil.disk_usage(self.folder).free - int(pending or 0)
        if size > free:
            raise DataError(
                f"an upload of {size} bytes does not fit: {max(free, 0)} bytes are free in "
                f"{self.folder} (less what other open uploads still need)"
            )
        now = utcnow()
        row = UploadRow(
            id=uuid.uuid4().hex,
            owner=current_user(),
            kind=kind,
            filename=filename,
            size=size,
            sha256=sha256,
            received=0,
            state="open",
            options=options,
            created_at=now,
            updated_at=now,
        )
        self.partial_path(row.id).touch()
        with self.store.session() as s:
            s.add(row)
        return Upload._of(row)

    def get(self, upload_id: str) -> Upload:
        """A session of the acting user.

        Raises
        ------
        NotFoundError
            For an unknown id.
        UploadOwnerError
            For another user's session.
        """
        upload = read_upload(self.store, upload_id)
        user = current_user()
        if upload.owner != user:
            raise UploadOwnerError(
                f"upload {upload_id} belongs to {upload.owner!r}; {user!r} may not use it"
            )
        return upload

    def list(self, *, all_users: bool = False) -> list[Upload]:
        """The acting user's sessions (every user's with ``all_users``), newest first."""
        query = select(UploadRow).order_by(UploadRow.created_at.desc())
        if not all_users:
            query = query.where(UploadRow.owner == current_user())
        with self.store.session() as s:
            return [Upload._of(r) for r in s.scalars(query)]

    def _open(self, upload_id: str) -> Upload:
        upload = self.get(upload_id)
        if upload.state != "open":
            why = f": {upload.error}" if upload.error else ""
            raise JobError(f"upload {upload_id} is {upload.state}{why}; start a new upload")
        return upload

    # -- chunks -------------------------------------------------------------------------------
    def writer(self, upload_id: str, start: int, length: int) -> ChunkWriter:
        """A :class:`ChunkWriter` for ``length`` bytes at offset ``start``.

        Raises
        ------
        UploadOffsetError
            When ``start`` is not the stored size (the error names it).
        DataError
            When the chunk would pass the declared total size.
        JobError
            When the session is not open, or another request is writing to it.
        """
        upload = self._open(upload_id)
        if start < 0 or length < 0 or start + length > upload.size:
            raise DataError(
                f"upload {upload_id}: a chunk of {length} bytes at offset {start} passes the "
                f"declared size of {upload.size} bytes"
            )
        return ChunkWriter(self.store, self.partial_path(upload_id), upload, start, length)

    def append(self, upload_id: str, start: int, data: bytes) -> Upload:
        """Store one chunk given as bytes (the Python API; the REST API streams instead)."""
        writer = self.writer(upload_id, start, len(data))
        try:
            writer.write(data)
        finally:
            upload = writer.close()
        return upload

    # -- the end ------------------------------------------------------------------------------
    def finish(self, upload_id: str, importer: Callable[[Path, Upload], dict[str, Any]]) -> Upload:
        """Verify the size and sha256, then call ``importer(path, upload)`` to register it.

        ``importer`` gets the complete partial file (it may move it) and returns what it
        registered (JSON-ready), recorded as :attr:`Upload.result`; the session is then
        ``done`` and its partial file removed.

        Raises
        ------
        DataError
            When bytes are missing (the message names the offset to send from).
        IntegrityError
            When the sha256 differs: the bytes are discarded and the session is ``failed``.
        Exception
            What ``importer`` raised: the session stays ``open`` with its bytes, and
            ``finish`` may be called again.
        """
        upload = self._open(upload_id)
        path = self.partial_path(upload_id)
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            lock_partial(fd, upload_id)
            upload = self._open(upload_id)
            if upload.offset != upload.size:
                raise DataError(
                    f"upload {upload_id} is not complete: {upload.offset} of {upload.size} bytes "
                    f"are stored; send the rest from offset {upload.offset}"
                )
            digest = sha256_fd(fd, upload.size)
            if digest != upload.sha256:
                message = (
                    f"upload {upload_id} ({upload.filename}): the sha256 of the {upload.size} "
                    f"bytes received is {digest}, not {upload.sha256} as declared; nothing was "
                    "registered and the bytes were discarded; start a new upload"
                )
                self._end(upload_id, "failed", error=message)
                raise IntegrityError(message)
            try:
                result = importer(path, upload)
            except Exception as exc:
                self._record_error(upload_id, f"{type(exc).__name__}: {exc}")
                raise
            self._end(upload_id, "done", result=result)
        finally:
            os.close(fd)
        return self.get(upload_id)

    def abort(self, upload_id: str) -> Upload:
        """Drop a session and its bytes (a ``done`` session is left as it is)."""
        upload = self.get(upload_id)
        if upload.state == "done":
            return upload
        self._end(upload_id, "aborted", error=f"aborted by {current_user()}")
        return self.get(upload_id)

    def _end(
        self,
        upload_id: str,
        state: str,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        with self.store.session() as s:
            row = s.get(UploadRow, upload_id)
            if row is not None:
                row.state, row.error, row.result = state, error, result
                row.updated_at = utcnow()
        self.partial_path(upload_id).unlink(missing_ok=True)
        fsync_dir(self.folder)

    def _record_error(self, upload_id: str, error: str) -> None:
        with self.store.session() as s:
            row = s.get(UploadRow, upload_id)
            if row is not None:
                row.error = error
                row.updated_at = utcnow()

    # -- housekeeping -------------------------------------------------------------------------
    def gc(
        self, *, max_age_s: float = UPLOAD_STALE_AGE_S, dry_run: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Remove the sessions of every user not touched for ``max_age_s`` seconds.

        An open one loses its bytes (state ``expired``); an ended one (``done``, ``failed``,
        ``aborted``, ``expired``) loses its row. Partial files without a session go too.

        Returns
        -------
        list of dict
            ``{"path", "bytes", "upload"}`` of each session removed (or, with ``dry_run``, to
            remove).
        """
        cutoff = utcnow() - dt.timedelta(seconds=max_age_s)
        removed: builtins.list[dict[str, Any]] = []
        with self.store.session() as s:
            rows = list(s.scalars(select(UploadRow).where(UploadRow.updated_at <= cutoff)))
            known = set(s.scalars(select(UploadRow.id)))
        for row in rows:
            path = self.partial_path(row.id)
            size = path.stat().st_size if path.exists() else 0
            removed.append({"path": str(path), "bytes": size, "upload": row.id})
            if dry_run:
                continue
            if row.state == "open":
                self._end(row.id, "expired", error=f"expired: not written to for {max_age_s:g} s")
            else:
                with self.store.session() as s:
                    dead = s.get(UploadRow, row.id)
                    if dead is not None:
                        s.delete(dead)
                path.unlink(missing_ok=True)
        if self.folder.is_dir():
            cutoff_ts = cutoff.replace(tzinfo=dt.timezone.utc).timestamp()
            for path in self.folder.glob("*.part"):
                if path.stem not in known and path.stat().st_mtime <= cutoff_ts:
                    removed.append(
                        {"path": str(path), "bytes": path.stat().st_size, "upload": None}
                    )
                    if not dry_run:
                        path.unlink(missing_ok=True)
        return removed
