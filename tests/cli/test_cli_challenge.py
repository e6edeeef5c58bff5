"""``aimass challenge``: the teacher's and a participant's commands in real processes, each
acting as its own ``AIMASS_USER``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from challenge_helpers import train_public
from common_helpers import aimass

from aimass_lab.workspace import Workspace


def test_challenge_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws_path = tmp_path / "ws"
    monkeypatch.setenv("AIMASS_USER", "teacher")
    out = aimass(
        ws_path, "challenge", "create", "iris-cup", "iris", "--metric", "f1_macro", check=True
    )
    assert "challenge iris-cup: 38 hidden rows, 112 in dataset iris-cup-public" in out.stdout
    assert "owner teacher" in out.stdout
    mv = train_public(Workspace(ws_path), tmp_path / "m", "m")
    monkeypatch.setenv("AIMASS_USER", "ada")
    out = aimass(ws_path, "challenge", "submit", "iris-cup", mv.ref, check=True)
    assert out.stdout.startswith("ada: m:1 scored ")
    board = json.loads(
        aimass(ws_path, "challenge", "board", "iris-cup", "--json", check=True).stdout
    )
    assert [(r["rank"], r["participant"]) for r in board["rows"]] == [(1, "ada")]
    refused = aimass(ws_path, "challenge", "freeze", "iris-cup")
    assert refused.returncode != 0
    assert (
        "only the owner of challenge 'iris-cup', 'teacher', may freeze it; you are 'ada'"
        in refused.stderr
    )
    monkeypatch.setenv("AIMASS_USER", "teacher")
    assert "is frozen" in aimass(ws_path, "challenge", "freeze", "iris-cup", check=True).stdout
    refused = aimass(ws_path, "challenge", "submit", "iris-cup", mv.ref)
    assert refused.returncode != 0 and "challenge 'iris-cup' is frozen" in refused.stderr
    aimass(ws_path, "challenge", "export", "iris-cup", "-o", str(tmp_path / "b.csv"), check=True)
    lines = (tmp_path / "b.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "rank,participant,score,model,submitted_at,submissions"
    assert lines[1].startswith("1,ada,") and len(lines) == 2
    assert (
        "removed 1 submission(s)"
        in aimass(ws_path, "challenge", "reset", "iris-cup", check=True).stdout
    )
