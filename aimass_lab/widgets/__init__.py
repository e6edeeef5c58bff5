"""Notebook dashboards: a panel per stage and the tabbed :class:`Workbench`.

Panels are ipywidgets with plotly ``FigureWidget`` charts and small anywidget widgets (their
JavaScript ships in the package; no CDN). Each panel builds specs from its controls and
calls the stage APIs; live views poll the workspace's store from an asyncio task (a thread
outside a kernel) at most 4 times a second and stop when the panel is closed.

Everything is imported lazily: ``import aimass_lab`` imports neither ipywidgets nor plotly.

Examples
--------
>>> import aimass_lab as am  # doctest: +SKIP
>>> am.Workbench()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab._lazy import lazy_exports

if TYPE_CHECKING:
    from aimass_lab.widgets._challenge import ChallengePanel
    from aimass_lab.widgets._compress import CompressPanel
    from aimass_lab.widgets._data import DataPanel
    from aimass_lab.widgets._deploy import DeployPanel
    from aimass_lab.widgets._display import register_panels
    from aimass_lab.widgets._models import ModelsPanel
    from aimass_lab.widgets._poller import Poller
    from aimass_lab.widgets._search import SearchPanel
    from aimass_lab.widgets._train import TrainPanel
    from aimass_lab.widgets._workbench import Workbench

__all__ = [
    "ChallengePanel",
    "CompressPanel",
    "DataPanel",
    "DeployPanel",
    "ModelsPanel",
    "Poller",
    "SearchPanel",
    "TrainPanel",
    "Workbench",
    "register_panels",
]

_LAZY: dict[str, str] = {
    "ChallengePanel": "aimass_lab.widgets._challenge",
    "CompressPanel": "aimass_lab.widgets._compress",
    "DataPanel": "aimass_lab.widgets._data",
    "DeployPanel": "aimass_lab.widgets._deploy",
    "ModelsPanel": "aimass_lab.widgets._models",
    "Poller": "aimass_lab.widgets._poller",
    "SearchPanel": "aimass_lab.widgets._search",
    "TrainPanel": "aimass_lab.widgets._train",
    "Workbench": "aimass_lab.widgets._workbench",
    "register_panels": "aimass_lab.widgets._display",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, listed=__all__)
