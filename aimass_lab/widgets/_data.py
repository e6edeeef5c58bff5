"""DataPanel: choose a built-in, registered, local or uploaded dataset; see its report."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from aimass_lab.errors import SpecError
from aimass_lab.specs import BUILTINS, DataSpec, SplitSpec
from aimass_lab.widgets._base import (
    Field,
    Panel,
    button,
    check_text,
    dropdown,
    guarded,
    section,
    set_options,
)
from aimass_lab.widgets._charts import empty_figure
from aimass_lab.widgets._chunked_upload import ChunkedUpload
from aimass_lab.widgets._common import registered_note
from aimass_lab.widgets._samples import SamplesView

if TYPE_CHECKING:
    from aimass_lab.data import Dataset
    from aimass_lab.workspace import Workspace

__all__ = ["DataPanel"]

_SOURCES = (
    ("built-in", "builtin"),
    ("registered", "registered"),
    ("CSV / Parquet file", "file"),
    ("upload", "upload"),
)


#: The target dropdown's first option: no column chosen yet.
NO_TARGET = ("(choose the column to predict)", "")


def default_register_name(dataset_name: str, source: str) -> str:
    """The name Register proposes: ``<file name without suffix>-data`` for files, else
    ``<dataset>-data`` (characters a dataset name cannot hold become ``-``).

    Examples
    --------
    >>> default_register_name("house prices.csv", "file"), default_register_name("iris", "builtin")
    ('house-prices-data', 'iris-data')
    """
    import re

    base = Path(dataset_name).stem if source in ("file", "upload") else dataset_name.split(" ")[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") + "-data"


def file_source(path: str) -> str:
    """``parquet`` for .parquet/.pq files, else ``csv``."""
    return "parquet" if Path(path).suffix.lower() in (".parquet", ".pq") else "csv"


class DataPanel(Panel):
    """Choose a dataset, load it, read its report, look at its samples and register it.

    Sources: a built-in dataset, one registered in the workspace, a CSV or Parquet file on
    disk, or a file uploaded from the browser (saved in the workspace's ``uploads`` folder).
    The split settings (validation and test fractions, seed, stratification) are part of the
    spec. Load shows the dataset, its checks (schema, missing values, duplicates, leakage),
    the class balance (or the target's distribution for regression) and a page of samples
    (thumbnails for images, rows for tables and text) with previous/next paging; only that
    page is read. A bad input (a missing column, an empty class folder, an unreadable file)
    shows its message in the panel.

    Parameters
    ----------
    data
        A built-in or registered name to preselect, or a loaded Dataset to show.
    workspace
        The workspace (default: the current one).

    Attributes
    ----------
    dataset : Dataset or None
        The dataset loaded last.
    on_loaded : list of callables
        Called with each dataset loaded (the Workbench hands it to the Train panel).
    """

    title = "Data"

    def __init__(self, data: Any = None, *, workspace: Workspace | str | None = None) -> None:
        super().__init__(workspace)
        self.dataset: Dataset | None = None
        self.on_loaded: list[Callable[[Any], Any]] = []
        self.on_registered: list[Callable[[Any], Any]] = []
        #: The register name the panel proposed last (replaced on the next load unless edited).
        self._proposed_name = ""
        self._columns: list[str] = []

        self._build_form()
        self._build_results()
        self._source_box = widgets.VBox()
        self.source.observe(self._source_changed, "value")
        self.path.control.observe(self._path_changed, "value")
        self.upload.observe(self._upload_named, "filename")
        self.upload.observe(self._uploaded, "state")
        for f in (
            self.builtin,
            self.registered,
            self.target,
            self.task,
            self.val,
            self.test,
            self.seed,
        ):
            f.control.observe(self._validate, "value")
        self.register_name.control.observe(self._check_register, "value")

        self.children = self._layout()
        self.refresh_registered()
        if isinstance(data, str):
            if data in BUILTINS:
                self.builtin.value = data
            elif data in self.registered.control.options:
                self.source.value = "registered"
                self.registered.value = data
        self._source_changed()
        if data is not None and not isinstance(data, str):
            self.show_dataset(data)

    def _build_form(self) -> None:
        """The source, its dataset, file or upload, the task and the split."""
        self.source = widgets.ToggleButtons(options=list(_SOURCES), value="builtin")
        self.builtin = Field("dataset", dropdown(list(BUILTINS), value="iris", width="16em"))
        self.registered = Field("dataset", dropdown([], width="16em"))
        self.path = Field(
            "file",
            widgets.Text("", placeholder="path/to/data.csv", layout=widgets.Layout(width="24em")),
        )
        self.upload = ChunkedUpload()
        self.target = Field("target", dropdown([NO_TARGET], width="16em"))
        self.task = Field("task", dropdown(["auto", "classification", "regression"], width="12em"))
        split = SplitSpec()  # the form starts from the spec's defaults
        self.val = Field(
            "validation",
            widgets.FloatText(split.val, step=0.05, layout=widgets.Layout(width="8em")),
        )
        self.test = Field(
            "test", widgets.FloatText(split.test, step=0.05, layout=widgets.Layout(width="8em"))
        )
        self.seed = Field("seed", widgets.IntText(split.seed, layout=widgets.Layout(width="8em")))
        self.stratify = Field("stratify", widgets.Checkbox(split.stratify, indent=False))
        #: The DataSpec field path of each field (errors are routed by it).
        self.fields: dict[str, Field] = {
            "name": self.builtin,
            "registered": self.registered,
            "path": self.path,
            "target": self.target,
            "task": self.task,
            "split.val": self.val,
            "split.test": self.test,
            "split.seed": self.seed,
            "split.stratify": self.stratify,
            "split": self.test,
        }

    def _build_results(self) -> None:
        """Load, the summary, the report and the class balance, and registering."""
        self.load_button = button("Load", "primary", "table")
        self.load_button.on_click(self._on_load)
        self.register_name = Field(
            "register as",
            widgets.Text("", placeholder="dataset name", layout=widgets.Layout(width="14em")),
        )
        self.register_button = button("Register", "success", "archive")
        self.register_button.disabled = True
        self.register_button.on_click(self._on_register)
        #: What Register did, beside its button (the status line keeps the loaded summary).
        self.register_note = widgets.HTML()
        self.register_note.add_class("aimass-register-note")

        self.summary = widgets.HTML()
        self.report_view = widgets.HTML()
        #: Holds the class-balance chart once a dataset is shown (no empty axes before).
        self._balance_box = widgets.Box()
        self._balance_chart: Any = None
        self.samples = SamplesView()

    def _layout(self) -> list[widgets.Widget]:
        """The panel's rows: source, task, split, Load, the dataset, Register."""
        return [
            section("source"),
            self.source,
            self._source_box,
            self.task.box,
            section("split"),
            widgets.HBox([self.val.box, self.test.box]),
            widgets.HBox([self.seed.box, self.stratify.box]),
            widgets.HBox([self.load_button]),
            self.status,
            self.summary,
            widgets.HBox([self.report_view, self._balance_box]),
            section("samples"),
            self.samples,
            widgets.HBox([self.register_name.box, self.register_button, self.register_note]),
        ]

    # -- form ---------------------------------------------------------------------------------
    def refresh_registered(self) -> None:
        """Read the workspace's registered datasets again."""
        from aimass_lab.data import registered_names

        try:
            names = registered_names(self.workspace)
        except Exception:
            names = []
        set_options(self.registered.control, names)

    def _source_changed(self, _change: Any = None) -> None:
        source = self.source.value
        if source == "builtin":
            rows = [self.builtin.box]
        elif source == "registered":
            rows = [self.registered.box]
        elif source == "file":
            rows = [self.path.box, self.target.box]
        else:
            rows = [
                widgets.HBox(
                    [widgets.Label("file", layout=widgets.Layout(width="9em")), self.upload]
                )
            ]
        self._source_box.children = rows
        self._validate()

    def _path_changed(self, _change: Any = None) -> None:
        """A new file: its columns in the target dropdown, the one named label, target, class
        or y (any case) chosen, else none (the user chooses; nothing is guessed)."""
        from aimass_lab.data import default_target, file_columns

        path = self.path.value.strip()
        columns: list[str] = []
        if path and Path(path).expanduser().is_file():
            try:
                columns = file_columns(path, file_source(path))
            except Exception:
                columns = []
        self._columns = columns
        self.target.control.options = [NO_TARGET, *((c, c) for c in columns)]
        self.target.control.value = default_target(columns) or ""
        self._validate()

    def _upload_named(self, _change: Any = None) -> None:
        if self.upload.filename:
            self.upload.name = default_register_name(self.upload.filename, "upload")

    def _uploaded(self, _change: Any = None) -> None:
        """The browser's upload changed state: when done, select and load the dataset."""
        up = self.upload
        if up.state == "failed":
            self.show_error(f"upload of {up.filename} failed: {up.error}")
        elif up.state == "done" and up.dataset:
            self.refresh_registered()
            self.source.value = "registered"
            self.registered.value = up.dataset
            if self._on_load() is not None:
                self.show_status(
                    f"uploaded {up.filename} ({up.total:,} bytes), registered as {up.dataset!r}"
                )

    def data_arg(self) -> tuple[Any, dict[str, Any]]:
        """What :func:`aimass_lab.data.load` gets: ``(data, overrides)``."""
        split = {
            "val": self.val.value,
            "test": self.test.value,
            "seed": self.seed.value,
            "stratify": self.stratify.value,
        }
        task = None if self.task.value == "auto" else self.task.value
        source = self.source.value
        if source == "builtin":
            spec: dict[str, Any] = {"source": "builtin", "name": self.builtin.value, "split": split}
        elif source == "registered":
            overrides: dict[str, Any] = {"split": split}
            if task:
                overrides["task"] = task
            return self.registered.value, overrides
        else:
            path = self.path.value.strip()
            spec = {
                "source": file_source(path) if path else "csv",
                "path": path or None,
                "target": self.target.value or None,
                "split": split,
            }
        if task:
            spec["task"] = task
        return spec, {}

    def _validate(self, _change: Any = None) -> bool:
        """Check the form; errors go next to their fields; Load is enabled when all is well."""
        for f in self.fields.values():
            f.set_error(None)
        self.clear_form_errors()
        data, overrides = self.data_arg()
        ok = self._check_source(data)
        whole = isinstance(data, dict) and ok  # else what the form lacks is marked already
        try:
            if whole:
                DataSpec(**data)
            else:
                SplitSpec(**(data["split"] if isinstance(data, dict) else overrides["split"]))
        except SpecError as exc:
            ok = False
            self._route_errors(exc, "" if whole else "split")
        self.load_button.disabled = not ok
        return ok

    def _check_source(self, data: Any) -> bool:
        """What the chosen source needs from the form (a registered name, an existing file, a
        target column), each missing one next to its field."""
        source = self.source.value
        message = None
        field = None
        if source == "registered" and not data:
            field, message = self.registered, "no registered dataset; register one first"
        elif source in ("file", "upload"):
            path = self.path.value.strip()
            if not path:
                field, message = self.path, "needs a path: a CSV or Parquet file"
            elif not Path(path).expanduser().is_file():
                field, message = self.path, f"file not found: {path}"
            elif not self.target.value:
                names = ", ".join(self._columns) or "none"
                field, message = (
                    self.target,
                    "choose the column to predict (no column is named label, target, class "
                    f"or y); columns: {names}",
                )
        if field is not None:
            field.set_error(message)
        return field is None

    def _route_errors(self, exc: SpecError, prefix: str) -> None:
        """Each error next to the field of its path (below ``prefix``); the rest in the error
        line."""
        rest = []
        for err in exc.errors:
            path = ".".join(p for p in (prefix, str(err.get("field") or "")) if p)
            message = str(err.get("message", ""))
            field = self.fields.get(path) or self.fields.get(path.split(".")[0])
            if path and field is not None:
                field.set_error(message)
            else:
                rest.append(message)
        self.show_form_errors(rest)

    @property
    def valid(self) -> bool:
        """Whether the form is valid (the Load button is enabled)."""
        return self._validate()

    # -- actions ------------------------------------------------------------------------------
    @guarded
    def _on_load(self, _button: Any = None) -> Dataset | None:
        if not self._form_ready():
            return None
        from aimass_lab.data import load

        data, overrides = self.data_arg()
        self.show_status("loading…")
        try:
            dataset = load(data, workspace=self.workspace, **overrides)
        except SpecError as exc:
            self.apply_spec_error(exc, self.fields)
            self.load_button.disabled = True
            return None
        self.show_dataset(dataset)
        for callback in self.on_loaded:
            callback(dataset)
        return dataset

    def load(self) -> Dataset | None:
        """Press Load: load the dataset of the form (None on an error, shown in the panel)."""
        return self._on_load()  # type: ignore[no-any-return]

    @property
    def balance_chart(self) -> Any:
        """The class-balance chart (a FigureWidget), made when first needed."""
        if self._balance_chart is None:
            self._balance_chart = empty_figure("class balance", height=260)
            self._balance_chart.add_trace(go.Bar(x=[], y=[], name="rows"))
            self._balance_box.children = (self._balance_chart,)
        return self._balance_chart

    def show_dataset(self, dataset: Dataset) -> None:
        """Show a loaded dataset: summary, report, class balance and a page of samples.

        Only the labels, the report and one page of samples are read, so data read on
        demand (image folders, large tables, text) is never loaded whole.
        """
        self.dataset = dataset
        self.samples.show(dataset)
        self.summary.value = dataset._repr_html_()
        report = dataset.report()
        self.report_view.value = report._repr_html_()
        bar = self.balance_chart.data[0]
        with self.balance_chart.batch_update():
            if report.class_balance:
                bar.x = list(report.class_balance)
                bar.y = list(report.class_balance.values())
                self.balance_chart.layout.title.text = "class balance"
                self.balance_chart.layout.xaxis.type = "category"
            else:
                import numpy as np

                counts, edges = np.histogram(dataset.y_train.astype(float), bins=20)
                bar.x = [float((a + b) / 2) for a, b in itertools.pairwise(edges)]
                bar.y = counts.tolist()
                self.balance_chart.layout.title.text = "target distribution (train split)"
                self.balance_chart.layout.xaxis.type = "linear"
        warnings = f" · {len(report.warnings)} warning(s)" if report.warnings else ""
        self.show_status(f"loaded {dataset.name}: {dataset._summary()}{warnings}")
        current = self.register_name.value.strip()
        if not dataset.registered and current in ("", self._proposed_name):
            self._proposed_name = default_register_name(dataset.name, self.source.value)
            self.register_name.value = self._proposed_name
        self._check_register()

    def _check_register(self, _change: Any = None) -> None:
        from aimass_lab.data import check_dataset_name

        ok = check_text(self.register_name, check_dataset_name) and self.dataset is not None
        self.register_button.disabled = not ok

    @guarded
    def _on_register(self, _button: Any = None) -> Dataset | None:
        if self.dataset is None:
            return None
        from aimass_lab.data import add

        name = self.register_name.value.strip()
        dataset = add(name, self.dataset, workspace=self.workspace)
        self.dataset = dataset
        self.refresh_registered()
        self.register_note.value = registered_note(
            name, f"choose it in Train or Search (datasets.get({name!r}) in code)"
        )
        for callback in self.on_registered:
            callback(dataset)
        return dataset
