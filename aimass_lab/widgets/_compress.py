"""CompressPanel: choose methods, run a compress job, a live table and Pareto chart."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from aimass_lab.errors import SpecError
from aimass_lab.specs import (
    FAMILIES,
    STUDENT_PRESETS,
    CompressSpec,
    DistillSpec,
    LowRankSpec,
    PruneSpec,
    QuantizeSpec,
)
from aimass_lab.widgets._base import (
    Field,
    Panel,
    button,
    check_text,
    dropdown,
    error_html,
    error_text,
    esc,
    guarded,
    section,
    set_options,
    spec_messages,
)
from aimass_lab.widgets._chart_style import pareto_front_2d, waiting_annotation
from aimass_lab.widgets._charts import empty_figure
from aimass_lab.widgets._common import fmt_seconds, version_refs

if TYPE_CHECKING:
    from aimass_lab.compress import CompressionReport
    from aimass_lab.workspace import Workspace

__all__ = ["CompressPanel"]

_SMALL = widgets.Layout(width="8em")


class MethodRow:
    """One compression method: a checkbox and its settings, with an error line."""

    def __init__(
        self, method: str, spec_cls: type[Any], controls: dict[str, widgets.Widget], on: bool
    ) -> None:
        self.method = method
        self.spec_cls = spec_cls
        self.include = widgets.Checkbox(
            on, description=method, indent=False, layout=widgets.Layout(width="8em")
        )
        self.controls = controls
        self.error = widgets.HTML()
        parts: list[widgets.Widget] = [self.include]
        for label, control in controls.items():
            parts.extend([widgets.Label(label), control])
        self.box = widgets.HBox([*parts, self.error])

    def to_dict(self, finetune_epochs: int) -> dict[str, Any]:
        doc: dict[str, Any] = {"method": self.method}
        for key, control in self.controls.items():
            doc[key] = control.value
        if self.method in ("prune", "low-rank"):
            doc["finetune_epochs"] = finetune_epochs
        return doc

    def set_error(self, message: str | None) -> None:
        self.error.value = error_html(message)


class CompressPanel(Panel):
    """Compress a registered model and pick a variant.

    Tick the methods (applied in the order shown: prune, low-rank, distill, quantize) and
    press Run: a detached ``compress`` job prunes, factorises, distils and quantises, exports
    each variant to ONNX, checks parity, measures it and registers it as a child version.
    The table and the chart (test metric against ONNX Runtime latency, marker size by file
    size, the Pareto front of these two axes dotted under the markers) fill in when the job
    ends. Click a point to pick a variant, then set an alias or deploy it.

    Parameters
    ----------
    model
        A registry ref to preselect (``"digits-mlp:1"``).
    report
        A :class:`~aimass_lab.compress.CompressionReport` to show.
    workspace
        The workspace (default: the current one).
    """

    title = "Compress"

    def __init__(
        self,
        model: str | None = None,
        *,
        report: CompressionReport | None = None,
        workspace: Workspace | str | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        if report is not None and workspace is None and report.versions:
            workspace = next(iter(report.versions.values())).workspace
        super().__init__(workspace, poll_interval)
        self.report: CompressionReport | None = None
        self.job: Any = None
        self.selected: str | None = None
        self.on_deploy: list[Callable[[str], Any]] = []
        self.on_registered: list[Callable[[Any], Any]] = []
        self._finished: str | None = None

        self.model = Field("model", dropdown([], width="18em"))
        refresh = button("", icon="refresh")
        refresh.on_click(lambda _b: self.refresh_models())
        self.methods = self._build_methods()
        self.finetune = Field("fine-tune epochs", widgets.IntText(2, layout=_SMALL), width="10em")
        self.methods_error = widgets.HTML()
        self.run_button = button("Run", "primary", "compress")
        self.run_button.on_click(self._on_run)
        self._build_results()
        for row in self.methods.values():
            row.include.observe(self._validate, "value")
            for control in row.controls.values():
                control.observe(self._validate, "value")
        self.finetune.control.observe(self._validate, "value")
        self.model.control.observe(self._validate, "value")

        self.children = self._layout(refresh)
        self.refresh_models()
        if model:
            self.model.value = (
                model if model in [v for _, v in self.model.control.options] else self.model.value
            )
        self._validate()
        self._check_pick()
        if report is not None:
            self.show_report(report)

    def _build_methods(self) -> dict[str, MethodRow]:
        """One row per method, in the order they are applied."""
        students = list(STUDENT_PRESETS) + [f for f in FAMILIES if f not in STUDENT_PRESETS]
        return {
            "prune": MethodRow(
                "prune",
                PruneSpec,
                {
                    "kind": dropdown(["structured", "unstructured"], width="9em"),
                    "ratio": widgets.FloatText(0.5, step=0.1, layout=_SMALL),
                },
                True,
            ),
            "low-rank": MethodRow(
                "low-rank",
                LowRankSpec,
                {"energy": widgets.FloatText(0.9, step=0.05, layout=_SMALL)},
                False,
            ),
            "distill": MethodRow(
                "distill",
                DistillSpec,
                {
                    "student": dropdown(students, value="mlp-small", width="9em"),
                    "epochs": widgets.IntText(5, layout=_SMALL),
                },
                False,
            ),
            "quantize": MethodRow(
                "quantize",
                QuantizeSpec,
                {"mode": dropdown(["int8-dynamic", "int8-static"], width="9em")},
                True,
            ),
        }

    def _build_results(self) -> None:
        """The progress, the variants' table and chart, picking a variant: alias or deploy."""
        self.progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="20em")
        )
        self.progress_label = widgets.HTML()
        self.table = widgets.HTML()
        self.chart = empty_figure(
            "variants: test metric vs latency (marker: size)",
            height=340,
            xaxis={"title": "ONNX Runtime CPU p50 latency (ms)"},
        )
        # The front first: drawn under the markers, and never hovered, so that a click on a
        # marker (its centre included) picks the variant, not the line.
        self.chart.add_trace(
            go.Scatter(
                x=[], y=[], mode="lines", line={"dash": "dot", "color": "#888"},
                name="Pareto front", hoverinfo="skip",
            )
        )  # fmt: skip
        self.chart.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="markers+text",
                textposition="top center",
                name="variants",
                cliponaxis=False,  # the label of a variant at the edge is not cut off
                marker={"opacity": 0.75},
            )
        )
        self.chart.layout.annotations = [waiting_annotation("waiting for a compress job's report")]
        self.chart.update_layout(xaxis_visible=False, yaxis_visible=False)
        self.points, self.front_line = self.chart.data[1], self.chart.data[0]
        self.points.on_click(self._on_point_click)
        self.selected_label = widgets.HTML("<i>click a point to pick a variant</i>")
        self.alias = Field(
            "alias",
            widgets.Text("", placeholder="edge", layout=widgets.Layout(width="9em")),
            width="4em",
        )
        self.alias_button = button("Set alias", "success", "tag")
        self.deploy_button = button("Deploy", "danger", "rocket")
        self.alias_button.on_click(self._on_alias)
        self.deploy_button.on_click(self._on_deploy)
        self.alias.control.observe(self._check_pick, "value")
        self.log_view = widgets.HTML()

    def _layout(self, refresh: widgets.Button) -> list[widgets.Widget]:
        """The panel's rows: model, methods, Run, the variants, the pick."""
        return [
            section("model"),
            widgets.HBox([self.model.box, refresh]),
            section("methods (applied in this order)"),
            *[r.box for r in self.methods.values()],
            self.finetune.box,
            self.methods_error,
            widgets.HBox([self.run_button, self.progress, self.progress_label]),
            self.status,
            self.chart,
            self.table,
            self.selected_label,
            widgets.HBox([self.alias.box, self.alias_button, self.deploy_button]),
            self.log_view,
        ]

    # -- form ---------------------------------------------------------------------------------
    def refresh_models(self, select: str | None = None) -> None:
        """Read the registry's versions again; choose ``select`` (a version just registered)
        when given, else keep the chosen one."""
        set_options(self.model.control, version_refs(self.workspace), select)
        self._validate()

    def method_list(self) -> list[dict[str, Any]]:
        """The ticked methods as dicts, in order."""
        return [r.to_dict(self.finetune.value) for r in self.methods.values() if r.include.value]

    def _validate(self, _change: Any = None) -> bool:
        """Check every ticked method; errors next to them; Run enabled when all is well."""
        ok = True
        self.methods_error.value = ""
        self.finetune.set_error(None)
        self.model.set_error(None)
        for row in self.methods.values():
            row.set_error(None)
            if not row.include.value:
                continue
            try:
                row.spec_cls(**row.to_dict(self.finetune.value))
            except SpecError as exc:
                ok = False
                self._route_method_errors(row, spec_messages(exc))
        methods = self.method_list()
        if not methods:
            self.methods_error.value = error_html("tick at least one method")
            ok = False
        elif ok:
            try:
                CompressSpec(methods=methods)
            except SpecError as exc:
                ok = False
                self.methods_error.value = error_html(error_text(exc))
        if not self.model.value:
            self.model.set_error("no registered model: train one and register it")
            ok = False
        running = self.job is not None and self._running
        self.run_button.disabled = not ok or running
        return ok

    def _route_method_errors(self, row: MethodRow, errors: list[tuple[str, str]]) -> None:
        """A method's errors by field path: its fine-tuning epochs next to the shared field,
        the rest next to its row."""
        by_place: dict[str, list[str]] = {}
        for path, message in errors:
            place = "finetune" if path == "finetune_epochs" else "row"
            by_place.setdefault(place, []).append(f"{path}: {message}" if path else message)
        if "finetune" in by_place:
            self.finetune.set_error("; ".join(by_place["finetune"]))
        row.set_error("; ".join(by_place["row"]) if "row" in by_place else None)

    _running = False

    # -- running ------------------------------------------------------------------------------
    @guarded
    def _on_run(self, _button: Any = None) -> Any:
        if not self._form_ready():
            return None
        from aimass_lab.compress import compress

        self.show_status("checking the model and starting the compress job…")
        try:
            job = compress(
                self.model.value, self.method_list(), workspace=self.workspace, launch=True
            )
        except SpecError as exc:
            self.show_error(exc)
            return None
        self.attach(job)
        return job

    def run(self) -> Any:
        """Press Run: start the compress job (None on an error, shown in the panel)."""
        return self._on_run()

    def attach(self, job: Any) -> None:
        """Watch a :class:`~aimass_lab.compress.CompressJob`."""
        with self._lock:
            self.job = job
            self._finished = None
            self._running = True
            self.run_button.disabled = True
        self.refresh_and_poll()

    def refresh(self) -> bool:
        """Read the job's state; show the report when it has one."""
        job_handle = self.job
        if job_handle is None:
            return False
        job = job_handle.job
        self._running = job.active
        self.progress.value = 1.0 if job.state == "succeeded" else float(job.progress or 0.0)
        self.progress.bar_style = {"succeeded": "success", "failed": "danger"}.get(
            job.state, "info"
        )
        eta = f" · ETA {fmt_seconds(job.eta_s)}" if job.eta_s is not None else ""
        self.progress_label.value = f"{esc(job.state)} · {fmt_seconds(job.duration_s)}{eta}"
        if job.active:
            self.run_button.disabled = True
            tail = job_handle.logs(tail=1).strip()
            self.show_status(f"compress job {job.id}: {job.state}" + (f" — {tail}" if tail else ""))
            return True
        if self._finished != job.state:
            self._finished = job.state
            if job.state == "succeeded":
                self.show_report(job_handle.report())
                self.show_status(
                    f"compress job {job.id} succeeded in {fmt_seconds(job.duration_s)}"
                )
                for callback in self.on_registered:
                    callback(self.report)
            else:
                self.show_error(
                    f"compress job {job.id} {job.state}: {job.exit_reason or 'see the log'}",
                    log=job_handle.logs(tail=25),
                )
        self._validate()
        return False

    def show_report(self, report: CompressionReport) -> None:
        """Fill the table and the chart from a report."""
        self.report = report
        self.table.value = f"<div class='aimass-scroll'>{report._repr_html_()}</div>"
        rows = [
            r
            for r in report.rows
            if r.get(report.metric) is not None and r.get("ort_cpu_p50_ms") is not None
        ]
        largest = max((r.get("size_bytes") or 1 for r in rows), default=1) or 1
        # the front of what is plotted: latency (lower is better) against the metric
        front = [
            rows[i]
            for i in pareto_front_2d(
                [(r["ort_cpu_p50_ms"], r[report.metric]) for r in rows],
                maximize_y=report.higher_is_better,
            )
        ]
        with self.chart.batch_update():
            points = self.points
            points.x = [r["ort_cpu_p50_ms"] for r in rows]
            points.y = [r[report.metric] for r in rows]
            points.text = [r["method"] for r in rows]
            points.textposition = [
                "top center" if i % 2 == 0 else "bottom center" for i in range(len(rows))
            ]
            points.customdata = [r["version"] for r in rows]
            points.marker.size = [
                10 + 40 * ((r.get("size_bytes") or 0) / largest) ** 0.5 for r in rows
            ]
            points.hovertemplate = (
                "%{text}<br>%{customdata}<br>"
                + report.metric
                + " %{y:.4g}<br>p50 %{x:.3g} ms<extra></extra>"
            )
            self.front_line.x = [r.get("ort_cpu_p50_ms") for r in front]
            self.front_line.y = [r.get(report.metric) for r in front]
            self.chart.layout.yaxis.title = f"test {report.metric}"
            self.chart.layout.annotations = []
            self.chart.update_layout(xaxis_visible=True, yaxis_visible=True)

    # -- picking ------------------------------------------------------------------------------
    def _on_point_click(self, trace: Any, points: Any, _state: Any = None) -> None:
        indices = list(getattr(points, "point_inds", []) or [])
        if indices and trace.customdata is not None:
            self.select(str(trace.customdata[indices[0]]))

    def select(self, ref: str) -> None:
        """Pick a variant by its registry ref (as a click on its point does)."""
        self.selected = ref
        row = None
        if self.report is not None:
            row = next((r for r in self.report.rows if r["version"] == ref), None)
        detail = ""
        if row is not None and self.report is not None:
            value = row.get(self.report.metric)
            detail = (
                f" — {row['method']}, {self.report.metric} {value:.4g}" if value is not None else ""
            )
        self.selected_label.value = f"picked <b>{esc(ref)}</b>{esc(detail)}"
        self._check_pick()

    def _check_pick(self, _change: Any = None) -> None:
        from aimass_lab.specs import validate_alias

        ok = check_text(self.alias, validate_alias)
        self.alias_button.disabled = not (ok and self.selected)
        self.deploy_button.disabled = self.selected is None

    @guarded
    def _on_alias(self, _button: Any = None) -> Any:
        from aimass_lab import registry

        if self.selected is None:
            return None
        mv = registry.set_alias(self.selected, self.alias.value.strip(), workspace=self.workspace)
        self.show_status(f"{mv.name}:{self.alias.value.strip()} now points to {mv.ref}")
        for callback in self.on_registered:
            callback(mv)
        return mv

    @guarded
    def _on_deploy(self, _button: Any = None) -> Any:
        if self.selected is None:
            return None
        if self.on_deploy:
            for callback in self.on_deploy:
                callback(self.selected)
            return None
        from aimass_lab.widgets._deploy import deploy_ref

        self.show_status(f"deploying {self.selected}…")
        dep = deploy_ref(self.selected, self.workspace)
        self.show_status(f"deployed {self.selected} at {getattr(dep, 'endpoint', '')}")
        return dep

    def _poll_error(self, exc: BaseException) -> None:
        self.show_error(exc, log=self.job.logs(tail=15) if self.job is not None else None)
