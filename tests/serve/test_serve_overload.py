"""A real server under pressure: a full queue refuses before the body is read, large bodies
share a byte budget (waiting unread, then 503), and a SIGTERM drain answers every request that
reached it (200 or 503 + ``Connection: close``) and resets none.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from common_helpers import wait_for
from serve_helpers import ServerProcess, model_workspace, oip_body

from aimass_lab.serve.server._engine import TEST_DELAY_ENV

INFER = "/v2/models/digits-mlp/infer"
PREDICT = "/v1/models/digits-mlp/predict"


def _raw_request(port: int, head: bytes, body: bytes = b"", timeout: float = 30) -> bytes:
    """Send ``head`` (+ ``body``) on a new connection; the answer's bytes (until it closes or a
    whole answer came)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        return _read_answer(s)


def _read_answer(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed without a whole answer (got {data!r})")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed in the middle of an answer (got {data + rest!r})")
        rest += chunk
    return head + b"\r\n\r\n" + rest


def _post_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _gauge(server: ServerProcess, name: str, model: bool = True) -> float:
    with server.client() as c:
        lines = c.get("/metrics").text.splitlines()
    prefix = f'{name}{{model="digits-mlp"' if model else f"{name} "
    return float(next(s for s in lines if s.startswith(prefix)).split()[-1])


# ------------------------------------------------------------------------- a full queue
@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One batch at a time, each taking 4 s; a queue of one request."""
    root = tmp_path_factory.mktemp("serve-overload")
    srv = ServerProcess(
        model_workspace(tmp_path_factory, root / "ws"), root,
        "--models", "digits-mlp:2", "--max-batch-size", "1", "--queue-size", "1",
        "--timeout-s", "60", env={TEST_DELAY_ENV: "4"},
    )  # fmt: skip
    yield srv
    srv.kill()


def test_a_full_queue_refuses_before_reading_the_body(slow_server: ServerProcess) -> None:
    body = oip_body(np.zeros((1, 64), np.float32))
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(httpx.post, slow_server.url + INFER, json=body, timeout=60)
        wait_for(  # taken by a batch (4 s): in flight, not queued
            lambda: (
                _gauge(slow_server, "aimass_requests_in_flight", model=False) == 1
                and _gauge(slow_server, "aimass_queue_depth") == 0
            ),
            what="the first request to be taken by a batch",
            every=0.05,
        )
        queued = pool.submit(httpx.post, slow_server.url + INFER, json=body, timeout=60)
        wait_for(
            lambda: _gauge(slow_server, "aimass_queue_depth") == 1,
            what="a second request queued behind the running batch",
            every=0.05,
        )
        # headers of a 100 kB body, and no body: the answer must not wait for it
        answer = _raw_request(slow_server.port, _post_head(INFER, 100_000))
        assert queued.result().status_code == 200
        assert running.result().status_code == 200
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429"), answer
    assert b"retry-after: 1" in head.lower()
    assert (
        "queue of model 'digits-mlp' version 2 is full (1 requests)" in json.loads(payload)["error"]
    )


# ----------------------------------------------------------------------- the body budget
def test_large_bodies_wait_for_their_share_of_the_budget(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    mib = 1024 * 1024
    with_budget = ServerProcess(
        model_workspace(tmp_path_factory, tmp_path / "ws"), tmp_path,
        "--models", "digits-mlp:2", "--max-body-bytes", str(mib),
        "--max-body-bytes-in-flight", str(mib), "--timeout-s", "2",
    )  # fmt: skip
    size = 700_000
    garbage = b"[" + b"1," * ((size - 2) // 2) + b"]"
    garbage = garbage[: size - 1] + b"]"
    try:
        holder = socket.create_connection(("127.0.0.1", with_budget.port), timeout=30)
        holder.sendall(_post_head(PREDICT, size) + garbage[:100_000])
        wait_for(
            lambda: _gauge(with_budget, "aimass_body_bytes_in_flight", model=False) == size,
            what="the first large body to hold its bytes of the budget",
            every=0.05,
        )
        with httpx.Client(base_url=with_budget.url, timeout=30) as c:
            refused = c.post(PREDICT, content=garbage)  # waits its 2 s (--timeout-s), then 503
            assert c.get("/v2/health/live").status_code == 200
        holder.sendall(garbage[100_000:])
        first = _read_answer(holder)
        holder.close()
        wait_for(
            lambda: _gauge(with_budget, "aimass_body_bytes_in_flight", model=False) == 0,
            what="the budget to be given back",
            every=0.05,
        )
        with httpx.Client(base_url=with_budget.url, timeout=30) as c:
            after = c.post(PREDICT, content=garbage)
    finally:
        with_budget.kill()
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert "busy reading other large request bodies" in refused.json()["error"]
    assert "--max-body-bytes-in-flight" in refused.json()["error"]
    assert first.startswith(b"HTTP/1.1 400"), first[:200]  # read, parsed, refused as it is
    assert after.status_code == 400, after.text  # the budget is free again


# ---------------------------------------------------------------------------- the drain
class _Clients:
    """Threads sending predict requests until the server is gone: ``keepalive`` ones reuse a
    connection (a new one after ``Connection: close``), ``fresh`` ones open one per request.
    Every outcome is counted: a status, ``refused`` (no listener: the server stopped) or
    ``reset`` (a request that reached the server and got no whole answer)."""

    def __init__(self, port: int, keepalive: int, fresh: int) -> None:
        self.port = port
        self.outcomes: Counter[str] = Counter()
        self.problems: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        body = json.dumps({"inputs": [[0.0] * 64]}).encode()
        self.request = _post_head(PREDICT, len(body)) + body
        self.threads = [
            threading.Thread(target=self._run, args=(k < keepalive,), daemon=True)
            for k in range(keepalive + fresh)
        ]
        for t in self.threads:
            t.start()

    def _count(self, outcome: str, problem: str | None = None) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            if problem:
                self.problems.append(problem)

    def _run(self, keepalive: bool) -> None:
        conn: socket.socket | None = None
        while not self.stop.is_set():
            if conn is None:
                try:
                    conn = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                except ConnectionRefusedError:
                    self._count("refused")
                    return  # the server stopped listening: this client is done
            try:
                conn.sendall(self.request)
                answer = _read_answer(conn)
            except OSError as exc:
                self._count("reset", f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = None
                continue
            head = answer.partition(b"\r\n\r\n")[0].lower()
            status = head.split(b" ", 2)[1].decode()
            closing = b"connection: close" in head
            if status == "503" and not (closing and b"retry-after: 1" in head):
                self._count(status, f"503 without connection: close + retry-after: {head!r}")
            else:
                self._count(status)
            if closing or not keepalive:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def join(self) -> None:
        for t in self.threads:
            t.join(60)
            assert not t.is_alive(), "a client thread did not finish within 60 s"


def test_a_drain_answers_every_request_and_resets_none(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = ServerProcess(
        model_workspace(tmp_path_factory, tmp_path / "ws"), tmp_path, "--models", "digits-mlp:2"
    )
    clients = _Clients(server.port, keepalive=4, fresh=4)
    try:
        wait_for(lambda: clients.outcomes["200"] >= 50, what="50 answers before SIGTERM")
        server.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: clients.outcomes["503"] >= 10, what="503s while the server drains")
        code = server.proc.wait(60)
        clients.join()
    finally:
        clients.stop.set()
        server.kill()
    assert code == 0, server.log()
    assert clients.problems == [], (clients.problems[:5], dict(clients.outcomes))
    assert set(clients.outcomes) <= {"200", "503", "refused"}, dict(clients.outcomes)
    assert "draining" in server.log()
