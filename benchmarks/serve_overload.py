#!/usr/bin/env python
"""Overload benchmark of ``aimass serve``: how fast refusals and health answers come while a
flood of clients saturates the server, on each event loop, side by side.

One digits MLP (ONNX) is served with a small queue (``--queue-size 16``). ``wrk`` floods the
JSON route ``/v1/models/digits/predict`` from 400 keep-alive connections (closed loop, one
row per request: most get 429). Meanwhile a probe — its own process, so that the flood does not
slow its clock — opens a new connection every 20 ms and sends, in turn, a prediction and a
``GET /v2/health/live``, timing each answer by status. Reported per event loop (uvloop, when
installed, and asyncio), over interleaved rounds: the flood's throughput and the share of it
served (2xx), the probe's p50/p99/max for 429, 200 and health, and wrk's timeouts (2 s).
The goal (issue 16): 429 within 50 ms at p99 while saturated. A second phase sends 40
malformed 15 MB bodies at once and reports the server's peak memory (RSS of its process tree)
and health-check latency meanwhile (issue 16 measured 264 -> 897 MB and 2-6 s before the
body budget).

    .venv/bin/python benchmarks/serve_overload.py [--rounds 3] [--duration 10] [--json]
    .venv/bin/python benchmarks/serve_overload.py --quick        # a smoke run

Needs ``wrk`` (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PATH = "/v1/models/digits/predict"
BODY = json.dumps({"inputs": [[float(i % 16) for i in range(64)]]})
WRK_LUA = f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{BODY}'
"""
PROBE = r"""
import json, socket, sys, time
port, seconds, path, body = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
body = body.encode()
requests = {
    "predict": (f"POST {path} HTTP/1.1\r\nHost: p\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body,
    "health": b"GET /v2/health/live HTTP/1.1\r\nHost: p\r\n\r\n",
}
out, errors, i = {}, 0, 0
stop = time.monotonic() + seconds
while time.monotonic() < stop:
    kind = "health" if i % 2 else "predict"
    i += 1
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(requests[kind])
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk
        status = data.split(b" ", 2)[1].decode()
        key = "health" if kind == "health" else status
        out.setdefault(key, []).append(time.perf_counter() - t0)
    except OSError:
        errors += 1
    time.sleep(0.02)
print(json.dumps({"latency": out, "errors": errors}))
"""


def log(msg: str) -> None:
    print(f"[overload] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_model(root: Path) -> None:
    """A digits MLP trained for one epoch, exported to ONNX: ``digits:2`` (``digits:1``: torch)."""
    import aimass_lab as am
    from aimass_lab.workspace import Workspace

    ws = Workspace(root / "ws")
    with contextlib.redirect_stdout(sys.stderr):
        run = am.train("digits", "mlp", hparams={"hidden": 32}, max_epochs=1, seed=0,
                       wait=True, workspace=ws)  # fmt: skip
        if run.status != "succeeded":
            raise RuntimeError(f"training {run.status}: {run.logs(tail=20)}")
        am.export_onnx(run.register("digits"), workspace=ws)


@contextlib.contextmanager
def server(root: Path, loop: str, *extra: str) -> Iterator[tuple[int, int]]:
    port = free_port()
    ready = root / f"ready-{port}.json"
    cmd = [
        sys.executable, "-m", "aimass_lab.cli", "serve", "--workspace", str(root / "ws"),
        "--models", "digits:2", "--port", str(port), "--queue-size", "16",
        "--ready-file", str(ready), *extra,
    ]  # fmt: skip
    env = {**os.environ, "AIMASS_SERVE_LOOP": loop}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {loop} server did not start")
            time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(60)


def flood(port: int, seconds: float, lua: str) -> dict[str, Any]:
    """wrk (400 connections) and the probe at once; their numbers."""
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE, str(port), str(seconds), PATH, BODY],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out = subprocess.run(
        ["wrk", "-t1", "-c400", f"-d{seconds:g}s", "-s", lua, f"http://127.0.0.1:{port}{PATH}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    probed = json.loads(probe.communicate(timeout=120)[0])
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    result: dict[str, Any] = {
        "req_s": total / seconds,
        "served_pct": 100.0 * (total - (int(non2xx.group(1)) if non2xx else 0)) / max(total, 1),
        "wrk_timeouts": int(timeouts.group(1)) if timeouts else 0,
        "probe_errors": probed["errors"],
    }
    for key, values in probed["latency"].items():
        ms = sorted(v * 1000 for v in values)
        result[key] = {
            "n": len(ms),
            "p50": statistics.median(ms),
            "p99": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
            "max": ms[-1],
        }
    return result


BODY_SCRIPT = r"""
import asyncio, json, sys, time
import psutil
port, pid = int(sys.argv[1]), int(sys.argv[2])
n, size = 40, 15 * 1024 * 1024
body = b"[" + b"1.5," * (size // 4 - 1) + b"x"  # malformed at its very end
head = (f"POST /v1/models/digits/predict HTTP/1.1\r\nHost: b\r\nContent-Type: "
        f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
root = psutil.Process(pid)
def rss():
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
before = peak = rss()
async def send():
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(head + body)
    await w.drain()
    line = await r.readuntil(b"\r\n")
    w.close()
    return int(line.split()[1])
async def health(stop, lat):
    while not stop.is_set():
        t = time.perf_counter()
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /v2/health/live HTTP/1.1\r\nHost: b\r\n\r\n")
        await r.readuntil(b"\r\n\r\n")
        w.close()
        lat.append(time.perf_counter() - t)
        await asyncio.sleep(0.05)
async def watch(stop):
    global peak
    while not stop.is_set():
        peak = max(peak, rss())
        await asyncio.sleep(0.02)
async def main():
    stop, lat = asyncio.Event(), []
    tasks = [asyncio.create_task(health(stop, lat)), asyncio.create_task(watch(stop))]
    codes = await asyncio.gather(*(send() for _ in range(n)))
    stop.set()
    await asyncio.gather(*tasks)
    lat.sort()
    print(json.dumps({"rss_before_mb": before >> 20, "rss_peak_mb": peak >> 20,
                      "statuses": sorted(set(codes)), "health_p50_ms": 1000 * lat[len(lat) // 2],
                      "health_max_ms": 1000 * lat[-1]}))
asyncio.run(main())
"""


def big_bodies(port: int, pid: int) -> dict[str, Any]:
    """40 malformed 15 MB bodies at once: peak memory and health latency meanwhile."""
    out = subprocess.run(
        [sys.executable, "-c", BODY_SCRIPT, str(port), str(pid)],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def loops() -> list[str]:
    try:
        import uvloop  # noqa: F401

        return ["uvloop", "asyncio"]
    except ImportError:
        return ["asyncio"]


def fmt(rows: dict[str, list[dict[str, Any]]]) -> str:
    def med(runs: list[dict[str, Any]], key: str, sub: str | None = None) -> str:
        vals = [r[key][sub] if sub else r[key] for r in runs if key in r]
        if not vals:
            return "-"
        return f"{statistics.median(vals):.0f} ({min(vals):.0f}-{max(vals):.0f})"

    lines = [
        "| loop | flood req/s | served % | 429 p50 / p99 / max ms | 200 p50 / p99 ms "
        "| health p50 / p99 / max ms | wrk timeouts |",
        "|---|---|---|---|---|---|---|",
    ]
    for loop, runs in rows.items():
        lines.append(
            f"| {loop} | {med(runs, 'req_s')} | {med(runs, 'served_pct')} "
            f"| {med(runs, '429', 'p50')} / {med(runs, '429', 'p99')} / {med(runs, '429', 'max')} "
            f"| {med(runs, '200', 'p50')} / {med(runs, '200', 'p99')} "
            f"| {med(runs, 'health', 'p50')} / {med(runs, 'health', 'p99')} / "
            f"{med(runs, 'health', 'max')} | {med(runs, 'wrk_timeouts')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="1 round of 3 s: a smoke run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 3.0
    load_before = os.getloadavg()[0]
    if shutil.which("wrk") is None:
        log("wrk is missing: apt-get install -y wrk")
        return 2
    with tempfile.TemporaryDirectory(prefix="aimass-overload-") as tmp:
        root = Path(tmp)
        log("training and exporting the digits MLP")
        build_model(root)
        lua = root / "flood.lua"
        lua.write_text(WRK_LUA)
        rows: dict[str, list[dict[str, Any]]] = {loop: [] for loop in loops()}
        for r in range(args.rounds):
            order = list(rows)[r % len(rows) :] + list(rows)[: r % len(rows)]
            for loop in order:
                with server(root, loop) as (port, _):
                    log(f"round {r + 1}: {loop}")
                    rows[loop].append(flood(port, args.duration, str(lua)))
        bodies = {}
        for loop in rows:
            with server(root, loop, "--max-body-bytes", str(20 << 20)) as (port, pid):
                log(f"large bodies: {loop}")
                bodies[loop] = big_bodies(port, pid)
    if args.json:
        print(json.dumps({"flood": rows, "bodies": bodies}, indent=1))
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(
        f"machine: {machine}; load average before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f}"
    )
    print(f"{args.rounds} round(s) of {args.duration:g} s; median (min-max) over rounds\n")
    print(fmt(rows))
    print("\n40 malformed 15 MB bodies at once (--max-body-bytes 20 MiB):\n")
    print("| loop | RSS before MB | RSS peak MB | answers | health p50 / max ms |")
    print("|---|---|---|---|---|")
    for loop, b in bodies.items():
        print(f"| {loop} | {b['rss_before_mb']} | {b['rss_peak_mb']} | {b['statuses']} "
              f"| {b['health_p50_ms']:.0f} / {b['health_max_ms']:.0f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
