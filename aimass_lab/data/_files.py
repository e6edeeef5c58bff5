"""Table files: CSV and Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aimass_lab.data._base import RawData, Source
from aimass_lab.errors import DataError

if TYPE_CHECKING:
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["CSVSource", "ParquetSource"]


def _existing_file(path: str | None, kind: str) -> Path:
    file = Path(path or "").expanduser()
    if not file.is_file():
        where = f" (working directory: {Path.cwd()})" if not file.is_absolute() else ""
        hint = "it is a folder, not a file" if file.is_dir() else "check the path"
        raise DataError(f"{kind} file not found: {file}{where}; {hint}")
    return file


class CSVSource(Source):
    """A CSV file read with :func:`pandas.read_csv`.

    ``spec.options`` are passed to ``read_csv`` (e.g. ``{"sep": ";"}``).
    """

    name = "csv"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData:
        """Read ``spec.path``."""
        file = _existing_file(spec.path, "CSV")
        try:
            frame = pd.read_csv(file, **spec.options)
        except pd.errors.EmptyDataError:
            raise DataError(f"the CSV file {file} is empty: it has no header and no rows") from None
        except (TypeError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the CSV file {file}: {exc}") from None
        return RawData(frame)


class ParquetSource(Source):
    """A Parquet file read with :func:`pandas.read_parquet` (pyarrow).

    ``spec.options`` are passed to ``read_parquet`` (e.g. ``{"columns": [...]}``).
    """

    name = "parquet"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData:
        """Read ``spec.path``."""
        file = _existing_file(spec.path, "Parquet")
        return RawData(read_parquet(file, what=f"the Parquet file {file}", **spec.options))


def read_parquet(file: Path, *, what: str, **options: Any) -> pd.DataFrame:
    """Read a Parquet file, turning reader errors into a :class:`DataError`."""
    try:
        return pd.read_parquet(file, **options)
    except (TypeError, ValueError, OSError) as exc:
        raise DataError(f"cannot read {what}: {exc}") from None
