"""Measurements on this machine: test metric, size, parameters, latency and throughput."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.compress._onnx import INPUT_NAME, providers, run_onnx, session

if TYPE_CHECKING:
    from torch import nn

    from aimass_lab.specs import BenchmarkSpec

__all__ = ["evaluate", "measure", "timings"]


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
    row["size_bytes"] = onnx_path.stat().st_size
    if network is not None:
        row["params"], row["nonzero_params"] = count_params(network)
    x1 = np.ascontiguousarray(x_test[:1], np.float32)
    reps = -(-bench.batch_size // max(1, len(x_test)))
    xb = np.ascontiguousarray(np.concatenate([x_test] * reps)[: bench.batch_size], np.float32)
    row.update(_ort_figures(onnx_path, x1, xb, bench, cuda=False))
    if "CUDAExecutionProvider" in providers(cuda=True):
        row.update(_ort_figures(onnx_path, x1, xb, bench, cuda=True))
    if network is not None and not (config.get("compression") or {}).get("quantized"):
        row.update(_torch_figures(network, x1, xb, bench))
    return row
