"""Tokenizers for text data: loaded from a local folder or trained on the training part.

Uses the Hugging Face ``tokenizers`` library (fast tokenizers, no network). A tokenizer is
configured once (truncation to ``max_length``, no padding: batches are padded to their
longest text by the loader), texts are encoded in chunks with the batch encoder into one flat
``int32`` token array with ``int64`` offsets, and the fitted tokenizer is kept as JSON text in
the dataset's preprocessing state (:class:`TextPreprocessor`), so every model version trained
on it carries it.

``TOKENIZERS_PARALLELISM``: the batch encoder runs on every core while a dataset is
tokenized; outside those passes the variable is set to ``"off"`` (unless you set it to
something else), so that processes forked later (``DataLoader`` workers, jobs) neither
deadlock nor print the library's fork warning, and tokenize in parallel again themselves.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.data._preprocess import Preprocessor
from aimass_lab.errors import DataError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from aimass_lab.specs import TokenizerSpec

__all__ = [
    "PAD",
    "TextPreprocessor",
    "UNK",
    "encode_texts",
    "load_tokenizer",
    "pad_batch",
    "train_tokenizer",
]

PAD, UNK = "[PAD]", "[UNK]"
#: Texts encoded per call of the batch encoder (bounds the Python objects alive at once).
ENCODE_CHUNK = 8192
TOKENIZER_FILE = "tokenizer.json"
_PAD_NAMES = (PAD, "<pad>", "<|pad|>", "<PAD>", "[pad]")
_ENV = "TOKENIZERS_PARALLELISM"
#: The value this module leaves between passes (any other value is the user's and is kept).
_OURS = "off"


@contextlib.contextmanager
def parallel_tokenizers() -> Iterator[None]:
    """Let the batch encoder use every core inside; ``"off"`` outside (unless you set it)."""
    if os.environ.get(_ENV, _OURS) != _OURS:
        yield
        return
    os.environ[_ENV] = "true"
    try:
        yield
    finally:
        os.environ[_ENV] = _OURS


# ---------------------------------------------------------------------------------- tokenizers
def _pad_name_from_config(folder: Path) -> str | None:
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        file = folder / name
        if not file.is_file():
            continue
        try:
            pad = json.loads(file.read_text(encoding="utf-8")).get("pad_token")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(pad, dict):
            pad = pad.get("content")
        if isinstance(pad, str) and pad:
            return pad
    return None


def load_tokenizer(path: str | os.PathLike[str]) -> tuple[Tokenizer, str | None]:
    """Read ``tokenizer.json`` from a folder (as ``save_pretrained`` writes it) or a file.

    Returns
    -------
    tuple
        The tokenizer and the pad token named by ``tokenizer_config.json`` (or ``None``).

    Raises
    ------
    DataError
        When the folder or file does not exist, the folder has no ``tokenizer.json``, or the
        file is not a tokenizer the ``tokenizers`` library reads.
    """
    from tokenizers import Tokenizer

    where = Path(path).expanduser()
    if not where.exists():
        raise DataError(
            f"tokenizer folder not found: {where}; tokenizer.path must be a local folder holding "
            f"{TOKENIZER_FILE} (as save_pretrained writes it) or the {TOKENIZER_FILE} file itself"
        )
    file = where / TOKENIZER_FILE if where.is_dir() else where
    if not file.is_file():
        present = sorted(p.name for p in where.iterdir())[:10]
        raise DataError(
            f"the tokenizer folder {where} has no {TOKENIZER_FILE} (it holds: "
            f"{', '.join(present) or 'nothing'}); accepted: a fast tokenizer saved with "
            "save_pretrained or Tokenizer.save (slow, vocab-only tokenizers are not read)"
        )
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as exc:  # the library raises a bare Exception
        raise DataError(
            f"cannot load the tokenizer {file}: {str(exc)[:300]}; accepted: a tokenizer.json "
            "written by the Hugging Face tokenizers library"
        ) from None
    pad_name = _pad_name_from_config(where) if where.is_dir() else None
    return tokenizer, pad_name


def train_tokenizer(
    spec: TokenizerSpec, batches: Callable[[], Iterable[list[str]]], total: int | None = None
) -> Tokenizer:
    """Train a ``spec.kind`` tokenizer (``"wordpiece"`` or ``"bpe"``) on batches of texts.

    ``[PAD]`` is id 0 and ``[UNK]`` id 1; the vocabulary has at most ``spec.vocab_size``
    entries and keeps tokens seen at least ``spec.min_frequency`` times. The same texts and
    settings give the same tokenizer in every process (see :func:`_canonical`).

    Parameters
    ----------
    spec
        The tokenizer settings.
    batches
        Gives a fresh iterator over the training texts in lists (WordPiece reads them twice:
        once for their characters).
    total
        The number of texts (for the trainer's progress).
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    special = [PAD, UNK]
    if spec.kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        if spec.lowercase:
            tokenizer.normalizer = normalizers.Sequence(
                [normalizers.NFKC(), normalizers.Lowercase()]
            )
        else:
            tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tokenizer.decoder = decoders.ByteLevel()
        trainer: Any = trainers.BpeTrainer(
            vocab_size=spec.vocab_size,
            min_frequency=spec.min_frequency,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=spec.lowercase)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.decoder = decoders.WordPiece()
        # The trainer numbers the "##c" pieces in hash-map order, which breaks ties between
        # equally frequent merges differently in every process; listing them up front (as
        # special tokens, made plain tokens again below) fixes their order.
        chars: set[str] = set()
        for texts in batches():
            for text in texts:
                chars.update(text.lower() if spec.lowercase else text)
        pieces = sorted(f"##{c}" for c in chars if not c.isspace())
        trainer = trainers.WordPieceTrainer(
            vocab_size=spec.vocab_size,
            min_frequency=spec.min_frequency,
            special_tokens=special + pieces,
            show_progress=False,
        )
    with parallel_tokenizers():
        tokenizer.train_from_iterator(batches(), trainer, length=total)
    return _canonical(tokenizer, set(special))


def _canonical(tokenizer: Tokenizer, special: set[str]) -> Tokenizer:
    """The trained tokenizer with ids that do not depend on the process.

    The trainers give the same tokens and merges in every process, but number the tokens in
    hash-map order, which changes from process to process. Renumbered: the ``special``
    tokens first, then the other single tokens sorted, then merge results in merge order; so
    the same texts and settings give the same tokenizer (and sha256) everywhere. Added tokens
    that are not in ``special`` become plain vocabulary entries.
    """
    from tokenizers import Tokenizer

    data = json.loads(tokenizer.to_str())
    model = data["model"]
    vocab: dict[str, int] = model["vocab"]
    added = sorted(
        (t for t in data.get("added_tokens") or [] if t["content"] in special),
        key=lambda t: int(t["id"]),
    )
    data["added_tokens"] = added
    specials = [str(t["content"]) for t in added]
    merges = [m if isinstance(m, str) else "".join(m) for m in model.get("merges") or []]
    merged = list(dict.fromkeys(m.replace(" ", "") for m in merges))
    first = set(specials) | set(merged)
    order = specials + sorted(t for t in vocab if t not in first) + merged
    model["vocab"] = {token: i for i, token in enumerate(t for t in order if t in vocab)}
    for entry in added:
        entry["id"] = model["vocab"][entry["content"]]
    return Tokenizer.from_str(json.dumps(data))


def configure(tokenizer: Tokenizer, max_length: int, pad_name: str | None = None) -> int:
    """Truncate to ``max_length``, pad nothing (the loader pads per batch); the pad id.

    The pad token is the tokenizer's own padding token, the one ``tokenizer_config.json``
    names, or a usual name (``[PAD]``, ``<pad>``...); a tokenizer without any gets ``[PAD]``
    added as a new special token.

    Raises
    ------
    DataError
        When no pad token is found and none can be added.
    """
    padding = tokenizer.padding
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    candidates = [padding.get("pad_token")] if padding else []
    candidates += [pad_name, *_PAD_NAMES]
    for name in candidates:
        found = tokenizer.token_to_id(name) if name else None
        if found is not None:
            return int(found)
    tokenizer.add_special_tokens([PAD])
    pad_id = tokenizer.token_to_id(PAD)
    if pad_id is None:
        raise DataError(
            "the tokenizer has no pad token and none could be added; accepted: a tokenizer "
            f"with a pad token ({', '.join(_PAD_NAMES)}) or one that takes added special tokens"
        )
    return int(pad_id)


def encode_texts(
    tokenizer: Tokenizer, batches: Iterable[Sequence[str]], unk_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Encode batches of texts into flat ``int32`` tokens and ``int64`` offsets.

    Text ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``; an empty text becomes one unknown
    token, so that every text has at least one. Only one batch of encodings is alive at once.
    """
    pieces: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    with parallel_tokenizers():
        for batch in batches:
            encodings = tokenizer.encode_batch_fast(list(batch))
            ids = [enc.ids for enc in encodings]
            del encodings
            size = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
            if not size.all():
                ids = [row or [unk_id] for row in ids]
                size = np.maximum(size, 1)
            flat = np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=int(size.sum()))
            pieces.append(flat)
            lengths.append(size)
    size = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(size) + 1, dtype=np.int64)
    np.cumsum(size, out=offsets[1:])
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    return tokens, offsets


def pad_batch(rows: Sequence[np.ndarray], pad_id: int, length: int | None = None) -> np.ndarray:
    """Rows of token ids padded with ``pad_id`` to the longest (or ``length``): ``int64``."""
    width = max(length or 0, max((len(r) for r in rows), default=0), 1)
    out = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def chunks(texts: Sequence[str], size: int = ENCODE_CHUNK) -> Iterator[Sequence[str]]:
    """``texts`` in slices of ``size``."""
    for start in range(0, len(texts), size):
        yield texts[start : start + size]


# ------------------------------------------------------------------------------ preprocessing
class TextPreprocessor(Preprocessor):
    """Texts to padded token ids with a fitted tokenizer; the ``kind="text"`` preprocessor.

    :meth:`Preprocessor.from_state` builds one from a state whose ``kind`` is ``"text"``; its
    :meth:`transform` takes raw strings and gives the ``int64`` ids ``(N, L)`` the model
    takes (``L``: the longest text, at most ``max_length``).

    Attributes
    ----------
    tokenizer : tokenizers.Tokenizer
        The fitted tokenizer (truncating to ``max_length``, not padding).
    max_length, pad_id, vocab_size : int
        Tokens kept per text, the padding id, and the embedding table's size.
    on_too_long : str
        What a server does with a text longer than ``max_length``: ``"truncate"`` (and flag
        it) or ``"refuse"`` (see :meth:`transform_flagged`).
    """

    def __init__(
        self, tokenizer: Tokenizer, max_length: int, pad_id: int, on_too_long: str = "truncate"
    ) -> None:
        super().__init__(kind="text", impute="none", one_hot="none", standardize=False)
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.pad_id = int(pad_id)
        self.on_too_long = str(on_too_long)
        self.vocab_size = int(tokenizer.get_vocab_size(with_added_tokens=True))
        unk = tokenizer.token_to_id(UNK)
        self.unk_id = int(unk) if unk is not None else self.pad_id
        self.feature_names_ = []

    @property
    def tokenizer_json(self) -> str:
        """The tokenizer as JSON text (what ``tokenizer.json`` holds)."""
        return str(self.tokenizer.to_str())

    @property
    def tokenizer_sha256(self) -> str:
        """sha256 (hex) of :attr:`tokenizer_json`: the tokenizer's identity."""
        return hashlib.sha256(self.tokenizer_json.encode("utf-8")).hexdigest()

    @property
    def output_shape(self) -> tuple[int, ...]:
        """``(max_length,)``: batches are padded to their longest text, at most this."""
        return (self.max_length,)

    def fit(self, X: Any, y: Any = None, task: str = "classification") -> TextPreprocessor:
        """A text preprocessor is fitted when it is made (its tokenizer is)."""
        return self

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Flat ``int32`` tokens and ``int64`` offsets of ``texts`` (see :func:`encode_texts`)."""
        return encode_texts(self.tokenizer, chunks(texts), self.unk_id)

    def transform(self, X: Any, pad_to_max_length: bool = False) -> np.ndarray:
        """Padded ``int64`` token ids ``(N, L)`` of one text or a list of texts.

        Parameters
        ----------
        X
            A string or a sequence of strings.
        pad_to_max_length
            Pad to ``max_length`` instead of the longest text (a fixed shape for export).

        Raises
        ------
        DataError
            When an input is not a string.
        """
        texts = [X] if isinstance(X, str) else list(X)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise DataError(
                f"a text model takes strings; input(s) {bad[:10]} are "
                f"{type(texts[bad[0]]).__name__}"
            )
        tokens, offsets = self.encode(texts)
        rows = [tokens[offsets[i] : offsets[i + 1]] for i in range(len(texts))]
        return pad_batch(rows, self.pad_id, self.max_length if pad_to_max_length else None)

    def transform_flagged(
        self, texts: Sequence[str], length: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Padded ids (to the longest, or ``length``), which texts were truncated, their lengths.

        The lengths are the token counts before truncation (special tokens included), so a
        caller can name them when it refuses a text longer than ``max_length``.
        """
        with parallel_tokenizers():
            encodings = self.tokenizer.encode_batch(list(texts))
        truncated = np.array([bool(enc.overflowing) for enc in encodings], dtype=bool)
        lengths = np.array([len(enc.ids) for enc in encodings], dtype=np.int64)
        if truncated.any():
            from tokenizers import Tokenizer

            whole = Tokenizer.from_str(self.tokenizer_json)
            whole.no_truncation()
            for i in np.flatnonzero(truncated).tolist():
                lengths[i] = len(whole.encode(texts[i]).ids)
        rows = [np.asarray(enc.ids or [self.unk_id], dtype=np.int64) for enc in encodings]
        return pad_batch(rows, self.pad_id, length), truncated, lengths

    def state_dict(self) -> dict[str, Any]:
        """The tokenizer (JSON text and its sha256), ``max_length`` and the pad id."""
        return {
            "version": 1,
            "kind": "text",
            "impute": "none",
            "one_hot": "none",
            "standardize": False,
            "feature_names": [],
            "max_length": self.max_length,
            "pad_id": self.pad_id,
            "on_too_long": self.on_too_long,
            "vocab_size": self.vocab_size,
            "tokenizer_sha256": self.tokenizer_sha256,
            "tokenizer": self.tokenizer_json,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TextPreprocessor:
        """Rebuild from :meth:`state_dict`, checking the tokenizer's sha256.

        Raises
        ------
        DataError
            When the state is malformed or its tokenizer does not load or match its sha256.
        """
        from tokenizers import Tokenizer

        try:
            text = str(state["tokenizer"])
            max_length, pad_id = int(state["max_length"]), int(state["pad_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"malformed text preprocessor state: {type(exc).__name__}: {exc}"
            ) from None
        expected = state.get("tokenizer_sha256")
        actual = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if expected and expected != actual:
            raise DataError(
                f"the stored tokenizer does not match its sha256 ({actual[:12]} != "
                f"{str(expected)[:12]}); the preprocessing state was modified"
            )
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as exc:  # the library raises a bare Exception
            raise DataError(f"the stored tokenizer does not load: {str(exc)[:300]}") from None
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)
        return cls(tokenizer, max_length, pad_id, str(state.get("on_too_long") or "truncate"))

    def check_matches(self, state: Mapping[str, Any], label: str = "the model") -> None:
        """Raise when a model's stored preprocessing is not this tokenizer and length.

        Raises
        ------
        DataError
            Naming what differs (not text, another tokenizer, another ``max_length``).
        """
        if state.get("kind") != "text":
            raise DataError(
                f"{label} takes {state.get('kind') or 'tabular'} input, this dataset is text"
            )
        theirs = state.get("tokenizer_sha256")
        if theirs != self.tokenizer_sha256:
            raise DataError(
                f"the tokenizer stored with {label} (sha256 {str(theirs)[:12]}) differs from "
                f"this dataset's ({self.tokenizer_sha256[:12]}); load the dataset with "
                "tokenizer.path set to the model's tokenizer, or train a new model"
            )
        if int(state.get("max_length", -1)) != self.max_length:
            raise DataError(
                f"{label} was trained with max_length {state.get('max_length')}, this dataset "
                f"has {self.max_length}"
            )

    def __repr__(self) -> str:
        return (
            f"TextPreprocessor(vocab_size={self.vocab_size}, max_length={self.max_length}, "
            f"pad_id={self.pad_id})"
        )
