"""The run comparison of the Train panel: a metric of several runs overlaid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets

from aimass_lab.widgets._base import button, downsample, dropdown
from aimass_lab.widgets._charts import empty_figure

if TYPE_CHECKING:
    from aimass_lab.train import Run
    from aimass_lab.workspace import Workspace

__all__ = ["RunComparison"]

_COMPARE_METRICS = ("val_loss", "val_acc", "val_f1", "val_rmse", "val_mae", "train_loss_epoch")


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
        self.compare_runs.observe(lambda _c: self.update_compare(), "value")
        self.compare_metric.observe(lambda _c: self.update_compare(), "value")
        compare_refresh = button("Refresh runs", icon="refresh")
        compare_refresh.on_click(lambda _b: self.refresh_run_list())
        return widgets.VBox(
            [
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
        for r in runs:
            job = r.job
            options.append((f"{job.name or r.id} ({job.state})", r.id))
        self.compare_runs.options = options
        self.compare_runs.value = tuple(v for _, v in options if v in selected)

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
            traces.append(
                go.Scatter(x=x, y=y, name=run_id[-13:], mode="lines", line={"dash": dash})
            )
        self.compare_chart.data = ()
        if traces:
            self.compare_chart.add_traces(traces)
        self.compare_chart.layout.yaxis.title = metric
