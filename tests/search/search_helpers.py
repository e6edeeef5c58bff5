"""Helpers for the search tests: run a recorded worker job inside the test process."""

from __future__ import annotations

from aimass_lab.workspace import Workspace, execute_job, job_function, start_job

LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}


def run_worker_here(ws: Workspace, job_id: str) -> int:
    """Run a queued ``search`` job in this process, exactly as its detached process would."""
    ctx = start_job(ws, job_id)
    return execute_job(ctx, job_function("search"))
