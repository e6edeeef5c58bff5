"""Text classification and regression: a table's text column, tokenized into token-id parts.

:class:`TextData` is the :class:`~aimass_lab.data._base.LazyData` of a text column: the
labels and the texts (one compact Arrow string array) are held up front, bad records are
found in one pass; :meth:`TextData.build_parts` fits (or loads) the tokenizer on the
training part only and encodes every part once, in chunks, into flat ``int32`` tokens.
Both the in-memory tables (:func:`text_data_from_raw`) and streamed Arrow tables (give
:class:`TextData` a pyarrow ``ChunkedArray`` of the column) come through here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aimass_lab.data._base import LazyData, RawData
from aimass_lab.data._progress import Progress
from aimass_lab.data._samples import Samples
from aimass_lab.data._text import (
    ENCODE_CHUNK,
    TextPreprocessor,
    configure,
    encode_texts,
    load_tokenizer,
    pad_batch,
    train_tokenizer,
)
from aimass_lab.errors import DataError
from aimass_lab.specs import BUILTINS

if TYPE_CHECKING:
    from collections.abc import Callable

    from aimass_lab.data._preprocess import Preprocessor
    from aimass_lab.data._report import DataReport
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = [
    "TextData",
    "TextSamples",
    "text_data_from_raw",
    "text_data_from_table",
    "text_from_arrow",
    "text_read_spec",
    "text_spec",
]

#: Bad records named in an error or a report.
SHOWN_BAD = 10
_REPLACEMENT = "\ufffd"


# -------------------------------------------------------------------------------- the spec
def text_spec(spec: DataSpec) -> DataSpec:
    """``spec`` with ``text`` set for a built-in text dataset (``"reviews"``)."""
    if spec.text is None and spec.source == "builtin" and spec.name in BUILTINS:
        column = BUILTINS[spec.name].text
        if column:
            return spec.model_copy(update={"text": column})
    return spec


def _replaces_bad_bytes(spec: DataSpec) -> bool:
    return spec.source == "csv" and not {"encoding", "encoding_errors"} & set(spec.options)


def text_read_spec(spec: DataSpec) -> DataSpec:
    """The spec a source reads a text table with.

    A CSV marks bytes that are not UTF-8 with U+FFFD (without it, one undecodable row stops
    the whole read); and the source reads every row (``on_bad_record="error"``), so that
    :class:`TextData` finds, names or skips the bad ones (missing or undecodable texts,
    missing targets) itself.
    """
    if spec.text is None:
        return spec
    update: dict[str, Any] = {"on_bad_record": "error"}
    if _replaces_bad_bytes(spec):
        update["options"] = {**spec.options, "encoding_errors": "replace"}
    return spec.model_copy(update=update)


def text_data_from_raw(spec: DataSpec, raw: RawData) -> TextData:
    """The :class:`TextData` of an in-memory table with the text column ``spec.text``.

    Raises
    ------
    DataError
        When the table lacks the text or the target column (naming the columns).
    """
    column = str(spec.text)
    frame = raw.X
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"text={column!r} names a column, but the source gave {type(frame).__name__}; "
            "accepted: a table (csv, parquet, jsonl, hf, dataframe, sql)"
        )
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    columns = ", ".join(frame.columns)
    if column not in frame.columns:
        raise DataError(f"text column {column!r} not found; columns: {columns}")
    if raw.y is None:
        target = spec.target or ""
        if target not in frame.columns:
            raise DataError(f"target column {target!r} not found; columns: {columns}")
        y = frame[target]
    else:
        target = spec.target or raw.target_name or "target"
        y = pd.Series(np.asarray(raw.y) if not isinstance(raw.y, pd.Series) else raw.y)
    if len(y) != len(frame):
        raise DataError(f"{len(frame)} texts but {len(y)} targets; give one target per text")
    return TextData(
        frame[column],
        y.reset_index(drop=True).rename(target),
        text_name=column,
        on_bad_record=spec.on_bad_record,
        classes=raw.classes,
        task=raw.task,
        target_name=target,
        replacement_is_bad=_replaces_bad_bytes(spec),
    )


def text_data_from_table(spec: DataSpec, table: pa.Table) -> TextData:
    """The :class:`TextData` of an Arrow table (streamed sources): ``spec.text`` and
    ``spec.target`` columns; only those two are read.

    Raises
    ------
    DataError
        When the table lacks the text or the target column (naming the columns).
    """
    column, target = str(spec.text), spec.target or ""
    names = [str(n) for n in table.column_names]
    for what, name in (("text", column), ("target", target)):
        if name not in names:
            raise DataError(f"{what} column {name!r} not found; columns: {', '.join(names)}")
    return TextData(
        table.column(column),
        table.column(target).to_pandas().rename(target),
        text_name=column,
        on_bad_record=spec.on_bad_record,
        target_name=target,
    )


def text_from_arrow(spec: DataSpec, workspace: Workspace | None) -> TextData | None:
    """A text Parquet source read through Arrow: only its text and target columns.

    ``None`` for other sources (they are read by their :class:`Source`, then
    :func:`text_data_from_raw`). Parquet files, folders of parts and globs come from
    :func:`aimass_lab.data._tables.arrow_table`; the texts stay one Arrow array.
    """
    if spec.text is None or spec.source != "parquet":
        return None
    from aimass_lab.data._tables import arrow_table

    data, _ = arrow_table(spec, workspace)
    names = [str(n) for n in data.schema.names]
    wanted = [str(spec.text), spec.target or ""]
    missing = [c for c in wanted if c not in names]
    if missing:
        what = "text" if missing[0] == spec.text else "target"
        raise DataError(f"{what} column {missing[0]!r} not found; columns: {', '.join(names)}")
    return text_data_from_table(spec, data.to_table(columns=wanted))


# ------------------------------------------------------------------------------ the texts
def _as_arrow(texts: Any) -> pa.ChunkedArray:
    if isinstance(texts, pa.ChunkedArray):
        return texts
    if isinstance(texts, pa.Array):
        return pa.chunked_array([texts])
    values = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    try:
        return pa.chunked_array([pa.array(values, from_pandas=True)])
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed cells: checked one by one
        return pa.chunked_array(
            [pa.array(values.astype(object).map(_cell), type=pa.large_binary())]
        )


def _cell(value: Any) -> bytes | None:
    """One mixed cell as UTF-8 bytes (``None``: missing); checked like a binary column."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8", "surrogatepass")


def _check_chunk(arr: pa.Array, replacement_is_bad: bool) -> tuple[pa.Array, list[tuple[int, str]]]:
    """The chunk as ``large_string`` (bad rows null) and its bad rows ``(position, why)``."""
    bad: list[tuple[int, str]] = []
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        decoded: list[str | None] = []
        for i, raw in enumerate(arr.to_pylist()):
            if raw is None:
                bad.append((i, "missing text"))
                decoded.append(None)
                continue
            try:
                decoded.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                bad.append((i, f"not UTF-8 (byte {exc.start})"))
                decoded.append(None)
        return pa.array(decoded, type=pa.large_string()), bad
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.large_string()), [(i, "missing text") for i in range(len(arr))]
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.large_string())  # numbers in a text column: their text
    arr = arr.cast(pa.large_string())
    nulls = arr.is_null()
    bad.extend(
        (int(i), "missing text") for i in np.flatnonzero(nulls.to_numpy(zero_copy_only=False))
    )
    if replacement_is_bad:
        marked = pc.fill_null(pc.match_substring(arr, _REPLACEMENT), False)
        rows = np.flatnonzero(marked.to_numpy(zero_copy_only=False))
        bad.extend((int(i), "not UTF-8 (bytes replaced by U+FFFD when read)") for i in rows)
        if len(rows):
            arr = pc.if_else(marked, pa.scalar(None, pa.large_string()), arr)
    return arr, sorted(bad)


class TextData(LazyData):
    """Texts and their targets, held up front; tokenized by :meth:`build_parts`.

    Parameters
    ----------
    texts
        The text column: a pyarrow ``ChunkedArray``/``Array`` (string, large_string or
        binary), a pandas Series or a sequence. Binary cells must be UTF-8.
    y
        One target per text (a class label or a number).
    text_name
        The column's name (for the report and messages).
    on_bad_record
        ``"error"`` (a :class:`DataError` naming the first 10 bad rows) or ``"skip"`` (the
        rows are left out and counted in the report).
    classes, task, target_name
        As for :class:`~aimass_lab.data._base.RawData`.
    replacement_is_bad
        Whether U+FFFD marks bytes that were not UTF-8 (a CSV read with
        ``encoding_errors="replace"``).

    Raises
    ------
    DataError
        When ``on_bad_record`` is ``"error"`` and a text is missing or not UTF-8.
    """

    def __init__(
        self,
        texts: Any,
        y: pd.Series,
        *,
        text_name: str = "text",
        on_bad_record: str = "error",
        classes: Sequence[Any] | None = None,
        task: str | None = None,
        target_name: str | None = None,
        replacement_is_bad: bool = False,
    ) -> None:
        column = _as_arrow(texts)
        if len(column) != len(y):
            raise DataError(f"{len(column)} texts but {len(y)} targets; give one target per text")
        self.text_name = text_name
        chunks: list[pa.Array] = []
        bad: list[tuple[int, str]] = []
        start = 0
        for chunk in column.chunks:
            checked, found = _check_chunk(chunk, replacement_is_bad)
            chunks.append(checked)
            bad.extend((start + i, why) for i, why in found)
            start += len(chunk)
        if on_bad_record == "skip":  # rows without a target go too ("error": the usual error)
            missing = np.flatnonzero(y.isna().to_numpy())
            bad = sorted({*bad, *((int(r), "missing target") for r in missing)})
        self.bad_rows = bad
        if bad and on_bad_record != "skip":
            shown = "; ".join(f"row {r}: {why}" for r, why in bad[:SHOWN_BAD])
            raise DataError(
                f"{len(bad)} bad text record(s) in column {text_name!r} ({shown}"
                f"{'; …' if len(bad) > SHOWN_BAD else ''}); fix or drop them, or set "
                "on_bad_record='skip' to leave them out (they are counted in the report)"
            )
        texts_all = pa.chunked_array(chunks, type=pa.large_string())
        keep = np.ones(len(texts_all), dtype=bool)
        keep[sorted({r for r, _ in bad})] = False
        self.rows = np.flatnonzero(keep)  # positions in the source of the rows kept
        self.texts = texts_all.filter(pa.array(keep)) if bad else texts_all
        self.y = y.reset_index(drop=True).iloc[self.rows].reset_index(drop=True)
        self.classes, self.task, self.target_name = classes, task, target_name
        self._digest: str | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def texts_at(self, positions: np.ndarray, chunk: int = ENCODE_CHUNK) -> Iterator[list[str]]:
        """The texts at ``positions`` (rows kept), in lists of at most ``chunk``."""
        for start in range(0, len(positions), chunk):
            part = self.texts.take(pa.array(positions[start : start + chunk], type=pa.int64()))
            yield part.to_pylist()

    def content_digest(self) -> str:
        """sha256 of the texts and targets, in one pass over chunks (cached)."""
        if self._digest is None:
            digest = hashlib.sha256(f"text:{self.text_name}\n".encode())
            for texts in self.texts_at(np.arange(len(self.texts))):
                lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
                digest.update(lengths.tobytes())
                digest.update("".join(texts).encode("utf-8", "surrogatepass"))
            labels = self.y.astype(str) if self.y.dtype == object else self.y
            digest.update(pd.util.hash_pandas_object(labels, index=False).to_numpy().tobytes())
            self._digest = digest.hexdigest()
        return self._digest

    def fit_preprocessor(self, spec: DataSpec, train: np.ndarray) -> TextPreprocessor:
        """Load ``spec.tokenizer.path`` or train a tokenizer on the training texts only."""
        if spec.preprocess.select is not None:
            raise DataError("preprocess.select works on tables; this dataset holds text. Remove it")
        tok = spec.tokenizer
        pad_name = None
        if tok.path:
            tokenizer, pad_name = load_tokenizer(tok.path)
        else:
            passes = 2 if tok.kind == "wordpiece" else 1
            with Progress(passes * len(train), "train tokenizer", "texts") as bar:

                def batches() -> Iterator[list[str]]:
                    for texts in self.texts_at(train):
                        bar.update(len(texts))
                        yield texts

                tokenizer = train_tokenizer(tok, batches, total=len(train))
        pad_id = configure(tokenizer, tok.max_length, pad_name)
        return TextPreprocessor(tokenizer, tok.max_length, pad_id, tok.on_too_long)

    def build_parts(
        self, spec: DataSpec, indices: dict[str, np.ndarray], labels: np.ndarray, task: str
    ) -> tuple[dict[str, Samples], Preprocessor]:
        """Fit the tokenizer on the training part, then encode every part once."""
        pre = self.fit_preprocessor(spec, indices["train"])
        parts: dict[str, Samples] = {}
        with Progress(len(labels), "tokenize", "texts") as bar:
            for part, idx in indices.items():

                def batches(idx: np.ndarray = idx) -> Iterator[list[str]]:
                    for texts in self.texts_at(idx):
                        bar.update(len(texts))
                        yield texts

                tokens, offsets = encode_texts(pre.tokenizer, batches(), pre.unk_id)
                parts[part] = TextSamples(
                    tokens,
                    offsets,
                    labels[idx],
                    pad_id=pre.pad_id,
                    bucket_by_length=spec.tokenizer.bucket_by_length,
                    rows=idx,
                    source=self,
                )
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
        """Text lengths, duplicates, leakage between parts by content hash, bad records."""
        from aimass_lab.data._textreport import text_report

        return text_report(
            self, name=name, task=task, target=target, classes=classes, indices=indices
        )


class TextSamples(Samples):
    """One part of a text dataset: token ids in one flat ``int32`` array with offsets.

    :meth:`take` gives ``int64`` ids padded to the longest text of the rows taken; the
    loader pads each batch to its own longest text (and, with
    ``tokenizer.bucket_by_length``, batches texts of similar length together).
    """

    kind = "text"
    in_memory = True  # the token ids are; a loader reads them without worker processes

    def __init__(
        self,
        tokens: np.ndarray,
        offsets: np.ndarray,
        labels: np.ndarray,
        *,
        pad_id: int,
        bucket_by_length: bool = False,
        rows: np.ndarray | None = None,
        source: TextData | None = None,
    ) -> None:
        super().__init__(labels)
        self.tokens, self.offsets = tokens, offsets
        self.pad_id = int(pad_id)
        self.bucket_by_length = bool(bucket_by_length)
        self.rows = rows if rows is not None else np.arange(len(labels))
        self.source = source

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per text."""
        return np.diff(self.offsets)

    def take(self, n: int | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        stop = len(self) if n is None else min(start + n, len(self))
        rows = [self.tokens[self.offsets[i] : self.offsets[i + 1]] for i in range(start, stop)]
        return pad_batch(rows, self.pad_id), self.labels[start:stop]

    @property
    def skipped(self) -> int:
        """Bad records left out of the dataset (``on_bad_record="skip"``)."""
        return 0 if self.source is None else len({r for r, _ in self.source.bad_rows})

    def preview(self, n: int = 12, start: int = 0) -> list[dict[str, Any]]:
        """``n`` rows as ``{"index", "label", "text", "row"}``: ``index`` is the position in
        the part, ``row`` in the source table, ``label`` the raw target."""
        stop = min(start + n, len(self))
        texts: list[str] = []
        if self.source is not None and stop > start:
            texts = next(self.source.texts_at(self.rows[start:stop]), [])
        out = []
        for i in range(start, stop):
            label: Any = self.labels[i].item()
            row = int(self.rows[i])
            if self.source is not None:  # the source's row and its original label
                label = self.source.y.iloc[row]
                label = label.item() if isinstance(label, np.generic) else label
                row = int(self.source.rows[row])
            text = texts[i - start] if texts else ""
            out.append({"index": i, "label": label, "text": text, "row": row})
        return out

    def torch_dataset(self, *, batch_size: int, shuffle: bool, seed: int) -> Any:
        from aimass_lab.data._texttorch import TextDataset

        return TextDataset(self.tokens, self.offsets, self.labels, self.pad_id, seed)

    def collate_fn(self) -> Callable[[Any], Any] | None:
        from aimass_lab.data._texttorch import PadCollate

        return PadCollate(self.pad_id)

    def batch_sampler(self, *, batch_size: int, shuffle: bool, seed: int) -> Any | None:
        if not self.bucket_by_length:
            return None
        from aimass_lab.data._texttorch import BucketBatchSampler, base_sampler

        dataset = self.torch_dataset(batch_size=batch_size, shuffle=shuffle, seed=seed)
        return BucketBatchSampler(
            base_sampler(dataset, shuffle, seed), batch_size, False, shuffle=shuffle, seed=seed
        )
