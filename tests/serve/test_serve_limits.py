"""Limits of a real server: 413 before the body is read, 429 on a full queue, 504 on timeout,
batches formed under load, and a SIGTERM drain that loses no in-flight request (exit 0).

Batches sleep 0.25 s (a testing knob of the engine), so queues fill and requests stay in flight.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from serve_helpers import ServerProcess, model_workspace, oip_body

from aimass_lab.serve._engine import TEST_DELAY_ENV

DELAY = 0.25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    ws = model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-limits") / "ws")
    srv = ServerProcess(
        ws,
        tmp_path_factory.mktemp("serve-limits-run"),
        "--models", "digits-mlp:2",
        "--max-body-bytes", "65536",
        "--max-batch-size", "8",
        "--queue-size", "3",
        "--timeout-s", "2",
        env={TEST_DELAY_ENV: str(DELAY)},
    )  # fmt: skip
    yield srv
    srv.kill()


def _infer(url: str, rows: int = 1, timeout: float = 30) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=timeout) as c:
        return c.post(
            "/v2/models/digits-mlp/infer", json=oip_body(np.zeros((rows, 64), np.float32))
        )


def test_declared_body_above_the_limit_is_413(server: ServerProcess) -> None:
    with server.client() as c:
        r = c.post("/v2/models/digits-mlp/infer", content=b"x" * 100_000)
    assert r.status_code == 413
    assert "above the server's limit of 65536 bytes" in r.json()["error"]


def test_streamed_body_above_the_limit_is_413(server: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    with server.client() as c:
        r = c.post("/v1/models/digits-mlp/predict", content=chunks())
    assert r.status_code == 413
    assert "larger than the server's limit" in r.json()["error"]


def test_full_queue_is_429_with_retry_after(server: ServerProcess) -> None:
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda _: _infer(server.url, rows=8), range(12)))
    codes = sorted(r.status_code for r in responses)
    assert 429 in codes and 200 in codes, codes
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert "queue of model 'digits-mlp' version 2 is full (3 requests)" in refused.json()["error"]


def test_batches_form_under_load_and_answers_stay_separate(server: ServerProcess) -> None:
    x = np.random.default_rng(0).normal(size=(6, 64)).astype(np.float32)

    def call(i: int) -> np.ndarray:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            r = c.post("/v2/models/digits-mlp/infer", json=oip_body(x[i : i + 1]))
            assert r.status_code == 200, r.text
            return np.reshape(r.json()["outputs"][0]["data"], (1, 10))

    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(call, range(3)))
    alone = [call(i) for i in range(3)]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    with server.client() as c:
        text = c.get("/metrics").text
    line = next(s for s in text.splitlines() if s.startswith('aimass_batch_size_bucket{le="1.0"'))
    count = next(s for s in text.splitlines() if s.startswith("aimass_batch_size_count"))
    assert float(line.split()[-1]) < float(count.split()[-1]), "no batch held more than one row"


def test_slow_answer_is_504(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    srv = ServerProcess(
        ws, tmp_path, "--models", "digits-mlp:2", "--timeout-s", "0.3", env={TEST_DELAY_ENV: "1.0"}
    )
    try:
        started = time.monotonic()
        r = _infer(srv.url)
        assert r.status_code == 504
        assert time.monotonic() - started < 0.95
        assert (
            r.json()["error"]
            == "model 'digits-mlp' version 2 did not answer within 0.3 s (--timeout-s)"
        )
        time.sleep(1.0)
        assert _infer(srv.url).status_code == 504  # the server still answers
    finally:
        srv.kill()


def test_sigterm_drains_in_flight_requests_and_exits_0(server: ServerProcess) -> None:
    """Runs last in the module: it stops the module's server."""
    clients = [server.client() for _ in range(5)]
    for c in clients:  # connected before the signal: nothing waits on a connect
        assert c.get("/v2/health/live").status_code == 200
    body = oip_body(np.zeros((2, 64), np.float32))
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(c.post, "/v2/models/digits-mlp/infer", json=body) for c in clients[:3]
            ]
            time.sleep(0.15)  # in flight: one batch running, the others queued
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.05)
            ready = clients[3].get("/v2/health/ready")
            late = clients[4].post("/v2/models/digits-mlp/infer", json=body)
            results = [f.result() for f in futures]
    finally:
        for c in clients:
            c.close()
    assert ready.status_code == 503 and ready.json() == {"ready": False, "error": "shutting down"}
    assert late.status_code == 503 and "shutting down" in late.json()["error"]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert all(r.json()["outputs"][0]["shape"] == [2, 10] for r in results)
    assert server.proc.wait(30) == 0, server.log()
    assert "draining" in server.log()
    assert json.loads(server.ready_file.read_text())["pid"] == server.pid
