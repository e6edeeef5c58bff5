"""Jobs: detached OS processes whose state, heartbeat, log and result live in the store.

A job is launched as ``python -m aimass_lab.runjob WORKSPACE JOB_ID`` in a new
session (its own process group), so it outlives the kernel or shell that started it. Every
process on the workspace sees the same jobs. A job whose process vanished (kill -9, reboot)
is found by its stale heartbeat and recorded ``interrupted``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from aimass_lab.errors import JobError, NotFoundError, accepted
from aimass_lab.settings import env_name, settings
from aimass_lab.workspace._identity import current_user
from aimass_lab.workspace._kernel import current_kernel_id
from aimass_lab.workspace._kinds import IN_PROCESS, job_function
from aimass_lab.workspace._store import JobRow, Store, utcnow

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_TIMEOUT",
    "JOB_STATES",
    "Job",
    "JobManager",
    "new_id",
]

JOB_STATES: tuple[str, ...] = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "interrupted",
    "cancelled",
    "stopped",
)
ACTIVE_STATES: tuple[str, ...] = ("queued", "running")
#: ``stopped``: a service job (the inference server) that was stopped on purpose and shut down
#: cleanly; a job that computes something ends ``interrupted`` when stopped instead.
FINAL_STATES: tuple[str, ...] = ("succeeded", "failed", "interrupted", "cancelled", "stopped")

#: The job process: ``python -m RUNNER_MODULE WORKSPACE JOB_ID`` (it imports the stages, so
#: every job kind is registered there; see :mod:`aimass_lab.workspace._kinds`).
RUNNER_MODULE = "aimass_lab.runjob"

HEARTBEAT_INTERVAL = settings().heartbeat_interval
HEARTBEAT_TIMEOUT = settings().heartbeat_timeout

_CHILDREN: list[subprocess.Popen[bytes]] = []


def new_id() -> str:
    """A short, sortable-enough, unique job id."""
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class Job:
    """A snapshot of one job as recorded in the store."""

    id: str
    kind: str
    name: str | None
    state: str
    spec: dict[str, Any]
    pid: int | None
    host: str | None
    attempt: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    exit_reason: str | None
    progress: float | None
    result: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    owner: str | None = None
    kernel_id: str | None = None

    @classmethod
    def from_row(cls, row: JobRow) -> Job:
        return cls(
            id=row.id,
            kind=row.kind,
            name=row.name,
            state=row.state,
            spec=row.spec or {},
            pid=row.pid,
            host=row.host,
            attempt=row.attempt or 0,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            heartbeat_at=row.heartbeat_at,
            exit_reason=row.exit_reason,
            progress=row.progress,
            result=row.result or {},
            parent_id=row.parent_id,
            owner=row.owner,
            kernel_id=row.kernel_id,
        )

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ACTIVE_STATES

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def eta_s(self) -> float | None:
        """Seconds left, from progress so far (None when unknown)."""
        elapsed = self.duration_s
        if self.state != "running" or not self.progress or elapsed is None or self.progress <= 0:
            return None
        return elapsed * (1.0 - self.progress) / self.progress

    @property
    def short_id(self) -> str:
        """The random tail of the id (``a1b2c3``): what tells jobs of one minute apart."""
        return self.id.rsplit("-", 1)[-1]

    @property
    def label(self) -> str:
        """The job's name, or for an unnamed job what it works on and its short id
        (``train mlp/digits #a1b2c3``)."""
        if self.name:
            return self.name
        model, data = self.spec.get("model"), self.spec.get("data")
        family = model.get("family") if isinstance(model, dict) else model
        dataset = data.get("name") if isinstance(data, dict) else data
        what = "/".join(str(p) for p in (family, dataset) if p)
        return f"{self.kind} {what} #{self.short_id}" if what else f"{self.kind} #{self.short_id}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; passwords in URLs of the spec are masked."""
        out: dict[str, Any] = {}
        for key in self.__dataclass_fields__:
            value = getattr(self, key)
            out[key] = value.isoformat() + "Z" if isinstance(value, dt.datetime) else value
        out["spec"] = _mask_passwords(self.spec)
        out["duration_s"] = self.duration_s
        out["eta_s"] = self.eta_s
        out["label"] = self.label
        return out


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def _mask_passwords(value: Any) -> Any:
    """A copy of ``value`` with ``scheme://user:password@`` URLs shown as ``user:***@``."""
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1***@", value)
    if isinstance(value, dict):
        return {k: _mask_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_passwords(v) for v in value]
    return value


def _pid_alive(pid: int) -> bool:
    try:
        import psutil

        proc = psutil.Process(pid)
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except Exception:
        return False


class JobManager:
    """Create, launch, watch, cancel and resume the workspace's jobs."""

    def __init__(self, store: Store, path: Path) -> None:
        self.store = store
        self.path = path

    # -- creating and launching ---------------------------------------------------------------
    def create(
        self,
        kind: str,
        spec: dict[str, Any],
        *,
        name: str | None = None,
        parent_id: str | None = None,
        owner: str | None = None,
    ) -> Job:
        """Record a queued job without starting it (owned by ``owner`` or :func:`current_user`;
        started from the Jupyter kernel this process is, if it is one)."""
        job_function(kind)  # JobError naming the registered kinds when it is unknown
        job_id = new_id()
        with self.store.session() as s:
            s.add(
                JobRow(
                    id=job_id,
                    kind=kind,
                    name=name,
                    state="queued",
                    spec=spec,
                    attempt=0,
                    created_at=utcnow(),
                    parent_id=parent_id,
                    owner=owner or current_user(),
                    kernel_id=current_kernel_id(),
                )
            )
        self.run_dir(job_id).mkdir(parents=True, exist_ok=True)
        return self.get(job_id)

    def submit(self, kind: str, spec: dict[str, Any], *, name: str | None = None) -> Job:
        """Record a job and start its detached process."""
        job = self.create(kind, spec, name=name)
        self.launch(job.id)
        return self.get(job.id)

    def launch(self, job_id: str) -> None:
        """Start the detached process of a queued job."""
        log = self.log_path(job_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env[env_name("db_url")] = self.store.url
        env["PYTHONUNBUFFERED"] = "1"
        # Like ``python -m``: modules beside the caller (a notebook's my_models.py) import.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), env.get("PYTHONPATH")) if p)
        # Lightning's DDP launcher re-runs this command line for the other ranks.
        cmd = [sys.executable, "-m", RUNNER_MODULE, str(self.path), job_id]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.path),
                start_new_session=True,
                close_fds=True,
            )
        with self.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "queued")
                .values(pid=proc.pid, host=socket.gethostname(), heartbeat_at=utcnow())
            )
        # Reap the child when it ends so that it does not linger as a zombie of this process.
        _CHILDREN.append(proc)
        threading.Thread(target=proc.wait, name=f"aimass-reap-{job_id}", daemon=True).start()

    # -- reading ------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job with this id (prefixes of at least 6 characters are accepted)."""
        with self.store.session() as s:
            row = s.get(JobRow, job_id)
            if row is None and len(job_id) >= 6:
                rows = s.scalars(select(JobRow).where(JobRow.id.startswith(job_id))).all()
                if len(rows) == 1:
                    row = rows[0]
                elif len(rows) > 1:
                    raise NotFoundError(
                        f"job id prefix {job_id!r} is ambiguous: {accepted(r.id for r in rows)}"
                    )
            if row is None:
                raise NotFoundError(
                    f"no job {job_id!r} in workspace {self.path}; list them with: aimass jobs list"
                )
            job = Job.from_row(row)
        return self._check_stale(job)

    def list(
        self, *, kind: str | None = None, state: str | None = None, limit: int | None = None
    ) -> list[Job]:
        """Jobs, newest first."""
        if state is not None and state not in JOB_STATES:
            raise JobError(f"unknown job state {state!r}; accepted: {accepted(JOB_STATES)}")
        query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id.desc())
        if kind:
            query = query.where(JobRow.kind == kind)
        if state:
            query = query.where(JobRow.state == state)
        if limit:
            query = query.limit(limit)
        with self.store.session() as s:
            jobs = [Job.from_row(r) for r in s.scalars(query).all()]
        return [self._check_stale(j) if j.active else j for j in jobs]

    def _check_stale(self, job: Job) -> Job:
        """Record a job whose process vanished as interrupted."""
        if not job.active or job.pid is None:
            return job
        now = utcnow()
        state = "interrupted"
        stale = (
            job.heartbeat_at is None or (now - job.heartbeat_at).total_seconds() > HEARTBEAT_TIMEOUT
        )
        same_host = job.host == socket.gethostname()
        if same_host:
            if _pid_alive(job.pid):
                return job
            # Give a process that just started or just finished a moment to write its state.
            time.sleep(0.2)
            fresh = self._read(job.id)
            if not fresh.active:
                return fresh
            if fresh.state == "queued":
                state = "failed"
                reason = (
                    f"the job's process (pid {job.pid}) exited before the job started; "
                    f"see its log: {self.log_path(job.id)}"
                )
            else:
                reason = f"the job's process (pid {job.pid}) vanished without recording an end"
        elif stale:
            reason = (
                f"no heartbeat since {job.heartbeat_at} (process on host {job.host} presumed gone)"
            )
        else:
            return job
        with self.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.state.in_(ACTIVE_STATES), JobRow.pid == job.pid)
                .values(state=state, finished_at=now, exit_reason=reason)
            )
        return self._read(job.id)

    def _read(self, job_id: str) -> Job:
        with self.store.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise NotFoundError(f"no job {job_id!r}")
            return Job.from_row(row)

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.5) -> Job:
        """Block until the job ends (or ``timeout`` seconds pass); return its last snapshot."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if not job.active:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                return job
            time.sleep(poll)

    # -- acting -------------------------------------------------------------------------------
    def cancel(self, job_id: str) -> Job:
        """Stop a job: a queued one is cancelled; a running one gets SIGTERM, saves a checkpoint
        and is recorded ``interrupted`` by its own process."""
        job = self.get(job_id)
        if not job.active:
            raise JobError(
                f"job {job.id} is already {job.state}; only queued or running jobs can be cancelled"
            )
        if job.state == "queued":
            with self.store.session() as s:
                cancelled = s.execute(
                    update(JobRow)
                    .where(JobRow.id == job.id, JobRow.state == "queued")
                    .values(
                        state="cancelled",
                        finished_at=utcnow(),
                        exit_reason="cancelled before it started",
                    )
                )
            if cancelled.rowcount == 1:  # type: ignore[attr-defined]
                # A launched process finds the job cancelled and exits without running it.
                return self.get(job.id)
        if job.result.get("in_process"):
            ctx = IN_PROCESS.get(job.id)
            if ctx is None or job.pid != os.getpid():
                raise JobError(
                    f"job {job.id} runs inside the Python process {job.pid} that started it (a notebook "
                    "kernel); cancel it from there with run.cancel()"
                )
            ctx.stop_requested.set()
            return self.get(job.id)
        if job.host != socket.gethostname():
            raise JobError(f"job {job.id} runs on host {job.host}; cancel it from that machine")
        assert job.pid is not None
        try:
            os.killpg(job.pid, signal.SIGTERM)  # a detached job leads its own process group
        except ProcessLookupError:  # a job run in a terminal's process (aimass search worker)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(job.pid, signal.SIGTERM)
        except PermissionError:
            pass
        return self.get(job.id)

    def resume(self, job_id: str) -> Job:
        """Start an interrupted (or failed) job again; training continues from its last checkpoint."""
        job = self.get(job_id)
        if job.state not in ("interrupted", "failed", "cancelled"):
            raise JobError(
                f"job {job.id} is {job.state}; only interrupted, failed or cancelled jobs can be resumed"
            )
        with self.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job.id)
                .values(
                    state="queued",
                    pid=None,
                    finished_at=None,
                    exit_reason=None,
                    heartbeat_at=utcnow(),
                )
            )
        self.launch(job.id)
        return self.get(job.id)

    def delete(self, job_id: str) -> None:
        """Forget a finished job (its run folder stays on disk)."""
        job = self.get(job_id)
        if job.active:
            raise JobError(f"job {job.id} is {job.state}; cancel it before deleting it")
        with self.store.session() as s:
            row = s.get(JobRow, job.id)
            if row is not None:
                s.delete(row)

    # -- files --------------------------------------------------------------------------------
    def run_dir(self, job_id: str) -> Path:
        """The job's folder: log, checkpoints, TensorBoard events, outputs."""
        return self.path / "runs" / job_id

    def log_path(self, job_id: str) -> Path:
        """The job's log file."""
        return self.run_dir(job_id) / "job.log"

    def logs(self, job_id: str, tail: int | None = None) -> str:
        """The job's log text (the last ``tail`` lines when given)."""
        path = self.log_path(self.get(job_id).id)
        if not path.exists():
            return ""
        text = path.read_text(encoding="utf-8", errors="replace")
        if tail is not None:
            text = "\n".join(text.splitlines()[-tail:])
        return text
