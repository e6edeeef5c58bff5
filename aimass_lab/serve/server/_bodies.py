"""Request bodies in flight: a byte budget, and parsing large bodies off the event loop.

A body of a few kilobytes is read and parsed on the event loop (a thread hop would cost more
than the parse). A larger one first takes its size from the server's budget of body bytes in
flight (``max_body_bytes_in_flight``), waiting in order while other large bodies hold it —
unread, so it stays in the client's and the kernel's buffers, not in the server — and gives it
back when its request is answered; its parsing runs in the server's thread pool, at most
``PARSE_THREADS`` at a time, so that health checks and small requests keep being answered
while it is parsed. A body that cannot get its bytes within the request timeout gets 503.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Any, TypeVar

from aimass_lab.serve.server._protocol import HTTPError

__all__ = ["PARSE_INLINE_BYTES", "PARSE_THREADS", "BodyBudget"]

T = TypeVar("T")

#: Bodies up to this size are parsed on the event loop and take nothing from the budget.
PARSE_INLINE_BYTES = 64 * 1024
#: Most large bodies parsed at once (each in a thread of the server's pool).
PARSE_THREADS = 2


class BodyBudget:
    """At most ``limit`` bytes of large bodies held at once (waiters served in order), and
    the parsing of large bodies in the thread pool."""

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self.used = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._parse_slots: asyncio.Semaphore | None = None

    async def acquire(self, size: int, timeout: float) -> None:
        """Take ``size`` bytes, waiting at most ``timeout`` s for them (then 503)."""
        size = min(size, self.limit)  # one body never waits for more than the whole budget
        if not self._waiters and self.used + size <= self.limit:
            self.used += size
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, fut)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except BaseException as exc:
            if fut.done() and not fut.cancelled():
                self.release(size)  # granted as the wait ended: give it back
            else:
                fut.cancel()
                self._waiters.remove(entry)
                self._grant()  # a large waiter leaving may let smaller ones in
            if not isinstance(exc, TimeoutError):
                raise
            raise HTTPError(
                503,
                f"the server is busy reading other large request bodies ({self.used} of "
                f"{self.limit} bytes in flight, --max-body-bytes-in-flight); retry later",
                {"retry-after": "1"},
            ) from None

    def release(self, size: int) -> None:
        """Give back ``size`` bytes taken with :meth:`acquire`."""
        self.used -= min(size, self.limit)
        self._grant()

    async def parse(self, size: int, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``: right here for a small body, in the thread pool for a large one."""
        if size <= PARSE_INLINE_BYTES:
            return fn(*args)
        if self._parse_slots is None:
            self._parse_slots = asyncio.Semaphore(PARSE_THREADS)
        async with self._parse_slots:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def _grant(self) -> None:
        while self._waiters and self.used + self._waiters[0][0] <= self.limit:
            size, fut = self._waiters.popleft()
            self.used += size
            fut.set_result(None)
