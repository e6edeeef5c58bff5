"""Data specs: where data comes from and how it is split, preprocessed and augmented."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from aimass_lab.errors import DataError, accepted
from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._catalog import BUILTINS, source_names

__all__ = [
    "AugmentSpec",
    "DataSpec",
    "LoaderSpec",
    "PreprocessSpec",
    "SelectSpec",
    "SplitSpec",
    "TokenizerSpec",
]


class SplitSpec(Spec):
    """How a dataset is split into train, validation and test parts.

    With ``folds`` set, the test part is held out first and the rest is cut into ``folds``
    folds; ``fold`` picks the validation fold.
    """

    val: float = Field(0.15, ge=0.0, lt=1.0, description="fraction for validation")
    test: float = Field(0.15, ge=0.0, lt=1.0, description="fraction held out for testing")
    seed: int = Field(0, description="seed of the shuffle")
    stratify: bool = Field(True, description="keep class proportions (classification)")
    folds: int | None = Field(None, ge=2, le=100, description="k for k-fold cross-validation")
    fold: int = Field(0, ge=0, description="which fold is the validation part")

    @model_validator(mode="after")
    def _check(self) -> SplitSpec:
        if self.val + self.test >= 1.0:
            raise ValueError(
                f"val + test must be below 1 so that something is left to train on; got {self.val} + {self.test}"
            )
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"fold must be below folds ({self.folds}); got {self.fold}")
        return self

    def sizes(self, n: int) -> dict[str, int]:
        """The rows each part gets out of ``n``, as the seeded split cuts them.

        The test part takes ``ceil(test * n)`` rows; with ``folds`` the validation fold takes
        its share of the rest, else validation takes ``ceil(val / (1 - test) * rest)`` rows;
        training keeps what is left.

        Examples
        --------
        >>> SplitSpec(val=0.2, test=0.2).sizes(150)
        {'train': 90, 'val': 30, 'test': 30}
        """
        test = math.ceil(self.test * n) if self.test > 0 else 0
        rest = n - test
        if self.folds is not None:
            base, extra = divmod(max(rest, 0), self.folds)
            val = base + (1 if self.fold < extra else 0)
        elif self.val > 0 and rest > 0:
            val = math.ceil(self.val / (1.0 - self.test) * rest)
        else:
            val = 0
        return {"train": rest - val, "val": val, "test": test}

    def check_rows(self, n: int) -> None:
        """Check that ``n`` rows can be split this way: every asked part gets rows.

        This is the one rule for splits that depend on the data (the fractions themselves
        are checked when the spec is made); the data stage calls it before splitting.

        Raises
        ------
        DataError
            Naming the rows, the fractions and what each part would get.
        """
        sizes = self.sizes(n)
        rest = n - sizes["test"]
        where = f"cannot split {n} rows with val={self.val}, test={self.test}" + (
            f", folds={self.folds}" if self.folds else ""
        )
        if self.folds is not None and self.folds > rest:
            reason = (
                f"{self.folds} folds need at least {self.folds} rows outside the test part; "
                f"there are {rest}"
            )
        elif sizes["train"] <= 0:
            reason = (
                f"the test part takes {sizes['test']} and the validation part {sizes['val']}, "
                "which leaves no rows to train on"
            )
        else:
            return
        raise DataError(f"{where}: {reason}. Use more data or smaller fractions")


class SelectSpec(Spec):
    """Feature selection (or PCA) after imputation, one-hot encoding and standardisation.

    Fitted on the training part only and stored in the preprocessing state. ``variance``
    drops features whose variance is at most ``threshold``; ``kbest`` keeps the ``k`` best by
    ``score``; ``l1`` keeps the features an L1-penalised model uses (logistic regression or
    Lasso, strength ``alpha``; at most ``max_features``, above ``threshold``); ``pca``
    projects onto ``n_components`` components (an int, or a fraction of the variance).
    """

    method: Literal["variance", "kbest", "l1", "pca"] = Field(
        description="'variance', 'kbest', 'l1' or 'pca'"
    )
    threshold: float | None = Field(
        None, ge=0.0, description="variance: keep above this (0); l1: keep |coef| at least this"
    )
    k: int | None = Field(None, ge=1, description="kbest: how many features to keep")
    score: Literal["mutual_info", "f_test"] = Field(
        "f_test", description="kbest: 'mutual_info' or 'f_test' (ANOVA F / regression F)"
    )
    alpha: float = Field(0.01, gt=0.0, description="l1: penalty strength (logistic C = 1/alpha)")
    solver: Literal["saga", "liblinear"] = Field(
        "saga", description="l1, classification: 'saga' or 'liblinear' (two classes)"
    )
    max_features: int | None = Field(None, ge=1, description="l1: keep at most this many")
    n_components: int | float | None = Field(
        None, description="pca: components (int >= 1) or variance to explain (0 < float < 1)"
    )

    @model_validator(mode="after")
    def _check(self) -> SelectSpec:
        if self.method == "kbest" and self.k is None:
            raise ValueError("method 'kbest' needs k (how many features to keep), e.g. k: 20")
        if self.method == "pca":
            n = self.n_components
            if n is None:
                raise ValueError(
                    "method 'pca' needs n_components: an int >= 1 or a float in (0, 1)"
                )
            if isinstance(n, bool) or (isinstance(n, int) and n < 1):
                raise ValueError(
                    f"n_components must be an int >= 1 or a float in (0, 1); got {n!r}"
                )
            if isinstance(n, float) and not 0.0 < n < 1.0:
                raise ValueError(
                    f"n_components as a fraction of the variance must be in (0, 1); got {n!r} "
                    "(use an int for a number of components)"
                )
        used = {
            "variance": {"threshold"},
            "kbest": {"k", "score"},
            "l1": {"alpha", "solver", "max_features", "threshold"},
            "pca": {"n_components"},
        }[self.method]
        fields = type(self).model_fields
        stray = sorted(
            f
            for f in set(fields) - used - {"method"}
            if getattr(self, f) != fields[f].default  # a full dump repeats the defaults
        )
        if stray:
            raise ValueError(
                f"{', '.join(stray)}: not used by method {self.method!r}; "
                f"it takes: {', '.join(sorted(used))}"
            )
        return self


class PreprocessSpec(Spec):
    """Preprocessing fitted on the training part only and stored with every model."""

    standardize: bool = Field(True, description="zero mean, unit variance per numeric feature")
    impute: Literal["mean", "median", "most_frequent", "none"] = Field(
        "mean", description="how missing feature values are filled"
    )
    one_hot: Literal["auto", "none"] | list[str] = Field(
        "auto", description="categorical columns to one-hot encode ('auto': text/category columns)"
    )
    select: SelectSpec | None = Field(
        None, description="feature selection or PCA after the steps above (tables only)"
    )


class AugmentSpec(Spec):
    """Image augmentation applied to training batches as torch ops."""

    flip: bool = Field(False, description="random horizontal flip (p=0.5)")
    crop: int = Field(0, ge=0, le=64, description="pad by this many pixels, then random-crop back")
    noise: float = Field(0.0, ge=0.0, le=10.0, description="std of added Gaussian noise")

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return self.flip or self.crop > 0 or self.noise > 0


class LoaderSpec(Spec):
    """How the ``DataLoader`` reads samples: worker processes, pinned memory, prefetch.

    ``"auto"`` picks what suits the data: in-memory tables are read in the training process
    (0 workers), files (images, streamed tables, text) by ``min(4, CPUs - 1)`` workers;
    memory is pinned when CUDA is present.
    """

    num_workers: int | Literal["auto"] = Field(
        "auto", description="DataLoader worker processes ('auto': 0 in memory, else min(4, CPUs-1))"
    )
    pin_memory: bool | Literal["auto"] = Field(
        "auto",
        description="page-locked batches for a faster GPU copy ('auto': when CUDA is present)",
    )
    prefetch_factor: int = Field(2, ge=1, le=64, description="batches each worker reads ahead")
    persistent_workers: bool = Field(True, description="keep workers alive between epochs")
    batch_rows: int = Field(
        65_536, ge=256, le=10_000_000, description="rows per Arrow record batch (streamed tables)"
    )

    @field_validator("num_workers")
    @classmethod
    def _workers(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= 256:
            raise ValueError(f"num_workers must be 'auto' or 0 to 256; got {value}")
        return value


class TokenizerSpec(Spec):
    """How text becomes token ids: a local tokenizer folder, or one trained on the training part.

    ``path`` names a folder holding ``tokenizer.json`` (a Hugging Face fast tokenizer, as
    ``save_pretrained`` writes it); without it a ``kind`` tokenizer with ``vocab_size``
    entries is trained on the training part's text. Texts are truncated to ``max_length``
    tokens and padded per batch to the longest in it.
    """

    path: str | None = Field(
        None, description="local folder with tokenizer.json, or that file (no download)"
    )
    kind: Literal["wordpiece", "bpe"] = Field(
        "wordpiece", description="the tokenizer trained when path is not given"
    )
    vocab_size: int = Field(
        8000, ge=32, le=1_000_000, description="vocabulary of a trained tokenizer"
    )
    min_frequency: int = Field(2, ge=1, description="rarest token a trained tokenizer keeps")
    lowercase: bool = Field(
        True, description="lower-case text before training (trained tokenizers)"
    )
    max_length: int = Field(128, ge=2, le=65_536, description="tokens kept per text (truncation)")
    on_too_long: Literal["truncate", "refuse"] = Field(
        "truncate",
        description="a served text longer than max_length: truncated (and flagged) or refused",
    )
    bucket_by_length: bool = Field(
        False, description="batch texts of similar length together (less padding)"
    )


_TABLE_SOURCES = ("csv", "parquet", "jsonl", "hf", "dataframe", "sql")
#: Table files whose header is read when the target is not given: a column named label,
#: target, class or y is the target, otherwise loading names the columns to choose from.
_HEADER_SOURCES = ("csv", "parquet")


class DataSpec(Spec):
    """Where data comes from and how it is split and preprocessed.

    Examples
    --------
    >>> DataSpec(name="digits").source
    'builtin'
    >>> DataSpec(source="csv", path="train.csv", target="label").target
    'label'
    """

    source: str = Field(
        "builtin",
        description="builtin, csv, parquet, jsonl, hf, dataframe, numpy, image_folder, sql, "
        "or a plugin",
    )
    name: str | None = Field(None, description="the built-in dataset's name")
    path: str | None = Field(
        None,
        description="file or folder (csv, parquet, jsonl, hf, image_folder) or sha256:… artifact",
    )
    url: str | None = Field(None, description="SQLAlchemy URL (sql)")
    query: str | None = Field(None, description="SELECT statement (sql)")
    target: str | None = Field(
        None,
        description="the target column (tabular sources; csv/parquet: default the column "
        "named label, target, class or y, any case; else it must be given)",
    )
    features: list[str] | None = Field(
        None, description="feature columns (default: all but the target)"
    )
    text: str | None = Field(
        None, description="the text column: text classification/regression (tokenized)"
    )
    task: Literal["classification", "regression"] | None = Field(
        None, description="inferred when None"
    )
    as_images: bool = Field(False, description="give 'digits' as 1x8x8 images")
    image_size: int | None = Field(
        None, ge=4, le=1024, description="resize images to this square size"
    )
    streaming: bool | Literal["auto"] = Field(
        "auto",
        description="read tables in Arrow record batches instead of memory ('auto': when large)",
    )
    on_bad_record: Literal["error", "skip"] = Field(
        "error",
        description="an unreadable image or text row: stop with an error, or skip and count it",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="source options (generator sizes, plugin options)"
    )
    split: SplitSpec = Field(default_factory=SplitSpec)
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec)
    augment: AugmentSpec = Field(default_factory=AugmentSpec)
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    loader: LoaderSpec = Field(default_factory=LoaderSpec)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        names = source_names()
        return one_of(value, names, "source")

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        src = self.source
        if src == "builtin":
            if not self.name:
                raise ValueError(f"source 'builtin' needs a name; accepted: {accepted(BUILTINS)}")
            if self.name not in BUILTINS:
                raise ValueError(
                    f"unknown dataset {self.name!r}; built-in datasets: {accepted(BUILTINS)} "
                    "(datasets you registered are found with aimass_lab.datasets.get(name))"
                )
            if self.as_images and self.name != "digits":
                raise ValueError("as_images is available for 'digits' only")
        elif (
            src in ("csv", "parquet", "jsonl", "hf", "image_folder", "dataframe", "numpy")
            and not self.path
        ):
            raise ValueError(f"source {src!r} needs a path")
        elif src == "sql" and not (self.url and self.query):
            raise ValueError(
                "source 'sql' needs both url (a SQLAlchemy URL) and query (a SELECT statement)"
            )
        if src in _TABLE_SOURCES and not self.target and src not in _HEADER_SOURCES:
            raise ValueError(
                f"source {src!r} needs target: the name of the column to predict (target= in "
                "Python or a spec, --target in the CLI, the target dropdown in the Workbench)"
            )
        builtin_text = BUILTINS[self.name].text if src == "builtin" and self.name else None
        if self.text is not None and builtin_text is not None:
            if self.text != builtin_text:
                raise ValueError(
                    f"the built-in dataset {self.name!r} has its text in column "
                    f"{builtin_text!r}; got text={self.text!r}"
                )
        elif self.text is not None:
            if src not in _TABLE_SOURCES:
                raise ValueError(
                    f"text names a column of a table; source {src!r} is not one "
                    f"(accepted: {', '.join(_TABLE_SOURCES)})"
                )
            if self.text == self.target:
                raise ValueError(f"text and target are the same column {self.text!r}")
            if self.features:
                raise ValueError("give either text (one text column) or features, not both")
        return self

    @property
    def text_column(self) -> str | None:
        """The text column (``text``, or the built-in dataset's), ``None`` for other data."""
        if self.text is not None:
            return self.text
        return BUILTINS[self.name].text if self.source == "builtin" and self.name else None

    @property
    def label(self) -> str:
        """A short human name: the built-in name or the file name."""
        if self.source == "builtin":
            return f"{self.name}{' (images)' if self.as_images else ''}"
        if self.path:
            return (
                Path(self.path).name
                if not self.path.startswith("sha256:")
                else self.name or self.path[:15]
            )
        return self.name or self.source
