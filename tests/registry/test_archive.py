"""Archives: export/import round trips across backends; tampered and malicious archives."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from aimass_lab import registry
from aimass_lab._io import sha256_file
from aimass_lab.errors import AimassError, ArchiveError, IntegrityError, NotFoundError
from aimass_lab.workspace import Workspace
from aimass_lab.workspace._store import ModelVersionRow


@pytest.fixture
def other_workspace(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Workspace:
    """A second workspace on the other backend than ``workspace``."""
    url = request.getfixturevalue("pg_url") if backend == "sqlite" else None
    return Workspace(tmp_path / "other-ws", db_url=url)


def _entries(archive: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(archive, "r:gz") as tar:
        out = []
        for member in tar.getmembers():
            fh = tar.extractfile(member) if member.isreg() else None
            out.append((member, fh.read() if fh else None))
        return out


def _write(archive: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return archive


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _manifest_of(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> dict[str, Any]:
    data = entries[0][1]
    assert data is not None
    return dict(json.loads(data))


def _with_manifest(
    entries: list[tuple[tarfile.TarInfo, bytes | None]], manifest: dict[str, Any]
) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [(entries[0][0], json.dumps(manifest).encode()), *entries[1:]]


def _count(ws: Workspace) -> int:
    with ws.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(ModelVersionRow)) or 0)


@pytest.fixture
def exported(workspace: Workspace, model_dir: Path, tmp_path: Path) -> Iterator[Path]:
    registry.register(
        model_dir, "m", aliases=["prod"], description="exported", lineage={"team": "a"}
    )
    yield registry.export("m:prod", tmp_path / "m.tar.gz")


def test_round_trip_across_backends(
    workspace: Workspace, other_workspace: Workspace, model_dir: Path, tmp_path: Path
) -> None:
    parent = registry.register(model_dir, "base")
    mv = registry.register(
        model_dir, "m", parent=parent, aliases=["prod"], description="d", lineage={"k": 1}
    )
    out = tmp_path / "out"
    out.mkdir()
    archive = registry.export("m:prod", out)
    assert archive == out / "m-1.aimass.tar.gz"
    with tarfile.open(archive, "r:gz") as tar:
        names = [m.name for m in tar.getmembers()]
    assert names == ["manifest.json", "files/model.json", "files/weights.safetensors"]
    manifest = _manifest_of(_entries(archive))
    assert manifest["format"] == "aimass-model" and manifest["format_version"] == 1
    assert (manifest["name"], manifest["version"], manifest["parent"]) == ("m", 1, "base:1")
    assert manifest["files"] == mv.manifest and manifest["metrics"] == mv.metrics
    # Same version, same bytes.
    assert sha256_file(registry.export(mv, tmp_path / "again.tar.gz")) == sha256_file(archive)

    registry.register(model_dir, "m", workspace=other_workspace)  # 'm' already has a version there
    imported = registry.import_(archive, workspace=other_workspace)
    assert (imported.ref, imported.aliases, imported.parent) == ("m:2", [], None)
    assert imported.manifest == mv.manifest
    for field in ("model_spec", "hparams", "metrics", "description", "data_fingerprint", "run_id"):
        assert getattr(imported, field) == getattr(mv, field)
    assert imported.lineage["k"] == 1 and imported.lineage["parent"] == "base:1"
    assert imported.lineage["source"] == "archive"
    assert imported.lineage["imported_from"] == {
        "archive": str(archive.resolve()),
        "archive_sha256": sha256_file(archive),
        "ref": "m:1",
        "created_at": mv.created_at.isoformat() + "Z",
        "source": "folder",
    }
    assert registry.verify(imported)["ok"]
    for name, path in imported.files().items():
        assert sha256_file(path) == mv.manifest[name]["sha256"]
    renamed = registry.import_(archive, name="copy", workspace=other_workspace)
    assert renamed.ref == "copy:1"
    for dots in (".", ".."):
        with pytest.raises(AimassError, match=rf"invalid model name '{re.escape(dots)}'"):
            registry.import_(archive, name=dots, workspace=other_workspace)


def test_export_refuses_a_tampered_version(
    workspace: Workspace, model_dir: Path, tmp_path: Path
) -> None:
    mv = registry.register(model_dir, "m")
    stored = workspace.artifacts.path(mv.manifest["model.json"]["sha256"])
    stored.write_bytes(stored.read_bytes() + b" ")
    with pytest.raises(
        IntegrityError, match=r"file 'model.json' of model m:1 was modified or corrupted"
    ):
        registry.export("m", tmp_path / "m.tar.gz")
    assert not (tmp_path / "m.tar.gz").exists()


def test_archive_with_dotdot_entry(workspace: Workspace, exported: Path, tmp_path: Path) -> None:
    entries = [*_entries(exported), _file("files/../../evil", b"owned")]
    bad = _write(tmp_path / "bad.tar.gz", entries)
    with pytest.raises(
        ArchiveError, match=r"unsafe entry 'files/\.\./\.\./evil' in .*: it has a '\.\.' component"
    ):
        registry.import_(bad)
    entries = [*_entries(exported), _file("../evil", b"owned")]
    with pytest.raises(ArchiveError, match=r"unsafe entry '\.\./evil'"):
        registry.import_(_write(tmp_path / "bad2.tar.gz", entries))
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    assert _count(workspace) == 1


def test_archive_with_absolute_path(workspace: Workspace, exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "abs-evil"
    bad = _write(tmp_path / "bad.tar.gz", [*_entries(exported), _file(str(target), b"owned")])
    with pytest.raises(
        ArchiveError, match=rf"unsafe entry '{target}' in .*: it is an absolute path"
    ):
        registry.import_(bad)
    assert not target.exists()
    assert _count(workspace) == 1


def test_archive_with_links_and_devices(
    workspace: Workspace, exported: Path, tmp_path: Path
) -> None:
    entries = _entries(exported)
    link = tarfile.TarInfo("files/weights.safetensors")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    manifest_only = entries[:2]
    with pytest.raises(
        ArchiveError,
        match=r"unsafe entry 'files/weights.safetensors' in .*: it is a symbolic link \(to '/etc/passwd'\); model archives hold regular files only",
    ):
        registry.import_(_write(tmp_path / "sym.tar.gz", [*manifest_only, (link, None)]))
    hard = tarfile.TarInfo("files/weights.safetensors")
    hard.type, hard.linkname = tarfile.LNKTYPE, "files/model.json"
    with pytest.raises(ArchiveError, match=r"it is a hard link \(to 'files/model.json'\)"):
        registry.import_(_write(tmp_path / "hard.tar.gz", [*manifest_only, (hard, None)]))
    dev = tarfile.TarInfo("files/weights.safetensors")
    dev.type = tarfile.CHRTYPE
    with pytest.raises(ArchiveError, match=r"it is a device or FIFO"):
        registry.import_(_write(tmp_path / "dev.tar.gz", [*manifest_only, (dev, None)]))
    assert _count(workspace) == 1


def test_archive_whose_file_does_not_match_its_manifest(
    workspace: Workspace, exported: Path, tmp_path: Path
) -> None:
    entries = _entries(exported)
    manifest = _manifest_of(entries)
    i = next(i for i, (m, _) in enumerate(entries) if m.name == "files/weights.safetensors")
    data = bytearray(entries[i][1] or b"")
    data[-1] ^= 0xFF
    entries[i] = (entries[i][0], bytes(data))
    bad = _write(tmp_path / "bad.tar.gz", entries)
    actual = __import__("hashlib").sha256(bytes(data)).hexdigest()
    expected = manifest["files"]["weights.safetensors"]["sha256"]
    with pytest.raises(
        IntegrityError,
        match=rf"file 'weights.safetensors' in archive .*bad.tar.gz does not match its manifest: sha256 is {actual}, the manifest says {expected}; nothing was imported",
    ):
        registry.import_(bad, name="tampered")
    assert "tampered" not in registry.names() and _count(workspace) == 1
    assert not list((workspace.artifacts.root / "tmp").glob("import-*"))


def test_archive_structure_errors(workspace: Workspace, exported: Path, tmp_path: Path) -> None:
    entries = _entries(exported)
    manifest = _manifest_of(entries)
    cases: list[tuple[list[tuple[tarfile.TarInfo, bytes | None]], str]] = [
        (
            [*entries, _file("files/extra.bin", b"x")],
            r"entry 'files/extra.bin' in .* is not named in its manifest; accepted entries: 'manifest.json', 'files/model.json'",
        ),
        ([*entries, entries[1]], r"entry 'files/model.json' appears twice"),
        (
            [entries[1], entries[0], entries[2]],
            r"its first entry is 'files/model.json', expected 'manifest.json'",
        ),
        (entries[:2], r"lacks files its manifest names: 'files/weights.safetensors'"),
        ([], r"is empty: no manifest.json"),
        (
            [_file("manifest.json", b"[1, 2]"), *entries[1:]],
            r"manifest.json of .* must be a JSON object, got list",
        ),
        (
            [_file("manifest.json", b"{oops"), *entries[1:]],
            r"manifest.json of .* is not valid JSON",
        ),
        (
            _with_manifest(entries, {**manifest, "format_version": 9}),
            r"format_version 9 was written by a newer AI Mass Lab; this release reads format 1",
        ),
        (
            _with_manifest(entries, {**manifest, "format": "zip"}),
            r"format is 'zip', expected 'aimass-model'",
        ),
        (_with_manifest(entries, {**manifest, "name": "a b"}), r"invalid model name 'a b'"),
        (_with_manifest(entries, {**manifest, "name": ".."}), r"invalid model name '\.\.'"),
        (_with_manifest(entries, {**manifest, "name": "."}), r"invalid model name '\.'"),
        (
            _with_manifest(
                entries,
                {
                    **manifest,
                    "files": {**manifest["files"], "../x": {"sha256": "0" * 64, "size": 1}},
                },
            ),
            r"invalid model file name '\.\./x'",
        ),
        (
            _with_manifest(
                entries, {**manifest, "files": {"model.json": manifest["files"]["model.json"]}}
            ),
            r"the manifest lacks 'weights.safetensors'",
        ),
        (
            _with_manifest(
                entries,
                {
                    **manifest,
                    "files": {
                        **manifest["files"],
                        "model.json": {**manifest["files"]["model.json"], "size": 3},
                    },
                },
            ),
            r"entry 'files/model.json' in .* is \d+ bytes but the manifest says 3",
        ),
        (
            _with_manifest(
                entries,
                {
                    **manifest,
                    "files": {**manifest["files"], "model.json": {"sha256": "XYZ", "size": 3}},
                },
            ),
            r"files\['model.json'\].sha256 must be 64 lowercase hex digits, got 'XYZ'",
        ),
    ]
    for i, (bad_entries, message) in enumerate(cases):
        with pytest.raises(ArchiveError, match=message):
            registry.import_(_write(tmp_path / f"bad{i}.tar.gz", bad_entries))
    with pytest.raises(ArchiveError, match=r"holds more than 10 bytes of files \(max_bytes\)"):
        registry.import_(exported, max_bytes=10)
    assert _count(workspace) == 1


def test_not_an_archive(workspace: Workspace, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not gzip")
    with pytest.raises(
        ArchiveError,
        match=r"junk.tar.gz is not a model archive \(a gzip-compressed tar written by export\(\)\)",
    ):
        registry.import_(junk)
    with pytest.raises(NotFoundError, match=r"model archive '.*missing.tar.gz' does not exist"):
        registry.import_(tmp_path / "missing.tar.gz")


def test_truncated_archive(workspace: Workspace, exported: Path, tmp_path: Path) -> None:
    data = exported.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=r"cut.tar.gz is damaged or truncated"):
        registry.import_(cut)
    assert _count(workspace) == 1
