"""Dynamic batching of one served version: a bounded queue, batches of rows, fair answers.

Requests wait in a queue (at most ``queue_size``; one more is refused with
:class:`QueueFull`, a 429). A batch is formed when an executor slot is free: it takes
queued requests in order while their rows fit in ``max_batch_size``. When the version is
busy (the last batch held several requests, or another batch is running) the first
request of a batch waits up to ``max_delay_ms`` for company; an idle version answers a lone
request at once, so batching costs nothing at low load. Every request gets exactly its
own rows of the batch's outputs. When a batch of several requests fails in the engine,
each request is run again alone, so one bad request fails alone.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aimass_lab.serve._worker import EngineFailed, Unavailable, WorkerCrashed

__all__ = ["Batcher", "QueueFull"]


class QueueFull(Exception):
    """The version's queue holds ``queue_size`` requests already."""


@dataclass
class _Item:
    arrays: dict[str, np.ndarray]
    rows: int
    future: asyncio.Future[list[np.ndarray]]
    enqueued: float = field(default_factory=time.monotonic)


class Batcher:
    """The queue and batch loop of one served version.

    Parameters
    ----------
    executor
        Where batches run (``await executor.run(arrays) -> outputs``; ``executor.slots``
        batches may run at once).
    max_batch_size
        Most rows in a batch (a request never holds more; the router checks).
    max_delay_ms
        How long the first request of a batch may wait for others while the version is busy.
    queue_size
        Most requests waiting.
    on_batch
        Called with ``(rows, seconds)`` after each batch.
    on_depth
        Called with the queue depth when it changes.
    """

    def __init__(
        self,
        executor: Any,
        max_batch_size: int,
        max_delay_ms: float,
        queue_size: int,
        on_batch: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self.executor = executor
        self.max_batch_size = int(max_batch_size)
        self.max_delay = max(0.0, float(max_delay_ms)) / 1000.0
        self.queue_size = int(queue_size)
        self._queue: collections.deque[_Item] = collections.deque()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(max(1, int(getattr(executor, "slots", 1))))
        self._running = 0
        self._last_batch_requests = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._on_batch = on_batch
        self._on_depth = on_depth
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = asyncio.get_running_loop().create_task(
            self._loop()
        )

    @property
    def depth(self) -> int:
        return len(self._queue)

    def submit(self, arrays: dict[str, np.ndarray], rows: int) -> asyncio.Future[list[np.ndarray]]:
        """Queue a validated request; its future gets its rows of the outputs."""
        if len(self._queue) >= self.queue_size:
            raise QueueFull()
        fut: asyncio.Future[list[np.ndarray]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(arrays, rows, fut))
        self._idle.clear()
        self._wakeup.set()
        if self._on_depth is not None:
            self._on_depth(len(self._queue))
        return fut

    def _busy(self) -> bool:
        return self._running > 0 or self._last_batch_requests > 1

    def _take(self) -> list[_Item]:
        batch: list[_Item] = []
        rows = 0
        while self._queue:
            item = self._queue[0]
            if item.future.done():  # timed out or cancelled while queued
                self._queue.popleft()
                continue
            if batch and rows + item.rows > self.max_batch_size:
                break
            self._queue.popleft()
            batch.append(item)
            rows += item.rows
        return batch

    def _queued_rows(self) -> int:
        return sum(i.rows for i in self._queue)

    async def _loop(self) -> None:
        while True:
            while not self._queue:
                self._wakeup.clear()
                if self._running == 0:
                    self._idle.set()
                await self._wakeup.wait()
            await self._slots.acquire()
            if self.max_delay and self._busy():
                first = self._queue[0].enqueued if self._queue else time.monotonic()
                deadline = first + self.max_delay
                while self._queued_rows() < self.max_batch_size:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), left)
                    except asyncio.TimeoutError:
                        break
            batch = self._take()
            if self._on_depth is not None:
                self._on_depth(len(self._queue))
            if not batch:
                self._slots.release()
                continue
            self._last_batch_requests = len(batch)
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Item]) -> None:
        try:
            started = time.perf_counter()
            if len(batch) == 1:
                arrays = batch[0].arrays
            else:
                arrays = {
                    name: np.concatenate([item.arrays[name] for item in batch])
                    for name in batch[0].arrays
                }
            rows = sum(item.rows for item in batch)
            try:
                outs = await self.executor.run(arrays)
            except EngineFailed:
                if len(batch) == 1:
                    raise
                await self._one_by_one(batch)
                return
            if self._on_batch is not None:
                self._on_batch(rows, time.perf_counter() - started)
            offset = 0
            for item in batch:
                if not item.future.done():
                    item.future.set_result([o[offset : offset + item.rows] for o in outs])
                offset += item.rows
        except (WorkerCrashed, Unavailable, EngineFailed) as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
        except Exception as exc:  # never leave a request hanging
            err = EngineFailed(f"{type(exc).__name__}: {exc}")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(err)
        finally:
            self._running -= 1
            self._slots.release()
            if not self._queue and self._running == 0:
                self._idle.set()

    async def _one_by_one(self, batch: list[_Item]) -> None:
        for item in batch:
            if item.future.done():
                continue
            try:
                outs = await self.executor.run(item.arrays)
            except Exception as exc:
                if not item.future.done():
                    item.future.set_exception(exc)
                continue
            if not item.future.done():
                item.future.set_result(outs)

    async def drain(self) -> None:
        """Wait until the queue is empty and no batch runs."""
        while self._queue or self._running:
            self._idle.clear()
            await self._idle.wait()

    async def close(self) -> None:
        """Stop the batch loop; fail what is still queued."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            try:
                await self._loop_task
            except BaseException:
                pass
            self._loop_task = None
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(Unavailable("the version was unloaded"))
