"""A Poller started again right after it was stopped polls anew (thread and asyncio task).

A panel stops its poller and starts it again in one go (the Deploy panel's Stop then Start,
a test that stops polling then clicks Cancel): the stopped thread may still be inside a
refresh, and the new start must not be taken for "already running".
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from common_helpers import wait_for


def test_a_thread_poller_stopped_inside_a_refresh_polls_again_when_started() -> None:
    from aimass_lab.widgets import Poller

    inside = threading.Event()
    release = threading.Event()
    calls: list[int] = []

    def refresh() -> bool:
        calls.append(1)
        inside.set()
        release.wait(60)  # the first thread stays inside its refresh until released
        return True

    poller = Poller(refresh, interval=0.25).start()
    try:
        assert inside.wait(60), "the first refresh never ran"
        poller.stop()
        poller.start()  # at once: the stopped thread is still inside its refresh
        release.set()
        wait_for(lambda: len(calls) >= 4, timeout=60, what="refreshes after the restart")
        assert poller.running and poller.mode == "thread"
    finally:
        release.set()
        poller.stop()
    wait_for(lambda: not poller.running, timeout=60, what="the poller to stop")


def test_an_asyncio_poller_stopped_and_started_in_one_step_polls_again() -> None:
    from aimass_lab.widgets import Poller

    calls: list[int] = []

    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, f"timed out after 60 s waiting for {what}"
            await asyncio.sleep(0.05)

    async def main() -> tuple[bool, str | None]:
        poller = Poller(lambda: calls.append(1), interval=0.25).start()
        await until(lambda: len(calls) >= 1, "the first refresh")
        poller.stop()
        poller.start()  # in the same step: the cancelled task is not done yet
        restarted_at = len(calls)
        await until(lambda: len(calls) >= restarted_at + 3, "refreshes after the restart")
        running, mode = poller.running, poller.mode
        poller.stop()
        await until(lambda: not poller.running, "the poller to stop")
        return running, mode

    assert asyncio.run(main()) == (True, "asyncio")
