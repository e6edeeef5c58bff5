"""The Lightning callback that reports each epoch to Optuna's pruner."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from typing_extensions import override

__all__ = ["PruningCallback"]


class PruningCallback(pl.Callback):
    """Report ``monitor`` to the trial after every validation; stop when the pruner says so.

    Stopping is graceful: the callback sets ``trainer.should_stop``, so the epoch ends, the
    run keeps its checkpoint, test metrics and model, and the run is recorded ``succeeded``
    with ``result["pruned"] = True``. The search then records the trial ``PRUNED``.

    Parameters
    ----------
    trial
        The Optuna trial.
    monitor
        The logged validation metric to report (e.g. ``val_loss``).

    Attributes
    ----------
    pruned_epoch_
        The epoch at which the pruner stopped the trial, else ``None``.
    reported_
        ``{epoch: value}`` of what was reported.
    """

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor
        self.pruned_epoch_: int | None = None
        self.reported_: dict[int, float] = {}

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        epoch = int(trainer.current_epoch)
        self.reported_[epoch] = float(value)
        # The step is the resource spent: epochs done (1-based), as the pruners expect
        # (Hyperband's min_resource=1 means "after the first epoch").
        self.trial.report(float(value), step=epoch + 1)
        if self.trial.should_prune():
            self.pruned_epoch_ = epoch
            trainer.should_stop = True
