"""Study: the handle of a hyperparameter search, readable from any process."""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import AimassError, JobError, NotFoundError
from aimass_lab.search._factory import study_storage
from aimass_lab.search._launch import deprecated_name, launch_workers
from aimass_lab.search._worker import budget_left, load_spec, reap_dead_workers
from aimass_lab.specs import SearchSpec
from aimass_lab.workspace import Job, Workspace, resolve_workspace

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from aimass_lab.registry import ModelVersion
    from aimass_lab.search._dashboard import Dashboard
    from aimass_lab.train import Run

__all__ = ["Study", "TrialResult"]


_BASE_COLUMNS = ("number", "state", "params", "values", "run_id", "duration_s")


def _column(metric: str) -> str:
    """The DataFrame column of an objective (``params_value`` for the ``params`` objective,
    whose name is taken by the sampled parameters)."""
    return f"{metric}_value" if metric in _BASE_COLUMNS else metric


@dataclass(frozen=True)
class TrialResult:
    """One trial as the search recorded it.

    Attributes
    ----------
    number
        The trial's number in the study (0, 1, ...).
    state
        ``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING`` or ``WAITING``.
    params
        The sampled parameters.
    values
        The objective values, in the order of the objectives (``None`` unless complete; a
        pruned trial has none either).
    run_id
        The training run of the trial.
    metrics
        Every metric the run ended with (validation, test and measured ones).
    """

    number: int
    state: str
    params: dict[str, Any]
    values: list[float] | None
    run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    duration_s: float | None = None
    retry_of: int | None = None
    error: str | None = None

    @classmethod
    def from_frozen(cls, trial: optuna.trial.FrozenTrial) -> TrialResult:
        duration = (
            (trial.datetime_complete - trial.datetime_start).total_seconds()
            if trial.datetime_complete and trial.datetime_start
            else None
        )
        values = list(trial.values) if trial.values is not None else None
        state = trial.state.name
        return cls(
            number=trial.number,
            state=state,
            params=dict(trial.params),
            values=values if state == "COMPLETE" else None,
            run_id=trial.user_attrs.get("run_id"),
            metrics=dict(trial.user_attrs.get("metrics") or {}),
            duration_s=duration,
            retry_of=trial.system_attrs.get("failed_trial"),
            error=trial.user_attrs.get("error") or trial.system_attrs.get("aimass_fail_reason"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "number": self.number,
            "state": self.state,
            "params": self.params,
            "values": self.values,
            "run_id": self.run_id,
            "metrics": self.metrics,
            "duration_s": self.duration_s,
            "retry_of": self.retry_of,
            "error": self.error,
        }


class Study:
    """A hyperparameter search and everything it recorded.

    Parameters
    ----------
    name
        The study name.
    storage
        The study's storage URL (``None``: the workspace's journal file).
    workspace
        The workspace its runs are recorded in (default: the current one).

    Examples
    --------
    >>> study = aimass_lab.search("iris", "mlp", space={...}, n_trials=8)  # doctest: +SKIP
    >>> study.wait().trials  # doctest: +SKIP
    >>> study.best_model(register=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        storage: str | None = None,
        workspace: Workspace | str | None = None,
    ) -> None:
        self.workspace = resolve_workspace(workspace)
        self.name = name
        self.storage_url = storage
        self._storage: Any = None
        self._spec: SearchSpec | None = None
        self.optuna_study  # fails now for an unknown study  # noqa: B018

    # -- optuna -------------------------------------------------------------------------------
    @property
    def optuna_study(self) -> optuna.Study:
        """The underlying :class:`optuna.Study` (for anything this handle does not offer)."""
        import optuna

        if self._storage is None:
            self._storage = study_storage(self.workspace, self.name, self.storage_url)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return optuna.load_study(study_name=self.name, storage=self._storage)

    @property
    def spec(self) -> SearchSpec:
        """The SearchSpec the study runs."""
        if self._spec is None:
            self._spec = load_spec(self.optuna_study)
        return self._spec

    # -- trials -------------------------------------------------------------------------------
    def trial_results(self) -> list[TrialResult]:
        """Every trial, by number."""
        return [TrialResult.from_frozen(t) for t in self.optuna_study.get_trials(deepcopy=False)]

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: ``number``, ``state``, ``params``, ``values``, ``run_id``, then
        one column per objective metric (``params_value`` for the parameter count) and
        ``duration_s``."""
        import pandas as pd

        metrics = self.spec.metrics
        rows = []
        for t in self.trial_results():
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state,
                "params": t.params,
                "values": t.values,
                "run_id": t.run_id,
            }
            for i, m in enumerate(metrics):
                row[_column(m)] = t.values[i] if t.values is not None else t.metrics.get(m)
            row["duration_s"] = t.duration_s
            rows.append(row)
        columns = [
            "number",
            "state",
            "params",
            "values",
            "run_id",
            *(_column(m) for m in metrics),
            "duration_s",
        ]
        return pd.DataFrame(rows, columns=columns)

    def trial(self, number: int) -> TrialResult:
        """One trial by number."""
        trials = self.optuna_study.get_trials(deepcopy=False)
        if not 0 <= number < len(trials):
            raise NotFoundError(
                f"study {self.name!r} has no trial {number}; accepted: 0..{len(trials) - 1}"
                if trials
                else f"study {self.name!r} has no trials yet"
            )
        return TrialResult.from_frozen(trials[number])

    @property
    def best_trial(self) -> TrialResult:
        """The best complete trial (single-objective studies)."""
        if len(self.spec.objectives) > 1:
            raise AimassError(
                f"study {self.name!r} has {len(self.spec.objectives)} objectives, so no single "
                "best trial; use best_trials or pareto_front()"
            )
        study = self.optuna_study
        try:
            return TrialResult.from_frozen(study.best_trial)
        except ValueError:
            raise NotFoundError(
                f"study {self.name!r} has no complete trial yet (states: {self._counts()})"
            ) from None

    @property
    def best_trials(self) -> list[TrialResult]:
        """The Pareto-optimal complete trials (for one objective: every trial tied for best)."""
        return sorted(
            (TrialResult.from_frozen(t) for t in self.optuna_study.best_trials),
            key=lambda t: t.number,
        )

    def pareto_front(self) -> pd.DataFrame:
        """The non-dominated trials: ``number``, one column per objective (``params_value``
        for the parameter count), ``params``, ``run_id``."""
        import pandas as pd

        columns = [_column(m) for m in self.spec.metrics]
        rows = [
            {
                "number": t.number,
                **{c: (t.values or [math.nan] * len(columns))[i] for i, c in enumerate(columns)},
                "params": t.params,
                "run_id": t.run_id,
            }
            for t in self.best_trials
        ]
        return pd.DataFrame(rows, columns=["number", *columns, "params", "run_id"])

    def _counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.optuna_study.get_trials(deepcopy=False):
            counts[t.state.name] = counts.get(t.state.name, 0) + 1
        return counts

    # -- models -------------------------------------------------------------------------------
    def run(self, trial: int | TrialResult) -> Run:
        """The training run of a trial."""
        from aimass_lab.train import Run

        result = trial if isinstance(trial, TrialResult) else self.trial(trial)
        if result.run_id is None:
            raise NotFoundError(f"trial {result.number} of study {self.name!r} has no run")
        return Run(result.run_id, self.workspace)

    def register(
        self,
        trial: int | TrialResult,
        name: str | None = None,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        description: str | None = None,
    ) -> ModelVersion:
        """Register the model of a trial, with lineage: study, trial, params and metrics.

        Parameters
        ----------
        trial
            The trial (its number), e.g. any point of the Pareto front.
        name
            The registry name (default: the study name).
        aliases, description
            As for :func:`aimass_lab.registry.register`.
        """
        from aimass_lab import registry

        result = trial if isinstance(trial, TrialResult) else self.trial(trial)
        if result.state not in ("COMPLETE", "PRUNED"):
            raise JobError(
                f"trial {result.number} of study {self.name!r} is {result.state}; "
                "only complete (or pruned) trials have a model to register"
            )
        run = self.run(result)
        lineage = {
            "study": self.name,
            "storage": "workspace" if self.storage_url is None else "rdb",
            "trial": result.number,
            "trial_state": result.state,
            "params": result.params,
            "metrics": result.metrics,
            "objectives": self.spec.objectives,
            "values": result.values,
        }
        return registry.register(
            run,
            name or self.name,
            aliases=aliases,
            description=description,
            lineage=lineage,
            workspace=self.workspace,
        )

    def best_model(self, register: bool = False, name: str | None = None) -> Any:
        """The best trial's trained network, or (``register=True``) its new registry version."""
        best = self.best_trial
        if register:
            return self.register(best, name)
        return self.run(best).model()

    # -- workers ------------------------------------------------------------------------------
    @property
    def workers(self) -> list[Job]:
        """The worker jobs of this study recorded in the workspace, newest first."""
        return [
            j
            for j in self.workspace.jobs.list(kind="search")
            if j.spec.get("study") == self.name and j.spec.get("storage") == self.storage_url
        ]

    @property
    def status(self) -> str:
        """``running`` (a worker runs), ``queued`` (workers recorded, none started yet),
        ``finished`` (budget spent) or ``stopped`` (resumable with :meth:`resume`)."""
        states = {j.state for j in self.workers}
        if "running" in states:
            return "running"
        if "queued" in states:
            return "queued"
        study = self.optuna_study
        spec = self.spec
        if budget_left(study, spec) == 0:
            return "finished"
        if spec.timeout is not None and spec.n_trials is None:
            return "finished"
        return "stopped"

    def wait(
        self,
        timeout: float | None = None,
        poll: float = 1.0,
        on_trial: Callable[[TrialResult], Any] | None = None,
    ) -> Study:
        """Block until every worker of the study in this workspace has ended.

        ``on_trial`` is called with each trial that finishes (complete, pruned or failed)
        while waiting, once per trial, in the order they are seen (``aimass search`` prints
        a line for each).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: set[int] = set()

        def report() -> None:
            if on_trial is None:
                return
            for trial in self.trial_results():
                if trial.state in ("COMPLETE", "PRUNED", "FAIL") and trial.number not in seen:
                    seen.add(trial.number)
                    on_trial(trial)

        report()  # (finished before the wait: reported once, first)
        while any(j.active for j in self.workers):
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(poll)
            report()
        if self._storage is not None:
            reap_dead_workers(self.optuna_study, self._storage, self.workspace, self.spec.max_retry)
        report()
        return self

    def stop(self) -> Study:
        """Ask every active worker to stop; a trial cut short is failed and queued for retry."""
        for job in self.workers:
            if job.active:
                self.workspace.jobs.cancel(job.id)
        return self

    def resume(self, workers: int | None = None, *, parallel: int | None = None) -> Study:
        """Start ``workers`` worker jobs again (default: as many as the search had), after an
        interruption; the study continues where it was. ``parallel`` is the old name."""
        workers = deprecated_name("parallel", parallel, "workers", workers)
        launch_workers(
            self.workspace, self.name, self.storage_url, self.spec, workers or self.spec.workers
        )
        return self

    def dashboard(
        self,
        port: int = 0,
        idle_timeout_s: float | None = None,
        stop_with_kernel: bool | None = None,
    ) -> Dashboard:
        """optuna-dashboard on this study, in the background, on 127.0.0.1 (``port`` 0: a free
        one); reuses the one you run already. It stops after ``idle_timeout_s`` without a
        request (``None``: ``AIMASS_IDLE_SHUTDOWN_S``; 0: never), with its kernel when
        ``stop_with_kernel`` (``None``: ``AIMASS_STOP_WITH_KERNEL``), or with ``.stop()``; the
        sidebar lists it under Services. See :func:`aimass_lab.search.start_dashboard`."""
        from aimass_lab.search._dashboard import start_dashboard

        return start_dashboard(
            self.workspace,
            self.name,
            self.storage_url,
            port=port,
            idle_timeout_s=idle_timeout_s,
            stop_with_kernel=stop_with_kernel,
        )

    # -- display ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary with every trial."""
        spec = self.spec
        doc: dict[str, Any] = {
            "study": self.name,
            "status": self.status,
            "objectives": spec.objectives,
            "sampler": spec.sampler,
            "pruner": spec.pruner,
            "n_trials": spec.n_trials,
            "counts": self._counts(),
            "trials": [t.to_dict() for t in self.trial_results()],
            "best_trials": [t.number for t in self.best_trials],
        }
        return doc

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, status={self.status!r}, trials={self._counts()})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook: the live panel (:mod:`aimass_lab.widgets`), this HTML as fallback."""
        from aimass_lab._display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self) -> str:
        counts = ", ".join(f"{k.lower()} {v}" for k, v in sorted(self._counts().items()))
        best = self.best_trials
        rows = "".join(
            f"<tr><td>{t.number}</td><td>{html.escape(str(t.values))}</td>"
            f"<td>{html.escape(str(t.params))}</td></tr>"
            for t in best[:10]
        )
        return (
            f"<div><b>Study {html.escape(self.name)}</b> — {html.escape(self.status)} "
            f"({html.escape(counts or 'no trials')})"
            f"<table><tr><th>best trial</th><th>values</th><th>params</th></tr>{rows}</table></div>"
        )
