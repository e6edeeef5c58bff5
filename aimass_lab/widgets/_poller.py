"""Poll the store on a timer: an asyncio task in a kernel, a daemon thread elsewhere.

Widgets never call into a running job; they read what it recorded. A :class:`Poller` calls a
panel's ``refresh`` at most :data:`MAX_RATE_HZ` times a second and stops when the refresh says
so (the job ended), when :meth:`Poller.stop` is called (the widget was closed), or after too
many errors in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_RATE_HZ", "MIN_INTERVAL_S", "Poller"]

#: The most refreshes a panel makes per second.
MAX_RATE_HZ = 4.0
MIN_INTERVAL_S = 1.0 / MAX_RATE_HZ
#: Refresh errors in a row after which polling gives up (the error is shown by the panel).
MAX_ERRORS = 5


class Poller:
    """Call ``refresh()`` every ``interval`` seconds until it returns ``False``.

    Parameters
    ----------
    refresh
        Called without arguments; return ``False`` to stop polling (anything else goes on).
    interval
        Seconds between refreshes; never below :data:`MIN_INTERVAL_S`.
    on_error
        Called with an exception raised by ``refresh``.
    """

    def __init__(
        self,
        refresh: Callable[[], Any],
        interval: float = 0.5,
        on_error: Callable[[BaseException], Any] | None = None,
    ) -> None:
        self.refresh = refresh
        self.interval = max(MIN_INTERVAL_S, float(interval))
        self.on_error = on_error
        self.refreshes = 0
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._last = 0.0
        self._errors = 0

    @property
    def running(self) -> bool:
        """Whether a polling task or thread is alive."""
        if self._task is not None:
            return not self._task.done()
        if self._thread is not None:
            return self._thread.is_alive()
        return False

    @property
    def mode(self) -> str | None:
        """``"asyncio"``, ``"thread"`` or ``None`` (never started)."""
        if self._task is not None:
            return "asyncio"
        if self._thread is not None:
            return "thread"
        return None

    def start(self) -> Poller:
        """Start polling (no-op while it runs): on the running event loop if there is one.

        Started again right after :meth:`stop`, while the stopped thread or task still finishes
        its refresh, it polls anew: the stopped one ends on its own stop event.
        """
        if self.running and not self._stop.is_set():
            return self
        self._stop = stop = threading.Event()
        self._errors = 0
        self._task = None
        self._thread = None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._task = loop.create_task(self._run_async(stop))
        else:
            self._thread = threading.Thread(
                target=self._run_thread, args=(stop,), name="aimass-poll", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling; a refresh under way finishes first."""
        self._stop.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def join(self, timeout: float | None = None) -> None:
        """Wait for a polling thread to end (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _tick(self) -> bool:
        """One refresh; ``False`` when polling should end."""
        # ``interval`` is at least MIN_INTERVAL_S: never more than MAX_RATE_HZ refreshes a second.
        self._last = time.monotonic()
        try:
            keep = self.refresh()
            self._errors = 0
        except Exception as exc:
            self._errors += 1
            if self.on_error is not None:
                with contextlib.suppress(Exception):
                    self.on_error(exc)
            return self._errors < MAX_ERRORS
        self.refreshes += 1
        return keep is not False

    async def _run_async(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self._tick():
                break
            try:
                await asyncio.sleep(self.interval)
            except asyncio.CancelledError:
                break

    def _run_thread(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self._tick():
                break
            if stop.wait(self.interval):
                break
