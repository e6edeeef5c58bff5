#!/usr/bin/env python
"""Serving benchmark of AI Mass Lab: ``aimass serve`` against peers written at their best.

Two models, both 64 features -> 10 classes exported by ``aimass_lab.export_onnx`` (so every
request body is the same): ``small``, the digits MLP (``hidden=128``, 9.7K parameters: the
server's own cost dominates) and ``large``, an MLP with two hidden layers of 2048 (4.35M
parameters, ~4.3M multiply-adds per row: the model's compute matters, and batching and
replicas can pay). Every system serves the ONNX file with the same ONNX Runtime session
options (CPU, 1 intra-op and 1 inter-op thread, no spinning: those of ``aimass serve``'s
engine) and answers the same request: an OIP v2 JSON body with one row on
``/v2/models/digits/infer``, with an OIP-shaped JSON answer.

Systems (peers run from ``.venv-peers``, made by ``bash benchmarks/setup_peers.sh``; see
``benchmarks/serve_peers.py`` for how each is written):

- ``ort``: in-process ONNX Runtime, threads calling ``session.run`` on one row (no HTTP): the
  floor of c=1 latency (the overhead of a server is its p50 minus this one's);
- ``aimass``: ``aimass serve --max-batch-size 32 --max-delay-ms 2`` (one replica: the engine
  runs in the server process); ``aimass-r2``: the same with ``--replicas 2``;
- ``fastapi-1w``, ``fastapi-2w``: FastAPI, ``async def`` endpoint on the raw body, orjson in
  and out, ORT per request; uvicorn (uvloop, httptools) with 1 and with 2 worker processes;
- ``litserve``: LitServe with batching (32 rows, 2 ms), ``fast_queue``, 2 API servers, one
  inference worker;
- ``mlserver``: MLServer with adaptive batching (32 rows, 2 ms), a custom ``MLModel`` runtime
  on the same ONNX session, inference in the server process (``parallel_workers=0``);
- not in the default list: ``echo``, a bare uvicorn app returning the body (the HTTP round
  trip alone); ``litserve-w2``, LitServe with 2 inference workers. MLServer's
  ``parallel_workers >= 1`` (its default: inference in separate processes) does not start
  with uvloop 0.23: MLServer 1.7.1's worker calls ``asyncio.get_event_loop()`` before it has
  a loop (RuntimeError), so MLServer runs inference in its server process.

Triton's in-process Python API is not compared: the ``tritonserver`` package on PyPI is a
placeholder that fails on install; the real wheels ship only in NVIDIA's NGC containers.

Method: for each model, ``--rounds`` rounds; in round r every system runs once, in an order
rotated by r. A system's server is started fresh in each round (its own process group, from
its own interpreter), warmed up for 1 s at c=8, then measured at each concurrency for
``--duration`` seconds, then stopped, so only one server is alive at a time. The load
generator is ``wrk`` (closed loop, keep-alive, 1 thread up to c=8 and 2 above, a Lua script
that builds the POST once per thread and prints the requests, p50, p99 and errors: socket
errors and answers >= 400). Server CPU per request: user + system CPU of the server's process
tree (psutil, the server and every descendant) before and after the point, divided by the
requests answered; the client's CPU is ``wrk``'s own (``getrusage`` of children), printed too,
so a saturated client would show. Reported per point: the median and the range (min-max) over
the rounds of requests/s, p50, p99 and server CPU per request.

Goals (issue 16), per model, best against best: ``aimass`` (the better of 1 and 2 replicas)
at c=32 >= 1.5x the best FastAPI, >= 5x LitServe and >= 5x MLServer in requests/s; c=1 p50
overhead over in-process ORT no worse than the best FastAPI's; and on the small model
``--replicas 2`` not slower than 1 at c=32 (ratio of medians >= 0.95: within the noise).

Run (``apt-get install -y wrk``; ``bash benchmarks/setup_peers.sh`` once)::

    .venv/bin/python benchmarks/serve.py              # 3 rounds, 4 s per point: ~9-10 min
    .venv/bin/python benchmarks/serve.py --quick      # a smoke run (1 round, 1 s points)
    .venv/bin/python benchmarks/serve.py --json --save /tmp/serve.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
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
ROOT = Path(__file__).resolve().parent.parent
PEERS_PY = ROOT / ".venv-peers" / "bin" / "python"
SYSTEMS = ("ort", "aimass", "aimass-r2", "fastapi-1w", "fastapi-2w", "litserve", "mlserver")
#: name -> (hparams, epochs) of the zoo MLP trained on digits
MODELS = {
    "small": ({"hidden": 128}, 5),
    "large": ({"hidden": 2048, "layers": 2}, 1),
}
GOAL_VS_FASTAPI = 1.5
GOAL_VS_PEER = 5.0
GOAL_REPLICAS = 0.95

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("AIMASS_BENCH_BODY")
-- no response() callback: it would make wrk copy every answer into Lua (wrk's own CPU);
-- answers with a status >= 400 are counted by wrk in summary.errors.status
done = function(summary, latency, requests)
  io.write(string.format(
    'AIMASS_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"socket_errors": %d, "status_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status))
end
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def versions(python: str, dists: tuple[str, ...]) -> dict[str, str | None]:
    """The installed versions of ``dists`` in the interpreter ``python`` (None: missing)."""
    code = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for d in sys.argv[1:]:\n    try: out[d] = metadata.version(d)\n"
        "    except metadata.PackageNotFoundError: out[d] = None\nprint(json.dumps(out))"
    )
    try:
        done = subprocess.run([python, "-c", code, *dists], capture_output=True, text=True)
        return dict(json.loads(done.stdout))
    except (OSError, ValueError):
        return dict.fromkeys(dists)


def environment(peers_python: str) -> dict[str, Any]:
    common = ("uvicorn", "uvloop", "httptools", "orjson", "onnxruntime", "numpy")
    out: dict[str, Any] = {
        "aimass": versions(sys.executable, ("aimass-lab", *common)),
        "peers": versions(peers_python, (*common, "fastapi", "starlette", "litserve", "pyzmq", "mlserver")),
    }  # fmt: skip
    try:
        first = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
        out["wrk"] = (first.splitlines() or [""])[0].strip() or None
    except OSError:
        out["wrk"] = None
    out["python"] = platform.python_version()
    out["cpus"] = os.cpu_count()
    out["processor"] = platform.processor() or platform.machine()
    return out


def session_options() -> Any:
    """The ONNX Runtime options of every system (those of aimass serve's engine)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (those alive now)."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


@contextlib.contextmanager
def server(cmd: list[str], port: int, env: dict[str, str]) -> Iterator[int]:
    """Start a server in its own process group; yield its pid once the body gets a 200."""
    import httpx

    # stderr goes to a file, not a pipe: a chatty server never blocks on it
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
        deadline = time.monotonic() + 180
        url = f"http://127.0.0.1:{port}{INFER_PATH}"
        body = os.environ["AIMASS_BENCH_BODY"].encode()
        headers = {"content-type": "application/json"}
        try:
            while True:
                if proc.poll() is not None:
                    errors.seek(0)
                    err = errors.read().decode(errors="replace")
                    raise RuntimeError(f"{cmd} exited with {proc.returncode}:\n{err[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.post(url, content=body, headers=headers, timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd} did not answer {url} within 180 s")
                time.sleep(0.2)
            yield proc.pid
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


def wrk(port: int, concurrency: int, duration: float, script: str) -> dict[str, Any]:
    threads = 1 if concurrency <= 8 else 2
    cmd = [
        *("wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(duration))}s"),
        *("--timeout", "10s", "-s", script, f"http://127.0.0.1:{port}{INFER_PATH}"),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(li for li in out.splitlines() if li.startswith("AIMASS_RESULT "))
    doc = json.loads(line.split(" ", 1)[1])
    seconds = doc["duration_us"] / 1e6
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    n = max(1, doc["requests"])
    return {
        "rps": doc["requests"] / seconds,
        "p50_ms": doc["p50_us"] / 1000,
        "p99_ms": doc["p99_us"] / 1000,
        "requests": doc["requests"],
        "errors": doc["socket_errors"] + doc["status_errors"],
        "client_cpu_us": client / n * 1e6,
        "client_cores": client / seconds,
    }


def measure_http(
    pid: int, port: int, concurrency: int, duration: float, script: str
) -> dict[str, Any]:
    cpu0 = tree_cpu(pid)
    r = wrk(port, concurrency, duration, script)
    cpu = tree_cpu(pid) - cpu0
    r["server_cpu_us"] = cpu / max(1, r["requests"]) * 1e6
    return r


def in_process(onnx_path: str, concurrency: int, duration: float) -> dict[str, Any]:
    """``ort``: threads calling ``session.run`` on one row (one shared session, like a server)."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_path, session_options(), providers=["CPUExecutionProvider"])
    x = np.asarray(json.loads(os.environ["AIMASS_BENCH_BODY"])["inputs"][0]["data"], np.float32)
    x = x.reshape(1, -1)
    for _ in range(50):
        session.run(None, {"input": x})
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    stop = time.perf_counter() + duration

    def loop(i: int) -> None:
        own = latencies[i]
        while (t0 := time.perf_counter()) < stop:
            session.run(None, {"input": x})
            own.append(time.perf_counter() - t0)

    cpu0 = time.process_time()
    started = time.perf_counter()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    flat = sorted(v for own in latencies for v in own)
    q = statistics.quantiles(flat, n=100, method="inclusive")
    return {
        "rps": len(flat) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "requests": len(flat),
        "errors": 0,
        "server_cpu_us": cpu / len(flat) * 1e6,
        "client_cpu_us": 0.0,
        "client_cores": 0.0,
    }


# ----------------------------------------------------------------------------------- setup
def build_model(root: Path, hparams: dict[str, Any], epochs: int) -> tuple[Path, str, str]:
    """Train a zoo MLP on digits in a workspace, register it as ``digits``, export to ONNX.

    Returns the workspace folder, the ONNX file and the ref of the ONNX version.
    """
    import aimass_lab as am
    from aimass_lab.workspace import Workspace

    ws = Workspace(root / "ws")
    with contextlib.redirect_stdout(sys.stderr):
        run = am.train(
            "digits", "mlp", hparams=hparams, max_epochs=epochs, seed=0, wait=True, workspace=ws
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
    tensor = {"name": "input", "shape": [1, 64], "datatype": "FP32", "data": row[0].tolist()}
    return json.dumps({"inputs": [tensor]})


def commands(ws: Path, onnx: str, ref: str, peers_py: str, folder: Path) -> dict[str, list[str]]:
    peers = [peers_py, str(Path(__file__).resolve().with_name("serve_peers.py"))]
    serve = [
        *(sys.executable, "-m", "aimass_lab.cli", "serve", "--workspace", str(ws)),
        *("--models", ref, "--max-batch-size", "32", "--max-delay-ms", "2"),
    ]
    return {
        "aimass": serve,
        "aimass-r2": [*serve, "--replicas", "2"],
        # the event loop the server used by default before issue 16 (uvloop): its throughput
        "aimass-uvloop": ["env", "AIMASS_SERVE_LOOP=uvloop", *serve],
        "fastapi-1w": [*peers, "fastapi", "--onnx", onnx, "--workers", "1"],
        "fastapi-2w": [*peers, "fastapi", "--onnx", onnx, "--workers", "2"],
        "litserve": [*peers, "litserve", "--onnx", onnx, "--api-servers", "2", "--workers", "1"],
        "mlserver": [*peers, "mlserver", "--onnx", onnx, "--folder", str(folder / "mlserver")],
        "litserve-w2": [*peers, "litserve", "--onnx", onnx, "--api-servers", "2", "--workers", "2"],
        "echo": [*peers, "echo"],
    }


# ----------------------------------------------------------------------------------- runs
def run_model(
    name: str, args: argparse.Namespace, tmp: Path, env: dict[str, str], systems: list[str]
) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """Every system of one model, interleaved over the rounds: ``{system: {c: [points]}}``."""
    hparams, epochs = MODELS[name]
    folder = tmp / name
    log(f"[{name}] training and exporting the zoo MLP {hparams} ({epochs} epochs) in {folder}")
    ws, onnx, ref = build_model(folder, hparams, 1 if args.quick else epochs)
    cmds = commands(ws, onnx, ref, args.peers_python, folder)
    script = str(tmp / "post.lua")
    points: dict[str, dict[int, list[dict[str, Any]]]] = {s: {} for s in systems}
    for r in range(args.rounds):
        order = systems[r % len(systems) :] + systems[: r % len(systems)]
        log(f"[{name}] round {r + 1}/{args.rounds}: {', '.join(order)}")
        for system in order:
            if system == "ort":
                for c in args.concurrency:
                    got = in_process(onnx, c, args.duration)
                    points[system].setdefault(c, []).append(got)
                    log(f"  ort c={c}: {got['rps']:.0f}/s p50 {got['p50_ms']:.3f} ms")
                continue
            try:
                run_system(system, cmds[system], args, env, script, points[system])
            except (RuntimeError, subprocess.CalledProcessError) as exc:  # the others go on
                log(f"  {system} FAILED in round {r + 1} (left out of this round): {exc}")
    return points


def run_system(
    system: str,
    cmd: list[str],
    args: argparse.Namespace,
    env: dict[str, str],
    script: str,
    into: dict[int, list[dict[str, Any]]],
) -> None:
    """Start one server, warm it up, measure every concurrency, stop it."""
    port = free_port()
    with server([*cmd, "--port", str(port)], port, env) as pid:
        wrk(port, 8, 1.0, script)  # warm-up
        for c in args.concurrency:
            got = measure_http(pid, port, c, args.duration, script)
            into.setdefault(c, []).append(got)
            log(
                f"  {system} c={c}: {got['rps']:.0f}/s p50 {got['p50_ms']:.3f} ms "
                f"p99 {got['p99_ms']:.3f} ms cpu {got['server_cpu_us']:.0f} us/req "
                f"wrk {got['client_cores']:.2f} cores errors {got['errors']}"
            )


def summarise(points: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": len(points), "errors": sum(p["errors"] for p in points)}
    for key in ("rps", "p50_ms", "p99_ms", "server_cpu_us", "client_cpu_us", "client_cores"):
        values = [float(p[key]) for p in points]
        out[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return out


def fmt_range(s: dict[str, float], digits: int) -> str:
    if s["min"] == s["max"]:
        return f"{s['median']:,.{digits}f}"
    return f"{s['median']:,.{digits}f} ({s['min']:,.{digits}f}-{s['max']:,.{digits}f})"


def fmt_table(summary: dict[str, dict[str, dict[int, dict[str, Any]]]]) -> str:
    lines = [
        "| model | system | c | requests/s | p50 ms | p99 ms | server CPU µs/req | wrk CPU µs/req | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for model, by_system in summary.items():
        for system, by_c in by_system.items():
            for c, s in sorted(by_c.items()):
                client = "-" if system == "ort" else f"{s['client_cpu_us']['median']:.0f}"
                lines.append(
                    f"| {model} | {system} | {c} | {fmt_range(s['rps'], 0)} | "
                    f"{fmt_range(s['p50_ms'], 3)} | {fmt_range(s['p99_ms'], 2)} | "
                    f"{fmt_range(s['server_cpu_us'], 0)} | {client} | {s['errors']} |"
                )
    return "\n".join(lines)


def goals(model: str, by_system: dict[str, dict[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The issue's goals on one model, from the medians (best against best)."""
    out: list[dict[str, Any]] = []

    def med(system: str, c: int, key: str) -> float | None:
        s = by_system.get(system, {}).get(c)
        return None if s is None else float(s[key]["median"])

    def best(systems: tuple[str, ...], c: int, key: str, high: bool) -> tuple[str, float | None]:
        found = [(s, v) for s in systems if (v := med(s, c, key)) is not None]
        if not found:
            return "-", None
        return (max if high else min)(found, key=lambda sv: sv[1])

    def add(goal: str, value: float | None, target: float, higher: bool, note: str) -> None:
        met = None if value is None else (value >= target if higher else value <= target)
        out.append({"model": model, "goal": goal, "value": value, "target": target,
                    "higher": higher, "met": met, "note": note})  # fmt: skip

    aim, a32 = best(("aimass", "aimass-r2"), 32, "rps", True)
    for peer, systems, target in (
        ("the best FastAPI", ("fastapi-1w", "fastapi-2w"), GOAL_VS_FASTAPI),
        ("LitServe", ("litserve", "litserve-w2"), GOAL_VS_PEER),
        ("MLServer", ("mlserver",), GOAL_VS_PEER),
    ):
        who, p32 = best(systems, 32, "rps", True)
        ratio = a32 / p32 if a32 and p32 else None
        add(f"requests/s at c=32, aimass / {peer}", ratio, target, True, f"{aim} / {who}")
    ort1 = med("ort", 1, "p50_ms")
    aim1, a1 = best(("aimass", "aimass-r2"), 1, "p50_ms", False)
    fa1, f1 = best(("fastapi-1w", "fastapi-2w"), 1, "p50_ms", False)
    if ort1 is not None and a1 is not None and f1 is not None:
        ratio: float | None = (a1 - ort1) / (f1 - ort1) if f1 > ort1 else None
        note = f"{aim1} {(a1 - ort1) * 1000:.0f} µs vs {fa1} {(f1 - ort1) * 1000:.0f} µs"
    else:
        ratio, note = None, "-"
    add("c=1 p50 overhead over in-process ORT, aimass / best FastAPI", ratio, 1.0, False, note)
    r1, r2 = med("aimass", 32, "rps"), med("aimass-r2", 32, "rps")
    if model == "small":
        add(
            "requests/s at c=32, --replicas 2 / --replicas 1", r2 / r1 if r1 and r2 else None,
            GOAL_REPLICAS, True, "must not be slower (0.95: within the noise)",
        )  # fmt: skip
    elif r1 and r2:
        out.append({"model": model, "goal": "requests/s at c=32, --replicas 2 / --replicas 1",
                    "value": r2 / r1, "target": None, "higher": True, "met": None,
                    "note": "for information"})  # fmt: skip
    return out


def fmt_goals(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | goal | value | target | verdict | systems |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for g in rows:
        value = "n/a" if g["value"] is None else f"{g['value']:.2f}x"
        target = "-" if g["target"] is None else f"{'>=' if g['higher'] else '<='} {g['target']}x"
        verdict = {True: "met", False: "**missed**", None: "-"}[g["met"]]
        lines.append(
            f"| {g['model']} | {g['goal']} | {value} | {target} | {verdict} | {g['note']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per point (4)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--concurrency", default="1,32", help="connections per point (1,32)")
    parser.add_argument("--models", default="small,large", help="small,large")
    parser.add_argument(
        "--systems", default=",".join(SYSTEMS), help="also: echo, litserve-w2, aimass-uvloop"
    )
    parser.add_argument("--peers-python", default=str(PEERS_PY), help="the peers' interpreter")
    parser.add_argument("--quick", action="store_true", help="1 round, 1 s points: a smoke run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--save", help="also write the JSON results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 1.0
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if shutil.which("wrk") is None:
        log("wrk is missing: apt-get install -y wrk")
        return 2
    if (
        any(s not in ("ort", "aimass", "aimass-r2", "aimass-uvloop") for s in systems)
        and not Path(args.peers_python).exists()
    ):
        log(f"{args.peers_python} is missing: bash benchmarks/setup_peers.sh")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="aimass-bench-serve-"))
    env = {**os.environ, "AIMASS_HOME": str(tmp / "home"), "PYTHONUNBUFFERED": "1"}
    env.pop("AIMASS_DB_URL", None)
    env_info = environment(args.peers_python)
    started = time.time()
    load_start = list(os.getloadavg())
    try:
        os.environ["AIMASS_BENCH_BODY"] = env["AIMASS_BENCH_BODY"] = body_for()
        (tmp / "post.lua").write_text(LUA, encoding="utf-8")
        summary: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
        raw: dict[str, Any] = {}
        for model in models:
            points = run_model(model, args, tmp, env, systems)
            raw[model] = {s: {str(c): v for c, v in by.items()} for s, by in points.items()}
            summary[model] = {
                s: {c: summarise(v) for c, v in by.items()} for s, by in points.items() if by
            }
        goal_rows = [g for model in models for g in goals(model, summary[model])]
        doc: dict[str, Any] = {
            "environment": env_info,
            "load_average_start": load_start,
            "load_average_end": list(os.getloadavg()),
            "minutes": (time.time() - started) / 60,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "client": f"{env_info['wrk']}: 1 thread up to c=8, 2 above",
            "summary": {
                m: {s: {str(c): v for c, v in by.items()} for s, by in bs.items()}
                for m, bs in summary.items()
            },
            "points": raw,
            "goals": goal_rows,
        }
        if args.save:
            Path(args.save).write_text(json.dumps(doc, indent=2), encoding="utf-8")
        if args.json:
            print(json.dumps(doc, indent=2))
            return 0
        print(f"environment: {json.dumps(env_info)}")
        print(
            f"load average: {load_start} at the start, {doc['load_average_end']} at the end; "
            f"{doc['minutes']:.1f} min; {args.rounds} rounds x {args.duration:g} s per point; "
            f"client: {doc['client']}"
        )
        print()
        print(fmt_table(summary))
        print()
        print(fmt_goals(goal_rows))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
