"""What every compression method is: a step that turns one candidate into the next."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from aimass_lab.data import Dataset
    from aimass_lab.specs import CompressSpec, Spec

__all__ = ["Candidate", "CompressionMethod", "Context"]


@dataclass
class Candidate:
    """A model on its way through the steps.

    Attributes
    ----------
    network
        The float32 torch network (for an int8 candidate: the network it was quantised from).
    config
        Its ``model.json`` (``model_spec`` rebuilds ``network``).
    method
        The step that made it (``"baseline"`` for the source model).
    onnx_path
        An ONNX file that *is* the model (int8 candidates); ``None`` when the ONNX file is
        exported from ``network``.
    details
        What the step records in the lineage (sparsity, ranks, student, ...).
    """

    network: nn.Module
    config: dict[str, Any]
    method: str
    onnx_path: Path | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def quantized(self) -> str | None:
        """The int8 mode when the candidate is an int8 ONNX model, else ``None``."""
        value = (self.config.get("compression") or {}).get("quantized")
        return str(value) if value else None


@dataclass
class Context:
    """What the steps share: the spec, the data and a scratch folder."""

    spec: CompressSpec
    dataset: Dataset
    tmp: Path
    calibration: np.ndarray | None = None


class CompressionMethod(abc.ABC):
    """One kind of compression step (prune, quantize, distill, low-rank).

    Subclasses store their spec in ``__init__`` and implement :meth:`apply`.
    """

    #: The ``method`` name of the spec the class implements.
    name: ClassVar[str]

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    @property
    def label(self) -> str:
        """The step as a short string, e.g. ``prune:structured:0.5``."""
        return str(getattr(self.spec, "label", self.name))

    @abc.abstractmethod
    def apply(self, candidate: Candidate, ctx: Context) -> Candidate:
        """Return the compressed candidate; never change ``candidate`` in place."""
