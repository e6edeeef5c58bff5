"""Reading the registry: resolve refs, get and list versions, list names, verify files."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aimass_lab.errors import NotFoundError
from aimass_lab.registry._common import Ref, WorkspaceLike, _few
from aimass_lab.registry._model_version import ModelVersion, canonical_metrics, verify_files
from aimass_lab.specs import parse_ref, validate_name
from aimass_lab.workspace import AliasRow, ModelVersionRow, Workspace, resolve_workspace

__all__ = ["get", "list_versions", "names", "verify"]


def _aliases_of(session: Session, version_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(version_ids)
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(
            select(AliasRow.version_id, AliasRow.alias).where(AliasRow.version_id.in_(ids))
        )
        for version_id, alias in rows:
            out[version_id].append(alias)
    for aliases in out.values():
        aliases.sort()
    return out


def _parent_refs(session: Session, rows: Iterable[ModelVersionRow]) -> dict[int, str]:
    ids = {r.parent_id for r in rows if r.parent_id is not None}
    if not ids:
        return {}
    found = session.execute(
        select(ModelVersionRow.id, ModelVersionRow.name, ModelVersionRow.version).where(
            ModelVersionRow.id.in_(ids)
        )
    )
    return {i: f"{n}:{v}" for i, n, v in found}


def _to_versions(
    ws: Workspace, session: Session, rows: list[ModelVersionRow]
) -> list[ModelVersion]:
    aliases = _aliases_of(session, (r.id for r in rows))
    parents = _parent_refs(session, rows)
    return [
        ModelVersion(
            id=r.id,
            name=r.name,
            version=r.version,
            created_at=r.created_at,
            run_id=r.run_id,
            parent=parents.get(r.parent_id) if r.parent_id is not None else None,
            aliases=aliases.get(r.id, []),
            model_spec=dict(r.model_spec or {}),
            hparams=dict(r.hparams or {}),
            metrics=canonical_metrics(r.metrics),
            lineage=dict(r.lineage or {}),
            manifest={k: dict(v) for k, v in (r.manifest or {}).items()},
            description=r.description,
            data_fingerprint=r.data_fingerprint,
            workspace=ws,
        )
        for r in rows
    ]


def _version_numbers(session: Session, name: str) -> list[int]:
    """The version numbers of a model, ascending."""
    query = (
        select(ModelVersionRow.version)
        .where(ModelVersionRow.name == name)
        .order_by(ModelVersionRow.version)
    )
    return list(session.scalars(query))


def _names(session: Session) -> list[str]:
    return list(
        session.scalars(select(ModelVersionRow.name).distinct().order_by(ModelVersionRow.name))
    )


def _unknown_name(ws: Workspace, session: Session, name: str) -> NotFoundError:
    existing = _names(session)
    hint = (
        f"models: {_few(existing)}"
        if existing
        else "the registry is empty; add one with register(run, name)"
    )
    return NotFoundError(f"no model named {name!r} in the registry of workspace {ws.path}; {hint}")


def _resolve_row(ws: Workspace, session: Session, ref: Ref) -> ModelVersionRow:
    """The row a ref means, or a NotFoundError that lists what exists."""
    if isinstance(ref, ModelVersion):
        row = session.get(ModelVersionRow, ref.id)
        if row is None or row.name != ref.name or row.version != ref.version:
            raise NotFoundError(f"model version {ref.ref} no longer exists in workspace {ws.path}")
        return row
    name, selector = parse_ref(ref)
    base = select(ModelVersionRow).where(ModelVersionRow.name == name)
    if selector is None:
        found = session.scalars(base.order_by(ModelVersionRow.version.desc()).limit(1)).first()
        if found is None:
            raise _unknown_name(ws, session, name)
        return found
    if isinstance(selector, int):
        found = session.scalars(base.where(ModelVersionRow.version == selector)).first()
        if found is None:
            versions = _version_numbers(session, name)
            if not versions:
                raise _unknown_name(ws, session, name)
            raise NotFoundError(
                f"model {name!r} has no version {selector}; versions: {', '.join(map(str, versions[-20:]))}"
                + (f" (and {len(versions) - 20} older)" if len(versions) > 20 else "")
            )
        return found
    found = session.scalars(
        select(ModelVersionRow)
        .join(AliasRow, AliasRow.version_id == ModelVersionRow.id)
        .where(
            AliasRow.model_name == name, AliasRow.alias == selector, ModelVersionRow.name == name
        )
    ).first()
    if found is None:
        if not session.scalar(select(func.count()).where(ModelVersionRow.name == name)):
            raise _unknown_name(ws, session, name)
        raise NotFoundError(
            f"model {name!r} has no alias {selector!r}; {_alias_listing(session, name)}"
        )
    return found


def _alias_listing(session: Session, name: str) -> str:
    rows = session.execute(
        select(AliasRow.alias, ModelVersionRow.version)
        .join(ModelVersionRow, AliasRow.version_id == ModelVersionRow.id)
        .where(AliasRow.model_name == name)
        .order_by(AliasRow.alias)
    ).all()
    if not rows:
        return f"it has no aliases (set one with set_alias('{name}:1', 'prod')); versions are also found as '{name}:N'"
    return "aliases: " + ", ".join(f"{alias!r} (-> {name}:{version})" for alias, version in rows)


def get(ref: Ref, workspace: WorkspaceLike = None) -> ModelVersion:
    """Find a model version.

    Parameters
    ----------
    ref
        ``"name"`` or ``"name:latest"`` (the newest version), ``"name:3"`` (version 3),
        ``"name:prod"`` (the version the alias points to), or a :class:`ModelVersion`
        (read again, with its current aliases).
    workspace
        A :class:`~aimass_lab.workspace.Workspace` or its folder; default: the current one
        (for a ModelVersion: its own).

    Returns
    -------
    ModelVersion

    Raises
    ------
    NotFoundError
        For an unknown model, version or alias; the message lists what exists.

    Examples
    --------
    >>> from aimass_lab import registry  # doctest: +SKIP
    >>> registry.get("digits-mlp:prod")  # doctest: +SKIP
    ModelVersion('digits-mlp:2', aliases=['prod'], metrics={'val_acc': 0.97})
    """
    if workspace is None and isinstance(ref, ModelVersion) and ref.workspace is not None:
        ws = ref.workspace
    else:
        ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = _resolve_row(ws, s, ref)
        return _to_versions(ws, s, [row])[0]


def list_versions(name: str | None = None, workspace: WorkspaceLike = None) -> list[ModelVersion]:
    """Model versions, newest first.

    Parameters
    ----------
    name
        Only this model's versions (raises :class:`NotFoundError` if it has none).
    workspace
        The workspace (default: the current one).

    Returns
    -------
    list of ModelVersion
    """
    ws = resolve_workspace(workspace)
    query = select(ModelVersionRow).order_by(
        ModelVersionRow.created_at.desc(), ModelVersionRow.id.desc()
    )
    with ws.store.session() as s:
        if name is not None:
            validate_name(name)
            query = query.where(ModelVersionRow.name == name)
        rows = list(s.scalars(query))
        if name is not None and not rows:
            raise _unknown_name(ws, s, name)
        return _to_versions(ws, s, rows)


def names(workspace: WorkspaceLike = None) -> list[str]:
    """The names of the registered models, sorted."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        return _names(s)


def verify(ref: Ref, workspace: WorkspaceLike = None) -> dict[str, Any]:
    """Recompute the sha256 of every file of a model version and compare with its manifest.

    Parameters
    ----------
    ref
        The version (see :func:`get`).
    workspace
        The workspace (default: the current one).

    Returns
    -------
    dict
        ``{"ref": "name:3", "ok": True, "files": {filename: {"sha256", "size", "path"}}}``.

    Raises
    ------
    IntegrityError
        Naming each file that is missing or modified, with expected and actual sha256.
    """
    return verify_files(get(ref, workspace))


def _get_by_id(ws: Workspace, row_id: int) -> ModelVersion:
    with ws.store.session() as s:
        row = s.get(ModelVersionRow, row_id)
        if row is None:
            raise NotFoundError(
                f"model version id {row_id} no longer exists in workspace {ws.path}"
            )
        return _to_versions(ws, s, [row])[0]
