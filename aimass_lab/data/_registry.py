"""Named datasets in the workspace's ``datasets`` table, and the ``from_*`` constructors."""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from aimass_lab.data._dataset import Dataset
from aimass_lab.data._load import load
from aimass_lab.data._records import check_name, registered_names, registered_row, row_dict
from aimass_lab.errors import AimassWarning, NotFoundError, SpecError, accepted
from aimass_lab.specs import BUILTINS, DataSpec
from aimass_lab.workspace import DatasetRow, resolve_workspace, utcnow

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from aimass_lab.workspace import Workspace

__all__ = [
    "add",
    "from_csv",
    "from_dataframe",
    "from_images",
    "from_numpy",
    "from_parquet",
    "from_sql",
    "get",
    "list_datasets",
    "registered_names",
    "registered_row",
    "remove",
]


def add(
    name: str,
    data: Any,
    *,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    description: str | None = None,
) -> Dataset:
    """Register a dataset under ``name`` in the workspace (replacing one of that name).

    The data is loaded once to check it; the spec (with the task filled in) and the
    fingerprint are recorded in the ``datasets`` table, so every front door and job process
    on the workspace can load it by name.

    Parameters
    ----------
    name
        1-200 letters, digits, ``_``, ``-`` or ``.``; not a built-in name.
    data
        Anything :func:`aimass_lab.data.load` takes, or a loaded :class:`Dataset`.
    workspace
        The workspace (default: the process's).
    description
        One line for listings.

    Returns
    -------
    Dataset
        The loaded dataset, named ``name``.

    Examples
    --------
    >>> ds = add("iris-seed3", {"name": "iris", "split": {"seed": 3}})  # doctest: +SKIP
    >>> get("iris-seed3").fingerprint == ds.fingerprint  # doctest: +SKIP
    True
    """
    check_name(name)
    ws = resolve_workspace(workspace)
    dataset = data if isinstance(data, Dataset) else load(data, workspace=ws)
    _bring_artifact(dataset, ws)
    spec = dataset.spec.to_dict()
    with ws.store.session() as session:
        row = session.get(DatasetRow, name)
        if row is None:
            session.add(
                DatasetRow(
                    name=name,
                    spec=spec,
                    fingerprint=dataset.fingerprint,
                    description=description,
                    created_at=utcnow(),
                )
            )
        else:
            row.spec = spec
            row.fingerprint = dataset.fingerprint
            row.description = description
            row.created_at = utcnow()
    dataset.name = name
    dataset.registered = True
    if dataset._report is not None:
        dataset._report.name = name
    return dataset


def _bring_artifact(dataset: Dataset, ws: Workspace) -> None:
    """Copy a stored DataFrame/array into ``ws`` when the dataset was loaded from another workspace."""
    path = dataset.spec.path or ""
    if not path.startswith("sha256:") or ws.artifacts.exists(path):
        return
    origin = resolve_workspace(dataset.workspace)
    if origin.artifacts.exists(path):
        digest = ws.artifacts.put_file(origin.artifacts.verify(path))
        assert digest == path.removeprefix("sha256:")


def get(name: str, workspace: Workspace | str | os.PathLike[str] | None = None) -> Dataset:
    """Load a built-in or registered dataset by name.

    Warns (:class:`~aimass_lab.errors.AimassWarning`) when the registered data changed since it was added: the
    fingerprint then differs from the recorded one.

    Raises
    ------
    NotFoundError
        For an unknown name; the message lists built-in and registered names.
    """
    if name in BUILTINS:
        return load(name)
    ws = resolve_workspace(workspace)
    dataset = load(name, workspace=ws)
    row = registered_row(name, ws)
    if row is not None and row["fingerprint"] and row["fingerprint"] != dataset.fingerprint:
        warnings.warn(
            f"the data behind dataset {name!r} changed since it was registered: its fingerprint is "
            f"{dataset.fingerprint[:12]}, the registry recorded {row['fingerprint'][:12]}. Models trained "
            f"on the old data are not comparable; register it again with add({name!r}, ...)",
            AimassWarning,
            stacklevel=2,
        )
    return dataset


def list_datasets(
    workspace: Workspace | str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Built-in datasets, then the workspace's registered ones.

    Returns
    -------
    list of dict
        ``name``, ``source``, ``task``, ``description``, ``registered``, ``fingerprint``,
        ``created_at`` (JSON types).
    """
    out: list[dict[str, Any]] = [
        {
            "name": b.name,
            "source": "builtin",
            "task": b.task,
            "description": b.description,
            "registered": False,
            "fingerprint": None,
            "created_at": None,
        }
        for b in BUILTINS.values()
    ]
    ws = resolve_workspace(workspace)
    with ws.store.session() as session:
        rows = [row_dict(r) for r in session.scalars(select(DatasetRow).order_by(DatasetRow.name))]
    for row in rows:
        spec = row["spec"]
        out.append(
            {
                "name": row["name"],
                "source": spec.get("source", "builtin"),
                "task": spec.get("task"),
                "description": row["description"],
                "registered": True,
                "fingerprint": row["fingerprint"],
                "created_at": row["created_at"],
            }
        )
    return out


def remove(name: str, workspace: Workspace | str | os.PathLike[str] | None = None) -> None:
    """Forget a registered dataset (stored files stay in the content-addressed artifacts).

    Raises
    ------
    SpecError
        For a built-in name.
    NotFoundError
        When no dataset of that name is registered.
    """
    if name in BUILTINS:
        raise SpecError(
            "dataset name",
            [{"field": "name", "value": name, "message": "built-in datasets cannot be removed"}],
        )
    ws = resolve_workspace(workspace)
    with ws.store.session() as session:
        row = session.get(DatasetRow, name)
        if row is None:
            names = list(session.scalars(select(DatasetRow.name).order_by(DatasetRow.name)))
            raise NotFoundError(f"no registered dataset {name!r}; registered: {accepted(names)}")
        session.delete(row)


# --------------------------------------------------------------------------- constructors
def _finish(
    spec_fields: dict[str, Any],
    name: str | None,
    workspace: Workspace | str | os.PathLike[str] | None,
    description: str | None,
) -> Dataset:
    if name is not None:
        check_name(name)
    spec = DataSpec(**spec_fields)
    if name is not None:
        return add(
            name, load(spec, workspace=workspace), workspace=workspace, description=description
        )
    return load(spec, workspace=workspace)


def from_dataframe(
    df: pd.DataFrame,
    target: str,
    *,
    name: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    description: str | None = None,
    **spec_fields: Any,
) -> Dataset:
    """A dataset from a pandas DataFrame that holds the target column.

    The DataFrame is stored as Parquet in the workspace's artifacts (content-addressed), so
    job processes load exactly this data; with ``name`` it is also registered.

    Parameters
    ----------
    df
        The table.
    target
        The column to predict.
    name
        Register under this name.
    workspace
        The workspace (default: the process's).
    description
        One line for listings (with ``name``).
    **spec_fields
        More DataSpec fields: ``features``, ``task``, ``split``, ``preprocess``, ``augment``.

    Examples
    --------
    >>> import pandas as pd  # doctest: +SKIP
    >>> df = pd.DataFrame({"x": range(100), "y": [i % 2 for i in range(100)]})  # doctest: +SKIP
    >>> from_dataframe(df, "y", name="parity").task  # doctest: +SKIP
    'classification'
    """
    from aimass_lab.data._memory import store_dataframe

    if name is not None:
        check_name(name)
    ws = resolve_workspace(workspace)
    digest = store_dataframe(df, ws)
    fields = {"source": "dataframe", "path": digest, "target": target, "name": name, **spec_fields}
    return _finish(fields, name, ws, description)


def from_numpy(
    X: np.ndarray | Any,
    y: np.ndarray | Any,
    *,
    name: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    description: str | None = None,
    feature_names: list[str] | None = None,
    **spec_fields: Any,
) -> Dataset:
    """A dataset from NumPy arrays: ``X`` as ``(N, F)`` rows or ``(N, C, H, W)`` images, ``y`` as ``(N,)``.

    The arrays are stored as an ``.npz`` in the workspace's artifacts; with ``name`` the
    dataset is also registered.

    Parameters
    ----------
    X, y
        Features and targets.
    name, workspace, description
        As for :func:`from_dataframe`.
    feature_names
        Names of the columns of a 2-D ``X`` (default ``x0, x1, ...``).
    **spec_fields
        More DataSpec fields (``task``, ``split``, ``preprocess``, ``augment``, ``target``).
    """
    from aimass_lab.data._memory import store_numpy

    if name is not None:
        check_name(name)
    ws = resolve_workspace(workspace)
    digest = store_numpy(X, y, ws)
    options = dict(spec_fields.pop("options", {}) or {})
    if feature_names is not None:
        options["feature_names"] = [str(n) for n in feature_names]
    fields = {"source": "numpy", "path": digest, "name": name, "options": options, **spec_fields}
    return _finish(fields, name, ws, description)


def from_csv(
    path: str | os.PathLike[str],
    target: str | None = None,
    *,
    name: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    description: str | None = None,
    **spec_fields: Any,
) -> Dataset:
    """A dataset from a CSV file (``options`` go to :func:`pandas.read_csv`); registered with ``name``.

    ``target`` defaults to the column named label, target, class or y (any case); a file
    without one needs ``target`` (the error lists its columns).
    """
    fields = {"source": "csv", "path": os.fspath(path), "target": target, **spec_fields}
    return _finish(fields, name, workspace, description)


def from_parquet(
    path: str | os.PathLike[str],
    target: str | None = None,
    *,
    name: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    description: str | None = None,
    **spec_fields: Any,
) -> Dataset:
    """A dataset from a Parquet file; registered with ``name`` (``target`` as for
    :func:`from_csv`)."""
    fields = {"source": "parquet", "path": os.fspath(path), "target": target, **spec_fields}
    return _finish(fields, name, workspace, description)


def from_images(
    path: str | os.PathLike[str],
    *,
    image_size: int | None = None,
    name: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    description: str | None = None,
    **spec_fields: Any,
) -> Dataset:
    """A dataset from a folder with one subfolder of images per class; registered with ``name``."""
    fields = {
        "source": "image_folder",
        "path": os.fspath(path),
        "image_size": image_size,
        **spec_fields,
    }
    return _finish(fields, name, workspace, description)


def from_sql(
    url: str,
    query: str,
    target: str,
    *,
    name: str | None = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    description: str | None = None,
    **spec_fields: Any,
) -> Dataset:
    """A dataset from the rows of a SQL query (SQLAlchemy URL); registered with ``name``.

    The URL is stored in the spec (and so in the workspace and every job that uses it) as
    given. Keep passwords out of it: write ``${NAME}`` for an environment variable read at
    load time (``postgresql://analyst:${SHOP_DB_PASSWORD}@db/shop``), name a data source of
    the workspace (``source://warehouse``: its credential stays in the secret store and only
    users it is granted to may load it), or use ``~/.pgpass``, peer or certificate
    authentication. A URL with a password as such gives a warning.
    """
    from aimass_lab.data._sql import literal_password

    if literal_password(url):
        warnings.warn(
            "the database URL holds a password, which is stored with the dataset's spec in "
            "the workspace; write ${NAME} for an environment variable instead "
            "(postgresql://user:${DB_PASSWORD}@host/db)",
            AimassWarning,
            stacklevel=2,
        )
    fields = {"source": "sql", "url": url, "query": query, "target": target, **spec_fields}
    return _finish(fields, name, workspace, description)
