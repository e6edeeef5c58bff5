"""Named data sources: a SQL database, a folder or a bucket path, with a credential reference.

A :class:`DataSourceSpec` never holds a secret: its ``location`` is a SQLAlchemy URL without a
password, a folder or a bucket path, and its ``credential`` says where the secret is read at
use time: ``env:NAME`` (an environment variable) or ``file:/path`` (a file only its owner can
read). A data spec names a source with a ``source://`` reference in its ``url`` (SQL) or
``path`` (folders, buckets): ``source://warehouse`` or ``source://shared/train.csv``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from aimass_lab.errors import SpecError
from aimass_lab.specs._base import Spec

__all__ = [
    "BUCKET_SCHEMES",
    "CREDENTIAL_RULE",
    "SOURCE_KINDS",
    "SOURCE_NAME_RULE",
    "SOURCE_SCHEME",
    "DataSourceSpec",
    "parse_principal",
    "parse_source_ref",
]

SOURCE_KINDS = ("sql", "folder", "bucket")
#: The scheme of a reference to a named source in a data spec's ``url`` or ``path``.
SOURCE_SCHEME = "source://"
BUCKET_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://", "file://")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SOURCE_NAME_RULE = "1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit"
_ENV = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)")
CREDENTIAL_RULE = "'env:NAME' (an environment variable) or 'file:/absolute/path' (a file)"
_PRINCIPAL = re.compile(r"(user|group):([^\s:][^\s]{0,199})")


def _refuse(field: str, message: str) -> SpecError:
    """A refusal naming ``field`` that never repeats the value (it may be a secret)."""
    return SpecError("DataSourceSpec", [{"field": field, "message": message}])


def _check_credential(value: Any) -> None:
    if value is None:
        return
    text = str(value)
    if _ENV.fullmatch(text) or (text.startswith("file:/") and len(text) > len("file:/")):
        return
    # never echo the value: it may be the secret itself, given by mistake
    raise _refuse(
        "credential",
        f"expected a reference, {CREDENTIAL_RULE}; the secret itself is never stored",
    )


def _check_location(kind: str, location: str) -> None:
    if kind == "sql":
        from sqlalchemy.engine import make_url

        try:
            url = make_url(location)
        except Exception:
            raise _refuse(
                "location",
                "a 'sql' source needs a SQLAlchemy URL, e.g. "
                "postgresql://analyst@db.example/shop or sqlite:////data/shop.db",
            ) from None
        if url.password:
            raise _refuse(
                "location",
                "the URL of a 'sql' source must not hold a password; give the URL without it "
                f"and the password as credential: {CREDENTIAL_RULE}",
            )
    elif kind == "bucket" and not location.startswith(BUCKET_SCHEMES):
        raise _refuse(
            "location", f"a 'bucket' source's URL starts with one of: {', '.join(BUCKET_SCHEMES)}"
        )
    elif kind == "folder" and "://" in location:
        raise _refuse(
            "location", "a 'folder' source's location is a folder path; use kind 'bucket' for a URL"
        )


class DataSourceSpec(Spec):
    """A named data source of the workspace.

    Examples
    --------
    >>> DataSourceSpec(name="warehouse", kind="sql",
    ...                location="postgresql://analyst@db/shop", credential="env:SHOP_PW").kind
    'sql'
    """

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$",
        description=f"the source's name: {SOURCE_NAME_RULE}",
    )
    kind: Literal["sql", "folder", "bucket"] = Field(
        description="'sql' (a database), 'folder' (a folder path) or 'bucket' (s3://, gs://...)"
    )
    location: str = Field(
        min_length=1,
        description="SQLAlchemy URL without password (sql), folder path, or bucket URL",
    )
    credential: str | None = Field(
        None,
        pattern=r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/.+)$",
        description=f"where the secret is read at use time: {CREDENTIAL_RULE}; none for "
        "sources without one",
    )
    description: str | None = Field(None, description="what the source holds")

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        # checked as a whole (not per field) so that an error never repeats a secret given
        # by mistake in location or credential
        if not isinstance(data, dict):
            return data
        name = data.get("name")
        if isinstance(name, str) and not _NAME.fullmatch(name):
            raise _refuse("name", f"{name!r} is not a source name; expected {SOURCE_NAME_RULE}")
        kind, location = data.get("kind"), data.get("location")
        if isinstance(kind, str) and isinstance(location, str):
            if not location.strip():
                raise _refuse("location", "must not be empty")
            if kind in SOURCE_KINDS:
                _check_location(kind, location)
        _check_credential(data.get("credential"))
        return data


def parse_source_ref(ref: str) -> tuple[str, str]:
    """``("warehouse", "")`` for ``source://warehouse``, ``("shared", "a/b.csv")`` for
    ``source://shared/a/b.csv``.

    Raises
    ------
    ValueError
        When ``ref`` is no ``source://`` reference or names no valid source.
    """
    if not ref.startswith(SOURCE_SCHEME):
        raise ValueError(f"{ref!r} is not a {SOURCE_SCHEME}NAME[/PATH] reference")
    name, _, rest = ref[len(SOURCE_SCHEME) :].partition("/")
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{ref!r}: {name!r} is not a source name; expected {SOURCE_NAME_RULE} "
            f"({SOURCE_SCHEME}NAME[/PATH])"
        )
    return name, rest


def parse_principal(principal: str) -> tuple[str, str]:
    """``("user", "ada")`` for ``user:ada``, ``("group", "teachers")`` for ``group:teachers``.

    Raises
    ------
    ValueError
        For anything else.
    """
    match = _PRINCIPAL.fullmatch(principal.strip()) if isinstance(principal, str) else None
    if match is None:
        raise ValueError(
            f"{principal!r} names no one: expected 'user:NAME' or 'group:NAME' "
            "(e.g. user:ada, group:teachers)"
        )
    return match.group(1), match.group(2)
