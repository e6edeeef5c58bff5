"""Named data sources: owners, grants per user and group, the secret store (both backends)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from aimass_lab.errors import DataError, NotFoundError, PermissionDeniedError, SpecError
from aimass_lab.specs import DataSourceSpec
from aimass_lab.workspace import (
    Workspace,
    acting_as,
    acting_in_groups,
    add_source,
    add_to_group,
    check_read,
    get_source,
    grant,
    groups,
    join_location,
    read_secret,
    remove_from_group,
    remove_source,
    revoke,
    sources,
    sql_url_with_secret,
)

SECRET = "pw-Zq81-never-stored"


def _dump(ws: Workspace) -> str:
    """Every row of every table of the store, as text."""
    meta = MetaData()
    meta.reflect(ws.store.engine)
    out = []
    with ws.store.engine.connect() as conn:
        for table in meta.sorted_tables:
            out += [repr(tuple(row)) for row in conn.execute(select(table))]
    return "\n".join(out)


def test_the_owner_grants_and_revokes(workspace: Workspace) -> None:
    with acting_as("ada"):
        added = add_source(
            "warehouse",
            "sql",
            "postgresql://analyst@db.example/shop",
            credential="env:SHOP_PW",
            description="orders",
        )
        assert added["owner"] == "ada" and added["readable"] and added["grants"] == []
        check_read("warehouse")  # the owner reads without a grant
    with acting_as("grace"):
        assert [s["readable"] for s in sources()] == [False]
        with pytest.raises(
            PermissionDeniedError,
            match=r"user 'grace' may not read data source 'warehouse'.*owner 'ada'",
        ):
            check_read("warehouse")
    with acting_as("ada"):
        assert grant("warehouse", "user:grace")["grants"] == ["user:grace"]
        grant("warehouse", "user:grace")  # twice is harmless
    with acting_as("grace"):
        assert check_read("warehouse").credential == "env:SHOP_PW"
        assert get_source("warehouse")["readable"]
    with acting_as("ada"):
        assert revoke("warehouse", "user:grace")["grants"] == []
    with acting_as("grace"), pytest.raises(PermissionDeniedError):
        check_read("warehouse")


def test_groups_of_the_workspace_and_of_the_identity(workspace: Workspace) -> None:
    with acting_as("ada"):
        add_source("shared", "folder", "/data/shared")
        grant("shared", "group:teachers")
        add_to_group("teachers", "linus")
    assert groups()["teachers"] == {"owner": "ada", "members": ["linus"]}
    with acting_as("linus"):
        check_read("shared")  # a member of the workspace group
        with pytest.raises(PermissionDeniedError, match="only its owner 'ada' may"):
            add_to_group("teachers", "linus2")  # the group's owner only
    with acting_as("grace"):
        with pytest.raises(PermissionDeniedError):
            check_read("shared")
        with acting_in_groups(["teachers"]):  # e.g. JupyterHub's groups of the identity
            check_read("shared")
    with acting_as("ada"):
        remove_from_group("teachers", "linus")
    with acting_as("linus"), pytest.raises(PermissionDeniedError):
        check_read("shared")


def test_changes_by_others_are_refused_and_nothing_is_written(workspace: Workspace) -> None:
    with acting_as("ada"):
        add_source("warehouse", "sql", "sqlite:////data/shop.db")
        grant("warehouse", "group:analysts")
    before = _dump(workspace)
    with acting_as("grace"):
        for change, what in [
            (lambda: grant("warehouse", "user:grace"), "grant access to"),
            (lambda: revoke("warehouse", "group:analysts"), "revoke access to"),
            (lambda: remove_source("warehouse"), "remove"),
        ]:
            with pytest.raises(PermissionDeniedError) as info:
                change()
            assert str(info.value) == (
                f"user 'grace' may not {what} data source 'warehouse': only its owner 'ada' may"
            )
    assert _dump(workspace) == before
    with acting_as("ada"):
        remove_source("warehouse")
    assert sources() == []


def test_bad_input_is_refused_clearly(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match=r"unknown data source 'nope'.*\(none\)"):
        grant("nope", "user:ada")
    with pytest.raises(SpecError, match="credential: expected a reference, 'env:NAME'"):
        add_source("s", "sql", "postgresql://u@h/db", credential=SECRET)
    with pytest.raises(SpecError, match="must not hold a password") as info:
        add_source("s", "sql", f"postgresql://u:{SECRET}@h/db")
    assert SECRET not in str(info.value) and SECRET not in repr(info.value.errors)
    with pytest.raises(SpecError, match="kind"):
        add_source("s", "ftp", "/x")
    with pytest.raises(SpecError, match="'bucket' source's URL starts with one of: s3://"):
        add_source("s", "bucket", "/not/a/bucket")
    with pytest.raises(SpecError, match="is not a source name"):
        add_source("a b", "folder", "/x")
    add_source("s", "folder", "relative/dir")
    assert Path(get_source("s")["location"]).is_absolute()
    with pytest.raises(SpecError, match="a data source named 's' exists"):
        add_source("s", "folder", "/elsewhere")
    with pytest.raises(SpecError, match="names no one: expected 'user:NAME' or 'group:NAME'"):
        grant("s", "ada")
    with pytest.raises(NotFoundError, match=r"user:ada has no grant on data source 's'"):
        revoke("s", "user:ada")
    assert [s["name"] for s in sources()] == ["s"]


def test_the_secret_store_reads_env_and_private_files(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = DataSourceSpec(
        name="w", kind="sql", location="postgresql://analyst@db/shop", credential="env:T_PW"
    )
    with pytest.raises(DataError, match="environment variable T_PW is not set"):
        read_secret(env)
    monkeypatch.setenv("T_PW", SECRET)
    assert sql_url_with_secret(env) == f"postgresql://analyst:{SECRET}@db/shop"

    secret_file = tmp_path / "pw.txt"
    secret_file.write_text(SECRET + "\n")
    spec = env.model_copy(update={"credential": f"file:{secret_file}"})
    os.chmod(secret_file, 0o644)
    with pytest.raises(DataError, match=r"can be read or written by every user.*chmod 600"):
        read_secret(spec)
    os.chmod(secret_file, 0o600)
    assert read_secret(spec) == SECRET
    missing = env.model_copy(update={"credential": f"file:{tmp_path / 'none'}"})
    with pytest.raises(DataError, match="cannot read the file"):
        read_secret(missing)

    add_source(env)
    add_source(spec.model_copy(update={"name": "w2"}))
    stored = _dump(workspace)
    assert "env:T_PW" in stored and SECRET not in stored
    assert SECRET not in repr(sources()) and SECRET not in repr(check_read("w2"))


def test_paths_stay_inside_the_source() -> None:
    folder = DataSourceSpec(name="f", kind="folder", location="/data/f")
    bucket = DataSourceSpec(name="b", kind="bucket", location="s3://lab/data/")
    assert join_location(folder, "a/b.csv") == "/data/f/a/b.csv"
    assert join_location(folder, "") == "/data/f"
    assert join_location(bucket, "x.parquet") == "s3://lab/data/x.parquet"
    mounted = DataSourceSpec(name="m", kind="bucket", location="file:///mnt/lab")
    assert join_location(mounted, "x.parquet") == "/mnt/lab/x.parquet"
    for bad in ("../etc/passwd", "a/../../b", "/etc/passwd"):
        with pytest.raises(DataError, match="must stay inside the data source 'f'"):
            join_location(folder, bad)


def test_the_same_grant_and_name_at_the_same_moment(workspace: Workspace) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def as_ada(func, *args):  # type: ignore[no-untyped-def]
        with acting_as("ada"):
            return func(*args)

    as_ada(add_source, "shared", "folder", "/data/shared")
    with ThreadPoolExecutor(6) as pool:
        done = list(pool.map(lambda _: as_ada(grant, "shared", "user:grace"), range(6)))
        assert all(d["grants"] == ["user:grace"] for d in done)
        added = [
            pool.submit(as_ada, add_source, "twice", "folder", "/data/twice") for _ in range(4)
        ]
    outcomes = []
    for future in added:
        try:
            outcomes.append(future.result()["name"])
        except SpecError as exc:
            assert "a data source named 'twice' exists (owner 'ada')" in str(exc)
            outcomes.append("refused")
    assert outcomes.count("twice") == 1 and outcomes.count("refused") == 3
