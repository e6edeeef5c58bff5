"""Where a training run's TensorBoard lives: its event folder and its path behind the proxy.

The server extension (:mod:`aimass_lab.lab`) starts TensorBoard on the folder and proxies it
at the path; the widgets and the ``%aimass tensorboard`` magic link to that path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError, NotFoundError

__all__ = ["TENSORBOARD_PREFIX", "tensorboard_logdir", "tensorboard_path"]

#: The proxy's path below Jupyter's base_url.
TENSORBOARD_PREFIX = ("aimass-lab", "tensorboard")


def tensorboard_path(run_id: str) -> str:
    """The path, below Jupyter's base_url, of a run's TensorBoard behind the proxy.

    Parameters
    ----------
    run_id
        The training run (job id).

    Returns
    -------
    str
        ``"aimass-lab/tensorboard/<run_id>/"``; prepend the server's base_url (``/`` by
        default, ``/user/<name>/`` under JupyterHub).

    Examples
    --------
    >>> tensorboard_path("20240101-120000-abc123")
    'aimass-lab/tensorboard/20240101-120000-abc123/'
    """
    if not isinstance(run_id, str) or not run_id or "/" in run_id or run_id in (".", ".."):
        raise AimassError(
            f"expected a run id (a job id such as '20240101-120000-abc123'), got {run_id!r}"
        )
    return "/".join((*TENSORBOARD_PREFIX, run_id)) + "/"


def tensorboard_logdir(ws: Any, run_id: str) -> Path:
    """The folder of a run's TensorBoard events (``NotFoundError`` saying why when it has none)."""
    job = ws.jobs.get(run_id)  # NotFoundError for an unknown run
    logdir = Path(ws.jobs.run_dir(job.id)) / "tensorboard"
    if not logdir.is_dir():
        raise NotFoundError(
            f"run {job.id} ({job.kind}, {job.state}) has no TensorBoard events yet "
            f"(looked in {logdir}); training runs write them as they log metrics"
        )
    return logdir
