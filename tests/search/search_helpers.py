"""Helpers for the search tests: run a recorded worker job inside the test process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aimass_lab.workspace import Workspace
from aimass_lab.workspace._runner import execute_job, job_function, start_job

LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}


def run_worker_here(ws: Workspace, job_id: str) -> int:
    """Run a queued ``search`` job in this process, exactly as its detached process would."""
    ctx = start_job(ws, job_id)
    return execute_job(ctx, job_function("search"))


def wait_for(predicate: Callable[[], Any], timeout: float = 120.0, every: float = 0.2) -> Any:
    """Poll until ``predicate()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not reached in time")
