"""Compression as a detached job: its launcher and the handle (the job function: ``_worker``).

A ``compress`` job (the kind ``compress``) has the spec ``{"model": "name:version",
"compress": CompressSpec dict}`` (plus ``"calibration": "calibration.npy"`` when samples for
int8-static calibration were given: they are saved in the job's folder) and records the
:class:`~aimass_lab.compress.CompressionReport` dict as its result.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from aimass_lab._io import atomic_open
from aimass_lab.errors import JobError
from aimass_lab.specs import CompressSpec, QuantizeSpec
from aimass_lab.workspace import JobHandle

if TYPE_CHECKING:
    from aimass_lab.compress._report import CompressionReport
    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

__all__ = ["CALIBRATION_FILE", "CompressJob", "launch_job"]

#: Where the calibration samples given to a launched job are kept, in its folder.
CALIBRATION_FILE = "calibration.npy"


def launch_job(
    mv: ModelVersion, spec: CompressSpec, calibration: Any, ws: Workspace
) -> CompressJob:
    """Record a ``compress`` job for ``mv`` and start its detached process."""
    import numpy as np

    doc: dict[str, Any] = {"model": mv.ref, "compress": spec.to_dict()}
    samples = None
    static = [m for m in spec.methods if isinstance(m, QuantizeSpec) and m.mode == "int8-static"]
    if calibration is not None and static:
        from aimass_lab.compress._quantize import calibration_batches

        shape = tuple(int(d) for d in mv.config["input_shape"])
        calibration_batches(calibration, shape, batches=1, batch_size=1, what=static[0].label)
        samples = np.ascontiguousarray(calibration, dtype=np.float32)
        doc["calibration"] = CALIBRATION_FILE
    job = ws.jobs.create("compress", doc, name=f"compress {mv.ref}")
    if samples is not None:
        with atomic_open(ws.jobs.run_dir(job.id) / CALIBRATION_FILE) as fh:
            np.save(fh, samples, allow_pickle=False)
    ws.jobs.launch(job.id)
    return CompressJob(job.id, ws)


class CompressJob(JobHandle):
    """A ``compress`` job and, once it succeeded, its report.

    Parameters
    ----------
    job_id
        The job id (a unique prefix of 6+ characters is accepted).
    workspace
        The workspace (default: the current one).

    Examples
    --------
    >>> job = aimass_lab.compress("digits-mlp:1", ["quantize:int8-dynamic"], launch=True)  # doctest: +SKIP
    >>> job.wait().report().to_frame()  # doctest: +SKIP
    """

    kind = "compress"
    noun = "a compress job"

    @property
    def progress(self) -> float:
        """The fraction of the steps done (the baseline's measurement counts as one)."""
        return float(self.job.progress or 0.0)

    @property
    def model(self) -> str:
        """The ref of the compressed model."""
        return str(self.job.spec["model"])

    @property
    def spec(self) -> CompressSpec:
        """The CompressSpec the job runs."""
        return CompressSpec.from_dict(self.job.spec["compress"])

    def cancel(self) -> CompressJob:
        """Stop the job; the variants of the steps already done stay registered."""
        return super().cancel()

    def report(self) -> CompressionReport:
        """The report the job recorded.

        Raises
        ------
        JobError
            When the job has not succeeded (yet), with its state, reason and last log lines.
        """
        from aimass_lab.compress._report import CompressionReport

        job = self.job
        if job.state != "succeeded" or "rows" not in job.result:
            hint = (
                "wait for it with .wait()"
                if job.active
                else f"its log ends with:\n{self.logs(tail=15)}"
            )
            raise JobError(
                f"compress job {self.id} is {job.state}"
                + (f" ({job.exit_reason})" if job.exit_reason else "")
                + f", so it has no report; {hint}"
            )
        return CompressionReport.from_dict(job.result, workspace=self.workspace)

    def __repr__(self) -> str:
        return f"CompressJob({self.id!r}, model={self.model!r}, status={self.status!r})"

    def _repr_html_(self) -> str:
        job = self.job
        steps = ", ".join(m.label for m in self.spec.methods)
        return (
            f"<div><b>compress job {html.escape(self.id)}</b>: {html.escape(self.model)} "
            f"[{html.escape(steps)}] — {html.escape(job.state)}, "
            f"{round(100 * (job.progress or 0.0))}%"
            + (f" ({html.escape(job.exit_reason)})" if job.exit_reason else "")
            + "</div>"
        )
