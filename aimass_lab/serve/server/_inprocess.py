"""Batches on an engine inside the server process: on the event loop when quick, else in
threads (one replica under isolation ``auto``, or ``thread``)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from aimass_lab.serve.server._worker import INLINE_MAX_S, EngineFailed

__all__ = ["InProcessExecutor"]


class InProcessExecutor:
    """Run batches on an engine inside the server process.

    A batch that takes longer than :data:`INLINE_MAX_S` (a running average) runs in a thread
    (``slots`` at once); a quicker one runs right on the event loop, where handing it to a
    thread and back would cost more than the batch itself.
    """

    mode = "thread"

    def __init__(self, engine: Any, slots: int = 1) -> None:
        self.engine = engine
        self.slots = slots
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="aimass-engine")
        self.restarts = 0
        self._avg_s: float | None = None  # running average of a batch's engine time

    @property
    def ready(self) -> bool:
        return True

    @property
    def alive(self) -> int:
        return 1

    @property
    def pids(self) -> list[int]:
        return []

    def info(self) -> dict[str, Any]:
        return dict(self.engine.info())

    async def start(self) -> None:
        return None

    def _timed(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        start = time.perf_counter()
        out = self.engine.run(arrays)
        took = time.perf_counter() - start
        avg = self._avg_s
        self._avg_s = took if avg is None else 0.8 * avg + 0.2 * took
        return out  # type: ignore[no-any-return]

    @property
    def inline(self) -> bool:
        """Whether batches are quick enough (a running average) to run on the event loop."""
        avg = self._avg_s
        return avg is not None and avg < INLINE_MAX_S

    def run_inline(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run a batch here, on the calling thread (the event loop: see :attr:`inline`)."""
        try:
            return self._timed(arrays)
        except Exception as exc:
            raise EngineFailed(f"{type(exc).__name__}: {exc}") from None

    async def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            avg = self._avg_s
            if avg is not None and avg < INLINE_MAX_S:
                return self._timed(arrays)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, self._timed, arrays)
        except Exception as exc:
            raise EngineFailed(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.engine.close()
