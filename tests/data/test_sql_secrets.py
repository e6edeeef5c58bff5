"""Database URLs keep secrets out of the workspace: ``${NAME}`` is read from the environment."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aimass_lab import datasets
from aimass_lab.data import load
from aimass_lab.data._sql import expand_url, literal_password
from aimass_lab.errors import AimassWarning, DataError
from aimass_lab.workspace import Workspace


def test_expand_url_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIMASS_T_PW", "s3cr$t")
    assert expand_url("postgresql://u:${AIMASS_T_PW}@h/db") == "postgresql://u:s3cr$t@h/db"
    # no reference: as given (a lone $ in a password is not a reference)
    assert expand_url("postgresql://u:p$w@h/db") == "postgresql://u:p$w@h/db"
    monkeypatch.delenv("AIMASS_T_PW")
    with pytest.raises(DataError, match=r"names \$\{AIMASS_T_PW\}.*AIMASS_T_PW is not set"):
        expand_url("postgresql://u:${AIMASS_T_PW}@h/db")


def test_literal_password_is_told_from_a_reference() -> None:
    assert literal_password("postgresql://u:hunter2@h/db")
    assert not literal_password("postgresql://u:${DB_PW}@h/db")
    assert not literal_password("postgresql://u@h/db")
    assert not literal_password("sqlite:///x.db")


def test_postgresql_url_from_the_environment_is_stored_as_a_reference(
    pg_url: str,
    mixed_frame: pd.DataFrame,
    sqlite_workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    mixed_frame.to_sql("people", engine, index=False)
    engine.dispose()
    real = make_url(pg_url)
    # the port comes from the environment too: a URL used without expansion cannot connect
    monkeypatch.setenv("AIMASS_T_PORT", str(real.port))
    monkeypatch.setenv("AIMASS_T_PW", "not-in-the-store")
    url = f"postgresql://{real.username}:${{AIMASS_T_PW}}@{real.host}:${{AIMASS_T_PORT}}/{real.database}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a reference is no literal password: no warning
        ds = datasets.from_sql(url, "SELECT age, income, label FROM people", "label", name="people")
    assert len(ds) == len(mixed_frame)

    stored = json.dumps(datasets.get("people").spec.to_dict())
    assert "${AIMASS_T_PW}" in stored and "not-in-the-store" not in stored
    assert len(load(datasets.get("people").spec)) == len(mixed_frame)

    monkeypatch.delenv("AIMASS_T_PORT")
    with pytest.raises(DataError, match="AIMASS_T_PORT is not set"):
        load(datasets.get("people").spec)


def test_a_literal_password_warns(pg_url: str, mixed_frame: pd.DataFrame) -> None:
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    mixed_frame.to_sql("people", engine, index=False)
    engine.dispose()
    real = make_url(pg_url)
    # the test server trusts local connections: the password is sent and ignored
    url = real.set(password="hunter2").render_as_string(hide_password=False)
    with pytest.warns(AimassWarning, match=r"holds a password.*\$\{NAME\}"):
        ds = datasets.from_sql(url, "SELECT age, label FROM people", "label")
    assert len(ds) == len(mixed_frame)
