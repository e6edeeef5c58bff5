"""The Jupyter kernel this process is, and whether a recorded kernel or process still runs.

Never imports ipykernel: a process is a kernel only when ``ipykernel.kernelapp`` is loaded
already and its application is initialised; the kernel id is read from the connection file's name
(``kernel-<id>.json``, as Jupyter Server and jupyter_client name it).
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

__all__ = ["current_kernel", "current_kernel_id", "kernel_alive", "process_alive"]

_KERNEL_FILE = re.compile(r"kernel-(?P<id>[A-Za-z0-9._-]+)\.json")


def current_kernel() -> dict[str, Any] | None:
    """The Jupyter kernel this process is, as ``{"id", "pid", "started", "host"}``; ``None``
    outside a kernel. The id is read from the connection file's name (``kernel-<id>.json``);
    ipykernel is only asked when it is loaded already (never imported here)."""
    # Only the module a running kernel has loaded: importing ``ipykernel.kernelapp`` here
    # would load ``ipykernel.ipkernel``, which replaces the ``comm`` package's functions in
    # this process (a Jupyter server, a test run) and breaks the widgets' comms there.
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is None:
        return None
    try:
        app = kernelapp.IPKernelApp
        if not app.initialized():
            return None
        path = app.instance().abs_connection_file or ""
    except Exception:  # an ipykernel without these names: not a kernel we know
        return None
    match = _KERNEL_FILE.fullmatch(Path(path).name)
    if match is None:
        return None
    return {
        "id": match.group("id"),
        "pid": os.getpid(),
        "started": _process_started(os.getpid()),
        "host": socket.gethostname(),
    }


def current_kernel_id() -> str | None:
    """The id of the Jupyter kernel this process is (``None`` outside a kernel)."""
    kernel = current_kernel()
    return str(kernel["id"]) if kernel else None


def _process_started(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def process_alive(pid: int, started: float | None = None) -> bool:
    """Whether process ``pid`` runs (and, with ``started``, is the one started then, not a
    later process that reused the id)."""
    import psutil

    try:
        proc = psutil.Process(int(pid))
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started is None or abs(proc.create_time() - float(started)) < 1.0
    except psutil.Error:
        return False


def kernel_alive(kernel: dict[str, Any] | None) -> bool | None:
    """Whether a recorded kernel (``spec["kernel"]``) still runs; ``None`` when this host
    cannot tell (no kernel recorded, or a kernel on another host)."""
    if not kernel or not kernel.get("pid") or kernel.get("host") != socket.gethostname():
        return None
    return process_alive(int(kernel["pid"]), kernel.get("started"))
