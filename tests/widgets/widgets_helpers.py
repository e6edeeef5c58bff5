"""Helpers of the widget tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from common_helpers import wait_for


def poll_until(refresh: Callable[[], Any], timeout: float = 180.0, every: float = 0.3) -> None:
    """Call a panel's ``refresh`` until it returns ``False`` (the work ended)."""
    deadline = time.monotonic() + timeout
    while refresh() is not False:
        assert time.monotonic() < deadline, "the job did not end in time"
        time.sleep(every)


def stop_polling(panel: Any, timeout: float = 60.0) -> None:
    """Stop the panel's poller and wait until it has stopped: a refresh the poller had under
    way would otherwise finish after the test's own refresh and show an older state."""
    panel.stop_polling()
    wait_for(
        lambda: not panel.polling, timeout=timeout, every=0.05, what="the panel's poller to stop"
    )
