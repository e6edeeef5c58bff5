"""Choosing a table's target: the default column, the error without one, and the report's
warnings when the target looks like a feature (or a label looks like an input).

The target is never guessed from a column's position or type: a column named ``label``,
``target``, ``class`` or ``y`` (any case) is preselected, otherwise the user names it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import SpecError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LABEL_NAMES",
    "default_target",
    "file_columns",
    "no_target_error",
    "resolve_target",
    "target_warnings",
]

#: Column names taken as the target when none is given (compared case-insensitively).
LABEL_NAMES = ("label", "target", "class", "y")
#: A float target of a classification with more distinct values than this looks continuous.
CONTINUOUS_UNIQUE = 20
#: How to choose a target, from each front door.
HOW_TO_CHOOSE = (
    "choose it with target='<column>' (Python API or spec), --target <column> (CLI), "
    'the target dropdown of the Workbench\'s Data panel, or "target" in the REST body'
)


def default_target(columns: list[str]) -> str | None:
    """The column named like a label (``label``, ``target``, ``class``, ``y``, any case), else
    ``None``.

    Examples
    --------
    >>> default_target(["x1", "Label"]), default_target(["x1", "x2", "x3"])
    ('Label', None)
    """
    by_name = {str(c).lower(): str(c) for c in columns}
    for name in LABEL_NAMES:
        if name in by_name:
            return by_name[name]
    return None


def file_columns(path: str | os.PathLike[str], source: str | None = None) -> list[str]:
    """The column names of a CSV or Parquet file (reads only its header).

    ``source`` is ``"csv"`` or ``"parquet"`` (default: from the file's suffix).
    """
    p = Path(path).expanduser()
    if source is None:
        source = "parquet" if p.suffix.lower() in (".parquet", ".pq") else "csv"
    if source == "parquet":
        import pyarrow.parquet as pq

        return [str(n) for n in pq.read_schema(p).names]
    import pandas as pd

    return [str(c) for c in pd.read_csv(p, nrows=0).columns]


def no_target_error(source: str, columns: list[str]) -> SpecError:
    """The error of a table without a target: its columns and how to choose one."""
    names = ", ".join(repr(c) for c in columns) or "none"
    return SpecError(
        "DataSpec",
        [
            {
                "field": "target",
                "message": f"which column to predict? The {source} file has no column named "
                f"{'/'.join(LABEL_NAMES)}, so the target must be chosen; columns: {names}. "
                + HOW_TO_CHOOSE[0].upper()
                + HOW_TO_CHOOSE[1:],
            }
        ],
    )


def resolve_target(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` of a CSV/Parquet DataSpec with the target filled in (the column named like a
    label), or a :class:`SpecError` naming the columns when there is none.

    Fields that have a target, or are not a readable CSV/Parquet file, come back unchanged.
    """
    source = fields.get("source")
    path = fields.get("path")
    if fields.get("target") or source not in ("csv", "parquet") or not isinstance(path, str):
        return fields
    if path.startswith("sha256:") or not Path(path).expanduser().is_file():
        return fields
    try:
        columns = file_columns(path, source)
    except Exception:  # an unreadable file is reported by the loader
        return fields
    target = default_target(columns)
    if target is None:
        raise no_target_error(source, columns)
    return {**fields, "target": target}


def _looks_like_id(y: pd.Series, target: str) -> bool:
    import pandas as pd

    name = target.lower()
    if name in ("id", "index", "row", "rowid", "row_id") or name.endswith("_id"):
        return True
    if len(y) < 10 or not pd.api.types.is_integer_dtype(y):
        return False
    values = y.to_numpy()
    diffs = values[1:] - values[:-1]
    return bool(y.is_unique and (diffs == 1).all())


def target_warnings(
    X: Any, y: pd.Series, *, task: str, target: str, classes: int | None = None
) -> list[dict[str, Any]]:
    """Warnings when the target looks like a feature or an id, and when a text column named
    like a label is used as an input.

    Parameters
    ----------
    X
        The feature table (a DataFrame; other inputs give only the target's warnings).
    y
        The raw targets.
    task
        ``"classification"`` or ``"regression"``.
    target
        The target's column name.
    classes
        The number of classes (classification).
    """
    import pandas as pd

    warnings: list[dict[str, Any]] = []
    how = "; if it is not what to predict, " + HOW_TO_CHOOSE
    n_unique = int(y.nunique(dropna=True))
    if _looks_like_id(y, target):
        warnings.append(
            {
                "kind": "target",
                "column": target,
                "message": f"the target {target!r} looks like a row id (a distinct value per "
                f"row){how}",
            }
        )
    elif (
        task == "classification"
        and pd.api.types.is_float_dtype(y)
        and n_unique > CONTINUOUS_UNIQUE
        and n_unique > 0.2 * len(y)
    ):
        warnings.append(
            {
                "kind": "target",
                "column": target,
                "message": f"the target {target!r} is a continuous number ({n_unique} distinct "
                f"values) used for classification: it looks like a feature{how}",
            }
        )
    if isinstance(X, pd.DataFrame):
        for c in X.columns:
            if str(c).lower() in LABEL_NAMES and not pd.api.types.is_numeric_dtype(X[c]):
                warnings.append(
                    {
                        "kind": "label_feature",
                        "column": str(c),
                        "message": f"the text column {str(c)!r} is named like a label but is "
                        f"used as an input (the target is {target!r}); to predict it, "
                        + HOW_TO_CHOOSE,
                    }
                )
    return warnings
