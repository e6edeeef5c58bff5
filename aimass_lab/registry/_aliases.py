"""Changing the registry: move and remove aliases, delete a version and its unused files."""

from __future__ import annotations

from sqlalchemy import Text, delete, func, select, update
from sqlalchemy import cast as sa_cast

from aimass_lab.errors import AimassError, NotFoundError
from aimass_lab.registry._common import Ref, WorkspaceLike, _retrying
from aimass_lab.registry._model_version import ModelVersion
from aimass_lab.registry._query import (
    _alias_listing,
    _get_by_id,
    _unknown_name,
    _version_numbers,
    get,
)
from aimass_lab.specs import LATEST, parse_ref, validate_alias, validate_name
from aimass_lab.workspace import (
    AliasRow,
    DatasetRow,
    JobRow,
    ModelVersionRow,
    Workspace,
    resolve_workspace,
)

__all__ = ["delete_version", "remove_alias", "set_alias"]


def set_alias(ref: Ref, alias: str, workspace: WorkspaceLike = None) -> ModelVersion:
    """Point ``alias`` at a version, moving it from the version it pointed to before.

    An alias points to exactly one version of a model; the move is one transaction, so a
    reader sees the old or the new target, never none.

    Parameters
    ----------
    ref
        The version (see :func:`get`), e.g. ``"digits-mlp:3"``.
    alias
        The alias: letters, digits, ``-``, ``_`` and ``.``, not all digits, not ``latest``.
    workspace
        The workspace (default: the current one, or the ModelVersion's).

    Returns
    -------
    ModelVersion
        The version, with its aliases now.
    """
    validate_alias(alias)
    mv = get(ref, workspace)
    ws = mv._ws()

    def move() -> None:
        with ws.store.session() as s:
            if s.get(ModelVersionRow, mv.id) is None:
                raise NotFoundError(
                    f"model version {mv.ref} was deleted; cannot point {alias!r} at it"
                )
            s.execute(
                delete(AliasRow).where(AliasRow.model_name == mv.name, AliasRow.alias == alias)
            )
            s.add(AliasRow(model_name=mv.name, alias=alias, version_id=mv.id))

    _retrying(move, f"could not set alias {alias!r} of {mv.name!r}")
    return _get_by_id(ws, mv.id)


def remove_alias(name: str, alias: str, workspace: WorkspaceLike = None) -> None:
    """Remove an alias of a model (the version it pointed to stays).

    Raises
    ------
    NotFoundError
        When the model has no such alias; the message lists its aliases.
    """
    validate_name(name)
    if not isinstance(alias, str) or alias.isdigit() or alias == LATEST:
        raise AimassError(
            f"{alias!r} is not an alias (aliases are words such as 'prod'); nothing to remove"
        )
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        result = s.execute(
            delete(AliasRow).where(AliasRow.model_name == name, AliasRow.alias == alias)
        )
        if getattr(result, "rowcount", 1) == 0:
            if not s.scalar(select(func.count()).where(ModelVersionRow.name == name)):
                raise _unknown_name(ws, s, name)
            raise NotFoundError(f"model {name!r} has no alias {alias!r}; {_alias_listing(s, name)}")


def delete_version(ref: Ref, workspace: WorkspaceLike = None) -> ModelVersion:
    """Delete one model version, its aliases, then its files that nothing else uses.

    The row and its aliases go in one transaction. Versions whose parent it was keep their
    lineage dict but their ``parent`` becomes ``None``. Files are removed afterwards, best
    effort, when no other model version, dataset or job refers to their sha256.

    Parameters
    ----------
    ref
        ``"name:3"``, ``"name:alias"`` or a ModelVersion. A bare name is refused, so that
        ``delete("model")`` never removes a version by surprise.
    workspace
        The workspace (default: the current one, or the ModelVersion's).

    Returns
    -------
    ModelVersion
        The record that was deleted.
    """
    if isinstance(ref, str):
        name, selector = parse_ref(ref)
        if selector is None:
            ws = resolve_workspace(workspace)
            with ws.store.session() as s:
                versions = _version_numbers(s, name)
                if not versions:
                    raise _unknown_name(ws, s, name)
            raise AimassError(
                f"delete() needs one version: {ref!r} names the whole model; give 'name:N' or "
                f"'name:alias' (versions of {name!r}: {', '.join(map(str, versions))})"
            )
    mv = get(ref, workspace)
    ws = mv._ws()
    with ws.store.session() as s:
        if s.get(ModelVersionRow, mv.id) is None:
            raise NotFoundError(f"model version {mv.ref} was already deleted")
        s.execute(delete(AliasRow).where(AliasRow.version_id == mv.id))
        s.execute(
            update(ModelVersionRow).where(ModelVersionRow.parent_id == mv.id).values(parent_id=None)
        )
        s.execute(delete(ModelVersionRow).where(ModelVersionRow.id == mv.id))
    _collect(ws, {e["sha256"] for e in mv.manifest.values() if isinstance(e.get("sha256"), str)})
    return mv


def _collect(ws: Workspace, digests: set[str]) -> list[str]:
    """Remove the artifacts among ``digests`` that nothing in the store refers to (best effort)."""
    removed: list[str] = []
    columns = (ModelVersionRow.manifest, DatasetRow.spec, JobRow.spec, JobRow.result)
    for digest in sorted(digests):
        try:
            with ws.store.session() as s:
                used = any(
                    s.scalar(select(func.count()).where(sa_cast(col, Text).contains(digest)))
                    for col in columns
                )
            if used:
                continue
            path = ws.artifacts.path(digest)
            path.unlink(missing_ok=True)
            removed.append(digest)
        except Exception:  # best effort: an orphaned file is harmless
            continue
    return removed
