"""Data-source permissions through a real Jupyter Server with several identities.

A custom IdentityProvider names the user of each request from a header (the token still
authenticates it): ``ada`` owns the PostgreSQL source, ``grace`` has no grant until ada gives
one, ``linus`` is in the ``teachers`` group of his identity. A deny-all Authorizer makes every
data route answer 403, even to the owner.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from jupyter_server.auth import Authorizer, IdentityProvider
from lab_helpers import USER_HEADER, HeaderIdentity, api_error, api_json, server_with_users
from sqlalchemy.engine import make_url

SECRET = "pw-Lab-9f2-never-shown"
QUERY = "SELECT age, income, label FROM people"


class Team(HeaderIdentity):
    groups = {"linus": ["teachers"]}


class DenyAll(Authorizer):
    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return False


@pytest.fixture
def jp_server_config(ws_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    server: dict[str, Any] = {}
    if request.node.get_closest_marker("deny_all"):
        server["authorizer_class"] = DenyAll
    if "single_user" in request.node.name:  # Jupyter's own token provider
        return server_with_users(ws_path, IdentityProvider, **server)
    return server_with_users(ws_path, Team, **server)


@pytest.fixture
def warehouse(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A PostgreSQL database with a table, and the source's fields (password: env var)."""
    frame = pd.DataFrame(
        {"age": range(40), "income": [i * 7 % 11 for i in range(40)], "label": [0, 1] * 20}
    )
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    frame.to_sql("people", engine, index=False)
    engine.dispose()
    monkeypatch.setenv("T_LAB_WAREHOUSE_PW", SECRET)  # the test server trusts local logins
    location = make_url(pg_url).set(password=None).render_as_string(hide_password=False)
    return {
        "name": "warehouse",
        "kind": "sql",
        "location": location,
        "credential": "env:T_LAB_WAREHOUSE_PW",
    }


def _as(user: str) -> dict[str, str]:
    return {USER_HEADER: user}


def _sql_data() -> dict[str, Any]:
    return {"source": "sql", "url": "source://warehouse", "query": QUERY, "target": "label"}


#: The routes that load data, as (method, path parts, body).
LOADING = [
    ("GET", ("datasets", "people"), None),
    ("GET", ("datasets", "people", "samples"), None),
    ("GET", ("datasets", "people", "report"), None),
    (
        "POST",
        ("jobs",),
        {"kind": "train", "spec": {"data": _sql_data(), "model": {"family": "mlp"}}},
    ),
]


async def _call(jp_fetch: Any, user: str, method: str, parts: tuple[str, ...], body: Any) -> Any:
    kwargs: dict[str, Any] = {"method": method, "headers": _as(user)}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    return await api_json(jp_fetch, *parts, **kwargs)


async def _refused(jp_fetch: Any, user: str, method: str, parts: tuple[str, ...], body: Any) -> str:
    kwargs: dict[str, Any] = {"method": method, "headers": _as(user)}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    code, answer = await api_error(jp_fetch, *parts, **kwargs)
    assert code == 403, (method, parts, code, answer)
    return str(answer["error"])


async def test_two_identities_one_granted(
    jp_fetch: Any, ws_path: Path, warehouse: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[Any] = []
    added = await _call(jp_fetch, "ada", "POST", ("sources",), warehouse)
    answers.append(added)
    assert added["owner"] == "ada" and added["credential"] == "env:T_LAB_WAREHOUSE_PW"
    # ada registers a dataset on her source (through the Python API, acting as ada)
    from aimass_lab import datasets
    from aimass_lab.workspace import Workspace, acting_as

    with acting_as("ada"):
        datasets.from_sql(
            "source://warehouse", QUERY, "label", name="people", workspace=Workspace(ws_path)
        )
    # ada reads every data route (the REST cache now holds the dataset)
    for method, parts, body in LOADING[:3]:
        answers.append(await _call(jp_fetch, "ada", method, parts, body))

    # grace: 403 on every route that loads data, naming the source and the user
    for method, parts, body in LOADING:
        message = await _refused(jp_fetch, "grace", method, parts, body)
        assert "user 'grace' may not read data source 'warehouse'" in message
        assert "owner 'ada'" in message
    listed = await _call(jp_fetch, "grace", "GET", ("sources",), None)
    assert [(s["name"], s["readable"]) for s in listed] == [("warehouse", False)]
    answers.append(listed)
    # changes are the owner's only
    for method, parts, body in [
        ("POST", ("sources", "warehouse", "grants"), {"principal": "user:grace"}),
        ("DELETE", ("sources", "warehouse", "grants", "user:ada"), None),
        ("DELETE", ("sources", "warehouse"), None),
    ]:
        message = await _refused(jp_fetch, "grace", method, parts, body)
        assert "user 'grace' may not" in message and "only its owner 'ada' may" in message

    granted = await _call(
        jp_fetch, "ada", "POST", ("sources", "warehouse", "grants"), {"principal": "user:grace"}
    )
    assert granted["grants"] == ["user:grace"]
    page = await _call(jp_fetch, "grace", "GET", ("datasets", "people", "samples"), None)
    assert page["total"] > 0
    answers.append(page)
    revoked = await _call(
        jp_fetch, "ada", "DELETE", ("sources", "warehouse", "grants", "user:grace"), None
    )
    assert revoked["grants"] == []
    await _refused(jp_fetch, "grace", "GET", ("datasets", "people", "samples"), None)

    # linus's identity carries the group "teachers"
    await _refused(jp_fetch, "linus", "GET", ("datasets", "people", "report"), None)
    await _call(
        jp_fetch, "ada", "POST", ("sources", "warehouse", "grants"), {"principal": "group:teachers"}
    )
    answers.append(await _call(jp_fetch, "linus", "GET", ("datasets", "people", "report"), None))
    answers.append(await _call(jp_fetch, "linus", "GET", ("sources", "warehouse"), None))

    # bad input through REST
    code, bad = await api_error(
        jp_fetch,
        "sources",
        method="POST",
        body=json.dumps({**warehouse, "name": "w2", "credential": SECRET}),
        headers=_as("ada"),
    )
    assert code == 422 and "credential" in bad["error"] and SECRET not in json.dumps(bad)
    code, bad = await api_error(jp_fetch, "sources", "nope", "grants", headers=_as("ada"))
    assert code == 404 and "unknown data source 'nope'" in bad["error"]

    # the secret is nowhere: REST answers, the server's log, the store
    assert SECRET not in json.dumps(answers, default=str)
    assert SECRET not in caplog.text
    with Workspace(ws_path).store.engine.connect() as conn:
        for table in ("data_sources", "source_grants", "datasets", "jobs"):
            assert SECRET not in repr(conn.execute(sa.text(f"SELECT * FROM {table}")).all())


@pytest.mark.deny_all
async def test_a_deny_all_authorizer_refuses_every_data_route(jp_fetch: Any) -> None:
    routes = [
        *LOADING,
        ("GET", ("datasets",), None),
        ("GET", ("sources",), None),
        ("POST", ("sources",), {"name": "w", "kind": "folder", "location": "/x"}),
        ("GET", ("sources", "warehouse"), None),
        ("DELETE", ("sources", "warehouse"), None),
        ("GET", ("sources", "warehouse", "grants"), None),
        ("POST", ("sources", "warehouse", "grants"), {"principal": "user:grace"}),
        ("DELETE", ("sources", "warehouse", "grants", "user:grace"), None),
    ]
    for user in ("ada", "grace"):
        for method, parts, body in routes:
            await _refused(jp_fetch, user, method, parts, body)


async def test_a_single_user_server_acts_as_its_own_user(
    jp_fetch: Any, ws_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jupyter's token provider names each browser "Anonymous ..." with a random id: the REST
    API acts as the server's user instead, who owns what the notebook added."""
    import sqlite3

    from aimass_lab import datasets
    from aimass_lab.workspace import Workspace

    monkeypatch.setenv("AIMASS_USER", "sam")
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        pd.DataFrame({"age": range(30), "label": [0, 1, 2] * 10}).to_sql("people", conn)
    added = await api_json(
        jp_fetch,
        "sources",
        method="POST",
        body=json.dumps({"name": "local", "kind": "sql", "location": f"sqlite:///{db}"}),
    )
    assert added["owner"] == "sam" and added["readable"]
    datasets.from_sql(
        "source://local", "SELECT age, label FROM people", "label", name="people",
        workspace=Workspace(ws_path),
    )  # fmt: skip
    page = await api_json(jp_fetch, "datasets", "people", "samples")
    assert page["total"] > 0
