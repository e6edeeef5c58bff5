"""Run the server: listen, load the models, write the ready file, drain on SIGTERM, exit 0."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aimass_lab._io import atomic_write_json
from aimass_lab.errors import AimassError
from aimass_lab.serve.server._config import ServerConfig
from aimass_lab.serve.server._http import MAX_HEAD_BYTES, http_protocol
from aimass_lab.serve.server._loading import load
from aimass_lab.serve.server._router import log
from aimass_lab.serve.server._schemas import LoadRequest
from aimass_lab.settings import settings

if TYPE_CHECKING:
    from aimass_lab.serve.server._app import ServeApp

__all__ = ["PortInUse", "run_server", "serve"]


class PortInUse(AimassError):
    """The server's port is taken (a deploy that asked for no port then takes a free one)."""


#: Allocations between two collections of the youngest generation, once the server is ready.
GC_GEN0_THRESHOLD = 50_000
#: At the end of a drain, how long open connections may still send a request (and get 503).
_SETTLE_S = 1.0

_SO_ATTACH_FILTER = 26  # Linux, <asm-generic/socket.h>

_EARLY_STOP: list[int] = []  # SIGTERM before uvicorn took over the signals


def _uvicorn_server(config: Any, app: Any) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn, but SIGTERM/SIGINT start a drain instead of an immediate shutdown."""

        def install_signal_handlers(self) -> None:  # older uvicorn
            return

        def handle_exit(self, sig: int, frame: Any) -> None:
            if app.draining:
                if sig == signal.SIGINT:  # a second Ctrl-C: stop now
                    self.force_exit = True
                    self.should_exit = True
                return
            app.draining = True  # /v2/health/ready -> 503; new requests -> 503

    return _Server(config)


async def serve(
    config: ServerConfig,
    on_ready: Callable[[dict[str, Any]], Any] | None = None,
    on_stop: Callable[[str | None], Any] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, idle or its kernel gone (then drain): :func:`run_server`."""
    import uvicorn

    from aimass_lab.serve.server._app import ServeApp
    from aimass_lab.serve.server._routes import ROUTES
    from aimass_lab.serve.server._routing import Router
    from aimass_lab.workspace import Workspace

    ws = Workspace(config.workspace, db_url=config.db_url)
    app = ServeApp(config, ws, Router(ROUTES))
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio then sets TCP_NODELAY on every connection (no Nagle delays)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        sock.close()
        kind = PortInUse if exc.errno == errno.EADDRINUSE else AimassError
        raise kind(
            f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}; choose "
            "another --port (0 picks a free one)"
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    # uvicorn closes its socket when it stops; this duplicate keeps the port listening until
    # the connections that came meanwhile are answered (closing would reset them)
    listener = sock.dup()
    port = sock.getsockname()[1]
    host_for_url = f"[{config.host}]" if ":" in config.host else config.host
    if config.host in ("0.0.0.0", "::"):
        host_for_url = "127.0.0.1"
    url = f"http://{host_for_url}:{port}"
    if config.host not in ("127.0.0.1", "localhost", "::1") and not config.api_keys:
        log(f"WARNING: listening on {config.host} without API keys (--api-key-env VAR)")
    uconfig = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        # httptools when installed (pip install aimass-lab[serve]), else h11; either with a
        # limit on the request line and headers (_http.MAX_HEAD_BYTES)
        http=http_protocol(settings().serve_http),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=max(1, int(config.drain_timeout_s)),
    )
    server = _uvicorn_server(uconfig, app)
    serve_task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serve_task.done():
        await asyncio.sleep(0.01)
    if serve_task.done():
        listener.close()
        await serve_task
        return 1
    if _EARLY_STOP:
        app.draining = True
    log(f"listening on {url} (pid {os.getpid()})")
    # load the startup models, in parallel; a failing one is reported and the others serve
    results = await asyncio.gather(
        *(_load_ref(app, item) for item in config.models), return_exceptions=True
    )
    for item, res in zip(config.models, results, strict=True):
        if isinstance(res, BaseException):
            log(f"cannot load {item}: {res}")
    app.loaded = True
    info = {"url": url, "host": config.host, "port": port, "pid": os.getpid()}
    if config.ready_file:
        atomic_write_json(config.ready_file, info)
    if on_ready is not None:
        await asyncio.to_thread(on_ready, info)
    _settle_gc()
    log(f"ready: {len(app.models)} model(s)")
    await _until_drained(app, server, serve_task, config)
    refused = await asyncio.to_thread(_refuse_backlog, listener)
    listener.close()
    if refused:
        log(f"answered 503 to {refused} connection(s) that came as the server stopped")
    await app.close()
    _stopped(app, on_stop)
    return 0


def _stopped(app: ServeApp, on_stop: Callable[[str | None], Any] | None) -> None:
    log("stopped" + (f" ({app.stop_reason})" if app.stop_reason else ""))
    if on_stop is not None:
        on_stop(app.stop_reason)


def _self_stop_reason(app: ServeApp, config: ServerConfig) -> str | None:
    """Why the server should stop by itself now: idle for ``idle_timeout_s``, or the kernel
    that started it (``kernel_pid``) has ended; ``None``: keep serving."""
    from aimass_lab.workspace import process_alive

    if config.idle_timeout_s > 0 and app.idle_seconds() >= config.idle_timeout_s:
        return f"idle for {config.idle_timeout_s:g}s"
    if config.kernel_pid is not None and not process_alive(
        config.kernel_pid, config.kernel_started
    ):
        return "kernel ended"
    return None


async def _until_drained(
    app: ServeApp, server: Any, serve_task: asyncio.Task[Any], config: ServerConfig
) -> None:
    """Wait for a drain request; then answer 503 + ``Connection: close`` to what arrives for
    ``drain_grace_s``; stop accepting; wait for the requests in flight (and, up to
    ``_SETTLE_S``, for open connections to send what they were sending), ``drain_timeout_s``
    at most; then stop uvicorn (it closes the idle connections)."""
    ticks = 0
    watch = config.idle_timeout_s > 0 or config.kernel_pid is not None
    while not app.draining and not serve_task.done():
        await asyncio.sleep(0.05)
        ticks += 1
        if watch and ticks % 10 == 0:  # every half second
            reason = _self_stop_reason(app, config)
            if reason is not None:
                app.stop_reason = reason
                log(f"stopping: {reason}")
                app.draining = True
    if app.draining and not serve_task.done():
        log("draining: finishing in-flight requests")
        began = time.monotonic()
        deadline = began + config.drain_timeout_s
        grace = began + min(config.drain_grace_s, config.drain_timeout_s)
        while time.monotonic() < grace:  # still accepting: what comes gets 503 + close
            await asyncio.sleep(0.01)
        # stop accepting (the backlog waits on the duplicate listener, see _refuse_backlog);
        # requests in flight finish; open connections may still send what they were sending
        # for a moment (each gets its 503 and closes); uvicorn then closes the idle ones
        for listening in getattr(server, "servers", []):
            listening.close()
        settle = time.monotonic() + _SETTLE_S
        connections = server.server_state.connections
        while (app.inflight > 0 or (connections and time.monotonic() < settle)) and (
            time.monotonic() < deadline
        ):
            await asyncio.sleep(0.01)
        server.should_exit = True
    await serve_task


def _refuse_backlog(listener: socket.socket, timeout: float = 1.0) -> int:
    """Answer 503 to the connections still waiting to be accepted once uvicorn has stopped
    accepting (the listening socket stays open through ``listener``, a duplicate, so that
    they are not reset); return how many there were."""
    listener.setblocking(False)
    _refuse_new_handshakes(listener)
    answered = 0
    deadline = time.monotonic() + 5 * timeout
    body = b'{"error":"the server is shutting down"}'
    reply = (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        b"retry-after: 1\r\nconnection: close\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    while time.monotonic() < deadline:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return answered
        except OSError:
            return answered
        with conn:
            conn.settimeout(timeout)
            try:
                _read_head(conn)
                conn.sendall(reply)
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):  # read what the client still sends, then close
                    pass
            except OSError:
                pass
        answered += 1
    return answered


def _refuse_new_handshakes(listener: socket.socket) -> None:
    """Make the kernel drop new connection attempts on ``listener`` (they are retried, then
    refused once it closes) so that its backlog can be emptied without a race; Linux: a
    socket filter that drops every packet, elsewhere a backlog of 0."""
    try:
        if sys.platform.startswith("linux"):
            import ctypes
            import struct

            # one classic BPF instruction, "return 0" (drop): struct sock_filter {u16 code;
            # u8 jt, jf; u32 k}, and struct sock_fprog {u16 len; struct sock_filter *filter}
            program = ctypes.create_string_buffer(struct.pack("HBBI", 0x06, 0, 0, 0))
            fprog = struct.pack("HL", 1, ctypes.addressof(program))
            listener.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
        else:
            listener.listen(0)
    except OSError:
        pass


def _read_head(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


async def _load_ref(app: Any, item: str) -> Any:
    from aimass_lab.errors import AimassError

    name, sep, _ = item.partition(":")
    if not name:
        raise AimassError(f"malformed --models {item!r}; accepted: NAME:REF such as 'digits:3'")
    # not validated here: a malformed ref is recorded as a failed version, as a missing one
    request = LoadRequest.model_construct(ref=item if sep else name, engine=app.config.engine)
    return await load(app, name, request, raise_errors=False)


def run_server(
    config: ServerConfig,
    on_ready: Callable[[dict[str, Any]], Any] | None = None,
    on_stop: Callable[[str | None], Any] | None = None,
) -> int:
    """Run the server in this process until SIGTERM or Ctrl-C (or, as configured, until it
    is idle or its kernel ends); return the exit code (0).

    Parameters
    ----------
    config
        The settings.
    on_ready
        Called once with ``{"url", "host", "port", "pid"}`` when listening and loaded.
    on_stop
        Called once as it stops with why it stopped by itself (``"idle for 30s"``,
        ``"kernel ended"``), or ``None`` when it was asked to stop.
    """
    config.check()
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    loop.set_default_executor(_executor())
    # SIGTERM from now on drains (uvicorn's handlers take over once it runs)
    _EARLY_STOP.clear()
    old = signal.signal(signal.SIGTERM, lambda s, f: _EARLY_STOP.append(s))
    try:
        code = loop.run_until_complete(serve(config, on_ready, on_stop))
    finally:
        signal.signal(signal.SIGTERM, old)
        loop.close()
    sys.stdout.flush()
    return code


def _settle_gc() -> None:
    """Keep the cyclic garbage collector off the request path: what exists once the server is
    ready (modules, models, sessions) is frozen out of its scans, and the youngest
    generation is collected every 50,000 allocations instead of 700. Measured at
    concurrency 32 on the digits MLP: the p99 latency went from ~30 ms (full collections
    scanning every object of numpy, ONNX Runtime, pydantic...) to ~5 ms (BENCHMARKS.md)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 100)


def _new_loop() -> asyncio.AbstractEventLoop:
    """asyncio, or uvloop when asked for (AIMASS_SERVE_LOOP=uvloop, or auto and installed).

    asyncio is the default: under a flood of clients uvloop served the connections it had and
    left new ones (a health check, a new client's request) waiting for seconds, where
    asyncio answered them within ~120 ms, for ~13% of throughput when not flooded
    (``benchmarks/serve_overload.py``; BENCHMARKS.md).
    """
    if settings().serve_loop in ("auto", "uvloop"):
        try:
            import uvloop

            return uvloop.new_event_loop()
        except ImportError:
            pass
    return asyncio.new_event_loop()


def _executor() -> Any:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="aimass-serve")
