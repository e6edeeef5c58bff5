"""TrainPanel: a model family with its hyperparameters as controls, a job, live curves."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.errors import SpecError
from aimass_lab.specs import FAMILIES, TrainSpec, coerce_hparams
from aimass_lab.widgets._anywidgets import LabLink, tensorboard_path
from aimass_lab.widgets._base import (
    Field,
    Panel,
    button,
    check_text,
    dropdown,
    guarded,
    log_html,
    section,
)
from aimass_lab.widgets._charts import (
    live_train_figure,
)
from aimass_lab.widgets._common import DataChoices, DataPicker, parse_devices, registered_note
from aimass_lab.widgets._confirm import Confirm
from aimass_lab.widgets._train_compare import RunComparison
from aimass_lab.widgets._train_live import LOG_LINES, LiveRun
from aimass_lab.widgets._train_pretrained import PretrainedChoice

if TYPE_CHECKING:
    from aimass_lab.train import Run
    from aimass_lab.workspace import Workspace

__all__ = ["TrainPanel"]


def hparam_control(default: Any, choices: tuple[str, ...] | None) -> widgets.Widget:
    """The control of one hyperparameter, from its default's type and its choices."""
    layout = widgets.Layout(width="9em")
    if choices:
        return widgets.Dropdown(options=list(choices), value=default, layout=layout)
    if isinstance(default, bool):
        return widgets.Checkbox(value=default, indent=False, layout=widgets.Layout(width="9em"))
    if isinstance(default, int):
        return widgets.IntText(value=default, layout=layout)
    if isinstance(default, float):
        return widgets.FloatText(value=default, layout=layout)
    return widgets.Text(value=str(default), layout=layout)


class TrainPanel(LiveRun, RunComparison, DataPicker, PretrainedChoice, Panel):
    """Train a zoo model, or fine-tune a local pretrained one, as a background job and watch
    it live.

    The model family's hyperparameters (from the zoo catalogue) become controls; with the
    family ``pretrained`` a dropdown lists the local pretrained models (one entry per model
    found in the models folder) and the controls are the fine-tuning options. The Train
    button builds a :class:`~aimass_lab.specs.TrainSpec` through :func:`aimass_lab.train`,
    which starts a detached job; the panel then polls the store for the job's state,
    progress, metrics and log.

    Parameters
    ----------
    data
        A dataset name, a DataSpec or a loaded Dataset to preselect.
    model
        The zoo family to preselect.
    run
        A :class:`~aimass_lab.train.Run` to watch (its settings fill the form).
    workspace
        The workspace (default: the current one).
    max_epochs
        The preset number of epochs.
    poll_interval
        Seconds between refreshes while the job runs (at least 0.25).

    Examples
    --------
    >>> panel = TrainPanel("iris", "mlp", max_epochs=5)  # doctest: +SKIP
    >>> panel  # doctest: +SKIP
    """

    title = "Train"

    def __init__(
        self,
        data: Any = None,
        model: str = "mlp",
        *,
        run: Run | None = None,
        workspace: Workspace | str | None = None,
        max_epochs: int = 10,
        poll_interval: float = 0.5,
    ) -> None:
        if run is not None and workspace is None:
            workspace = run.workspace
        super().__init__(workspace, poll_interval)
        self.run: Run | None = None
        self.on_registered: list[Callable[[Any], Any]] = []
        self.choices = DataChoices(self.workspace)
        self.evaluation: dict[str, Any] | None = None
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._last_id = 0
        self._finished: tuple[int, str] | None = None
        self._refresh_count = 0

        self._build_form(model, max_epochs)
        if data is not None:
            self.set_data(data)
        self._build_actions()
        self._build_live(self.choices.task(self.data.value))
        for f in self.fields.values():
            f.control.observe(self._validate, "value")
        self.family.control.observe(self._family_changed, "value")
        self._build_hparams()
        self.children = self._layout()
        self.refresh_run_list()
        self._validate()
        if run is not None:
            self._fill_from_spec(run)
            self.attach(run)

    def _build_form(self, model: str, max_epochs: int) -> None:
        """The dataset, the model family (its hyperparameters below it) and the training."""
        self.data = Field("dataset", dropdown(self.choices.options(), width="16em"))
        self.family = Field(
            "model", dropdown(list(FAMILIES), value=model if model in FAMILIES else "mlp")
        )
        self.hparam_fields: dict[str, Field] = {}
        self.hparams_box = widgets.VBox()
        self.max_epochs = Field(
            "epochs", widgets.IntText(max_epochs, layout=widgets.Layout(width="9em"))
        )
        self.batch_size = Field(
            "batch size", widgets.IntText(64, layout=widgets.Layout(width="9em"))
        )
        self.lr = Field(
            "learning rate", widgets.FloatText(1e-3, layout=widgets.Layout(width="9em"))
        )
        self.optimizer = Field("optimizer", dropdown(["adam", "adamw", "sgd"], width="9em"))
        self.accelerator = Field(
            "accelerator", dropdown(["auto", "cpu", "gpu", "mps"], width="9em")
        )
        self.devices = Field("devices", widgets.Text("auto", layout=widgets.Layout(width="9em")))
        self.seed = Field("seed", widgets.IntText(0, layout=widgets.Layout(width="9em")))
        self.run_name = Field(
            "run name",
            widgets.Text("", placeholder="optional", layout=widgets.Layout(width="12em")),
        )
        #: The TrainSpec field path of each field (errors are routed by it).
        self.fields: dict[str, Field] = {
            "data": self.data,
            "model": self.family,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "optimizer": self.optimizer,
            "accelerator": self.accelerator,
            "devices": self.devices,
            "seed": self.seed,
            "name": self.run_name,
            **self._build_pretrained(),
        }

    def _build_actions(self) -> None:
        """Train, Cancel, Resume, the TensorBoard link, and registering the run."""
        self.train_button = button("Train", "primary", "play")
        self.cancel_button = button("Cancel", "warning", "stop")
        self.resume_button = button("Resume", "", "repeat")
        self.cancel_button.disabled = True
        self.resume_button.disabled = True
        self.tensorboard = LabLink(label="TensorBoard")
        self.train_button.on_click(self._on_train)
        self.cancel_button.on_click(self._on_cancel)
        self.resume_button.on_click(self._on_resume)
        #: Cancel asks first: "Cancel run NAME?" with "Confirm cancel NAME" / "Keep it running".
        self.confirm = Confirm()

        self.register_name = Field(
            "register as",
            widgets.Text("", placeholder="model name", layout=widgets.Layout(width="12em")),
        )
        self.register_button = button("Register", "success", "archive")
        self.register_button.disabled = True
        self.register_button.on_click(self._on_register)
        self.register_name.control.observe(self._check_register, "value")
        #: What Register did, beside its button (the status line keeps the run's summary).
        self.register_note = widgets.HTML()
        self.register_note.add_class("aimass-register-note")

    def _layout(self) -> list[widgets.Widget]:
        """The panel's rows: the form, the buttons, the live view, register, compare."""
        form_left = widgets.VBox(
            [
                section("data and model"),
                self.data.box,
                self.family.box,
                self.pretrained_box,
                self.hparams_box,
            ]
        )
        form_right = widgets.VBox(
            [
                section("training"),
                self.max_epochs.box,
                self.batch_size.box,
                self.lr.box,
                self.optimizer.box,
                *(f.box for f in self.extra_fields.values()),
                self.accelerator.box,
                self.devices.box,
                self.seed.box,
                self.run_name.box,
            ]
        )
        actions = widgets.HBox(
            [self.train_button, self.cancel_button, self.resume_button, self.tensorboard]
        )
        extras = widgets.Accordion(children=[self._build_compare()], titles=("compare runs",))
        extras.selected_index = None
        return [
            widgets.HBox([form_left, form_right]),
            actions,
            self.confirm.box,
            widgets.HBox([self.progress, self.eta, self.smoothing]),
            self.status,
            self.chart,
            self.evaluation_box,
            self.log_view,
            widgets.HBox([self.register_name.box, self.register_button, self.register_note]),
            extras,
        ]

    # -- form ---------------------------------------------------------------------------------
    def _family_changed(self, _change: Any = None) -> None:
        self._show_pretrained()
        self._build_hparams()
        self._validate()

    def _build_hparams(self) -> None:
        family = FAMILIES[self.family.value]
        self.hparam_fields = {}
        for name, default in family.defaults.items():
            field = Field(name, hparam_control(default, family.choices.get(name)))
            field.control.observe(self._validate, "value")
            self.hparam_fields[name] = field
        self.hparams_box.children = [f.box for f in self.hparam_fields.values()]

    def _fill_from_spec(self, run: Run) -> None:
        try:
            spec = run.spec
        except Exception:
            return
        label = spec.data.label
        value = self.choices.add_spec(label, spec.data)
        self.data.control.options = self.choices.options()
        self.data.control.value = value
        if spec.model.family in FAMILIES:
            self.family.value = spec.model.family
            for key, v in spec.model.hparams.items():
                if key in self.hparam_fields:
                    try:
                        self.hparam_fields[key].value = v
                    except Exception:
                        pass
        self._fill_pretrained(spec)
        self.max_epochs.value = spec.max_epochs
        self.batch_size.value = spec.batch_size
        self.lr.value = spec.lr
        self.optimizer.value = spec.optimizer
        self.seed.value = spec.seed
        self.devices.value = str(spec.devices)

    def hparams(self) -> dict[str, Any]:
        """The model hyperparameters as set in the form."""
        return {k: f.value for k, f in self.hparam_fields.items()}

    def spec_fields(self) -> dict[str, Any]:
        """The training fields as set in the form (without data and model)."""
        out: dict[str, Any] = {
            "max_epochs": self.max_epochs.value,
            "batch_size": self.batch_size.value,
            "lr": self.lr.value,
            "optimizer": self.optimizer.value,
            "accelerator": self.accelerator.value,
            "devices": parse_devices(self.devices.value),
            "seed": self.seed.value,
            **self.extra_values(),
        }
        if self.run_name.value.strip():
            out["name"] = self.run_name.value.strip()
        return out

    def _validate(self, _change: Any = None) -> bool:
        """Check every field; show errors next to them; enable Train only when all is well."""
        for f in [*self.fields.values(), *self.hparam_fields.values()]:
            f.set_error(None)
        ok = True
        family = FAMILIES.get(self.family.value)
        if family is not None:
            _, errors = coerce_hparams(family, self.hparams())
            for err in errors:
                key = str(err["field"]).split(".", 1)[-1]
                if key in self.hparam_fields:
                    self.hparam_fields[key].set_error(f"{err['value']!r}: {err['message']}")
                ok = False
        model = self.model_spec()
        fields: dict[str, Any] = {
            "model": model if isinstance(model, dict) else {"family": model},
            **self.spec_fields(),
        }
        data = self.chosen_data_spec()
        if data is None:
            ok = False
        else:
            fields["data"] = data
        try:
            TrainSpec(**fields)
        except SpecError as exc:
            if data is None:  # the reason is next to the dataset already
                exc = SpecError(exc.spec, [e for e in exc.errors if e.get("field") != "data"])
            self.apply_spec_error(exc, self.fields)
            ok = False
        active = self.run is not None and self._active
        self.train_button.disabled = not ok or active
        return ok

    @property
    def valid(self) -> bool:
        """Whether the form is valid (the Train button is enabled when nothing runs)."""
        return self._validate()

    # -- actions ------------------------------------------------------------------------------
    @guarded
    def _on_train(self, _button: Any = None) -> Run | None:
        if not self._form_ready():
            return None
        from aimass_lab.train import train

        self.show_status("starting the job…")
        data = self.choices.resolve(self.data.value)
        try:
            run = train(
                data,
                self.model_spec(),
                hparams=self.hparams(),
                workspace=self.workspace,
                launch=True,
                **self.spec_fields(),
            )
        except SpecError as exc:
            fields = {
                **self.fields,
                "path": self.pretrained,
                **{f"hparams.{k}": f for k, f in self.hparam_fields.items()},
            }
            self.apply_spec_error(exc, fields)
            if self.last_error is None:
                self.show_error(exc)
            self.train_button.disabled = True
            return None
        self.attach(run)
        return run

    def train(self) -> Run | None:
        """Press Train: start the job from the form (returns the Run, or None on an error)."""
        return self._on_train()  # type: ignore[no-any-return]

    def _on_cancel(self, _button: Any = None) -> None:
        """Ask first: the row under the buttons names the run that would stop."""
        run = self.run
        if run is None:
            return
        self.confirm.ask(
            f"Cancel run {run.name} ({run.id})? It saves a checkpoint and stops; "
            "Resume continues from there.",
            f"Confirm cancel {run.name}",
            lambda: self._cancel(run),
            keep="Keep it running",
        )

    @guarded
    def _cancel(self, run: Run) -> None:
        run.cancel()
        self.show_status(f"cancelling run {run.name}: the job saves a checkpoint and stops…")
        self.cancel_button.disabled = True
        self.start_polling()

    @guarded
    def _on_resume(self, _button: Any = None) -> None:
        if self.run is not None:
            self.run.resume()
            self._finished = None
            self.evaluation_box.children = []
            self.show_status("resuming from the last checkpoint…")
            self.refresh_and_poll()

    def _check_register(self, _change: Any = None) -> None:
        from aimass_lab.specs import validate_name

        ok = check_text(self.register_name, validate_name)
        done = self.run is not None and self._state == "succeeded"
        self.register_button.disabled = not (ok and done)

    @guarded
    def _on_register(self, _button: Any = None) -> Any:
        if self.run is None:
            return None
        mv = self.run.register(self.register_name.value.strip())
        self.register_note.value = registered_note(mv.ref, "compress or deploy it")
        for callback in self.on_registered:
            callback(mv)
        return mv

    # -- watching -----------------------------------------------------------------------------
    @property
    def _state(self) -> str | None:
        return self._job_state

    @property
    def _active(self) -> bool:
        return self._job_state in ("queued", "running")

    _job_state: str | None = None

    def attach(self, run: Run) -> None:
        """Watch ``run``: clear the charts, refresh now and poll until it ends."""
        with self._lock:
            self.run = run
            self._series = {}
            self._last_id = 0
            self._finished = None
            self._job_state = None
            self.evaluation = None
            self.evaluation_box.children = []
            self.log_view.value = ""
            task = None
            try:
                task = run.spec.data.task or self.choices.task(self.data.value)
            except Exception:
                pass
            with self.chart.batch_update():
                for trace in self.chart.data:
                    trace.x, trace.y = [], []
            if task == "regression" and "val_rmse" not in self._trace_index:
                self.chart.data = ()
                fig, self._trace_index = live_train_figure("regression")
                self.chart.add_traces(list(fig.data))
            self.tensorboard.path = tensorboard_path(run.id)
            self.show_status(f"run {run.id} started")
        self.refresh_and_poll()

    def refresh(self) -> bool:
        """Read the run's state, new metric points and log; update the widgets once.

        Returns
        -------
        bool
            ``False`` once the run has ended (polling stops).
        """
        run = self.run
        if run is None:
            return False
        self._refresh_count += 1
        job = run.job
        self._job_state = job.state
        self._update_curves(self.workspace.metrics(run.id, after_id=self._last_id))
        self._update_progress(job)
        self.cancel_button.disabled = not job.active
        if not job.active and self.confirm.asking:
            self.confirm.dismiss()  # nothing left to cancel
        self.resume_button.disabled = job.state not in ("interrupted", "failed", "cancelled")
        self.train_button.disabled = job.active or not self._form_ok()
        if job.active:
            last = {
                k: v
                for k, v in self._last_values().items()
                if k in ("train_loss", "val_loss", "val_acc")
            }
            shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items())
            if self.last_error is None:
                self.show_status(f"run {run.id}: {job.state}" + (f" — {shown}" if shown else ""))
            if self._refresh_count % 4 == 1:  # the log tail about once a second or two
                self.log_view.value = log_html(run.logs(tail=LOG_LINES), "log tail")
            return True
        self._check_register()
        if self._finished != (job.attempt, job.state):
            self._finished = (job.attempt, job.state)
            self._finish(job)
        return False

    def _form_ok(self) -> bool:
        return not any(f.has_error for f in [*self.fields.values(), *self.hparam_fields.values()])
