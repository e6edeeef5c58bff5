#!/usr/bin/env python
"""Large pretrained models: AI Mass Lab side by side with plain Transformers peers, in one run.

The models are built from config by ``aimass_lab.models.create_pretrained`` (random weights,
nothing downloads): ``--size base`` is a BERT-base-shaped encoder (12 layers x 768; its
WordPiece vocabulary is trained on the built-in reviews, so it has ~86M parameters instead of
BERT-base's 110M: the 30,522-token embedding table is what is missing) and a ViT-S/16-shaped
image model (12 layers x 384, 224 px, ~22M); ``--size small``/``tiny`` are for quick looks.

Sections (``--sections``, default all):

``finetune``  ``--steps`` training steps (default 30) at sequence length ``--seq`` (128; every
              generated text is longer, so every batch is full length) and batch ``--batch``:
              samples/s and peak memory of
              (a) ``aimass``: ``aimass_lab.train`` with a ``family="pretrained"`` ModelSpec,
                  full fine-tuning, as the detached job it always is;
              (b) ``lightning``: a plain ``LightningModule`` over
                  ``AutoModelForSequenceClassification`` (``ViTForImageClassification`` for
                  images) and the same data, tokenized with the same ``tokenizer.json``
                  (images: the same files decoded with Pillow);
              (c) ``aimass-lora``: (a) with ``finetune="lora"``, ``lora_rank=8`` (and
                  ``gradient_checkpointing=True`` with ``--lora-checkpointing``).
              Goals: (a) >= 0.95x (b) samples/s and <= 1.1x (b) peak memory; (c) <= 0.6x
              (a) peak memory. ``--kinds text,image`` (images: ``--image-rows`` generated
              JPEGs in 10 class folders).
``serve``     the text model (fine-tuned ``--serve-steps`` steps) at concurrency ``--concurrency``
              (16), raw text in: one generated review per request, ``{"inputs": [text]}`` to
              ``/v1/models/bench/predict`` (aimass's JSON route; the peers take the same body),
              ``--duration`` seconds per peer, closed-loop ``httpx`` clients: (a) ``aimass``:
              the int8 ONNX child version made by ``aimass_lab.compress(mv,
              [--int8-method])`` (default ``quantize:int8-dynamic:optimize``: ONNX Runtime's
              transformer fusions, then int8) and served by ``aimass_lab.deploy(...,
              engine="onnxruntime")``, which tokenizes in the worker with the version's own
              tokenizer; (b) ``pipeline``: Transformers ``pipeline("text-classification")``
              behind a plain FastAPI app; (c) ``ort-fastapi``: an ONNX Runtime session of
              the same int8 ONNX file behind FastAPI, with the same ``tokenizer.json``
              (padding to ``max_length``). Every server runs ``--threads`` threads (the
              FastAPI peers run requests in FastAPI's thread pool, so in parallel); aimass
              runs ``--replicas`` engine workers (default 1). Goals: (a) >= 2x (b) and
              >= 1.2x (c) requests/s, p99 not worse than the better peer's.
``int8``      a text model (``--int8-size``, default ``small``: a base model fine-tuned until it
              is worth measuring takes too long on two cores) fine-tuned on the built-in
              ``reviews`` (``--int8-rows``, ``--int8-epochs``), then
              ``aimass_lab.export_onnx(mv, optimize=...)`` (fp32) and
              ``aimass_lab.compress(mv, [--int8-method])`` (int8): ONNX file size int8 / fp32
              (goal <= 0.3x) and argmax agreement with fp32 on the whole held-out (test) split
              (goal >= 99%).

Method: every training peer runs in a fresh child process (peers alternate, ``--repeats``,
medians reported). Throughput is measured from the end of the first step to the end of the
last one: (b) times ``on_train_batch_end`` itself; (a) and (c) use the store timestamps of the
job's ``train_loss`` rows (its ``MetricsRecorder`` flushes them at the end of a step once a
second has passed, so with steps longer than a second every row is written as its step ends).
Peak memory is the peak RSS (the kernel's ``VmHWM``, read every 100 ms; see ``PeakMemory``)
of (b)'s own process and of (a)/(c)'s job process (its pid from the store), plus the RSS of
their DataLoader workers (``--workers``, default 0 for every peer); for the job, its peak
while training (up to its last step) and over the whole job (``test`` and writing the model
included). Threads: ``--threads`` (default 1) torch/OMP
threads for every peer; the job inherits ``OMP_NUM_THREADS``.

Run::

    .venv/bin/python benchmarks/large_models.py                              # everything (long)
    .venv/bin/python benchmarks/large_models.py --sections finetune --steps 30 --batch 8
    .venv/bin/python benchmarks/large_models.py --size tiny --steps 3        # smoke run

The serving peers need FastAPI (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
LR = 5e-5


# ----------------------------------------------------------------------------- data makers
def make_long_text(path: Path, rows: int) -> Path:
    """``rows`` generated reviews of 150-250 words (longer than 128 tokens) with a label."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from data_scale import _WORDS

    if path.exists():
        return path
    rng = np.random.default_rng(0)
    words = np.asarray(_WORDS)
    texts = [" ".join(words[rng.integers(0, len(words), k)]) for k in rng.integers(150, 250, rows)]
    labels = [int(t.split().count("good") > t.split().count("bad")) for t in texts]
    tmp = path.with_suffix(".tmp")
    pq.write_table(pa.table({"text": texts, "label": labels}), tmp)
    tmp.rename(path)
    return path


def make_models(root: Path, size: str, seq: int, kinds: list[str]) -> dict[str, str]:
    """The pretrained folders (kept between runs under ``root``); ``seq``: the text model's
    sequence length, the image model's side in px."""
    from aimass_lab.models import create_pretrained

    out: dict[str, str] = {}
    for kind in kinds:
        folder = root / f"{kind}-{size}-{seq}"
        if not (folder / "config.json").exists():
            options = {"max_length": seq} if kind == "text" else {"image_size": seq}
            create_pretrained(folder, kind, size, **options)
        out[kind] = str(folder)
    return out


# ------------------------------------------------------------------------------- memory
class PeakMemory:
    """Peak RSS of one process (plus its children's RSS), sampled every 100 ms.

    ``pid`` is a pid or a callable returning one (``None`` while not known yet). Each sample
    is ``(time, peak, now)`` from ``/proc/PID/status``: ``VmHWM`` (the kernel's own high-water
    mark of the process's RSS, so no peak between samples is missed) and ``VmRSS``, each plus
    the current RSS of its children (DataLoader workers; their list is refreshed every
    second). ``/proc/PID/status`` costs next to nothing to read; PSS (``smaps_rollup``) walks
    every page of a 3 GB process and, every 100 ms, took a fifth of a core from the peer being
    measured on this two-core machine.
    """

    def __init__(self, pid: Any, every: float = 0.1) -> None:
        self._pid = pid
        self.every = every
        self.samples: list[tuple[float, int, int]] = []
        self._children: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _status(pid: int) -> tuple[int, int]:
        hwm = rss = 0
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                elif line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        return hwm, rss

    def _sample(self, tick: int) -> None:
        import psutil

        pid = self._pid() if callable(self._pid) else self._pid
        if pid is None:
            return
        try:
            hwm, rss = self._status(pid)
            if tick % 10 == 0:
                self._children = [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except (OSError, psutil.Error):  # the process has exited
            return
        extra = 0
        for child in self._children:
            try:
                extra += self._status(child)[1]
            except OSError:  # a worker that just exited
                continue
        self.samples.append((time.time(), hwm + extra, rss + extra))

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self.every):
            self._sample(tick)
            tick += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, until: float | None = None) -> float:
        """The peak RSS in MB, of the samples taken up to ``until`` (default: all)."""
        chosen = [s for s in self.samples if until is None or s[0] <= until] or self.samples
        return max((s[1] for s in chosen), default=0) / 2**20


def _rate(ends: list[tuple[int, float]], batch: int) -> float:
    """Samples/s between the first and the last (step, end time) pair (the first step is
    warm-up: its end starts the clock)."""
    (s0, t0), (s1, t1) = ends[0], ends[-1]
    return (s1 - s0) * batch / (t1 - t0) if t1 > t0 and s1 > s0 else 0.0


# ------------------------------------------------------------------------ finetune peers
def _data_spec(kind: str, data_path: str, seq: int, workers: int) -> dict[str, Any]:
    split = {"val": 0.0, "test": 0.0}
    if kind == "text":
        return {
            "source": "parquet",
            "path": data_path,
            "text": "text",
            "target": "label",
            "task": "classification",
            "tokenizer": {"max_length": seq},
            "split": split,
            "loader": {"num_workers": workers},
        }
    return {
        "source": "image_folder",
        "path": data_path,
        "image_size": seq,
        "split": split,
        "loader": {"num_workers": workers},
    }


def peer_aimass(
    kind: str, folder: str, data_path: str, finetune: str, steps: int, batch: int, seq: int,
    workers: int, home: str, checkpointing: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """(a)/(c): ``aimass_lab.train`` as a detached job; its pid's memory, its rows' times."""
    os.environ["AIMASS_HOME"] = home
    from sqlalchemy import select

    import aimass_lab as am
    from aimass_lab.workspace import MetricRow, Workspace

    ws = Workspace(home)
    hparams: dict[str, Any] = {"finetune": finetune}
    if finetune == "lora":
        hparams.update(lora_rank=8)
    if checkpointing:
        hparams.update(gradient_checkpointing=True)
    t0 = time.time()
    run = am.train(
        _data_spec(kind, data_path, seq, workers),
        {"family": "pretrained", "path": folder, "hparams": hparams},
        max_epochs=1, limit_train_batches=steps, batch_size=batch, lr=LR, workspace=ws,
    )  # fmt: skip
    known: list[int] = []

    def job_pid() -> int | None:  # one store query until the job has started, then none
        if not known and (pid := ws.jobs.get(run.id).pid) is not None:
            known.append(pid)
        return known[0] if known else None

    meter = PeakMemory(job_pid)
    run.wait()
    meter.stop()
    job = ws.jobs.get(run.id)
    if job.state != "succeeded":
        raise RuntimeError(f"job {run.id} {job.state}: {ws.jobs.logs(run.id, tail=30)}")
    with ws.store.session() as s:
        rows = s.execute(
            select(MetricRow.step, MetricRow.ts)
            .where(MetricRow.job_id == run.id, MetricRow.name == "train_loss")
            .order_by(MetricRow.id)
        ).all()
    ends: dict[float, int] = {}
    for step, ts in rows:  # one flush = one ts: the end of its last step
        ends[ts.timestamp()] = max(ends.get(ts.timestamp(), 0), int(step))
    pairs = sorted((step, t) for t, step in ends.items())
    return {
        "samples_per_s": _rate(pairs, batch),
        "steps": pairs[-1][0],
        "peak_mb": meter.peak(until=pairs[-1][1]),
        "job_peak_mb": meter.peak(),
        "wall_s": time.time() - t0,
        "flushes": len(pairs),
    }


def _text_tensors(folder: str, data_path: str, seq: int, rows: int) -> Any:
    import pyarrow.parquet as pq
    import torch
    from tokenizers import Tokenizer

    table = pq.read_table(data_path).slice(0, rows)
    tok = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tok.enable_truncation(seq)
    pad = tok.token_to_id("[PAD]")
    tok.enable_padding(pad_id=pad, pad_token="[PAD]", length=seq)
    enc = tok.encode_batch(table.column("text").to_pylist())
    ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.long)
    labels = torch.tensor(table.column("label").to_pylist(), dtype=torch.long)
    return torch.utils.data.TensorDataset(ids, mask, labels)


def peer_lightning(
    kind: str, folder: str, data_path: str, steps: int, batch: int, seq: int, workers: int
) -> dict[str, Any]:
    """(b): a plain LightningModule over the Transformers model, timed by a callback."""
    meter = PeakMemory(os.getpid())
    t0 = time.time()
    import lightning.pytorch as pl
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    if kind == "text":
        model: Any = transformers.AutoModelForSequenceClassification.from_pretrained(
            folder, num_labels=2
        )
        dataset = _text_tensors(folder, data_path, seq, steps * batch)
    else:
        from data_scale import PillowFolder

        model = transformers.ViTForImageClassification.from_pretrained(
            folder, num_labels=10, ignore_mismatched_sizes=True
        )
        dataset = PillowFolder(data_path, seq)
    model.train()  # from_pretrained gives eval mode (no dropout); aimass trains in train mode

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if kind == "text":
                ids, mask, y = batch
                logits = self.model(input_ids=ids, attention_mask=mask).logits
            else:
                x, y = batch
                logits = self.model(pixel_values=x).logits
            return torch.nn.functional.cross_entropy(logits, y)

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=LR)

    ends: list[tuple[int, float]] = []

    class Clock(pl.Callback):
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            ends.append((trainer.global_step, time.time()))

    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=steps, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, deterministic=True,
        accelerator="cpu", devices=1, callbacks=[Clock()],
    )  # fmt: skip
    trainer.fit(Module(), loader)
    meter.stop()
    return {
        "samples_per_s": _rate(ends, batch),
        "steps": ends[-1][0],
        "peak_mb": meter.peak(),
        "job_peak_mb": meter.peak(),
        "wall_s": time.time() - t0,
        "flushes": len(ends),
    }


# ----------------------------------------------------------------------------- orchestration
def _child(peer: str, threads: int, **kwargs: Any) -> dict[str, Any]:
    """Run ``peer(**kwargs)`` of this module in a fresh interpreter; its JSON result."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import large_models as b; "
        "import torch; torch.set_num_threads(int(sys.argv[3])); "
        f"print('RESULT' + json.dumps(b.{peer}(**json.loads(sys.argv[2]))))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    env.pop("AIMASS_DB_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code, str(HERE), json.dumps(kwargs), str(threads)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{peer}{kwargs} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return dict(json.loads(lines[-1][6:]))


def _median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def section_finetune(args: argparse.Namespace, tmp: Path, kind: str) -> dict[str, Any]:
    """The three training peers of one model kind, interleaved; the table and the ratios.

    ``seq`` is the sequence length of a text model and the image side (px) of an image one.
    """
    px = args.image_size
    folder = make_models(Path(args.data), args.size, args.seq if kind == "text" else px, [kind])[
        kind
    ]
    if kind == "text":
        rows = max(args.steps * args.batch, 64)
        data_path = str(make_long_text(Path(args.data) / f"long-text-{rows}.parquet", rows))
    else:
        from data_scale import make_images

        data_path = str(
            make_images(Path(args.data) / f"images{px}-{args.image_rows}", args.image_rows, px)
        )
    common = {"kind": kind, "folder": folder, "data_path": data_path, "steps": args.steps,
              "batch": args.batch, "seq": args.seq if kind == "text" else px,
              "workers": args.workers}  # fmt: skip
    peers_all = ("aimass", "lightning", "aimass-lora")
    peers = [p for p in peers_all if p in args.peers.split(",")]
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in peers}
    for r in range(args.repeats):
        for peer in peers[r % 3 :] + peers[: r % 3]:
            log(f"  {kind} {peer} (repeat {r + 1}/{args.repeats})")
            if peer == "lightning":
                res = _child("peer_lightning", args.threads, **common)
            else:
                home = str(tmp / f"ws-{peer}-{kind}-{r}")
                finetune = "lora" if peer == "aimass-lora" else "full"
                gc = args.lora_checkpointing and finetune == "lora"
                res = _child("peer_aimass", args.threads, finetune=finetune, home=home,
                             checkpointing=gc, **common)  # fmt: skip
            log(f"    {res}")
            runs[peer].append(res)
    med = {p: {k: _median(v, k) for k in v[0]} for p, v in runs.items()}
    nothing = {"samples_per_s": 0.0, "peak_mb": 0.0}
    full, plain, low = (med.get(p, nothing) for p in peers_all)
    speed = full["samples_per_s"] / plain["samples_per_s"] if plain["samples_per_s"] else 0.0
    memory = full["peak_mb"] / plain["peak_mb"] if plain["peak_mb"] else 0.0
    lora = low["peak_mb"] / full["peak_mb"] if full["peak_mb"] else 0.0
    print(f"\n## finetune, {kind} ({args.size}), {args.steps} steps x batch {args.batch}"
          + (f", sequence length {args.seq}" if kind == "text" else f", {px} px"))  # fmt: skip
    print(
        f"{'peer':12} {'samples/s':>10} {'peak RSS MB':>12} {'job peak RSS MB':>16} {'wall s':>7}"
    )
    for name, m in med.items():
        print(f"{name:12} {m['samples_per_s']:10.2f} {m['peak_mb']:12.0f} {m['job_peak_mb']:16.0f} "
              f"{m['wall_s']:7.1f}")  # fmt: skip
    gc = " with gradient_checkpointing" if args.lora_checkpointing else ""
    goals = [
        _goal("throughput aimass / lightning", speed, 0.95, higher=True),
        _goal("peak memory aimass / lightning (training)", memory, 1.1, higher=False),
        _goal(f"peak memory aimass LoRA{gc} / full (training)", lora, 0.6, higher=False),
    ]
    return {"section": f"finetune-{kind}", "runs": runs, "median": med, "goals": goals}


def _goal(name: str, value: float | None, target: float, higher: bool) -> dict[str, Any]:
    value = value or None  # 0: not measured (a smoke run's steps all end in one flush)
    met = None if value is None else (value >= target if higher else value <= target)
    verdict = {True: "met", False: "MISSED", None: "n/a"}[met]
    shown = "n/a" if value is None else f"{value:.4f}x"
    print(f"- {name}: {shown} (goal {'>=' if higher else '<='} {target}x) {verdict}")
    return {"goal": name, "value": value, "target": target, "met": met}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((li.split(":", 1)[1].strip() for li in out.splitlines()
                      if li.startswith("Model name")), "")  # fmt: skip
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for dist in ("torch", "transformers", "lightning", "peft", "onnxruntime", "fastapi"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"cpu": model, "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average": list(os.getloadavg()), **versions}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", default="finetune,serve,int8")
    parser.add_argument("--kinds", default="text,image", help="finetune: text, image or both")
    parser.add_argument("--size", default="base", choices=["tiny", "small", "base"])
    parser.add_argument("--steps", type=int, default=30, help="finetune: training steps")
    parser.add_argument("--batch", type=int, default=8, help="finetune: batch size")
    parser.add_argument("--seq", type=int, default=128, help="sequence length")
    parser.add_argument("--threads", type=int, default=1, help="torch/OMP threads per peer")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers per peer")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--peers", default="aimass,lightning,aimass-lora", help="finetune peers")
    parser.add_argument("--lora-checkpointing", action="store_true",
                        help="finetune: the LoRA peer with gradient_checkpointing=True")  # fmt: skip
    parser.add_argument("--image-rows", type=int, help="finetune: images made (400; tiny: 64)")
    parser.add_argument("--image-size", type=int, help="finetune: image side px (224; tiny: 32)")
    parser.add_argument("--concurrency", type=int, default=16, help="serve: clients")
    parser.add_argument("--duration", type=float, help="serve: seconds per peer (30; tiny: 3)")
    parser.add_argument("--replicas", type=int, default=1, help="serve: aimass engine workers")
    parser.add_argument("--serve-steps", type=int, default=2, help="serve: fine-tuning steps")
    parser.add_argument("--int8-size", choices=["tiny", "small", "base"],
                        help="int8: the model fine-tuned on reviews (small; tiny: tiny)")  # fmt: skip
    parser.add_argument("--int8-method", default="quantize:int8-dynamic:optimize",
                        help="int8 and serve: the compress method making the int8 version")  # fmt: skip
    parser.add_argument("--int8-epochs", type=int, help="int8: epochs (3; tiny: 1)")
    parser.add_argument("--int8-rows", type=int, help="int8: reviews rows (2000; tiny: 400)")
    parser.add_argument(
        "--data", default=os.path.join(tempfile.gettempdir(), "aimass-bench-large"),
        help="kept between runs: generated models and data",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tiny = args.size == "tiny"  # a smoke run: every section small
    for name, full, small in (("duration", 30.0, 3.0), ("int8_size", "small", "tiny"),
                              ("int8_epochs", 3, 1), ("int8_rows", 2000, 400),
                              ("image_rows", 400, 64), ("image_size", 224, 32)):  # fmt: skip
        if getattr(args, name) is None:
            setattr(args, name, small if tiny else full)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(HERE))
    Path(args.data).mkdir(parents=True, exist_ok=True)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    info = machine()
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    print(f"settings: size={args.size} steps={args.steps} batch={args.batch} seq={args.seq} "
          f"threads={args.threads} workers={args.workers} repeats={args.repeats} "
          f"concurrency={args.concurrency} duration={args.duration} int8_size={args.int8_size} "
          f"int8_epochs={args.int8_epochs} int8_rows={args.int8_rows}")  # fmt: skip
    report: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="aimass-bench-large-") as tmp:
        if "finetune" in sections:
            for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
                report.append(section_finetune(args, Path(tmp), kind))
        if "serve" in sections or "int8" in sections:
            import large_models_serve as serving

            if "int8" in sections:
                report.append(serving.section_int8(args, Path(tmp)))
            if "serve" in sections:
                report.append(serving.section_serve(args, Path(tmp)))
    info["load_average_end"] = list(os.getloadavg())
    print(f"\nload average at the end: {info['load_average_end']}")
    if args.json:
        print(json.dumps({"machine": info, "report": report}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
