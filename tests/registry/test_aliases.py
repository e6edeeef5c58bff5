"""Aliases: set, move atomically, remove; bad aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aimass_lab import registry
from aimass_lab.errors import AimassError, NotFoundError
from aimass_lab.workspace import Workspace
from aimass_lab.workspace._store import AliasRow


def test_set_move_and_remove_aliases(workspace: Workspace, model_dir: Path) -> None:
    registry.register(model_dir, "m")
    registry.register(model_dir, "m")
    registry.register(model_dir, "other", aliases=["prod"])
    mv = registry.set_alias("m:1", "prod")
    assert (mv.ref, mv.aliases) == ("m:1", ["prod"])
    registry.set_alias("m:1", "staging")
    assert registry.get("m:1").aliases == ["prod", "staging"]
    # Moving: the alias now points to version 2 only; other models keep their own 'prod'.
    moved = registry.set_alias(registry.get("m:2"), "prod")
    assert moved.aliases == ["prod"]
    assert registry.get("m:prod").ref == "m:2"
    assert registry.get("m:1").aliases == ["staging"]
    assert registry.get("other:prod").ref == "other:1"
    # Setting it again where it already is changes nothing.
    assert registry.set_alias("m:prod", "prod").ref == "m:2"
    with workspace.store.session() as s:
        rows = s.execute(select(AliasRow.model_name, AliasRow.alias)).all()
    assert sorted(rows) == [("m", "prod"), ("m", "staging"), ("other", "prod")]
    # Registering with an alias moves it too.
    v3 = registry.register(model_dir, "m", aliases=["prod"])
    assert registry.get("m:prod") == v3 and registry.get("m:2").aliases == []
    registry.remove_alias("m", "prod")
    assert registry.get("m:3").aliases == []
    with pytest.raises(
        NotFoundError, match=r"model 'm' has no alias 'prod'; aliases: 'staging' \(-> m:1\)"
    ):
        registry.get("m:prod")


def test_alias_errors(workspace: Workspace, model_dir: Path) -> None:
    registry.register(model_dir, "m", aliases=["staging"])
    with pytest.raises(
        AimassError,
        match=r"invalid alias '42': an alias must not be all digits, since 'name:42' means version 42",
    ):
        registry.set_alias("m:1", "42")
    with pytest.raises(
        AimassError,
        match=r"invalid alias 'latest': it is reserved, 'name:latest' always means the newest",
    ):
        registry.set_alias("m:1", "latest")
    with pytest.raises(
        AimassError, match=r"invalid alias 'pr od'; accepted: letters, digits, '-', '_' and '\.'"
    ):
        registry.set_alias("m:1", "pr od")
    with pytest.raises(AimassError, match=r"invalid alias ''"):
        registry.set_alias("m:1", "")
    for dots in (".", "..", "..."):
        with pytest.raises(AimassError, match=rf"invalid alias '{dots}'; .*not starting with"):
            registry.set_alias("m:1", dots)
    with pytest.raises(NotFoundError, match=r"model 'm' has no version 5; versions: 1"):
        registry.set_alias("m:5", "prod")
    with pytest.raises(
        NotFoundError, match=r"model 'm' has no alias 'prod'; aliases: 'staging' \(-> m:1\)"
    ):
        registry.remove_alias("m", "prod")
    with pytest.raises(NotFoundError, match=r"no model named 'zz'.*models: 'm'"):
        registry.remove_alias("zz", "prod")
    with pytest.raises(AimassError, match=r"'1' is not an alias"):
        registry.remove_alias("m", "1")
    assert registry.get("m:1").aliases == ["staging"]
