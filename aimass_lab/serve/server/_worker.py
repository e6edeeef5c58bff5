"""Where batches run: in the server process (threads) or in replica worker processes.

A replica worker is ``python -m aimass_lab.serve.server._worker``: it reads its load spec and then
batches from stdin, and writes answers to stdout, each as a length-prefixed frame holding
raw array bytes (no pickle). The server reads every worker's stdout in an asyncio task: when
a worker dies (kill -9, a crash in the engine) its pipe ends at once, every batch it held is
answered with :class:`WorkerCrashed` (a 503) and the worker is started again.

Replicas pay only when a batch's compute is worth a pipe round trip: with ``local=True``
(isolation ``auto``), ONNX Runtime on CPU and files up to :data:`LOCAL_MAX_BYTES`, the server
also opens the engine itself and, while the running average of a batch's engine time (the
workers report it) stays under :data:`INLINE_MAX_S`, runs batches on its event loop as with
one replica; slower batches go to the workers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from aimass_lab.serve.server._frames import (
    HEAD,
    K_BATCH,
    K_ERROR,
    K_READY,
    K_RESULT,
    K_SPEC,
    decode_arrays,
    encode_arrays,
    frame,
)
from aimass_lab.settings import settings

__all__ = [
    "ProcessExecutor",
    "Unavailable",
    "WorkerCrashed",
    "decode_arrays",
    "encode_arrays",
]

START_TIMEOUT_S = settings().serve_worker_start_s
#: Batches quicker than this (running average) run on the event loop, not in a thread.
INLINE_MAX_S = settings().serve_inline_max_ms / 1000.0
#: Model files up to this size (bytes, all files) are also opened in the server process when
#: replicas run in workers under isolation ``auto``: quick batches run there (module doc).
LOCAL_MAX_BYTES = 64 << 20
_SECONDS = struct.Struct("<d")  # a result's engine time, before its arrays


class WorkerCrashed(Exception):
    """The worker process that held a batch died before answering."""


class Unavailable(Exception):
    """No replica of the version can take a batch now."""


class EngineFailed(Exception):
    """The engine raised while running a batch (the message is the engine's)."""


class _Worker:
    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.inflight: dict[int, asyncio.Future[list[np.ndarray]]] = {}
        self.ready = False
        self.reader: asyncio.Task[None] | None = None
        self.started_at = 0.0


class ProcessExecutor:
    """N replica worker processes, least-loaded dispatch, restart on crash.

    Parameters
    ----------
    spec
        The load spec (see :func:`aimass_lab.serve.server._engine.prepare`).
    replicas
        Number of worker processes.
    threads
        Intra-op threads of each worker's engine.
    on_restart
        Called (no arguments) each time a crashed worker is started again.
    log
        Writes one line of the server's log (default: stderr, ``[aimass serve]`` first):
        each worker death (pid, exit code or signal, batches lost) and restart (new pid).
    local
        Also open the engine in the server process when the model's files are small (up to
        :data:`LOCAL_MAX_BYTES`) and run batches there while they are quick (module doc).
    """

    mode = "process"

    def __init__(
        self,
        spec: dict[str, Any],
        replicas: int,
        threads: int | None = None,
        on_restart: Callable[[], None] | None = None,
        log: Callable[[str], None] | None = None,
        local: bool = False,
    ) -> None:
        self.spec = spec
        self.replicas = replicas
        self.threads = threads
        self.slots = replicas
        self.workers = [_Worker(i) for i in range(replicas)]
        self.restarts = 0
        self._ids = itertools.count(1)
        self._rr = itertools.count()
        self._closing = False
        self._info: dict[str, Any] | None = None
        self._on_restart = on_restart
        self._log = log or _stderr_log
        self._restart_tasks: set[asyncio.Task[None]] = set()
        self._local_ok = local
        self._local: Any = None  # the engine in the server process (quick models only)
        self._avg_s: float | None = None  # running average of a batch's engine time

    @property
    def ready(self) -> bool:
        return any(w.ready for w in self.workers)

    @property
    def alive(self) -> int:
        return sum(w.ready for w in self.workers)

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc is not None and w.ready]

    def info(self) -> dict[str, Any]:
        assert self._info is not None
        return self._info

    async def start(self) -> None:
        """Start every worker; fail when none can load the model."""
        results = await asyncio.gather(
            *(self._spawn(w) for w in self.workers), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if len(errors) == len(self.workers):
            await self.close()
            raise errors[0]
        for w, r in zip(self.workers, results, strict=True):
            if isinstance(r, BaseException):
                self._log(
                    f"replica worker {w.index} of {self.spec['ref']} failed to start ({r}); "
                    "starting it again"
                )
                self._schedule_restart(w)
        if self._local_ok and self._small_on_cpu():
            from aimass_lab.serve.server._engine import open_engine

            try:
                self._local = await asyncio.to_thread(open_engine, self.spec, self.threads)
            except Exception as exc:  # the workers serve alone
                print(
                    f"[aimass serve] {self.spec['ref']}: no engine in the server process "
                    f"({exc}); every batch goes to the replica workers",
                    file=sys.stderr,
                )

    def _small_on_cpu(self) -> bool:
        """ONNX Runtime on CPU, files up to :data:`LOCAL_MAX_BYTES`: worth a copy here."""
        if self._info is None or self._info.get("device") != "cpu":
            return False
        if self.spec["engine"] != "onnxruntime":  # torch stays out of the server process
            return False
        try:
            size = sum(os.path.getsize(f["path"]) for f in self.spec["files"].values())
        except OSError:
            return False
        return size <= LOCAL_MAX_BYTES

    def _observe(self, took: float) -> None:
        avg = self._avg_s
        self._avg_s = took if avg is None else 0.8 * avg + 0.2 * took

    @property
    def inline(self) -> bool:
        """Whether batches run in the server process, on the event loop (module doc)."""
        avg = self._avg_s
        return self._local is not None and avg is not None and avg < INLINE_MAX_S

    def run_inline(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run a batch on the server process's engine, on the calling thread (the loop)."""
        start = time.perf_counter()
        try:
            out = list(self._local.run(arrays))
        except Exception as exc:
            raise EngineFailed(f"{type(exc).__name__}: {exc}") from None
        self._observe(time.perf_counter() - start)
        return out

    async def _spawn(self, w: _Worker) -> None:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        w.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "aimass_lab.serve.server._worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            limit=1 << 26,
        )
        w.started_at = time.monotonic()
        assert w.proc.stdin is not None and w.proc.stdout is not None
        payload = json.dumps({"spec": self.spec, "threads": self.threads}).encode()
        w.proc.stdin.write(frame(0, K_SPEC, payload))
        try:
            await w.proc.stdin.drain()
            head = await asyncio.wait_for(w.proc.stdout.readexactly(HEAD.size), START_TIMEOUT_S)
            length, _, kind = HEAD.unpack(head)
            body = await w.proc.stdout.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
            await self._kill(w)
            raise WorkerCrashed(
                f"the replica worker of {self.spec['ref']} exited while loading the model "
                "(see the server log)"
            ) from None
        if kind == K_ERROR:
            await self._kill(w)
            from aimass_lab.errors import AimassError

            raise AimassError(body.decode(errors="replace"))
        self._info = json.loads(body)
        w.ready = True
        w.reader = asyncio.create_task(self._read(w))

    async def _kill(self, w: _Worker) -> None:
        if w.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            w.proc.kill()
        with contextlib.suppress(Exception):
            await w.proc.wait()

    async def _read(self, w: _Worker) -> None:
        proc = w.proc
        assert proc is not None and proc.stdout is not None
        try:
            while True:
                head = await proc.stdout.readexactly(HEAD.size)
                length, batch_id, kind = HEAD.unpack(head)
                body = await proc.stdout.readexactly(length) if length else b""
                fut = w.inflight.pop(batch_id, None)
                if fut is None or fut.done():
                    continue
                if kind == K_RESULT:
                    (took,) = _SECONDS.unpack_from(body, 0)
                    self._observe(took)
                    fut.set_result([a for _, a in decode_arrays(memoryview(body)[_SECONDS.size :])])
                else:
                    fut.set_exception(EngineFailed(body.decode(errors="replace")))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            raise
        w.ready = False
        held = list(w.inflight.values())
        w.inflight.clear()
        for fut in held:
            if not fut.done():
                fut.set_exception(
                    WorkerCrashed(
                        f"replica worker {w.index} of {self.spec['ref']} died while running "
                        "this request's batch; it is being restarted, retry"
                    )
                )
        how = await self._ended(w, proc)
        if not self._closing:
            self._log(
                f"replica worker {w.index} (pid {proc.pid}) of {self.spec['ref']} died: {how}; "
                f"{len(held)} batch(es) in flight failed (503); restarting it"
            )
            self._schedule_restart(w)

    async def _ended(self, w: _Worker, proc: asyncio.subprocess.Process) -> str:
        """How a worker whose pipe closed ended (killed if not exited within a second)."""
        try:
            code = await asyncio.wait_for(proc.wait(), 1.0)
        except asyncio.TimeoutError:
            await self._kill(w)
            return "it closed its pipe and was killed"
        if code >= 0:
            return f"exit code {code}"
        name = next((sig.name for sig in signal.Signals if sig == -code), "unknown")
        return f"killed by signal {name} ({-code})"

    def _schedule_restart(self, w: _Worker) -> None:
        task = asyncio.create_task(self._restart(w))
        self._restart_tasks.add(task)
        task.add_done_callback(self._restart_tasks.discard)

    async def _restart(self, w: _Worker) -> None:
        delay = 0.0
        while not self._closing:
            if delay:
                await asyncio.sleep(delay)
            try:
                await self._spawn(w)
            except Exception as exc:
                delay = min(10.0, max(0.5, delay * 2))
                self._log(
                    f"restarting replica worker {w.index} of {self.spec['ref']} failed: {exc}; "
                    f"trying again in {delay:g} s"
                )
                continue
            self.restarts += 1
            pid = w.proc.pid if w.proc is not None else None
            self._log(
                f"replica worker {w.index} of {self.spec['ref']} restarted (pid {pid}, "
                f"restart {self.restarts} of this version)"
            )
            if self._on_restart is not None:
                self._on_restart()
            return

    def _pick(self) -> _Worker:
        ready = [w for w in self.workers if w.ready]
        if not ready:
            raise Unavailable(
                f"no replica worker of {self.spec['ref']} is running (restarting); retry"
            )
        start = next(self._rr)
        n = len(ready)
        best = ready[start % n]
        for k in range(1, n):
            w = ready[(start + k) % n]
            if len(w.inflight) < len(best.inflight):
                best = w
        return best

    async def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self.inline:
            return self.run_inline(arrays)
        w = self._pick()
        proc = w.proc
        assert proc is not None and proc.stdin is not None
        batch_id = next(self._ids)
        fut: asyncio.Future[list[np.ndarray]] = asyncio.get_running_loop().create_future()
        w.inflight[batch_id] = fut
        try:
            proc.stdin.write(frame(batch_id, K_BATCH, encode_arrays(list(arrays.items()))))
            await proc.stdin.drain()
        except (ConnectionError, RuntimeError):
            w.inflight.pop(batch_id, None)
            if not fut.done():
                fut.set_exception(
                    WorkerCrashed(f"replica worker {w.index} of {self.spec['ref']} died; retry")
                )
        return await fut

    async def close(self) -> None:
        self._closing = True
        for t in list(self._restart_tasks):
            t.cancel()
        for w in self.workers:
            w.ready = False
            if w.proc is not None and w.proc.stdin is not None:
                with contextlib.suppress(Exception):
                    w.proc.stdin.close()
        for w in self.workers:
            if w.proc is None:
                continue
            try:
                await asyncio.wait_for(w.proc.wait(), 5)
            except asyncio.TimeoutError:
                await self._kill(w)
            if w.reader is not None:
                w.reader.cancel()
                with contextlib.suppress(BaseException):
                    await w.reader
        if self._local is not None:
            self._local.close()
            self._local = None


def _stderr_log(msg: str) -> None:
    print(f"[aimass serve] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- in the worker
def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def worker_main() -> int:
    """The replica worker: load the engine, then answer batches until stdin closes."""
    # The server drains on SIGTERM (sent to its whole process group): a worker keeps
    # answering until the server closes its stdin.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints go to the log, never into the protocol
    in_fd = 0
    head = _read_exactly(in_fd, HEAD.size)
    if head is None:
        return 0
    length, _, _ = HEAD.unpack(head)
    start = json.loads(_read_exactly(in_fd, length) or b"{}")
    try:
        from aimass_lab.serve.server._engine import open_engine

        engine = open_engine(start["spec"], start.get("threads"))
    except BaseException as exc:
        _write_all(out_fd, frame(0, K_ERROR, f"{exc}".encode()))
        return 1
    _write_all(out_fd, frame(0, K_READY, json.dumps(engine.info()).encode()))
    while True:
        head = _read_exactly(in_fd, HEAD.size)
        if head is None:
            return 0
        length, batch_id, _ = HEAD.unpack(head)
        body = _read_exactly(in_fd, length)
        if body is None:
            return 0
        try:
            arrays = dict(decode_arrays(body))
            start = time.perf_counter()
            outs = engine.run(arrays)
            took = _SECONDS.pack(time.perf_counter() - start)
            payload = encode_arrays([(str(i), o) for i, o in enumerate(outs)])
            reply = frame(batch_id, K_RESULT, took + payload)
        except Exception as exc:
            reply = frame(batch_id, K_ERROR, f"{type(exc).__name__}: {exc}".encode())
        _write_all(out_fd, reply)


if __name__ == "__main__":
    sys.exit(worker_main())
