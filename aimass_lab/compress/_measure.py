"""Measurements on this machine: test metric, size, parameters, latency and throughput."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.compress._onnx import INPUT_NAME, providers, run_onnx, session
from aimass_lab.compress._transformer import onnx_size

if TYPE_CHECKING:
    from torch import nn

    from aimass_lab.specs import BenchmarkSpec

__all__ = ["evaluate", "measure", "peak_rss", "sequence_figures", "timings"]


def evaluate(outputs: np.ndarray, y: np.ndarray, config: dict[str, Any]) -> dict[str, float]:
    """The test metric of outputs: ``accuracy`` (classification) or ``rmse`` (regression)."""
    if config.get("task") == "regression":
        stats = config.get("target_stats") or {"mean": 0.0, "std": 1.0}
        pred = outputs.reshape(len(y), -1)[:, 0] * float(stats["std"]) + float(stats["mean"])
        return {"rmse": float(np.sqrt(np.mean((pred - y.astype(np.float64)) ** 2)))}
    return {"accuracy": float(np.mean(outputs.argmax(-1) == y))}


def timings(call: Callable[[], Any], *, warmup: int, runs: int) -> np.ndarray:
    """Seconds of ``runs`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    out = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        call()
        out[i] = time.perf_counter() - start
    return out


def _figures(
    prefix: str, single: np.ndarray, batch: np.ndarray, batch_size: int
) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": float(np.percentile(single, 50) * 1e3),
        f"{prefix}_p95_ms": float(np.percentile(single, 95) * 1e3),
        f"{prefix}_throughput": float(batch_size / np.median(batch)),
    }


def _ort_figures(
    path: Path, x1: np.ndarray, xb: np.ndarray, bench: BenchmarkSpec, cuda: bool
) -> dict[str, float]:
    sess = session(path, threads=bench.threads, cuda=cuda)
    single = timings(lambda: sess.run(None, {INPUT_NAME: x1}), warmup=bench.warmup, runs=bench.runs)
    batch = timings(
        lambda: sess.run(None, {INPUT_NAME: xb}),
        warmup=min(bench.warmup, 2),
        runs=bench.throughput_runs,
    )
    return _figures("ort_cuda" if cuda else "ort_cpu", single, batch, len(xb))


def _torch_figures(
    network: nn.Module, x1: np.ndarray, xb: np.ndarray, bench: BenchmarkSpec
) -> dict[str, float]:
    import torch

    threads = torch.get_num_threads()
    if bench.threads:
        torch.set_num_threads(bench.threads)
    try:
        network = network.cpu().eval()
        t1, tb = torch.from_numpy(x1), torch.from_numpy(xb)
        with torch.inference_mode():
            single = timings(lambda: network(t1), warmup=bench.warmup, runs=bench.runs)
            batch = timings(
                lambda: network(tb), warmup=min(bench.warmup, 2), runs=bench.throughput_runs
            )
    finally:
        torch.set_num_threads(threads)
    return _figures("torch", single, batch, len(xb))


def peak_rss(call: Callable[[], Any]) -> int:
    """How much the process's resident memory grows while ``call`` runs (sampled every 2 ms).

    Memory freed earlier in the process may be reused, so this is a lower bound of what
    ``call`` needs on its own.
    """
    import threading

    import psutil

    proc = psutil.Process()
    base = peak = proc.memory_info().rss
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.002):
            peak = max(peak, proc.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        call()
    finally:
        stop.set()
        thread.join()
    return max(0, max(peak, proc.memory_info().rss) - base)


def _at_length(x: np.ndarray, length: int, pad_id: float) -> np.ndarray:
    """Token-id rows cut or padded (with ``pad_id``) to ``length``."""
    out = np.full((len(x), length), pad_id, np.float32)
    n = min(length, x.shape[1])
    out[:, :n] = x[:, :n]
    return out


def sequence_figures(
    onnx_path: Path, config: dict[str, Any], x_test: np.ndarray, bench: BenchmarkSpec
) -> dict[str, float]:
    """Latency at batch 1 and throughput at the benchmark batch for a pretrained text model at
    two sequence lengths, ``max_length // 4`` and ``max_length`` (columns ``..._lenN``).

    Empty for other models.
    """
    info = config.get("pretrained")
    if not isinstance(info, dict) or info.get("kind") != "text" or x_test.ndim != 2:
        return {}
    longest = int(config["input_shape"][0])
    pad = float(info.get("pad_id") or 0)
    sess = session(onnx_path, threads=bench.threads)
    out: dict[str, float] = {}
    for length in sorted({max(1, longest // 4), longest}):
        rows = _at_length(x_test[: bench.batch_size], length, pad)
        reps = -(-bench.batch_size // max(1, len(rows)))
        xb = np.ascontiguousarray(np.concatenate([rows] * reps)[: bench.batch_size])
        x1 = np.ascontiguousarray(rows[:1])
        single = timings(
            functools.partial(sess.run, None, {INPUT_NAME: x1}),
            warmup=bench.warmup,
            runs=bench.runs,
        )
        batch = timings(
            functools.partial(sess.run, None, {INPUT_NAME: xb}),
            warmup=min(bench.warmup, 2),
            runs=bench.throughput_runs,
        )
        figures = _figures("ort_cpu", single, batch, len(xb))
        out.update({f"{k}_len{length}": v for k, v in figures.items()})
    return out


def measure(
    *,
    onnx_path: Path,
    network: nn.Module | None,
    config: dict[str, Any],
    x_test: np.ndarray,
    y_test: np.ndarray,
    bench: BenchmarkSpec,
) -> dict[str, Any]:
    """Measure one model.

    Parameters
    ----------
    onnx_path
        The model as ONNX (what is deployed): metric, size and ORT timings come from it.
    network
        The torch network for torch timings, or ``None`` (int8 models exist only as ONNX).
    config
        Its ``model.json``.
    x_test, y_test
        The test split.
    bench
        How many runs.

    Returns
    -------
    dict
        The metric, ``size_bytes``, ``params``, ``nonzero_params``, and ``ort_cpu_*``,
        ``ort_cuda_*`` (when CUDA is present) and ``torch_*`` ``p50_ms``, ``p95_ms``,
        ``throughput`` (samples per second at ``bench.batch_size``).
    """
    from aimass_lab.compress._fit import count_params

    row: dict[str, Any] = {}
    row.update(evaluate(run_onnx(session(onnx_path), x_test), y_test, config))
    row["size_bytes"] = onnx_size(onnx_path)
    if network is not None:
        row["params"], row["nonzero_params"] = count_params(network)
    x1 = np.ascontiguousarray(x_test[:1], np.float32)
    reps = -(-bench.batch_size // max(1, len(x_test)))
    xb = np.ascontiguousarray(np.concatenate([x_test] * reps)[: bench.batch_size], np.float32)
    row["ort_cpu_peak_bytes"] = peak_rss(lambda: session(onnx_path).run(None, {INPUT_NAME: xb}))
    row.update(_ort_figures(onnx_path, x1, xb, bench, cuda=False))
    row.update(sequence_figures(onnx_path, config, x_test, bench))
    if "CUDAExecutionProvider" in providers(cuda=True):
        row.update(_ort_figures(onnx_path, x1, xb, bench, cuda=True))
    if network is not None and not (config.get("compression") or {}).get("quantized"):
        row.update(_torch_figures(network, x1, xb, bench))
    return row
