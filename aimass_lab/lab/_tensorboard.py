"""TensorBoard processes for training runs, started on demand behind the Jupyter proxy.

Each run gets its own ``tensorboard`` process on a free 127.0.0.1 port, with ``--path_prefix``
set to the proxied path (``{base_url}aimass-lab/tensorboard/{run_id}``) so that every link
TensorBoard writes stays under Jupyter's base_url (JupyterHub, Binder). Processes idle for
longer than the configured timeout are stopped, and all of them when the server exits. Each
records who opened it first (its owner, the Jupyter identity) and from which kernel (the
``aimass_kernel`` query argument of the links ``%aimass tensorboard`` prints); with
``AIMASS_STOP_WITH_KERNEL`` it stops when that kernel ends.

No Tornado here: the proxy handler in :mod:`aimass_lab.lab._proxy` uses this manager.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError
from aimass_lab.train import TENSORBOARD_PREFIX, tensorboard_logdir, tensorboard_path

__all__ = ["TENSORBOARD_PREFIX", "TensorBoardManager", "tensorboard_path"]

_MANAGERS: weakref.WeakSet[TensorBoardManager] = weakref.WeakSet()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LIBC: Any = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError):
        _LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the server process dies, even by SIGKILL."""
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class TensorBoardProcess:
    """One TensorBoard serving one run's event folder."""

    run_id: str
    logdir: Path
    prefix: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    last_used: float = field(default_factory=time.monotonic)
    owner: str | None = None
    kernel_id: str | None = None
    started_at: float = field(default_factory=time.time)

    def describe(self, idle_timeout: float) -> dict[str, Any]:
        """What the sidebar lists: owner, kernel, idle time."""
        return {
            "kind": "tensorboard",
            "id": self.run_id,
            "name": f"TensorBoard of {self.run_id}",
            "owner": self.owner,
            "kernel_id": self.kernel_id,
            "started_at": self.started_at,
            "idle_s": round(time.monotonic() - self.last_used, 1),
            "idle_timeout_s": idle_timeout,
            "url": self.prefix + "/",
            "state": "running" if self.alive else "ended",
        }

    @property
    def url(self) -> str:
        """Its own URL (loopback), prefix included, ending in ``/``."""
        return f"http://127.0.0.1:{self.port}{self.prefix}/"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


class TensorBoardManager:
    """Start, find and stop the TensorBoards of a Jupyter server.

    Parameters
    ----------
    base_url
        Jupyter's base_url (``/`` or ``/user/name/``).
    idle_timeout
        Seconds without a proxied request after which a TensorBoard is stopped (0: never).
    start_timeout
        Seconds to wait for a new TensorBoard to answer.
    """

    def __init__(
        self, base_url: str = "/", idle_timeout: float = 1800.0, start_timeout: float = 60.0
    ) -> None:
        self.base_url = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
        self.idle_timeout = idle_timeout
        self.start_timeout = start_timeout
        self.processes: dict[str, TensorBoardProcess] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        _MANAGERS.add(self)

    def prefix(self, run_id: str) -> str:
        """The proxied path of a run's TensorBoard, without the trailing slash, percent-decoded
        (TensorBoard compares it with the decoded request path)."""
        return urllib.parse.unquote(self.base_url + tensorboard_path(run_id).rstrip("/"))

    async def get(
        self, ws: Any, run_id: str, owner: str | None = None, kernel_id: str | None = None
    ) -> TensorBoardProcess:
        """The running TensorBoard of a run, started when there is none (owned by ``owner``,
        from kernel ``kernel_id``).

        Raises
        ------
        NotFoundError
            For an unknown run, or a run that wrote no TensorBoard events.
        AimassError
            When TensorBoard does not start (its log is in the message).
        """
        tb = self.processes.get(run_id)
        if tb is not None and tb.alive:
            tb.last_used = time.monotonic()
            return tb
        lock = self._locks.setdefault(run_id, asyncio.Lock())
        async with lock:
            tb = self.processes.get(run_id)
            if tb is not None and tb.alive:
                tb.last_used = time.monotonic()
                return tb
            logdir = await asyncio.to_thread(tensorboard_logdir, ws, run_id)
            tb = await self._start(ws, run_id, logdir)
            tb.owner, tb.kernel_id = owner, kernel_id
            self.processes[run_id] = tb
            return tb

    async def _start(self, ws: Any, run_id: str, logdir: Path) -> TensorBoardProcess:
        log_path = logdir.parent / "tensorboard-server.log"
        last_error = ""
        for _attempt in range(3):
            port = _free_port()
            prefix = self.prefix(run_id)
            cmd = [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                str(logdir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--path_prefix",
                prefix,
                "--load_fast",
                "false",
                "--reload_interval",
                "5",
            ]
            # Started from the event-loop thread on purpose: the parent-death signal follows
            # the thread that forks, and a worker thread may end long before the server.
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if _LIBC is not None else None,
                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                )
            tb = TensorBoardProcess(run_id, logdir, prefix, port, proc, log_path)
            if await self._wait_ready(tb):
                return tb
            tb.stop()
            last_error = _tail(log_path)
            if "address already in use" not in last_error.lower():
                break
        raise AimassError(
            f"TensorBoard for run {run_id} did not start within {self.start_timeout:.0f} s; "
            f"its log ({log_path}) ends with:\n{last_error}"
        )

    async def _wait_ready(self, tb: TensorBoardProcess) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not tb.alive:
                return False
            if await asyncio.to_thread(_answers, tb.url):
                return True
            await asyncio.sleep(0.2)
        return False

    def stop(self, run_id: str) -> bool:
        """Stop a run's TensorBoard; whether one was running."""
        tb = self.processes.pop(run_id, None)
        if tb is None:
            return False
        tb.stop()
        return True

    def stop_idle(self) -> list[str]:
        """Stop the TensorBoards idle for longer than ``idle_timeout`` (and forget dead ones)."""
        now = time.monotonic()
        stopped = []
        for run_id, tb in list(self.processes.items()):
            idle = self.idle_timeout > 0 and now - tb.last_used > self.idle_timeout
            if idle or not tb.alive:
                self.stop(run_id)
                stopped.append(run_id)
        return stopped

    def stop_orphans(self, kernel_ids: Any) -> list[str]:
        """Stop the TensorBoards opened from a kernel that is not in ``kernel_ids`` (the
        kernels the Jupyter server runs) any more."""
        alive = set(kernel_ids)
        gone = [r for r, tb in self.processes.items() if tb.kernel_id and tb.kernel_id not in alive]
        for run_id in gone:
            self.stop(run_id)
        return gone

    def describe(self) -> list[dict[str, Any]]:
        """The running TensorBoards, for the services list."""
        return [tb.describe(self.idle_timeout) for tb in list(self.processes.values()) if tb.alive]

    def stop_all(self) -> None:
        """Stop every TensorBoard this manager started."""
        for run_id in list(self.processes):
            self.stop(run_id)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@atexit.register
def _stop_everything() -> None:
    for manager in list(_MANAGERS):
        manager.stop_all()
