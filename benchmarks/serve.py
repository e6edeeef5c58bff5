#!/usr/bin/env python
"""Serving benchmark of AI Mass Lab: the inference server against its peers, in one run.

All peers serve the same ONNX model (a digits MLP, 64 features -> 10 classes, exported by
``aimass_lab.export_onnx``) with the same ONNX Runtime session options (CPU provider, one
intra-op and one inter-op thread, no spinning: what ``aimass serve``'s engine uses), and
answer the same request: an Open Inference Protocol v2 JSON body with one row
(``{"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [...]}]}``)
with an OIP-shaped JSON answer. One load generator drives every HTTP peer: ``wrk`` (closed
loop, keep-alive connections, a Lua script that POSTs the body and reports p50/p99 and
error counts: sockets, answers >= 400), at concurrency 1, 8 and 32 (connections; one wrk
thread up to 8 connections, two above):

(a) ``ort``          in-process ONNX Runtime: C Python threads call ``session.run`` on one
                     row in a loop (no HTTP): the limit;
(b) ``aimass``       ``python -m aimass_lab.cli serve`` with dynamic batching (max batch 32,
                     max delay 2 ms), OIP route ``/v2/models/digits/infer``;
(c) ``aimass-nobatch`` the same with ``--max-batch-size 1``;
(d) ``litserve``     LitServe with batching (``max_batch_size=32``, ``batch_timeout=2 ms``, one
                     worker, ``fast_queue`` when pyzmq is present), ``decode_request`` parses
                     the same body, ``batch`` stacks rows, one ``session.run`` per batch;
(e) ``fastapi``      plain FastAPI on uvicorn, a ``def`` endpoint (FastAPI's thread pool)
                     calling ``session.run`` per request;
and ``echo``         a bare uvicorn ASGI app that returns the body: the HTTP round trip alone.

Every HTTP peer runs uvicorn with the same loop and HTTP parser (``auto``: uvloop and
httptools when installed). Goals (issue 5): at concurrency 32, aimass >= 1.5x LitServe and
>= 3x FastAPI throughput, p99 no worse than LitServe; at concurrency 1 batching adds <= 5%
to p50 (b vs c); p50 overhead of aimass over in-process ORT within 1.5x of the echo round
trip (at concurrency 1).

Run (peers: ``pip install -e ".[bench]"``; load generator: ``apt-get install wrk``)::

    .venv/bin/python benchmarks/serve.py [--duration 10] [--json]
    .venv/bin/python benchmarks/serve.py --quick      # a smoke run, not the benchmark
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MODEL = "digits"
INFER_PATH = f"/v2/models/{MODEL}/infer"
CONCURRENCY = (1, 8, 32)
GOAL_VS_LITSERVE = 1.5
GOAL_VS_FASTAPI = 3.0
GOAL_BATCHING_P50 = 1.05
GOAL_OVERHEAD = 1.5

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("AIMASS_BENCH_BODY")
-- the request is built once per thread from wrk.method/headers/body; no response()
-- callback: it would make wrk copy every answer's headers and body into Lua (wrk's own CPU);
-- answers with a status >= 400 are counted by wrk in summary.errors.status
done = function(summary, latency, requests)
  io.write(string.format(
    'AIMASS_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "socket_errors": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status))
end
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment() -> dict[str, Any]:
    """The versions of what the servers and the load generator run on (None: missing)."""
    from importlib import metadata

    out: dict[str, Any] = {}
    for dist in (
        "aimass-lab", "uvicorn", "uvloop", "httptools", "orjson", "onnxruntime", "numpy",
        "litserve", "fastapi", "starlette", "pyzmq",
    ):  # fmt: skip
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        first = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
        out["wrk"] = (first.splitlines() or [""])[0].strip() or None
    except OSError:
        out["wrk"] = None
    # what uvicorn's loop="auto" / http="auto" pick (every HTTP peer, aimass serve included)
    out["uvicorn_loop"] = "uvloop" if out["uvloop"] else "asyncio"
    out["uvicorn_http"] = "httptools" if out["httptools"] else "h11"
    out["aimass_json"] = "orjson" if out["orjson"] else "json (stdlib)"
    out["python"] = platform.python_version()
    out["cpus"] = os.cpu_count()
    try:
        out["load_average"] = list(os.getloadavg())
    except OSError:
        out["load_average"] = None
    return out


def session_options() -> Any:
    """The ONNX Runtime options of every peer (those of aimass serve's engine)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def new_session(path: str) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(path, session_options(), providers=["CPUExecutionProvider"])


@contextlib.contextmanager
def process(cmd: list[str], port: int, ready_path: str, env: dict[str, str]) -> Iterator[None]:
    """Start a server process group; wait until ``ready_path`` answers the body with a 200."""
    import httpx

    log(f"  starting: {' '.join(cmd[-6:])}")
    # stderr goes to a file, not a pipe: a chatty server never blocks on it
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
        deadline = time.monotonic() + 120
        url = f"http://127.0.0.1:{port}{ready_path}"
        body = json.loads(os.environ["AIMASS_BENCH_BODY"])
        try:
            while True:
                if proc.poll() is not None:
                    errors.seek(0)
                    err = errors.read().decode(errors="replace")
                    raise RuntimeError(f"{cmd} exited with {proc.returncode}:\n{err[-3000:]}")
                try:
                    if httpx.post(url, json=body, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd} did not answer {url} within 120 s")
                time.sleep(0.2)
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):  # workers the server left behind
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ------------------------------------------------------------------------- load generation
def wrk(port: int, concurrency: int, duration: float, script: str) -> dict[str, Any]:
    threads = 1 if concurrency <= 8 else 2
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        script,
        f"http://127.0.0.1:{port}{INFER_PATH}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=os.environ).stdout
    line = next(li for li in out.splitlines() if li.startswith("AIMASS_RESULT "))
    doc = json.loads(line.split(" ", 1)[1])
    seconds = doc["duration_us"] / 1e6
    return {
        "rps": doc["requests"] / seconds,
        "p50_ms": doc["p50_us"] / 1000,
        "p99_ms": doc["p99_us"] / 1000,
        "requests": doc["requests"],
        "errors": doc["socket_errors"] + doc["status_errors"],
    }


def in_process(onnx_path: str, concurrency: int, duration: float) -> dict[str, Any]:
    """(a) C threads calling ``session.run`` on one row (the session is shared, like a server's)."""
    import numpy as np

    session = new_session(onnx_path)
    x = np.asarray(json.loads(os.environ["AIMASS_BENCH_BODY"])["inputs"][0]["data"], np.float32)
    x = x.reshape(1, -1)
    for _ in range(200):
        session.run(None, {"input": x})
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    stop = time.perf_counter() + duration

    def loop(i: int) -> None:
        own = latencies[i]
        while True:
            t0 = time.perf_counter()
            if t0 >= stop:
                return
            session.run(None, {"input": x})
            own.append(time.perf_counter() - t0)

    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(v for own in latencies for v in own)
    q = statistics.quantiles(flat, n=100, method="inclusive")
    return {
        "rps": len(flat) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "requests": len(flat),
        "errors": 0,
    }


# ----------------------------------------------------------------------------------- setup
def build_model(root: Path, epochs: int) -> tuple[Path, str, str]:
    """Train a digits MLP in a workspace and export it to ONNX.

    Returns the workspace folder, the ONNX file and the ref of the ONNX version (registered
    as ``digits``, so that every peer serves the model under the same name).
    """
    import contextlib as cl

    import aimass_lab as am
    from aimass_lab.workspace import Workspace

    ws = Workspace(root / "ws")
    with cl.redirect_stdout(sys.stderr):
        run = am.train(
            "digits",
            "mlp",
            hparams={"hidden": 128},
            max_epochs=epochs,
            seed=0,
            wait=True,
            workspace=ws,
        )
        if run.status != "succeeded":
            raise RuntimeError(f"training {run.status}: {run.logs(tail=20)}")
        mv = run.register(MODEL)
        onnx_mv = am.export_onnx(mv, workspace=ws)
    return ws.path, str(onnx_mv.files()["model.onnx"]), onnx_mv.ref


def body_for() -> str:
    import numpy as np
    from sklearn.datasets import load_digits

    row = (load_digits().data[:1] / 16.0).astype(np.float32)
    return json.dumps(
        {
            "inputs": [
                {"name": "input", "shape": [1, 64], "datatype": "FP32", "data": row[0].tolist()}
            ]
        }
    )


def fmt_table(results: dict[str, dict[int, dict[str, Any]]]) -> str:
    lines = [
        "| peer | c | requests/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for peer, by_c in results.items():
        for c, r in sorted(by_c.items()):
            lines.append(
                f"| {peer} | {c} | {r['rps']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
                f"{r['errors']} |"
            )
    return "\n".join(lines)


def goals(results: dict[str, dict[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def get(peer: str, c: int, key: str) -> float | None:
        r = results.get(peer, {}).get(c)
        return None if r is None else float(r[key])

    def add(name: str, value: float | None, goal: float, higher: bool) -> None:
        met = None if value is None else (value >= goal if higher else value <= goal)
        out.append({"goal": name, "value": value, "target": goal, "met": met})

    a32, l32, f32 = get("aimass", 32, "rps"), get("litserve", 32, "rps"), get("fastapi", 32, "rps")
    add("rps aimass / litserve at c=32", a32 / l32 if a32 and l32 else None, GOAL_VS_LITSERVE, True)
    add("rps aimass / fastapi at c=32", a32 / f32 if a32 and f32 else None, GOAL_VS_FASTAPI, True)
    p99a, p99l = get("aimass", 32, "p99_ms"), get("litserve", 32, "p99_ms")
    add("p99 aimass / litserve at c=32", p99a / p99l if p99a and p99l else None, 1.0, False)
    b1, n1 = get("aimass", 1, "p50_ms"), get("aimass-nobatch", 1, "p50_ms")
    add(
        "p50 batching / no batching at c=1",
        b1 / n1 if b1 and n1 else None,
        GOAL_BATCHING_P50,
        False,
    )
    o1, e1 = get("ort", 1, "p50_ms"), get("echo", 1, "p50_ms")
    add(
        "p50 (aimass - in-process ORT) / echo round trip at c=1",
        (b1 - o1) / e1 if b1 and o1 is not None and e1 else None,
        GOAL_OVERHEAD,
        False,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per point")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 s per point: a smoke run")
    parser.add_argument("--peers", default="ort,echo,aimass,aimass-nobatch,litserve,fastapi")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        log("wrk is missing: apt-get install -y wrk")
        return 2
    duration = 2.0 if args.quick else args.duration
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="aimass-bench-serve-"))
    env = {**os.environ, "AIMASS_HOME": str(tmp / "ws"), "PYTHONUNBUFFERED": "1"}
    env.pop("AIMASS_DB_URL", None)
    env_info = environment()
    log("environment: " + ", ".join(f"{k}={v}" for k, v in env_info.items()))
    try:
        log(f"training and exporting the model ({args.epochs} epochs) in {tmp}")
        ws_path, onnx_path, ref = build_model(tmp, args.epochs)
        os.environ["AIMASS_BENCH_BODY"] = env["AIMASS_BENCH_BODY"] = body_for()
        script = tmp / "post.lua"
        script.write_text(LUA, encoding="utf-8")
        peers_script = [sys.executable, str(Path(__file__).resolve().with_name("serve_peers.py"))]
        results: dict[str, dict[int, dict[str, Any]]] = {}
        commands: dict[str, list[str]] = {
            "echo": [*peers_script, "echo"],
            "litserve": [*peers_script, "litserve", "--onnx", onnx_path],
            "fastapi": [*peers_script, "fastapi", "--onnx", onnx_path],
        }
        serve = [
            *(sys.executable, "-m", "aimass_lab.cli", "serve", "--workspace", str(ws_path)),
            *("--models", ref),
        ]
        commands["aimass"] = [*serve, "--max-batch-size", "32", "--max-delay-ms", "2"]
        commands["aimass-nobatch"] = [*serve, "--max-batch-size", "1", "--max-delay-ms", "0"]
        for peer in peers:
            results[peer] = {}
            if peer == "ort":
                for c in CONCURRENCY:
                    results[peer][c] = in_process(onnx_path, c, duration)
                    log(f"  {peer} c={c}: {results[peer][c]}")
                continue
            port = free_port()
            with process([*commands[peer], "--port", str(port)], port, INFER_PATH, env):
                wrk(port, 8, 1.0, str(script))  # warm-up
                for c in CONCURRENCY:
                    results[peer][c] = wrk(port, c, duration, str(script))
                    log(f"  {peer} c={c}: {results[peer][c]}")
        doc: dict[str, Any] = {
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "processor": platform.processor() or platform.machine(),
            },
            "environment": env_info,
            "load_average_end": list(os.getloadavg()),
            "duration_s": duration,
            "results": {p: {str(c): r for c, r in by.items()} for p, by in results.items()},
            "goals": goals(results),
        }
        if args.json:
            print(json.dumps(doc, indent=2))
        else:
            print("environment: " + ", ".join(f"{k}={v}" for k, v in env_info.items()))
            print(f"load average at the end: {doc['load_average_end']}")
            print()
            print(fmt_table(results))
            print()
            for g in doc["goals"]:
                value = "n/a" if g["value"] is None else f"{g['value']:.2f}"
                verdict = {True: "met", False: "MISSED", None: "n/a"}[g["met"]]
                print(
                    f"- {g['goal']}: {value} (goal {'>=' if 'rps' in g['goal'] else '<='} {g['target']}) {verdict}"
                )
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
