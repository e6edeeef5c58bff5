"""The live metrics of the Deploy panel: requests/s, latency, error rate, and alerts (the
panel's own thresholds, and the history the workspace's ``alerts`` watcher recorded)."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from aimass_lab.widgets._base import Field, esc
from aimass_lab.widgets._charts import FigureWidget, set_waiting

__all__ = ["HISTORY", "EndpointMetrics", "alert_history_html"]

#: Points kept on the live metric charts (one per refresh).
HISTORY = 300
#: What the metric charts say before the endpoint has answered a request.
_WAITING = "waiting for the first request to this endpoint (try it above)"

#: Seconds between two reads of the store's alert history while the panel polls.
HISTORY_EVERY_S = 5.0


class EndpointMetrics:
    """Mixin of the Deploy panel: the metric charts and table, the alert thresholds."""

    alerts: list[str]
    _history: deque[dict[str, Any]]
    _t0: float
    _last_counts: tuple[float, float] | None

    def _build_metrics(self) -> None:
        """The alert thresholds, the alert line, the three charts and the per-version table."""
        self.alerts = []
        self._history = deque(maxlen=HISTORY)
        self._t0 = time.monotonic()
        self._last_counts = None
        self.p99_limit = Field(
            "alert when p99 above (ms; 0 = off)",
            widgets.FloatText(0.0, layout=widgets.Layout(width="7em")),
            width="20em",
        )
        self.error_limit = Field(
            "alert when errors above (%; 0 = off)",
            widgets.FloatText(0.0, layout=widgets.Layout(width="7em")),
            width="20em",
        )
        self.alert = widgets.HTML()
        #: The store's alert history of the deployment (``aimass alerts watch`` records it).
        self.alert_history = widgets.HTML()
        self._history_read = -HISTORY_EVERY_S
        for f in (self.p99_limit, self.error_limit):
            f.control.observe(self._check_limits, "value")
        from plotly.subplots import make_subplots

        fig = make_subplots(
            rows=1, cols=3, subplot_titles=("requests/s", "latency (ms)", "errors (%)")
        )
        self.metrics_chart = FigureWidget(fig)
        self.metrics_chart.update_layout(
            height=260,
            margin={"l": 40, "r": 24, "t": 40, "b": 45},
            template="plotly_white",
            showlegend=True,
            legend={"orientation": "h", "y": -0.35},
        )
        for col in (1, 2, 3):  # time since the panel started watching, on every chart
            self.metrics_chart.update_xaxes(title_text="seconds", row=1, col=col)
        self.metrics_chart.add_trace(
            go.Scatter(x=[], y=[], mode="lines", name="requests/s"), row=1, col=1
        )
        self.metrics_chart.add_trace(go.Scatter(x=[], y=[], mode="lines", name="p50"), row=1, col=2)
        self.metrics_chart.add_trace(go.Scatter(x=[], y=[], mode="lines", name="p99"), row=1, col=2)
        self.metrics_chart.add_trace(
            go.Scatter(x=[], y=[], mode="lines", name="error %"), row=1, col=3
        )
        set_waiting(self.metrics_chart, _WAITING)
        self.metrics_table = widgets.HTML()

    def _check_limits(self, _change: Any = None) -> None:
        for f in (self.p99_limit, self.error_limit):
            f.set_error("must be 0 (off) or more" if (f.value or 0) < 0 else None)
        if self._history:
            self._alerts(self._history[-1])

    def _update_metrics(self, metrics: dict[str, dict[str, Any]]) -> None:
        """One scrape of the endpoint's metrics: the charts, the table and the alerts."""
        requests = sum(float(m.get("requests") or 0) for m in metrics.values())
        errors = sum(float(m.get("errors") or 0) for m in metrics.values())
        rps = sum(float(m.get("rps") or 0.0) for m in metrics.values())
        p50 = max(
            (m["p50_ms"] for m in metrics.values() if m.get("p50_ms") is not None), default=None
        )
        p99 = max(
            (m["p99_ms"] for m in metrics.values() if m.get("p99_ms") is not None), default=None
        )
        if self._last_counts is not None:
            d_req = requests - self._last_counts[0]
            d_err = errors - self._last_counts[1]
            error_pct = 100.0 * d_err / d_req if d_req > 0 else 0.0
        else:
            error_pct = 100.0 * errors / requests if requests else 0.0
        self._last_counts = (requests, errors)
        point = {
            "t": round(time.monotonic() - self._t0, 2),
            "rps": rps,
            "p50": p50,
            "p99": p99,
            "error_pct": error_pct,
            "requests": requests,
            "errors": errors,
        }
        self._history.append(point)
        set_waiting(self.metrics_chart, None if requests else _WAITING)
        hist = list(self._history)
        ts = [p["t"] for p in hist]
        with self.metrics_chart.batch_update():
            self.metrics_chart.data[0].x, self.metrics_chart.data[0].y = (
                ts,
                [p["rps"] for p in hist],
            )
            self.metrics_chart.data[1].x, self.metrics_chart.data[1].y = (
                ts,
                [p["p50"] for p in hist],
            )
            self.metrics_chart.data[2].x, self.metrics_chart.data[2].y = (
                ts,
                [p["p99"] for p in hist],
            )
            self.metrics_chart.data[3].x, self.metrics_chart.data[3].y = (
                ts,
                [p["error_pct"] for p in hist],
            )
        rows = "".join(
            f"<tr><td>v{esc(v)}</td><td>{int(m.get('requests') or 0)}</td><td>{int(m.get('errors') or 0)}</td>"
            f"<td>{_num(m.get('p50_ms'))}</td><td>{_num(m.get('p99_ms'))}</td><td>{_num(m.get('rps'))}</td></tr>"
            for v, m in sorted(metrics.items())
        )
        self.metrics_table.value = (
            "<table style='font-size:12px'><tr><th>version</th><th>requests</th><th>errors</th>"
            f"<th>p50 ms</th><th>p99 ms</th><th>req/s</th></tr>{rows}</table>"
        )
        self._alerts(point)

    def _alerts(self, point: dict[str, Any]) -> None:
        alerts = []
        p99_limit = float(self.p99_limit.value or 0.0)
        error_limit = float(self.error_limit.value or 0.0)
        if p99_limit > 0 and point.get("p99") is not None and point["p99"] > p99_limit:
            alerts.append(f"p99 latency {point['p99']:.3g} ms is above {p99_limit:g} ms")
        if error_limit > 0 and point["error_pct"] > error_limit:
            alerts.append(f"error rate {point['error_pct']:.3g}% is above {error_limit:g}%")
        self.alerts = alerts
        self.alert.value = (
            "<div style='background:#ffebee;color:#b71c1c;padding:4px 8px;border-left:4px solid #b71c1c'>"
            + "<br>".join(f"&#9888; <b>alert</b>: {esc(a)}" for a in alerts)
            + "</div>"
            if alerts
            else ""
        )

    def show_alert_history(self, deployment: str, force: bool = False) -> None:
        """Read the deployment's recorded alerts and watchers (every few seconds at most)."""
        now = time.monotonic()
        if not force and now - self._history_read < HISTORY_EVERY_S:
            return
        self._history_read = now
        from aimass_lab.serve import alert_history, alert_rules

        workspace = getattr(self, "workspace", None)
        try:
            rows = alert_history(deployment, limit=8, workspace=workspace)
            watchers = alert_rules(deployment, workspace=workspace)
        except Exception as exc:  # the store is busy: keep what is shown
            self.alert_history.value = f"<small>alert history unavailable: {esc(str(exc))}</small>"
            return
        self.alert_history.value = alert_history_html(rows, watchers)


def alert_history_html(rows: list[dict[str, Any]], watchers: list[dict[str, Any]]) -> str:
    """The alert history table of the Deploy panel (newest first) and who watches."""
    if watchers:
        rules = "; ".join(
            esc(str(r.get("name") or f"{r['metric']} {r['op']} {r['threshold']:g}"))
            for w in watchers
            for r in w["rules"]
        )
        head = f"<small>watched by job {esc(watchers[0]['job_id'])}: {rules}</small>"
    else:
        head = "<small>no alerts watcher (start one: <code>aimass alerts watch NAME --rule ...</code>)</small>"
    if not rows:
        return head
    colour = {"firing": "#b71c1c", "resolved": "#2e7d32"}
    body = "".join(
        f"<tr><td>{esc(str(r['at'])[:19].replace('T', ' '))}</td>"
        f"<td style='color:{colour.get(r['state'], '#333')}'><b>{esc(r['state'])}</b></td>"
        f"<td>{esc(r['rule'])}</td><td>{_num(r.get('value'))}</td></tr>"
        for r in rows
    )
    return (
        f"{head}<table class='aimass-alert-history' style='font-size:12px'>"
        f"<tr><th>at (UTC)</th><th>state</th><th>rule</th><th>value</th></tr>{body}</table>"
    )


def _num(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3g}"
