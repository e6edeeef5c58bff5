"""The live panels of the API handles, registered with :mod:`aimass_lab._display`.

Importing this module (or :func:`register_panels`) registers a panel factory for ``Dataset``, ``Run``, ``Study``,
``CompressionReport``, ``Deployment`` and ``Leaderboard``; the handles' ``_repr_mimebundle_`` (a call to
:func:`aimass_lab._display.mimebundle`) then shows the panel in a kernel, with the HTML as
fallback. The stages never import this module; ``aimass_lab/__init__`` loads it on first use.
"""

from __future__ import annotations

from typing import Any

from aimass_lab._display import in_kernel, mimebundle, panel_for, register_panel

__all__ = ["in_kernel", "mimebundle", "panel_for", "register_panels"]


def _dataset_panel(obj: Any) -> Any:
    from aimass_lab.widgets._data import DataPanel

    return DataPanel(obj, workspace=obj.workspace)


def _run_panel(obj: Any) -> Any:
    from aimass_lab.widgets._train import TrainPanel

    return TrainPanel(run=obj)


def _study_panel(obj: Any) -> Any:
    from aimass_lab.widgets._search import SearchPanel

    return SearchPanel(study=obj)


def _report_panel(obj: Any) -> Any:
    from aimass_lab.widgets._compress import CompressPanel

    return CompressPanel(report=obj)


def _deployment_panel(obj: Any) -> Any:
    from aimass_lab.widgets._deploy import DeployPanel

    return DeployPanel(deployment=obj, workspace=getattr(obj, "workspace", None))


def _leaderboard_panel(obj: Any) -> Any:
    from aimass_lab.widgets._challenge import ChallengePanel

    return ChallengePanel(obj.challenge.name, workspace=obj.workspace)


def register_panels() -> None:
    """Show the handles of every stage with their live panel in a kernel (idempotent)."""
    register_panel("Dataset", _dataset_panel)
    register_panel("Run", _run_panel)
    register_panel("Study", _study_panel)
    register_panel("CompressionReport", _report_panel)
    register_panel("Deployment", _deployment_panel)
    register_panel("Leaderboard", _leaderboard_panel)


register_panels()
