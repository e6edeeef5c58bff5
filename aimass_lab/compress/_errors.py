"""Errors of the compress stage (members of the :class:`~aimass_lab.errors.AimassError` family)."""

from __future__ import annotations

from typing import Any

from aimass_lab.errors import AimassError

__all__ = ["ExportError", "ParityError"]


class ExportError(AimassError):
    """A network cannot be exported to ONNX; the message names the layer that stops it."""


class ParityError(AimassError):
    """An exported model does not compute what the torch model computes.

    Attributes
    ----------
    report
        The parity figures: ``max_abs_diff``, ``argmax_agreement``, ``rows``, the tolerances,
        and ``passed``.
    """

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report
