"""Running one job: its context, heartbeat and ending (the process is ``aimass_lab.runjob``).

It records ``running`` with its pid, beats a heartbeat, runs the job kind's function and
records how it ended. SIGTERM means "stop gracefully": training saves a checkpoint and the
job is recorded ``interrupted`` (resumable), never ``succeeded``.

Under DDP (Lightning's launcher re-runs this command for ranks > 0) or torchrun/SLURM, only
global rank 0 touches the job record; the other ranks just run the work.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from aimass_lab.errors import AimassError, JobError
from aimass_lab.settings import settings
from aimass_lab.workspace._identity import acting_as
from aimass_lab.workspace._jobs import HEARTBEAT_INTERVAL, Job
from aimass_lab.workspace._kinds import IN_PROCESS, job_function
from aimass_lab.workspace._store import JobRow, utcnow
from aimass_lab.workspace._workspace import Workspace

__all__ = [
    "IN_PROCESS",
    "JobContext",
    "JobInterrupted",
    "execute_job",
    "is_primary_process",
    "job_function",
    "job_log_output",
    "run_job_process",
    "start_job",
]


class JobInterrupted(BaseException):
    """Raised when SIGTERM arrives outside a training loop."""


def is_primary_process() -> bool:
    """Whether this process is global rank 0 (or not distributed at all)."""
    for var in ("RANK", "SLURM_PROCID"):
        if os.environ.get(var) not in (None, "", "0"):
            return False
    if os.environ.get("NODE_RANK", "0") not in ("", "0"):
        return False
    return os.environ.get("LOCAL_RANK", "0") in ("", "0")


class JobContext:
    """What a job's function gets: the workspace, the job, its folder and its controls.

    Attributes
    ----------
    workspace
        The :class:`~aimass_lab.workspace.Workspace`.
    job
        The job snapshot at start.
    run_dir
        The job's folder.
    primary
        True on global rank 0: only it writes to the store.
    stop_requested
        Set when SIGTERM arrived.
    in_loop
        Set by the job function while a loop that handles SIGTERM itself (Lightning's) runs;
        outside it SIGTERM raises :class:`JobInterrupted` at once.
    end_state
        Set by a service job (the inference server) that returns because it was asked to
        stop: the job is recorded in this state (``"stopped"``) instead of ``succeeded``.
    end_reason
        With ``end_state``: the exit reason recorded (default ``"stopped on request"``; an
        idle shutdown says ``"idle for 30s"``).
    """

    def __init__(self, workspace: Any, job: Job, primary: bool) -> None:
        self.workspace = workspace
        self.job = job
        self.primary = primary
        self.run_dir: Path = workspace.jobs.run_dir(job.id)
        self.stop_requested = threading.Event()
        self.in_loop = False
        self.end_state: str | None = None
        self.end_reason: str | None = None
        self._progress: float | None = None
        self._progress_written: float | None = None
        self._done = threading.Event()

    @property
    def spec(self) -> dict[str, Any]:
        return self.job.spec

    @property
    def resuming(self) -> bool:
        """True when this is not the job's first attempt."""
        return self.job.attempt > 1

    def set_progress(self, fraction: float) -> None:
        """Record progress in [0, 1]; written with the next heartbeat."""
        self._progress = min(1.0, max(0.0, float(fraction)))

    def set_result(self, result: dict[str, Any]) -> None:
        """Merge ``result`` into the job's recorded result."""
        if not self.primary:
            return
        store = self.workspace.store
        with store.session() as s:
            row = s.get(JobRow, self.job.id)
            if row is not None:
                row.result = {**(row.result or {}), **result}

    # -- internal ---------------------------------------------------------------------------
    def _beat(self) -> None:
        store = self.workspace.store
        while not self._done.wait(HEARTBEAT_INTERVAL):
            values: dict[str, Any] = {"heartbeat_at": utcnow()}
            if self._progress is not None and self._progress != self._progress_written:
                values["progress"] = self._progress
                self._progress_written = self._progress
            try:
                with store.session() as s:
                    s.execute(update(JobRow).where(JobRow.id == self.job.id).values(**values))
            except Exception as exc:  # a database hiccup must not kill the job
                print(f"[aimass] heartbeat failed: {exc}", file=sys.stderr)


def _finish(ctx: JobContext, state: str, reason: str | None) -> None:
    values: dict[str, Any] = {"state": state, "finished_at": utcnow(), "exit_reason": reason}
    if state == "succeeded":
        values["progress"] = 1.0
    elif ctx._progress is not None:
        values["progress"] = ctx._progress
    with ctx.workspace.store.session() as s:
        s.execute(update(JobRow).where(JobRow.id == ctx.job.id).values(**values))


def start_job(ws: Any, job_id: str, primary: bool = True) -> JobContext:
    """Record the job as running in this process and return its context."""
    job = ws.jobs._read(job_id)
    if primary:
        with ws.store.session() as s:
            started = s.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.state == "queued")
                .values(
                    state="running",
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                    attempt=JobRow.attempt + 1,
                    exit_reason=None,
                )
            )
        if started.rowcount != 1:
            state = ws.jobs._read(job.id).state
            raise JobError(f"job {job.id} is {state}, not queued: not starting it")
        job = ws.jobs._read(job.id)
    return JobContext(ws, job, primary)


def execute_job(ctx: JobContext, func: Callable[[JobContext], Any]) -> int:
    """Run ``func(ctx)`` with a heartbeat and record how it ended; return an exit code."""
    job = ctx.job
    if ctx.primary:
        threading.Thread(target=ctx._beat, name=f"aimass-heartbeat-{job.id}", daemon=True).start()
        print(
            f"[aimass] job {job.id} ({job.kind}) attempt {job.attempt} pid {os.getpid()} "
            f"started {dt.datetime.now().isoformat(timespec='seconds')}",
            flush=True,
        )
    interrupted = "cancelled; resume to continue from the last checkpoint"
    state, reason, code = "failed", None, 1
    try:
        with acting_as(job.owner):  # a job reads what its owner may read (data sources)
            func(ctx)
        if ctx.end_state is not None:
            state, reason, code = ctx.end_state, ctx.end_reason or "stopped on request", 0
        elif ctx.stop_requested.is_set():
            state, reason, code = "interrupted", interrupted, 0
        else:
            state, reason, code = "succeeded", None, 0
    except (JobInterrupted, KeyboardInterrupt):
        state, reason, code = "interrupted", interrupted, 0
    except SystemExit as exc:
        if ctx.stop_requested.is_set():
            state, reason, code = "interrupted", interrupted, 0
        else:
            state, reason, code = "failed", f"exited with code {exc.code}", 1
    except AimassError as exc:
        traceback.print_exc()
        state, reason, code = "failed", str(exc), 1
    except BaseException as exc:
        traceback.print_exc()
        state, reason, code = "failed", f"{type(exc).__name__}: {exc}", 1
    finally:
        ctx._done.set()
        if ctx.primary:
            _finish(ctx, state, reason)
            print(f"[aimass] job {job.id} {state}" + (f": {reason}" if reason else ""), flush=True)
    return code


def job_log_output() -> None:
    """Make this process's output a readable job log, written as it happens.

    stdout and stderr (the log file) are flushed at each line; log records of WARNING and
    above (Lightning's among them) go to the log with their time, level and logger; Python
    warnings are captured into it the same way.
    """
    import logging

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stdout,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    logging.captureWarnings(True)


def run_job_process(argv: list[str] | None = None) -> int:
    """Run one job in this process; return the exit code (``aimass_lab.runjob`` calls it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m aimass_lab.runjob WORKSPACE JOB_ID", file=sys.stderr)
        return 2
    job_log_output()
    ws = Workspace(args[0], db_url=settings().db_url)
    try:
        ctx = start_job(ws, args[1], primary=is_primary_process())
    except JobError as exc:  # cancelled before it started, or started elsewhere
        print(f"[aimass] {exc}", flush=True)
        return 0

    def on_sigterm(signum: int, frame: Any) -> None:
        if ctx._done.is_set():  # already recording how it ended
            return
        ctx.stop_requested.set()
        if not ctx.in_loop:
            raise JobInterrupted()

    signal.signal(signal.SIGTERM, on_sigterm)
    return execute_job(ctx, job_function(ctx.job.kind))
