#!/usr/bin/env python
"""Training throughput with a live TrainPanel polling the store vs with no panel at all.

Both peers train the same detached job (``aimass_lab.train(...)``: the zoo MLP on
``digits``, batch 16, so 79 training steps per epoch); the only difference is what this
process (standing in for the notebook kernel) does meanwhile:

``no panel``    it waits for the job (``jobs.wait``, one store query per second);
``live panel``  a :class:`~aimass_lab.widgets.TrainPanel` watches the run from an asyncio
                event loop in this process, as in a kernel, at its fastest rate (4 refreshes
                a second: job row, new metric points, one ``batch_update`` of the chart, log
                tail), until the run ends — including the confusion matrix at the end.

How it is timed: per-epoch time is the interval between consecutive ``train_loss_epoch``
rows of the run (the ``ts`` the job's MetricsRecorder stores at each epoch end), so process
start, imports, data loading, ``test`` and the end-of-run work are outside the measurement.
The first epoch is a warm-up and is dropped; a run's time is its median interval, and with
``--repeats R`` the two peers run interleaved R times (the order alternates) and the median
of the R medians is reported. Throughput ratio = epoch time without / epoch time with a
panel (goal from issue 6: >= 0.95x).

Threads: ``OMP_NUM_THREADS=MKL_NUM_THREADS=1`` (inherited by the job).

Run::

    .venv/bin/python benchmarks/ui_overhead.py [--epochs N] [--repeats R] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import asyncio
import itertools
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def epoch_times(ws: Any, run_id: str) -> list[float]:
    """Seconds between consecutive epoch ends of a run, the warm-up epoch dropped."""
    from sqlalchemy import select

    from aimass_lab.workspace import MetricRow

    with ws.store.session() as s:
        stamps = list(
            s.scalars(
                select(MetricRow.ts)
                .where(MetricRow.job_id == run_id, MetricRow.name == "train_loss_epoch")
                .order_by(MetricRow.id)
            )
        )
    return [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)][1:]


def start_run(ws: Any, epochs: int) -> Any:
    import aimass_lab as am

    return am.train(
        "digits",
        "mlp",
        max_epochs=epochs,
        batch_size=16,
        hparams={"hidden": 128},
        accelerator="cpu",
        devices=1,
        seed=0,
        workspace=ws,
    )


def run_without_panel(ws: Any, epochs: int) -> dict[str, Any]:
    run = start_run(ws, epochs)
    ws.jobs.wait(run.id, poll=1.0)
    assert run.status == "succeeded", run.logs(tail=20)
    return {"run": run.id, "epochs": epoch_times(ws, run.id), "refreshes": 0}


def run_with_panel(ws: Any, epochs: int) -> dict[str, Any]:
    from aimass_lab.widgets import TrainPanel

    async def main() -> dict[str, Any]:
        panel = TrainPanel("digits", "mlp", workspace=ws, poll_interval=0.25)
        cpu = {"refresh_s": 0.0, "wall_s": 0.0}
        plain_refresh = panel.refresh

        def timed_refresh() -> bool:
            c0, t0 = time.process_time(), time.perf_counter()
            try:
                return plain_refresh()
            finally:
                cpu["refresh_s"] += time.process_time() - c0
                cpu["wall_s"] += time.perf_counter() - t0

        panel.refresh = timed_refresh  # type: ignore[method-assign]
        run = start_run(ws, epochs)
        started = time.perf_counter()
        panel.attach(run)  # starts the asyncio poller on this loop
        assert panel.poller is not None and panel.poller.mode == "asyncio"
        while panel.polling:
            await asyncio.sleep(0.1)
        watched = time.perf_counter() - started
        refreshes = panel.poller.refreshes
        points = sum(len(t.x or ()) for t in panel.chart.data)
        panel.close()
        assert run.status == "succeeded", run.logs(tail=20)
        return {
            "run": run.id,
            "epochs": epoch_times(ws, run.id),
            "refreshes": refreshes,
            "points": points,
            "refresh_cpu_ms": 1000 * cpu["refresh_s"] / max(1, refreshes),
            "panel_cpu_share": cpu["refresh_s"] / watched,
        }

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=12, help="epochs per run (>= 3)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    if args.epochs < 3:
        parser.error("--epochs must be >= 3")

    from aimass_lab.workspace import Workspace

    folder = Path(tempfile.mkdtemp(prefix="aimass-ui-bench-"))
    ws = Workspace(folder / "ws")
    peers = {"no panel": run_without_panel, "live panel": run_with_panel}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in peers}
    started = time.monotonic()
    try:
        for r in range(args.repeats):
            order = list(peers) if r % 2 == 0 else list(reversed(peers))
            for name in order:
                out = peers[name](ws, args.epochs)
                out["median_s"] = statistics.median(out["epochs"])
                results[name].append(out)
                if not args.json:
                    print(
                        f"repeat {r + 1} {name:>10}: {1000 * out['median_s']:7.1f} ms/epoch "
                        f"({out['refreshes']} panel refreshes)",
                        flush=True,
                    )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    summary: dict[str, Any] = {}
    for name, runs in results.items():
        medians = [o["median_s"] for o in runs]
        summary[name] = {
            "ms_per_epoch": 1000 * statistics.median(medians),
            "min_ms": 1000 * min(medians),
            "max_ms": 1000 * max(medians),
            "refreshes": [o["refreshes"] for o in runs],
        }
        if name == "live panel":
            summary[name]["refresh_cpu_ms"] = statistics.median(o["refresh_cpu_ms"] for o in runs)
            summary[name]["panel_cpu_share"] = statistics.median(o["panel_cpu_share"] for o in runs)
    ratio = summary["no panel"]["ms_per_epoch"] / summary["live panel"]["ms_per_epoch"]
    doc = {
        "epochs": args.epochs,
        "repeats": args.repeats,
        "peers": summary,
        "throughput_ratio_live_vs_none": ratio,
        "goal": ">= 0.95",
        "met": ratio >= 0.95,
        "wall_s": time.monotonic() - started,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print()
    print(f"{'peer':>12} | ms/epoch (median) | min-max | panel refreshes per run")
    for name, s in summary.items():
        print(
            f"{name:>12} | {s['ms_per_epoch']:17.1f} | {s['min_ms']:.1f}-{s['max_ms']:.1f} | "
            f"{s['refreshes']}"
        )
    live = summary["live panel"]
    print(
        f"panel cost in this process: {live['refresh_cpu_ms']:.1f} ms CPU per refresh (includes "
        f"the end-of-run evaluation), {100 * live['panel_cpu_share']:.1f}% of one core while "
        "watching"
    )
    print()
    print(
        f"throughput with a live TrainPanel / without: {ratio:.3f}x "
        f"(goal >= 0.95x: {'met' if ratio >= 0.95 else 'NOT met'})"
    )
    print(f"wall time {doc['wall_s']:.0f} s, load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
