"""Workbench: one tabbed widget with every panel on one workspace."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from aimass_lab.widgets._base import Panel, esc
from aimass_lab.widgets._compress import CompressPanel
from aimass_lab.widgets._data import DataPanel
from aimass_lab.widgets._deploy import DeployPanel
from aimass_lab.widgets._models import ModelsPanel
from aimass_lab.widgets._search import SearchPanel
from aimass_lab.widgets._train import TrainPanel
from aimass_lab.workspace import Workspace, resolve_workspace

__all__ = ["Workbench"]


class Workbench(widgets.VBox):
    """The whole life of a model in one widget: Data, Train, Search, Compress, Models, Deploy.

    The panels share one workspace and hand results on: a dataset loaded in Data is offered
    to Train and Search; a model registered anywhere appears in Compress, Models and Deploy;
    Deploy in Compress opens the Deploy tab with the picked variant.

    Parameters
    ----------
    workspace
        The workspace (default: the current one).
    data
        A dataset name to preselect in Data, Train and Search.

    Attributes
    ----------
    panels : dict
        ``{"data": DataPanel, "train": TrainPanel, ...}``.
    tabs : ipywidgets.Tab

    Examples
    --------
    >>> import aimass_lab as am  # doctest: +SKIP
    >>> am.Workbench()  # doctest: +SKIP
    """

    def __init__(self, workspace: Workspace | str | None = None, data: str | None = None) -> None:
        super().__init__()
        self.workspace = resolve_workspace(workspace)
        ws = self.workspace
        self.data_panel = DataPanel(data, workspace=ws)
        self.train_panel = TrainPanel(data, workspace=ws)
        self.search_panel = SearchPanel(data, workspace=ws)
        self.compress_panel = CompressPanel(workspace=ws)
        self.models_panel = ModelsPanel(workspace=ws)
        self.deploy_panel = DeployPanel(workspace=ws)
        self.panels: dict[str, Panel] = {
            "data": self.data_panel,
            "train": self.train_panel,
            "search": self.search_panel,
            "compress": self.compress_panel,
            "models": self.models_panel,
            "deploy": self.deploy_panel,
        }
        self.tabs = widgets.Tab(
            children=list(self.panels.values()),
            titles=[p.title for p in self.panels.values()],
        )
        header = widgets.HTML(
            "<div style='font-size:15px'><b>AI Mass Lab</b> · workspace "
            f"<code>{esc(ws.path)}</code></div>"
        )
        self.children = [header, self.tabs]
        self.add_class("aimass-workbench")

        self.data_panel.on_loaded.append(self._dataset_loaded)
        self.data_panel.on_registered.append(lambda _ds: self._datasets_changed())
        self.train_panel.on_registered.append(self._model_trained)
        self.search_panel.on_registered.append(self._model_trained)
        self.compress_panel.on_registered.append(self._model_registered)
        self.compress_panel.on_deploy.append(self._deploy_requested)
        self.deploy_panel.on_deployed.append(lambda _d: self.models_panel.refresh())
        self.tabs.observe(self._tab_changed, "selected_index")

    def select(self, name: str) -> Panel:
        """Show the tab of a panel (``"train"``, ``"deploy"``...); return the panel."""
        keys = list(self.panels)
        self.tabs.selected_index = keys.index(name)
        return self.panels[name]

    def _dataset_loaded(self, dataset: Any) -> None:
        label = dataset.name
        self.train_panel.set_data(dataset.spec, label)
        self.search_panel.set_data(dataset.spec, label)

    def _datasets_changed(self) -> None:
        self.train_panel.refresh_choices()
        self.search_panel.refresh_choices()

    def _model_trained(self, mv: Any) -> None:
        """A trained model was registered: Compress offers it first."""
        self._model_registered(mv)
        self.compress_panel.refresh_models(select=mv.ref)

    def _model_registered(self, _mv: Any) -> None:
        self.compress_panel.refresh_models()
        self.deploy_panel.refresh_lists()
        self.models_panel.refresh()

    def _deploy_requested(self, ref: str) -> None:
        self.select("deploy")
        self.deploy_panel.deploy(ref)

    def _tab_changed(self, change: Any) -> None:
        name = list(self.panels)[change["new"]] if change["new"] is not None else None
        if name == "models":
            self.models_panel.refresh()
        elif name == "compress":
            self.compress_panel.refresh_models()
        elif name == "deploy":
            self.deploy_panel.refresh_lists()

    def close(self) -> None:
        """Close every panel (their polling stops) and the workbench."""
        for panel in self.panels.values():
            panel.close()
        self.tabs.close()
        super().close()
