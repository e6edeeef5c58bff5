"""Helpers of the widget tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def poll_until(refresh: Callable[[], Any], timeout: float = 180.0, every: float = 0.3) -> None:
    """Call a panel's ``refresh`` until it returns ``False`` (the work ended)."""
    deadline = time.monotonic() + timeout
    while refresh() is not False:
        assert time.monotonic() < deadline, "the job did not end in time"
        time.sleep(every)
