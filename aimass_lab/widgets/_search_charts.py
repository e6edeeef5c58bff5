"""The live charts of the Search panel: history, intermediate values, parallel coordinates,
importances, Pareto front and the trials table, each updated in one ``batch_update``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from aimass_lab.widgets._base import esc
from aimass_lab.widgets._chart_style import nice_ticks
from aimass_lab.widgets._charts import empty_figure, set_waiting
from aimass_lab.widgets._common import fmt_seconds

if TYPE_CHECKING:
    from aimass_lab.search import Study

__all__ = ["CHART_WIDTH", "MIN_IMPORTANCE_TRIALS", "SearchCharts"]

#: Width (px) of each of the search charts, two to a row.
CHART_WIDTH = 460
#: Finished trials before the parameter importances are computed (fANOVA needs a few).
MIN_IMPORTANCE_TRIALS = 3

_COLOURS = {"COMPLETE": "#1f77b4", "PRUNED": "#d62728", "RUNNING": "#2ca02c", "FAIL": "#7f7f7f"}


def half(fig: Any) -> widgets.Box:
    """A chart at a fixed width: a figure first drawn in a hidden tab takes plotly's default
    700 px, which a 50%-wide box would clip; two side by side, wrapping when narrower."""
    fig.update_layout(width=CHART_WIDTH)
    return widgets.Box([fig], layout=widgets.Layout(width=f"{CHART_WIDTH}px"))


def pair(*boxes: widgets.Box) -> widgets.Box:
    """Charts side by side, wrapping when the panel is narrower."""
    return widgets.Box(list(boxes), layout=widgets.Layout(flex_flow="row wrap"))


def _numeric_dimension(label: str, values: list[float]) -> dict[str, Any]:
    """A numeric axis of parallel coordinates with round ticks (1-2-5 steps) over its range."""
    ticks = nice_ticks(min(values), max(values), 5) if values else []
    dim: dict[str, Any] = {"label": label, "values": values}
    if len(ticks) > 1:
        dim["range"] = [ticks[0], ticks[-1]]
        dim["tickvals"] = ticks
        dim["ticktext"] = [f"{t:g}" for t in ticks]
    return dim


class SearchCharts:
    """Mixin of the Search panel: its figures, made once, and their updates from the trials."""

    _complete_seen: int
    _importance_at: float

    def _build_charts(self) -> None:
        """The figures with their traces made in advance (a refresh only sets their data)."""
        self.history_chart = empty_figure("optimisation history", xaxis={"title": "trial"})
        self.history_chart.add_trace(
            go.Scatter(x=[], y=[], mode="markers", name="trials", marker={"size": 9})
        )
        self.history_chart.add_trace(go.Scatter(x=[], y=[], mode="lines", name="best so far"))
        self.intermediate_chart = empty_figure(
            "intermediate values", xaxis={"title": "epoch"}, showlegend=True
        )
        for name, line in (
            ("complete / running", {"color": _COLOURS["COMPLETE"]}),
            ("pruned", {"color": _COLOURS["PRUNED"], "dash": "dash"}),
        ):
            self.intermediate_chart.add_trace(
                go.Scatter(x=[], y=[], mode="lines+markers", name=name, line=line)
            )
        # the axis titles of parallel coordinates sit above the plot: room between them and
        # the chart's title, and at the sides for the first and last axis' ticks
        self.parallel_chart = empty_figure(
            "parallel coordinates", margin={"l": 60, "r": 70, "t": 90, "b": 30}
        )
        self.parallel_chart.add_trace(
            go.Parcoords(dimensions=[], line={"colorscale": "Viridis"}, labelangle=0)
        )
        self.importance_chart = empty_figure("parameter importances")
        self.importance_chart.add_trace(go.Bar(x=[], y=[], orientation="h", name="importance"))
        set_waiting(
            self.importance_chart, f"shown once {MIN_IMPORTANCE_TRIALS} trials have finished"
        )
        for chart in (self.history_chart, self.parallel_chart):
            set_waiting(chart, "waiting for the first finished trial")
        set_waiting(self.intermediate_chart, "waiting for the first epoch of a trial")
        self.pareto_chart = empty_figure("Pareto front")
        self.pareto_chart.add_trace(
            go.Scatter(
                x=[], y=[], mode="markers", name="trials", marker={"color": "#9e9e9e", "size": 8}
            )
        )
        self.pareto_chart.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="markers+lines",
                name="Pareto front",
                marker={"color": "#d62728", "size": 11},
            )
        )
        set_waiting(self.pareto_chart, "drawn for a search of two objectives")
        self.trials_view = widgets.HTML()

    def _update_charts(
        self, study: Study, frozen: list[Any], complete: list[Any], maximize: bool
    ) -> None:
        """Every chart and the table from the trials read once."""
        metrics = study.spec.metrics
        self._update_history(complete, metrics[0], maximize)
        self._update_intermediate(frozen, metrics[0])
        if len(complete) != self._complete_seen:
            self._complete_seen = len(complete)
            self._update_parallel(complete, metrics[0])
            self._update_pareto(study, complete, metrics)
        if len(complete) >= MIN_IMPORTANCE_TRIALS and time.monotonic() - self._importance_at > 5:
            self._update_importances(study, len(metrics) > 1)
        self._update_table(frozen, metrics)

    def _update_history(self, complete: list[Any], metric: str, maximize: bool) -> None:
        """The first objective of each finished trial and the best so far."""
        xs = [t.number for t in complete]
        ys = [float(t.values[0]) for t in complete]
        best: list[float] = []
        for y in ys:
            best.append(y if not best else (max(best[-1], y) if maximize else min(best[-1], y)))
        with self.history_chart.batch_update():
            set_waiting(self.history_chart, None if xs else "waiting for the first finished trial")
            self.history_chart.data[0].x = xs
            self.history_chart.data[0].y = ys
            self.history_chart.data[0].customdata = xs
            self.history_chart.data[1].x = xs
            self.history_chart.data[1].y = best
            self.history_chart.layout.yaxis.title = metric

    def _update_intermediate(self, frozen: list[Any], metric: str) -> None:
        """The values reported epoch by epoch, pruned trials apart."""
        lines: dict[bool, tuple[list[Any], list[Any]]] = {True: ([], []), False: ([], [])}
        for t in frozen:
            if not t.intermediate_values:
                continue
            pruned = t.state.name == "PRUNED"
            lx, ly = lines[pruned]
            for step in sorted(t.intermediate_values):
                lx.append(step)
                ly.append(t.intermediate_values[step])
            lx.append(None)
            ly.append(None)
        with self.intermediate_chart.batch_update():
            empty = not (lines[False][0] or lines[True][0])
            set_waiting(
                self.intermediate_chart, "waiting for the first epoch of a trial" if empty else None
            )
            self.intermediate_chart.data[0].x, self.intermediate_chart.data[0].y = lines[False]
            self.intermediate_chart.data[1].x, self.intermediate_chart.data[1].y = lines[True]
            self.intermediate_chart.layout.yaxis.title = metric

    def _update_parallel(self, complete: list[Any], metric: str) -> None:
        names = sorted({p for t in complete for p in t.params})
        dims = []
        for name in names:
            values = [t.params.get(name) for t in complete]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                dims.append(_numeric_dimension(name, [float(v) for v in values]))
            else:
                cats = sorted({str(v) for v in values})
                dims.append(
                    {
                        "label": name,
                        "values": [cats.index(str(v)) for v in values],
                        "tickvals": list(range(len(cats))),
                        "ticktext": cats,
                    }
                )
        objective = [float(t.values[0]) for t in complete]
        if complete:
            dims.append(_numeric_dimension(metric, objective))
        with self.parallel_chart.batch_update():
            set_waiting(
                self.parallel_chart, None if dims else "waiting for the first finished trial"
            )
            self.parallel_chart.data[0].dimensions = dims
            self.parallel_chart.data[0].line = {
                "color": objective,
                "colorscale": "Viridis",
                "showscale": bool(objective),
                "colorbar": {"thickness": 10, "x": 1.02},
            }

    def _update_pareto(self, study: Study, complete: list[Any], metrics: list[str]) -> None:
        if len(metrics) < 2:
            return
        front = {t.number for t in study.best_trials}
        on = sorted((t for t in complete if t.number in front), key=lambda t: t.values[0])
        off = [t for t in complete if t.number not in front]
        with self.pareto_chart.batch_update():
            set_waiting(
                self.pareto_chart, None if complete else "waiting for the first finished trial"
            )
            self.pareto_chart.data[0].x = [t.values[0] for t in off]
            self.pareto_chart.data[0].y = [t.values[1] for t in off]
            self.pareto_chart.data[0].customdata = [t.number for t in off]
            self.pareto_chart.data[1].x = [t.values[0] for t in on]
            self.pareto_chart.data[1].y = [t.values[1] for t in on]
            self.pareto_chart.data[1].customdata = [t.number for t in on]
            self.pareto_chart.layout.xaxis.title = metrics[0]
            self.pareto_chart.layout.yaxis.title = metrics[1]

    def _update_importances(self, study: Study, multi: bool) -> None:
        import optuna

        self._importance_at = time.monotonic()
        try:
            target = (lambda t: t.values[0]) if multi else None
            importances = optuna.importance.get_param_importances(study.optuna_study, target=target)
        except Exception:
            return
        items = sorted(importances.items(), key=lambda kv: kv[1])
        with self.importance_chart.batch_update():
            set_waiting(self.importance_chart, None)
            self.importance_chart.data[0].x = [float(v) for _k, v in items]
            self.importance_chart.data[0].y = [k for k, _v in items]

    def _update_table(self, frozen: list[Any], metrics: list[str]) -> None:
        rows = []
        for t in list(frozen)[-15:][::-1]:
            values = (
                ", ".join(f"{v:.4g}" for v in t.values)
                if t.values is not None and t.state.name == "COMPLETE"
                else "—"
            )
            duration = (
                fmt_seconds((t.datetime_complete - t.datetime_start).total_seconds())
                if t.datetime_complete and t.datetime_start
                else "—"
            )
            colour = _COLOURS.get(t.state.name, "#333")
            params = ", ".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items()
            )
            rows.append(
                f"<tr><td>{t.number}</td><td style='color:{colour}'>{esc(t.state.name.lower())}</td>"
                f"<td>{esc(values)}</td><td>{esc(params)}</td><td>{duration}</td></tr>"
            )
        self.trials_view.value = (
            "<div class='aimass-scroll'><table style='font-size:12px'><thead><tr><th>trial</th><th>state</th>"
            f"<th>{esc(', '.join(metrics))}</th><th>params</th><th>time</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
