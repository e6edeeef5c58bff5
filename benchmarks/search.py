#!/usr/bin/env python
"""Hyperparameter search benchmarks of AI Mass Lab, peers side by side in one run.

On the ``digits`` dataset (zoo MLP; space: ``lr`` log 1e-4..1e-1, ``hidden`` int log
16..256, ``dropout`` 0..0.5; objective ``val_acc:max``; TPE, seed 0), it measures:

(a) ``pruning``  ``aimass_lab.search(..., pruner="hyperband")`` vs ``pruner="none"`` at an
                 equal wall-clock budget (the search's own ``timeout``, counted by the stage
                 from the study's creation, so both peers pay the worker's start-up alike).
                 Reported: trials finished (COMPLETE + PRUNED) *within the budget* (a trial
                 counts when its Optuna ``datetime_complete`` is before creation + timeout;
                 the trial a worker started just before the deadline and finished after it
                 is shown separately as "all"), and the best ``val_acc`` of the complete
                 trials within the budget. Goals: >= 3x trials, best within 0.5 point.
(b) ``workers``  ``parallel=2`` vs ``parallel=1``, no pruning, the same ``n_trials`` each:
                 trials per minute over the trial span (first trial's start to last trial's
                 end, from Optuna's timestamps: the steady rate) and over the whole call
                 (``search(..., wait=True)`` including the workers' process start and
                 imports). Goal: >= 1.6x trials per minute on 2 cores (judged on the span).
(c) ``storage``  per-trial cost of the storage alone: ``optuna.create_study(...).optimize``
                 of an objective that suggests one float and returns it at once
                 (``RandomSampler``, so the sampler's cost does not grow with the study), on
                 in-memory storage, on the search stage's default storage (its journal file,
                 built by ``aimass_lab.search._factory.open_storage`` exactly as the workers
                 build it) and on PostgreSQL: the stage's own RDB storage (same function,
                 with heartbeats and retry) and a plain ``optuna.storages.RDBStorage``.
                 One study of N trials per storage; each trial is timed (the interval
                 between consecutive trial-end callbacks); "at 100" is the mean over the
                 first 100 trials, "at 1000" the mean over trials 901..1000, growth is
                 their ratio. Goals for the default storage: <= 20 ms per trial, <= 1.5x
                 growth from 100 to 1000.

The worker processes inherit ``OMP_NUM_THREADS=MKL_NUM_THREADS`` = ``--threads`` (default 1,
one core per worker) from this process. ``--quick`` shrinks every budget for a smoke run of
about a minute and a half; its numbers are not the benchmark.

Run::

    .venv/bin/python benchmarks/search.py --pg-url postgresql://USER@HOST:PORT/postgres
    .venv/bin/python benchmarks/search.py --quick [--json]
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# before torch is imported anywhere, so that the detached worker jobs inherit it
os.environ.setdefault("OMP_NUM_THREADS", _threads_from_argv(sys.argv[1:]))
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

import argparse  # noqa: E402
import contextlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import optuna  # noqa: E402

import aimass_lab  # noqa: E402
from aimass_lab.search._factory import open_storage  # noqa: E402
from aimass_lab.search._worker import STARTED_ATTR  # noqa: E402
from aimass_lab.workspace import Workspace  # noqa: E402

SEED = 0
SPACE: dict[str, dict[str, Any]] = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "hidden": {"type": "int", "low": 16, "high": 256, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
}
OBJECTIVE = "val_acc:max"
GOAL_TRIALS = 3.0  # hyperband finishes >= 3x the trials of no pruning in the same time
GOAL_BEST_PT = 0.5  # ... and its best val_acc is within 0.5 point
GOAL_WORKERS = 1.6  # 2 workers >= 1.6x the trials per minute of 1
GOAL_DEFAULT_MS = 20.0  # default storage <= 20 ms per trial
GOAL_GROWTH = 1.5  # ... growing <= 1.5x from 100 to 1000 trials

FULL: dict[str, Any] = {"epochs": 27, "timeout": 80.0, "worker_trials": 10, "storage_trials": 1000}
QUICK: dict[str, Any] = {"epochs": 9, "timeout": 25.0, "worker_trials": 4, "storage_trials": 200}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- (a) and (b): search
def _search(ws: Workspace, epochs: int, **kw: Any) -> dict[str, Any]:
    """Run one search to its end in ``ws``; return its trials and timings."""
    t0 = time.time()
    with contextlib.redirect_stdout(sys.stderr):
        study = aimass_lab.search(
            "digits",
            "mlp",
            space=SPACE,
            objectives=OBJECTIVE,
            sampler="tpe",
            seed=SEED,
            max_epochs=epochs,
            wait=True,
            workspace=ws,
            **kw,
        )
    call_s = time.time() - t0
    ostudy = study.optuna_study
    started = float(ostudy.user_attrs.get(STARTED_ATTR, t0))
    trials = []
    for t in ostudy.get_trials(deepcopy=False):
        trials.append(
            {
                "number": t.number,
                "state": t.state.name,
                "worker": t.user_attrs.get("worker_job"),
                "value": t.value if t.state.name == "COMPLETE" else None,
                "start": t.datetime_start.timestamp() if t.datetime_start else None,
                "end": t.datetime_complete.timestamp() if t.datetime_complete else None,
                # epochs trained: what the pruner saw, or every epoch of an unpruned trial
                "epochs": len(t.intermediate_values)
                or (epochs if t.state.name == "COMPLETE" else 0),
            }
        )
    failed = [t for t in trials if t["state"] == "FAIL"]
    if failed and len(failed) == len(trials):
        logs = "\n".join(ws.jobs.logs(j.id, tail=30) for j in study.workers)
        raise RuntimeError(f"every trial of study {study.name} failed:\n{logs}")
    return {"study": study.name, "call_s": call_s, "started": started, "trials": trials}


def _summary(run: dict[str, Any], budget: float | None = None) -> dict[str, Any]:
    trials = [t for t in run["trials"] if t["state"] in ("COMPLETE", "PRUNED")]
    within = (
        trials
        if budget is None
        else [t for t in trials if t["end"] is not None and t["end"] <= run["started"] + budget]
    )
    complete = [t for t in within if t["state"] == "COMPLETE"]
    first = min((t["start"] for t in trials), default=None)
    last = max((t["end"] for t in trials), default=None)
    span = (last - first) if first is not None and last is not None else None
    durations = [t["end"] - t["start"] for t in trials]
    ordered = sorted(trials, key=lambda t: t["start"])
    # idle time of a worker between one trial's end and its next trial's start (1 worker)
    gaps = [b["start"] - a["end"] for a, b in itertools.pairwise(ordered)]
    # each worker's first trial also pays the worker's lazy imports (torch, Lightning) and
    # first data load; "warm" leaves those trials out
    firsts: dict[Any, dict[str, Any]] = {}
    for t in ordered:
        firsts.setdefault(t["worker"], t)
    warm = [t for t in ordered if all(t is not f for f in firsts.values())]
    warm_span = (
        max(t["end"] for t in warm) - min(t["start"] for t in warm) if len(warm) > 1 else None
    )
    return {
        "finished": len(within),
        "finished_all": len(trials),
        "complete": len(complete),
        "pruned": sum(t["state"] == "PRUNED" for t in within),
        "failed": sum(t["state"] == "FAIL" for t in run["trials"]),
        "best_val_acc": max((t["value"] for t in complete), default=None),
        "epochs_trained": sum(t["epochs"] for t in within),
        "call_s": round(run["call_s"], 1),
        "start_to_first_trial_s": round(first - run["started"], 1) if first else None,
        "span_s": round(span, 1) if span else None,
        "per_min_span": 60.0 * len(trials) / span if span else None,
        "per_min_call": 60.0 * len(trials) / run["call_s"],
        "trial_s_median": statistics.median(durations) if durations else None,
        "busy_fraction": sum(durations) / span if span else None,
        "gap_s_median": statistics.median(gaps) if gaps else None,
        "first_trial_s": [round(f["end"] - f["start"], 2) for f in firsts.values()],
        "warm_trial_s_median": (
            statistics.median(t["end"] - t["start"] for t in warm) if warm else None
        ),
        "per_min_warm": 60.0 * len(warm) / warm_span if warm_span else None,
        "points": [(t["epochs"], t["end"] - t["start"]) for t in warm],
        "study": run["study"],
    }


def _cost_model(points: list[tuple[int, float]]) -> dict[str, float] | None:
    """Least-squares ``trial seconds = fixed + per_epoch * epochs`` over the trials."""
    if len({e for e, _ in points}) < 2:
        return None
    slope, intercept = statistics.linear_regression(
        [float(e) for e, _ in points], [d for _, d in points]
    )
    return {"fixed_s": intercept, "per_epoch_s": slope}


def bench_pruning(ws: Workspace, epochs: int, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, pruner in (("none", "none"), ("hyperband", "hyperband")):
        log(f"(a) pruner={pruner}: timeout {timeout:.0f} s, max_epochs {epochs} ...")
        run = _search(ws, epochs, pruner=pruner, n_trials=None, timeout=timeout, parallel=1)
        out[name] = _summary(run, budget=timeout)
        log(f"    {out[name]}")
    none, hb = out["none"], out["hyperband"]
    ratio = hb["finished"] / none["finished"] if none["finished"] else None
    gap = (
        100.0 * (none["best_val_acc"] - hb["best_val_acc"])
        if none["best_val_acc"] is not None and hb["best_val_acc"] is not None
        else None
    )
    out["cost_model"] = _cost_model(none["points"] + hb["points"])
    out["trials_ratio"] = ratio
    out["best_gap_pt"] = gap
    out["goal_trials_met"] = ratio is not None and ratio >= GOAL_TRIALS
    out["goal_best_met"] = gap is not None and gap <= GOAL_BEST_PT
    return out


def bench_workers(ws: Workspace, epochs: int, n_trials: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for parallel in (1, 2):
        log(f"(b) parallel={parallel}: {n_trials} trials, max_epochs {epochs} ...")
        run = _search(ws, epochs, pruner="none", n_trials=n_trials, parallel=parallel)
        out[str(parallel)] = _summary(run)
        log(f"    {out[str(parallel)]}")
    one, two = out["1"], out["2"]
    out["speedup_span"] = (
        two["per_min_span"] / one["per_min_span"]
        if one["per_min_span"] and two["per_min_span"]
        else None
    )
    out["speedup_call"] = two["per_min_call"] / one["per_min_call"]
    out["speedup_warm"] = (
        two["per_min_warm"] / one["per_min_warm"]
        if one["per_min_warm"] and two["per_min_warm"]
        else None
    )
    out["goal_met"] = out["speedup_span"] is not None and out["speedup_span"] >= GOAL_WORKERS
    return out


# --------------------------------------------------------------------------- (c): storages
def _trivial(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 1.0)


def _time_trials(storage: Any, n: int, name: str) -> list[float]:
    """Seconds per trial of ``n`` trivial trials in a new study on ``storage``."""
    study = optuna.create_study(
        study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler(seed=SEED)
    )
    ends: list[float] = []
    t0 = time.perf_counter()
    study.optimize(_trivial, n_trials=n, callbacks=[lambda s, t: ends.append(time.perf_counter())])
    return [b - a for a, b in itertools.pairwise([t0, *ends])]


@contextlib.contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of ``admin_url``, dropped afterwards; yields its URL."""
    import psycopg

    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = "bench_search_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rpartition("/")[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_storage(ws: Workspace, n: int, pg_admin: str | None) -> dict[str, Any]:
    window = n // 10
    makers: dict[str, Callable[[str], Any]] = {
        "memory": lambda url: optuna.storages.InMemoryStorage(),
        "journal": lambda url: open_storage(ws, f"bench-storage-{uuid.uuid4().hex[:8]}", None),
    }
    if pg_admin:
        makers["pg_stage"] = lambda url: open_storage(ws, "", url)
        makers["pg_plain"] = lambda url: optuna.storages.RDBStorage(url)
    out: dict[str, Any] = {"n_trials": n, "window": window, "storages": {}}
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(pg_database(pg_admin)) if pg_admin else ""
        for key, make in makers.items():
            log(f"(c) storage {key}: {n} trivial trials ...")
            storage = make(url)
            times = _time_trials(storage, n, f"bench-{key}-{uuid.uuid4().hex[:8]}")
            if isinstance(storage, optuna.storages.RDBStorage):
                storage.remove_session()
                storage.engine.dispose()
            first = 1e3 * statistics.fmean(times[:window])
            last = 1e3 * statistics.fmean(times[-window:])
            out["storages"][key] = {
                "first_ms": first,
                "last_ms": last,
                "mean_ms": 1e3 * statistics.fmean(times),
                "median_ms": 1e3 * statistics.median(times),
                "growth": last / first,
            }
            log(f"    {out['storages'][key]}")
    s = out["storages"]
    for row in s.values():
        row["vs_memory_last"] = row["last_ms"] / s["memory"]["last_ms"]
    j = s["journal"]
    out["goal_ms_met"] = j["first_ms"] <= GOAL_DEFAULT_MS and j["last_ms"] <= GOAL_DEFAULT_MS
    out["goal_growth_met"] = j["growth"] <= GOAL_GROWTH
    return out


# ---------------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    import lightning
    import sqlalchemy
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "optuna": optuna.__version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "aimass_lab": aimass_lab.__version__,
        "cpus": os.cpu_count(),
        "worker_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            info["ram_gib"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        info["cpu"] = platform.processor()
    return info


def loadavg() -> list[float]:
    """The 1/5/15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def _f(value: float | None, fmt: str, missing: str = "-") -> str:
    return missing if value is None else format(value, fmt)


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def print_report(report: dict[str, Any]) -> None:
    m, cfg = report["machine"], report["config"]
    print(
        f"\nMachine: {m.get('cpu')}, {m['cpus']} CPUs, {m.get('ram_gib')} GiB RAM; Python "
        f"{m['python']}, optuna {m['optuna']}, torch {m['torch']}, lightning {m['lightning']}, "
        f"aimass_lab {m['aimass_lab']}; {m['worker_threads']} thread(s) per worker"
    )
    print(
        f"{'QUICK SMOKE RUN (tiny budgets: not the benchmark)' if cfg['quick'] else 'Full run'}; "
        f"load average before/after {report['loadavg_before']} / {report['loadavg_after']}; "
        f"{report['wall_s']:.0f} s in all"
    )
    print(f"digits, zoo mlp, space {sorted(SPACE)}, {OBJECTIVE}, TPE seed {SEED}")

    a = report.get("pruning")
    if a:
        print(
            f"\n(a) pruning at an equal budget: timeout {cfg['timeout']:.0f} s each, "
            f"max_epochs {cfg['epochs']}, 1 worker"
        )
        print(
            f"{'peer':16s} {'finished':>8s} {'(all)':>6s} {'complete':>8s} {'pruned':>6s} "
            f"{'epochs':>6s} {'best val_acc':>12s} {'trials vs none':>14s}"
        )
        for key in ("none", "hyperband"):
            r = a[key]
            ratio = r["finished"] / a["none"]["finished"] if a["none"]["finished"] else None
            print(
                f"{key:16s} {r['finished']:8d} {r['finished_all']:6d} {r['complete']:8d} "
                f"{r['pruned']:6d} {r['epochs_trained']:6d} "
                f"{_f(r['best_val_acc'], '12.4f', '           -')} {_f(ratio, '13.2f')}x"
            )
        print(
            f"  GOAL >= {GOAL_TRIALS:.0f}x trials: {_f(a['trials_ratio'], '.2f')}x -> "
            f"{_verdict(a['goal_trials_met'])}; GOAL best within {GOAL_BEST_PT} pt: "
            f"none - hyperband = {_f(a['best_gap_pt'], '+.2f')} pt -> "
            f"{_verdict(a['goal_best_met'])}"
        )
        cm = a.get("cost_model")
        if cm:
            print(
                f"  cost of a trial (least squares over both peers' trials but each worker's "
                f"first): "
                f"{cm['fixed_s']:.2f} s fixed + {cm['per_epoch_s'] * 1e3:.0f} ms per epoch; "
                f"worker gap between trials (median): none "
                f"{_f(a['none']['gap_s_median'], '.2f')} s, hyperband "
                f"{_f(a['hyperband']['gap_s_median'], '.2f')} s"
            )

    b = report.get("workers")
    if b:
        print(f"\n(b) workers: {cfg['worker_trials']} trials each, max_epochs {cfg['epochs']}")
        print(
            f"{'peer':16s} {'trials':>6s} {'to 1st s':>8s} {'span s':>7s} {'/min span':>9s} "
            f"{'call s':>7s} {'/min call':>9s} {'trial s':>7s} {'busy':>5s} "
            f"{'1st trial s':>11s} {'/min warm':>9s}"
        )
        for key in ("1", "2"):
            r = b[key]
            print(
                f"{'parallel=' + key:16s} {r['finished_all']:6d} "
                f"{_f(r['start_to_first_trial_s'], '8.1f')} {_f(r['span_s'], '7.1f')} "
                f"{_f(r['per_min_span'], '9.1f')} {r['call_s']:7.1f} {r['per_min_call']:9.1f} "
                f"{_f(r['trial_s_median'], '7.2f')} {_f(r['busy_fraction'], '5.2f')} "
                f"{'/'.join(f'{x:.1f}' for x in r['first_trial_s']):>11s} "
                f"{_f(r['per_min_warm'], '9.1f')}"
            )
        print(
            "  trial s = median trial duration; busy = sum of trial durations / span "
            "(about the number of trials running at once);\n  1st trial s = each "
            "worker's first trial (it pays the worker's imports and first data load); "
            "/min warm = rate without those"
        )
        print(
            f"  GOAL >= {GOAL_WORKERS}x trials/min (span): {_f(b['speedup_span'], '.2f')}x "
            f"(whole call: {b['speedup_call']:.2f}x, warm: {_f(b['speedup_warm'], '.2f')}x) "
            f"-> {_verdict(b['goal_met'])}"
        )

    c = report.get("storage")
    if c:
        n, w = c["n_trials"], c["window"]
        print(f"\n(c) storage: ms per trivial trial, one study of {n} trials per storage")
        print(
            f"{'storage':34s} {'first ' + str(w):>9s} {'last ' + str(w):>9s} {'mean':>7s} "
            f"{'growth':>7s} {'vs memory':>9s}"
        )
        labels = {
            "memory": "in-memory",
            "journal": "default (stage's journal file)",
            "pg_stage": "PostgreSQL (stage's RDBStorage)",
            "pg_plain": "PostgreSQL (plain RDBStorage)",
        }
        for key, r in c["storages"].items():
            print(
                f"{labels[key]:34s} {r['first_ms']:9.2f} {r['last_ms']:9.2f} {r['mean_ms']:7.2f} "
                f"{r['growth']:6.2f}x {r['vs_memory_last']:8.1f}x"
            )
        j = c["storages"]["journal"]
        print(
            f"  GOAL default <= {GOAL_DEFAULT_MS:.0f} ms/trial: {j['first_ms']:.2f} / "
            f"{j['last_ms']:.2f} ms -> {_verdict(c['goal_ms_met'])}; GOAL growth <= "
            f"{GOAL_GROWTH}x: {j['growth']:.2f}x -> {_verdict(c['goal_growth_met'])}"
        )
        if "pg_stage" not in c["storages"]:
            print("  (PostgreSQL skipped: no --pg-url / AIMASS_TEST_PG_URL)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke run)")
    parser.add_argument("--parts", default="pruning,workers,storage", help="which parts to run")
    parser.add_argument("--epochs", type=int, help="max_epochs of every trial in (a) and (b)")
    parser.add_argument("--timeout", type=float, help="(a): seconds of budget per peer")
    parser.add_argument("--worker-trials", type=int, help="(b): trials per peer")
    parser.add_argument("--storage-trials", type=int, help="(c): trials per storage (>= 20)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("AIMASS_TEST_PG_URL"),
        help="PostgreSQL admin URL for (c) (a database is created and dropped); "
        "default: $AIMASS_TEST_PG_URL",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args(argv)
    cfg: dict[str, Any] = dict(QUICK if args.quick else FULL)
    for key in cfg:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    parts = args.parts.split(",")
    unknown = set(parts) - {"pruning", "workers", "storage"}
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; accepted: pruning, workers, storage")
    if cfg["storage_trials"] < 20:
        parser.error("--storage-trials must be 20 or more")

    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root = tempfile.mkdtemp(prefix="aimass-bench-search-")
    ws = Workspace(root)
    report: dict[str, Any] = {
        "machine": machine(),
        "config": {
            **cfg,
            "quick": args.quick,
            "space": SPACE,
            "objective": OBJECTIVE,
            "seed": SEED,
            "command": " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]]),
        },
        "loadavg_before": loadavg(),
    }
    t0 = time.perf_counter()
    try:
        if "pruning" in parts:
            report["pruning"] = bench_pruning(ws, cfg["epochs"], cfg["timeout"])
        if "workers" in parts:
            report["workers"] = bench_workers(ws, cfg["epochs"], cfg["worker_trials"])
        if "storage" in parts:
            report["storage"] = bench_storage(ws, cfg["storage_trials"], args.pg_url)
    finally:
        ws.store.close()
        if args.keep:
            log(f"workspace kept at {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["loadavg_after"] = loadavg()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
