"""Chart helpers: live figures, the end-of-run evaluation, the lineage graph."""

from __future__ import annotations

from copy import deepcopy
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from aimass_lab.widgets._chart_style import metric_colour, waiting_annotation

if TYPE_CHECKING:
    from aimass_lab.train import Run

__all__ = [
    "FigureWidget",
    "empty_figure",
    "evaluate_run",
    "evaluation_figure",
    "lineage_figure",
    "live_train_figure",
    "set_waiting",
]

_HEIGHT = 300
CLASSIFICATION_METRICS = ("acc", "precision", "recall", "f1", "auroc")
REGRESSION_METRICS = ("mae", "rmse", "r2", "pearson")
#: Rows of the confusion matrix / predicted-vs-true chart for data read on demand.
EVAL_ROWS = 2_000
EVAL_BATCH = 250


class FigureWidget(go.FigureWidget):  # type: ignore[misc]
    """A plotly FigureWidget whose synced state holds the whole figure until a view has drawn it.

    plotly sends each change as a one-off message (``_py2js_restyle`` ...) that its front end
    applies to the figure state it keeps; the figure's front-end code (anywidget ESM, 4 MB)
    subscribes to those messages only once it has loaded. A change sent in between (a panel
    fills its chart right after creating it, while the browser still loads the ESM) was lost,
    and the chart drew empty with plotly's default axes now and then. plotly itself sets the
    synced ``_widget_data`` / ``_widget_layout`` to the whole figure when a figure is displayed
    on its own (``_repr_mimebundle_``); a figure inside a panel is not, so here every change
    does it -- until a view reports that it has drawn the figure (its first trace or layout
    delta): from then on the front end follows the messages, as for any plotly figure.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._drawn = False
        super().__init__(*args, **kwargs)
        self.observe(self._on_drawn, names=["_js2py_traceDeltas", "_js2py_layoutDelta"])

    def _on_drawn(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._drawn = True

    def _sync_whole_figure(self) -> None:
        if not self._drawn:
            self._widget_data = deepcopy(self._data)
            self._widget_layout = deepcopy(self._layout_obj._props)


def _then_sync(name: str) -> Any:
    send = getattr(go.FigureWidget, name)

    def method(self: FigureWidget, *args: Any, **kwargs: Any) -> Any:
        result = send(self, *args, **kwargs)
        self._sync_whole_figure()
        return result

    method.__name__ = name
    return method


for _send in (
    "_send_addTraces_msg",
    "_send_deleteTraces_msg",
    "_send_moveTraces_msg",
    "_send_restyle_msg",
    "_send_relayout_msg",
    "_send_update_msg",
    "_send_animate_msg",
):
    setattr(FigureWidget, _send, _then_sync(_send))


def empty_figure(title: str = "", height: int = _HEIGHT, **layout: Any) -> go.FigureWidget:
    """An empty FigureWidget with a compact layout."""
    fig = FigureWidget()
    layout.setdefault("margin", {"l": 50, "r": 20, "t": 40, "b": 40})
    fig.update_layout(
        title={"text": title, "font": {"size": 13}},
        height=height,
        template="plotly_white",
        **layout,
    )
    return fig


def set_waiting(fig: go.FigureWidget, text: str | None) -> None:
    """Say in an empty chart what it waits for, its axes hidden; ``None``: show the data."""
    others = [a for a in fig.layout.annotations if a.name != "waiting"]
    shown = [a.text for a in fig.layout.annotations if a.name == "waiting"]
    if shown == ([text] if text else []):
        return
    with fig.batch_update():
        fig.layout.annotations = others + ([waiting_annotation(text)] if text else [])
        fig.update_xaxes(visible=text is None)
        fig.update_yaxes(visible=text is None)


def live_train_figure(task: str | None) -> tuple[go.FigureWidget, dict[str, int]]:
    """The live training chart: losses on the left axis, validation metrics on the right.

    Returns
    -------
    tuple
        The figure and ``{metric name: trace index}`` of the traces made in advance, so that
        every refresh is one ``batch_update`` of existing traces.
    """
    fig = empty_figure(
        "training",
        xaxis={"title": "step"},
        yaxis={"title": "loss"},
        yaxis2={
            "title": "metric",
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "tickmode": "auto",  # its own round ticks, not synced to the left axis' grid
            "nticks": 6,
            "automargin": True,  # the margin grows to hold its ticks and title
        },
        legend={"orientation": "h", "y": -0.25},
        margin={"l": 50, "r": 85, "t": 40, "b": 40},  # room for the right axis' title
    )
    set_waiting(fig, "no run yet: press Train and its curves draw here")
    names = ["train_loss", "train_loss_epoch", "val_loss"]
    metrics = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    names += [f"val_{m}" for m in metrics]
    index: dict[str, int] = {}
    for name in names:
        add_metric_trace(fig, name)
        index[name] = len(fig.data) - 1
    return fig, index


#: How far right of the plot the learning-rate axis stands: past the metric axis' labels and
#: title.
LR_AXIS_SHIFT_PX = 70


def add_metric_trace(fig: go.FigureWidget, name: str) -> None:
    """Two traces of one metric (step on x), in its own colour (the same in every run): the
    raw values, faint (filled only while the chart is smoothed), then the line shown. Losses
    on the left axis, others on the right, the learning rate (``lr``: recorded at every step
    of a scheduled run) on its own log axis."""
    is_loss = "loss" in name
    step = name in ("train_loss", "lr")
    if name == "lr":
        # A fixed shift past the metric axis: plotly's ``autoshift`` computed a position of
        # -Infinity now and then (the title drawn nowhere, errors in the browser's console).
        fig.update_layout(
            yaxis3={
                "title": "lr", "overlaying": "y", "side": "right", "anchor": "free",
                "position": 1.0, "shift": LR_AXIS_SHIFT_PX, "automargin": True,
                "type": "log", "showgrid": False, "tickmode": "auto",
            }
        )  # fmt: skip
    colour = metric_colour(name)
    axis = "y" if is_loss else ("y3" if name == "lr" else "y2")
    visible = (
        True if name in ("train_loss", "val_loss", "val_acc", "val_rmse", "lr") else "legendonly"
    )
    fig.add_trace(
        go.Scatter(
            x=[], y=[], name=f"{name} (raw)", mode="lines", yaxis=axis, legendgroup=name,
            showlegend=False, hoverinfo="skip", line={"width": 1, "color": colour},
            opacity=0.25, visible=visible,
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=[],
            y=[],
            name=name,
            mode="lines" if step else "lines+markers",
            yaxis=axis,
            legendgroup=name,
            line={"width": 1.5 if step else 2, "color": colour},
            marker={"color": colour},
            opacity=0.8 if step else 1.0,
            visible=visible,
        )
    )


def evaluate_run(run: Run) -> dict[str, Any]:
    """Predictions of a succeeded run's model on its test split (its validation split if the
    test split is empty).

    Returns
    -------
    dict
        ``task``, ``y_true``, ``y_pred`` and, for classification, ``classes`` and ``matrix``
        (rows: true class, columns: predicted class).
    """
    import torch

    from aimass_lab import data as data_stage

    network = run.model()
    dataset = data_stage.load(run.spec.data, workspace=run.workspace)
    split = "test" if len(dataset.y_test) else "val"
    if dataset.in_memory:  # the whole part at once
        batches: Any = [dataset.take(split, None)]
    else:  # its first EVAL_ROWS rows, read EVAL_BATCH at a time
        n = min(len(dataset.parts[split]), EVAL_ROWS)
        batches = (dataset.take(split, min(EVAL_BATCH, n - s), s) for s in range(0, n, EVAL_BATCH))
    outs, ys = [], []
    network.eval()
    with torch.inference_mode():
        for X, y_part in batches:
            X = np.ascontiguousarray(X, np.float32 if X.dtype.kind == "f" else None)
            outs.append(network(torch.from_numpy(X)).numpy())
            ys.append(y_part)
    out, y = np.concatenate(outs), np.concatenate(ys)
    if dataset.task == "regression":
        stats = dataset.target_stats or {"mean": 0.0, "std": 1.0}
        pred = out.reshape(len(out), -1)[:, 0] * stats["std"] + stats["mean"]
        return {"task": "regression", "split": split, "y_true": y.astype(float), "y_pred": pred}
    k = int(dataset.output_dim)
    pred = out.argmax(axis=1)
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y.astype(int), pred.astype(int)), 1)
    classes = [str(c) for c in (dataset.classes or range(k))]
    return {
        "task": "classification",
        "split": split,
        "y_true": y,
        "y_pred": pred,
        "classes": classes,
        "matrix": matrix,
    }


def evaluation_figure(result: dict[str, Any]) -> go.FigureWidget:
    """A confusion matrix (classification) or a residual plot (regression)."""
    if result["task"] == "classification":
        matrix = result["matrix"]
        classes = result["classes"]
        accuracy = float(np.trace(matrix) / max(1, matrix.sum()))
        fig = empty_figure(
            f"confusion matrix ({result['split']} split, accuracy {accuracy:.3f})",
            height=360,
            xaxis={"title": "predicted", "type": "category"},
            yaxis={"title": "true", "type": "category", "autorange": "reversed"},
        )
        fig.add_trace(
            go.Heatmap(
                z=matrix.tolist(),
                x=classes,
                y=classes,
                colorscale="Blues",
                text=matrix.tolist(),
                texttemplate="%{text}",
                hovertemplate="true %{y}<br>predicted %{x}<br>%{z}<extra></extra>",
            )
        )
        return fig
    y_true = np.asarray(result["y_true"], float)
    y_pred = np.asarray(result["y_pred"], float)
    residual = y_true - y_pred
    rmse = float(np.sqrt(np.mean(residual**2))) if len(residual) else float("nan")
    fig = empty_figure(
        f"residuals ({result['split']} split, rmse {rmse:.4g})",
        height=360,
        xaxis={"title": "predicted"},
        yaxis={"title": "true - predicted"},
    )
    fig.add_trace(go.Scatter(x=y_pred.tolist(), y=residual.tolist(), mode="markers", name="rows"))
    if len(y_pred):
        fig.add_trace(
            go.Scatter(
                x=[float(y_pred.min()), float(y_pred.max())],
                y=[0.0, 0.0],
                mode="lines",
                line={"dash": "dash", "color": "#999"},
                name="zero",
            )
        )
    return fig


_KIND_COLOURS = {
    "dataset": "#8d6e63",
    "study": "#7e57c2",
    "trial": "#7e57c2",
    "run": "#42a5f5",
    "compressed": "#ffa726",
    "onnx": "#26a69a",
    "version": "#1e88e5",
    "deployment": "#e53935",
}


def lineage_nodes(mv: Any, deployments: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The chain dataset -> study/trial -> run -> (compressed variant -> ONNX ->) version ->
    deployment of a model version, each ``{"kind", "label", "detail"}``, oldest first.

    ``mv`` is a :class:`~aimass_lab.registry.ModelVersion`; its ancestors are read through
    ``parent`` refs.
    """
    from aimass_lab import registry

    chain = [mv]
    seen = {mv.ref}
    while chain[0].parent and len(chain) < 20:
        try:
            parent = registry.get(chain[0].parent, chain[0].workspace)
        except Exception:
            break
        if parent.ref in seen:
            break
        seen.add(parent.ref)
        chain.insert(0, parent)
    root = chain[0]
    nodes: list[dict[str, Any]] = []
    dataset = root.lineage.get("dataset") or (root.data_fingerprint or "")[:12]
    if dataset:
        nodes.append(
            {"kind": "dataset", "label": str(dataset), "detail": root.data_fingerprint or ""}
        )
    if root.lineage.get("study"):
        nodes.append(
            {
                "kind": "trial",
                "label": f"{root.lineage['study']} #{root.lineage.get('trial')}",
                "detail": str(root.lineage.get("params", "")),
            }
        )
    if root.run_id:
        nodes.append({"kind": "run", "label": f"run {root.run_id[-6:]}", "detail": root.run_id})
    for version in chain:
        compression = version.lineage.get("compression")
        if compression:
            nodes.append(
                {
                    "kind": "compressed",
                    "label": str(compression.get("method", "compressed")),
                    "detail": str(compression.get("details", "")),
                }
            )
        if "model.onnx" in version.manifest:
            nodes.append(
                {
                    "kind": "onnx",
                    "label": "ONNX",
                    "detail": f"opset {(version.lineage.get('export') or {}).get('opset', '?')}",
                }
            )
        aliases = f" ({', '.join(version.aliases)})" if version.aliases else ""
        nodes.append(
            {
                "kind": "version",
                "label": f"{version.ref}{aliases}",
                "detail": version.description or "",
            }
        )
    for dep in deployments or []:
        nodes.append(
            {"kind": "deployment", "label": f"endpoint {dep['name']}", "detail": dep.get("url", "")}
        )
    return nodes


def lineage_figure(
    nodes: list[dict[str, Any]], fig: go.FigureWidget | None = None
) -> go.FigureWidget:
    """Draw lineage nodes left to right, joined by arrows (into ``fig`` when given)."""
    if fig is None:
        fig = empty_figure(
            "lineage",
            height=220,
            showlegend=False,
            xaxis={"visible": False},
            yaxis={"visible": False, "range": [-0.9, 1.2]},
        )
        fig.add_trace(
            go.Scatter(x=[], y=[], mode="lines", line={"color": "#bbb"}, hoverinfo="skip")
        )
        fig.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="markers+text",
                textposition="bottom center",
                marker={"size": 22, "symbol": "circle"},
                hovertemplate="%{text}<br>%{customdata}<extra></extra>",
            )
        )
    xs = list(range(len(nodes)))
    ys = [0.3 if i % 2 else 0.0 for i in xs]
    annotations = [
        {
            "x": xs[i + 1],
            "y": ys[i + 1],
            "ax": xs[i],
            "ay": ys[i],
            "xref": "x",
            "yref": "y",
            "axref": "x",
            "ayref": "y",
            "showarrow": True,
            "arrowhead": 3,
            "arrowsize": 1.2,
            "standoff": 12,
            "startstandoff": 12,
            "arrowcolor": "#999",
            "text": "",
        }
        for i in range(len(nodes) - 1)
    ]
    with fig.batch_update():
        fig.data[0].x = []
        fig.data[0].y = []
        fig.data[1].x = xs
        fig.data[1].y = ys
        # labels below the low nodes and above the high ones: neighbours never share a line
        fig.data[1].text = [f"{n['kind']}<br>{n['label']}" for n in nodes]
        fig.data[1].textposition = ["top center" if y else "bottom center" for y in ys]
        fig.data[1].cliponaxis = False
        fig.data[1].customdata = [n.get("detail", "") for n in nodes]
        fig.data[1].marker.color = [_KIND_COLOURS.get(n["kind"], "#999") for n in nodes]
        fig.layout.annotations = annotations
        fig.layout.xaxis.range = [-0.6, max(len(nodes) - 0.4, 1)]
        fig.layout.yaxis.range = [-0.9, 1.2]
    set_waiting(fig, None if nodes else "pick a version to see its lineage")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig
