"""Replica worker processes: least-loaded dispatch, kill -9 of a worker mid-batch (fast 5xx,
restart, ready again), replicas loaded through the admin API."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from common_helpers import wait_for
from serve_helpers import ServerProcess, model_workspace, oip_body

from aimass_lab.serve import Client
from aimass_lab.serve.server._engine import TEST_DELAY_ENV

ADMIN = "admin-secret"
#: Seconds every batch takes: long enough that the bounds below leave seconds to spare.
DELAY = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    ws = model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-replicas") / "ws")
    srv = ServerProcess(
        ws,
        tmp_path_factory.mktemp("serve-replicas-run"),
        "--models", "digits-mlp:2",
        "--replicas", "2",
        "--admin", "--admin-key-env", "B1_ADMIN_KEY",
        env={TEST_DELAY_ENV: str(DELAY), "B1_ADMIN_KEY": ADMIN},
    )  # fmt: skip
    yield srv
    assert srv.terminate() == 0, srv.log()


def _version(server: ServerProcess) -> dict:
    return Client(server.url, admin_key=ADMIN).admin_models()[0]["versions"][0]


def _clients(server: ServerProcess, n: int) -> list[httpx.Client]:
    """Clients already connected, so a request goes out at once."""
    clients = [server.client() for _ in range(n)]
    for c in clients:
        assert c.get("/v2/health/live").status_code == 200
    return clients


def _infer(c: httpx.Client) -> tuple[int, float, httpx.Response]:
    start = time.monotonic()
    r = c.post("/v2/models/digits-mlp/infer", json=oip_body(np.zeros((1, 64), np.float32)))
    return r.status_code, time.monotonic() - start, r


def test_two_worker_processes_share_the_load(server: ServerProcess) -> None:
    entry = _version(server)
    assert entry["replicas"] == 2 and len(entry["workers"]) == 2 and entry["ready"]
    assert server.pid not in entry["workers"]
    clients = _clients(server, 2)
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        futures = []
        for c in clients:
            futures.append(pool.submit(_infer, c))
            time.sleep(0.3)  # apart, so that they are two batches, not one
        results = [f.result() for f in futures]
    assert [code for code, _, _ in results] == [200, 200]
    # least-loaded: the two batches ran side by side on the two workers, not one after the
    # other (that would take 2 x DELAY)
    assert time.monotonic() - started < 2 * DELAY - 0.5


def test_kill_9_of_a_worker_mid_batch(server: ServerProcess) -> None:
    before = _version(server)["workers"]
    clients = _clients(server, 3)
    with ThreadPoolExecutor(2) as pool:
        futures = []
        for c in clients[:2]:
            futures.append(pool.submit(_infer, c))
            # apart, so that they are two batches (arriving together they may form one)
            time.sleep(0.3)
        time.sleep(0.3)  # both batches are running (for DELAY s), one on each worker
        os.kill(before[0], signal.SIGKILL)
        results = [f.result() for f in futures]
    codes = sorted(code for code, _, _ in results)
    assert codes == [200, 503], [r.text for _, _, r in results]
    crashed = next(r for code, _, r in results if code == 503)
    assert "died while running this request's batch" in crashed.json()["error"]
    assert crashed.headers["retry-after"] == "1"
    # answered quickly: well before the killed batch would have finished
    assert min(elapsed for _, elapsed, _ in results) < 0.9 + DELAY - 1.0
    # the worker is started again and the version serves with two workers

    def restarted() -> dict | None:
        entry = _version(server)
        return entry if len(entry["workers"]) == 2 and entry["restarts"] >= 1 else None

    entry = wait_for(restarted, what="the killed worker to be started again")
    assert entry["restarts"] == 1 and len(entry["workers"]) == 2, entry
    assert before[0] not in entry["workers"] and before[1] in entry["workers"]
    # the death and the restart are in the server's log: pid, signal, what was restarted
    (new,) = set(entry["workers"]) - {before[1]}
    log = server.log()
    died = (
        rf"\[aimass serve\] replica worker (\d) \(pid {before[0]}\) of digits-mlp:2 died: "
        r"killed by signal SIGKILL \(9\); 1 batch\(es\) in flight failed \(503\); restarting it"
    )
    match = re.search(died, log)
    assert match is not None, log
    again = (
        rf"[aimass serve] replica worker {match.group(1)} of digits-mlp:2 restarted "
        f"(pid {new}, restart 1 of this version)"
    )
    assert again in log, log
    assert _infer(clients[2])[0] == 200
    with server.client() as c:
        assert c.get("/v2/models/digits-mlp/ready").status_code == 200
        assert (
            'aimass_worker_restarts_total{model="digits-mlp",version="2"} 1.0'
            in c.get("/metrics").text
        )


def test_admin_load_with_replicas_and_process_isolation(server: ServerProcess) -> None:
    c = Client(server.url, admin_key=ADMIN)
    entry = c.load(
        "digits-one",
        "digits-mlp:3",
        replicas=1,
        isolation="process",
        batching={"max_batch_size": 4},
    )
    assert entry["version"] == "3" and entry["ready"] and len(entry["workers"]) == 1
    assert entry["batching"]["max_batch_size"] == 4
    with server.client() as h:
        # 5 rows go as batches of 4 and 1 to the worker process, one answer
        r = h.post("/v2/models/digits-one/infer", json=oip_body(np.zeros((5, 64))))
        assert r.status_code == 200 and r.json()["outputs"][0]["shape"] == [5, 10], r.text
    assert c.predict("digits-one", [[0.0] * 64])["version"] == "3"
    c.unload("digits-one")
    assert [m["name"] for m in c.admin_models()] == ["digits-mlp"]
