"""The run comparison of the Train panel: a table of the runs (params and metrics, sorted by
a click on a header) and a metric of several runs overlaid."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.widgets._base import button, downsample, dropdown
from aimass_lab.widgets._chart_style import metric_colour
from aimass_lab.widgets._charts import empty_figure, set_waiting
from aimass_lab.widgets._table import SortTable

if TYPE_CHECKING:
    from aimass_lab.train import Run
    from aimass_lab.workspace import Workspace

__all__ = ["RunComparison", "run_row"]

_COMPARE_METRICS = ("val_loss", "val_acc", "val_f1", "val_rmse", "val_mae", "train_loss_epoch")


def run_row(run: Run) -> dict[str, Any]:
    """One run as a row of the comparison table: its name and state, its parameters, its last
    validation and test metrics (as MLflow's runs table)."""
    job, spec = run.job, run.spec
    row: dict[str, Any] = {
        "run": job.name or run.id,
        "state": job.state,
        "model": spec.model.family,
        "epochs": spec.max_epochs,
        "batch_size": spec.batch_size,
        "lr": spec.lr,
    }
    for key, value in sorted((spec.model.hparams or {}).items()):
        if isinstance(value, int | float | str | bool) and key not in row:
            row[key] = value
    for key, value in sorted(run.summary.items()):
        if key.startswith(("val_", "test_")) and math.isfinite(float(value)):
            row[key] = float(value)
    return row


class RunComparison:
    """Mixin of the Train panel: the runs to compare, the metric, the overlay chart."""

    run: Run | None
    workspace: Workspace

    def _build_compare(self) -> widgets.VBox:
        """The run list, the metric and the chart, in one box."""
        self.compare_runs = widgets.SelectMultiple(
            options=[], rows=6, layout=widgets.Layout(width="22em")
        )
        self.compare_metric = dropdown(_COMPARE_METRICS, value="val_loss", width="12em")
        self.compare_chart = empty_figure(
            "run comparison", xaxis={"title": "step"}, legend={"orientation": "h", "y": -0.25}
        )
        set_waiting(self.compare_chart, "select runs above to overlay their curves")
        self.compare_table = SortTable(empty="no runs in this workspace yet")
        self.compare_runs.observe(lambda _c: self.update_compare(), "value")
        self.compare_metric.observe(lambda _c: self.update_compare(), "value")
        compare_refresh = button("Refresh runs", icon="refresh")
        compare_refresh.on_click(lambda _b: self.refresh_run_list())
        return widgets.VBox(
            [
                widgets.HTML("<i>click a column's header to sort the runs by it</i>"),
                self.compare_table,
                widgets.HBox(
                    [self.compare_runs, widgets.VBox([self.compare_metric, compare_refresh])]
                ),
                self.compare_chart,
            ]
        )

    def refresh_run_list(self) -> None:
        """List the workspace's runs for the comparison."""
        from aimass_lab.train import list_runs

        try:
            runs = list_runs(self.workspace, limit=40)
        except Exception:
            return
        selected = set(self.compare_runs.value)
        options = []
        rows = []
        for r in runs:
            job = r.job
            options.append((f"{job.name or r.id} ({job.state})", r.id))
            try:
                rows.append(run_row(r))
            except Exception:  # a run whose record cannot be read: listed, not tabled
                continue
        self.compare_runs.options = options
        self.compare_runs.value = tuple(v for _, v in options if v in selected)
        columns = list(dict.fromkeys(k for row in rows for k in row))
        params = [c for c in columns if not c.startswith(("val_", "test_"))]
        self.compare_table.set_rows(rows, params + sorted(set(columns) - set(params)))

    def update_compare(self) -> None:
        """Overlay the chosen metric of the selected runs (and of the watched run)."""
        import plotly.graph_objects as go

        metric = self.compare_metric.value
        ids = list(self.compare_runs.value)
        if self.run is not None and self.run.id not in ids:
            ids.insert(0, self.run.id)
        traces = []
        for run_id in ids:
            points = self.workspace.metrics(run_id, name=metric)
            x, y = downsample([p["step"] for p in points], [p["value"] for p in points])
            dash = "solid" if self.run is not None and run_id == self.run.id else "dot"
            colour = metric_colour(run_id)  # a run keeps its colour as runs are (de)selected
            traces.append(
                go.Scatter(
                    x=x, y=y, name=run_id[-13:], mode="lines",
                    line={"dash": dash, "color": colour},
                )
            )  # fmt: skip
        self.compare_chart.data = ()
        if traces:
            self.compare_chart.add_traces(traces)
        set_waiting(
            self.compare_chart, None if traces else "select runs above to overlay their curves"
        )
        self.compare_chart.layout.yaxis.title = metric
