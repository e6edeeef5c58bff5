"""The ``aimass`` command, run as a real process against a real workspace."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from common_helpers import aimass as run_aimass
from common_helpers import wait_for

from aimass_lab._version import __version__

#: ``aimass`` in a real process; a call must succeed unless it says ``check=False``.
aimass = partial(run_aimass, check=True)


def test_help_lists_the_commands(tmp_path: Path) -> None:
    out = aimass(tmp_path, "--help").stdout
    for command in ("train", "jobs", "runs", "datasets", "models", "quickstart"):
        assert command in out
    assert aimass(tmp_path, "--version").stdout.split()[-1] == __version__


def test_train_register_and_manage_models(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    doc = json.loads(
        aimass(
            ws,
            "train",
            "--data",
            "iris",
            "--model",
            "mlp",
            "--set",
            "hidden=32",
            "--set",
            "lr=0.01",
            "--epochs",
            "3",
            "--wait",
            "--json",
        ).stdout
    )
    assert doc["state"] == "succeeded" and doc["summary"]["val_acc"] > 0.3
    run_id = doc["id"]

    jobs = json.loads(aimass(ws, "jobs", "list", "--json").stdout)
    assert [j["id"] for j in jobs] == [run_id]
    assert json.loads(aimass(ws, "jobs", "show", run_id, "--json").stdout)["kind"] == "train"
    assert f"job {run_id} succeeded" in aimass(ws, "jobs", "logs", run_id).stdout
    runs = json.loads(aimass(ws, "runs", "list", "--json").stdout)
    assert runs[0]["id"] == run_id and runs[0]["model"] == "mlp"
    assert "tensorboard --logdir" in aimass(ws, "runs", "show", run_id).stdout

    assert (
        "registered iris-mlp:1 (prod)"
        in aimass(ws, "models", "register", run_id, "iris-mlp", "--alias", "prod").stdout
    )
    aimass(ws, "models", "register", run_id, "iris-mlp")
    for dots in (".", ".."):  # path segments, not names
        refused = aimass(ws, "models", "register", run_id, dots, check=False)
        assert refused.returncode == 1 and f"invalid model name '{dots}'" in refused.stderr
    versions = json.loads(aimass(ws, "models", "list", "--json").stdout)
    assert [v["ref"] for v in versions] == ["iris-mlp:2", "iris-mlp:1"]
    assert (
        "iris-mlp:prod -> iris-mlp:2" in aimass(ws, "models", "alias", "iris-mlp:2", "prod").stdout
    )
    assert (
        json.loads(aimass(ws, "models", "show", "iris-mlp:prod", "--json").stdout)["version"] == 2
    )
    assert "OK" in aimass(ws, "models", "verify", "iris-mlp:1").stdout

    archive = tmp_path / "iris.tar.gz"
    aimass(ws, "models", "export", "iris-mlp:1", str(archive))
    other = tmp_path / "other"
    imported = json.loads(aimass(other, "models", "import", str(archive), "--json").stdout)
    assert imported["ref"] == "iris-mlp:1"
    refused = aimass(other, "models", "import", str(archive), "--name", "...", check=False)
    assert refused.returncode == 1 and "invalid model name '...'" in refused.stderr
    assert "OK" in aimass(other, "models", "verify", "iris-mlp:1").stdout
    aimass(ws, "models", "delete", "iris-mlp:1", "--yes")
    assert [v["ref"] for v in json.loads(aimass(ws, "models", "list", "--json").stdout)] == [
        "iris-mlp:2"
    ]


def test_datasets_commands(tmp_path: Path) -> None:
    items = json.loads(aimass(tmp_path, "datasets", "list", "--json").stdout)
    assert {"iris", "digits", "diabetes"} <= {d["name"] for d in items}
    shown = json.loads(aimass(tmp_path, "datasets", "show", "iris", "--json").stdout)
    assert shown["report"]["n_rows"] == 150
    csv = tmp_path / "people.csv"
    csv.write_text(
        "age,income,bought\n"
        + "\n".join(f"{20 + i % 40},{1000 + 37 * i},{i % 2}" for i in range(60))
    )
    assert (
        "registered"
        in aimass(
            tmp_path, "datasets", "add", "people", "--path", str(csv), "--target", "bought"
        ).stdout
    )
    assert "people" in {
        d["name"] for d in json.loads(aimass(tmp_path, "datasets", "list", "--json").stdout)
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--data", "mnist"), "error: unknown dataset 'mnist'"),
        (("train", "--data", "digits", "--set", "width=3"), "takes no hyperparameter 'width'"),
        (("train", "--data", "digits", "--epochs", "0"), "max_epochs: got 0"),
        (("train", "--data", "digits", "--set", "novalue"), "expected KEY=VALUE"),
        (("jobs", "show", "nope-nope"), "error: no job 'nope-nope'"),
        (
            ("models", "show", "ghost:1"),
            "error: no model named 'ghost' in the registry of workspace ",
        ),
        (
            ("datasets", "add", "x", "--path", "/nonexistent/data.csv", "--target", "y"),
            "CSV file not found",
        ),
    ],
)
def test_bad_input_gives_a_clear_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = aimass(tmp_path, *args, check=False)
    assert proc.returncode in (1, 2), proc.returncode  # 1: our error, 2: click's usage error
    assert message in proc.stderr, proc.stderr  # on stderr, not mixed into the output
    assert "Traceback" not in proc.stderr


def test_config_file_with_flag_overrides(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "data: {name: wine}\nmodel: {family: mlp, hparams: {hidden: 16}}\nmax_epochs: 5\n"
    )
    doc = json.loads(
        aimass(
            tmp_path / "ws", "train", "--config", str(config), "--epochs", "2", "--wait", "--json"
        ).stdout
    )
    assert doc["state"] == "succeeded"
    assert doc["spec"]["max_epochs"] == 2 and doc["spec"]["model"]["hparams"] == {"hidden": 16}


def test_set_overrides_the_config_file_and_conflicts_with_flags(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("data: {name: wine}\nmax_epochs: 5\nlr: 0.001\n")
    doc = json.loads(
        aimass(
            tmp_path / "ws", "train", "--config", str(config), "--set", "lr=0.01",
            "--set", "max_epochs=3", "--no-launch", "--json",
        ).stdout
    )  # fmt: skip
    assert (doc["spec"]["lr"], doc["spec"]["max_epochs"]) == (0.01, 3)
    proc = aimass(
        tmp_path / "ws", "train", "--config", str(config), "--epochs", "2",
        "--set", "max_epochs=3", "--no-launch", check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "max_epochs=2 and hparams['max_epochs']=3; give it once" in proc.stderr


def test_jobs_cancel_then_resume_from_the_terminal(tmp_path: Path) -> None:
    """``aimass jobs cancel`` interrupts a real training job at a checkpoint; ``aimass jobs
    resume --wait`` continues it from there to the end; bad ids and states say why."""
    import torch

    from aimass_lab.train import Run
    from aimass_lab.workspace import Workspace

    ws = tmp_path / "ws"
    started = json.loads(
        aimass(
            ws, "train", "--data", "digits", "--model", "mlp", "--set", "hidden=32",
            "--epochs", "12", "--batch-size", "8", "--json",
        ).stdout
    )  # fmt: skip
    job_id = started["id"]
    run = Run(job_id, Workspace(ws))
    wait_for(lambda: run.summary.get("val_loss") is not None, what="the first validation")
    out = aimass(ws, "jobs", "cancel", job_id).stdout
    assert job_id in out
    run.wait(timeout=120)
    interrupted = json.loads(aimass(ws, "jobs", "show", job_id, "--json").stdout)
    assert interrupted["state"] == "interrupted", run.logs(tail=30)
    stopped_at = torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)[
        "global_step"
    ]
    assert stopped_at > 0

    # resuming a job that is not interrupted, and an unknown job: clear errors, exit 1
    other = aimass(ws, "jobs", "resume", "nope-nope", check=False)
    assert other.returncode == 1 and "error: no job 'nope-nope'" in other.stderr

    done = json.loads(aimass(ws, "jobs", "resume", job_id, "--wait", "--json").stdout)
    assert done["state"] == "succeeded" and done["attempt"] == 2, run.logs(tail=40)
    batches_per_epoch = -(-len(am_digits_train()) // 8)
    assert done["result"]["global_step"] == 12 * batches_per_epoch
    assert "resuming from" in run.logs()
    again = aimass(ws, "jobs", "resume", job_id, check=False)
    assert again.returncode == 1
    assert "is succeeded; only interrupted, failed or cancelled jobs can be resumed" in again.stderr
    cancel_done = aimass(ws, "jobs", "cancel", job_id, check=False)
    assert cancel_done.returncode == 1
    assert "only queued or running jobs can be cancelled" in cancel_done.stderr


def am_digits_train() -> Any:
    import aimass_lab as am

    return am.datasets.load("digits").y_train
