"""Chart helpers: nice ticks, stable colours, EMA smoothing, sorting, the plotted Pareto front,
waiting messages, the smoothed live curves, the progress estimated from logged steps, and the
sortable run table."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aimass_lab.widgets._chart_style import (
    PALETTE,
    ema,
    metric_colour,
    nice_ticks,
    pareto_front_2d,
    sort_rows,
)


@pytest.mark.parametrize(
    ("low", "high"),
    [(-0.101, 1.523), (0, 37), (0.0013, 0.0871), (-250, 3), (1e-4, 0.1), (5, 5.5), (12, 9)],
)
def test_nice_ticks_are_round_1_2_5_steps_covering_the_range(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert 3 <= len(ticks) <= 8, ticks
    assert ticks[0] <= min(low, high) and ticks[-1] >= max(low, high), ticks
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1, ticks  # evenly spaced
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0), (step, ticks)
    for t in ticks:  # each a whole number of steps: no 1.523 or -0.101
        assert abs(t / step - round(t / step)) < 1e-6, ticks


def test_nice_ticks_of_the_issue_and_degenerate_ranges() -> None:
    assert nice_ticks(-0.101, 1.523) == [-0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    assert nice_ticks(3.0, 3.0) == [3.0]
    assert nice_ticks(0.0, float("nan")) == []


def test_a_metric_keeps_its_colour_in_every_process() -> None:
    names = ["train_loss", "val_loss", "val_acc", "val_my_custom", "lr", "x" * 40]
    here = [metric_colour(n) for n in names]
    code = (
        "from aimass_lab.widgets._chart_style import metric_colour; "
        f"print([metric_colour(n) for n in {names!r}])"
    )
    env_root = str(Path(__file__).resolve().parents[2])
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": env_root, "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )
    assert other.stdout.strip() == repr(here)  # no Python hash() randomness
    assert all(c in PALETTE for c in here)
    assert (
        len({metric_colour("train_loss"), metric_colour("val_loss"), metric_colour("val_acc")}) == 3
    )


def test_ema_smooths_like_tensorboard() -> None:
    values = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert ema(values, 0.0) == values
    smooth = ema(values, 0.9)
    assert smooth[0] == 1.0  # debiased: the first point is the first value
    assert max(smooth[2:]) - min(smooth[2:]) < 0.3  # the zigzag flattens
    assert ema([1.0, None, 3.0], 0.5)[1] is None  # a gap stays a gap
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        ema(values, 1.0)


def test_sort_rows_numbers_text_and_empty_cells_last() -> None:
    rows = [{"r": "b", "v": 2.0}, {"r": "a", "v": None}, {"r": "C", "v": 10}, {"r": "d"}]
    assert [r["r"] for r in sort_rows(rows, "v")] == ["b", "C", "a", "d"]
    assert [r["r"] for r in sort_rows(rows, "v", descending=True)] == ["C", "b", "a", "d"]
    assert [r["r"] for r in sort_rows(rows, "r")] == ["a", "b", "C", "d"]
    assert [r["r"] for r in sort_rows(rows, "nothing")] == ["b", "a", "C", "d"]


def test_pareto_front_of_the_plotted_axes() -> None:
    # (latency, accuracy): the 3rd is slower and worse than the 2nd; size is not plotted
    points = [(1.0, 0.80), (2.0, 0.95), (3.0, 0.90), (0.5, 0.70)]
    assert pareto_front_2d(points, maximize_y=True) == [3, 0, 1]
    assert pareto_front_2d([(1.0, 0.3), (2.0, 0.2)], maximize_y=False) == [0, 1]


# -- the widgets -------------------------------------------------------------------------------
def _waiting(fig: Any) -> list[str]:
    return [a.text for a in fig.layout.annotations if a.name == "waiting"]


def test_empty_charts_say_what_they_wait_for(tmp_path: Path) -> None:
    from aimass_lab.widgets import CompressPanel, SearchPanel, TrainPanel
    from aimass_lab.workspace import Workspace

    ws = Workspace(tmp_path / "ws")
    train = TrainPanel(workspace=ws)
    assert _waiting(train.chart) == ["no run yet: press Train and its curves draw here"]
    assert train.chart.layout.xaxis.visible is False  # no made-up axes
    assert _waiting(train.compare_chart) == ["select runs above to overlay their curves"]
    search = SearchPanel(workspace=ws)
    assert _waiting(search.history_chart) == ["waiting for the first finished trial"]
    assert _waiting(search.intermediate_chart) == ["waiting for the first epoch of a trial"]
    compress = CompressPanel(workspace=ws)
    assert _waiting(compress.chart) == ["waiting for a compress job's report"]
    # the Pareto line is drawn under the markers and is never hovered (a click is a marker's)
    assert [t.name for t in compress.chart.data] == ["Pareto front", "variants"]
    assert compress.chart.data[0].hoverinfo == "skip"
    for panel in (train, search, compress):
        panel.close()


def test_live_curves_smoothed_raw_faint_behind_stable_colours(tmp_path: Path) -> None:
    from aimass_lab.widgets import TrainPanel
    from aimass_lab.workspace import Workspace

    panel = TrainPanel(workspace=Workspace(tmp_path / "ws"))
    points = [
        {"id": i + 1, "name": "train_loss", "step": i, "value": v}
        for i, v in enumerate([1.0, 0.2, 0.9, 0.1, 0.8])
    ]
    panel._update_curves(points)
    main = panel.chart.data[panel._trace_index["train_loss"]]
    raw = panel.chart.data[panel._trace_index["train_loss"] - 1]
    assert _waiting(panel.chart) == [] and panel.chart.layout.xaxis.visible is True
    assert raw.name == "train_loss (raw)" and raw.opacity < main.opacity
    assert list(raw.y) == [1.0, 0.2, 0.9, 0.1, 0.8]
    assert list(main.y) == pytest.approx(ema([1.0, 0.2, 0.9, 0.1, 0.8], 0.6))
    assert main.line.color == raw.line.color == metric_colour("train_loss")
    panel.smoothing.value = 0.0  # no smoothing: the line is the raw values, no faint copy
    assert list(main.y) == [1.0, 0.2, 0.9, 0.1, 0.8] and list(raw.y) == []
    panel.close()


def test_progress_from_logged_steps_before_the_job_reports_it(tmp_path: Path) -> None:
    from aimass_lab.widgets import TrainPanel
    from aimass_lab.workspace import Workspace

    panel = TrainPanel(workspace=Workspace(tmp_path / "ws"))
    panel.run = SimpleNamespace(spec=SimpleNamespace(max_epochs=4))  # type: ignore[assignment]
    job = SimpleNamespace(state="running", progress=0.0, duration_s=3.0, eta_s=None)
    panel._series = {"train_loss": (list(range(1, 38)), [1.0] * 37)}  # global steps 1..37
    panel._update_progress(job)
    assert panel.eta.value.startswith("37 steps into epoch 1 of 4 · running"), panel.eta.value
    panel._series["val_loss"] = ([20], [0.5])  # one epoch = 20 steps; 37 of 80 steps done
    panel._update_progress(job)
    assert panel.progress.value == pytest.approx(37 / 80)
    assert panel.eta.value.startswith("46% · running"), panel.eta.value
    panel.run = None
    panel.close()


def test_sort_table_sorts_on_a_header_click(tmp_path: Path) -> None:
    from aimass_lab.widgets._table import SortTable

    table = SortTable()
    table.set_rows(
        [{"run": "a", "val_acc": 0.8}, {"run": "b", "val_acc": 0.9}, {"run": "c"}],
        ["run", "val_acc"],
    )
    table.sort_by = "val_acc"  # what a click on the header sends
    assert [r["run"] for r in table.rows] == ["a", "b", "c"]
    table.descending = True  # a second click
    assert [r["run"] for r in table.rows] == ["b", "a", "c"]
    table.set_rows([{"run": "x", "val_acc": 0.1}, {"run": "y", "val_acc": 0.5}])
    assert [r["run"] for r in table.rows] == ["y", "x"]  # new rows keep the order chosen


def test_every_change_is_in_the_synced_figure_state() -> None:
    """A view that renders late (the figure's front-end code still loading when the panel
    filled its chart) draws the synced ``_widget_data``/``_widget_layout``: they hold every
    change, not only the figure as it was created."""
    from aimass_lab.widgets._charts import empty_figure

    fig = empty_figure("loss")
    fig.add_scatter(x=[0, 1], y=[1.0, 0.5], name="train_loss")  # addTraces
    with fig.batch_update():  # one update message
        fig.data[0].x = [0, 1, 2]
        fig.data[0].y = [1.0, 0.5, 0.25]
        fig.layout.title.text = "loss (3 steps)"
    fig.data[0].line.color = "#123456"  # restyle
    fig.update_layout(height=222)  # relayout
    assert list(fig._widget_data[0]["x"]) == [0, 1, 2]
    assert list(fig._widget_data[0]["y"]) == [1.0, 0.5, 0.25]
    assert fig._widget_data[0]["line"]["color"] == "#123456"
    assert fig._widget_layout["title"]["text"] == "loss (3 steps)"
    assert fig._widget_layout["height"] == 222
    fig.data = []  # deleteTraces
    assert fig._widget_data == []


def test_once_a_view_has_drawn_the_figure_the_messages_suffice() -> None:
    """After a view's first delta (it drew the figure, so the front end follows the change
    messages), the synced state is left to plotly, as for any plotly figure."""
    from aimass_lab.widgets._charts import empty_figure

    fig = empty_figure("loss")
    fig.add_scatter(x=[0], y=[1.0])
    fig._js2py_layoutDelta = {"layout_delta": {}, "layout_edit_id": -1}  # as a view sends it
    fig.data[0].y = [2.0]
    assert list(fig._widget_data[0]["y"]) == [1.0]  # as drawn; the view got the restyle


def test_the_learning_rate_axis_stands_at_a_fixed_shift() -> None:
    """plotly's ``autoshift`` placed the lr axis' title at x=-Infinity now and then (console
    errors in a fresh-clone run): the axis stands a fixed distance right of the plot."""
    from aimass_lab.widgets._charts import LR_AXIS_SHIFT_PX, add_metric_trace, live_train_figure

    fig, _ = live_train_figure("classification")
    add_metric_trace(fig, "lr")
    axis = fig.layout.yaxis3
    assert (axis.anchor, axis.position, axis.type) == ("free", 1.0, "log")
    assert not axis.autoshift and axis.shift == LR_AXIS_SHIFT_PX > 0
    assert axis.automargin  # the margin grows to hold its ticks and title
