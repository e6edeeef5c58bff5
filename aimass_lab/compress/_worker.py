"""The ``compress`` job function, run in the job's process (see :mod:`aimass_lab.compress._job`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab.compress._api import compress
from aimass_lab.specs import CompressSpec

if TYPE_CHECKING:
    from aimass_lab.workspace import JobContext

__all__ = ["run"]


def run(ctx: JobContext) -> None:
    """The job function: compress ``spec["model"]`` and record the report as the result."""
    import numpy as np

    doc = ctx.spec
    spec = CompressSpec.from_dict(doc["compress"])
    calibration = None
    if doc.get("calibration"):
        calibration = np.load(ctx.run_dir / str(doc["calibration"]), allow_pickle=False)

    def on_progress(fraction: float, what: str) -> None:
        ctx.set_progress(fraction)
        print(f"[compress] {fraction:4.0%} {what}", flush=True)

    print(
        f"[compress] {doc['model']}: {', '.join(m.label for m in spec.methods)}",
        flush=True,
    )
    report = compress(
        str(doc["model"]),
        spec,
        calibration=calibration,
        workspace=ctx.workspace,
        on_progress=on_progress,
    )
    ctx.set_result(report.to_dict())
