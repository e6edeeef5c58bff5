"""Dynamic batching of one served version: a bounded queue, batches of rows, fair answers.

Requests wait in a queue (at most ``queue_size``; one more is refused with
:class:`QueueFull`, a 429). A batch is formed when an executor slot is free: it takes
queued requests in order while their rows fit in ``max_batch_size``. When the version is
busy (the last batch held several requests, or another batch is running) the first
request of a batch waits up to ``max_delay_ms`` for company; an idle version answers a lone
request at once, so batching costs nothing at low load. Every request gets exactly its
own rows of the batch's outputs. When a batch of several requests fails in the engine,
each request is run again alone, so one bad request fails alone.

Quick engines (an in-process executor whose batches take well under a millisecond, see
``InProcessExecutor.inline``) take a shorter way when the version is idle: the first request
queued schedules one plain callback on the event loop, which takes the batch (every request
queued in the meantime: those that arrived in the same loop turn) and runs it right there,
without waking the batch loop task and starting a task per batch. Order, the row bound, the
queue bound and the wait for company of a busy version are those of the batch loop.
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


@dataclass(slots=True)
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
        self._ev_loop = asyncio.get_running_loop()
        # the executor's inline run (quick batches on the event loop), if it has one
        self._inline_ok = hasattr(type(executor), "run_inline")
        self._flush_scheduled = False
        self._reported_depth = 0
        self._collecting = False  # the batch loop holds a slot and is forming a batch
        self._loop_task: asyncio.Task[None] | None = self._ev_loop.create_task(self._loop())

    @property
    def depth(self) -> int:
        return len(self._queue)

    def submit(self, arrays: dict[str, np.ndarray], rows: int) -> asyncio.Future[list[np.ndarray]]:
        """Queue a validated request; its future gets its rows of the outputs."""
        if len(self._queue) >= self.queue_size:
            raise QueueFull()
        fut: asyncio.Future[list[np.ndarray]] = self._ev_loop.create_future()
        self._queue.append(_Item(arrays, rows, fut))
        self._idle.clear()
        if self._flush_scheduled:
            return fut  # the scheduled flush takes this one too (within this loop turn)
        if self._can_flush():
            self._flush_scheduled = True
            self._ev_loop.call_soon(self._flush)
            return fut
        self._wakeup.set()
        self._report_depth()
        return fut

    def _report_depth(self) -> None:
        """Tell ``on_depth`` the queue depth, when it changed since the last report."""
        depth = len(self._queue)
        if depth != self._reported_depth and self._on_depth is not None:
            self._reported_depth = depth
            self._on_depth(depth)

    def _can_flush(self) -> bool:
        """Idle, with a quick in-process engine: the short way (see the module's doc)."""
        return (
            self._inline_ok
            and self._running == 0
            and not self._collecting
            and not (self.max_delay and self._last_batch_requests > 1)
            and self.executor.inline
        )

    def _flush(self) -> None:
        """Take one batch and run it on the event loop, now; the batch loop does the rest."""
        self._flush_scheduled = False
        if self._loop_task is None or not self._queue:
            return
        if not self._can_flush():
            self._wakeup.set()
            self._report_depth()
            return
        batch = self._take()
        self._report_depth()
        if batch:
            self._last_batch_requests = len(batch)
            self._running += 1
            try:
                self._run_inline(batch)
            finally:
                self._running -= 1
        if self._queue:
            self._wakeup.set()
        elif self._running == 0:
            self._idle.set()

    def _run_inline(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            arrays = self._arrays(batch)
            try:
                outs = self.executor.run_inline(arrays)
            except EngineFailed:
                if len(batch) == 1:
                    raise
                for item in batch:  # one by one: a bad request fails alone
                    if item.future.done():
                        continue
                    try:
                        item.future.set_result(self.executor.run_inline(item.arrays))
                    except Exception as exc:
                        item.future.set_exception(exc)
                return
            self._deliver(batch, outs, started)
        except (WorkerCrashed, Unavailable, EngineFailed) as exc:
            self._fail(batch, exc)
        except Exception as exc:  # never leave a request hanging
            self._fail(batch, EngineFailed(f"{type(exc).__name__}: {exc}"))

    @staticmethod
    def _arrays(batch: list[_Item]) -> dict[str, np.ndarray]:
        if len(batch) == 1:
            return batch[0].arrays
        return {
            name: np.concatenate([item.arrays[name] for item in batch]) for name in batch[0].arrays
        }

    def _deliver(self, batch: list[_Item], outs: list[np.ndarray], started: float) -> None:
        if self._on_batch is not None:
            self._on_batch(sum(item.rows for item in batch), time.perf_counter() - started)
        if len(batch) == 1:
            item = batch[0]
            if not item.future.done():
                item.future.set_result(list(outs))
            return
        offset = 0
        for item in batch:
            if not item.future.done():
                item.future.set_result([o[offset : offset + item.rows] for o in outs])
            offset += item.rows

    @staticmethod
    def _fail(batch: list[_Item], exc: BaseException) -> None:
        for item in batch:
            if not item.future.done():
                item.future.set_exception(exc)

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
            self._collecting = True
            try:
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
            finally:
                self._collecting = False
            batch = self._take()
            self._report_depth()
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
            arrays = self._arrays(batch)
            try:
                outs = await self.executor.run(arrays)
            except EngineFailed:
                if len(batch) == 1:
                    raise
                await self._one_by_one(batch)
                return
            self._deliver(batch, outs, started)
        except (WorkerCrashed, Unavailable, EngineFailed) as exc:
            self._fail(batch, exc)
        except Exception as exc:  # never leave a request hanging
            self._fail(batch, EngineFailed(f"{type(exc).__name__}: {exc}"))
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
