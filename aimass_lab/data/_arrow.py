"""Arrow access to tables larger than memory: Parquet row groups and memory-mapped Arrow files.

An :class:`ArrowTable` is a list of files and of *units* (a Parquet row group, or a slice of
an Arrow IPC file such as a Hugging Face ``save_to_disk`` folder holds), read one record
batch at a time with the columns asked for. Arrow IPC files are memory-mapped (zero copy);
Parquet pages are compressed and decoded anyway, so they are read with buffered reads, one
row group's column chunks at a time (a memory map would only add the file's pages to the
resident memory). Nothing holds more than a record batch of rows. CSV and JSON Lines files are converted once, streaming, into a
Parquet file in the cache folder (:func:`parquet_cache`) and read from there.
"""

from __future__ import annotations

import glob
import hashlib
import heapq
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from aimass_lab._io import atomic_path
from aimass_lab.data._filecache import cache_dir, file_key
from aimass_lab.data._progress import Progress
from aimass_lab.errors import DataError, accepted

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ArrowTable",
    "Unit",
    "open_hf_folder",
    "open_parquet",
    "parquet_cache",
    "shard_plan",
    "unit_counts",
]

#: Bytes of text the CSV and JSON readers infer column types from (their first block).
INFER_BLOCK_BYTES = 8 << 20
_CACHE_VERSION = "aimass-table-cache-1"
_GLOB = set("*?[")


@dataclass(frozen=True)
class Unit:
    """A piece of a table read as one: ``rows`` rows from global row ``start``.

    ``file`` indexes :attr:`ArrowTable.files`; ``group`` is the Parquet row group, or the
    row offset inside an Arrow IPC file.
    """

    file: int
    group: int
    start: int
    rows: int


class ArrowTable:
    """Rows of Parquet files (read by row group) or Arrow IPC files (memory-mapped).

    Parameters
    ----------
    kind
        ``"parquet"`` or ``"ipc"``.
    files
        The files read, in row order.
    units
        The units, in row order, covering every row once.
    schema
        The Arrow schema (every file has it).
    content
        The files whose bytes are the content (the fingerprint); the CSV or JSON Lines file
        a cached Parquet file was made from, else ``files``.
    what
        A short description for messages (``"the Parquet file x.parquet"``).
    """

    def __init__(
        self,
        kind: str,
        files: Sequence[Path],
        units: Sequence[Unit],
        schema: pa.Schema,
        content: Sequence[Path],
        what: str,
    ) -> None:
        self.kind = kind
        self.files = list(files)
        self.units = list(units)
        self.schema = schema
        self.content = list(content)
        self.what = what
        self._handles: dict[int, Any] = {}
        self._pid = os.getpid()

    @property
    def num_rows(self) -> int:
        """Rows in all files."""
        return sum(u.rows for u in self.units)

    @property
    def column_names(self) -> list[str]:
        """The columns, in schema order."""
        return [str(n) for n in self.schema.names]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handles"] = {}  # each process opens (memory-maps) the files itself
        return state

    def __repr__(self) -> str:
        return f"ArrowTable({self.what}: {self.num_rows} rows, {len(self.units)} units)"

    # -- reading ---------------------------------------------------------------------------
    def _handle(self, file: int) -> Any:
        if self._pid != os.getpid():  # a forked loader worker opens the files itself
            self._handles, self._pid = {}, os.getpid()
        if file not in self._handles:
            path = str(self.files[file])
            if self.kind == "parquet":
                self._handles[file] = pq.ParquetFile(path)
            else:
                self._handles[file] = read_ipc(Path(path))
        return self._handles[file]

    def iter_unit(
        self, unit: Unit, columns: Sequence[str], batch_rows: int
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """``(global row of its first row, record batch)`` of a unit, ``batch_rows`` at a time."""
        handle = self._handle(unit.file)
        start = unit.start
        if self.kind == "parquet":
            batches = handle.iter_batches(
                batch_size=batch_rows, row_groups=[unit.group], columns=list(columns)
            )
        else:
            part = handle.slice(unit.group, unit.rows).select(list(columns))
            batches = part.to_batches(max_chunksize=batch_rows)
        for batch in batches:
            if batch.num_rows:
                yield start, batch
                start += batch.num_rows

    def iter_batches(
        self, columns: Sequence[str], batch_rows: int, units: Sequence[Unit] | None = None
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Every unit's batches in row order (or those of ``units``)."""
        for unit in self.units if units is None else units:
            yield from self.iter_unit(unit, columns, batch_rows)

    def column(self, name: str) -> pa.ChunkedArray:
        """One column of every row (the labels, read up front)."""
        if self.kind == "parquet":
            chunks = [
                self._handle(i).read(columns=[name]).column(0) for i in range(len(self.files))
            ]
        else:
            chunks = [self._handle(i).column(name) for i in range(len(self.files))]
        return pa.chunked_array([c for chunk in chunks for c in chunk.chunks], type=chunks[0].type)

    def read_rows(self, rows: np.ndarray, columns: Sequence[str], batch_rows: int) -> pa.Table:
        """The rows at global positions ``rows`` (ascending), reading only the units holding them."""
        rows = np.asarray(rows, dtype=np.int64)
        pieces = []
        for unit in self.units:
            lo, hi = np.searchsorted(rows, [unit.start, unit.start + unit.rows])
            if lo == hi:
                continue
            wanted = rows[lo:hi]
            for start, batch in self.iter_unit(unit, columns, batch_rows):
                a, b = np.searchsorted(wanted, [start, start + batch.num_rows])
                if a < b:
                    pieces.append(batch.take(pa.array(wanted[a:b] - start)))
        schema = self.schema
        empty = pa.table({c: pa.array([], type=schema.field(c).type) for c in columns})
        return pa.Table.from_batches(pieces) if pieces else empty


def read_ipc(path: Path) -> pa.Table:
    """A memory-mapped Arrow IPC file (stream or file format), without copying it."""
    source = pa.memory_map(str(path), "r")
    try:
        return pa.ipc.open_stream(source).read_all()
    except pa.ArrowInvalid:
        source.seek(0)
        return pa.ipc.open_file(source).read_all()


def unit_counts(units: Sequence[Unit], rows: np.ndarray) -> np.ndarray:
    """How many of the (sorted) ``rows`` each unit holds."""
    starts = np.array([u.start for u in units], dtype=np.int64)
    stops = starts + np.array([u.rows for u in units], dtype=np.int64)
    return np.searchsorted(rows, stops) - np.searchsorted(rows, starts)


def shard_plan(
    counts: np.ndarray, shards: int, *, seed: int, epoch: int, shuffle: bool
) -> list[list[int]]:
    """The units each of ``shards`` readers reads, balanced by rows.

    Units holding rows are taken in row order (or in a seeded order that changes every
    epoch, with ``shuffle``) and each goes to the reader with the fewest rows so far, so
    readers differ by at most one unit. Every process computes the same plan from the same
    arguments, which is what lets distributed ranks and loader workers split the units
    without talking to each other.
    """
    order = np.flatnonzero(counts)
    if shuffle:
        order = np.random.default_rng([seed, epoch, 0x5EED]).permutation(order)
    plan: list[list[int]] = [[] for _ in range(shards)]
    heap = [(0, s) for s in range(shards)]
    for unit in order:
        load, shard = heapq.heappop(heap)
        plan[shard].append(int(unit))
        heapq.heappush(heap, (load + int(counts[unit]), shard))
    return plan


# ------------------------------------------------------------------------------------ Parquet
def parquet_files(path: str) -> list[Path]:
    """The files of a Parquet path: one file, a folder of parts (``**/*.parquet``) or a glob."""
    given = Path(path).expanduser()
    if _GLOB & set(path):
        files = sorted(Path(p) for p in glob.glob(str(given), recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(f"no Parquet file matches {path!r}; check the pattern")
        return files
    if given.is_dir():
        files = sorted(p for p in given.rglob("*.parquet") if p.is_file())
        if not files:
            raise DataError(f"the folder {given} holds no *.parquet file")
        return files
    if given.is_file():
        return [given]
    raise DataError(
        f"Parquet file not found: {given}; give a file, a folder of *.parquet parts or a glob"
    )


def _schema_difference(a: pa.Schema, b: pa.Schema, first: str, second: str) -> str:
    names_a, names_b = set(a.names), set(b.names)
    parts = [f"column {n!r} only in {first}" for n in sorted(names_a - names_b)]
    parts += [f"column {n!r} only in {second}" for n in sorted(names_b - names_a)]
    for n in a.names:
        if n in names_b and a.field(n).type != b.field(n).type:
            parts.append(
                f"column {n!r} is {a.field(n).type} in {first}, {b.field(n).type} in {second}"
            )
    return "; ".join(parts) or "the column order differs"


def open_parquet(
    path: str, *, content: Sequence[Path] | None = None, what: str | None = None
) -> ArrowTable:
    """An :class:`ArrowTable` over Parquet files whose schemas must agree.

    Raises
    ------
    DataError
        When a file cannot be read, or two parts differ in schema (naming both files and the
        differing columns and types).
    """
    files = parquet_files(path)
    units: list[Unit] = []
    schema: pa.Schema | None = None
    start = 0
    for i, file in enumerate(files):
        try:
            meta = pq.ParquetFile(str(file))
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cannot read the Parquet file {file}: {exc}") from None
        file_schema = meta.schema_arrow
        if schema is None:
            schema = file_schema
        elif not schema.equals(file_schema, check_metadata=False):
            raise DataError(
                f"the Parquet parts {files[0]} and {file} have different schemas: "
                f"{_schema_difference(schema, file_schema, files[0].name, file.name)}; every part "
                "must have the same "
                "columns and types"
            )
        for g in range(meta.num_row_groups):
            rows = meta.metadata.row_group(g).num_rows
            if rows:
                units.append(Unit(i, g, start, rows))
                start += rows
    assert schema is not None
    label = what or (
        f"the Parquet file {files[0]}"
        if len(files) == 1
        else f"{len(files)} Parquet files under {path}"
    )
    return ArrowTable("parquet", files, units, schema, content or files, label)


# ------------------------------------------------------------------------- CSV and JSON Lines
def _read_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """pyarrow reader options from ``spec.options`` (a few pandas names are understood)."""
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    allowed = {"csv": ("sep", "delimiter", "column_types"), "jsonl": ("column_types",)}[kind]
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise DataError(
            f"option(s) {accepted(unknown)} are not understood when a {kind} file is streamed; "
            f"accepted: {accepted(allowed)} (or streaming=False to read it with pandas)"
        )
    types = {
        str(k): pa.type_for_alias(str(v))
        for k, v in dict(options.get("column_types") or {}).items()
    }
    if kind == "csv":
        delimiter = options.get("sep", options.get("delimiter", ","))
        return {
            "read_options": pacsv.ReadOptions(block_size=INFER_BLOCK_BYTES),
            "parse_options": pacsv.ParseOptions(delimiter=delimiter),
            "convert_options": pacsv.ConvertOptions(column_types=types),
        }
    schema = pa.schema(list(types.items())) if types else None
    return {
        "read_options": pajson.ReadOptions(block_size=INFER_BLOCK_BYTES),
        "parse_options": pajson.ParseOptions(explicit_schema=schema),
    }


def parquet_cache(
    source: Path,
    kind: str,
    options: dict[str, Any],
    batch_rows: int,
) -> Path:
    """The Parquet copy of a CSV or JSON Lines file, made once (streaming) and cached.

    The cache file lives in ``tables/`` under ``AIMASS_CACHE_DIR`` with a name made from the file's
    path, size, modification time (ns) and the reader options; it is written atomically, in
    row groups of ``batch_rows`` rows. Column types are inferred from the first
    ``INFER_BLOCK_BYTES`` of text (``options["column_types"]`` fixes them).
    """
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    key = json.dumps([_CACHE_VERSION, kind, *file_key(source), options, batch_rows], default=str)
    target = cache_dir() / "tables" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.parquet"
    if target.is_file():
        return target
    reader_options = _read_options(kind, options)
    opener = pacsv.open_csv if kind == "csv" else pajson.open_json
    rows = 0
    try:
        with (
            atomic_path(target) as tmp,
            Progress(None, f"convert {source.name} to Parquet", "rows") as bar,
        ):
            reader = opener(str(source), **reader_options)
            writer = pq.ParquetWriter(str(tmp), reader.schema)
            pending: list[pa.RecordBatch] = []
            for batch in reader:
                pending.append(batch)
                rows += batch.num_rows
                bar.update(batch.num_rows)
                if sum(b.num_rows for b in pending) >= batch_rows:
                    writer.write_table(pa.Table.from_batches(pending), row_group_size=batch_rows)
                    pending = []
            if pending:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=batch_rows)
            writer.close()
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"cannot read the {kind.upper() if kind == 'csv' else 'JSON Lines'} file {source} "
            f"(streamed, after about {rows} rows): {exc}. Column types are inferred from the "
            f"first {INFER_BLOCK_BYTES >> 20} MB; fix them with options={{'column_types': "
            "{'column': 'float64'}}, or read it in memory with streaming=False"
        ) from None
    return target


# ---------------------------------------------------------------------------- Hugging Face
def open_hf_folder(
    path: str, options: dict[str, Any], unit_rows: int = 65_536
) -> tuple[ArrowTable, dict[str, list[str]]]:
    """A Hugging Face ``save_to_disk`` folder, memory-mapped; and its ClassLabel names.

    ``options["split"]`` picks the split of a ``DatasetDict`` folder (default ``"train"``).
    Nothing is downloaded (the library is switched to offline mode).

    Returns
    -------
    tuple
        The table and ``{column: class names}`` for the ClassLabel columns.
    """
    folder = Path(path).expanduser()
    try:
        import datasets
    except ImportError:
        raise DataError(
            "source 'hf' reads Hugging Face datasets folders and needs the optional package "
            "'datasets': pip install datasets (or use source 'parquet', 'csv' or 'jsonl')"
        ) from None
    datasets.config.HF_DATASETS_OFFLINE = True
    datasets.config.HF_HUB_OFFLINE = True
    if not folder.is_dir():
        raise DataError(
            f"Hugging Face dataset folder not found: {folder}; give a folder written by save_to_disk"
        )
    try:
        loaded = datasets.load_from_disk(str(folder), keep_in_memory=False)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise DataError(f"cannot read the Hugging Face dataset folder {folder}: {exc}") from None
    if isinstance(loaded, datasets.DatasetDict):
        split = str(options.get("split", "train"))
        if split not in loaded:
            raise DataError(
                f"the dataset folder {folder} has no split {split!r}; splits: {accepted(list(loaded))} "
                "(choose one with options={'split': ...})"
            )
        loaded = loaded[split]
    files = [Path(f["filename"]) for f in loaded.cache_files]
    if not files:
        raise DataError(f"the Hugging Face dataset at {folder} has no Arrow files on disk")
    units: list[Unit] = []
    start = 0
    step = int(unit_rows)
    for i, file in enumerate(files):
        n = read_ipc(file).num_rows
        for offset in range(0, n, step):
            rows = min(step, n - offset)
            units.append(Unit(i, offset, start, rows))
            start += rows
    names = {
        str(c): list(f.names)
        for c, f in loaded.features.items()
        if isinstance(f, datasets.ClassLabel)
    }
    schema = read_ipc(files[0]).schema
    return ArrowTable(
        "ipc", files, units, schema, files, f"the Hugging Face dataset {folder}"
    ), names


def to_series(column: pa.ChunkedArray, name: str) -> pd.Series:
    """A pandas Series of an Arrow column (numbers with nulls become floats with NaN)."""
    return column.to_pandas().rename(name).reset_index(drop=True)
