"""Dynamic batching of one served version: a bounded queue, batches of rows, fair answers.

Requests wait in a queue (at most ``queue_size``; one more is refused with
:class:`QueueFull`, a 429). The policy is continuous batching: as soon as an executor slot
is free, a batch takes the queued requests in order while their rows fit in
``max_batch_size`` and goes. While every slot is busy, requests pile up in the queue and go
together when a slot frees, so batches grow with the load without anyone waiting on purpose.

A free slot waits for more rows only while waiting can plausibly help: the queue holds
fewer requests than the largest of the last ``RECENT_BATCHES`` batches held (the
concurrency the version has been seeing; 1 at first, so a lone client never waits), fewer
rows than ``max_batch_size``, and requests are still arriving: the newest came less than a
linger window (``max_delay_ms * LINGER_FRACTION``, 0.5 ms of the default 2 ms) ago. The
batch goes as soon as one of these stops holding, and at the latest ``max_delay_ms`` after
its oldest request arrived. So 8 closed-loop clients make batches of 8 that go when the 8th
request arrives, not after ``max_delay_ms``; a burst followed by silence waits at most one
window after its last request, and a batch that went short after such a window makes it
the new expectation (a client that stayed alone pays one window once); ``max_delay_ms=0``
never waits.

Every request gets exactly its own rows of the batch's outputs. When a batch of several
requests fails in the engine, each request is run again alone, so one bad request fails
alone.

Quick engines (an in-process executor whose batches take well under a millisecond, see
``InProcessExecutor.inline``) take a shorter way when the version is idle and nothing is to
be waited for: the first request queued schedules one plain callback on the event loop,
which takes the batch (every request queued in the meantime: those that arrived in the same
loop turn) and runs it right there, without waking the batch loop task and starting a task
per batch. Order, the row bound, the queue bound and the linger are those of the batch loop.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aimass_lab.serve.server._worker import EngineFailed, Unavailable, WorkerCrashed
from aimass_lab.settings import settings

__all__ = ["LINGER_FRACTION", "RECENT_BATCHES", "Batcher", "QueueFull"]

#: The linger window as a fraction of ``max_delay_ms``: a free slot waiting for more rows
#: stops when no request came for one window (see the module's doc).
LINGER_FRACTION = settings().serve_linger_fraction
#: How many of the last batches tell the concurrency the version has been seeing.
RECENT_BATCHES = 8


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
        Most rows in a batch (a request above it is queued as several pieces, each within it).
    max_delay_ms
        Most time the oldest queued request may wait for others, and only while requests keep
        arriving (see the module's doc); 0 never waits.
    queue_size
        Most requests waiting.
    on_batch
        Called with ``(rows, seconds)`` after each batch.
    on_depth
        Called with the queue depth when it changes.
    pad_value
        Text models: the pad id. Requests' rows of token ids of different lengths are
        padded to the longest of the batch (never to ``max_length``); ``None``: no padding.
    bucket_by_length
        Text models: a batch takes the queued requests whose length is within a factor 2 of
        its first one's (the others wait for the next batch, in order): less padding.
    """

    def __init__(
        self,
        executor: Any,
        max_batch_size: int,
        max_delay_ms: float,
        queue_size: int,
        on_batch: Callable[[int, float], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
        pad_value: float | None = None,
        bucket_by_length: bool = False,
    ) -> None:
        self.executor = executor
        self.max_batch_size = int(max_batch_size)
        self.max_delay = max(0.0, float(max_delay_ms)) / 1000.0
        self.linger = self.max_delay * LINGER_FRACTION
        self.queue_size = int(queue_size)
        self._queue: collections.deque[_Item] = collections.deque()
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(max(1, int(getattr(executor, "slots", 1))))
        self._running = 0
        self._last_arrival = 0.0  # monotonic time of the newest request
        # requests per batch of the last batches: the concurrency the version has been seeing
        self._recent: collections.deque[int] = collections.deque([1], maxlen=RECENT_BATCHES)
        self._idle = asyncio.Event()
        self._idle.set()
        self._on_batch = on_batch
        self._on_depth = on_depth
        self.pad_value = pad_value
        self.bucket = bool(bucket_by_length) and pad_value is not None
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
        item = _Item(arrays, rows, fut)
        self._last_arrival = item.enqueued
        self._queue.append(item)
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
        """Idle, nothing to wait for, a quick in-process engine: the short way (module doc)."""
        return (
            self._inline_ok
            and self._running == 0
            and not self._collecting
            and self.executor.inline
            and self._linger_until() is None
        )

    def _linger_until(self) -> float | None:
        """When a free slot should stop waiting for more rows; ``None``: go now.

        Waiting can plausibly help only while the queue holds fewer requests than recent
        batches held and fewer rows than a batch holds, and requests keep coming: the wait
        ends one linger window after the newest arrival, and ``max_delay`` after the oldest
        queued request's arrival at the latest.
        """
        if not self.linger or not self._queue or len(self._queue) >= max(self._recent):
            return None
        if self._queued_rows() >= self.max_batch_size:
            return None
        until = min(self._queue[0].enqueued + self.max_delay, self._last_arrival + self.linger)
        return until if until > time.monotonic() else None

    def _record(self, requests: int) -> None:
        """Remember a batch's size; one that went short after a quiet window resets them."""
        if requests < max(self._recent) and time.monotonic() - self._last_arrival >= self.linger:
            self._recent.clear()  # fewer requests came than recent batches held
        self._recent.append(requests)

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
            self._record(len(batch))
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

    def _arrays(self, batch: list[_Item]) -> dict[str, np.ndarray]:
        if len(batch) == 1:
            return batch[0].arrays
        return {
            name: self._concat([item.arrays[name] for item in batch]) for name in batch[0].arrays
        }

    def _concat(self, parts: list[np.ndarray]) -> np.ndarray:
        """Rows of several requests; token ids of different lengths padded to the longest."""
        if self.pad_value is None or len({p.shape[1:] for p in parts}) == 1:
            return np.concatenate(parts)
        width = max(p.shape[1] for p in parts)
        out = np.full((sum(len(p) for p in parts), width), self.pad_value, parts[0].dtype)
        row = 0
        for p in parts:
            out[row : row + len(p), : p.shape[1]] = p
            row += len(p)
        return out

    @staticmethod
    def _width(item: _Item) -> int:
        first = next(iter(item.arrays.values()))
        return int(first.shape[1]) if first.ndim > 1 else 1

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

    def _take(self) -> list[_Item]:
        if self.bucket:
            return self._take_bucket()
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

    def _take_bucket(self) -> list[_Item]:
        """The oldest request and the queued ones of a similar length (within a factor 2)."""
        batch: list[_Item] = []
        left: collections.deque[_Item] = collections.deque()
        rows, low, high = 0, 0, 0
        while self._queue:
            item = self._queue.popleft()
            if item.future.done():
                continue
            width = self._width(item)
            if not batch:
                low, high = (width + 1) // 2, width * 2
            elif rows + item.rows > self.max_batch_size or not low <= width <= high:
                left.append(item)
                continue
            batch.append(item)
            rows += item.rows
        self._queue = left
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
                while (until := self._linger_until()) is not None:
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), until - time.monotonic())
                    except asyncio.TimeoutError:
                        pass
            finally:
                self._collecting = False
            batch = self._take()
            self._report_depth()
            if not batch:
                self._slots.release()
                continue
            self._record(len(batch))
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
