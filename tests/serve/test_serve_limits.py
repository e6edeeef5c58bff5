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
from common_helpers import wait_for
from serve_helpers import ServerProcess, model_workspace, oip_body

from aimass_lab.serve.server._engine import TEST_DELAY_ENV

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

    def batches() -> tuple[float, float]:
        """(batches of one row, all batches) served so far by version 2."""
        with server.client() as c:
            lines = c.get("/metrics").text.splitlines()
        single = [s for s in lines if s.startswith('aimass_batch_size_bucket{le="1.0"')]
        count = [s for s in lines if s.startswith("aimass_batch_size_count")]
        if not count:  # no batch yet: the histogram has no series
            return 0.0, 0.0
        return float(single[0].split()[-1]), float(count[0].split()[-1])

    single_before, count_before = batches()  # only this test's traffic is counted below
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(call, range(3)))
    single_between, count_between = batches()
    alone = [call(i) for i in range(3)]
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # while the first request's batch ran (DELAY s), the other two waited and went together
    multi = (count_between - count_before) - (single_between - single_before)
    assert multi >= 1, "none of the three concurrent requests shared a batch"
    single_after, count_after = batches()
    assert (single_after - single_between, count_after - count_between) == (3, 3)


def test_slow_answer_is_504(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    srv = ServerProcess(
        ws, tmp_path, "--models", "digits-mlp:2", "--timeout-s", "0.3", env={TEST_DELAY_ENV: "60"}
    )
    try:
        started = time.monotonic()
        r = _infer(srv.url)
        assert r.status_code == 504
        # the answer came at the timeout, not when the (60 s) batch would have finished
        assert time.monotonic() - started < 30
        assert (
            r.json()["error"]
            == "model 'digits-mlp' version 2 did not answer within 0.3 s (--timeout-s)"
        )
        assert _infer(srv.url).status_code == 504  # the server still answers
    finally:
        srv.kill()


def _queued(client: httpx.Client) -> float:
    lines = client.get("/metrics").text.splitlines()
    line = next(s for s in lines if s.startswith('aimass_queue_depth{model="digits-mlp"'))
    return float(line.split()[-1])


def test_sigterm_drains_in_flight_requests_and_exits_0(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ws = model_workspace(tmp_path_factory, tmp_path / "ws")
    server = ServerProcess(
        ws, tmp_path, "--models", "digits-mlp:2", "--max-batch-size", "2",
        env={TEST_DELAY_ENV: "2"},
    )  # fmt: skip
    clients = [server.client() for _ in range(5)]
    for c in clients:  # connected before the signal: nothing waits on a connect
        assert c.get("/v2/health/live").status_code == 200
    body = oip_body(np.zeros((2, 64), np.float32))
    try:
        with ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(c.post, "/v2/models/digits-mlp/infer", json=body) for c in clients[:3]
            ]
            wait_for(  # in flight: one batch (2 s, one request of 2 rows) running, two queued
                lambda: _queued(clients[3]) >= 2, what="two requests queued behind a running batch"
            )
            server.proc.send_signal(signal.SIGTERM)
            ready = wait_for(
                lambda: (r := clients[3].get("/v2/health/ready")).status_code == 503 and r,
                what="the server to turn not-ready after SIGTERM",
            )
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
