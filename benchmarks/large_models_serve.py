#!/usr/bin/env python
"""The ``serve`` and ``int8`` sections of ``benchmarks/large_models.py``, and its peer servers.

    python benchmarks/large_models_serve.py pipeline --port P --model DIR --threads T
    python benchmarks/large_models_serve.py ort --port P --onnx FILE --tokenizer DIR --threads T

Both peers are a plain FastAPI app on uvicorn with a ``def`` endpoint (FastAPI's thread
pool) at ``/v1/models/bench/predict`` taking the body aimass's JSON route takes
(``{"inputs": ["a review", ...]}``) and answering labels and probabilities.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PATH = "/v1/models/bench/predict"


# ----------------------------------------------------------------------------- ONNX helpers
def ort_session(path: str, threads: int) -> Any:
    """ONNX Runtime with the options of aimass serve's engine (``threads`` intra-op)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def ort_feed(session: Any, ids: Any, pad_id: int) -> dict[str, Any]:
    """Token ids (B, L) as the session wants them: float or int64 ids, a mask if it asks."""
    import numpy as np

    feed: dict[str, Any] = {}
    for inp in session.get_inputs():
        if "mask" in inp.name:
            feed[inp.name] = (ids != pad_id).astype(np.int64)
        else:
            feed[inp.name] = ids.astype(np.float32 if "float" in inp.type else np.int64)
    return feed


# ----------------------------------------------------------------------------- model making
def fine_tune(home: Path, data: Any, folder: str, **train: Any) -> Any:
    """Fine-tune ``folder`` (full) in the workspace ``home``; the registered version."""
    import aimass_lab as am
    from aimass_lab.workspace import Workspace

    ws = Workspace(home)
    with contextlib.redirect_stdout(sys.stderr):
        run = am.train(data, {"family": "pretrained", "path": folder,
                              "hparams": {"finetune": "full"}}, workspace=ws, wait=True,
                       **train)  # fmt: skip
    if run.status != "succeeded":
        raise RuntimeError(f"fine-tuning {run.status}: {run.logs(tail=20)}")
    return run, run.register("bench")


QUICK = {"warmup": 0, "runs": 2, "batch_size": 1, "throughput_runs": 1}
"""compress's own latency figures, not used here: as few runs as it takes (its defaults, 50
runs at batch 1 and 10 at batch 32 at two sequence lengths for each version, take minutes
for a base model on one core)."""


def aimass_int8(mv: Any, method: str, fp32: bool = True) -> tuple[Any, Any]:
    """``export_onnx(mv, optimize=...)`` (the fp32 ONNX version; ``None`` unless ``fp32``) and
    ``compress(mv, [method])`` (the int8 ONNX child version), their times logged."""
    from large_models import log

    import aimass_lab as am

    optimize = method.endswith(":optimize")
    with contextlib.redirect_stdout(sys.stderr):
        t0 = time.time()
        onnx = am.export_onnx(mv, optimize=optimize) if fp32 else None
        t1 = time.time()
        report = am.compress(mv, [method], benchmark=QUICK)
    log(f"  export_onnx(optimize={optimize}) {t1 - t0:.0f} s, compress({method!r}) "
        f"{time.time() - t1:.0f} s")  # fmt: skip
    return onnx, report.versions[str(report.rows[-1]["version"])]


def hf_folder(network: Any, base: str, out: Path) -> Path:
    """The fine-tuned Transformers model with the base folder's tokenizer (for pipeline)."""
    import shutil

    network.model.save_pretrained(out)
    for f in Path(base).iterdir():
        if "token" in f.name or f.name == "vocab.txt":
            shutil.copy(f, out / f.name)
    return out


# --------------------------------------------------------------------------------- int8
def section_int8(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """int8 file size and argmax agreement with fp32 on the held-out split (built-in reviews)."""
    import numpy as np
    from large_models import _goal, log, make_models

    from aimass_lab import data as data_stage

    folder = make_models(Path(args.data), args.int8_size, args.seq, ["text"])["text"]
    spec = {"name": "reviews", "options": {"n_samples": args.int8_rows},
            "tokenizer": {"max_length": args.seq}}  # fmt: skip
    log(
        f"  int8: fine-tuning the {args.int8_size} text model on reviews ({args.int8_epochs} epochs)"
    )
    t0 = time.time()
    run, mv = fine_tune(tmp / "ws-int8", spec, folder, max_epochs=args.int8_epochs, lr=LR_INT8,
                        batch_size=32, warmup_steps=10, lr_schedule="linear")  # fmt: skip
    log(f"  int8: fine-tuned in {time.time() - t0:.0f} s, test {run.summary.get('test_acc')}")
    fp32_mv, int8_mv = aimass_int8(mv, args.int8_method)
    pad = int(json.loads((Path(folder) / "config.json").read_text()).get("pad_token_id") or 0)
    x_test, y = data_stage.load(run.spec.data).take("test", None)
    x_test = np.pad(x_test, ((0, 0), (0, args.seq - x_test.shape[1])), constant_values=pad)
    fp32, int8 = fp32_mv.files()["model.onnx"], int8_mv.files()["model.onnx"]
    how = (f"fp32: export_onnx(mv, optimize={args.int8_method.endswith(':optimize')}) "
           f"({fp32_mv.ref}); int8: compress(mv, [{args.int8_method!r}]) ({int8_mv.ref})")  # fmt: skip
    preds = []
    for path in (fp32, int8):
        sess = ort_session(str(path), args.threads)
        out = [sess.run(None, ort_feed(sess, x_test[i : i + 64], pad))[0]
               for i in range(0, len(x_test), 64)]  # fmt: skip
        preds.append(np.concatenate(out).argmax(1))
    agreement = float((preds[0] == preds[1]).mean())
    size = Path(int8).stat().st_size / Path(fp32).stat().st_size
    print(f"\n## int8, text ({args.int8_size}) fine-tuned on reviews, held-out split "
          f"{len(x_test)} rows; {how}")  # fmt: skip
    print(f"fp32 ONNX {Path(fp32).stat().st_size / 2**20:.1f} MB, int8 {Path(int8).stat().st_size / 2**20:.1f} MB; "
          f"accuracy fp32 {(preds[0] == y).mean():.3f}, int8 {(preds[1] == y).mean():.3f}")  # fmt: skip
    goals = [_goal("int8 / fp32 file size", size, 0.3, higher=False),
             _goal("argmax agreement int8 vs fp32", agreement, 0.99, higher=True)]  # fmt: skip
    return {"section": "int8", "how": how, "rows": len(x_test), "goals": goals}


LR_INT8 = 3e-4


# --------------------------------------------------------------------------------- serve
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(cmd: list[str], url: str, env: dict[str, str]) -> Any:
    """A peer server in its own process group, until it answers one request."""
    import httpx

    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(cmd, env=env, stdout=null, stderr=subprocess.PIPE,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited: {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.post(url, json={"inputs": ["good film"]}, timeout=30).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd} did not answer {url}")
            time.sleep(0.5)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def load(url: str, texts: list[str], concurrency: int, duration: float) -> dict[str, Any]:
    """``concurrency`` closed-loop clients POSTing one text each for ``duration`` seconds."""
    import httpx

    async def run() -> dict[str, Any]:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            for t in texts[:2]:  # warm-up
                await client.post(url, json={"inputs": [t]})
            stop = time.perf_counter() + duration

            async def one(i: int) -> None:
                nonlocal errors
                k = i
                while time.perf_counter() < stop:
                    t0 = time.perf_counter()
                    r = await client.post(url, json={"inputs": [texts[k % len(texts)]]})
                    k += concurrency
                    if r.status_code != 200:
                        errors += 1
                    latencies.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(concurrency)))
            elapsed = time.perf_counter() - t0
        q = statistics.quantiles(sorted(latencies), n=100, method="inclusive")
        return {"rps": len(latencies) / elapsed, "p50_ms": q[49] * 1e3, "p99_ms": q[98] * 1e3,
                "requests": len(latencies), "errors": errors}  # fmt: skip

    return asyncio.run(run())


def section_serve(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """aimass deploy vs pipeline + FastAPI vs ORT + FastAPI, raw text in, one run."""
    import pyarrow.parquet as pq
    from large_models import REPO, _goal, log, make_long_text, make_models

    import aimass_lab as am
    from aimass_lab.workspace import Workspace

    if importlib.util.find_spec("fastapi") is None:
        raise SystemExit('the serving peers need FastAPI: pip install -e ".[bench]"')
    folder = make_models(Path(args.data), args.size, args.seq, ["text"])["text"]
    data_path = make_long_text(Path(args.data) / "long-text-400.parquet", 400)
    texts = pq.read_table(data_path).column("text").to_pylist()
    spec = {"source": "parquet", "path": str(data_path), "text": "text", "target": "label",
            "tokenizer": {"max_length": args.seq}, "split": {"val": 0.0, "test": 0.05}}  # fmt: skip
    log(f"  serve: fine-tuning the {args.size} text model ({args.serve_steps} steps)")
    home = tmp / "ws-serve"
    run, mv = fine_tune(home, spec, folder, max_epochs=1, limit_train_batches=args.serve_steps,
                        batch_size=8)  # fmt: skip
    _, int8_mv = aimass_int8(mv, args.int8_method, fp32=False)
    hf = hf_folder(run.model(), folder, tmp / "hf-bench")
    target, onnx = int8_mv.ref, str(int8_mv.files()["model.onnx"])
    how = (f"int8 ONNX {target} (compress(mv, [{args.int8_method!r}])) on the onnxruntime "
           "engine; the ORT peer runs the same file")  # fmt: skip
    log(
        f"  serve: the int8 ONNX file (aimass and the ORT peer): {Path(onnx).stat().st_size / 2**20:.1f} MB"
    )
    pad = int(json.loads((Path(folder) / "config.json").read_text()).get("pad_token_id") or 0)
    threads = str(args.threads)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "AIMASS_HOME": str(home)}  # fmt: skip
    peers_cmd = [sys.executable, str(Path(__file__).resolve())]
    results: dict[str, dict[str, Any]] = {}
    for peer in ("aimass", "pipeline", "ort-fastapi"):
        log(f"  serve: {peer}")
        if peer == "aimass":
            os.environ.update({k: env[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
            with contextlib.redirect_stdout(sys.stderr):
                dep = am.deploy(target, name="bench", engine="onnxruntime", workspace=Workspace(home),
                                replicas=args.replicas, port=free_port())  # fmt: skip
            try:
                results[peer] = load(f"{dep.url}{PATH}", texts, args.concurrency, args.duration)
            finally:
                dep.stop()
        else:
            port = free_port()
            cmd = (
                [*peers_cmd, "pipeline", "--model", str(hf)]
                if peer == "pipeline"
                else [*peers_cmd, "ort", "--onnx", onnx, "--tokenizer", folder, "--pad", str(pad)]
            )
            url = f"http://127.0.0.1:{port}{PATH}"
            with server([*cmd, "--port", str(port), "--threads", threads], url, env):
                results[peer] = load(url, texts, args.concurrency, args.duration)
        log(f"    {results[peer]}")
    print(f"\n## serve, text ({args.size}), concurrency {args.concurrency}, {args.duration:.0f} s "
          f"per peer, one raw text per request; aimass ({args.replicas} replica(s)): {how}")  # fmt: skip
    print(
        f"{'peer':12} {'requests/s':>11} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9} {'errors':>7}"
    )
    for name, r in results.items():
        print(f"{name:12} {r['rps']:11.2f} {r['p50_ms']:9.0f} {r['p99_ms']:9.0f} "
              f"{r['requests']:9d} {r['errors']:7d}")  # fmt: skip
    a, p, o = results["aimass"], results["pipeline"], results["ort-fastapi"]
    goals = [
        _goal("requests/s aimass / pipeline+FastAPI", a["rps"] / p["rps"], 2.0, higher=True),
        _goal("requests/s aimass / ORT+FastAPI", a["rps"] / o["rps"], 1.2, higher=True),
        _goal("p99 aimass / best peer p99", a["p99_ms"] / min(p["p99_ms"], o["p99_ms"]),
              1.0, higher=False),
    ]  # fmt: skip
    for peer, r in (("pipeline+FastAPI", p), ("ORT+FastAPI", o)):
        print(
            f"- ratios aimass / {peer}: requests/s {a['rps'] / r['rps']:.2f}x, "
            f"p50 {a['p50_ms'] / r['p50_ms']:.2f}x, p99 {a['p99_ms'] / r['p99_ms']:.2f}x"
        )
    return {"section": "serve", "how": how, "results": results, "goals": goals}


# ----------------------------------------------------------------------------- peer servers
def run_pipeline(model: str, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI
    from transformers import pipeline

    clf = pipeline("text-classification", model=model, tokenizer=model, device="cpu")
    app = FastAPI()

    @app.post(PATH)
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        out = clf(body["inputs"], truncation=True, top_k=None)
        return {"predictions": [max(o, key=lambda d: d["score"])["label"] for o in out],
                "probabilities": [[d["score"] for d in o] for o in out]}  # fmt: skip

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run_ort(onnx: str, tokenizer: str, pad: int, port: int, threads: int) -> None:
    import numpy as np
    import uvicorn
    from fastapi import FastAPI
    from tokenizers import Tokenizer

    session = ort_session(onnx, threads)
    tok = Tokenizer.from_file(str(Path(tokenizer) / "tokenizer.json"))
    length = int(
        json.loads((Path(tokenizer) / "config.json").read_text())["max_position_embeddings"]
    )
    tok.enable_truncation(length)
    tok.enable_padding(pad_id=pad, length=length)
    app = FastAPI()

    @app.post(PATH)
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        ids = np.asarray([e.ids for e in tok.encode_batch(body["inputs"])], dtype=np.int64)
        logits = session.run(None, ort_feed(session, ids, pad))[0]
        e = np.exp(logits - logits.max(1, keepdims=True))
        probs = e / e.sum(1, keepdims=True)
        return {"predictions": probs.argmax(1).tolist(), "probabilities": probs.tolist()}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> int:
    parser = argparse.ArgumentParser(description="a peer server of benchmarks/large_models.py")
    parser.add_argument("peer", choices=["pipeline", "ort"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model")
    parser.add_argument("--onnx")
    parser.add_argument("--tokenizer")
    parser.add_argument("--pad", type=int, default=0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.peer == "pipeline":
        run_pipeline(args.model, args.port)
    else:
        run_ort(args.onnx, args.tokenizer, args.pad, args.port, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
