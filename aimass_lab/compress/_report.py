"""The compression report: one measured row per model, a table, a Pareto figure, pick()."""

from __future__ import annotations

import contextlib
import html
import json
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import AimassError, NotFoundError, accepted

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

__all__ = ["CompressionReport"]

#: Columns shown first, in this order.
COLUMNS: tuple[str, ...] = (
    "method",
    "version",
    "parent",
    "accuracy",
    "rmse",
    "size_bytes",
    "params",
    "nonzero_params",
    "ort_cpu_p50_ms",
    "ort_cpu_p95_ms",
    "ort_cpu_throughput",
    "ort_cpu_peak_bytes",
    "ort_cuda_p50_ms",
    "ort_cuda_p95_ms",
    "ort_cuda_throughput",
    "torch_p50_ms",
    "torch_p95_ms",
    "torch_throughput",
    "parity_max_abs_diff",
    "parity_argmax_agreement",
    "int8_isa",
    "int8_reduce_range",
)
_PICK_BY = ("ort_cpu_p50_ms", "ort_cpu_throughput", "size_bytes", "params", "torch_p50_ms")


def _dominates(a: dict[str, Any], b: dict[str, Any], metric: str, sign: float) -> bool:
    keys = [(metric, sign), ("ort_cpu_p50_ms", -1.0), ("size_bytes", -1.0)]
    ge = all(sign_k * a[k] >= sign_k * b[k] for k, sign_k in keys)
    gt = any(sign_k * a[k] > sign_k * b[k] for k, sign_k in keys)
    return ge and gt


class CompressionReport:
    """What :func:`aimass_lab.compress` measured: the baseline and every registered variant.

    Attributes
    ----------
    rows : list of dict
        One row per model, the baseline first: ``method``, ``version`` (its registry ref),
        ``parent``, the test metric (``accuracy`` or ``rmse``), ``size_bytes`` (of the ONNX
        file), ``params``, ``nonzero_params``, ``ort_cpu_p50_ms``, ``ort_cpu_p95_ms``,
        ``ort_cpu_throughput`` (samples/s at the benchmark batch), the same for ``ort_cuda_``
        when CUDA is present and for ``torch_``, and the parity figures of the export. An
        int8 row adds ``int8_isa`` (the CPU it was quantised for), ``int8_reduce_range``
        and, when it is slower than its float parent on this CPU, a ``note`` saying so.
    metric : str
        ``"accuracy"`` (higher is better) or ``"rmse"`` (lower is better).
    versions : dict
        ``{ref: ModelVersion}`` of every row.
    """

    def __init__(
        self,
        rows: list[dict[str, Any]],
        versions: dict[str, ModelVersion],
        metric: str,
        spec: dict[str, Any] | None = None,
    ) -> None:
        self.rows = rows
        self.versions = versions
        self.metric = metric
        self.spec = spec or {}

    @classmethod
    def from_dict(
        cls, doc: dict[str, Any], workspace: Workspace | str | None = None
    ) -> CompressionReport:
        """Rebuild a report from :meth:`to_dict`'s document (e.g. a compress job's result).

        Parameters
        ----------
        doc
            ``{"model", "metric", "rows", "spec"}``.
        workspace
            Where the versions of the rows are looked up (default: the current workspace).
            A version deleted since is left out of ``versions``; ``pick()`` then says so.

        Raises
        ------
        AimassError
            When ``doc`` is not a report document.
        """
        from aimass_lab import registry
        from aimass_lab.workspace import resolve_workspace

        rows = doc.get("rows") if isinstance(doc, dict) else None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise AimassError(
                "not a compression report document: expected a dict with 'rows' (one dict per "
                f"model, the baseline first) and 'metric'; got keys {accepted(doc or {})}"
            )
        ws = resolve_workspace(workspace)
        versions: dict[str, ModelVersion] = {}
        for row in rows:
            with contextlib.suppress(NotFoundError):
                versions[str(row["version"])] = registry.get(str(row["version"]), ws)
        metric = str(doc.get("metric") or ("accuracy" if "accuracy" in rows[0] else "rmse"))
        return cls([dict(r) for r in rows], versions, metric, spec=doc.get("spec") or {})

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger metric is better."""
        return self.metric != "rmse"

    @property
    def baseline(self) -> dict[str, Any]:
        """The row of the source model."""
        return self.rows[0]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def notes(self) -> list[str]:
        """What a reader should know about single rows (e.g. int8 slower than float here)."""
        return [f"{r['method']} ({r['version']}): {r['note']}" for r in self.rows if r.get("note")]

    def __repr__(self) -> str:
        parts = [
            f"{r['method']} -> {r['version']} ({self.metric} {r.get(self.metric, float('nan')):.4g})"
            for r in self.rows
        ]
        return "CompressionReport(" + "; ".join(parts) + ")"

    # -- views --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON document: ``model``, ``metric``, ``rows`` (the baseline first) and ``spec``."""
        return json.loads(
            json.dumps(
                {
                    "model": self.baseline["version"],
                    "metric": self.metric,
                    "higher_is_better": self.higher_is_better,
                    "rows": self.rows,
                    "spec": self.spec,
                },
                default=str,
            )
        )

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame, the known columns first."""
        import pandas as pd

        frame = pd.DataFrame(self.rows)
        first = [c for c in COLUMNS if c in frame.columns]
        return frame[first + [c for c in frame.columns if c not in first]]

    @property
    def frame(self) -> pd.DataFrame:
        """The same as :meth:`to_frame`."""
        return self.to_frame()

    def pareto(self) -> list[dict[str, Any]]:
        """The rows no other row beats on metric, ORT latency and size together."""
        sign = 1.0 if self.higher_is_better else -1.0
        usable = [r for r in self.rows if r.get(self.metric) is not None]
        return [r for r in usable if not any(_dominates(o, r, self.metric, sign) for o in usable)]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook: the live panel (:mod:`aimass_lab.widgets`), this HTML as fallback."""
        from aimass_lab._display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        shown = [c for c in COLUMNS if c in frame.columns and c not in ("parent",)]
        front = {r["version"] for r in self.pareto()}
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
        body = []
        for row in self.rows:
            cells = []
            for c in shown:
                v = row.get(c)
                text = (
                    "—"
                    if v is None
                    else f"{v:,.4g}"
                    if isinstance(v, float)
                    else f"{v:,}"
                    if isinstance(v, int)
                    else str(v)
                )
                cells.append(f"<td>{html.escape(text)}</td>")
            style = " style='font-weight:bold'" if row["version"] in front else ""
            body.append(f"<tr{style}>{''.join(cells)}</tr>")
        return (
            f"<div><b>Compression report of {html.escape(str(self.baseline['version']))}</b> "
            f"({html.escape(self.metric)} on the test split; bold: Pareto front of "
            f"{html.escape(self.metric)}, ORT latency and size)"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            + "".join(f"<p>Note: {html.escape(n)}</p>" for n in self.notes)
            + "</div>"
        )

    def figure(self) -> go.Figure:
        """A plotly figure: metric against ORT p50 latency, marker area by file size.

        The Pareto front (metric, latency, size) is joined by a line.
        """
        import plotly.graph_objects as go

        rows = [r for r in self.rows if r.get(self.metric) is not None]
        largest = max((r["size_bytes"] for r in rows), default=1) or 1
        fig = go.Figure()
        fig.add_trace(
            go.Scatter(
                x=[r["ort_cpu_p50_ms"] for r in rows],
                y=[r[self.metric] for r in rows],
                mode="markers+text",
                text=[r["method"] for r in rows],
                textposition="top center",
                cliponaxis=False,  # the label of a variant at the edge is not cut off
                marker={
                    "size": [10 + 40 * (r["size_bytes"] / largest) ** 0.5 for r in rows],
                    "opacity": 0.7,
                },
                customdata=[[r["version"], r["size_bytes"], r.get("params")] for r in rows],
                hovertemplate=(
                    "%{text}<br>%{customdata[0]}<br>" + self.metric + " %{y:.4g}<br>"
                    "p50 %{x:.3g} ms<br>%{customdata[1]:,} bytes<br>%{customdata[2]:,} params"
                    "<extra></extra>"
                ),
                name="variants",
            )
        )
        front = sorted(self.pareto(), key=lambda r: r["ort_cpu_p50_ms"])
        fig.add_trace(
            go.Scatter(
                x=[r["ort_cpu_p50_ms"] for r in front],
                y=[r[self.metric] for r in front],
                mode="lines",
                line={"dash": "dot"},
                name="Pareto front",
            )
        )
        fig.update_layout(
            title=f"Compression of {self.baseline['version']}: {self.metric} vs latency (size: marker)",
            xaxis_title="ONNX Runtime CPU p50 latency at batch 1 (ms)",
            yaxis_title=f"test {self.metric}",
            template="plotly_white",
        )
        return fig

    # -- choosing -----------------------------------------------------------------------------
    def pick(
        self,
        which: int | str | None = None,
        *,
        max_drop: float | None = None,
        by: str = "ort_cpu_p50_ms",
        alias: str | None = None,
    ) -> ModelVersion:
        """Choose a variant, optionally point an alias at it, and return its version.

        Parameters
        ----------
        which
            A row index, a method label (``"quantize:int8-dynamic"``) or a registry ref.
            ``None`` chooses by ``by`` among the rows within ``max_drop``.
        max_drop
            The largest metric loss against the baseline accepted (e.g. ``0.01`` for one
            point of accuracy; for rmse, the largest increase).
        by
            What to minimise (``ort_cpu_p50_ms``, ``size_bytes``, ``params``,
            ``torch_p50_ms``) or maximise (``ort_cpu_throughput``).
        alias
            An alias to point at the chosen version (``"prod"``, ``"compressed"``).

        Returns
        -------
        ModelVersion

        Raises
        ------
        NotFoundError
            When ``which`` matches no row, or no row is within ``max_drop``.
        """
        if which is not None:
            row = self._find(which)
        else:
            if by not in _PICK_BY:
                raise AimassError(f"cannot pick by {by!r}; accepted: {accepted(_PICK_BY)}")
            base = self.baseline.get(self.metric)
            sign = 1.0 if self.higher_is_better else -1.0
            rows = [
                r
                for r in self.rows
                if r.get(by) is not None
                and (max_drop is None or base is None or sign * (base - r[self.metric]) <= max_drop)
            ]
            if not rows:
                raise NotFoundError(
                    f"no model of the report is within max_drop={max_drop} of the baseline "
                    f"{self.metric} {base:.4g}; the variants reach "
                    + ", ".join(f"{r['method']}: {r.get(self.metric)}" for r in self.rows[1:])
                )
            flip = -1.0 if by == "ort_cpu_throughput" else 1.0
            row = min(rows, key=lambda r: flip * r[by])
        mv = self.versions.get(row["version"])
        if mv is None:
            raise NotFoundError(
                f"version {row['version']} of the report is no longer in the registry"
            )
        if alias is not None:
            from aimass_lab import registry

            mv = registry.set_alias(mv, alias)
        return mv

    def _find(self, which: int | str) -> dict[str, Any]:
        if isinstance(which, int) and not isinstance(which, bool):
            if not -len(self.rows) <= which < len(self.rows):
                raise NotFoundError(
                    f"no row {which} in a report of {len(self.rows)} rows (0 is the baseline)"
                )
            return self.rows[which]
        for row in self.rows:
            if which in (row["method"], row["version"]):
                return row
        raise NotFoundError(
            f"no variant {which!r} in the report; accepted: a row index, a method "
            f"({accepted(r['method'] for r in self.rows)}) or a version "
            f"({accepted(r['version'] for r in self.rows)})"
        )
