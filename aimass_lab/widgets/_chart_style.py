"""Small pure helpers of the charts: nice ticks, a stable colour per metric, EMA smoothing,
sorting a table's rows, the 2-D Pareto front of what a chart plots."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

__all__ = [
    "PALETTE",
    "ema",
    "metric_colour",
    "nice_ticks",
    "pareto_front_2d",
    "sort_rows",
    "waiting_annotation",
]

#: The fixed palette (Tableau 10); a metric keeps its colour from run to run.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
#: The metrics seen most, each its own colour (an ordered map); any other by a hash of its name.
_KNOWN = {
    "train_loss": PALETTE[0],
    "train_loss_epoch": PALETTE[9],
    "val_loss": PALETTE[1],
    "val_acc": PALETTE[2],
    "val_rmse": PALETTE[2],
    "val_f1": PALETTE[4],
    "val_mae": PALETTE[4],
    "val_precision": PALETTE[5],
    "val_r2": PALETTE[5],
    "val_recall": PALETTE[6],
    "val_pearson": PALETTE[6],
    "val_auroc": PALETTE[8],
    "lr": PALETTE[7],
}


def metric_colour(name: str) -> str:
    """The colour of a metric's line: the same for the same name, in every run and session.

    Examples
    --------
    >>> metric_colour("val_loss") == metric_colour("val_loss")
    True
    """
    if name in _KNOWN:
        return _KNOWN[name]
    return PALETTE[zlib.crc32(name.encode()) % len(PALETTE)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering ``[low, high]``, 1-2-5 steps apart.

    The first tick is at or below ``low`` and the last at or above ``high``; equal bounds
    give one tick.

    Examples
    --------
    >>> nice_ticks(-0.101, 1.523)
    [-0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    >>> nice_ticks(0, 37)
    [0.0, 10.0, 20.0, 30.0, 40.0]
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if low > high:
        low, high = high, low
    if high == low:
        return [float(low)]
    raw = (high - low) / max(1, count - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.floor(low / step + 1e-9) * step
    ticks: list[float] = []
    value = first
    while value < high + step * 1e-9 or not ticks:
        ticks.append(value)
        value = first + len(ticks) * step
    if ticks[-1] < high - step * 1e-9:
        ticks.append(first + len(ticks) * step)
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(t, digits) + 0.0 for t in ticks]


def ema(values: Sequence[float | None], weight: float) -> list[float | None]:
    """Exponential moving average as TensorBoard draws it (debiased at the start).

    ``weight`` 0 gives the values back; near 1 smooths most. ``None`` (a gap) stays a gap.

    Examples
    --------
    >>> ema([1.0, 0.0, 0.0], 0.5)
    [1.0, 0.3333333333333333, 0.14285714285714285]
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight {weight!r}: must be in [0, 1)")
    out: list[float | None] = []
    last, debias = 0.0, 0.0
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        debias = debias * weight + (1 - weight)
        out.append(last / debias)
    return out


def sort_rows(
    rows: list[dict[str, Any]], key: str, descending: bool = False
) -> list[dict[str, Any]]:
    """Rows sorted by one column: numbers by value, text by text; empty cells always last.

    Examples
    --------
    >>> [r["a"] for r in sort_rows([{"a": 2}, {"a": None}, {"a": 10}], "a", descending=True)]
    [10, 2, None]
    """

    def is_number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v)

    present = [r for r in rows if r.get(key) is not None and r.get(key) == r.get(key)]
    missing = [r for r in rows if r not in present]
    numbers = [r for r in present if is_number(r[key])]
    texts = [r for r in present if not is_number(r[key])]
    numbers.sort(key=lambda r: float(r[key]), reverse=descending)
    texts.sort(key=lambda r: str(r[key]).lower(), reverse=descending)
    return numbers + texts + missing


def pareto_front_2d(
    points: Sequence[tuple[float, float]], maximize_y: bool, minimize_x: bool = True
) -> list[int]:
    """Indices of the points no other point beats on both plotted axes, by ``x``.

    Examples
    --------
    >>> pareto_front_2d([(1.0, 0.9), (2.0, 0.95), (3.0, 0.9)], maximize_y=True)
    [0, 1]
    """
    sx = 1.0 if minimize_x else -1.0
    sy = -1.0 if maximize_y else 1.0
    keys = [(sx * x, sy * y) for x, y in points]

    def beaten(i: int) -> bool:
        a = keys[i]
        return any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in keys)

    front = [i for i in range(len(points)) if not beaten(i)]
    return sorted(front, key=lambda i: points[i][0])


def waiting_annotation(text: str) -> dict[str, Any]:
    """A grey note in the middle of an empty chart, saying what it waits for."""
    return {
        "text": text,
        "x": 0.5,
        "y": 0.5,
        "xref": "paper",
        "yref": "paper",
        "showarrow": False,
        "font": {"color": "#777", "size": 13},
        "name": "waiting",
    }
