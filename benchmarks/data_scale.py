#!/usr/bin/env python
"""Data at scale: AI Mass Lab's data paths side by side with plain hand-written peers.

Sections (``--sections``, default all):

``images64``   100,000 generated JPEG images (64x64, 10 classes). One epoch of the zoo CNN
               through (a) ``aimass``: ``aimass_lab.data.load`` of the image folder and its
               DataModule's training loader, (b) ``plain``: ``torchvision.datasets.ImageFolder``
               when torchvision imports, else the same thing written as a minimal lazy Pillow
               ``Dataset`` (open, RGB, resize, to tensor, normalise), with the same workers,
               batch size, shuffle and training loop. Goal: throughput >= 0.95x plain, peak
               RSS <= 1.2x plain and under 2 GB.
``images224``  the same with 20,000 images at 224x224.
``first_step`` time from nothing (a fresh process, ``import aimass_lab``) to the first training
               batch of the 100,000-image folder: cold (empty scan cache) and warm. Goal < 10 s.
``table``      a 5,000,000-row x 30-column Parquet file (float64, ~1.2 GB), one epoch of the
               zoo MLP: (a) aimass streamed (``streaming=True``) vs (b) a hand-written
               ``pyarrow`` ``iter_batches`` -> torch loop. Goal: peak RSS < 1.5 GB, throughput
               >= 0.9x the hand-written loop.
``text``       200,000 generated rows, a WordPiece tokenizer trained on the fly: tokenization
               throughput of aimass's text path vs calling the ``tokenizers`` batch encoder
               directly. Goal >= 0.9x.

Every peer runs in a fresh child process (so its peak RSS is its own: the sum of the RSS of
the process and its DataLoader workers, sampled every 20 ms with psutil), peers alternate
(``--repeats``), and the median is reported with the ratios. Threads: one torch thread for
the training loop (``torch.set_num_threads(1)``); ``--workers`` DataLoader workers (default:
what aimass's ``"auto"`` picks, ``min(4, CPUs - 1)``) for both peers. ``--steps N`` caps an
epoch at N batches (throughput is measured over the batches run; the data generated stays
the stated size).

Run::

    .venv/bin/python benchmarks/data_scale.py --data /tmp/aimass-bench   # everything
    .venv/bin/python benchmarks/data_scale.py --quick                    # small smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- data makers
def make_images(root: Path, n: int, size: int) -> Path:
    """``n`` JPEG images of ``size`` px in 10 class folders (kept between runs)."""
    import numpy as np
    from PIL import Image

    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (10, 8, 8, 3)).astype(np.uint8)
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        c = i % 10
        noise = rng.integers(0, 40, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(base[c] // 2 + noise).resize((size, size))
        image.save(root / f"class{c}" / f"{i:06d}.jpg", quality=85)
    done.write_text("")
    return root


def make_table(path: Path, rows: int, cols: int = 30) -> Path:
    """A Parquet file of ``rows`` x ``cols`` float64 features and an int target, in row groups."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    rng = np.random.default_rng(0)
    weights = rng.normal(size=cols)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, 250_000):
        n = min(250_000, rows - start)
        X = rng.normal(size=(n, cols))
        y = (X @ weights > 0).astype(np.int64)
        table = pa.table({**{f"f{j}": X[:, j] for j in range(cols)}, "y": y})
        writer = writer or pq.ParquetWriter(tmp, table.schema)
        writer.write_table(table, row_group_size=65_536)
    assert writer is not None
    writer.close()
    tmp.rename(path)
    return path


_WORDS = [
    "good",
    "great",
    "fine",
    "bad",
    "awful",
    "poor",
    "movie",
    "film",
    "plot",
    "actor",
    "story",
    "scene",
    "music",
    "long",
    "short",
    "boring",
    "brilliant",
    "slow",
    "fast",
    "funny",
    "sad",
    "dark",
    "light",
    "love",
    "hate",
    "best",
    "worst",
    "ever",
    "never",
    "again",
]


def make_text(path: Path, rows: int) -> Path:
    """A Parquet file of ``rows`` generated reviews (``text``) with a sentiment ``label``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    rng = np.random.default_rng(0)
    words = np.asarray(_WORDS)
    lengths = rng.integers(8, 60, rows)
    texts = [" ".join(words[rng.integers(0, len(words), k)]) for k in lengths]
    labels = [int(("good" in t) or ("great" in t)) for t in texts]
    pq.write_table(pa.table({"text": texts, "label": labels}), path.with_suffix(".tmp"))
    path.with_suffix(".tmp").rename(path)
    return path


# ------------------------------------------------------------------------------- peak RSS
class PeakRSS:
    """The peak memory of this process + its children, sampled every 20 ms.

    ``peak`` sums PSS (proportional set size: a page shared by a forked DataLoader worker and
    its parent counts once, split between them), which is what the tree really holds; the
    plain RSS sum (shared pages counted in every process) is kept in ``peak_rss``.
    """

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        pss = rss = 0
        for proc in [self.proc, *self.proc.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
                pss += info.pss
                rss += info.rss
            except Exception:  # a worker that just exited
                pass
        self.peak = max(self.peak, pss)
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak / 2**20


# ------------------------------------------------------------------------------- the peers
def _train_loop(
    loader: Any, network: Any, steps: int | None, loss_kind: str = "ce"
) -> dict[str, float]:
    import torch

    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    rows = batches = 0
    first = None
    start = time.perf_counter()
    for x, y in loader:
        if first is None:
            first = time.perf_counter() - start
            start = time.perf_counter()
        optimizer.zero_grad()
        out = network(x)
        loss = loss_fn(out, y) if loss_kind == "ce" else torch.nn.functional.mse_loss(out[:, 0], y)
        loss.backward()
        optimizer.step()
        rows += len(y)
        batches += 1
        if steps and batches >= steps:
            break
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": (rows - len(y)) / seconds if batches > 1 else 0.0,
        "first_batch_s": first or 0.0,
    }


def peer_images(
    kind: str, root: str, size: int, workers: int, batch: int, steps: int | None
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    from aimass_lab.models import build_network
    from aimass_lab.specs import ModelSpec

    meter = PeakRSS()
    t0 = time.perf_counter()
    if kind == "aimass":
        from aimass_lab import data

        ds = data.load(
            {
                "source": "image_folder",
                "path": root,
                "image_size": size,
                "split": {"val": 0.0, "test": 0.0},
                "loader": {"num_workers": workers},
            }
        )
        loader = ds.dataloader("train", batch_size=batch, seed=0)
    else:
        loader = _plain_image_loader(root, size, workers, batch)
    setup = time.perf_counter() - t0
    network = build_network(ModelSpec(family="cnn"), (3, size, size), 10)
    result = _train_loop(loader, network, steps)
    result.update(setup_s=setup, peak_mb=meter.stop(), peak_rss_mb=meter.peak_rss / 2**20)
    return result


def _plain_image_loader(root: str, size: int, workers: int, batch: int) -> Any:
    """torchvision's ImageFolder when it imports, else the same as a minimal Pillow Dataset."""
    import torch
    from torch.utils.data import DataLoader

    try:
        from torchvision import datasets as tv_datasets
        from torchvision.transforms import v2

        transform = v2.Compose(
            [
                v2.PILToTensor(),
                v2.Resize((size, size), antialias=False),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize([0.5] * 3, [0.25] * 3),
            ]
        )
        dataset: Any = tv_datasets.ImageFolder(root, transform=transform)
    except Exception:  # torchvision missing or built for another torch (see docs/install.md)
        dataset = PillowFolder(root, size)
    generator = torch.Generator().manual_seed(0)
    options: dict[str, Any] = {"num_workers": workers}
    if workers:
        options.update(persistent_workers=True, prefetch_factor=2)
    return DataLoader(dataset, batch_size=batch, shuffle=True, generator=generator, **options)


class PillowFolder:
    """A minimal lazy image folder: (path, class) pairs, decoded per sample with Pillow."""

    def __init__(self, root: str, size: int) -> None:
        classes = sorted(p.name for p in Path(root).iterdir() if p.is_dir())
        self.items = [
            (str(f), i) for i, c in enumerate(classes) for f in sorted((Path(root) / c).iterdir())
        ]
        self.size = size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        import numpy as np
        import torch
        from PIL import Image

        path, label = self.items[index]
        with Image.open(path) as image:
            pixels = image.convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(pixels, dtype=np.float32).transpose(2, 0, 1) / 255.0)
        return (x - 0.5) / 0.25, label


def peer_first_step(root: str, cache: str) -> dict[str, Any]:
    """Seconds from a fresh interpreter to the first batch (imports included)."""
    t0 = time.perf_counter()
    os.environ["AIMASS_CACHE_DIR"] = cache
    from aimass_lab import data

    ds = data.load(
        {
            "source": "image_folder",
            "path": root,
            "image_size": 64,
            "split": {"val": 0.0, "test": 0.0},
        }
    )
    loaded = time.perf_counter() - t0
    next(iter(ds.dataloader("train", batch_size=64)))
    return {"load_s": loaded, "first_step_s": time.perf_counter() - t0}


def peer_table(kind: str, path: str, workers: int, batch: int, steps: int | None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    from aimass_lab.models import build_network
    from aimass_lab.specs import ModelSpec

    meter = PeakRSS()
    t0 = time.perf_counter()
    if kind == "aimass":
        from aimass_lab import data

        ds = data.load(
            {
                "source": "parquet",
                "path": path,
                "target": "y",
                "streaming": True,
                "task": "classification",
                "split": {"val": 0.0, "test": 0.0},
                "loader": {"num_workers": workers},
            }
        )
        loader = ds.dataloader("train", batch_size=batch, seed=0)
        width = ds.input_shape[0]
    else:
        loader, width = _plain_table_loader(path, workers, batch), 30
    setup = time.perf_counter() - t0
    network = build_network(ModelSpec(family="mlp"), (width,), 2)
    result = _train_loop(loader, network, steps)
    result.update(setup_s=setup, peak_mb=meter.stop(), peak_rss_mb=meter.peak_rss / 2**20)
    return result


def _plain_table_loader(path: str, workers: int, batch: int) -> Any:
    """A hand-written pyarrow ``iter_batches`` -> torch loop, sharded over workers."""
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Batches(IterableDataset):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            import numpy as np
            import pyarrow.parquet as pq

            info = get_worker_info()
            file = pq.ParquetFile(path)
            groups = list(range(file.num_row_groups))
            if info is not None:
                groups = groups[info.id :: info.num_workers]
            columns = [f"f{j}" for j in range(30)]
            for record in file.iter_batches(
                batch_size=batch, row_groups=groups, columns=[*columns, "y"]
            ):
                X = np.stack([record.column(c).to_numpy() for c in columns], axis=1)
                yield (
                    torch.from_numpy(X.astype(np.float32)),
                    torch.from_numpy(record.column("y").to_numpy()),
                )

    options: dict[str, Any] = {"num_workers": workers}
    if workers:
        options.update(persistent_workers=True, prefetch_factor=2)
    return DataLoader(Batches(), batch_size=None, **options)


def peer_text(kind: str, path: str) -> dict[str, Any]:
    """Tokenization throughput: aimass's text dataset vs the tokenizers batch encoder."""
    import pyarrow.parquet as pq

    meter = PeakRSS()
    rows = pq.ParquetFile(path).metadata.num_rows
    t0 = time.perf_counter()
    if kind == "aimass":
        from aimass_lab import data

        spec = {
            "source": "parquet",
            "path": path,
            "text": "text",
            "target": "label",
            "tokenizer": {"vocab_size": 2000, "max_length": 64},
            "split": {"val": 0.0, "test": 0.0},
        }
        ds = data.load(spec)
        tokens = sum(len(part) for part in ds.parts.values())
    else:
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

        texts = pq.read_table(path, columns=["text"]).column("text").to_pylist()
        tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        trainer = trainers.WordPieceTrainer(vocab_size=2000, special_tokens=["[PAD]", "[UNK]"])
        tokenizer.train_from_iterator(texts, trainer=trainer)
        tokenizer.enable_truncation(64)
        tokens = 0
        for start in range(0, len(texts), 10_000):
            tokens += len(tokenizer.encode_batch(texts[start : start + 10_000]))
    seconds = time.perf_counter() - t0
    return {
        "rows": rows,
        "encoded": tokens,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "peak_mb": meter.stop(),
        "peak_rss_mb": meter.peak_rss / 2**20,
    }


# ----------------------------------------------------------------------------- orchestration
def _child(peer: str, **kwargs: Any) -> dict[str, Any]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import data_scale as b; "
        f"print('RESULT' + json.dumps(b.{peer}(**json.loads(sys.argv[2]))))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), json.dumps(kwargs)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{peer}{kwargs} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return dict(json.loads(lines[-1][6:]))


def _median(results: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def _compare(
    title: str, runs: dict[str, list[dict[str, Any]]], goals: dict[str, float]
) -> dict[str, Any]:
    a, b = runs["aimass"], runs["plain"]
    speed = _median(a, "rows_per_s") / max(_median(b, "rows_per_s"), 1e-9)
    mem = _median(a, "peak_mb") / max(_median(b, "peak_mb"), 1e-9)
    print(f"\n## {title}")
    print(f"{'peer':8} {'rows/s':>10} {'peak PSS MB':>12} {'peak RSS-sum MB':>16} {'setup s':>8}")
    for name, res in runs.items():
        print(
            f"{name:8} {_median(res, 'rows_per_s'):10.0f} {_median(res, 'peak_mb'):12.0f} "
            f"{_median(res, 'peak_rss_mb'):16.0f} {_median(res, 'setup_s'):8.2f}"
        )
    print(
        f"ratio aimass/plain: throughput {speed:.3f}x (goal >= {goals['speed']}), "
        f"peak PSS {mem:.3f}x" + (f" (goal <= {goals['rss']})" if "rss" in goals else "")
    )
    return {"title": title, "runs": runs, "throughput_ratio": speed, "memory_ratio": mem}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "aimass-bench-data"))
    parser.add_argument("--sections", default="images64,images224,first_step,table,text")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="cap each epoch at N batches")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run, not the benchmark"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from aimass_lab.data._samples import auto_workers

    workers = auto_workers() if args.workers is None else args.workers
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    scale = (
        {"n64": 2_000, "n224": 400, "rows": 200_000, "text": 20_000}
        if args.quick
        else {"n64": 100_000, "n224": 20_000, "rows": 5_000_000, "text": 200_000}
    )
    sections = args.sections.split(",")
    print(
        f"workers={workers} batch={args.batch} repeats={args.repeats} steps={args.steps} scale={scale}"
    )
    report: list[dict[str, Any]] = []
    for size, key in ((64, "n64"), (224, "n224")):
        if f"images{size}" not in sections:
            continue
        root = make_images(data / f"images{size}-{scale[key]}", scale[key], size)
        runs: dict[str, list[dict[str, Any]]] = {"aimass": [], "plain": []}
        for r in range(args.repeats):
            for kind in ("aimass", "plain") if r % 2 == 0 else ("plain", "aimass"):
                runs[kind].append(
                    _child(
                        "peer_images",
                        kind=kind,
                        root=str(root),
                        size=size,
                        workers=workers,
                        batch=args.batch,
                        steps=args.steps,
                    )
                )
        report.append(
            _compare(
                f"{scale[key]} JPEG images at {size} px, zoo CNN", runs, {"speed": 0.95, "rss": 1.2}
            )
        )
    if "first_step" in sections:
        root = make_images(data / f"images64-{scale['n64']}", scale["n64"], 64)
        cache = tempfile.mkdtemp(prefix="aimass-cache-")
        cold = _child("peer_first_step", root=str(root), cache=cache)
        warm = _child("peer_first_step", root=str(root), cache=cache)
        print(f"\n## time to first training step, {scale['n64']} images (goal < 10 s)")
        print(
            f"cold scan cache: load {cold['load_s']:.2f} s, first batch {cold['first_step_s']:.2f} s"
        )
        print(
            f"warm scan cache: load {warm['load_s']:.2f} s, first batch {warm['first_step_s']:.2f} s"
        )
        report.append({"title": "first_step", "cold": cold, "warm": warm})
    if "table" in sections:
        path = make_table(data / f"table-{scale['rows']}.parquet", scale["rows"])
        runs = {"aimass": [], "plain": []}
        for r in range(args.repeats):
            for kind in ("aimass", "plain") if r % 2 == 0 else ("plain", "aimass"):
                runs[kind].append(
                    _child(
                        "peer_table",
                        kind=kind,
                        path=str(path),
                        workers=workers,
                        batch=args.batch * 16,
                        steps=args.steps,
                    )
                )
        report.append(
            _compare(f"{scale['rows']:,}-row x 30 Parquet, zoo MLP", runs, {"speed": 0.9})
        )
    if "text" in sections:
        path = make_text(data / f"text-{scale['text']}.parquet", scale["text"])
        runs = {"aimass": [], "plain": []}
        for r in range(args.repeats):
            for kind in ("aimass", "plain") if r % 2 == 0 else ("plain", "aimass"):
                runs[kind].append(_child("peer_text", kind=kind, path=str(path)))
        for res in runs.values():
            for one in res:
                one.setdefault("setup_s", 0.0)
        report.append(
            _compare(
                f"{scale['text']:,} texts, tokenizer trained on the fly + encode",
                runs,
                {"speed": 0.9},
            )
        )
    if args.json:
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
