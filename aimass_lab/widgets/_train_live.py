"""The live view of the Train panel: the curves, the progress bar, the end of a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.widgets._base import downsample, esc, log_html
from aimass_lab.widgets._chart_style import ema
from aimass_lab.widgets._charts import (
    add_metric_trace,
    evaluate_run,
    evaluation_figure,
    live_train_figure,
    set_waiting,
)
from aimass_lab.widgets._common import fmt_seconds

if TYPE_CHECKING:
    from aimass_lab.train import Run

__all__ = ["LOG_LINES", "LiveRun"]

#: Lines of the job's log shown under the chart.
LOG_LINES = 25


class LiveRun:
    """Mixin of the Train panel: the widgets that follow a run, and their updates."""

    run: Run | None
    evaluation: dict[str, Any] | None
    _series: dict[str, tuple[list[float], list[float]]]
    _last_id: int

    if TYPE_CHECKING:

        def show_status(self, message: str, html_text: bool = False) -> None: ...

        def show_error(self, error: BaseException | str, log: str | None = None) -> None: ...

        def refresh_run_list(self) -> None: ...

    def _build_live(self, task: str | None) -> None:
        """The progress bar, its text, the live chart (for ``task``), the smoothing slider,
        the log, the evaluation."""
        self.progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, description="", layout=widgets.Layout(width="20em")
        )
        self.eta = widgets.HTML("")
        self.chart, self._trace_index = live_train_figure(task)
        self.smoothing = widgets.FloatSlider(
            value=0.6,
            min=0.0,
            max=0.99,
            step=0.01,
            description="smoothing",
            readout_format=".2f",
            tooltip="exponential moving average of the curves; the raw values stay faint behind",
            layout=widgets.Layout(width="22em"),
        )
        self.smoothing.observe(lambda _c: self._draw_curves(set(self._series)), "value")
        self.log_view = widgets.HTML("")
        self.evaluation_box = widgets.VBox()

    def _update_curves(self, points: list[dict[str, Any]]) -> None:
        """Add new metric points to their curves (a trace of its own for an unforeseen one)."""
        changed: set[str] = set()
        for p in points:
            self._last_id = max(self._last_id, int(p["id"]))
            name = p["name"]
            if name.startswith("test_"):
                continue
            xs, ys = self._series.setdefault(name, ([], []))
            xs.append(p["step"])
            ys.append(p["value"])
            changed.add(name)
        for name in sorted(changed - set(self._trace_index)):
            add_metric_trace(self.chart, name)  # a metric not foreseen: its own traces, once
            self._trace_index[name] = len(self.chart.data) - 1
        if not self._series:
            set_waiting(self.chart, "waiting for the first training step of the run")
        elif changed:
            self._draw_curves(changed)

    def _draw_curves(self, names: set[str]) -> None:
        """Set the traces of ``names``: the smoothed line, and the raw values faint behind."""
        weight = float(self.smoothing.value)
        with self.chart.batch_update():
            if names:
                set_waiting(self.chart, None)
            for name in names:
                if name not in self._trace_index:
                    continue
                xs, ys = self._series[name]
                smooth = weight > 0 and name != "lr" and len(ys) > 1
                main = self.chart.data[self._trace_index[name]]
                raw = self.chart.data[self._trace_index[name] - 1]
                shown = (
                    [float("nan") if v is None else v for v in ema(ys, weight)] if smooth else ys
                )
                main.x, main.y = downsample(xs, shown)
                raw.x, raw.y = downsample(xs, ys) if smooth else ([], [])

    def _update_progress(self, job: Any) -> None:
        """The progress bar (coloured by the job's state), elapsed time and ETA.

        While the job has not reported its progress yet, it is estimated from the steps
        already logged: the steps of the first finished epoch times the epochs; before the
        first epoch ends, the bar says how many steps are in.
        """
        progress = 1.0 if job.state == "succeeded" else float(job.progress or 0.0)
        steps = self._series.get("train_loss", ([], []))[0]
        epochs_done = len(self._series.get("val_loss", ([], []))[0])
        max_epochs = getattr(getattr(self.run, "spec", None), "max_epochs", None)
        known = f"{progress:.0%}"
        if job.state != "succeeded" and steps and max_epochs:
            if epochs_done:
                done = max(steps)  # the global step after each batch: 1, 2, ...
                per_epoch = self._series["val_loss"][0][0] or done / epochs_done
                progress = max(progress, min(1.0, done / (per_epoch * max_epochs)))
                known = f"{progress:.0%}"
            elif progress == 0.0:
                known = f"{max(steps)} steps into epoch 1 of {max_epochs}"
        self.progress.value = min(1.0, max(0.0, progress))
        self.progress.bar_style = {
            "succeeded": "success",
            "failed": "danger",
            "interrupted": "warning",
            "cancelled": "warning",
        }.get(job.state, "info")
        elapsed = fmt_seconds(job.duration_s)
        eta = f" · ETA {fmt_seconds(job.eta_s)}" if job.eta_s is not None else ""
        self.eta.value = f"{known} · {esc(job.state)} · elapsed {elapsed}{eta}"

    def _last_values(self) -> dict[str, float]:
        return {name: ys[-1] for name, (_xs, ys) in self._series.items() if ys}

    def _finish(self, job: Any) -> None:
        run = self.run
        assert run is not None
        log = run.logs(tail=LOG_LINES)
        self.log_view.value = log_html(log, "log tail")
        if job.state == "succeeded":
            metrics = (job.result or {}).get("metrics") or run.summary
            shown = ", ".join(
                f"{k} {v:.4g}"
                for k, v in sorted(metrics.items())
                if k.startswith(("test_", "val_"))
            )
            self.show_status(f"run {run.id} succeeded in {fmt_seconds(job.duration_s)} — {shown}")
            try:
                self.evaluation = evaluate_run(run)
                self.evaluation_box.children = [evaluation_figure(self.evaluation)]
            except Exception as exc:  # the run is fine; only the extra chart failed
                self.evaluation_box.children = [
                    widgets.HTML(f"<i>no evaluation chart: {esc(exc)}</i>")
                ]
            self.refresh_run_list()
        elif job.state == "failed":
            self.show_error(f"run {run.id} failed: {job.exit_reason or 'see the log'}", log=log)
        else:
            self.show_status(
                f"run {run.id} {job.state}"
                + (f" ({job.exit_reason})" if job.exit_reason else "")
                + " — Resume continues from the last checkpoint"
            )
