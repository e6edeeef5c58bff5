"""Real searches: Optuna studies whose trials are Lightning trainings recorded as runs."""

from __future__ import annotations

import itertools
import os
import signal
from typing import Any

import pytest
from common_helpers import wait_for
from search_helpers import LR, run_worker_here

import aimass_lab as am
from aimass_lab import registry
from aimass_lab.workspace import Workspace


def test_search_trials_are_runs_of_a_worker_job(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={"lr": LR, "hidden": {"type": "int", "low": 4, "high": 32, "log": True}},
        objectives="val_acc:max",
        pruner="none",
        n_trials=3,
        max_epochs=2,
        seed=3,
        study="iris-mlp",
        workspace=ws,
    )
    assert isinstance(study, am.Study) and study.name == "iris-mlp"
    study.wait(timeout=240)
    (worker,) = study.workers
    assert worker.state == "succeeded", ws.jobs.logs(worker.id, tail=40)
    assert study.status == "finished"

    df = study.trials
    assert list(df.columns) == [
        "number",
        "state",
        "params",
        "values",
        "run_id",
        "val_acc",
        "duration_s",
    ]
    assert list(df["number"]) == [0, 1, 2] and set(df["state"]) == {"COMPLETE"}
    for row in df.itertuples():
        run = am.Run(row.run_id, ws)
        job = run.job
        assert job.state == "succeeded" and job.parent_id == worker.id
        assert job.name == f"iris-mlp-trial-{row.number}"
        assert run.spec.lr == pytest.approx(row.params["lr"])
        assert run.spec.model.hparams["hidden"] == row.params["hidden"]
        assert row.values == [pytest.approx(run.summary["val_acc"])]
        assert len(run.history("val_acc")) == 2  # metrics recorded like any run's
    assert worker.result["trials"] == [0, 1, 2]

    best = study.best_trial
    assert best.values is not None
    assert best.values[0] == max(v[0] for v in df["values"])
    mv = study.best_model(register=True, name="iris-best")
    assert mv.ref == "iris-best:1"
    lineage = registry.get("iris-best:1", ws).lineage
    assert lineage["study"] == "iris-mlp" and lineage["trial"] == best.number
    assert lineage["params"] == best.params and lineage["run_id"] == best.run_id
    assert lineage["metrics"]["val_acc"] == pytest.approx(best.values[0])
    # any trial can be registered; the default name is the study's
    assert study.register(0).ref == "iris-mlp:1"
    net = study.best_model()
    assert net(__import__("torch").randn(2, 4)).shape == (2, 3)

    # another process sees the same study
    again = am.search.load_study("iris-mlp", workspace=Workspace(ws.path, db_url=ws.db_url))
    assert again.trials["run_id"].tolist() == df["run_id"].tolist()
    assert [s["study"] for s in am.search.list_studies(workspace=ws)] == ["iris-mlp"]


def test_pruning_stops_bad_trials_early(sqlite_workspace: Workspace) -> None:
    """Designed case: lr=1e-6 never learns; after two startup trials the median pruner stops
    such trials after their first epoch, and never a trial that learns."""
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={"lr": {"type": "categorical", "choices": [0.05, 0.03, 1e-6]}},
        objectives="val_loss:min",
        sampler="random",
        pruner="median",
        n_trials=6,
        max_epochs=4,
        seed=0,
        launch=False,
        workspace=ws,
    )
    assert run_worker_here(ws, study.workers[0].id) == 0
    trials = study.trial_results()
    assert len(trials) == 6
    pruned = [t for t in trials if t.state == "PRUNED"]
    assert pruned, [(t.number, t.state, t.params) for t in trials]
    assert all(t.params["lr"] == 1e-6 for t in pruned)
    assert all(t.state == "COMPLETE" for t in trials if t.params["lr"] != 1e-6)
    for t in pruned:
        job = ws.jobs.get(t.run_id or "")
        # the pruned run stopped gracefully and is recorded as such
        assert job.state == "succeeded" and job.result["pruned"] is True
        assert job.result["epochs"] < 4
        assert (ws.jobs.run_dir(job.id) / "model" / "weights.safetensors").exists()
    raw = study.optuna_study.trials[pruned[0].number]
    assert sorted(raw.intermediate_values) == [1]  # step = epochs done

    # live-plot data: one plotly figure per view, pruned trials told apart
    fig = am.search.plot_intermediate_values(study)
    styles = {d.name: d.line.dash for d in fig.data}
    assert styles[f"trial {pruned[0].number} (pruned)"] == "dash"
    assert styles["trial 0 (complete)"] == "solid"
    history = am.search.plot_history(study)
    assert history.layout.title.text.endswith("optimisation history") and history.data
    assert am.search.plot_parallel_coordinate(study).data
    assert am.search.plot_importances(study).data


def _dominates(a: list[float], b: list[float], directions: list[str]) -> bool:
    signs = [1 if d == "minimize" else -1 for d in directions]
    better_or_equal = all(s * x <= s * y for s, x, y in zip(signs, a, b, strict=True))
    return better_or_equal and any(s * x < s * y for s, x, y in zip(signs, a, b, strict=True))


def test_multi_objective_pareto_front(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={
            "hidden": {"type": "int", "low": 2, "high": 64, "log": True},
            "layers": {"type": "int", "low": 1, "high": 2},
        },
        objectives=["val_acc:max", "params:min"],
        sampler="nsga2",
        n_trials=6,
        max_epochs=2,
        lr=0.03,
        seed=1,
        launch=False,
        workspace=ws,
    )
    assert study.spec.pruner == "none"
    run_worker_here(ws, study.workers[0].id)
    trials = [t for t in study.trial_results() if t.state == "COMPLETE"]
    assert len(trials) == 6
    directions = study.spec.directions
    # params is the real parameter count of the trained model
    for t in trials:
        net = study.run(t.number).model()
        assert t.values is not None
        assert t.values[1] == sum(p.numel() for p in net.parameters())
    front = study.pareto_front()
    numbers = set(front["number"])
    values = {t.number: t.values for t in trials}
    # brute force: no trial dominates a front member; every other trial is dominated by one
    for n in numbers:
        assert not any(_dominates(values[m], values[n], directions) for m in values if m != n)
    for n in set(values) - numbers:
        assert any(_dominates(values[m], values[n], directions) for m in numbers)
    assert list(front.columns) == ["number", "val_acc", "params_value", "params", "run_id"]
    assert all(isinstance(p, dict) for p in front["params"])
    df = study.trials
    assert list(df.columns)[5:] == ["val_acc", "params_value", "duration_s"]
    assert df["params_value"].tolist() == [values[n][1] for n in df["number"]]
    fig = am.search.plot_pareto_front(study)
    hover = " ".join(str(t) for d in fig.data for t in (d.text or ()))
    assert all(f'"number": {n}' in hover for n in numbers) and '"params"' in hover
    mv = study.register(sorted(numbers)[0], "front-point")
    assert mv.lineage["values"] == values[sorted(numbers)[0]]


def test_two_workers_and_a_killed_worker_loses_no_trial(sqlite_workspace: Workspace) -> None:
    """Two detached workers share one study on the default storage; one is killed -9 in the
    middle of a trial; the other fails that trial, retries it and the study reaches n_trials."""
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={"lr": LR},
        objectives="val_acc:max",
        pruner="none",
        n_trials=6,
        max_epochs=3,
        workers=2,
        seed=0,
        workspace=ws,
    )
    victim = study.workers[0]

    def running_trial_of_victim() -> Any:
        for t in study.optuna_study.get_trials(deepcopy=False):
            if t.state.name == "RUNNING" and t.user_attrs.get("worker_job") == victim.id:
                return t
        return None

    doomed = wait_for(running_trial_of_victim, timeout=120, every=0.05)
    pid = ws.jobs.get(victim.id).pid
    assert pid
    os.kill(pid, signal.SIGKILL)
    study.wait(timeout=300)
    states = {j.id: j.state for j in study.workers}
    assert states[victim.id] == "interrupted"
    survivor = next(j for j in study.workers if j.id != victim.id)
    assert survivor.state == "succeeded", ws.jobs.logs(survivor.id, tail=60)

    trials = study.trial_results()
    failed = study.trial(doomed.number)
    assert failed.state == "FAIL" and "interrupted" in (failed.error or "")
    retries = [t for t in trials if t.retry_of == doomed.number]
    assert len(retries) == 1 and retries[0].state == "COMPLETE"
    assert retries[0].params == failed.params
    done = [t for t in trials if t.state in ("COMPLETE", "PRUNED")]
    assert len(done) == 6
    workers = {study.optuna_study.trials[t.number].user_attrs["worker_job"] for t in done}
    assert survivor.id in workers
    # no "database is locked" or other storage trouble reached the logs
    for job in study.workers:
        assert "locked" not in ws.jobs.logs(job.id)
    assert list(itertools.chain(study.trials["number"])) == list(range(len(trials)))


def test_conditional_space_and_timeout_budget(sqlite_workspace: Workspace) -> None:
    """``family`` picks the model, then only that family's parameters are sampled; a search
    with only a timeout stops once the time is spent."""
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={
            "family": {"type": "categorical", "choices": ["mlp", "gru"]},
            "layers": {"type": "int", "low": 1, "high": 2, "condition": {"family": "mlp"}},
            "bidirectional": {
                "type": "categorical",
                "choices": [True, False],
                "condition": {"family": "gru"},
            },
            "hidden": {"type": "int", "low": 4, "high": 16},
        },
        objectives="val_loss:min",
        sampler="random",
        pruner="none",
        n_trials=None,
        timeout=3,
        max_epochs=1,
        seed=2,
        launch=False,
        workspace=ws,
    )
    run_worker_here(ws, study.workers[0].id)
    trials = study.trial_results()
    assert trials and all(t.state == "COMPLETE" for t in trials)
    assert study.status == "finished"
    for t in trials:
        spec = study.run(t.number).spec
        assert spec.model.family == t.params["family"]
        assert spec.model.hparams["hidden"] == t.params["hidden"]
        if t.params["family"] == "mlp":
            assert set(t.params) == {"family", "layers", "hidden"}
            assert spec.model.hparams["layers"] == t.params["layers"]
        else:
            assert set(t.params) == {"family", "bidirectional", "hidden"}
            assert spec.model.hparams["bidirectional"] == t.params["bidirectional"]


def test_stop_and_resume_loses_no_trial(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={"lr": LR},
        objectives="val_acc:max",
        pruner="none",
        n_trials=1,
        max_epochs=30,
        seed=0,
        study="stoppable",
        workspace=ws,
    )
    first = wait_for(
        lambda: next((t for t in study.trial_results() if t.state == "RUNNING" and t.run_id), None),
        timeout=120,
        every=0.1,
    )
    wait_for(lambda: am.Run(first.run_id, ws).history("val_loss"), timeout=60, every=0.1)
    study.stop().wait(timeout=120)
    assert study.status == "stopped"
    assert study.workers[0].state == "interrupted"
    assert am.Run(first.run_id, ws).status == "interrupted"
    assert study.trial(first.number).state == "FAIL"
    waiting = [t for t in study.trial_results() if t.state == "WAITING"]
    assert len(waiting) == 1 and waiting[0].params == first.params

    study.resume().wait(timeout=240)
    assert study.status == "finished"
    retried = study.trial(waiting[0].number)
    assert retried.state == "COMPLETE" and retried.retry_of == first.number
    assert [t.state for t in study.trial_results()] == ["FAIL", "COMPLETE"]


def test_cross_validation_trains_one_run_per_fold(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={"lr": LR},
        objectives=["val_acc:max", "params:min"],
        sampler="random",
        n_trials=2,
        max_epochs=1,
        cv=3,
        seed=0,
        launch=False,
        workspace=ws,
    )
    run_worker_here(ws, study.workers[0].id)
    for t in study.trial_results():
        assert t.state == "COMPLETE"
        raw = study.optuna_study.trials[t.number]
        run_ids = raw.user_attrs["run_ids"]
        assert len(run_ids) == 3 and t.run_id == run_ids[0]
        folds = [am.Run(r, ws).spec.data.split for r in run_ids]
        assert [(s.folds, s.fold) for s in folds] == [(3, 0), (3, 1), (3, 2)]
        per_fold = raw.user_attrs["fold_values"]
        assert t.values is not None
        assert t.values[0] == pytest.approx(sum(v[0] for v in per_fold) / 3)
        assert t.metrics["val_acc"] == pytest.approx(t.values[0])
    with pytest.raises(am.AimassError, match="pruner 'wilcoxon' compares trials fold by fold"):
        am.search("iris", "mlp", space={"lr": LR}, pruner="wilcoxon", workspace=ws)


def test_measured_objectives(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    study = am.search(
        "iris",
        "mlp",
        space={"hidden": {"type": "int", "low": 4, "high": 8}},
        objectives=["size_kb:min", "latency_ms:min", "params:min"],
        sampler="random",
        n_trials=1,
        max_epochs=1,
        launch=False,
        workspace=ws,
    )
    run_worker_here(ws, study.workers[0].id)
    (trial,) = study.trial_results()
    assert trial.state == "COMPLETE" and trial.values is not None
    size_kb, latency_ms, params = trial.values
    weights = ws.jobs.run_dir(trial.run_id or "") / "model" / "weights.safetensors"
    assert size_kb == pytest.approx(weights.stat().st_size / 1024)
    assert 0 < latency_ms < 1000
    assert params == sum(p.numel() for p in study.run(trial.number).model().parameters())
    assert trial.metrics["latency_ms"] == latency_ms


def test_parallel_is_the_old_name_of_workers(sqlite_workspace: Workspace) -> None:
    """``workers`` everywhere (API, SearchSpec, CLI, panel); ``parallel`` still read."""
    from aimass_lab.specs import SearchSpec

    with pytest.warns(DeprecationWarning, match="parallel= is deprecated; use workers="):
        study = am.search(
            "iris", "mlp", space={"lr": LR}, n_trials=1, max_epochs=1, parallel=2,
            launch=False, workspace=sqlite_workspace,
        )  # fmt: skip
    assert study.spec.workers == 2 and len(study.workers) == 2
    recorded = study.spec.to_dict()
    assert recorded["workers"] == 2 and "parallel" not in recorded
    recorded.pop("workers")  # a spec recorded by an older release
    assert SearchSpec.from_dict({**recorded, "parallel": 3}).workers == 3
