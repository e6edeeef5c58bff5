"""The abstract :class:`Source` and the :class:`RawData` every source returns.

A source reads raw data and nothing more: splitting, checks and preprocessing are done once,
for every source, by :func:`aimass_lab.data.load`. Third-party sources subclass
:class:`Source` and register under the ``aimass_lab.sources`` entry-point group.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from aimass_lab.data._preprocess import Preprocessor
    from aimass_lab.data._report import DataReport
    from aimass_lab.data._samples import Samples
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["LazyData", "RawData", "Source"]


@dataclass
class RawData:
    """What a source read, before checks, splits and preprocessing.

    Two shapes are accepted:

    * a table that holds the target column: ``RawData(X=frame)``; ``spec.target`` names the
      target and ``spec.features`` (default: every other column) the features;
    * features and targets apart: ``RawData(X=features, y=targets)``, where ``X`` is a
      DataFrame, a 2-D array (one row per sample), or images as an ``(N, C, H, W)`` array of
      floats in ``[0, 1]`` (``(N, H, W)`` is read as one channel).

    Parameters
    ----------
    X
        The table or the features.
    y
        The targets (labels for classification), or ``None`` when ``X`` holds the target.
    classes
        The order of the class labels, when the source knows it (e.g. ``["setosa", ...]``);
        ``y`` then holds values from this list. Default: the sorted distinct labels.
    task
        ``"classification"`` or ``"regression"`` when the source knows it; otherwise the
        task comes from the spec or is inferred from the targets.
    target_name
        The name of the target when ``y`` is given apart (default: ``spec.target`` or
        ``"target"``).
    """

    X: pd.DataFrame | np.ndarray
    y: pd.Series | np.ndarray | Sequence[Any] | None = None
    classes: Sequence[Any] | None = None
    task: str | None = None
    target_name: str | None = None


class LazyData(abc.ABC):
    """What a source that reads on demand returns: the labels now, the features later.

    Image folders, large tables and text return one of these instead of :class:`RawData`.
    The data stage checks the labels, infers the task, splits the row indices (stratified)
    exactly as for :class:`RawData`, then asks for the parts: each a
    :class:`~aimass_lab.data._samples.Samples` that reads its rows on demand.

    Attributes
    ----------
    y : pandas.Series
        One target per row (a class label or a number), read up front.
    classes, task, target_name
        As for :class:`RawData`.
    """

    y: pd.Series
    classes: Sequence[Any] | None = None
    task: str | None = None
    target_name: str | None = None

    @abc.abstractmethod
    def content_digest(self) -> str:
        """sha256 (hex) of the content, computed in one bounded-memory pass (and cached)."""

    @abc.abstractmethod
    def build_parts(
        self, spec: DataSpec, indices: dict[str, np.ndarray], labels: np.ndarray, task: str
    ) -> tuple[dict[str, Samples], Preprocessor]:
        """The ``train``/``val``/``test`` parts and the preprocessor fitted on training rows.

        Parameters
        ----------
        spec
            The data spec.
        indices
            Row positions of each part.
        labels
            Model-ready labels of every row (class indices or float targets).
        task
            ``"classification"`` or ``"regression"``.
        """

    @abc.abstractmethod
    def report(
        self,
        *,
        name: str,
        task: str,
        target: str,
        classes: list[Any] | None,
        indices: dict[str, np.ndarray],
    ) -> DataReport:
        """The data report, exact where one pass can be and on a stated sample otherwise."""


class Source(abc.ABC):
    """Reads one kind of data and returns :class:`RawData`.

    Subclasses set :attr:`name` (the ``source`` value of a :class:`~aimass_lab.specs.DataSpec`)
    and implement :meth:`load`. Options of the source come from ``spec.options``.

    Examples
    --------
    >>> import pandas as pd
    >>> from aimass_lab.data import RawData, Source
    >>> class Squares(Source):
    ...     name = "squares"
    ...
    ...     def load(self, spec, workspace):
    ...         n = int(spec.options.get("n", 20))
    ...         frame = pd.DataFrame({"x": range(n), "y": [i * i for i in range(n)]})
    ...         return RawData(frame, task="regression")
    """

    #: The source's name in specs.
    name: ClassVar[str] = ""

    @abc.abstractmethod
    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData | LazyData:
        """Read the raw data described by ``spec`` (or, for data read on demand, its index).

        Parameters
        ----------
        spec
            The data spec (``path``, ``url``, ``query``, ``options``, ...).
        workspace
            The workspace given to :func:`aimass_lab.data.load`, or ``None`` for the
            process default (resolve it with
            :func:`aimass_lab.workspace.resolve_workspace` when you need it).

        Returns
        -------
        RawData or LazyData
            The raw table, or features and targets; or the labels and a way to read the
            features on demand.

        Raises
        ------
        aimass_lab.errors.DataError
            When the data cannot be read; the message says what was wrong and how to fix it.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
