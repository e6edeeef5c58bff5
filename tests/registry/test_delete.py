"""Deleting versions: row and aliases in one go, parents unlinked, unused files collected."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import write_model_folder
from sqlalchemy import select

from aimass_lab import registry
from aimass_lab.errors import AimassError, NotFoundError
from aimass_lab.workspace import Workspace
from aimass_lab.workspace._store import AliasRow, DatasetRow


def test_delete_version_aliases_and_unused_files(workspace: Workspace, tmp_path: Path) -> None:
    a = write_model_folder(tmp_path / "a", seed=1)
    b = write_model_folder(tmp_path / "b", seed=2)
    v1 = registry.register(a, "m", aliases=["prod", "staging"])
    v2 = registry.register(b, "m")
    v3 = registry.register(a, "m")  # shares every file with v1
    deleted = registry.delete("m:prod")
    assert deleted == v1
    assert [mv.ref for mv in registry.list("m")] == ["m:3", "m:2"]
    with workspace.store.session() as s:
        assert s.scalars(select(AliasRow)).all() == []
    with pytest.raises(NotFoundError, match=r"model 'm' has no version 1; versions: 2, 3"):
        registry.get("m:1")
    # v3 still uses v1's files: nothing collected.
    assert registry.verify(v3)["ok"]
    registry.delete(v2)
    for entry in v2.manifest.values():
        assert not workspace.artifacts.exists(entry["sha256"])
    assert registry.verify("m")["ok"]
    # Numbers are never reused while a newer version exists.
    assert registry.register(b, "m").version == 4
    registry.delete("m:3")
    registry.delete("m:4")
    assert registry.names() == []


def test_deleting_a_parent_unlinks_children(workspace: Workspace, model_dir: Path) -> None:
    base = registry.register(model_dir, "base")
    child = registry.register(model_dir, "small", parent=base)
    assert child.parent == "base:1"
    registry.delete("base:1")
    after = registry.get("small")
    assert after.parent is None
    assert after.lineage["parent"] == "base:1"  # history is kept in the lineage
    assert registry.verify(after)["ok"]  # shared files were not collected


def test_files_referenced_elsewhere_are_kept(workspace: Workspace, model_dir: Path) -> None:
    mv = registry.register(model_dir, "m")
    digest = mv.manifest["weights.safetensors"]["sha256"]
    with workspace.store.session() as s:
        s.add(DatasetRow(name="d", spec={"source": "csv", "path": f"sha256:{digest}"}))
    registry.delete("m:1")
    assert workspace.artifacts.exists(digest)
    assert not workspace.artifacts.exists(mv.manifest["model.json"]["sha256"])


def test_delete_errors(workspace: Workspace, model_dir: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no model named 'm'"):
        registry.delete("m:1")
    registry.register(model_dir, "m")
    registry.register(model_dir, "m")
    with pytest.raises(
        AimassError,
        match=r"delete\(\) needs one version: 'm' names the whole model; give 'name:N' or 'name:alias' \(versions of 'm': 1, 2\)",
    ):
        registry.delete("m")
    with pytest.raises(NotFoundError, match=r"model 'm' has no alias 'prod'"):
        registry.delete("m:prod")
    mv = registry.delete("m:2")
    with pytest.raises(NotFoundError, match=r"model version m:2 no longer exists"):
        registry.delete(mv)
    assert [v.ref for v in registry.list()] == ["m:1"]
