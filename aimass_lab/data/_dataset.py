"""The loaded :class:`Dataset`: split, preprocessed arrays plus what other stages need."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.data._samples import ArraySamples

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

    from aimass_lab.data._datamodule import DataModule
    from aimass_lab.data._preprocess import Preprocessor
    from aimass_lab.data._report import DataReport
    from aimass_lab.data._samples import Samples
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["Dataset"]


class Dataset:
    """A dataset loaded, checked, split and preprocessed; made by :func:`aimass_lab.data.load`.

    Attributes
    ----------
    spec : DataSpec
        The spec it was loaded from (``task`` filled in when it was inferred).
    name : str
        The registered name, or a label made from the spec.
    task : str
        ``"classification"`` or ``"regression"``.
    classes : list or None
        The original class labels (JSON types) in index order; ``y`` holds indices into it.
    feature_names : list of str
        The names of the preprocessed features (one-hot columns as ``"column=value"``);
        empty for images.
    fingerprint : str
        sha256 (hex) of the raw content and the split and preprocessing settings.
    parts : dict
        ``"train"``, ``"val"`` and ``"test"``: each a :class:`~aimass_lab.data._samples.Samples`
        with the part's labels, whose features are read on demand (:meth:`take`,
        :meth:`datamodule`).
    y_train, y_val, y_test : numpy.ndarray
        ``int64`` class indices or ``float32`` regression targets (always in memory).
    X_train, X_val, X_test : numpy.ndarray
        ``float32`` features ``(N, F)`` or ``(N, C, H, W)`` of a dataset held in memory
        (small tables and images); a streamed dataset (image files, large tables, text)
        raises :class:`~aimass_lab.errors.DataError` and is read with :meth:`take`.
    indices : dict
        Row indices of each part in the raw data (``"train"``, ``"val"``, ``"test"``).
    preprocessor : Preprocessor
        Fitted on the training part; ``preprocessor.state_dict()`` is JSON.
    stratified : bool
        Whether the split kept class proportions.
    registered : bool
        Whether it is a dataset of the workspace's registry, as recorded there.
    workspace : Workspace or None
        The workspace it was loaded with (``None``: the process default).

    Examples
    --------
    >>> from aimass_lab import datasets
    >>> ds = datasets.load("iris")  # doctest: +SKIP
    >>> ds.input_shape, ds.output_dim, len(ds.X_train)  # doctest: +SKIP
    ((4,), 3, 104)
    """

    def __init__(
        self,
        *,
        spec: DataSpec,
        name: str,
        task: str,
        classes: list[Any] | None,
        target: str,
        parts: dict[str, Samples],
        indices: dict[str, np.ndarray],
        preprocessor: Preprocessor,
        fingerprint: str,
        stratified: bool,
        registered: bool = False,
        report: Callable[[], DataReport] | None = None,
    ) -> None:
        self.spec = spec
        self.name = name
        self.task = task
        self.classes = classes
        self.target = target
        self.parts = parts
        self.indices = indices
        self.preprocessor = preprocessor
        self.fingerprint = fingerprint
        self.stratified = stratified
        self.registered = registered
        self.workspace: Workspace | None = None
        self._compute_report = report
        self._report: DataReport | None = None

    # -- the parts ------------------------------------------------------------------------------
    def _features(self, part: str) -> np.ndarray:
        samples = self.parts[part]
        if isinstance(samples, ArraySamples):
            return samples.X
        from aimass_lab.errors import DataError

        how = (
            "padded per batch, as rows of different lengths"
            if samples.in_memory
            else "read from files on demand"
        )
        raise DataError(
            f"dataset {self.name!r} is {how} ({samples!r}), so it has no X_{part} array; use "
            f"dataset.take({part!r}, n) for n model-ready rows, dataset.dataloader({part!r}) "
            "for batches, or dataset.datamodule() to train"
        )

    @property
    def X_train(self) -> np.ndarray:
        """The training features (in-memory datasets only)."""
        return self._features("train")

    @property
    def X_val(self) -> np.ndarray:
        """The validation features (in-memory datasets only)."""
        return self._features("val")

    @property
    def X_test(self) -> np.ndarray:
        """The test features (in-memory datasets only)."""
        return self._features("test")

    @property
    def y_train(self) -> np.ndarray:
        """The training labels."""
        return self.parts["train"].labels

    @property
    def y_val(self) -> np.ndarray:
        """The validation labels."""
        return self.parts["val"].labels

    @property
    def y_test(self) -> np.ndarray:
        """The test labels."""
        return self.parts["test"].labels

    @property
    def skipped_records(self) -> int:
        """Records left out as unreadable (``spec.on_bad_record="skip"``), e.g. no target."""
        return max((int(getattr(p, "skipped", 0)) for p in self.parts.values()), default=0)

    @property
    def in_memory(self) -> bool:
        """Whether the features are held in memory (else they are read on demand).

        Text keeps its token ids in memory (so it is ``True``) but has no ``X_*`` arrays:
        its rows differ in length and are padded per batch.
        """
        return all(p.in_memory for p in self.parts.values())

    def take(
        self, part: str = "test", n: int | None = 64, start: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Model-ready features and labels of ``n`` rows of a part, read on demand.

        Parameters
        ----------
        part
            ``"train"``, ``"val"`` or ``"test"``.
        n
            How many rows (``None``: all of them; keep it bounded for large data).
        start
            The first row, in the part's order.

        Returns
        -------
        tuple
            ``(X, y)`` as the model takes them (``X`` preprocessed).

        Examples
        --------
        >>> from aimass_lab import datasets
        >>> X, y = datasets.load("iris").take("test", 5)
        >>> X.shape, y.shape
        ((5, 4), (5,))
        """
        if part not in self.parts:
            from aimass_lab.errors import DataError

            raise DataError(f"unknown part {part!r}; accepted: 'train', 'val', 'test'")
        return self.parts[part].take(n, start)

    def preview(self, part: str = "train", start: int = 0, n: int = 12) -> dict[str, Any]:
        """A page of raw samples of a part, to look at (what the front doors show).

        Only the page's rows are read: for data read on demand the rest stays on disk.

        Parameters
        ----------
        part
            ``"train"``, ``"val"`` or ``"test"``.
        start
            The first row, in the part's order (``0 <= start < total``; 0 for an empty part).
        n
            How many rows, 1 to 100 (fewer at the end of the part).

        Returns
        -------
        dict
            ``{"part", "start", "total", "kind", "rows"}``: ``kind`` is ``"image"``,
            ``"tabular"`` or ``"text"``; each row has ``"index"`` (its position in the part),
            ``"label"`` (the class label, or the target value) and ``"thumbnail"`` (a PNG
            ``data:`` URI, with ``"path"`` for image files; ``"error"`` instead for a file
            that cannot be read), ``"text"`` or ``"values"`` (``{column: value}``).

        Raises
        ------
        DataError
            For an unknown part, or ``start``/``n`` out of range (the message gives the range).

        Examples
        --------
        >>> from aimass_lab import datasets
        >>> page = datasets.load("iris").preview("train", n=2)
        >>> page["kind"], page["total"], len(page["rows"]), sorted(page["rows"][0])
        ('tabular', 104, 2, ['index', 'label', 'values'])
        """
        from aimass_lab.data._samples import MAX_PREVIEW_ROWS
        from aimass_lab.errors import DataError

        if part not in self.parts:
            raise DataError(f"unknown part {part!r}; accepted: 'train', 'val', 'test'")
        total = len(self.parts[part])
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PREVIEW_ROWS:
            raise DataError(f"a page of samples holds 1 to {MAX_PREVIEW_ROWS} rows; got n={n!r}")
        last = max(total - 1, 0)
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= last:
            raise DataError(
                f"start={start!r} is out of range for part {part!r} of dataset {self.name!r}, "
                f"which has {total} rows; accepted: 0 to {last}"
            )
        samples = self.parts[part]
        rows = samples.preview(min(n, total - start), start) if total else []
        classes = self.classes if self.task == "classification" else None
        for row in rows:  # the label from the part's labels, whatever the part put there
            value = samples.labels[int(row["index"])]
            row["label"] = classes[int(value)] if classes is not None else float(value)
        return {"part": part, "start": start, "total": total, "kind": self.input_kind, "rows": rows}

    # -- shape of the problem -----------------------------------------------------------------
    @property
    def input_kind(self) -> str:
        """``"tabular"``, ``"image"`` or ``"text"``."""
        return self.preprocessor.kind

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one preprocessed sample: ``(F,)``, ``(C, H, W)`` or ``(max_length,)``."""
        return self.preprocessor.output_shape

    @property
    def vocab_size(self) -> int | None:
        """The tokenizer's vocabulary size (text), else ``None``."""
        size = getattr(self.preprocessor, "vocab_size", None)
        return None if size is None else int(size)

    @property
    def pad_id(self) -> int | None:
        """The id padding tokens have (text), else ``None``."""
        pad = getattr(self.preprocessor, "pad_id", None)
        return None if pad is None else int(pad)

    @property
    def feature_names(self) -> list[str]:
        """The preprocessed features' names (empty for images)."""
        return list(self.preprocessor.feature_names_)

    @property
    def num_classes(self) -> int | None:
        """The number of classes (classification), else ``None``."""
        return len(self.classes) if self.classes is not None else None

    @property
    def output_dim(self) -> int:
        """The model's output size: the number of classes, or 1 for regression."""
        if self.task == "classification" and self.num_classes:
            return self.num_classes
        return 1

    @property
    def target_stats(self) -> dict[str, float] | None:
        """``{"mean", "std"}`` of the training targets (regression), else ``None``.

        A constant target reports ``std`` 1.0 so that it can be divided by.
        """
        if self.task != "regression" or len(self.y_train) == 0:
            return None
        y = self.y_train.astype(np.float64)
        std = float(y.std())
        return {"mean": float(y.mean()), "std": std if std > 1e-12 else 1.0}

    @property
    def sizes(self) -> dict[str, int]:
        """Rows in each part."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def __len__(self) -> int:
        return len(self.y_train) + len(self.y_val) + len(self.y_test)

    # -- training ---------------------------------------------------------------------------
    def datamodule(
        self, batch_size: int = 64, seed: int = 0, num_workers: int | None = None
    ) -> DataModule:
        """A Lightning ``LightningDataModule`` over the three parts.

        Parameters
        ----------
        batch_size
            Rows per batch.
        seed
            Seed of the training shuffle and of the augmentation.
        num_workers
            ``DataLoader`` worker processes (default: ``spec.loader.num_workers``: none for
            data in memory, a few for files).

        Returns
        -------
        DataModule
            Training batches are shuffled and, when ``spec.augment`` asks for it, augmented.
        """
        from aimass_lab.data._datamodule import DataModule

        return DataModule(self, batch_size=batch_size, seed=seed, num_workers=num_workers)

    def dataloader(
        self,
        part: str = "train",
        batch_size: int = 64,
        *,
        shuffle: bool | None = None,
        seed: int = 0,
        num_workers: int | None = None,
    ) -> DataLoader[Any]:
        """A plain PyTorch ``DataLoader`` of one part (no Lightning needed).

        Parameters
        ----------
        part
            ``"train"``, ``"val"`` or ``"test"``.
        batch_size
            Rows per batch.
        shuffle
            Shuffle each epoch (default: for ``"train"`` only), seeded by ``seed``.
        num_workers
            Worker processes (default: ``spec.loader.num_workers``).

        Returns
        -------
        torch.utils.data.DataLoader
            Batches ``(x, y)`` as :meth:`datamodule` gives them (without augmentation, which
            the DataModule applies on the device).
        """
        from aimass_lab.data._loaders import make_loader

        if part not in self.parts:
            from aimass_lab.errors import DataError

            raise DataError(f"unknown part {part!r}; accepted: 'train', 'val', 'test'")
        return make_loader(
            self.parts[part],
            self.spec.loader,
            batch_size=batch_size,
            shuffle=part == "train" if shuffle is None else shuffle,
            seed=seed,
            num_workers=num_workers,
        )

    # -- checks and summaries -------------------------------------------------------------------
    def report(self) -> DataReport:
        """Checks of the raw data (schema, missing values, balance, duplicates, leakage)."""
        if self._report is None:
            if self._compute_report is None:
                from aimass_lab.errors import DataError

                raise DataError(f"dataset {self.name!r} was built without a report")
            self._report = self._compute_report()
            selector = getattr(self.preprocessor, "select_", None)
            if selector is not None:
                self._report.selection = selector.summary()
        return self._report

    def info(self) -> dict[str, Any]:
        """A JSON-able summary for listings, widgets and the REST API."""
        return {
            "name": self.name,
            "source": self.spec.source,
            "task": self.task,
            "target": self.target,
            "input_kind": self.input_kind,
            "input_shape": list(self.input_shape),
            "vocab_size": self.vocab_size,
            "output_dim": self.output_dim,
            "num_classes": self.num_classes,
            "classes": self.classes,
            "feature_names": self.feature_names,
            "sizes": self.sizes,
            "in_memory": self.in_memory,
            "skipped_records": self.skipped_records,
            "stratified": self.stratified,
            "target_stats": self.target_stats,
            "fingerprint": self.fingerprint,
            "registered": self.registered,
            "spec": self.spec.to_dict(),
        }

    def _summary(self) -> str:
        sizes = self.sizes
        kind = f"{self.input_kind} {self.input_shape}"
        target = f"{self.num_classes} classes" if self.task == "classification" else "regression"
        skipped = f", {self.skipped_records} bad records skipped" if self.skipped_records else ""
        return (
            f"{kind} -> {target}, train/val/test={sizes['train']}/{sizes['val']}/{sizes['test']}, "
            f"fingerprint={self.fingerprint[:12]}{skipped}"
        )

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}: {self._summary()})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook: the live panel (:mod:`aimass_lab.widgets`), this HTML as fallback."""
        from aimass_lab._display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self) -> str:
        e = html.escape
        sizes = self.sizes
        classes = ""
        if self.classes is not None:
            shown = ", ".join(str(c) for c in self.classes[:12])
            more = f", … ({len(self.classes)} in all)" if len(self.classes) > 12 else ""
            classes = f"<tr><th>classes</th><td>{e(shown + more)}</td></tr>"
        stats = ""
        if self.target_stats:
            stats = (
                f"<tr><th>target</th><td>mean {self.target_stats['mean']:.4g}, "
                f"std {self.target_stats['std']:.4g}</td></tr>"
            )
        return (
            "<table class='aimass-dataset'>"
            f"<tr><th>dataset</th><td><b>{e(self.name)}</b> ({e(self.spec.source)})</td></tr>"
            f"<tr><th>task</th><td>{e(self.task)}</td></tr>"
            f"<tr><th>input</th><td>{e(self.input_kind)} {e(str(self.input_shape))}</td></tr>"
            f"<tr><th>output</th><td>{self.output_dim}</td></tr>{classes}{stats}"
            f"<tr><th>rows</th><td>train {sizes['train']} · val {sizes['val']} · test {sizes['test']}</td></tr>"
            f"<tr><th>fingerprint</th><td><code>{e(self.fingerprint[:16])}</code></td></tr>"
            "</table>"
        )
