"""Named data sources and who may read them.

A data source (:class:`~aimass_lab.specs.DataSourceSpec`: a SQL database, a folder or a
bucket path, and a credential *reference*) belongs to the user who added it. Its owner may
read it and grant or revoke read access to ``user:NAME`` or ``group:NAME``. Groups are the
workspace's own (``add_to_group``) or the groups Jupyter's identity carries (JupyterHub).
Everyone else is refused with a :class:`~aimass_lab.errors.PermissionDeniedError` naming
the source, the user and the owner; the data stage checks it before it reads a secret.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from aimass_lab.errors import NotFoundError, PermissionDeniedError, SpecError, accepted
from aimass_lab.specs import DataSourceSpec, parse_principal
from aimass_lab.workspace._identity import current_user
from aimass_lab.workspace._store import (
    DataSourceRow,
    GroupMemberRow,
    SourceGrantRow,
    UserGroupRow,
    utcnow,
)
from aimass_lab.workspace._workspace import resolve_workspace

if TYPE_CHECKING:
    from aimass_lab.workspace._workspace import Workspace

__all__ = [
    "acting_in_groups",
    "add_source",
    "add_to_group",
    "check_read",
    "current_groups",
    "get_source",
    "grant",
    "groups",
    "remove_from_group",
    "remove_source",
    "revoke",
    "sources",
]

_GROUPS: ContextVar[frozenset[str] | None] = ContextVar("aimass_acting_groups", default=None)


@contextmanager
def acting_in_groups(names: Iterable[str] | None) -> Iterator[None]:
    """Run the block as a member of ``names`` too (the groups of a Jupyter identity)."""
    token = _GROUPS.set(frozenset(names) if names else None)
    try:
        yield
    finally:
        _GROUPS.reset(token)


def current_groups(workspace: Workspace | str | os.PathLike[str] | None = None) -> set[str]:
    """The groups of :func:`current_user`: the workspace's, plus the Jupyter identity's."""
    ws = resolve_workspace(workspace)
    user = current_user()
    with ws.store.session() as s:
        found = set(
            s.scalars(select(GroupMemberRow.group).where(GroupMemberRow.member == user)).all()
        )
    return found | set(_GROUPS.get() or ())


# ------------------------------------------------------------------------------- sources
def _row(s: Any, name: str) -> DataSourceRow:
    row = s.get(DataSourceRow, name)
    if row is None:
        names = sorted(s.scalars(select(DataSourceRow.name)).all())
        raise NotFoundError(
            f"unknown data source {name!r}; data sources of this workspace: {accepted(names)}. "
            "Add one with aimass_lab.add_source(name, kind, location, credential=...)"
        )
    return row  # type: ignore[no-any-return]


def _owner_only(row: DataSourceRow, what: str) -> None:
    user = current_user()
    if user != row.owner:
        raise PermissionDeniedError(
            f"user {user!r} may not {what} data source {row.name!r}: only its owner "
            f"{row.owner!r} may"
        )


def _describe(s: Any, row: DataSourceRow, user: str, member_of: set[str]) -> dict[str, Any]:
    grants = sorted(
        s.scalars(select(SourceGrantRow.principal).where(SourceGrantRow.source == row.name))
    )
    return {
        **DataSourceSpec.from_dict(row.spec).to_dict(),
        "owner": row.owner,
        "created_at": row.created_at.isoformat() + "Z",
        "grants": grants,
        "readable": _may_read(row, grants, user, member_of),
    }


def _may_read(row: DataSourceRow, grants: list[str], user: str, member_of: set[str]) -> bool:
    return (
        user == row.owner
        or f"user:{user}" in grants
        or any(f"group:{g}" in grants for g in member_of)
    )


def add_source(
    name: str | DataSourceSpec,
    kind: str | None = None,
    location: str | None = None,
    credential: str | None = None,
    *,
    description: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Add a named data source, owned by :func:`current_user`.

    Parameters
    ----------
    name
        The source's name, or a whole :class:`~aimass_lab.specs.DataSourceSpec`.
    kind
        ``"sql"``, ``"folder"`` or ``"bucket"``.
    location
        A SQLAlchemy URL *without* password, a folder (made absolute) or a bucket URL.
    credential
        ``"env:NAME"`` or ``"file:/path"``: where the secret is read when the data is loaded.
        Never the secret itself.

    Returns
    -------
    dict
        The source as :func:`sources` lists it.

    Raises
    ------
    SpecError
        For a bad name, kind, location or credential reference, or a name already used.

    Examples
    --------
    >>> import aimass_lab as am  # doctest: +SKIP
    >>> am.add_source("warehouse", "sql", "postgresql://analyst@db/shop",
    ...               credential="env:SHOP_PW")  # doctest: +SKIP
    """
    if isinstance(name, DataSourceSpec):
        spec = name
    else:
        fields = {"name": name, "kind": kind, "location": location, "credential": credential}
        spec = DataSourceSpec.from_dict(
            {k: v for k, v in {**fields, "description": description}.items() if v is not None}
        )
    if spec.kind == "folder":
        spec = spec.model_copy(
            update={"location": str(Path(spec.location).expanduser().absolute())}
        )
    ws = resolve_workspace(workspace)
    user = current_user()
    try:
        with ws.store.session() as s:
            existing = s.get(DataSourceRow, spec.name)
            if existing is not None:
                raise _taken(spec.name, existing.owner)
            row = DataSourceRow(
                name=spec.name, spec=spec.to_dict(), owner=user, created_at=utcnow()
            )
            s.add(row)
            s.flush()
            return _describe(s, row, user, set())
    except IntegrityError:  # added at the same moment by someone else (PostgreSQL)
        raise _taken(spec.name, get_source(spec.name, ws)["owner"]) from None


def _taken(name: str, owner: str) -> SpecError:
    return SpecError(
        "DataSourceSpec",
        [
            {
                "field": "name",
                "value": name,
                "message": f"a data source named {name!r} exists (owner {owner!r}); remove "
                "it first or choose another name",
            }
        ],
    )


def sources(workspace: Workspace | str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Every data source of the workspace: its spec (credential *reference* only), owner,
    grants and whether :func:`current_user` may read it."""
    ws = resolve_workspace(workspace)
    user, member_of = current_user(), current_groups(ws)
    with ws.store.session() as s:
        rows = s.scalars(select(DataSourceRow).order_by(DataSourceRow.name)).all()
        return [_describe(s, row, user, member_of) for row in rows]


def get_source(
    name: str, workspace: Workspace | str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """One data source, as :func:`sources` lists it (``NotFoundError`` naming the others)."""
    ws = resolve_workspace(workspace)
    user, member_of = current_user(), current_groups(ws)
    with ws.store.session() as s:
        return _describe(s, _row(s, name), user, member_of)


def remove_source(name: str, workspace: Workspace | str | os.PathLike[str] | None = None) -> None:
    """Remove a data source and its grants (its owner only)."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = _row(s, name)
        _owner_only(row, "remove")
        s.execute(delete(SourceGrantRow).where(SourceGrantRow.source == name))
        s.delete(row)


def _principal(principal: str) -> str:
    try:
        kind, who = parse_principal(principal)
    except ValueError as exc:
        raise SpecError(
            "grant", [{"field": "principal", "value": principal, "message": str(exc)}]
        ) from None
    return f"{kind}:{who}"


def grant(
    name: str, principal: str, workspace: Workspace | str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Let ``principal`` (``"user:ada"``, ``"group:teachers"``) read data source ``name``.

    Only the source's owner may; granting twice is harmless. Returns the source.

    Raises
    ------
    NotFoundError, SpecError, PermissionDeniedError
        An unknown source, a malformed principal, a user who is not the owner.
    """
    who = _principal(principal)
    ws = resolve_workspace(workspace)
    with suppress(IntegrityError), ws.store.session() as s:  # granted at the same moment
        row = _row(s, name)
        _owner_only(row, "grant access to")
        if s.get(SourceGrantRow, (name, who)) is None:
            s.add(
                SourceGrantRow(
                    source=name, principal=who, granted_by=current_user(), granted_at=utcnow()
                )
            )
    return get_source(name, ws)


def revoke(
    name: str, principal: str, workspace: Workspace | str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Take back ``principal``'s read access to data source ``name`` (its owner only)."""
    who = _principal(principal)
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = _row(s, name)
        _owner_only(row, "revoke access to")
        found = s.get(SourceGrantRow, (name, who))
        if found is None:
            granted = s.scalars(
                select(SourceGrantRow.principal).where(SourceGrantRow.source == name)
            ).all()
            raise NotFoundError(
                f"{who} has no grant on data source {name!r}; its grants: {accepted(granted)}"
            )
        s.delete(found)
    return get_source(name, ws)


def check_read(
    name: str, workspace: Workspace | str | os.PathLike[str] | None = None
) -> DataSourceSpec:
    """The spec of data source ``name`` if :func:`current_user` may read it.

    Raises
    ------
    NotFoundError
        For an unknown source (the message lists the others).
    PermissionDeniedError
        Naming the source, the user and the owner who can grant access.
    """
    ws = resolve_workspace(workspace)
    user, member_of = current_user(), current_groups(ws)
    with ws.store.session() as s:
        row = _row(s, name)
        grants = list(
            s.scalars(select(SourceGrantRow.principal).where(SourceGrantRow.source == name))
        )
        if not _may_read(row, grants, user, member_of):
            raise PermissionDeniedError(
                f"user {user!r} may not read data source {name!r}: it is not granted to them "
                f"or their groups; its owner {row.owner!r} can grant it (aimass sources grant "
                f"{name} user:{user})"
            )
        return DataSourceSpec.from_dict(row.spec)


# -------------------------------------------------------------------------------- groups
def groups(workspace: Workspace | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The workspace's groups: ``{name: {"owner": ..., "members": [...]}}``."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        out: dict[str, Any] = {
            g.name: {"owner": g.owner, "members": []}
            for g in s.scalars(select(UserGroupRow).order_by(UserGroupRow.name))
        }
        for m in s.scalars(select(GroupMemberRow).order_by(GroupMemberRow.member)):
            out[m.group]["members"].append(m.member)
    return out


def add_to_group(
    group: str, user: str, workspace: Workspace | str | os.PathLike[str] | None = None
) -> None:
    """Add ``user`` to ``group``; the first call makes the group, owned by :func:`current_user`,
    and only that owner may change it afterwards."""
    _principal(f"group:{group}")
    _principal(f"user:{user}")
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = s.get(UserGroupRow, group)
        if row is None:
            row = UserGroupRow(name=group, owner=current_user())
            s.add(row)
            s.flush()
        elif row.owner != current_user():
            raise PermissionDeniedError(
                f"user {current_user()!r} may not change group {group!r}: only its owner "
                f"{row.owner!r} may"
            )
        if s.get(GroupMemberRow, (group, user)) is None:
            s.add(GroupMemberRow(group=group, member=user))


def remove_from_group(
    group: str, user: str, workspace: Workspace | str | os.PathLike[str] | None = None
) -> None:
    """Take ``user`` out of ``group`` (the group's owner only)."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = s.get(UserGroupRow, group)
        if row is None:
            raise NotFoundError(f"unknown group {group!r}")
        if row.owner != current_user():
            raise PermissionDeniedError(
                f"user {current_user()!r} may not change group {group!r}: only its owner "
                f"{row.owner!r} may"
            )
        member = s.get(GroupMemberRow, (group, user))
        if member is None:
            raise NotFoundError(f"{user!r} is not a member of group {group!r}")
        s.delete(member)
