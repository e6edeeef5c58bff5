"""The model zoo, pretrained models from local folders, and the TaskModule.

``FAMILIES`` (the catalogue) imports no torch; ``build_network``, ``TaskModule`` and the
rest are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimass_lab._lazy import lazy_exports
from aimass_lab.specs import FAMILIES, Family

if TYPE_CHECKING:
    from aimass_lab.models._load import load_network
    from aimass_lab.models._pretrained import (
        PretrainedInfo,
        find_pretrained,
        human_count,
        human_size,
        inspect_pretrained,
        models_dir,
        safetensors_stats,
    )
    from aimass_lab.models._scaffold import create_pretrained
    from aimass_lab.models._task import TaskModule, metric_names
    from aimass_lab.models._text import network_options
    from aimass_lab.models._vision import create_vision
    from aimass_lab.models._weights import load_weights, save_weights, weight_files
    from aimass_lab.models._zoo import build_network, check_compatible

__all__ = [
    "FAMILIES",
    "Family",
    "TaskModule",
    "build_network",
    "PretrainedInfo",
    "check_compatible",
    "create_pretrained",
    "create_vision",
    "find_pretrained",
    "human_count",
    "human_size",
    "inspect_pretrained",
    "list_models",
    "models_dir",
    "safetensors_stats",
    "load_weights",
    "save_weights",
    "weight_files",
    "load_network",
    "metric_names",
    "network_options",
]

_LAZY = {
    "build_network": "aimass_lab.models._zoo",
    "check_compatible": "aimass_lab.models._zoo",
    "TaskModule": "aimass_lab.models._task",
    "load_network": "aimass_lab.models._load",
    "PretrainedInfo": "aimass_lab.models._pretrained",
    "find_pretrained": "aimass_lab.models._pretrained",
    "human_count": "aimass_lab.models._pretrained",
    "human_size": "aimass_lab.models._pretrained",
    "inspect_pretrained": "aimass_lab.models._pretrained",
    "models_dir": "aimass_lab.models._pretrained",
    "safetensors_stats": "aimass_lab.models._pretrained",
    "create_pretrained": "aimass_lab.models._scaffold",
    "create_vision": "aimass_lab.models._vision",
    "load_weights": "aimass_lab.models._weights",
    "save_weights": "aimass_lab.models._weights",
    "weight_files": "aimass_lab.models._weights",
    "metric_names": "aimass_lab.models._task",
    "network_options": "aimass_lab.models._text",
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
