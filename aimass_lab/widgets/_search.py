"""SearchPanel: a search-space editor, sampler, pruner, budget, workers; live study charts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from aimass_lab.errors import SpecError
from aimass_lab.specs import FAMILIES, PRUNERS, SAMPLERS, SearchSpec
from aimass_lab.widgets._base import (
    Field,
    Panel,
    button,
    check_text,
    dropdown,
    error_html,
    esc,
    guarded,
    log_html,
    section,
    spec_messages,
)
from aimass_lab.widgets._charts import empty_figure
from aimass_lab.widgets._common import DataChoices, DataPicker, fmt_seconds

if TYPE_CHECKING:
    from aimass_lab.search import Study
    from aimass_lab.workspace import Workspace

__all__ = ["ParamRow", "SearchPanel"]

#: Width (px) of each of the search charts, two to a row.
CHART_WIDTH = 460
#: Finished trials before the parameter importances are computed (fANOVA needs a few).
MIN_IMPORTANCE_TRIALS = 3

#: Training hyperparameters offered in the space editor: (type, low, high, log, choices).
TRAIN_PARAMS: dict[str, tuple[str, float | None, float | None, bool, list[Any] | None]] = {
    "lr": ("float", 1e-4, 1e-1, True, None),
    "batch_size": ("int", 16, 128, True, None),
    "weight_decay": ("float", 1e-6, 1e-2, True, None),
    "optimizer": ("categorical", None, None, False, ["adam", "adamw", "sgd"]),
}
_COLOURS = {"COMPLETE": "#1f77b4", "PRUNED": "#d62728", "RUNNING": "#2ca02c", "FAIL": "#7f7f7f"}


def _model_params(
    family: str,
) -> dict[str, tuple[str, float | None, float | None, bool, list[Any] | None]]:
    fam = FAMILIES[family]
    out: dict[str, tuple[str, float | None, float | None, bool, list[Any] | None]] = {}
    for name, default in fam.defaults.items():
        low_b, high_b = fam.bounds.get(name, (None, None))
        if name in fam.choices:
            out[name] = ("categorical", None, None, False, list(fam.choices[name]))
        elif isinstance(default, bool):
            out[name] = ("categorical", None, None, False, [False, True])
        elif isinstance(default, int):
            low = max(int(low_b or 1), max(1, default // 4))
            high = max(low, default * 2)
            if high_b is not None:
                high = min(high, int(high_b))
            out[name] = ("int", float(low), float(high), default >= 8 and low > 0, None)
        elif isinstance(default, float):
            out[name] = ("float", 0.0, 0.5, False, None)
    return out


def _parse_choice(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except Exception:
        return text


class ParamRow:
    """One hyperparameter of the space editor: include it, and its range or choices."""

    def __init__(
        self,
        name: str,
        kind: str,
        low: float | None,
        high: float | None,
        log: bool,
        choices: list[Any] | None,
        include: bool = False,
    ) -> None:
        self.name = name
        self.kind = kind
        small = widgets.Layout(width="7em")
        self.include = widgets.Checkbox(include, indent=False, layout=widgets.Layout(width="2em"))
        self.low = widgets.FloatText(low if low is not None else 0.0, layout=small)
        self.high = widgets.FloatText(high if high is not None else 1.0, layout=small)
        self.log = widgets.Checkbox(
            log, description="log", indent=False, layout=widgets.Layout(width="5em")
        )
        self.choices = widgets.Text(
            ", ".join(str(c) for c in choices or []), layout=widgets.Layout(width="14em")
        )
        self.error = widgets.HTML()
        label = widgets.Label(f"{name} ({kind})", layout=widgets.Layout(width="11em"))
        if kind == "categorical":
            inputs: list[widgets.Widget] = [self.choices]
        else:
            inputs = [self.low, widgets.Label("to"), self.high, self.log]
        self.box = widgets.HBox([self.include, label, *inputs, self.error])

    def controls(self) -> list[widgets.Widget]:
        return [self.include, self.low, self.high, self.log, self.choices]

    def to_dict(self) -> dict[str, Any]:
        """The parameter as a ParamSpec dict."""
        if self.kind == "categorical":
            choices = [_parse_choice(c.strip()) for c in self.choices.value.split(",") if c.strip()]
            return {"type": "categorical", "choices": choices}
        low, high = self.low.value, self.high.value
        if self.kind == "int":
            low = int(low) if float(low).is_integer() else low
            high = int(high) if float(high).is_integer() else high
        return {"type": self.kind, "low": low, "high": high, "log": bool(self.log.value)}

    def set_error(self, message: str | None) -> None:
        self.error.value = error_html(message)


class SearchPanel(DataPicker, Panel):
    """Search hyperparameters with Optuna and watch the study live.

    The space editor offers the training hyperparameters and the model family's; tick the
    ones to search and give their ranges (or choices). Objectives are ``metric:min|max``
    separated by commas (``val_acc:max, params:min`` for a Pareto front). Start runs
    :func:`aimass_lab.search` with ``workers`` worker jobs.

    Live views: optimisation history, intermediate values (pruned trials in red, dashed),
    parallel coordinates, parameter importances and, with several objectives, the Pareto
    front. Click a point of the history or the Pareto front to pick a trial, then register
    it; "Register best" registers the best trial.

    Parameters
    ----------
    data
        A dataset name, DataSpec or Dataset to preselect.
    model
        The zoo family to preselect.
    study
        A :class:`~aimass_lab.search.Study` to watch.
    workspace
        The workspace (default: the current one).
    poll_interval
        Seconds between refreshes while workers run.
    """

    title = "Search"

    def __init__(
        self,
        data: Any = None,
        model: str = "mlp",
        *,
        study: Study | None = None,
        workspace: Workspace | str | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        if study is not None and workspace is None:
            workspace = study.workspace
        super().__init__(workspace, poll_interval)
        self.study: Study | None = None
        self.selected_trial: int | None = None
        self.on_registered: list[Callable[[Any], Any]] = []
        self.choices = DataChoices(self.workspace)
        self._complete_seen = -1
        self._importance_at = 0.0

        small = widgets.Layout(width="9em")
        self.data = Field("dataset", dropdown(self.choices.options(), width="16em"))
        self.family = Field(
            "model", dropdown(list(FAMILIES), value=model if model in FAMILIES else "mlp")
        )
        self.max_epochs = Field("epochs per trial", widgets.IntText(5, layout=small), width="10em")
        self.objectives = Field(
            "objectives",
            widgets.Text("val_loss:min", layout=widgets.Layout(width="16em")),
            width="10em",
        )
        self.sampler = Field("sampler", dropdown(SAMPLERS, value="tpe", width="9em"), width="10em")
        self.pruner = Field(
            "pruner", dropdown(["auto", *PRUNERS], value="auto", width="9em"), width="10em"
        )
        self.n_trials = Field("trials", widgets.IntText(10, layout=small), width="10em")
        self.workers = Field("workers", widgets.IntText(1, layout=small), width="10em")
        self.study_name = Field(
            "study name",
            widgets.Text("", placeholder="optional", layout=widgets.Layout(width="14em")),
            width="10em",
        )
        self.fields: dict[str, Field] = {
            "data": self.data,
            "model": self.family,
            "max_epochs": self.max_epochs,
            "objectives": self.objectives,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "n_trials": self.n_trials,
            "parallel": self.workers,
            "study": self.study_name,
        }
        if data is not None:
            self.set_data(data)
        self.rows: dict[str, ParamRow] = {}
        self.space_box = widgets.VBox()
        self.space_error = widgets.HTML()

        self.start_button = button("Start search", "primary", "play")
        self.stop_button = button("Stop", "warning", "stop")
        self.stop_button.disabled = True
        self.start_button.on_click(self._on_start)
        self.stop_button.on_click(self._on_stop)

        self.register_name = Field(
            "register as",
            widgets.Text("", placeholder="model name", layout=widgets.Layout(width="12em")),
        )
        self.selected_label = widgets.HTML("<i>click a point to pick a trial</i>")
        self.register_best_button = button("Register best", "success", "trophy")
        self.register_point_button = button("Register this point", "success", "archive")
        self.register_best_button.disabled = True
        self.register_point_button.disabled = True
        self.register_best_button.on_click(self._on_register_best)
        self.register_point_button.on_click(self._on_register_point)
        self.register_name.control.observe(self._check_register, "value")

        # -- charts --------------------------------------------------------------------------
        self.history_chart = empty_figure("optimisation history", xaxis={"title": "trial"})
        self.history_chart.add_trace(
            go.Scatter(x=[], y=[], mode="markers", name="trials", marker={"size": 9})
        )
        self.history_chart.add_trace(go.Scatter(x=[], y=[], mode="lines", name="best so far"))
        self.intermediate_chart = empty_figure(
            "intermediate values", xaxis={"title": "epoch"}, showlegend=True
        )
        self.intermediate_chart.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="lines+markers",
                name="complete / running",
                line={"color": _COLOURS["COMPLETE"]},
            )
        )
        self.intermediate_chart.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="lines+markers",
                name="pruned",
                line={"color": _COLOURS["PRUNED"], "dash": "dash"},
            )
        )
        self.parallel_chart = empty_figure("parallel coordinates")
        self.parallel_chart.add_trace(go.Parcoords(dimensions=[], line={"colorscale": "Viridis"}))
        self.importance_chart = empty_figure("parameter importances")
        self.importance_chart.add_trace(go.Bar(x=[], y=[], orientation="h", name="importance"))
        self.importance_chart.add_annotation(
            text=f"shown once {MIN_IMPORTANCE_TRIALS} trials have finished",
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
            font={"color": "#888"},
        )
        self.importance_chart.update_layout(xaxis_visible=False, yaxis_visible=False)
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
        self.history_chart.data[0].on_click(self._on_point_click)
        self.pareto_chart.data[0].on_click(self._on_point_click)
        self.pareto_chart.data[1].on_click(self._on_point_click)
        self.trials_view = widgets.HTML()
        self.log_view = widgets.HTML()

        for f in self.fields.values():
            f.control.observe(self._validate, "value")
        self.family.control.observe(self._family_changed, "value")
        self._build_rows()

        def half(fig: Any) -> widgets.Box:
            # A fixed width: a figure first drawn in a hidden tab takes plotly's default 700 px,
            # which a 50%-wide box would clip; two side by side, wrapping when narrower.
            fig.update_layout(width=CHART_WIDTH)
            return widgets.Box([fig], layout=widgets.Layout(width=f"{CHART_WIDTH}px"))

        def pair(*boxes: widgets.Box) -> widgets.Box:
            return widgets.Box(list(boxes), layout=widgets.Layout(flex_flow="row wrap"))

        self.pareto_box = half(self.pareto_chart)
        self.pareto_box.layout.display = "none"
        self.children = [
            widgets.HBox(
                [
                    widgets.VBox(
                        [
                            section("base training"),
                            self.data.box,
                            self.family.box,
                            self.max_epochs.box,
                        ]
                    ),
                    widgets.VBox(
                        [
                            section("search"),
                            self.objectives.box,
                            self.sampler.box,
                            self.pruner.box,
                            self.n_trials.box,
                            self.workers.box,
                            self.study_name.box,
                        ]
                    ),
                ]
            ),
            section("space (tick the hyperparameters to search)"),
            self.space_box,
            self.space_error,
            widgets.HBox([self.start_button, self.stop_button]),
            self.status,
            pair(half(self.history_chart), half(self.intermediate_chart)),
            pair(half(self.parallel_chart), half(self.importance_chart)),
            widgets.HBox([self.pareto_box]),
            widgets.HBox([self.selected_label]),
            widgets.HBox(
                [self.register_name.box, self.register_best_button, self.register_point_button]
            ),
            self.trials_view,
            self.log_view,
        ]
        self._validate()
        if study is not None:
            self._fill_from_study(study)
            self.attach(study)

    # -- form ---------------------------------------------------------------------------------
    def _family_changed(self, _change: Any = None) -> None:
        self._build_rows()
        self._validate()

    def _build_rows(self) -> None:
        params = {**TRAIN_PARAMS, **_model_params(self.family.value)}
        first_model = next(iter(_model_params(self.family.value)), None)
        self.rows = {}
        for name, (kind, low, high, log, choices) in params.items():
            row = ParamRow(name, kind, low, high, log, choices, include=name in ("lr", first_model))
            for control in row.controls():
                control.observe(self._validate, "value")
            self.rows[name] = row
        self.space_box.children = [r.box for r in self.rows.values()]

    def _fill_from_study(self, study: Study) -> None:
        try:
            spec = study.spec
        except Exception:
            return
        value = self.choices.add_spec(spec.train.data.label, spec.train.data)
        self.data.control.options = self.choices.options()
        self.data.control.value = value
        if spec.train.model.family in FAMILIES:
            self.family.value = spec.train.model.family
        self.max_epochs.value = spec.train.max_epochs
        self.objectives.value = ", ".join(spec.objectives)
        self.sampler.value = spec.sampler
        self.pruner.value = spec.pruner
        self.n_trials.value = spec.n_trials or 10
        self.workers.value = spec.parallel
        self.study_name.value = study.name
        for row in self.rows.values():
            row.include.value = row.name in spec.space
        for name, param in spec.space.items():
            found = self.rows.get(name)
            if found is None:
                continue
            row = found
            if param.type == "categorical":
                row.choices.value = ", ".join(str(c) for c in param.choices or [])
            else:
                row.low.value = float(param.low or 0.0)
                row.high.value = float(param.high or 0.0)
                row.log.value = param.log

    def space(self) -> dict[str, dict[str, Any]]:
        """The ticked hyperparameters as a space dict."""
        return {name: row.to_dict() for name, row in self.rows.items() if row.include.value}

    def objective_list(self) -> list[str]:
        return [o.strip() for o in self.objectives.value.split(",") if o.strip()]

    def _payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "space": self.space(),
            "objectives": self.objective_list(),
            "sampler": self.sampler.value,
            "n_trials": self.n_trials.value,
            "parallel": self.workers.value,
        }
        if self.pruner.value != "auto":
            payload["pruner"] = self.pruner.value
        if self.study_name.value.strip():
            payload["study"] = self.study_name.value.strip()
        return payload

    def _validate(self, _change: Any = None) -> bool:
        """Check the form and the space; errors next to their fields; Start enabled if valid."""
        for f in self.fields.values():
            f.set_error(None)
        for row in self.rows.values():
            row.set_error(None)
        self.space_error.value = ""
        ok = True
        try:
            SearchSpec(
                train={
                    "data": {"name": "iris"},
                    "model": {"family": self.family.value},
                    "max_epochs": self.max_epochs.value,
                },
                **self._payload(),
            )
        except SpecError as exc:
            ok = False
            self._show_spec_errors(exc)
        if self.data.value is None:
            self.data.set_error("choose a dataset")
            ok = False
        running = self.study is not None and self._running
        self.start_button.disabled = not ok or running
        return ok

    def _show_spec_errors(self, exc: SpecError) -> None:
        rest = []
        for path, message in spec_messages(exc):
            parts = path.split(".")
            if parts[0] == "space" and len(parts) > 1 and parts[1] in self.rows:
                self.rows[parts[1]].set_error(message)
            elif path == "space":
                self.space_error.value = error_html(message)
            elif path.startswith("train.max_epochs") or path == "max_epochs":
                self.max_epochs.set_error(message)
            elif parts[0] in self.fields:
                self.fields[parts[0]].set_error(message)
            elif "pruner" in message:
                self.pruner.set_error(message)
            elif "sampler" in message:
                self.sampler.set_error(message)
            else:
                rest.append(f"{path}: {message}" if path else message)
        if rest:
            self.show_error("; ".join(rest))

    # -- actions ------------------------------------------------------------------------------
    @guarded
    def _on_start(self, _button: Any = None) -> Study | None:
        if not self._form_ready():
            return None
        from aimass_lab.search import search

        payload = self._payload()
        self.show_status("checking the space and starting the workers…")
        try:
            study = search(
                self.choices.resolve(self.data.value),
                self.family.value,
                space=payload.pop("space"),
                objectives=payload.pop("objectives"),
                max_epochs=self.max_epochs.value,
                workspace=self.workspace,
                **payload,
            )
        except SpecError as exc:
            self._show_spec_errors(exc)
            if self.last_error is None:
                self.show_error(exc)
            self.start_button.disabled = True
            return None
        if not self.register_name.value:
            self.register_name.value = study.name
        self.attach(study)
        return study

    def start(self) -> Study | None:
        """Press Start: start the search of the form (None on an error, shown in the panel)."""
        return self._on_start()  # type: ignore[no-any-return]

    @guarded
    def _on_stop(self, _button: Any = None) -> None:
        if self.study is not None:
            self.study.stop()
            self.show_status("stopping the workers…")

    _running = False

    def attach(self, study: Study) -> None:
        """Watch ``study``: refresh now and poll while its workers run."""
        with self._lock:
            self.study = study
            self.selected_trial = None
            self._complete_seen = -1
            multi = len(study.spec.objectives) > 1
            self.pareto_box.layout.display = "" if multi else "none"
            if not self.register_name.value:
                self.register_name.value = study.name
        self.refresh_and_poll()

    def refresh(self) -> bool:
        """Read the study once; update every chart (one ``batch_update`` each)."""
        study = self.study
        if study is None:
            return False
        spec = study.spec
        frozen = study.optuna_study.get_trials(deepcopy=False)
        metrics = spec.metrics
        directions = spec.directions
        counts: dict[str, int] = {}
        for t in frozen:
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        complete = [t for t in frozen if t.state.name == "COMPLETE" and t.values is not None]

        # history of the first objective
        maximize = directions[0] == "maximize"
        xs = [t.number for t in complete]
        ys = [float(t.values[0]) for t in complete]
        best: list[float] = []
        for y in ys:
            best.append(y if not best else (max(best[-1], y) if maximize else min(best[-1], y)))
        with self.history_chart.batch_update():
            self.history_chart.data[0].x = xs
            self.history_chart.data[0].y = ys
            self.history_chart.data[0].customdata = xs
            self.history_chart.data[1].x = xs
            self.history_chart.data[1].y = best
            self.history_chart.layout.yaxis.title = metrics[0]

        # intermediate values, pruned trials apart
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
            self.intermediate_chart.data[0].x, self.intermediate_chart.data[0].y = lines[False]
            self.intermediate_chart.data[1].x, self.intermediate_chart.data[1].y = lines[True]
            self.intermediate_chart.layout.yaxis.title = metrics[0]

        if len(complete) != self._complete_seen:
            self._complete_seen = len(complete)
            self._update_parallel(complete, metrics[0])
            self._update_pareto(study, complete, metrics)
        if len(complete) >= MIN_IMPORTANCE_TRIALS and time.monotonic() - self._importance_at > 5:
            self._update_importances(study, len(metrics) > 1)

        self._update_table(frozen, metrics)
        status = study.status
        self._running = status in ("running", "queued")
        self.stop_button.disabled = not self._running
        self.start_button.disabled = self._running or not self._form_ok()
        single = len(metrics) == 1
        self.register_best_button.disabled = (
            not (single and complete) or not self.register_name.value.strip()
        )
        self._check_register()
        shown = ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())) or "no trials yet"
        best_text = ""
        if single and complete:
            bt = (
                max(complete, key=lambda t: t.values[0])
                if maximize
                else min(complete, key=lambda t: t.values[0])
            )
            best_text = f" — best {metrics[0]} {bt.values[0]:.4g} (trial {bt.number})"
        failed_workers = [j for j in study.workers if j.state == "failed"]
        if failed_workers and not self._running:
            job = failed_workers[0]
            self.show_error(
                f"worker {job.id} failed: {job.exit_reason or 'see the log'}",
                log=self.workspace.jobs.logs(job.id, tail=25),
            )
        elif self.last_error is None or self._running:
            self.show_status(f"study {study.name}: {status} · {shown}{best_text}")
        fails = [t for t in frozen if t.state.name == "FAIL" and t.user_attrs.get("error")]
        self.log_view.value = (
            log_html(
                "\n".join(f"trial {t.number}: {t.user_attrs['error']}" for t in fails[-5:]),
                "failed trials",
            )
            if fails
            else ""
        )
        return self._running

    def _form_ok(self) -> bool:
        return not any(f.has_error for f in self.fields.values()) and not any(
            r.error.value for r in self.rows.values()
        )

    def _update_parallel(self, complete: list[Any], metric: str) -> None:
        names = sorted({p for t in complete for p in t.params})
        dims = []
        for name in names:
            values = [t.params.get(name) for t in complete]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                dims.append({"label": name, "values": [float(v) for v in values]})
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
            dims.append({"label": metric, "values": objective})
        with self.parallel_chart.batch_update():
            self.parallel_chart.data[0].dimensions = dims
            self.parallel_chart.data[0].line = {
                "color": objective,
                "colorscale": "Viridis",
                "showscale": bool(objective),
            }

    def _update_pareto(self, study: Study, complete: list[Any], metrics: list[str]) -> None:
        if len(metrics) < 2:
            return
        front = {t.number for t in study.best_trials}
        on = sorted((t for t in complete if t.number in front), key=lambda t: t.values[0])
        off = [t for t in complete if t.number not in front]
        with self.pareto_chart.batch_update():
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
            self.importance_chart.layout.annotations = []
            self.importance_chart.update_layout(xaxis_visible=True, yaxis_visible=True)
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
            "<table style='font-size:12px'><thead><tr><th>trial</th><th>state</th>"
            f"<th>{esc(', '.join(metrics))}</th><th>params</th><th>time</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    # -- picking and registering ----------------------------------------------------------------
    def _on_point_click(self, trace: Any, points: Any, _state: Any = None) -> None:
        indices = list(getattr(points, "point_inds", []) or [])
        if not indices:
            return
        custom = trace.customdata
        if custom is None:
            return
        self.select_trial(int(custom[indices[0]]))

    def select_trial(self, number: int) -> None:
        """Pick a trial (as a click on its point does)."""
        if self.study is None:
            return
        trial = self.study.trial(number)
        self.selected_trial = number
        values = ", ".join(f"{v:.4g}" for v in trial.values or []) or trial.state.lower()
        self.selected_label.value = (
            f"picked <b>trial {number}</b> ({esc(values)}) · {esc(trial.params)}"
        )
        self._check_register()

    def _check_register(self, _change: Any = None) -> None:
        from aimass_lab.specs import validate_name

        ok = check_text(self.register_name, validate_name)
        self.register_point_button.disabled = not (ok and self.selected_trial is not None)
        multi = self.study is not None and len(self.study.spec.objectives) > 1
        has_complete = self._complete_seen > 0
        self.register_best_button.disabled = not (ok and has_complete and not multi)

    @guarded
    def _on_register_best(self, _button: Any = None) -> Any:
        if self.study is None:
            return None
        mv = self.study.best_model(register=True, name=self.register_name.value.strip())
        self._registered(mv)
        return mv

    @guarded
    def _on_register_point(self, _button: Any = None) -> Any:
        if self.study is None or self.selected_trial is None:
            return None
        mv = self.study.register(self.selected_trial, self.register_name.value.strip())
        self._registered(mv)
        return mv

    def _registered(self, mv: Any) -> None:
        self.show_status(
            f"registered {mv.ref} (lineage: study {self.study.name if self.study else ''})"
        )
        for callback in self.on_registered:
            callback(mv)
