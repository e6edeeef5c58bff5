"""``aimass sources`` through the real entry point: two users, one owner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from common_helpers import aimass


def test_sources_add_list_grant_revoke_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    monkeypatch.setenv("AIMASS_USER", "ada")
    added = aimass(
        ws, "sources", "add", "warehouse", "sql", "postgresql://analyst@db/shop",
        "--credential", "env:SHOP_PW", check=True,
    )  # fmt: skip
    assert added.stdout.strip() == "added data source warehouse (sql), owner ada"
    granted = aimass(ws, "sources", "grant", "warehouse", "user:grace", check=True)
    assert "granted read access to warehouse for user:grace; grants: user:grace" in granted.stdout

    monkeypatch.setenv("AIMASS_USER", "grace")
    listed = json.loads(aimass(ws, "sources", "list", "--json", check=True).stdout)
    assert [(s["name"], s["owner"], s["readable"]) for s in listed] == [("warehouse", "ada", True)]
    refused = aimass(ws, "sources", "revoke", "warehouse", "user:grace")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: user 'grace' may not revoke access to data source 'warehouse': "
        "only its owner 'ada' may"
    )
    bad = aimass(ws, "sources", "add", "w2", "sql", "postgresql://u:hunter2@db/x")
    assert bad.returncode == 1 and "must not hold a password" in bad.stderr
    assert "hunter2" not in bad.stderr
    unknown = aimass(ws, "sources", "grant", "nope", "user:ada")
    assert unknown.returncode == 1 and "unknown data source 'nope'" in unknown.stderr

    monkeypatch.setenv("AIMASS_USER", "ada")
    aimass(ws, "sources", "revoke", "warehouse", "user:grace", check=True)
    aimass(ws, "sources", "remove", "warehouse", check=True)
    assert json.loads(aimass(ws, "sources", "list", "--json", check=True).stdout) == []
