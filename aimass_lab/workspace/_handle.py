"""JobHandle: what the handles of one kind of job share (Run, CompressJob)."""

from __future__ import annotations

import time
from typing import Any, ClassVar, TypeVar

from aimass_lab.errors import JobError
from aimass_lab.workspace._jobs import Job
from aimass_lab.workspace._workspace import Workspace, resolve_workspace

__all__ = ["JobHandle"]

H = TypeVar("H", bound="JobHandle")


class JobHandle:
    """A job of one kind in a workspace, read afresh from the store on every access.

    Subclasses set ``kind`` (the job kind they accept) and ``noun`` (how the error for a job
    of another kind names what was expected).

    Parameters
    ----------
    job_id
        The job id (a unique prefix of 6+ characters is accepted).
    workspace
        The workspace (default: the current one).
    """

    kind: ClassVar[str] = ""
    noun: ClassVar[str] = "job"

    def __init__(self, job_id: str, workspace: Workspace | str | None = None) -> None:
        self.workspace = resolve_workspace(workspace)
        job = self.workspace.jobs.get(job_id)
        if job.kind != self.kind:
            raise JobError(f"job {job.id} is a {job.kind} job, not {self.noun}")
        self.id = job.id

    @property
    def job(self) -> Job:
        """A fresh snapshot of the job record."""
        return self.workspace.jobs.get(self.id)

    @property
    def status(self) -> str:
        """queued, running, succeeded, failed, interrupted or cancelled."""
        return self.job.state

    def logs(self, tail: int | None = None) -> str:
        """The job's log (the last ``tail`` lines)."""
        return self.workspace.jobs.logs(self.id, tail=tail)

    def wait(self: H, timeout: float | None = None, progress: bool = False) -> H:
        """Block until the job ends (or ``timeout`` seconds pass).

        Parameters
        ----------
        timeout
            Seconds to wait at most; ``None`` waits for the end.
        progress
            Show a progress bar (tqdm) with the job's state (and a run's latest losses).
        """
        if not progress:
            self.workspace.jobs.wait(self.id, timeout=timeout)
            return self
        from tqdm.auto import tqdm

        deadline = None if timeout is None else time.monotonic() + timeout
        with tqdm(total=100, unit="%", **self._bar_options()) as bar:
            while True:
                job = self.job
                bar.update(max(0, round(100 * (job.progress or 0.0)) - bar.n))
                bar.set_postfix(state=job.state, **self._bar_postfix())
                if not job.active or (deadline is not None and time.monotonic() >= deadline):
                    break
                time.sleep(0.5)
        return self

    def cancel(self: H) -> H:
        """Stop the job."""
        self.workspace.jobs.cancel(self.id)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The job record as a JSON-ready dict."""
        return self.job.to_dict()

    def _bar_options(self) -> dict[str, Any]:
        """tqdm's options of :meth:`wait`'s progress bar (``desc`` at least)."""
        return {"desc": f"{self.kind} {self.id}"}

    def _bar_postfix(self) -> dict[str, str]:
        """What the progress bar shows after the state."""
        return {}
