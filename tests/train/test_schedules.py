"""Learning-rate schedules, gradient clipping and max_steps in real Lightning training: the
learning rate of every step is recorded (``lr``), and what the run did is in model.json."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import aimass_lab as am
from aimass_lab.errors import SpecError
from aimass_lab.specs import TrainSpec
from aimass_lab.workspace import Workspace

BATCHES = 4  # optimizer steps per epoch (limit_train_batches)


def _run(workspace: Workspace, epochs: int = 3, **fields: Any) -> Any:
    run = am.train(
        "digits", "mlp", hparams={"hidden": 16, "layers": 1}, max_epochs=epochs,
        limit_train_batches=BATCHES, workspace=workspace, wait=True, **fields,
    )  # fmt: skip
    assert run.status == "succeeded", run.logs(tail=40)
    return run


def _lrs(run: Any) -> list[float]:
    return [v for _, v in sorted(run.history("lr"))]


def _hparams(run: Any) -> dict[str, Any]:
    return dict(run.register("sched").config["hparams"])


def test_step_schedule_cuts_the_rate_every_n_epochs(sqlite_workspace: Workspace) -> None:
    run = _run(sqlite_workspace, lr=0.01, lr_schedule="step", lr_gamma=0.5, lr_step_epochs=1)
    lrs = _lrs(run)
    assert len(lrs) == 3 * BATCHES
    epochs = [lrs[i * BATCHES : (i + 1) * BATCHES] for i in range(3)]
    for k, epoch in enumerate(epochs):
        assert epoch == pytest.approx([0.01 * 0.5**k] * BATCHES)
    hp = _hparams(run)
    assert hp["lr_schedule"] == "step" and hp["lr_gamma"] == 0.5 and hp["lr_step_epochs"] == 1


def test_one_cycle_rises_over_the_warm_up_then_falls(sqlite_workspace: Workspace) -> None:
    run = _run(sqlite_workspace, lr=0.02, lr_schedule="one_cycle", warmup_steps=4)
    lrs = _lrs(run)
    peak = max(range(len(lrs)), key=lrs.__getitem__)
    assert lrs[peak] == pytest.approx(0.02, rel=0.05)
    assert 3 <= peak <= 5  # at the end of the warm-up (4 of 12 steps)
    assert lrs[0] < 0.02 / 10 and lrs[-1] < lrs[0]  # from lr/25 up, then below where it began
    assert all(a <= b for a, b in pairwise(lrs[: peak + 1]))
    assert all(a >= b for a, b in pairwise(lrs[peak:]))


def test_plateau_cuts_the_rate_when_val_loss_stalls(sqlite_workspace: Workspace) -> None:
    # a learning rate so small that val_loss cannot improve by the scheduler's threshold
    # (1e-4 relative) after the first epoch: with patience 0, each later epoch cuts it
    run = _run(sqlite_workspace, epochs=4, lr=1e-6, lr_schedule="plateau", lr_gamma=0.1,
               lr_patience=0)  # fmt: skip
    epochs = [_lrs(run)[i * BATCHES] for i in range(4)]
    assert epochs == pytest.approx([1e-6, 1e-6, 1e-7, 1e-8])
    assert _hparams(run)["lr_patience"] == 0


def test_max_steps_stops_early_and_clipping_is_recorded(sqlite_workspace: Workspace) -> None:
    run = _run(
        sqlite_workspace, epochs=10, warmup_steps=2, lr_schedule="cosine", max_steps=6,
        gradient_clip_val=0.5, gradient_clip_algorithm="value",
    )  # fmt: skip
    assert run.job.result["global_step"] == 6
    lrs = _lrs(run)
    assert len(lrs) == 6
    assert lrs[0] < lrs[1] and lrs[-1] < lrs[1]  # warm-up, then cosine decay over 6 steps
    assert lrs[1] == pytest.approx(1e-3)
    hp = _hparams(run)
    assert hp["max_steps"] == 6 and hp["gradient_clip_val"] == 0.5
    assert hp["gradient_clip_algorithm"] == "value"


def test_a_constant_rate_records_no_lr(sqlite_workspace: Workspace) -> None:
    run = _run(sqlite_workspace, epochs=1)
    assert run.history("lr") == []
    assert "lr_gamma" not in _hparams(run)


def test_clipping_reaches_the_trainer(tmp_path: Path) -> None:
    from aimass_lab.train._job import _trainer

    spec = TrainSpec.from_dict(
        {"data": {"name": "digits"}, "gradient_clip_val": 1.5, "max_steps": 7}
    )
    trainer = _trainer(spec, tmp_path, [])
    assert trainer.gradient_clip_val == 1.5 and trainer.gradient_clip_algorithm == "norm"
    assert trainer.max_steps == 7


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lr_schedule": "exponential"}, "'step', 'one_cycle' or 'plateau'"),
        ({"lr_schedule": "plateau", "warmup_steps": 5}, "takes no warm-up"),
        ({"lr_gamma": 1.5}, "less than 1"),
        ({"gradient_clip_val": 0}, "greater than 0"),
        ({"max_steps": 0}, "greater than or equal to 1"),
        ({"gradient_clip_algorithm": "max"}, "'norm' or 'value'"),
    ],
)
def test_bad_schedule_settings_name_what_is_accepted(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        TrainSpec.from_dict({"data": {"name": "digits"}, **fields})
