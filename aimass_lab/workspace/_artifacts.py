"""Content-addressed artifact files: ``artifacts/sha256/ab/cdef…``."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from aimass_lab._io import fsync_dir, sha256_file, temp_tag
from aimass_lab.errors import IntegrityError

__all__ = ["ArtifactStore"]


class ArtifactStore:
    """Files stored once under their sha256; writes are atomic, reads can be verified.

    Parameters
    ----------
    root
        The folder that holds ``sha256/``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        (self.root / "sha256").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """Where the artifact with this sha256 lives (it may not exist)."""
        digest = digest.removeprefix("sha256:")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise IntegrityError(f"not a sha256 digest: {digest!r}")
        return self.root / "sha256" / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        """Whether the artifact is stored."""
        return self.path(digest).is_file()

    def put_file(self, src: str | os.PathLike[str]) -> str:
        """Copy a file in (atomically); return its sha256."""
        src = Path(src)
        staging_dir = self.root / "tmp"
        staging_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_tag(), suffix=".part", dir=staging_dir)
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            digest = sha256_file(tmp)
            final = self.path(digest)
            if final.is_file():
                os.unlink(tmp)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
                fsync_dir(final.parent)
            return digest
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def put_bytes(self, data: bytes) -> str:
        """Store bytes; return their sha256."""
        staging_dir = self.root / "tmp"
        staging_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_tag(), suffix=".part", dir=staging_dir)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        try:
            return self.put_file(tmp)
        finally:
            os.unlink(tmp)

    def verify(self, digest: str, *, label: str | None = None) -> Path:
        """Return the artifact's path after checking that its content still has this sha256.

        Raises
        ------
        IntegrityError
            When the file is missing or its content changed.
        """
        path = self.path(digest)
        what = label or f"artifact {digest[:12]}"
        if not path.is_file():
            raise IntegrityError(f"{what} is missing from the workspace (expected {path})")
        actual = sha256_file(path)
        if actual != digest.removeprefix("sha256:"):
            raise IntegrityError(
                f"{what} was modified or corrupted: sha256 is {actual}, the manifest says {digest}; "
                "refusing to load it"
            )
        return path
