"""In-memory data kept as workspace artifacts: DataFrames (Parquet) and NumPy arrays (.npz).

:func:`aimass_lab.data.from_dataframe` and :func:`aimass_lab.data.from_numpy` store the data
in the workspace's content-addressed :class:`~aimass_lab.workspace.ArtifactStore`; the spec
then names it by ``path="sha256:<hex>"``, so a detached job process can load it again.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aimass_lab.data._base import RawData, Source
from aimass_lab.data._files import read_parquet
from aimass_lab.errors import DataError
from aimass_lab.workspace import resolve_workspace

if TYPE_CHECKING:
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["DataFrameSource", "NumpySource", "store_dataframe", "store_numpy"]

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def _artifact(spec: DataSpec, workspace: Workspace | None, kind: str) -> Path:
    path = spec.path or ""
    if not path.startswith("sha256:"):
        raise DataError(
            f"source {spec.source!r} needs path='sha256:<hex>' naming a workspace artifact; got {path!r}. "
            f"Create it with aimass_lab.datasets.from_{kind}(...)"
        )
    ws = resolve_workspace(workspace)
    try:
        if not ws.artifacts.exists(path):
            raise DataError(
                f"the {kind} data {path[:19]}… is not in the workspace {ws.path}; it was stored in "
                "another workspace: open that one, or store the data again here with "
                f"aimass_lab.datasets.from_{kind}(...)"
            )
    except DataError:
        raise
    except Exception as exc:  # malformed digest
        raise DataError(f"bad artifact path {path!r}: {exc}") from None
    return ws.artifacts.verify(path, label=f"the {kind} data {path[:19]}…")


class DataFrameSource(Source):
    """A DataFrame stored as a Parquet artifact by :func:`aimass_lab.data.from_dataframe`."""

    name = "dataframe"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData:
        """Read the Parquet artifact ``spec.path``."""
        file = _artifact(spec, workspace, "dataframe")
        return RawData(read_parquet(file, what=f"the stored DataFrame {spec.path}"))


class NumpySource(Source):
    """Arrays ``X`` and ``y`` stored as an ``.npz`` artifact by :func:`aimass_lab.data.from_numpy`.

    A 2-D ``X`` is a table (columns ``x0, x1, ...`` or ``options["feature_names"]``);
    ``(N, C, H, W)`` or ``(N, H, W)`` arrays are images.
    """

    name = "numpy"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData:
        """Read the ``.npz`` artifact ``spec.path``."""
        file = _artifact(spec, workspace, "numpy")
        try:
            with np.load(file, allow_pickle=False) as npz:
                if "X" not in npz or "y" not in npz:
                    raise DataError(
                        f"the stored arrays {spec.path} must hold 'X' and 'y'; found {sorted(npz.files)}"
                    )
                X, y = npz["X"], npz["y"]
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise DataError(f"cannot read the stored arrays {spec.path}: {exc}") from None
        if X.ndim == 2:
            names = spec.options.get("feature_names")
            if names is None:
                names = [f"x{i}" for i in range(X.shape[1])]
            elif len(names) != X.shape[1]:
                raise DataError(
                    f"options.feature_names has {len(names)} names but X has {X.shape[1]} columns"
                )
            return RawData(
                pd.DataFrame(X, columns=[str(n) for n in names]), y, target_name=spec.target
            )
        return RawData(X, y, target_name=spec.target)


def store_dataframe(frame: pd.DataFrame, workspace: Workspace) -> str:
    """Write ``frame`` as Parquet into the workspace's artifacts; return ``"sha256:<hex>"``."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame; got {type(frame).__name__}")
    frame = frame.copy()
    frame.columns = pd.Index([str(c) for c in frame.columns])
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError(f"the DataFrame has duplicate column names {dupes}; rename them first")
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (TypeError, ValueError) as exc:  # pyarrow cannot store some object columns
        raise DataError(f"cannot store the DataFrame as Parquet: {exc}") from None
    return "sha256:" + workspace.artifacts.put_bytes(buffer.getvalue())


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def store_numpy(X: Any, y: Any, workspace: Workspace) -> str:
    """Write ``X`` and ``y`` as an ``.npz`` into the workspace's artifacts; return ``"sha256:<hex>"``.

    The archive has fixed timestamps, so the same arrays always give the same digest.
    """
    X_arr, y_arr = np.asarray(X), np.asarray(y)
    for label, arr in (("X", X_arr), ("y", y_arr)):
        if arr.dtype == object:
            raise DataError(
                f"{label} has dtype object, which cannot be stored safely (no pickle); "
                "convert it to numbers or strings first (e.g. X.astype('float32'))"
            )
    if X_arr.ndim < 2:
        raise DataError(f"X must have one row per sample (2-D or more); got shape {X_arr.shape}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for label, arr in (("X", X_arr), ("y", y_arr)):
            info = zipfile.ZipInfo(f"{label}.npy", date_time=_FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _npy_bytes(np.ascontiguousarray(arr)))
    return "sha256:" + workspace.artifacts.put_bytes(buffer.getvalue())
