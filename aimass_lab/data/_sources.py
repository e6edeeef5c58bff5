"""Named data sources in data specs: ``source://NAME`` in ``url`` (SQL) or ``path`` (folders).

A spec keeps the reference, never a location's secret; loading checks that the acting user
(:func:`~aimass_lab.workspace.current_user`) may read the source before anything is resolved,
then reads the credential from the workspace's secret store.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aimass_lab.data._target import resolve_target
from aimass_lab.errors import DataError
from aimass_lab.specs import CORE_SOURCES, SOURCE_SCHEME, DataSpec, parse_source_ref
from aimass_lab.workspace import (
    check_read,
    join_location,
    resolve_workspace,
    sql_url_with_secret,
)

if TYPE_CHECKING:
    from aimass_lab.specs import DataSourceSpec
    from aimass_lab.workspace import Workspace

__all__ = ["check_access", "is_source_ref", "resolve_source_refs", "source_sql_url"]


def is_source_ref(value: str | None) -> bool:
    """Whether ``value`` is a ``source://`` reference."""
    return bool(value) and str(value).startswith(SOURCE_SCHEME)


def _readable(
    ref: str, kinds: tuple[str, ...], workspace: Workspace | None
) -> tuple[DataSourceSpec, str]:
    try:
        name, rest = parse_source_ref(ref)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    source = check_read(name, workspace)  # PermissionDeniedError before any secret is read
    if source.kind not in kinds:
        field = "url" if kinds == ("sql",) else "path"
        raise DataError(
            f"{ref}: data source {name!r} is a {source.kind!r} source; {field}= takes "
            + ("a 'sql' source" if field == "url" else "a 'folder' or 'bucket' source")
            + (" (name a 'sql' source in url=, with query=)" if source.kind == "sql" else "")
        )
    return source, rest


def resolve_source_refs(spec: DataSpec, workspace: Workspace | None) -> DataSpec:
    """``spec`` with a ``source://NAME/PATH`` path made the path inside the source (and the
    target of a CSV/Parquet file without one filled in from its header).

    A ``source://NAME`` url is checked here too (the acting user may read it) but kept: the
    SQL source puts the password in only when it connects (:func:`source_sql_url`).

    Raises
    ------
    NotFoundError, PermissionDeniedError, DataError
        An unknown source, a user without a grant, a reference of the wrong kind.
    """
    if is_source_ref(spec.path):
        source, rest = _readable(str(spec.path), ("folder", "bucket"), workspace)
        path = join_location(source, rest)
        if "://" in path and spec.source in CORE_SOURCES:
            raise DataError(
                f"{spec.path}: data source {source.name!r} is the bucket {source.location}; the "
                f"built-in {spec.source!r} source reads local files. Mount the bucket (s3fs, "
                "gcsfuse, blobfuse) and add it as a 'folder' or a file:// bucket, or read it "
                "with a source plugin that takes URLs"
            )
        read = spec.model_copy(update={"path": path})
        if read.target is None:  # a CSV/Parquet file's label column, found in the real file
            read = DataSpec.from_dict(resolve_target(read.to_dict()))
        return read
    if is_source_ref(spec.url):
        _, rest = _readable(str(spec.url), ("sql",), workspace)
        if rest:
            raise DataError(
                f"{spec.url}: a 'sql' source takes no path; use {SOURCE_SCHEME}NAME and a query"
            )
    return spec


def source_sql_url(url: str, workspace: Workspace | None) -> str:
    """The URL to connect to for ``source://NAME`` (password read from the secret store)."""
    source, _ = _readable(url, ("sql",), workspace)
    return sql_url_with_secret(source)


def check_access(data: Any, workspace: Workspace | str | os.PathLike[str] | None = None) -> None:
    """Check that the acting user may read the data sources ``data`` names (nothing is read).

    ``data`` is what :func:`~aimass_lab.data.load` takes: a name, a dict, a spec or a dataset.

    Raises
    ------
    NotFoundError, PermissionDeniedError, DataError
        As :func:`~aimass_lab.data.load` would, before it reads anything.
    """
    from aimass_lab.data._resolve import resolve_spec

    ws = resolve_workspace(workspace)
    resolve_source_refs(resolve_spec(data, workspace=ws), ws)
