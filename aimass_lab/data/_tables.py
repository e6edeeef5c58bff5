"""Tables larger than memory, read through Apache Arrow; JSON Lines and Hugging Face sources.

``DataSpec.streaming`` chooses the path of a table source (CSV, Parquet, JSON Lines,
Hugging Face ``datasets`` folders):

* ``False``: today's in-memory path (pandas, :class:`~aimass_lab.data.RawData`);
* ``True``: streamed (:class:`ArrowLazyData`): labels read up front (one column), features
  read in Arrow record batches by the ``DataLoader``;
* ``"auto"`` (default): streamed when the table would take more than
  ``AIMASS_DATA_IN_MEMORY_MB`` (default 256 MB) as float64: rows x columns x 8 bytes from
  the Parquet or Arrow metadata, the file size for CSV and JSON Lines.

A streamed table's preprocessing is fitted on a seeded random sample of the training rows
(all of them when there are fewer): at most :data:`FIT_SAMPLE_ROWS` (100,000) rows and at
most :data:`FIT_SAMPLE_BYTES` (32 MB) of raw values as float64 (rows x features x 8 bytes,
so 40,000 rows of 100 features), then applied to each record batch. CSV and JSON Lines files are converted once, streaming, into a Parquet file in
``AIMASS_CACHE_DIR`` (keyed by path, size and mtime) and read from there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aimass_lab.data._arrow import (
    ArrowTable,
    open_hf_folder,
    open_parquet,
    parquet_cache,
    read_ipc,
    to_series,
)
from aimass_lab.data._base import LazyData, RawData, Source
from aimass_lab.data._filecache import cached_digests
from aimass_lab.data._preprocess import Preprocessor
from aimass_lab.data._tablesamples import StreamedTableSamples
from aimass_lab.errors import DataError, accepted
from aimass_lab.settings import settings

if TYPE_CHECKING:
    from aimass_lab.data._report import DataReport
    from aimass_lab.data._samples import Samples
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = [
    "FIT_SAMPLE_BYTES",
    "FIT_SAMPLE_ROWS",
    "ArrowLazyData",
    "HFDatasetSource",
    "JSONLinesSource",
    "arrow_table",
    "existing_file",
    "open_table",
    "streams",
]

#: Training rows (at most) the preprocessing of a streamed table is fitted on.
FIT_SAMPLE_ROWS = 100_000
#: ... and at most this many bytes of them as float64 (rows x features x 8).
FIT_SAMPLE_BYTES = 32 << 20


def streams(spec: DataSpec, nbytes: float) -> bool:
    """Whether a table of about ``nbytes`` (as float64) is streamed, as ``spec.streaming`` says."""
    if spec.streaming == "auto":
        return nbytes > settings().data_in_memory_mb * (1 << 20)
    return bool(spec.streaming)


def existing_file(path: str | None, kind: str) -> Path:
    """``path`` as a file that exists, or a DataError naming it and the working directory."""
    file = Path(path or "").expanduser()
    if not file.is_file():
        where = f" (working directory: {Path.cwd()})" if not file.is_absolute() else ""
        hint = "it is a folder, not a file" if file.is_dir() else "check the path"
        raise DataError(f"{kind} file not found: {file}{where}; {hint}")
    return file


def named_classes(codes: pd.Series, names: list[str]) -> pd.Series:
    """ClassLabel indices as their names (missing stays missing), vectorised."""
    values = codes.to_numpy(dtype=np.float64, na_value=np.nan)
    present = ~np.isnan(values)
    out = np.full(len(values), None, dtype=object)
    out[present] = np.asarray(names, dtype=object)[values[present].astype(np.int64)]
    return pd.Series(out, name=codes.name)


def open_table(
    spec: DataSpec, workspace: Workspace | None
) -> tuple[ArrowTable, dict[str, list[str]]]:
    """The :class:`ArrowTable` of a table spec and its class names (Hugging Face ClassLabels).

    CSV and JSON Lines are converted to a cached Parquet file first (once).
    """
    batch_rows = spec.loader.batch_rows
    if spec.source == "parquet":
        return open_parquet(str(spec.path)), {}
    if spec.source == "hf":
        return open_hf_folder(str(spec.path), spec.options, unit_rows=batch_rows)
    if spec.source in ("csv", "jsonl"):
        kind = "CSV" if spec.source == "csv" else "JSON Lines"
        source = existing_file(spec.path, kind)
        cached = parquet_cache(source, spec.source, dict(spec.options), batch_rows)
        table = open_parquet(str(cached), content=[source], what=f"the {kind} file {source}")
        return table, {}
    raise DataError(
        f"source {spec.source!r} is not streamed; streamed tables: 'csv', 'parquet', 'jsonl', 'hf'"
    )


def arrow_table(spec: DataSpec, workspace: Workspace | None) -> tuple[Any, list[Path]]:
    """The Arrow data of a table spec for other stages (the text stage reads its column here).

    Returns
    -------
    tuple
        ``(data, files)``: a ``pyarrow.dataset.Dataset`` over the Parquet files (the cached
        Parquet copy for CSV and JSON Lines), or a memory-mapped ``pyarrow.Table`` for a
        Hugging Face folder; and the files whose bytes are the content.
    """
    import pyarrow as pa
    import pyarrow.dataset as pads

    table, _ = open_table(spec, workspace)
    if table.kind == "parquet":
        return pads.dataset([str(f) for f in table.files], format="parquet"), table.content
    return pa.concat_tables([read_ipc(f) for f in table.files]), table.content


class ArrowLazyData(LazyData):
    """A table read in Arrow record batches: the target column up front, features on demand.

    Rows whose target is missing stop the load with the usual error, or with
    ``on_bad_record="skip"`` are left out and counted (:attr:`skipped`, the report, the
    parts' repr).
    """

    def __init__(
        self,
        spec: DataSpec,
        table: ArrowTable,
        class_names: dict[str, list[str]] | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        self.table = table
        self.workspace = workspace
        self.batch_rows = spec.loader.batch_rows
        columns = table.column_names
        target = str(spec.target)
        if target not in columns:
            raise DataError(
                f"target column {target!r} not found in {table.what}; columns: {', '.join(columns)}"
            )
        if spec.features:
            missing = [f for f in spec.features if f not in columns]
            if missing:
                raise DataError(
                    f"feature column(s) {accepted(missing)} not found; columns: {', '.join(columns)}"
                )
            if target in spec.features:
                raise DataError(
                    f"the target column {target!r} cannot also be a feature; remove it from features"
                )
        self.features = list(spec.features or [c for c in columns if c != target])
        if not self.features:
            raise DataError(
                f"there are no feature columns: {table.what} holds only the target {target!r}"
            )
        self.target_name = target
        self.target = target
        y = to_series(table.column(target), target)
        names = (class_names or {}).get(target)
        self.names = names
        if names is not None:
            self.classes = names
            y = named_classes(y, names)
        self.kept: np.ndarray | None = None  # table rows of the dataset's rows (None: all)
        self.skipped = 0
        self.skipped_rows: list[int] = []
        if spec.on_bad_record == "skip":
            bad = np.asarray(y.isna(), dtype=bool)
            if bad.any():
                self.skipped_rows = [int(r) for r in np.flatnonzero(bad)[:10]]
                self.skipped = int(bad.sum())
                self.kept = np.flatnonzero(~bad).astype(np.int64)
                y = y[~bad]
        self.y = y.reset_index(drop=True)

    def content_digest(self) -> str:
        """sha256 of the files' bytes (cached by path, size and mtime) and the columns read."""
        digest = hashlib.sha256(b"aimass-arrow-table-1\n")
        for file, sha in zip(
            self.table.content,
            cached_digests(self.table.content, desc="fingerprint"),
            strict=True,
        ):
            digest.update(f"{Path(file).name}:{sha}\n".encode())
        digest.update(f"features:{self.features}\ntarget:{self.target_name}\n".encode())
        return digest.hexdigest()

    def table_rows(self, positions: np.ndarray) -> np.ndarray:
        """The table rows of dataset rows ``positions`` (they differ when rows were skipped)."""
        return positions if self.kept is None else self.kept[positions]

    def fit_sample(self, train: np.ndarray, seed: int) -> np.ndarray:
        """The training rows (table positions, ascending) the preprocessing is fitted on."""
        size = min(FIT_SAMPLE_ROWS, max(1_000, FIT_SAMPLE_BYTES // (8 * len(self.features))))
        if len(train) <= size:
            return train
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(train, size, replace=False))

    def build_parts(
        self, spec: DataSpec, indices: dict[str, np.ndarray], labels: np.ndarray, task: str
    ) -> tuple[dict[str, Samples], Preprocessor]:
        rows = {part: self.table_rows(idx) for part, idx in indices.items()}
        pre = Preprocessor.from_spec(spec.preprocess, kind="tabular")
        # a bounded sample of the training part (feature selection too: see docs/data.md)
        positions = self.fit_sample(indices["train"], spec.split.seed)
        sample = self.table_rows(positions)
        frame = self.table.read_rows(sample, self.features, self.batch_rows).to_pandas()
        pre.fit(frame, labels[positions], task)
        import pyarrow as pa

        pa.default_memory_pool().release_unused()  # the decoded row groups of the sample pass
        parts: dict[str, Samples] = {
            part: StreamedTableSamples(
                labels[indices[part]],
                table=self.table,
                rows=rows[part],
                preprocessor=pre,
                columns=self.features,
                target=self.target,
                batch_rows=self.batch_rows,
                skipped=self.skipped,
                names=self.names,
            )
            for part in ("train", "val", "test")
        }
        return parts, pre

    def report(
        self,
        *,
        name: str,
        task: str,
        target: str,
        classes: list[Any] | None,
        indices: dict[str, np.ndarray],
    ) -> DataReport:
        from aimass_lab.data._tablereport import table_report

        return table_report(
            self.table,
            features=self.features,
            target=self.target,
            y=self.y,
            kept=self.table_rows(np.arange(len(self.y), dtype=np.int64)),
            name=name,
            task=task,
            classes=classes,
            parts={part: self.table_rows(idx) for part, idx in indices.items()},
            skipped=self.skipped,
            skipped_rows=self.skipped_rows,
            batch_rows=self.batch_rows,
        )

    def __repr__(self) -> str:
        skipped = f", {self.skipped} rows without a target skipped" if self.skipped else ""
        return f"ArrowLazyData({self.table.what}: {len(self.y)} rows{skipped})"


def lazy_table(spec: DataSpec, workspace: Workspace | None) -> ArrowLazyData:
    """The streamed data of a table spec."""
    table, names = open_table(spec, workspace)
    return ArrowLazyData(spec, table, names, workspace)


def memory_or_stream(
    spec: DataSpec, workspace: Workspace | None, frame: pd.DataFrame
) -> RawData | LazyData:
    """A table read in memory, or streamed after all when rows without a target are to be skipped."""
    target = spec.target
    if spec.on_bad_record == "skip" and target in frame.columns and frame[target].isna().any():
        return lazy_table(spec, workspace)
    return RawData(frame)


class JSONLinesSource(Source):
    """A JSON Lines file (one JSON object per line): in memory with pandas, or streamed.

    In memory, ``spec.options`` go to :func:`pandas.read_json`; streamed (see
    :func:`streams`), the file is converted once to a cached Parquet file
    (``options["column_types"]`` fixes column types).
    """

    name = "jsonl"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData | LazyData:
        """Read ``spec.path``."""
        file = existing_file(spec.path, "JSON Lines")
        if spec.text is None and streams(spec, file.stat().st_size):
            return lazy_table(spec, workspace)
        try:
            frame = pd.read_json(file, lines=True, **spec.options)
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the JSON Lines file {file}: {exc}") from None
        if frame.empty:
            raise DataError(f"the JSON Lines file {file} is empty: it has no rows")
        return memory_or_stream(spec, workspace, frame)


class HFDatasetSource(Source):
    """A Hugging Face ``datasets`` folder written by ``save_to_disk`` (memory-mapped Arrow).

    Needs the optional ``datasets`` package; nothing is downloaded. ``options["split"]``
    picks the split of a ``DatasetDict`` folder (default ``"train"``). ClassLabel targets
    keep their class names.
    """

    name = "hf"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData | LazyData:
        """Read ``spec.path``."""
        table, names = open_hf_folder(
            str(spec.path), spec.options, unit_rows=spec.loader.batch_rows
        )
        nbytes = table.num_rows * len(table.column_names) * 8
        if spec.text is None and streams(spec, nbytes):
            return ArrowLazyData(spec, table, names, workspace)
        import pyarrow as pa

        frame = pa.concat_tables([read_ipc(f) for f in table.files]).to_pandas()
        for column, classes in names.items():
            frame[column] = named_classes(frame[column], classes)
        return memory_or_stream(spec, workspace, frame)
