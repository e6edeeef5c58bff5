"""SQL databases: a SELECT statement run through SQLAlchemy (SQLite, PostgreSQL, ...)."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import pandas as pd

from aimass_lab.data._base import RawData, Source
from aimass_lab.data._sources import is_source_ref, source_sql_url
from aimass_lab.errors import DataError
from aimass_lab.workspace import normalize_db_url, redact_url

if TYPE_CHECKING:
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["SQLSource", "expand_url", "literal_password"]

#: ``${NAME}`` in a database URL: the value of environment variable NAME, read at load time.
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_url(url: str) -> str:
    """``url`` with every ``${NAME}`` replaced by environment variable NAME.

    A dataset's spec (stored in the workspace, shown by the REST API) keeps the reference, not
    the secret: ``postgresql://analyst:${SHOP_DB_PASSWORD}@db/shop``.

    Raises
    ------
    DataError
        When a variable named in the URL is not set.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise DataError(
                f"the database URL names ${{{name}}}, but the environment variable {name} is not "
                "set; set it where the data is loaded (the kernel, the `aimass` command, the "
                "JupyterLab server: jobs inherit it from the process that starts them)"
            )
        return os.environ[name]

    return _ENV_REF.sub(value, url)


def literal_password(url: str) -> bool:
    """Whether ``url`` holds a password as such (not a ``${NAME}`` reference)."""
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
    except Exception:
        return False
    return bool(password) and not _ENV_REF.fullmatch(str(password))


class SQLSource(Source):
    """The rows of ``spec.query`` run on the database at ``spec.url``.

    ``spec.url`` is a SQLAlchemy URL (``sqlite:///data.db``,
    ``postgresql://user:password@host/db``: bare ``postgresql://`` URLs use psycopg 3).
    ``spec.options["params"]`` gives bound parameters for ``:name`` placeholders.
    ``${NAME}`` in the URL is environment variable NAME (:func:`expand_url`): keep passwords
    out of the stored spec that way; or name a data source of the workspace,
    ``source://warehouse`` (its credential is read from the secret store once the acting
    user's grant is checked). Errors show the URL with its password hidden.
    """

    name = "sql"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData:
        """Run the query and return its rows as a table."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import SQLAlchemyError

        given = spec.url or ""
        # a named source: the user's grant checked, then the password from the secret store
        url = normalize_db_url(
            source_sql_url(given, workspace) if is_source_ref(given) else expand_url(given)
        )
        where = redact_url(url)
        try:
            engine = create_engine(url)
        except Exception as exc:  # bad URL or missing driver
            reason = str(exc).replace(url, where)  # the URL may hold a source's password
            raise DataError(f"cannot use the database URL {where}: {reason}") from None
        try:
            with engine.connect() as conn:
                frame = pd.read_sql(text(spec.query or ""), conn, params=spec.options.get("params"))
        except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
            cause: BaseException = exc
            while not isinstance(cause, SQLAlchemyError) and cause.__cause__ is not None:
                cause = cause.__cause__
            reason = str(getattr(cause, "orig", None) or cause).strip()
            password = engine.url.password
            if password:
                reason = reason.replace(str(password), "***")
            raise DataError(
                f"the SQL query failed on {where}: {reason}\nquery: {spec.query}"
            ) from None
        finally:
            engine.dispose()
        return RawData(frame)
