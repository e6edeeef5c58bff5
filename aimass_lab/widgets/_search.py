"""SearchPanel: a search-space editor, sampler, pruner, budget, workers; live study charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.errors import SpecError
from aimass_lab.specs import (
    FAMILIES,
    PRUNERS,
    SAMPLERS,
    ModelSpec,
    SearchSpec,
    TrainSpec,
    default_space,
)
from aimass_lab.widgets._base import (
    Field,
    Panel,
    button,
    dropdown,
    error_html,
    guarded,
    log_html,
    section,
    spec_messages,
)
from aimass_lab.widgets._common import DataChoices, DataPicker
from aimass_lab.widgets._confirm import Confirm
from aimass_lab.widgets._search_charts import SearchCharts, half, pair
from aimass_lab.widgets._search_pick import TrialPicking
from aimass_lab.widgets._search_space import TRAIN_PARAMS, ParamRow, model_params

if TYPE_CHECKING:
    from aimass_lab.search import Study
    from aimass_lab.workspace import Workspace

__all__ = ["ParamRow", "SearchPanel"]


class SearchPanel(SearchCharts, TrialPicking, DataPicker, Panel):
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

        self._build_form(model)
        if data is not None:
            self.set_data(data)
        self._build_actions()
        self._build_charts()
        self.history_chart.data[0].on_click(self._on_point_click)
        self.pareto_chart.data[0].on_click(self._on_point_click)
        self.pareto_chart.data[1].on_click(self._on_point_click)
        self.log_view = widgets.HTML()

        for f in self.fields.values():
            f.control.observe(self._validate, "value")
        self.family.control.observe(self._family_changed, "value")
        self._build_rows()
        self.children = self._layout()
        self._validate()
        if study is not None:
            self._fill_from_study(study)
            self.attach(study)

    def _build_form(self, model: str) -> None:
        """The fields of the base training and of the search, and the space editor's boxes."""
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
            "pruner",
            dropdown(list(PRUNERS), value=SearchSpec.model_fields["pruner"].default, width="9em"),
            width="10em",
        )
        self.n_trials = Field("trials", widgets.IntText(10, layout=small), width="10em")
        self.workers = Field("workers", widgets.IntText(1, layout=small), width="10em")
        self.study_name = Field(
            "study name",
            widgets.Text("", placeholder="optional", layout=widgets.Layout(width="14em")),
            width="10em",
        )
        #: The spec's field path of each field (errors are routed by it).
        self.fields: dict[str, Field] = {
            "data": self.data,
            "model": self.family,
            "max_epochs": self.max_epochs,
            "objectives": self.objectives,
            "sampler": self.sampler,
            "pruner": self.pruner,
            "n_trials": self.n_trials,
            "workers": self.workers,
            "study": self.study_name,
        }
        self.rows: dict[str, ParamRow] = {}
        self.space_box = widgets.VBox()
        self.space_error = widgets.HTML()

    def _build_actions(self) -> None:
        """Start and Stop, and the registering of a picked or the best trial."""
        self.start_button = button("Start search", "primary", "play")
        self.stop_button = button("Stop", "warning", "stop")
        self.stop_button.disabled = True
        self.start_button.on_click(self._on_start)
        self.stop_button.on_click(self._on_stop)
        #: Stop asks first, naming the study whose workers would stop.
        self.confirm = Confirm()

        self._build_register()

    def _layout(self) -> list[widgets.Widget]:
        """The panel's rows: the form, the space, the buttons, the charts, the table."""
        self.pareto_box = half(self.pareto_chart)
        self.pareto_box.layout.display = "none"
        base = [section("base training"), self.data.box, self.family.box, self.max_epochs.box]
        search = [
            section("search"),
            self.objectives.box,
            self.sampler.box,
            self.pruner.box,
            self.n_trials.box,
            self.workers.box,
            self.study_name.box,
        ]
        return [
            widgets.HBox([widgets.VBox(base), widgets.VBox(search)]),
            section("space (tick the hyperparameters to search)"),
            self.space_box,
            self.space_error,
            widgets.HBox([self.start_button, self.stop_button]),
            self.confirm.box,
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

    # -- form ---------------------------------------------------------------------------------
    def _family_changed(self, _change: Any = None) -> None:
        self._build_rows()
        self._validate()

    def _build_rows(self) -> None:
        params = {**TRAIN_PARAMS, **model_params(self.family.value)}
        ticked = default_space(self.family.value)  # the space aimass search uses by default
        self.rows = {}
        for name, (kind, low, high, log, choices) in params.items():
            row = ParamRow(name, kind, low, high, log, choices, include=name in ticked)
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
        self.workers.value = spec.workers
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
            "workers": self.workers.value,
        }
        if self.pruner.value != SearchSpec.model_fields["pruner"].default:
            # (the default is given by leaving it out: with several objectives it becomes none)
            payload["pruner"] = self.pruner.value
        if self.study_name.value.strip():
            payload["study"] = self.study_name.value.strip()
        return payload

    def _validate(self, _change: Any = None) -> bool:
        """Check the form as it is (the chosen dataset's spec, the model, the search part);
        errors next to their fields; Start enabled if valid."""
        for f in self.fields.values():
            f.set_error(None)
        for row in self.rows.values():
            row.set_error(None)
        self.space_error.value = ""
        self.clear_form_errors()
        errors: list[tuple[str, str]] = []
        train = self._train_spec(errors)
        try:
            SearchSpec(train=train or self._train_stand_in(), **self._payload())
        except SpecError as exc:
            errors += spec_messages(exc)
        self._route_errors(errors)
        ok = not errors and train is not None
        running = self.study is not None and self._running
        self.start_button.disabled = not ok or running
        return ok

    def _train_spec(self, errors: list[tuple[str, str]]) -> TrainSpec | None:
        """The base training of the form on the chosen dataset's spec (read from its name or
        spec, the data is not loaded); ``None`` when no dataset is chosen or it is invalid
        (the rest of the base training is still checked)."""
        fields: dict[str, Any] = {
            "model": {"family": self.family.value},
            "max_epochs": self.max_epochs.value,
        }
        data = self.chosen_data_spec()
        if data is not None:
            fields["data"] = data
        try:
            return TrainSpec(**fields)
        except SpecError as exc:
            found = spec_messages(exc)
        if "data" not in fields:  # its error is next to the dataset already
            found = [(path, m) for path, m in found if path != "data"]
        errors += [(f"train.{path}" if path else "", m) for path, m in found]
        return None

    def _train_stand_in(self) -> TrainSpec:
        """A base training left unchecked (none chosen, or its errors already shown), so that
        the search part is still checked on its own."""
        fields: dict[str, Any] = {
            "model": ModelSpec.model_construct(family=self.family.value),
            "max_epochs": self.max_epochs.value,
        }
        return TrainSpec.model_construct(**fields)

    def _route_errors(self, errors: list[tuple[str, str]]) -> None:
        """Each error next to the field of its path; those of no field in the error line."""
        rest = []
        for path, message in errors:
            parts = path.split(".")
            if parts[0] == "train" and len(parts) > 1:
                parts = parts[1:]  # the base training's fields are the form's own
            if parts[0] == "space" and len(parts) > 1 and parts[1] in self.rows:
                self.rows[parts[1]].set_error(message)
            elif parts == ["space"]:
                self.space_error.value = error_html(message)
            elif path and parts[0] in self.fields:
                self.fields[parts[0]].set_error(message)
            else:
                rest.append(f"{path}: {message}" if path else message)
        self.show_form_errors(rest)

    def _show_spec_errors(self, exc: SpecError) -> None:
        self._route_errors(spec_messages(exc))

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

    def _on_stop(self, _button: Any = None) -> None:
        """Ask first: the row under the buttons names the study that would stop."""
        study = self.study
        if study is None:
            return
        self.confirm.ask(
            f"Stop search {study.name}? Its workers stop; the trial in progress is queued "
            "again and the search can be resumed.",
            f"Confirm stop {study.name}",
            lambda: self._stop(study),
            keep="Keep it running",
        )

    @guarded
    def _stop(self, study: Study) -> None:
        study.stop()
        self.show_status(f"stopping the workers of {study.name}…")

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
        complete = [t for t in frozen if t.state.name == "COMPLETE" and t.values is not None]
        maximize = spec.directions[0] == "maximize"
        self._update_charts(study, frozen, complete, maximize)
        status = study.status
        self._running = status in ("running", "queued")
        self.stop_button.disabled = not self._running
        self.start_button.disabled = self._running or not self._form_ok()
        single = len(spec.metrics) == 1
        self.register_best_button.disabled = (
            not (single and complete) or not self.register_name.value.strip()
        )
        self._check_register()
        self._show_study_status(study, status, frozen, complete, maximize)
        return self._running

    def _show_study_status(
        self, study: Study, status: str, frozen: list[Any], complete: list[Any], maximize: bool
    ) -> None:
        """The status line (trial counts, the best value, a failed worker) and failed trials."""
        metrics = study.spec.metrics
        counts: dict[str, int] = {}
        for t in frozen:
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        shown = ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())) or "no trials yet"
        best_text = ""
        if len(metrics) == 1 and complete:
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

    def _form_ok(self) -> bool:
        return (
            self._form_error is None
            and not any(f.has_error for f in self.fields.values())
            and not any(r.error.value for r in self.rows.values())
        )
