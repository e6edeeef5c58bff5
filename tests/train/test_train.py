"""Real Lightning training as detached jobs, on SQLite and PostgreSQL workspaces."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from common_helpers import wait_for

import aimass_lab as am
from aimass_lab.errors import CheckpointError, DeviceError, NotFoundError, SpecError
from aimass_lab.workspace import Workspace


def test_train_job_records_everything(workspace: Workspace) -> None:
    run = am.train(
        "digits", "mlp", hparams={"hidden": 64, "lr": 3e-3}, max_epochs=3, workspace=workspace
    )
    assert run.status in ("queued", "running")
    run.wait(timeout=180)
    job = run.job
    assert job.state == "succeeded", run.logs(tail=40)
    assert job.progress == 1.0 and job.pid and job.attempt == 1
    assert job.result["epochs"] == 3 and job.result["global_step"] > 0

    names = set(run.metrics["name"])
    assert {
        "train_loss",
        "train_loss_epoch",
        "val_loss",
        "val_acc",
        "val_f1",
        "val_auroc",
        "test_acc",
    } <= names
    val_acc = run.history("val_acc")
    assert len(val_acc) == 3 and [s for s, _ in val_acc] == sorted(s for s, _ in val_acc)
    assert len(run.history("train_loss_epoch")) == 3  # one point per epoch, no duplicates
    assert sorted(p.name for p in run.checkpoint_path.parent.iterdir()) == ["last.ckpt"]
    assert run.summary["test_acc"] > 0.8
    assert {"val_acc", "val_loss", "train_loss_epoch", "test_acc"} <= set(job.result["metrics"])

    assert list(run.tensorboard_dir.glob("events.out.tfevents.*"))
    ckpt = torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == job.result["global_step"]

    net = run.model()
    x = torch.randn(2, 64)
    assert net(x).shape == (2, 10)
    # any process on the workspace sees the same run
    again = am.Run(run.id[:12], Workspace(workspace.path, db_url=workspace.db_url))
    assert again.status == "succeeded" and again.summary == run.summary


def test_same_seed_same_result(sqlite_workspace: Workspace) -> None:
    runs = [
        am.train(
            "iris", "mlp", hparams={"hidden": 16}, max_epochs=3, seed=7, workspace=sqlite_workspace
        )
        for _ in range(2)
    ]
    a, b = (r.wait(timeout=120) for r in runs)
    assert a.status == b.status == "succeeded"
    assert a.summary["val_loss"] == pytest.approx(b.summary["val_loss"], abs=1e-6)
    wa, wb = a.model().state_dict(), b.model().state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_cancel_interrupt_resume_continues_steps(workspace: Workspace) -> None:
    run = am.train(
        "digits", "mlp", hparams={"hidden": 32}, max_epochs=12, batch_size=8, workspace=workspace
    )
    wait_for(lambda: run.summary.get("val_loss") is not None, timeout=120)
    run.cancel()
    run.wait(timeout=60)
    job = run.job
    assert job.state == "interrupted", run.logs(tail=30)
    assert "cancelled" in (job.exit_reason or "")
    ckpt = torch.load(run.checkpoint_path, map_location="cpu", weights_only=True)
    stopped_at = ckpt["global_step"]
    assert stopped_at > 0
    logged_before = max(s for s, _ in run.history("train_loss"))
    assert logged_before <= stopped_at

    run.resume()
    run.wait(timeout=240)
    job = run.job
    assert job.state == "succeeded", run.logs(tail=40)
    assert job.attempt == 2
    steps_after = [s for s, _ in run.history("train_loss") if s > logged_before]
    assert steps_after and min(steps_after) == stopped_at + 1  # continues, no restart from 0
    batches_per_epoch = -(-len(am.datasets.load("digits").y_train) // 8)
    assert job.result["global_step"] == 12 * batches_per_epoch
    assert "resuming from" in run.logs()


def test_killed_process_is_detected_and_resumable(sqlite_workspace: Workspace) -> None:
    run = am.train(
        "digits",
        "mlp",
        max_epochs=50,
        batch_size=8,
        checkpoint_interval_s=1,
        workspace=sqlite_workspace,
    )
    wait_for(lambda: run.checkpoint_path.exists(), timeout=120)
    pid = run.job.pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: run.status != "running", timeout=30)
    job = run.job
    assert job.state == "interrupted"
    assert f"(pid {pid}) vanished" in (job.exit_reason or "")
    assert (
        run.checkpoint_path.exists()
    )  # saved at the end of an epoch; resume will continue from it


def test_ddp_two_cpu_processes(sqlite_workspace: Workspace) -> None:
    run = am.train(
        "digits",
        "mlp",
        max_epochs=2,
        devices=2,
        accelerator="cpu",
        strategy="ddp",
        workspace=sqlite_workspace,
    )
    run.wait(timeout=240)
    assert run.status == "succeeded", run.logs(tail=60)
    assert run.job.result["world_size"] == 2
    assert run.summary["test_acc"] > 0.5


def test_in_process_module(sqlite_workspace: Workspace) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    run = am.train("iris", net, max_epochs=5, lr=0.01, wait=True, workspace=sqlite_workspace)
    assert run.status == "succeeded", run.logs()
    assert run.job.result["in_process"] is True
    assert run.job.pid == os.getpid()
    assert run.summary["val_acc"] > 0.5


def test_corrupt_checkpoint_is_refused(sqlite_workspace: Workspace) -> None:
    run = am.train("iris", "mlp", max_epochs=200, batch_size=4, workspace=sqlite_workspace)
    wait_for(lambda: run.summary.get("val_loss") is not None, timeout=120)
    run.cancel().wait(timeout=60)
    assert run.status == "interrupted"
    run.checkpoint_path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(
        CheckpointError,
        match=r"last\.ckpt is corrupt or unreadable .*delete it to train from the start",
    ):
        run.resume()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"data": "mnist"},
            NotFoundError,
            r"unknown dataset 'mnist'; built-in datasets: .*'digits'.*registered in this workspace",
        ),
        ({"model": "vgg"}, SpecError, r"unknown model 'vgg'; accepted: 'mlp', 'cnn'"),
        (
            {"hparams": {"width": 3}},
            SpecError,
            r"takes no hyperparameter 'width'; accepted: activation, dropout, hidden, layers",
        ),
        (
            {"devices": 64, "accelerator": "cpu"},
            DeviceError,
            r"devices=64 asks for 64 CPU processes but this machine has \d+ cores",
        ),
        (
            {"accelerator": "gpu"}
            if not torch.cuda.is_available()
            else {"devices": 99, "accelerator": "gpu"},
            DeviceError,
            r"(no CUDA GPU is visible|asks for 99 GPUs)",
        ),
        (
            {"model": "cnn"},
            SpecError,
            r"model 'cnn' takes image input, but dataset 'digits' is tabular",
        ),
        (
            {"early_stopping": {"monitor": "val_accuracy"}},
            SpecError,
            r"early_stopping.monitor: got 'val_accuracy': the model never logs this metric; accepted: .*'val_acc'",
        ),
        ({"max_epochs": "ten"}, SpecError, r"max_epochs: got 'ten'"),
        (
            {"hparams": {"max_epochs": 3}, "max_epochs": 5},
            SpecError,
            r"max_epochs: got 3: max_epochs is given twice with different values: "
            r"max_epochs=5 and hparams\['max_epochs'\]=3; give it once",
        ),
    ],
)
def test_bad_input_is_refused_before_a_job_starts(
    sqlite_workspace: Workspace, kwargs: dict, error: type, message: str
) -> None:
    args = {"data": "digits", "model": "mlp", **kwargs}
    with pytest.raises(error, match=message):
        am.train(args.pop("data"), args.pop("model"), workspace=sqlite_workspace, **args)
    assert sqlite_workspace.jobs.list() == []


def test_training_field_given_twice_must_agree(sqlite_workspace: Workspace) -> None:
    from aimass_lab.train import build_train_spec

    same = build_train_spec(
        "digits",
        "mlp",
        hparams={"max_epochs": 5, "lr": 0.01},
        max_epochs=5,
        lr=0.01,
        workspace=sqlite_workspace,
    )
    assert (same.max_epochs, same.lr) == (5, 0.01)
    with pytest.raises(SpecError) as info:
        build_train_spec(
            "digits",
            "mlp",
            hparams={"max_epochs": 3, "lr": 0.01, "seed": 1},
            max_epochs=5,
            lr=0.01,
            seed=2,
            workspace=sqlite_workspace,
        )
    assert [(e["field"], e["value"]) for e in info.value.errors] == [("max_epochs", 3), ("seed", 1)]
    assert "seed=2 and hparams['seed']=1" in str(info.value)


def test_custom_importable_model_runs_as_a_job(
    sqlite_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_models.py").write_text(
        "import torch\n"
        "class Tiny(torch.nn.Module):\n"
        "    def __init__(self, input_shape, output_dim, width=8):\n"
        "        super().__init__()\n"
        "        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(input_shape[0], width),\n"
        "                                       torch.nn.ReLU(), torch.nn.Linear(width, output_dim))\n"
        "    def forward(self, x):\n"
        "        return self.net(x)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    run = am.train(
        "wine",
        "my_models:Tiny",
        hparams={"width": 12},
        max_epochs=3,
        wait=True,
        workspace=sqlite_workspace,
    )
    assert run.status == "succeeded", run.logs(tail=30)
    assert run.model().net[1].out_features == 12  # type: ignore[index,union-attr]
