"""Model archives: one ``.tar.gz`` file that carries a model version between workspaces.

Layout (``manifest.json`` is always the first entry)::

    manifest.json              name, version, spec, metrics, hparams, lineage, files + sha256
    files/weights.safetensors
    files/model.json
    files/...                  any other file of the version

Importing checks every entry's header against the manifest before anything is written,
then extracts the files into a temporary folder while hashing them, and registers the
version only when every sha256 matches.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import IO, Any

from aimass_lab._io import atomic_open, sha256_file
from aimass_lab.errors import AimassError, ArchiveError, IntegrityError, NotFoundError, accepted
from aimass_lab.registry._common import Ref, WorkspaceLike
from aimass_lab.registry._model_version import (
    CONFIG_FILE,
    REQUIRED_FILES,
    ModelVersion,
    validate_filename,
    validate_name,
    verify_files,
)
from aimass_lab.registry._query import get
from aimass_lab.registry._register import register_files
from aimass_lab.registry._sources import Source, read_config
from aimass_lab.workspace import resolve_workspace

__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_SUFFIX",
    "FORMAT_VERSION",
    "MAX_ARCHIVE_BYTES",
    "export",
    "import_",
]

#: The ``format`` field of every archive's manifest.
ARCHIVE_FORMAT = "aimass-model"
#: The archive layout this release writes and reads.
FORMAT_VERSION = 1
#: The file name suffix :func:`export` uses when given a folder.
ARCHIVE_SUFFIX = ".aimass.tar.gz"
#: The default limit on the total size of the files of an imported archive (bytes).
MAX_ARCHIVE_BYTES = 32 << 30
#: The largest ``manifest.json`` accepted (bytes).
MAX_MANIFEST_BYTES = 8 << 20

_MANIFEST = "manifest.json"
_FILES_DIR = "files"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)


class _HashingReader:
    """A read-only file wrapper that hashes what is read through it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self.digest.update(data)
        return data


# ------------------------------------------------------------------------------------ export
def export(ref: Ref, path: str | os.PathLike[str], workspace: WorkspaceLike = None) -> Path:
    """Write a model version to one archive file (gzip-compressed tar).

    Parameters
    ----------
    ref
        The version (see :func:`aimass_lab.registry.get`).
    path
        The archive to write, or an existing folder to write ``<name>-<version>.aimass.tar.gz``
        into. An existing file is replaced atomically.
    workspace
        The workspace (default: the current one, or the ModelVersion's).

    Returns
    -------
    pathlib.Path
        The archive written.

    Raises
    ------
    IntegrityError
        When a file of the version is missing or modified (nothing is written).

    Notes
    -----
    The archive holds ``manifest.json`` (first) and ``files/<filename>`` for every file.
    Aliases and the parent link are not carried: they belong to the workspace. The parent's
    ref stays in the lineage. Archives of the same version are byte-identical.
    """
    mv = get(ref, workspace)
    report = verify_files(mv)
    target = Path(path)
    if target.is_dir():
        target = target / f"{mv.name}-{mv.version}{ARCHIVE_SUFFIX}"
    manifest = _manifest_of(mv)
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    mtime = int(mv.created_at.timestamp())

    def info(name: str, size: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode, ti.type = size, mtime, 0o644, tarfile.REGTYPE
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    with (
        atomic_open(target, "wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(info(_MANIFEST, len(data)), _BytesReader(data))
        for filename, entry in sorted(report["files"].items()):
            with open(entry["path"], "rb") as src:
                reader = _HashingReader(src)
                tar.addfile(info(f"{_FILES_DIR}/{filename}", int(entry["size"])), reader)
            if reader.digest.hexdigest() != entry["sha256"]:
                raise IntegrityError(
                    f"file {filename!r} of model {mv.ref} changed while it was exported: sha256 is "
                    f"{reader.digest.hexdigest()}, the manifest says {entry['sha256']}; nothing was written"
                )
    return target


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


def _manifest_of(mv: ModelVersion) -> dict[str, Any]:
    return {
        "format": ARCHIVE_FORMAT,
        "format_version": FORMAT_VERSION,
        "name": mv.name,
        "version": mv.version,
        "ref": mv.ref,
        "created_at": mv.created_at.isoformat() + "Z",
        "run_id": mv.run_id,
        "parent": mv.parent,
        "description": mv.description,
        "model_spec": mv.model_spec,
        "hparams": mv.hparams,
        "metrics": mv.metrics,
        "lineage": mv.lineage,
        "data_fingerprint": mv.data_fingerprint,
        "files": {
            k: {"sha256": v["sha256"], "size": v["size"]} for k, v in sorted(mv.manifest.items())
        },
    }


# ------------------------------------------------------------------------------------ import
def import_(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    workspace: WorkspaceLike = None,
    max_bytes: int = MAX_ARCHIVE_BYTES,
) -> ModelVersion:
    """Register the model version held in an archive written by :func:`export`.

    Every entry is checked before anything is extracted: no absolute paths, no ``..``, no
    links, devices or other special files, ``manifest.json`` first, and only the files the
    manifest names, each with the size it declares. The files are then extracted into a
    temporary folder while hashing, and the version is registered only if every sha256
    matches. A bad archive leaves nothing registered.

    Parameters
    ----------
    path
        The archive.
    name
        Register under this name (default: the name in the archive). The version number is
        the next one of that name in this workspace.
    workspace
        The workspace (default: the current one).
    max_bytes
        The largest total size of the archive's files accepted.

    Returns
    -------
    ModelVersion
        The new version; its lineage has ``imported_from`` (archive, its sha256, the
        original ref).

    Raises
    ------
    ArchiveError
        When the archive is malformed or unsafe.
    IntegrityError
        When a file does not match the sha256 in the manifest.
    """
    ws = resolve_workspace(workspace)
    if name is not None:
        validate_name(name)
    archive = Path(path)
    if not archive.is_file():
        raise NotFoundError(f"model archive {str(archive)!r} does not exist or is not a file")
    try:
        tar = tarfile.open(archive, mode="r:gz")  # noqa: SIM115 - closed by `with tar` below
    except _READ_ERRORS as exc:
        raise ArchiveError(
            f"{archive} is not a model archive (a gzip-compressed tar written by export()): {exc}"
        ) from None
    with tar:
        try:
            manifest, members = _check_members(tar, archive, max_bytes)
        except _READ_ERRORS as exc:
            raise ArchiveError(f"{archive} is damaged or truncated: {exc}") from None
        staging = ws.artifacts.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        total = sum(m.size for m in members.values())
        free = shutil.disk_usage(staging).free
        if total > free:
            raise ArchiveError(
                f"{archive} holds {total} bytes of files but only {free} bytes are free in {staging}"
            )
        with tempfile.TemporaryDirectory(dir=staging, prefix="import-") as tmp:
            folder = Path(tmp)
            files: dict[str, Path] = {}
            for filename, member in members.items():
                expected = manifest["files"][filename]["sha256"]
                files[filename] = _extract(tar, member, folder / filename, expected, archive)
            config = read_config(files[CONFIG_FILE], f"archive {archive}")
            source = Source(folder, files, config, "archive", run_id=manifest.get("run_id"))
            original = dict(manifest.get("lineage") or {})
            imported_from = {
                "archive": str(archive.resolve()),
                "archive_sha256": sha256_file(archive),
                "ref": manifest["ref"],
                "created_at": manifest.get("created_at"),
                "source": original.pop("source", None),
            }
            return register_files(
                ws,
                source,
                name or manifest["name"],
                aliases=[],
                description=manifest.get("description"),
                parent=None,
                lineage={**original, "imported_from": imported_from},
                overrides={
                    "model_spec": manifest["model_spec"],
                    "hparams": manifest["hparams"],
                    "metrics": manifest["metrics"],
                    "data_fingerprint": manifest.get("data_fingerprint"),
                    "run_id": manifest.get("run_id"),
                },
            )


def _unsafe_reason(name: str) -> str | None:
    if "\x00" in name:
        return "contains a NUL character"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if "\\" in name:
        return "contains a backslash"
    if ".." in name.split("/"):
        return "has a '..' component (it would be written outside the target folder)"
    return None


def _is_folder_entry(member: tarfile.TarInfo, archive: Path) -> bool:
    """Whether ``member`` is the files folder; refuse it unless it is that or a regular file."""
    entry = member.name
    reason = _unsafe_reason(entry)
    if reason:
        raise ArchiveError(
            f"unsafe entry {entry!r} in {archive}: it {reason}; refusing the archive"
        )
    if member.issym():
        raise ArchiveError(
            f"unsafe entry {entry!r} in {archive}: it is a symbolic link (to {member.linkname!r}); "
            "model archives hold regular files only"
        )
    if member.islnk():
        raise ArchiveError(
            f"unsafe entry {entry!r} in {archive}: it is a hard link (to {member.linkname!r}); "
            "model archives hold regular files only"
        )
    if member.ischr() or member.isblk() or member.isfifo():
        raise ArchiveError(
            f"unsafe entry {entry!r} in {archive}: it is a device or FIFO; model archives "
            "hold regular files only"
        )
    if member.isdir():
        if entry.rstrip("/") != _FILES_DIR:
            raise ArchiveError(
                f"unexpected folder {entry!r} in {archive}; a model archive holds only "
                f"{_MANIFEST} and {_FILES_DIR}/<file>"
            )
        return True
    if not member.isreg() or member.issparse():
        raise ArchiveError(
            f"unsafe entry {entry!r} in {archive}: unsupported entry type {member.type!r}; "
            "model archives hold regular files only"
        )
    return False


def _check_members(
    tar: tarfile.TarFile, archive: Path, max_bytes: int
) -> tuple[dict[str, Any], dict[str, tarfile.TarInfo]]:
    """Check every entry's header (extracting nothing); return the manifest and the file entries."""
    manifest: dict[str, Any] | None = None
    members: dict[str, tarfile.TarInfo] = {}
    seen: set[str] = set()
    total = 0
    index = 0
    while (member := tar.next()) is not None:
        entry = member.name
        if _is_folder_entry(member, archive):
            index += 1
            continue
        if entry in seen:
            raise ArchiveError(f"entry {entry!r} appears twice in {archive}; refusing the archive")
        seen.add(entry)
        if index == 0 or manifest is None:
            if entry != _MANIFEST:
                raise ArchiveError(
                    f"{archive} is not a model archive: its first entry is {entry!r}, expected "
                    f"{_MANIFEST!r} (archives are written by aimass_lab.registry.export)"
                )
            manifest = _read_manifest(tar, member, archive)
            index += 1
            continue
        filename = entry[len(_FILES_DIR) + 1 :] if entry.startswith(_FILES_DIR + "/") else None
        if filename is None or filename not in manifest["files"]:
            raise ArchiveError(
                f"entry {entry!r} in {archive} is not named in its manifest; accepted entries: "
                f"{accepted([_MANIFEST, *(f'{_FILES_DIR}/{f}' for f in manifest['files'])])}"
            )
        declared = manifest["files"][filename]["size"]
        if member.size != declared:
            raise ArchiveError(
                f"entry {entry!r} in {archive} is {member.size} bytes but the manifest says "
                f"{declared}; refusing the archive"
            )
        total += member.size
        if total > max_bytes:
            raise ArchiveError(
                f"{archive} holds more than {max_bytes} bytes of files (max_bytes); pass a larger "
                "max_bytes to import_() if this archive is trusted"
            )
        members[filename] = member
        index += 1
    if manifest is None:
        raise ArchiveError(f"{archive} is empty: no {_MANIFEST}")
    missing = sorted(set(manifest["files"]) - set(members))
    if missing:
        raise ArchiveError(
            f"{archive} lacks files its manifest names: {accepted(f'{_FILES_DIR}/{m}' for m in missing)}"
        )
    return manifest, dict(sorted(members.items()))


def _read_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: Path) -> dict[str, Any]:
    where = f"{_MANIFEST} of {archive}"
    if member.size > MAX_MANIFEST_BYTES:
        raise ArchiveError(
            f"{where} is {member.size} bytes; at most {MAX_MANIFEST_BYTES} are accepted"
        )
    fh = tar.extractfile(member)
    if fh is None:  # pragma: no cover - regular files always have data
        raise ArchiveError(f"{where} cannot be read")
    try:
        data = json.loads(fh.read(MAX_MANIFEST_BYTES + 1).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ArchiveError(f"{where} must be a JSON object, got {type(data).__name__}")
    if data.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(
            f"{where}: format is {data.get('format')!r}, expected {ARCHIVE_FORMAT!r}"
        )
    fmt = data.get("format_version")
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 1:
        raise ArchiveError(f"{where}: format_version must be a positive int, got {fmt!r}")
    if fmt > FORMAT_VERSION:
        raise ArchiveError(
            f"{where}: format_version {fmt} was written by a newer AI Mass Lab; this release reads "
            f"format {FORMAT_VERSION}. Upgrade with: pip install -U aimass-lab"
        )
    try:
        validate_name(data.get("name"))
    except AimassError as exc:
        raise ArchiveError(f"{where}: {exc}") from None
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveError(f"{where}: version must be a positive int, got {version!r}")
    data["ref"] = f"{data['name']}:{version}"
    for key in ("model_spec", "hparams", "metrics", "lineage"):
        if not isinstance(data.get(key), dict):
            raise ArchiveError(f"{where}: {key!r} must be an object, got {data.get(key)!r}")
    for key in ("description", "run_id", "data_fingerprint", "created_at"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ArchiveError(f"{where}: {key!r} must be a string or null, got {data[key]!r}")
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        raise ArchiveError(
            f"{where}: 'files' must map file names to {{sha256, size}}, got {files!r}"
        )
    for filename, entry in files.items():
        try:
            validate_filename(filename)
        except AimassError as exc:
            raise ArchiveError(f"{where}: {exc}") from None
        if not isinstance(entry, dict):
            raise ArchiveError(
                f"{where}: files[{filename!r}] must be {{sha256, size}}, got {entry!r}"
            )
        digest, size = entry.get("sha256"), entry.get("size")
        if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
            raise ArchiveError(
                f"{where}: files[{filename!r}].sha256 must be 64 lowercase hex digits, got {digest!r}"
            )
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArchiveError(
                f"{where}: files[{filename!r}].size must be an int >= 0, got {size!r}"
            )
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise ArchiveError(
            f"{where}: the manifest lacks {accepted(missing)}; a model version needs {accepted(REQUIRED_FILES)}"
        )
    return data


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, expected: str, archive: Path
) -> Path:
    """Copy one checked entry to ``dest`` while hashing; compare with the manifest."""
    filename = dest.name
    try:
        src = tar.extractfile(member)
        if src is None:  # pragma: no cover - regular files always have data
            raise ArchiveError(f"entry {member.name!r} of {archive} cannot be read")
        digest = hashlib.sha256()
        left = member.size
        with src, open(dest, "xb") as out:
            while left > 0:
                chunk = src.read(min(left, 1 << 20))
                if not chunk:
                    raise ArchiveError(f"entry {member.name!r} of {archive} is truncated")
                digest.update(chunk)
                out.write(chunk)
                left -= len(chunk)
    except _READ_ERRORS as exc:
        with contextlib.suppress(OSError):
            dest.unlink()
        raise ArchiveError(
            f"{archive} is damaged or truncated (entry {member.name!r}): {exc}"
        ) from None
    actual = digest.hexdigest()
    if actual != expected:
        raise IntegrityError(
            f"file {filename!r} in archive {archive} does not match its manifest: sha256 is "
            f"{actual}, the manifest says {expected}; nothing was imported"
        )
    return dest
