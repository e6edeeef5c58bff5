"""Search workers: a ``search`` job that runs trials of one study until its budget is spent.

Every trial is a training, recorded as a ``train`` job whose parent is the worker's job and
run inside the worker process, so its metrics, checkpoints and model are recorded like any
run's. Several workers (on one machine through the workspace's journal file, or on many
through a PostgreSQL storage) share the study and its budget.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import AimassError, NotFoundError
from aimass_lab.search._factory import RetryTrial, make_pruner, make_sampler, open_storage
from aimass_lab.search._space import suggest, trial_spec
from aimass_lab.specs import MEASURED_OBJECTIVES, SearchSpec, TrainSpec

if TYPE_CHECKING:
    import optuna

    from aimass_lab.workspace import JobContext, Workspace

__all__ = ["budget_left", "join_study", "reap_dead_workers", "run", "run_worker"]

SPEC_ATTR = "aimass_spec"
STARTED_ATTR = "aimass_started_at"
#: How often a worker whose budget is taken checks the other workers' running trials.
LINGER_POLL_S = 1.0


class TrialFailed(AimassError):
    """The training of a trial did not succeed."""


class WorkerStopped(Exception):
    """The worker was asked to stop in the middle of a trial."""


def load_spec(study: optuna.Study) -> SearchSpec:
    """The SearchSpec recorded with a study."""
    data = study.user_attrs.get(SPEC_ATTR)
    if data is None:
        raise NotFoundError(
            f"study {study.study_name!r} was not created by AI Mass Lab (it has no SearchSpec)"
        )
    return SearchSpec.from_dict(data)


def _retry(study: optuna.Study, frozen: optuna.trial.FrozenTrial, max_retry: int) -> None:
    RetryTrial(max_retry)(study, frozen)


def reap_dead_workers(
    study: optuna.Study, storage: Any, ws: Workspace, max_retry: int, own_job: str | None = None
) -> list[int]:
    """Fail the running trials of workers that died (job no longer active) and retry them.

    Works on any storage for workers recorded in this workspace; RDB storages also fail
    stale trials by Optuna's heartbeat, for workers recorded elsewhere. Returns the numbers of
    the trials failed here.
    """
    import optuna
    from optuna.trial import TrialState

    failed: list[int] = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        job_id = trial.user_attrs.get("worker_job")
        if not job_id or job_id == own_job:
            continue
        try:
            job = ws.jobs.get(job_id)
        except NotFoundError:
            continue  # a worker recorded in another workspace: Optuna's heartbeat covers it
        if job.active:
            continue
        try:
            storage.set_trial_system_attr(
                trial._trial_id, "aimass_fail_reason", f"worker job {job_id} {job.state}"
            )
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process got there first
        _retry(study, storage.get_trial(trial._trial_id), max_retry)
        failed.append(trial.number)
    return failed


def budget_left(study: optuna.Study, spec: SearchSpec) -> int | None:
    """How many more trials may start (``None``: no trial budget, only a timeout).

    Finished, running and waiting trials count; a failed trial counts unless it was retried.
    """
    from optuna.trial import TrialState

    if spec.n_trials is None:
        return None
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    used = 0
    for t in trials:
        if t.state == TrialState.WAITING:
            continue  # a waiting retry is picked before any new trial: it takes a free slot
        if t.state == TrialState.FAIL and t.number in retried:
            continue  # its retry stands in for it
        used += 1
    total = spec.n_trials
    if spec.sampler == "grid":
        size = 1
        for p in spec.space.values():
            size *= len(p.grid_values())
        total = min(total, size)
    return max(0, total - used)


def _measure(metric: str, run_dir: Any, run_id: str, ws: Workspace) -> float:
    """A measured objective of a trained model: params, size_kb or latency_ms."""
    weights = run_dir / "model" / "weights.safetensors"
    if metric == "size_kb":
        return weights.stat().st_size / 1024.0
    if metric == "params":
        from safetensors import safe_open

        total = 0
        with safe_open(str(weights), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 - safe_open has no __iter__
                if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
                    continue
                shape = fh.get_slice(key).get_shape()
                count = 1
                for dim in shape:
                    count *= int(dim)
                total += count
        return float(total)
    if metric == "latency_ms":
        import json

        import torch

        from aimass_lab.train import Run

        network = Run(run_id, ws).model()
        config = json.loads((run_dir / "model" / "model.json").read_text())
        from aimass_lab.models import network_options

        text = network_options(config)
        if text:  # token ids, not numbers
            batch = torch.randint(0, int(text["vocab_size"]), (32, *config["input_shape"]))
        else:
            batch = torch.randn(32, *config["input_shape"])
        times = []
        with torch.inference_mode():
            for i in range(25):
                start = time.perf_counter()
                network(batch)
                if i >= 5:
                    times.append((time.perf_counter() - start) * 1000.0)
        times.sort()
        return times[len(times) // 2]
    raise AssertionError(metric)


class _Objective:
    """Train one trial (one run, or one run per fold with ``cv``); return its values."""

    def __init__(
        self, ws: Workspace, study_name: str, spec: SearchSpec, ctx: JobContext | None
    ) -> None:
        self.ws = ws
        self.study_name = study_name
        self.spec = spec
        self.ctx = ctx
        self.last_number: int | None = None
        self._datasets: dict[str, Any] = {}  # loaded once per data spec, for every trial

    def _dataset(self, spec: TrainSpec) -> Any:
        from aimass_lab import data

        key = spec.data.to_json()
        if key not in self._datasets:
            self._datasets[key] = data.load(spec.data, workspace=self.ws)
        return self._datasets[key]

    def _fail(self, trial: optuna.Trial, message: str) -> TrialFailed:
        trial.set_user_attr("error", message)
        return TrialFailed(message)

    def _train(
        self, trial: optuna.Trial, spec: TrainSpec, pruning: Any
    ) -> tuple[str, dict[str, float]]:
        """Record and run one training of the trial; return its run id and final metrics."""
        from aimass_lab.train import execute_training
        from aimass_lab.workspace import execute_job, start_job

        worker_job = self.ctx.job.id if self.ctx is not None else None
        job = self.ws.jobs.create("train", spec.to_dict(), name=spec.name, parent_id=worker_job)
        run_ids = [*trial.user_attrs.get("run_ids", []), job.id]
        trial.set_user_attr("run_ids", run_ids)
        if len(run_ids) == 1:
            trial.set_user_attr("run_id", job.id)
        print(f"[aimass] trial {trial.number}: run {job.id} ({spec.name})", flush=True)
        child = start_job(self.ws, job.id)
        if self.ctx is not None:
            child.stop_requested = self.ctx.stop_requested  # a SIGTERM stops the trial too

        dataset = self._dataset(spec)

        def train(c: JobContext) -> None:
            execute_training(c, callbacks=[pruning] if pruning is not None else [], dataset=dataset)
            if pruning is not None and pruning.pruned_epoch_ is not None:
                c.set_result({"pruned": True, "pruned_at_epoch": pruning.pruned_epoch_})

        execute_job(child, train)
        done = self.ws.jobs.get(job.id)
        if done.state == "interrupted" or child.stop_requested.is_set():
            raise WorkerStopped(f"run {job.id} was interrupted")
        if done.state != "succeeded":
            raise self._fail(trial, f"run {job.id} {done.state}: {done.exit_reason}")
        return job.id, {k: float(v) for k, v in (done.result.get("metrics") or {}).items()}

    def _values(self, trial: optuna.Trial, run_id: str, logged: dict[str, float]) -> list[float]:
        values: list[float] = []
        for metric in self.spec.metrics:
            if metric in MEASURED_OBJECTIVES:
                logged[metric] = _measure(metric, self.ws.jobs.run_dir(run_id), run_id, self.ws)
            elif metric not in logged:
                raise self._fail(
                    trial, f"run {run_id} logged no {metric!r}; it logged: {sorted(logged)}"
                )
            values.append(float(logged[metric]))
        return values

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        import optuna

        self.last_number = trial.number
        if self.ctx is not None:
            trial.set_user_attr("worker_job", self.ctx.job.id)
        trial.set_user_attr("workspace", str(self.ws.path))
        params = suggest(trial, self.spec.space)
        print(f"[aimass] trial {trial.number}: params {params}", flush=True)
        name = f"{self.study_name}-trial-{trial.number}"
        base = trial_spec(self.spec.train, params, name=name)
        monitor = self.spec.metrics[0]
        prune = self.spec.pruner != "none" and monitor not in MEASURED_OBJECTIVES
        if self.spec.cv is None:
            pruning = None
            if prune:
                from aimass_lab.search._pruning import PruningCallback

                pruning = PruningCallback(trial, monitor)
            run_id, logged = self._train(trial, base, pruning)
            values = self._values(trial, run_id, logged)
            trial.set_user_attr("metrics", dict(sorted(logged.items())))
            if pruning is not None and pruning.pruned_epoch_ is not None:
                raise optuna.TrialPruned(f"pruned at epoch {pruning.pruned_epoch_}")
            return values[0] if len(values) == 1 else values

        # k-fold: one run per fold; the values are the means over the folds, and the pruner
        # sees the first objective fold by fold (step = fold).
        per_fold: list[list[float]] = []
        sums: dict[str, float] = {}
        for fold in range(self.spec.cv):
            split = {**base.data.split.to_dict(), "folds": self.spec.cv, "fold": fold}
            data = {**base.data.to_dict(), "split": split}
            spec = TrainSpec.from_dict(
                {**base.to_dict(), "data": data, "name": f"{name}-fold-{fold}"}
            )
            run_id, logged = self._train(trial, spec, None)
            values = self._values(trial, run_id, logged)
            per_fold.append(values)
            for key, value in logged.items():
                sums[key] = sums.get(key, 0.0) + value
            if prune:
                trial.report(values[0], step=fold)
                if trial.should_prune():
                    trial.set_user_attr("fold_values", per_fold)
                    raise optuna.TrialPruned(f"pruned after fold {fold}")
        trial.set_user_attr("fold_values", per_fold)
        trial.set_user_attr("metrics", {k: v / len(per_fold) for k, v in sorted(sums.items())})
        means = [sum(v[i] for v in per_fold) / len(per_fold) for i in range(len(per_fold[0]))]
        return means[0] if len(means) == 1 else means


def run_worker(
    ws: Workspace,
    study_name: str,
    storage_url: str | None,
    *,
    index: int = 0,
    ctx: JobContext | None = None,
) -> dict[str, Any]:
    """Run trials of a study until its budget is spent (or a stop is requested).

    Parameters
    ----------
    ws
        The workspace the trials' runs are recorded in.
    study_name, storage_url
        The study and its storage (``None``: the workspace's journal file).
    index
        The worker's number: its sampler's seed is the spec's seed plus this.
    ctx
        The worker's job context (its stop event and job id).

    Returns
    -------
    dict
        ``trials``: the numbers of the trials this worker ran.
    """
    import optuna
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    os.environ.setdefault("PL_DISABLE_FORK", "1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    probe = open_storage(ws, study_name, storage_url)
    try:
        spec = load_spec(optuna.load_study(study_name=study_name, storage=probe))
    except KeyError:
        raise NotFoundError(f"no study {study_name!r} in this storage") from None
    storage = open_storage(ws, study_name, storage_url, max_retry=spec.max_retry)
    study = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=make_sampler(spec, index),
        pruner=make_pruner(spec),
    )
    started = float(study.user_attrs.get(STARTED_ATTR, time.time()))
    deadline = None if spec.timeout is None else started + spec.timeout
    objective = _Objective(ws, study_name, spec, ctx)
    own = ctx.job.id if ctx is not None else None
    ran: list[int] = []
    if ctx is not None:
        ctx.in_loop = True  # SIGTERM sets stop_requested; the loop stops between trials
    while ctx is None or not ctx.stop_requested.is_set():
        reap_dead_workers(study, storage, ws, spec.max_retry, own_job=own)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)  # RDB storages: trials whose heartbeat stopped elsewhere
        if deadline is not None and time.time() >= deadline:
            break
        left = budget_left(study, spec)
        if left == 0:
            # Budget taken; stay while other workers' trials run, in case one dies and its
            # trial must be retried.
            running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not running:
                break
            # on a journal, a running trial with no worker recorded yet can't be watched
            if not isinstance(storage, optuna.storages.RDBStorage) and not any(
                t.user_attrs.get("worker_job") for t in running
            ):
                break
            time.sleep(LINGER_POLL_S)
            continue
        if left is not None and ctx is not None and spec.n_trials:
            ctx.set_progress(1.0 - left / spec.n_trials)
        objective.last_number = None
        try:
            study.optimize(objective, n_trials=1, catch=(TrialFailed,))
        except WorkerStopped:
            pass
        if objective.last_number is not None:
            ran.append(objective.last_number)
        if ctx is not None and ctx.stop_requested.is_set() and objective.last_number is not None:
            frozen = study.trials[objective.last_number]
            if frozen.state == TrialState.FAIL:
                _retry(study, frozen, spec.max_retry)
    result = {"study": study_name, "trials": ran}
    if ctx is not None:
        ctx.set_result(result)
    return result


def run(ctx: JobContext) -> None:
    """Entry point of a ``search`` job (registered with :func:`aimass_lab.workspace.register_job_kind`)."""
    spec = ctx.spec
    run_worker(
        ctx.workspace,
        spec["study"],
        spec.get("storage"),
        index=int(spec.get("index", 0)),
        ctx=ctx,
    )


def join_study(ws: Workspace, study_name: str, storage_url: str | None) -> tuple[str, int]:
    """Run a worker of a study in this process (``aimass search worker``), recorded as a job.

    SIGTERM or Ctrl-C stops it between trials (a trial cut short is queued for retry).

    Returns
    -------
    tuple
        The worker's job id and its exit code.
    """
    import signal
    import uuid

    import optuna

    from aimass_lab.workspace import execute_job, start_job

    probe = open_storage(ws, study_name, storage_url)
    try:
        load_spec(optuna.load_study(study_name=study_name, storage=probe))
    except KeyError:
        where = "the workspace" if storage_url is None else "that storage"
        raise NotFoundError(
            f"no study {study_name!r} in {where}; list studies with: aimass search list"
        ) from None
    index = 1000 + uuid.uuid4().int % 1_000_000  # a seed offset of its own on any machine
    job = ws.jobs.create(
        "search",
        {"study": study_name, "storage": storage_url, "index": index},
        name=f"{study_name}-worker-{index}",
    )
    ctx = start_job(ws, job.id)

    def on_signal(signum: int, frame: Any) -> None:
        ctx.stop_requested.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = execute_job(ctx, run)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return job.id, code
