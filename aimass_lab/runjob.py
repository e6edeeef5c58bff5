"""The job process: ``python -m aimass_lab.runjob WORKSPACE JOB_ID``.

The workspace launches every job with this command (detached, in its own session), and a
multi-node training runs it on each node (torchrun, SLURM: see docs/train.md). It imports
the stages, which register their job kinds (:func:`aimass_lab.workspace.register_job_kind`),
then runs the job with :func:`aimass_lab.workspace.run_job_process`: records it running, beats
its heartbeat, runs the kind's function and records how it ended.
"""

from __future__ import annotations

import sys

import aimass_lab.compress
import aimass_lab.search
import aimass_lab.serve
import aimass_lab.train  # noqa: F401  (each stage registers its job kind on import)
from aimass_lab.data import set_progress
from aimass_lab.workspace import run_job_process

__all__ = ["main", "run_job_process"]


def main() -> int:
    """Run the job of ``sys.argv``; long data passes report progress as plain lines, which
    land in the job's log."""
    set_progress("lines")
    return run_job_process()


if __name__ == "__main__":
    sys.exit(main())
