"""A raw-HTTP fuzz of a real server: malformed request lines, bad, huge and duplicate headers,
bad Content-Length, bad and truncated chunked bodies, garbage bytes, pipelined requests and
slowloris-style partial requests, each on its own socket. Every case is fixed bytes (no
randomness, no timing): the server answers it with a 4xx (or closes the connection), never a
5xx, and after each one still answers ``/v2/health/live`` at once and a real inference."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator

import pytest
from serve_helpers import ServerProcess, digits, model_workspace, oip_body

from aimass_lab.serve.server._http import MAX_HEAD_BYTES

TIMEOUT_S = 10.0
INFER = b"POST /v2/models/digits-mlp/infer HTTP/1.1\r\nHost: t\r\n"
LIVE = b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n"
BIG = b"a" * (MAX_HEAD_BYTES + 1)

#: name -> (bytes sent, then the write side is shut; the statuses accepted in the answer,
#: None: any status below 500, or the connection closed without one)
CASES: dict[str, tuple[bytes, set[int] | None]] = {
    "garbage": (b"\x00\x01\x02\xffgarbage\r\n\r\n", {400}),
    "tls-client-hello": (bytes.fromhex("16030100a5010000a10303") + b"\x00" * 64, {400}),
    "http2-preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400}),
    "blank-lines": (b"\r\n\r\n", None),
    "no-http-version": (b"GET /v2/health/live\r\n\r\n", None),
    "bad-http-version": (b"GET /v2/health/live HTTP/9.9\r\n\r\n", {400}),
    "extra-token-in-request-line": (b"GET /v2/health/live HTTP/1.1 x\r\nHost: t\r\n\r\n", {400}),
    "bad-method-characters": (b"G@T /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n", {400}),
    "unknown-method": (b"BREW /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n", {400, 405}),
    "lf-only-line-ends": (b"GET /v2/health/live HTTP/1.1\nHost: t\n\n", None),
    "absolute-uri": (b"GET http://t/v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n", {200}),
    "http-1.0-no-host": (b"GET /v2/health/live HTTP/1.0\r\n\r\n", {200}),
    "percent-garbage-in-path": (b"GET /v2/models/%zz%00/ready HTTP/1.1\r\nHost: t\r\n\r\n", None),
    "nul-in-path": (b"GET /v2/models/a\x00b/ready HTTP/1.1\r\nHost: t\r\n\r\n", {400}),
    "dot-dot-path": (b"GET /v2/models/../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n", {404}),
    "header-without-colon": (b"GET /v2/health/live HTTP/1.1\r\nHost t\r\n\r\n", {400}),
    "space-before-colon": (b"GET /v2/health/live HTTP/1.1\r\nHost : t\r\n\r\n", {400}),
    "control-char-in-header-name": (b"GET /v2/health/live HTTP/1.1\r\nH\x01st: t\r\n\r\n", {400}),
    "obsolete-line-folding": (b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", {400}),
    "huge-url": (b"GET /" + BIG + b" HTTP/1.1\r\nHost: t\r\n\r\n", {431}),
    "huge-header": (b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nX-Big: " + BIG + b"\r\n\r\n", {431}),
    "many-headers": (
        b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEAD_BYTES // 8))
        + b"\r\n",
        {431},
    ),
    "two-content-lengths": (INFER + b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}", {400}),
    "negative-content-length": (INFER + b"Content-Length: -1\r\n\r\n{}", {400}),
    "text-content-length": (INFER + b"Content-Length: abc\r\n\r\n{}", {400}),
    "signed-content-length": (INFER + b"Content-Length: +2\r\n\r\n{}", {400}),
    "content-length-past-64-bits": (INFER + b"Content-Length: 99999999999999999999999\r\n\r\n{}", {400}),
    "content-length-and-chunked": (
        INFER + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        {400},
    ),
    "unknown-transfer-encoding": (INFER + b"Transfer-Encoding: gzip\r\n\r\n{}", {400}),
    "chunk-size-not-hex": (INFER + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", {400}),
    "chunk-size-past-64-bits": (
        INFER + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
        {400},
    ),
    "chunk-without-crlf": (INFER + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", {400}),
    "chunk-extension-garbage": (
        INFER + b"Transfer-Encoding: chunked\r\n\r\n2;\x01\x02\r\n{}\r\n0\r\n\r\n",
        {400},
    ),
    "chunked-malformed-json": (
        INFER + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{x\r\n0\r\n\r\n",
        {400},
    ),
    "truncated-chunked-body": (INFER + b"Transfer-Encoding: chunked\r\n\r\n100\r\nabc", None),
    "truncated-body": (INFER + b"Content-Length: 1000\r\n\r\n" + b'{"inputs": [', None),
    "headers-never-finished": (INFER + b"Content-Length: 2\r\nX-Half: ", None),
    "expect-100-continue": (INFER + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", {100, 400}),
    "websocket-upgrade": (
        b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n",
        None,
    ),
    "h2c-upgrade": (
        b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        None,
    ),
    "get-with-a-body": (b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello", {200}),
    "pipelined-then-garbage": (LIVE + b"\x16\x03garbage\r\n\r\n", {200, 400}),
}  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    ws = model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-raw") / "ws")
    # httptools (the serve extra, installed with dev): the parser these answers are from
    srv = ServerProcess(
        ws,
        tmp_path_factory.mktemp("serve-raw-run"),
        "--models",
        "digits-mlp:2",
        env={"AIMASS_SERVE_HTTP": "httptools"},
    )
    yield srv
    assert srv.terminate() == 0, srv.log()


def _connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)


def _read_until_closed(sock: socket.socket, case: str) -> bytes:
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return out  # closed by the server before it read all we sent: no answer lost
        except TimeoutError:
            raise AssertionError(
                f"case {case!r}: the server neither answered nor closed the connection "
                f"within {TIMEOUT_S} s of the request's end"
            ) from None
        if not chunk:
            return out
        out += chunk


def _responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The HTTP/1.1 answers in ``raw``, in order: (status, headers, body)."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        assert sep and match, f"not an HTTP answer: {raw[:200]!r}"
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        out.append((int(match.group(1)), headers, rest[:length]))
        raw = rest[length:]
    return out


def _still_serves(server: ServerProcess, case: str) -> None:
    assert server.proc.poll() is None, f"case {case!r} killed the server:\n{server.log()[-3000:]}"
    with _connect(server) as sock:
        start = time.perf_counter()
        sock.sendall(LIVE)
        sock.shutdown(socket.SHUT_WR)
        answers = _responses(_read_until_closed(sock, f"health after {case}"))
        took = time.perf_counter() - start
    assert [a[0] for a in answers] == [200], f"after case {case!r}: {answers}"
    assert took < 2.0, f"after case {case!r}: /v2/health/live took {took:.2f} s"


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_request_is_refused_and_the_server_keeps_serving(
    server: ServerProcess, case: str
) -> None:
    data, accepted = CASES[case]
    with _connect(server) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused (and closed) before it read everything: fine
        answers = _responses(_read_until_closed(sock, case))
    statuses = [a[0] for a in answers]
    assert all(s < 500 for s in statuses), f"case {case!r}: a server error: {answers}"
    if accepted is not None:
        assert statuses and set(statuses) <= accepted, f"case {case!r}: {answers}"
    _still_serves(server, case)


def test_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    _, x = digits(2)
    body = json.dumps(oip_body(x)).encode()
    infer = INFER + b"Content-Length: %d\r\n\r\n" % len(body) + body
    ready = b"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\n\r\n"
    missing = b"GET /v2/models/nope/ready HTTP/1.1\r\nHost: t\r\n\r\n"
    close = b"GET /v2/health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    with _connect(server) as sock:
        # one write: six requests, the last one closing the connection (a client that
        # half-closes its side instead gets the answer of the request in progress only)
        sock.sendall(LIVE + infer + missing + ready + infer + close)
        answers = _responses(_read_until_closed(sock, "pipelined"))
    assert [a[0] for a in answers] == [200, 200, 404, 200, 200, 200], answers
    assert json.loads(answers[1][2])["outputs"][0]["shape"][0] == 2
    assert answers[1][2] == answers[4][2]


def test_slowloris_connections_do_not_starve_the_others(server: ServerProcess) -> None:
    """Fifty connections that stop in the middle of a request line, of the headers or of
    the body stay open while health and inference answer at once, then go away."""
    partial = [
        b"GET /v2/hea",
        INFER + b"X-Slow: 1\r\n",
        INFER + b"Content-Length: 100000\r\n\r\n" + b'{"inputs": [',
        INFER + b"Transfer-Encoding: chunked\r\n\r\n10\r\nab",
    ]
    held = []
    try:
        for i in range(50):
            sock = _connect(server)
            held.append(sock)
            sock.sendall(partial[i % len(partial)])
        _still_serves(server, "slowloris")
        _, x = digits(1)
        with server.client() as c:
            start = time.perf_counter()
            r = c.post("/v2/models/digits-mlp/infer", json=oip_body(x))
            assert r.status_code == 200, r.text
            assert time.perf_counter() - start < 2.0
    finally:
        for sock in held:
            sock.close()
    _still_serves(server, "slowloris, closed")


def test_after_the_fuzz_a_real_inference_works(server: ServerProcess) -> None:
    for data, _ in CASES.values():  # every case once more, back to back, then a real client
        with _connect(server) as sock:
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            _read_until_closed(sock, "replay")
    raw, _ = digits(4)
    with server.client() as c:
        r = c.post("/v1/models/digits-mlp/predict", json={"inputs": raw.tolist()})
        assert r.status_code == 200, r.text
        assert len(r.json()["predictions"]) == 4
    assert "Traceback" not in server.log(), server.log()[-3000:]
