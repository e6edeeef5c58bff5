"""``/aimass-lab/api/v1/challenges``: the board, submissions recorded under the request's
Jupyter identity (two users of one real Jupyter Server), the owner's actions and the CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from challenge_helpers import iris_challenge, train_public
from lab_helpers import USER_HEADER, api_error, api_json, server_with_users

from aimass_lab.workspace import Workspace, acting_as


@pytest.fixture
def jp_server_config(ws_path: Path) -> dict[str, Any]:
    return server_with_users(ws_path)


def _as(user: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"headers": {USER_HEADER: user}}
    if body is not None:
        kwargs.update(method="POST", body=json.dumps(body))
    return kwargs


async def test_submit_as_the_request_identity(jp_fetch: Any, ws_path: Path, tmp_path: Path) -> None:
    ws = Workspace(ws_path)
    with acting_as("teacher"):
        iris_challenge(ws)
    mv = train_public(ws, tmp_path / "m", "m")
    assert [c["name"] for c in await api_json(jp_fetch, "challenges")] == ["iris-cup"]
    ada = await api_json(
        jp_fetch, "challenges", "iris-cup", "submissions", **_as("ada", {"model": mv.ref})
    )
    assert (ada["participant"], ada["model"], ada["rank"]) == ("ada", "m:1", 1)
    grace = await api_json(
        jp_fetch, "challenges", "iris-cup", "submissions", **_as("grace", {"model": "m"})
    )
    assert (grace["participant"], grace["rank"], grace["score"]) == ("grace", 2, ada["score"])
    board = await api_json(jp_fetch, "challenges", "iris-cup")
    assert [(r["rank"], r["participant"]) for r in board["rows"]] == [(1, "ada"), (2, "grace")]
    assert board["challenge"]["owner"] == "teacher" and board["submissions"] == 2
    (listed,) = await api_json(jp_fetch, "challenges")
    assert (listed["participants"], listed["submissions"]) == (2, 2)
    assert [r["participant"] for r in listed["leaders"]] == ["ada", "grace"]

    code, body = await api_error(jp_fetch, "challenges", "iris-cup", "freeze", **_as("ada", {}))
    assert code == 403 and "only the owner of challenge 'iris-cup', 'teacher'" in body["error"]
    assert "you are 'ada'" in body["error"]
    frozen = await api_json(jp_fetch, "challenges", "iris-cup", "freeze", **_as("teacher", {}))
    assert frozen["frozen"] is True
    code, body = await api_error(
        jp_fetch, "challenges", "iris-cup", "submissions", **_as("ada", {"model": mv.ref})
    )
    assert code == 409 and "challenge 'iris-cup' is frozen" in body["error"]
    code, body = await api_error(
        jp_fetch, "challenges", "iris-cup", "submissions", **_as("ada", {})
    )
    assert code == 422 and body["errors"][0]["field"] == "model"
    code, body = await api_error(jp_fetch, "challenges", "nope")
    assert code == 404 and "no challenge 'nope'" in body["error"]

    response = await jp_fetch("aimass-lab", "api", "v1", "challenges", "iris-cup", "board.csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert [(r["rank"], r["participant"], r["model"]) for r in rows] == [
        ("1", "ada", "m:1"),
        ("2", "grace", "m:1"),
    ]
    reset = await api_json(jp_fetch, "challenges", "iris-cup", "reset", **_as("teacher", {}))
    assert reset == {"name": "iris-cup", "removed": 2}
    ws.store.close()
