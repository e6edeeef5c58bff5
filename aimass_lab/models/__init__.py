"""The model zoo and the TaskModule.

``FAMILIES`` (the catalogue) imports no torch; ``build_network``, ``TaskModule`` and the
rest are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimass_lab._lazy import lazy_exports
from aimass_lab.specs import FAMILIES, Family

if TYPE_CHECKING:
    from aimass_lab.models._load import load_network
    from aimass_lab.models._task import TaskModule, metric_names
    from aimass_lab.models._text import text_options
    from aimass_lab.models._zoo import build_network, check_compatible

__all__ = [
    "FAMILIES",
    "Family",
    "TaskModule",
    "build_network",
    "check_compatible",
    "list_models",
    "load_network",
    "metric_names",
    "text_options",
]

_LAZY = {
    "build_network": "aimass_lab.models._zoo",
    "check_compatible": "aimass_lab.models._zoo",
    "TaskModule": "aimass_lab.models._task",
    "load_network": "aimass_lab.models._load",
    "metric_names": "aimass_lab.models._task",
    "text_options": "aimass_lab.models._text",
}


def list_models() -> list[dict[str, Any]]:
    """The zoo: name, description, inputs and hyperparameter defaults of each family."""
    return [
        {
            "name": f.name,
            "description": f.description,
            "inputs": list(f.inputs),
            "hparams": dict(f.defaults),
        }
        for f in FAMILIES.values()
    ]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
