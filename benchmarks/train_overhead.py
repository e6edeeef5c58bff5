#!/usr/bin/env python
"""Per-epoch training overhead of AI Mass Lab, side by side with its peers in one run.

On the ``digits`` dataset (the same split and preprocessed arrays for every peer), for the
zoo MLP (64 tabular features) and the zoo CNN (``as_images=True``, 1x8x8), it times:

(a) ``raw``       a hand-written PyTorch loop: the same network (``build_network``), Adam with
                  the same lr, the same batch size, a ``DataLoader`` shuffled by a generator
                  seeded like the DataModule's, and a validation pass each epoch (loss, accuracy);
(b) ``lightning`` plain ``Trainer.fit`` of the same ``TaskModule`` and DataModule, no aimass
                  callbacks (no logger, no checkpointing, no progress bar);
(c) ``+metrics``  (b) plus aimass's ``MetricsRecorder`` writing to a real SQLite workspace;
(d) ``in-proc``   ``aimass_lab.train(dataset, network, wait=True)`` with a network object,
                  which trains in this process (the notebook path);
(e) ``detached``  ``aimass_lab.train(dataset, "mlp"|"cnn", wait=True)``: the normal path, a
                  detached job process.

and, unless ``--no-breakdown``, two diagnostic peers that add one piece of what aimass's
Trainer carries to (b): ``L+tensorboard`` (TensorBoardLogger, log_every_n_steps=50) and
``L+checkpoint`` (ModelCheckpoint writing last.ckpt each epoch with aimass's fsync'ing
AtomicCheckpointIO — what ``checkpoint_interval_s=0`` does; the default writes at most every
10 s).

How an epoch is timed
---------------------
Per-epoch time is the interval between consecutive *epoch ends* (after validation, so an
epoch includes its validation pass and every epoch-end hook). For (a) the loop takes
``time.perf_counter()`` after validation; for (b), (c) and the diagnostic peers a one-line
callback takes it in ``on_train_epoch_end``; for (d) and (e), which this script cannot hand
a callback, the times are the ``ts`` column of the ``train_loss_epoch`` rows that the job's
own ``MetricsRecorder`` writes in ``on_train_epoch_end`` (microsecond timestamps in the
store). Interpreter start, imports, data loading, Trainer setup, the sanity check, ``test``
and writing the model are therefore outside every measurement. The first epoch (warm-up) is
dropped: a run of N epochs gives N-1 intervals, and a peer's time is the median interval;
with ``--repeats R`` the peers run interleaved R times (the order rotates each repeat) and
the table shows the median of the R medians, with their min-max spread. The same is done
with this process's CPU time (``time.process_time()``, at the same points; for (d) through
a wrapper around the workspace's ``log_metrics``, which the job's MetricsRecorder calls at
each epoch end): CPU time is less disturbed by other load on the machine, but does not see
time spent waiting (fsync, a blocked logger flush), and the detached job has none.

Threads: ``OMP_NUM_THREADS=MKL_NUM_THREADS=1`` is set before torch is imported (so the
detached job inherits it) and ``torch.set_num_threads(1)`` here; all peers run with
``torch.use_deterministic_algorithms(True)`` (aimass's default ``deterministic=True``).

Run::

    .venv/bin/python benchmarks/train_overhead.py [--epochs N] [--repeats R] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("PL_DISABLE_FORK", "1")

import argparse
import contextlib
import itertools
import json
import logging
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightning
import lightning.pytorch as pl
import torch
from sqlalchemy import select
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import aimass_lab
from aimass_lab import data as data_stage
from aimass_lab.models import TaskModule, build_network
from aimass_lab.specs import ModelSpec
from aimass_lab.train._callbacks import AtomicCheckpointIO, MetricsRecorder
from aimass_lab.workspace import MetricRow, Workspace

SEED = 0
LR = 1e-3
BATCH_SIZE = 64
GOAL_AIMASS = 1.03  # aimass per epoch <= 1.03x plain Lightning
GOAL_METRICS = 1.02  # metrics recording adds <= 2%

MODELS: dict[str, dict[str, Any]] = {
    "mlp": {"family": "mlp", "data": {"source": "builtin", "name": "digits"}},
    "cnn": {"family": "cnn", "data": {"source": "builtin", "name": "digits", "as_images": True}},
}


@dataclass
class Result:
    """What one peer run gives: epoch-end times (seconds) and final losses."""

    ends: list[float]
    train_loss: float | None = None
    val_loss: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    cpu_ends: list[float] | None = None

    @property
    def per_epoch_s(self) -> float:
        return _median_gap(self.ends)

    @property
    def cpu_per_epoch_s(self) -> float | None:
        return _median_gap(self.cpu_ends) if self.cpu_ends else None


def _median_gap(ends: list[float]) -> float:
    """The median interval between consecutive epoch ends (the first epoch is not one)."""
    return statistics.median(b - a for a, b in itertools.pairwise(ends))


def _quiet() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


class EpochEnds(pl.Callback):
    """Record wall and process CPU time at every training-epoch end (after validation)."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.cpu_ends: list[float] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.ends.append(time.perf_counter())
        self.cpu_ends.append(time.process_time())


# ------------------------------------------------------------------------------------ peers
def _network(ds: Any, family: str) -> torch.nn.Module:
    pl.seed_everything(SEED, workers=True, verbose=False)
    return build_network(ModelSpec(family=family), tuple(ds.input_shape), int(ds.output_dim))


def peer_raw(ds: Any, family: str, epochs: int, ws: Workspace) -> Result:
    net = _network(ds, family)
    opt = torch.optim.Adam(net.parameters(), lr=LR)

    def tensors(X: Any, y: Any) -> TensorDataset:
        return TensorDataset(torch.from_numpy(X), torch.from_numpy(y))

    train = DataLoader(
        tensors(ds.X_train, ds.y_train),
        batch_size=BATCH_SIZE,
        shuffle=True,
        generator=torch.Generator().manual_seed(SEED),
    )
    val = DataLoader(tensors(ds.X_val, ds.y_val), batch_size=BATCH_SIZE)
    ends: list[float] = []
    cpu_ends: list[float] = []
    train_loss = val_loss = 0.0
    for _ in range(epochs):
        net.train()
        total, n = torch.zeros(()), 0
        for x, y in train:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            total += loss.detach() * len(y)
            n += len(y)
        train_loss = float(total) / n
        net.eval()
        vtotal, vn, correct = torch.zeros(()), 0, 0
        with torch.no_grad():
            for x, y in val:
                out = net(x)
                vtotal += F.cross_entropy(out, y) * len(y)
                correct += int((out.argmax(-1) == y).sum())
                vn += len(y)
        val_loss = float(vtotal) / vn
        ends.append(time.perf_counter())
        cpu_ends.append(time.process_time())
    return Result(ends, train_loss, val_loss, {"val_acc": correct / vn}, cpu_ends)


def _module(ds: Any, family: str) -> TaskModule:
    return TaskModule(
        _network(ds, family),
        task="classification",
        output_dim=int(ds.output_dim),
        lr=LR,
        weight_decay=0.0,
        optimizer="adam",
        target_stats=ds.target_stats,
    )


def _fit(
    ds: Any,
    family: str,
    epochs: int,
    callbacks: list[pl.Callback],
    **trainer_kw: Any,
) -> Result:
    module = _module(ds, family)
    timer = EpochEnds()
    kw: dict[str, Any] = {
        "logger": False,
        "enable_checkpointing": False,
        **trainer_kw,
    }
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        deterministic=True,
        callbacks=[timer, *callbacks],
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )
    trainer.fit(module, datamodule=ds.datamodule(batch_size=BATCH_SIZE, seed=SEED))
    m = trainer.callback_metrics
    return Result(
        timer.ends, float(m["train_loss_epoch"]), float(m["val_loss"]), cpu_ends=timer.cpu_ends
    )


def peer_lightning(ds: Any, family: str, epochs: int, ws: Workspace) -> Result:
    return _fit(ds, family, epochs, [])


def peer_metrics(ds: Any, family: str, epochs: int, ws: Workspace) -> Result:
    job = ws.jobs.create("train", {"benchmark": "metrics-recorder"}, name="bench-recorder")
    result = _fit(ds, family, epochs, [MetricsRecorder(ws, job.id)])
    result.extra["store_per_epoch_s"] = Result(_store_epoch_ends(ws, job.id)).per_epoch_s
    return result


def peer_tensorboard(ds: Any, family: str, epochs: int, ws: Workspace) -> Result:
    from lightning.pytorch.loggers import TensorBoardLogger

    folder = tempfile.mkdtemp(prefix="tb-", dir=ws.path)
    return _fit(
        ds,
        family,
        epochs,
        [],
        logger=TensorBoardLogger(folder, name="tensorboard", version="", default_hp_metric=False),
        log_every_n_steps=50,  # as aimass_lab.train configures it
    )


def peer_checkpoint(ds: Any, family: str, epochs: int, ws: Workspace) -> Result:
    from lightning.pytorch.callbacks import ModelCheckpoint

    folder = tempfile.mkdtemp(prefix="ckpt-", dir=ws.path)
    ckpt = ModelCheckpoint(  # every epoch: what aimass_lab.train does with checkpoint_interval_s=0
        dirpath=folder, filename="last", save_top_k=1, enable_version_counter=False
    )
    return _fit(
        ds,
        family,
        epochs,
        [ckpt],
        enable_checkpointing=True,
        plugins=[AtomicCheckpointIO()],
    )


def _store_epoch_ends(ws: Workspace, job_id: str) -> list[float]:
    """Epoch-end times (s) from the ``ts`` of the job's ``train_loss_epoch`` metric rows.

    MetricsRecorder writes two ``train_loss_epoch`` rows per epoch (see BENCHMARKS.md), so
    the first row of each epoch is taken.
    """
    with ws.store.session() as s:
        rows = s.execute(
            select(MetricRow.epoch, MetricRow.ts)
            .where(MetricRow.job_id == job_id, MetricRow.name == "train_loss_epoch")
            .order_by(MetricRow.id)
        ).all()
    first: dict[int, float] = {}
    for epoch, ts in rows:
        first.setdefault(int(epoch or 0), ts.timestamp())
    return [first[e] for e in sorted(first)]


def _job_result(ws: Workspace, run: Any) -> Result:
    job = ws.jobs.get(run.id)
    if job.state != "succeeded":
        log = ws.jobs.logs(run.id, tail=30)
        raise RuntimeError(f"job {run.id} ended {job.state}: {job.exit_reason}\n{log}")
    last = ws.last_metrics(run.id)
    return Result(
        _store_epoch_ends(ws, run.id),
        last.get("train_loss_epoch"),
        last.get("val_loss"),
        {"job": run.id},
    )


def peer_in_process(ds: Any, family: str, epochs: int, ws: Workspace) -> Result:
    net = _network(ds, family)
    # CPU clock: the job's MetricsRecorder writes through this very Workspace object, so a
    # wrapper around its log_metrics sees each epoch end (the call with train_loss_epoch).
    cpu_ends: list[float] = []
    log_metrics = ws.log_metrics

    def timed_log_metrics(job_id: str, rows: Any) -> int:
        rows = list(rows)
        if any(row[0] == "train_loss_epoch" for row in rows):
            cpu_ends.append(time.process_time())
        return log_metrics(job_id, rows)

    ws.log_metrics = timed_log_metrics  # type: ignore[method-assign]
    try:
        run = aimass_lab.train(
            ds,
            net,
            max_epochs=epochs,
            batch_size=BATCH_SIZE,
            lr=LR,
            seed=SEED,
            accelerator="cpu",
            devices=1,
            wait=True,
            workspace=ws,
        )
    finally:
        del ws.log_metrics
    result = _job_result(ws, run)
    result.cpu_ends = cpu_ends
    return result


def peer_detached(ds: Any, family: str, epochs: int, ws: Workspace) -> Result:
    run = aimass_lab.train(
        ds,
        family,
        max_epochs=epochs,
        batch_size=BATCH_SIZE,
        lr=LR,
        seed=SEED,
        accelerator="cpu",
        devices=1,
        wait=True,
        workspace=ws,
    )
    return _job_result(ws, run)


PEERS: dict[str, tuple[str, Callable[..., Result]]] = {
    "raw": ("(a) raw PyTorch loop", peer_raw),
    "lightning": ("(b) plain Lightning", peer_lightning),
    "metrics": ("(c) Lightning + MetricsRecorder", peer_metrics),
    "in_process": ("(d) aimass train, in-process", peer_in_process),
    "detached": ("(e) aimass train, detached job", peer_detached),
    "tensorboard": ("    diag: Lightning + TensorBoard", peer_tensorboard),
    "checkpoint": ("    diag: Lightning + ModelCheckpoint", peer_checkpoint),
}
SAME_COMPUTATION = ("lightning", "metrics", "in_process", "detached")


# ----------------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "aimass_lab": aimass_lab.__version__,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "").split()
        info["simd"] = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags]
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        info["ram_gib"] = round(kb / 2**20, 1)
    except OSError:
        info["cpu"] = platform.processor()
    return info


def summarize(samples: dict[str, list[Result]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for peer, results in samples.items():
        per = [r.per_epoch_s * 1e3 for r in results]
        last = results[-1]
        cpu = [r.cpu_per_epoch_s * 1e3 for r in results if r.cpu_per_epoch_s is not None]
        out[peer] = {
            "per_epoch_ms": statistics.median(per),
            "repeat_ms": per,
            "best_ms": min(per),
            "cpu_per_epoch_ms": statistics.median(cpu) if cpu else None,
            "cpu_repeat_ms": cpu,
            "call_s": statistics.median(r.extra["call_s"] for r in results),
            "train_loss": last.train_loss,
            "val_loss": last.val_loss,
            **{k: v for k, v in last.extra.items() if k not in ("job", "call_s")},
        }
        if "store_per_epoch_s" in last.extra:
            out[peer]["store_per_epoch_ms"] = statistics.median(
                r.extra["store_per_epoch_s"] * 1e3 for r in results
            )
            out[peer].pop("store_per_epoch_s", None)
    base = out["lightning"]
    raw = out.get("raw")
    for row in out.values():
        row["vs_lightning"] = row["per_epoch_ms"] / base["per_epoch_ms"]
        row["best_vs_lightning"] = row["best_ms"] / base["best_ms"]
        row["vs_raw"] = row["per_epoch_ms"] / raw["per_epoch_ms"] if raw else None
        row["cpu_vs_lightning"] = (
            row["cpu_per_epoch_ms"] / base["cpu_per_epoch_ms"]
            if row["cpu_per_epoch_ms"] and base["cpu_per_epoch_ms"]
            else None
        )
    return out


def losses_check(summary: dict[str, Any]) -> dict[str, Any]:
    ref = summary["lightning"]
    out: dict[str, Any] = {}
    for peer in (*SAME_COMPUTATION, "raw"):
        if peer not in summary or peer == "lightning":
            continue
        row = summary[peer]
        same = all(
            row[k] is not None and round(row[k], 5) == round(ref[k], 5)
            for k in ("train_loss", "val_loss")
        )
        out[peer] = "match" if same else "MISMATCH"
    return out


def print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(
        f"\nMachine: {m.get('cpu')}, {m['cpus']} CPUs, SIMD {'/'.join(m.get('simd', [])) or '-'}, "
        f"{m.get('ram_gib')} GiB RAM; Python {m['python']}, torch {m['torch']}, "
        f"lightning {m['lightning']}, aimass_lab {m['aimass_lab']}; torch threads {m['torch_threads']}"
    )
    cfg = report["config"]
    print(
        f"digits, batch {cfg['batch_size']}, Adam lr {cfg['lr']}, seed {cfg['seed']}, "
        f"{cfg['epochs']} epochs x {cfg['repeats']} interleaved repeats, 1 thread, deterministic."
    )
    print(
        "wall = median over repeats of the median epoch-end-to-epoch-end interval (epochs 2..N,\n"
        "  validation included) [min-max over repeats]; cpu = the same with this process's CPU\n"
        "  time (less sensitive to other load; not available for the detached job); vs L = wall\n"
        "  ratio to (b), cpu vs L = CPU ratio to (b). (d) and (e) wall times come from the job's\n"
        "  own train_loss_epoch timestamps in the store, so process start, imports, data loading,\n"
        "  setup and test are excluded ('call s' is the whole call with all of that)."
    )
    print(
        f"Load average before/after: {report['loadavg_before']} / {report['loadavg_after']} "
        f"(other processes share these {m['cpus']} CPUs)"
    )
    verdicts = []
    for model, res in report["models"].items():
        s = res["summary"]
        print(f"\n== {model} {tuple(res['input_shape'])} (rows {res['sizes']}) ==")
        print(
            f"{'peer':40s} {'wall ms':>8s} {'[min-max]':>13s} {'vs L':>7s} {'vs raw':>7s} "
            f"{'cpu ms':>7s} {'cpu vs L':>8s} {'train_loss':>10s} {'val_loss':>9s} {'call s':>6s}  losses"
        )
        for peer, row in s.items():
            label = PEERS[peer][0]
            spread = f"[{min(row['repeat_ms']):.0f}-{max(row['repeat_ms']):.0f}]"
            vs_raw = f"{row['vs_raw']:.2f}x" if row["vs_raw"] else "-"
            cpu = f"{row['cpu_per_epoch_ms']:.1f}" if row["cpu_per_epoch_ms"] else "-"
            cpu_vs = f"{row['cpu_vs_lightning']:.3f}x" if row["cpu_vs_lightning"] else "-"
            check = res["loss_check"].get(peer, "reference" if peer == "lightning" else "")
            if peer == "raw" and check:
                check += " (info)"
            print(
                f"{label:40s} {row['per_epoch_ms']:8.1f} {spread:>13s} {row['vs_lightning']:6.3f}x "
                f"{vs_raw:>7s} {cpu:>7s} {cpu_vs:>8s} {row['train_loss']:10.6f} "
                f"{row['val_loss']:9.6f} {row['call_s']:6.1f}  {check}"
            )
        if "store_per_epoch_ms" in s.get("metrics", {}):
            print(
                f"  (c) timed from its store timestamps instead of the callback: "
                f"{s['metrics']['store_per_epoch_ms']:.1f} ms (checks the (d)/(e) method)"
            )
        for peer, goal, what in (
            ("metrics", GOAL_METRICS, "metrics recording adds <= 2%"),
            ("in_process", GOAL_AIMASS, "aimass in-process <= 1.03x Lightning"),
            ("detached", GOAL_AIMASS, "aimass detached <= 1.03x Lightning"),
        ):
            if peer not in s:
                continue
            row = s[peer]
            ratios = {"wall": row["vs_lightning"]}
            if row["cpu_vs_lightning"]:
                ratios["cpu"] = row["cpu_vs_lightning"]
            ok = all(r <= goal for r in ratios.values())
            verdicts.append(ok)
            shown = ", ".join(f"{k} {v:.3f}x" for k, v in ratios.items())
            print(f"  GOAL {what}: {shown} -> {'MET' if ok else 'MISSED'}")
    print(
        "\nVerdict: all goals met."
        if all(verdicts)
        else "\nVerdict: at least one goal MISSED (see above; BENCHMARKS.md has the analysis)."
    )


def loadavg() -> list[float]:
    """The 1/5/15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=12, help="epochs per run (>= 3)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp,cnn")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the diagnostic peers")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args(argv)
    if args.epochs < 3:
        parser.error("--epochs must be 3 or more (the first epoch is a warm-up)")

    _quiet()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    peers = [p for p in PEERS if not (args.no_breakdown and p in ("tensorboard", "checkpoint"))]
    root = tempfile.mkdtemp(prefix="aimass-bench-")
    ws = Workspace(root)
    report: dict[str, Any] = {
        "machine": machine(),
        "config": {
            "epochs": args.epochs,
            "repeats": args.repeats,
            "batch_size": BATCH_SIZE,
            "lr": LR,
            "seed": SEED,
            "threads": "OMP_NUM_THREADS=MKL_NUM_THREADS=1, torch.set_num_threads(1)",
            "deterministic": True,
            "command": " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]]),
        },
        "models": {},
        "loadavg_before": loadavg(),
    }
    try:
        datasets = {m: data_stage.load(MODELS[m]["data"]) for m in args.models.split(",")}
        samples: dict[str, dict[str, list[Result]]] = {m: {p: [] for p in peers} for m in datasets}
        t0 = time.perf_counter()
        for rep in range(args.repeats):
            order = peers[rep % len(peers) :] + peers[: rep % len(peers)]
            for model, ds in datasets.items():
                for peer in order:
                    started = time.perf_counter()
                    # the in-process job prints "[aimass] job ..." lines: keep stdout for results
                    with contextlib.redirect_stdout(sys.stderr):
                        result = PEERS[peer][1](ds, MODELS[model]["family"], args.epochs, ws)
                    result.extra["call_s"] = time.perf_counter() - started
                    samples[model][peer].append(result)
                    print(
                        f"[repeat {rep + 1}/{args.repeats}] {model:3s} {peer:11s} "
                        f"{result.per_epoch_s * 1e3:8.2f} ms/epoch  "
                        f"(call {time.perf_counter() - started:5.1f} s)",
                        file=sys.stderr,
                        flush=True,
                    )
        report["wall_s"] = round(time.perf_counter() - t0, 1)
        report["loadavg_after"] = loadavg()
        for model, ds in datasets.items():
            ordered = {p: samples[model][p] for p in peers}
            summary = summarize(ordered)
            report["models"][model] = {
                "sizes": ds.sizes,
                "input_shape": list(ds.input_shape),
                "summary": summary,
                "loss_check": losses_check(summary),
            }
    finally:
        if args.keep:
            print(f"workspace kept at {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
