"""The compress stage: prune, quantize, distill, low-rank, ONNX export with parity, a report.

``aimass_lab.compress(...)`` is :func:`compress` (the package is callable).

Examples
--------
>>> import aimass_lab as am  # doctest: +SKIP
>>> report = am.compress("digits-mlp:1", ["prune:structured:0.5", "quantize:int8-dynamic"])  # doctest: +SKIP
>>> report.to_frame()  # doctest: +SKIP
>>> mv = am.export_onnx("digits-mlp:1")  # doctest: +SKIP
>>> report = am.ensemble(["digits-mlp:2", "digits-cnn:2"], method="mean")  # doctest: +SKIP
>>> job = am.compress("digits-mlp:1", ["quantize:int8-dynamic"], launch=True)  # doctest: +SKIP
>>> job.wait().report()  # doctest: +SKIP
"""

from aimass_lab._callable_module import make_callable
from aimass_lab.compress._api import compress, export_onnx
from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._ensemble import ensemble
from aimass_lab.compress._errors import ExportError, ParityError
from aimass_lab.compress._job import CompressJob
from aimass_lab.compress._report import CompressionReport
from aimass_lab.compress._worker import run as _run_job
from aimass_lab.workspace import register_job_kind

__all__ = [
    "Candidate",
    "CompressJob",
    "CompressionMethod",
    "CompressionReport",
    "Context",
    "ExportError",
    "ParityError",
    "compress",
    "ensemble",
    "export_onnx",
]

make_callable(__name__, compress)
register_job_kind("compress", _run_job)
