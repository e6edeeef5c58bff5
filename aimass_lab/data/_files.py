"""Table files: CSV and Parquet, in memory or streamed (see :mod:`aimass_lab.data._tables`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aimass_lab.data._base import LazyData, RawData, Source
from aimass_lab.data._tables import (
    ArrowLazyData,
    existing_file,
    lazy_table,
    memory_or_stream,
    open_table,
    streams,
)
from aimass_lab.errors import DataError

if TYPE_CHECKING:
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["CSVSource", "ParquetSource"]


class CSVSource(Source):
    """A CSV file read with :func:`pandas.read_csv`, or streamed through Arrow when large.

    In memory, ``spec.options`` are passed to ``read_csv`` (e.g. ``{"sep": ";"}``).
    Streamed (``spec.streaming``; ``"auto"``: when the file is larger than
    ``AIMASS_DATA_IN_MEMORY_MB``), the file is converted once into a cached Parquet file
    (``sep`` and ``column_types`` options are understood).
    """

    name = "csv"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData | LazyData:
        """Read ``spec.path``."""
        file = existing_file(spec.path, "CSV")
        if spec.text is None and streams(spec, file.stat().st_size):
            return lazy_table(spec, workspace)
        try:
            frame = pd.read_csv(file, **spec.options)
        except pd.errors.EmptyDataError:
            raise DataError(f"the CSV file {file} is empty: it has no header and no rows") from None
        except (TypeError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the CSV file {file}: {exc}") from None
        return memory_or_stream(spec, workspace, frame)


class ParquetSource(Source):
    """Parquet: one file, a folder of parts (``**/*.parquet``) or a glob.

    In memory, read with :func:`pandas.read_parquet` (``spec.options`` are passed to it,
    e.g. ``{"columns": [...]}``); streamed (``spec.streaming``; ``"auto"``: when rows x
    columns x 8 bytes exceed ``AIMASS_DATA_IN_MEMORY_MB``), read by row group and record
    batch. The parts of a folder must share one schema.
    """

    name = "parquet"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData | LazyData:
        """Read ``spec.path``."""
        table, _ = open_table(spec, workspace)
        if spec.text is None and streams(spec, table.num_rows * len(table.column_names) * 8):
            return ArrowLazyData(spec, table, {}, workspace)
        frames = [
            read_parquet(file, what=f"the Parquet file {file}", **spec.options)
            for file in table.files
        ]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        return memory_or_stream(spec, workspace, frame)


def read_parquet(file: Path, *, what: str, **options: Any) -> pd.DataFrame:
    """Read a Parquet file, turning reader errors into a :class:`DataError`."""
    try:
        return pd.read_parquet(file, **options)
    except (TypeError, ValueError, OSError) as exc:
        raise DataError(f"cannot read {what}: {exc}") from None
