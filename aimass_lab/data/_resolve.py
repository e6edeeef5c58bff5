"""From a name, dict or spec to a full DataSpec: registered datasets and overrides merged."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimass_lab.data._dataset import Dataset
from aimass_lab.data._records import registered_names, registered_row
from aimass_lab.data._target import resolve_target
from aimass_lab.errors import NotFoundError, SpecError, accepted
from aimass_lab.specs import BUILTINS, SOURCE_SCHEME, DataSpec, Spec

if TYPE_CHECKING:
    from aimass_lab.workspace import Workspace

__all__ = ["resolve_named", "resolve_spec"]

_NESTED = ("split", "preprocess", "augment", "options")
_FILE_SOURCES = ("csv", "parquet", "image_folder")


# --------------------------------------------------------------------------------- resolving
def _registered_spec(
    name: str, workspace: Workspace | str | os.PathLike[str] | None
) -> dict[str, Any]:
    row = registered_row(name, workspace)
    if row is None:
        raise NotFoundError(
            f"unknown dataset {name!r}; built-in datasets: {accepted(BUILTINS)}; "
            f"registered in this workspace: {accepted(registered_names(workspace))}. "
            "Register one with aimass_lab.datasets.add(name, ...) or from_csv/from_dataframe(..., name=...)"
        )
    return dict(row["spec"])


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Spec):
            value = value.to_dict()
        if key in _NESTED and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def resolve_named(
    data: Any, workspace: Workspace | str | os.PathLike[str] | None, overrides: Mapping[str, Any]
) -> tuple[DataSpec, str | None, bool]:
    """The spec; for registered datasets the name, and whether the registered spec is unchanged."""
    name: str | None = None
    pristine = not overrides
    if isinstance(data, Dataset):
        base = data.spec.to_dict()
        name = data.name if data.registered else None
    elif isinstance(data, DataSpec):
        base = data.to_dict()
    elif isinstance(data, str):
        if data in BUILTINS:
            base = {"source": "builtin", "name": data}
        else:
            base = _registered_spec(data, workspace)
            name = data
    elif isinstance(data, Mapping):
        base = dict(data)
        wanted = base.get("name")
        if "source" not in base and isinstance(wanted, str) and wanted not in BUILTINS:
            rest = {k: v for k, v in base.items() if k != "name"}
            base = _merge(_registered_spec(wanted, workspace), rest)
            name = wanted
            pristine = pristine and not rest
    else:
        raise SpecError(
            "DataSpec",
            [
                {
                    "field": "",
                    "value": type(data).__name__,
                    "message": "expected a dataset name, a dict, a DataSpec or a Dataset",
                }
            ],
        )
    spec = DataSpec.from_dict(resolve_target(_merge(base, overrides)))
    if (
        spec.source in _FILE_SOURCES
        and spec.path
        and not spec.path.startswith(("sha256:", SOURCE_SCHEME))
    ):
        absolute = str(Path(spec.path).expanduser().absolute())
        if absolute != spec.path:
            spec = spec.model_copy(update={"path": absolute})
    return spec, name, name is not None and pristine


def resolve_spec(
    data: Any, *, workspace: Workspace | str | os.PathLike[str] | None = None, **overrides: Any
) -> DataSpec:
    """The :class:`~aimass_lab.specs.DataSpec` for a name, dict, spec or dataset.

    Parameters
    ----------
    data
        A built-in name (``"iris"``), the name of a dataset registered in the workspace, a
        dict of DataSpec fields, a DataSpec, or a loaded :class:`Dataset`.
    workspace
        Where registered datasets are looked up (default: the process's workspace).
    **overrides
        DataSpec fields to change; ``split``, ``preprocess``, ``augment`` and ``options``
        dicts update the existing values (``split={"seed": 1}`` keeps the fractions).
        File paths are made absolute so that job processes find them.

    Returns
    -------
    DataSpec
        The validated spec.

    Raises
    ------
    NotFoundError
        For an unknown name (the message lists built-in and registered names).
    SpecError
        For invalid fields.

    Examples
    --------
    >>> resolve_spec("iris", split={"seed": 3}).split.seed
    3
    """
    return resolve_named(data, workspace, overrides)[0]
