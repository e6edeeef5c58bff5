"""The store's records of registered datasets: names, rows, and the name rule."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from aimass_lab.errors import SpecError, accepted
from aimass_lab.specs import BUILTINS
from aimass_lab.workspace import DatasetRow, resolve_workspace

if TYPE_CHECKING:
    from aimass_lab.workspace import Workspace

__all__ = ["check_name", "registered_names", "registered_row", "row_dict"]

_NAME = re.compile(r"^[\w][\w.\-]{0,199}$")


def check_name(name: Any) -> str:
    """``name`` when it can name a registered dataset; a ``SpecError`` saying the rule if not."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(
            "dataset name",
            [
                {
                    "field": "name",
                    "value": name,
                    "message": "a dataset name is 1-200 letters, digits, '_', '-' or '.', "
                    "starting with a letter or digit",
                }
            ],
        )
    if name in BUILTINS:
        raise SpecError(
            "dataset name",
            [
                {
                    "field": "name",
                    "value": name,
                    "message": f"{name!r} is a built-in dataset; choose another name (built-in: {accepted(BUILTINS)})",
                }
            ],
        )
    return name


def row_dict(row: DatasetRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "spec": dict(row.spec),
        "fingerprint": row.fingerprint,
        "description": row.description,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def registered_row(
    name: str, workspace: Workspace | str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The stored record of a registered dataset, or ``None``."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as session:
        row = session.get(DatasetRow, name)
        return row_dict(row) if row is not None else None


def registered_names(workspace: Workspace | str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the datasets registered in the workspace, sorted."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as session:
        return list(session.scalars(select(DatasetRow.name).order_by(DatasetRow.name)))
