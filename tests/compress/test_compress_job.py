"""Compression as a detached job: launched from Python and from the CLI, report rebuilt."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from compress_helpers import FAST_BENCH

import aimass_lab as am
from aimass_lab import data as data_stage
from aimass_lab.cli import cli
from aimass_lab.compress import CompressionReport, CompressJob
from aimass_lab.errors import AimassError, DataError, JobError
from aimass_lab.workspace import job_function, job_kinds


def test_compress_job_kind_is_registered() -> None:
    from aimass_lab.compress import _worker

    assert "compress" in job_kinds()
    assert job_function("compress") is _worker.run


def test_a_launched_job_compresses_and_records_its_report(trained: Any) -> None:
    ws = trained.workspace
    samples = data_stage.load("digits").X_train[:48]
    job = am.compress(
        trained,
        ["prune:structured:0.5:epochs=1", "quantize:int8-static:calibration_batches=2"],
        calibration=samples,
        benchmark=FAST_BENCH,
        launch=True,
    )
    assert isinstance(job, CompressJob) and job.model == trained.ref
    assert job.spec.methods[0].label == "prune:structured:0.5"
    assert job.job.spec["calibration"] == "calibration.npy"
    np.testing.assert_array_equal(np.load(ws.jobs.run_dir(job.id) / "calibration.npy"), samples)
    assert job.wait(timeout=300).status == "succeeded", job.logs(tail=30)
    assert job.progress == 1.0
    log = job.logs()
    assert "[compress]  33% measured the baseline" in log
    assert "[compress] 100% step 2/2 quantize:int8-static" in log
    report = job.report()
    assert isinstance(report, CompressionReport)
    assert [r["method"] for r in report.rows] == [
        "baseline",
        "prune:structured:0.5",
        "quantize:int8-static",
    ]
    child = report.versions[report.rows[2]["version"]]
    assert child.parent == report.rows[1]["version"]
    # 2 calibration batches of 32 rows from the 48 samples given: 32 + 16.
    assert child.lineage["compression"]["details"]["calibration_rows"] == 48
    # The job's result is the report's dict; from_dict rebuilds the same report.
    again = CompressionReport.from_dict(job.job.result, workspace=ws)
    assert again.to_dict() == report.to_dict() and set(again.versions) == set(report.versions)
    assert report.pick("quantize:int8-static").ref == child.ref
    assert "succeeded" in job._repr_html_() and job.id in repr(job)

    # The CLI's jobs commands see it, and --detach starts the same kind of job.
    runner = CliRunner()
    shown = runner.invoke(cli, ["-w", str(ws.path), "jobs", "list"])
    row = next(line for line in shown.output.splitlines() if job.id in line)
    assert "compress" in row and "succeeded" in row, shown.output
    started = runner.invoke(
        cli, ["-w", str(ws.path), "compress", trained.ref, "-m", "prune:0.3:epochs=0", "--detach"]
    )
    assert started.exit_code == 0, started.output
    assert started.output.startswith("started compress job ")
    detached = CompressJob(started.output.split()[3], ws)
    assert detached.job.spec["compress"]["methods"][0]["ratio"] == 0.3
    detached.cancel()  # not needed here: stop it at once (queued: cancelled; running: interrupted)
    assert detached.wait(timeout=60).status in ("cancelled", "interrupted"), detached.logs()


def test_launch_checks_its_input_first_and_report_says_when_there_is_none(trained: Any) -> None:
    ws = trained.workspace
    before = len(ws.jobs.list(kind="compress"))
    with pytest.raises(DataError, match=r"calibration data for quantize:int8-static has samples"):
        am.compress(
            trained,
            ["quantize:int8-static"],
            calibration=np.zeros((4, 8, 8), np.float32),
            launch=True,
        )
    assert len(ws.jobs.list(kind="compress")) == before
    queued = ws.jobs.create(
        "compress", {"model": trained.ref, "compress": {"methods": ["prune:0.5"]}}
    )
    with pytest.raises(
        JobError, match=rf"compress job {queued.id} is queued, so it has no report; wait for it"
    ):
        CompressJob(queued.id, ws).report()
    train_job = ws.jobs.create("train", {})
    with pytest.raises(JobError, match=r"is a train job, not a compress job"):
        CompressJob(train_job.id, ws)
    with pytest.raises(AimassError, match=r"not a compression report document"):
        CompressionReport.from_dict({"rows": []}, workspace=ws)
