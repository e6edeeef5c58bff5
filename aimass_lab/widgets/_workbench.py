"""Workbench: one tabbed widget with every panel on one workspace."""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

import ipywidgets as widgets

from aimass_lab.widgets._base import Panel, esc
from aimass_lab.widgets._compress import CompressPanel
from aimass_lab.widgets._data import DataPanel
from aimass_lab.widgets._deploy import DeployPanel
from aimass_lab.widgets._models import ModelsPanel
from aimass_lab.widgets._resume import ResumeBar, active_jobs, latest_run, registered_datasets_note
from aimass_lab.widgets._search import SearchPanel
from aimass_lab.widgets._train import TrainPanel
from aimass_lab.workspace import Workspace, resolve_workspace

__all__ = ["Workbench"]

#: The tabs, in order. A panel is built when first shown (or asked for), so the Workbench
#: appears as soon as the Data tab is ready.
_PANELS: dict[str, type[Panel]] = {
    "data": DataPanel,
    "train": TrainPanel,
    "search": SearchPanel,
    "compress": CompressPanel,
    "models": ModelsPanel,
    "deploy": DeployPanel,
}


_WARMING: list[threading.Thread] = []


def _warm_up() -> None:
    """Import the charts' library in a background thread while the user reads the Data tab.

    Plotly's FigureWidget pulls in nbformat and jsonschema (whose URI grammars take seconds
    to compile): done now, the first click on another tab does not wait for it. Only
    imports run in the thread; every widget is made in the kernel's thread.
    """
    if _WARMING or "plotly.basewidget" in sys.modules:
        return
    thread = threading.Thread(
        target=importlib.import_module,
        args=("plotly.graph_objs._figurewidget",),
        name="aimass-warm-up",
        daemon=True,
    )
    _WARMING.append(thread)
    thread.start()


class Workbench(widgets.VBox):
    """The whole life of a model in one widget: Data, Train, Search, Compress, Models, Deploy.

    The panels share one workspace and hand results on: a dataset loaded in Data is offered
    to Train and Search; a model registered anywhere appears in Compress, Models and Deploy;
    Deploy in Compress opens the Deploy tab with the picked variant.

    A new Workbench (after a kernel restart, say) picks up the workspace's work: a training
    run or a search that is running is offered at the top ("A training job is running: NAME
    — Watch it": one click attaches the live view to it), the Train form is filled from the
    latest run's spec, and the Data tab lists the registered datasets.

    Parameters
    ----------
    workspace
        The workspace (default: the current one).
    data
        A dataset name to preselect in Data, Train and Search.

    Attributes
    ----------
    panels : dict
        ``{"data": DataPanel, "train": TrainPanel, ...}``. Panels are built when their tab
        is first shown, or when code first asks for them (``wb.select("train")``,
        ``wb.train_panel``, ``wb.panels``).
    tabs : ipywidgets.Tab
    running : ResumeBar
        The offers of the running jobs found at start (``running.offers``).

    Examples
    --------
    >>> import aimass_lab as am  # doctest: +SKIP
    >>> am.Workbench()  # doctest: +SKIP
    """

    def __init__(self, workspace: Workspace | str | None = None, data: str | None = None) -> None:
        super().__init__()
        self.workspace = ws = resolve_workspace(workspace)
        self._data = data
        self._data_choice: tuple[Any, str] | None = None
        #: The version registered last from Train or Search: Compress selects it.
        self._trained: str | None = None
        #: The panels built so far; a panel is built when its tab is first shown.
        self._built: dict[str, Panel] = {}
        #: One box per tab; a panel goes into its box when it is built.
        self._slots = {name: widgets.VBox() for name in _PANELS}
        self.tabs = widgets.Tab(
            children=list(self._slots.values()), titles=[cls.title for cls in _PANELS.values()]
        )
        header = widgets.HTML(
            "<div style='font-size:15px'><b>AI Mass Lab</b> · workspace "
            f"<code>{esc(self.workspace.path)}</code></div>"
        )
        self.running = ResumeBar(active_jobs(ws), self.watch)
        self.children = [header, self.running, self.tabs]
        self.add_class("aimass-workbench")
        self.tabs.observe(self._tab_changed, "selected_index")
        #: The latest run, whose settings fill the Train form when it is built.
        self._latest_run = latest_run(ws) if data is None else None
        self.panel("data")
        if data is None:
            self._list_registered(ws)
        _warm_up()

    @property
    def panels(self) -> dict[str, Panel]:
        """``{"data": DataPanel, "train": TrainPanel, ...}`` (builds those not built yet)."""
        return {name: self.panel(name) for name in _PANELS}

    def panel(self, name: str) -> Panel:
        """The panel of a tab (``"train"``...), built on first use; its tab is not shown."""
        if name not in _PANELS:
            raise ValueError(f"unknown panel {name!r}; accepted: {', '.join(_PANELS)}")
        if name not in self._built:
            panel = self._build(name)
            self._built[name] = panel
            self._slots[name].children = (panel,)
        return self._built[name]

    def _build(self, name: str) -> Panel:
        """Make one panel and wire it to the others (those built now or later)."""
        ws = self.workspace
        if name == "data":
            data = DataPanel(self._data, workspace=ws)
            data.on_loaded.append(self._dataset_loaded)
            data.on_registered.append(lambda _ds: self._datasets_changed())
            return data
        if name in ("train", "search"):
            form = (TrainPanel if name == "train" else SearchPanel)(self._data, workspace=ws)
            form.on_registered.append(self._model_trained)
            if self._data_choice is not None:
                form.set_data(*self._data_choice)
            elif name == "train" and self._latest_run is not None:
                from aimass_lab.train import Run

                form._fill_from_spec(Run(self._latest_run.id, ws))  # type: ignore[attr-defined]
            return form
        if name == "compress":
            compress = CompressPanel(workspace=ws)
            if self._trained is not None:
                compress.refresh_models(select=self._trained)
            compress.on_registered.append(self._model_registered)
            compress.on_deploy.append(self._deploy_requested)
            return compress
        if name == "models":
            return ModelsPanel(workspace=ws)
        deploy = DeployPanel(workspace=ws)
        deploy.on_deployed.append(lambda _d: self._refresh_built("models"))
        return deploy

    data_panel = property(lambda self: self.panel("data"), doc="The Data panel.")
    train_panel = property(lambda self: self.panel("train"), doc="The Train panel.")
    search_panel = property(lambda self: self.panel("search"), doc="The Search panel.")
    compress_panel = property(lambda self: self.panel("compress"), doc="The Compress panel.")
    models_panel = property(lambda self: self.panel("models"), doc="The Models panel.")
    deploy_panel = property(lambda self: self.panel("deploy"), doc="The Deploy panel.")

    def _list_registered(self, ws: Workspace) -> None:
        """Open the Data tab on the workspace's registered datasets, when there are some."""
        note = registered_datasets_note(ws)
        if note is not None:
            self.data_panel.source.value = "registered"
            self.data_panel.children = [note, *self.data_panel.children]

    def watch(self, kind: str, job: Any) -> Panel:
        """Open the tab of a running ``train`` or ``search`` job and follow it live."""
        if kind == "search":
            from aimass_lab.search import load_study

            study = load_study(job.spec["study"], job.spec.get("storage"), self.workspace)
            self.search_panel.attach(study)
            return self.select("search")
        from aimass_lab.train import Run

        run = Run(job.id, self.workspace)
        self.train_panel._fill_from_spec(run)
        self.train_panel.attach(run)
        return self.select("train")

    def select(self, name: str) -> Panel:
        """Show the tab of a panel (``"train"``, ``"deploy"``...); return the panel."""
        panel = self.panel(name)
        self.tabs.selected_index = list(_PANELS).index(name)
        return panel

    def _dataset_loaded(self, dataset: Any) -> None:
        self._data_choice = (dataset.spec, dataset.name)
        for name in ("train", "search"):
            if name in self._built:
                self._built[name].set_data(*self._data_choice)  # type: ignore[attr-defined]

    def _datasets_changed(self) -> None:
        for name in ("train", "search"):
            if name in self._built:
                self._built[name].refresh_choices()  # type: ignore[attr-defined]

    def _refresh_built(self, name: str) -> None:
        """Bring a built panel up to date with the store (an unbuilt one reads it when built)."""
        panel = self._built.get(name)
        if panel is None:
            return
        if name == "compress":
            panel.refresh_models()  # type: ignore[attr-defined]
        elif name == "deploy":
            panel.refresh_lists()  # type: ignore[attr-defined]
        else:
            panel.refresh()

    def _model_trained(self, mv: Any) -> None:
        """A trained model was registered: Compress offers it first (once built)."""
        self._trained = mv.ref
        self._model_registered(mv)
        if "compress" in self._built:
            self._built["compress"].refresh_models(select=mv.ref)  # type: ignore[attr-defined]

    def _model_registered(self, _mv: Any) -> None:
        for name in ("compress", "deploy", "models"):
            self._refresh_built(name)

    def _deploy_requested(self, ref: str) -> None:
        self.select("deploy")
        self.deploy_panel.deploy(ref)  # type: ignore[attr-defined]

    def _tab_changed(self, change: Any) -> None:
        if change["new"] is None:
            return
        name = list(_PANELS)[change["new"]]
        if name in self._built:
            self._refresh_built(name)
        else:
            self.panel(name)  # built now: it reads the store as it is

    def close(self) -> None:
        """Close every panel (their polling stops) and the workbench."""
        for panel in self._built.values():
            panel.close()
        self.tabs.close()
        super().close()
