"""Lightning callbacks and plugins that connect a Trainer to the workspace."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException
from typing_extensions import override

from aimass_lab._io import atomic_open

__all__ = [
    "AtomicCheckpointIO",
    "GracefulStop",
    "IntervalCheckpoint",
    "LogLines",
    "MetricsRecorder",
]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to a temp file, fsync, then rename: ``last.ckpt`` always loads."""

    @override
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        with atomic_open(Path(path), "wb") as fh:
            torch.save(checkpoint, fh)


class IntervalCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every ``interval_s`` seconds of training, at most ``max_share`` of it.

    Saving a large model (weights and optimizer state, fsynced: ~1 GB for a BERT-base with
    Adam) takes seconds; at a fixed 10 s interval a job would spend a third of its time
    writing checkpoints. After each save the interval becomes at least the save's duration
    divided by ``max_share`` (2%: a 3 s save gives 150 s), so small models keep
    ``interval_s`` and large ones save less often. Rank 0's clock decides for every rank (Lightning
    broadcasts it), so the ranks of a distributed run still save together.

    Parameters
    ----------
    interval_s
        The shortest interval, seconds of training time.
    max_share
        The largest fraction of training time that saving may take.
    **kwargs
        :class:`~lightning.pytorch.callbacks.ModelCheckpoint` arguments.
    """

    def __init__(self, interval_s: float, max_share: float = 0.02, **kwargs: Any) -> None:
        super().__init__(train_time_interval=timedelta(seconds=interval_s), **kwargs)
        self.interval_s = float(interval_s)
        self.max_share = float(max_share)

    @override
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        saved_before = self._last_time_checked
        started = time.monotonic()
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if self._last_time_checked != saved_before:  # it saved (the check time moved)
            spent = time.monotonic() - started
            seconds = max(self.interval_s, spent / self.max_share)
            self._train_time_interval = timedelta(seconds=seconds)


class MetricsRecorder(pl.Callback):
    """Record metrics and progress in the workspace store, in batches.

    Step metrics (``train_loss``) are buffered as tensors (no device sync per step) and
    written at most every ``flush_every`` seconds; epoch metrics are written at once.
    Only global rank 0 records.

    Parameters
    ----------
    workspace
        The workspace whose store receives the points.
    job_id
        The run's job id.
    on_progress
        Called with the fraction done after each flush.
    flush_every
        Seconds between writes of buffered step metrics.
    """

    def __init__(
        self, workspace: Any, job_id: str, on_progress: Any = None, flush_every: float = 1.0
    ) -> None:
        self.workspace = workspace
        self.job_id = job_id
        self.on_progress = on_progress
        self.flush_every = flush_every
        self._steps: list[tuple[str, int, int, torch.Tensor | float]] = []
        self._last_flush = time.monotonic()
        self._progress = 0.0

    def _flush(self) -> None:
        rows = [(name, step, epoch, float(v)) for name, step, epoch, v in self._steps]
        self._steps.clear()
        self.workspace.log_metrics(self.job_id, rows)
        self._last_flush = time.monotonic()
        if self.on_progress is not None:
            self.on_progress(self._progress)

    def _record(self, trainer: pl.Trainer, prefix: str = "") -> None:
        # ``train_loss`` (on_epoch) appears in callback_metrics both as itself and as
        # ``train_loss_epoch``: one row per metric per epoch, under the ``_epoch`` name.
        values: dict[str, float] = {}
        for name, value in trainer.callback_metrics.items():
            if name.endswith("_step") or name == "lr" or not name.startswith(prefix):
                continue  # (lr: recorded at every step)
            number = float(value)
            if math.isfinite(number):
                values["train_loss_epoch" if name == "train_loss" else name] = number
        rows = [(n, trainer.global_step, trainer.current_epoch, v) for n, v in values.items()]
        self.workspace.log_metrics(self.job_id, rows)

    @override
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not trainer.is_global_zero:
            return
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        step, epoch = trainer.global_step, trainer.current_epoch
        if isinstance(loss, torch.Tensor):
            self._steps.append(("train_loss", step, epoch, loss.detach()))
        lr = trainer.callback_metrics.get("lr")  # logged by a scheduled TaskModule's step
        if lr is not None and getattr(pl_module, "scheduled", False):
            self._steps.append(("lr", step, epoch, lr.detach()))
        batches = trainer.num_training_batches
        if (
            isinstance(batches, int | float)
            and math.isfinite(batches)
            and batches > 0
            and trainer.max_epochs
        ):
            self._progress = (
                trainer.current_epoch + (batch_idx + 1) / batches
            ) / trainer.max_epochs
            if trainer.max_steps and trainer.max_steps > 0:  # max_steps may end it sooner
                self._progress = max(self._progress, step / trainer.max_steps)
        if time.monotonic() - self._last_flush >= self.flush_every:
            self._flush()

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self._flush()
        self._record(trainer)

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Epoch metrics are recorded at train-epoch end, once validation has run.
        if trainer.sanity_checking:
            return

    @override
    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._record(trainer, prefix="test_")

    @override
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._flush()

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if trainer.is_global_zero and self._steps:
            self._flush()


class GracefulStop(pl.Callback):
    """Save ``last.ckpt`` when the job is cancelled, so that resume continues from there.

    A detached job gets SIGTERM: Lightning raises ``SIGTERMException`` after the current
    batch and this callback saves the checkpoint in ``on_exception`` (on every rank, as
    saving is collective). A run inside a notebook kernel is stopped through ``stop_event``:
    the callback saves the checkpoint and asks the Trainer to stop.

    Parameters
    ----------
    checkpoint_path
        Where ``last.ckpt`` goes.
    stop_event
        A ``threading.Event`` set when a stop was requested.
    """

    def __init__(self, checkpoint_path: Path, stop_event: Any) -> None:
        self.checkpoint_path = Path(checkpoint_path)
        self.stop_event = stop_event
        self.saved = False

    def _save(self, trainer: pl.Trainer) -> None:
        if not self.saved:
            trainer.save_checkpoint(self.checkpoint_path)
            self.saved = True

    @override
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if (
            self.stop_event.is_set()
            and not getattr(trainer, "received_sigterm", False)
            and trainer.world_size == 1
        ):
            self._save(trainer)
            trainer.should_stop = True

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, SIGTERMException) or self.stop_event.is_set():
            self.stop_event.set()
            self._save(trainer)


def _metric_text(metrics: dict[str, Any], prefixes: tuple[str, ...]) -> str:
    """``name value`` pairs of the finite metrics starting with one of ``prefixes``."""
    shown: dict[str, float] = {}
    for name, value in sorted(metrics.items()):
        if name.endswith("_step") or not name.startswith(prefixes):
            continue
        number = float(value)
        if math.isfinite(number):
            shown[name.removesuffix("_epoch")] = number
    return " · ".join(f"{name} {number:.4g}" for name, number in shown.items())


class LogLines(pl.Callback):
    """Plain lines in the job's log: the start, every ``every`` of the steps, one line per
    epoch with its train and validation metrics, and the test metrics.

    Each line is flushed at once, so the log (and the sidebar's Log tab) shows how far the
    training is while it runs. Only global rank 0 writes.

    Parameters
    ----------
    every
        The fraction of all training steps between two progress lines (0 for none).
    write
        Where a line goes (default: ``print(line, flush=True)``, the job's log).
    """

    def __init__(self, every: float = 0.1, write: Any = None) -> None:
        self.every = every
        self.write = write or (lambda line: print(line, flush=True))
        self._started = 0.0
        self._next = every

    def _total_steps(self, trainer: pl.Trainer) -> int | None:
        batches = trainer.num_training_batches
        if not isinstance(batches, int | float) or not math.isfinite(batches) or not batches:
            return None
        total = int(batches) * int(trainer.max_epochs or 1)
        if trainer.max_steps and trainer.max_steps > 0:
            total = min(total, trainer.max_steps * trainer.accumulate_grad_batches)
        return max(1, total)

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.monotonic()
        if trainer.is_global_zero:
            batches = trainer.num_training_batches
            self.write(
                f"[train] {trainer.max_epochs} epoch(s) of {batches} batch(es), from epoch "
                f"{trainer.current_epoch + 1}"
            )

    @override
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        total = self._total_steps(trainer)
        if not trainer.is_global_zero or not self.every or total is None:
            return
        batches = int(trainer.num_training_batches)
        done = (trainer.current_epoch * batches + batch_idx + 1) / total
        if done + 1e-9 < self._next or done >= 1.0 or batch_idx + 1 == batches:
            return  # (the epoch's own line follows its last batch)
        while self._next <= done + 1e-9:
            self._next += self.every
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        loss_text = f" · train_loss {float(loss):.4g}" if isinstance(loss, torch.Tensor) else ""
        self.write(
            f"[train] {100 * done:.0f}% · epoch {trainer.current_epoch + 1} batch "
            f"{batch_idx + 1}/{batches}{loss_text}"
        )

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = _metric_text(dict(trainer.callback_metrics), ("train_", "val_"))
        elapsed = time.monotonic() - self._started
        self.write(
            f"[train] epoch {trainer.current_epoch + 1}/{trainer.max_epochs} · step "
            f"{trainer.global_step}" + (f" · {metrics}" if metrics else "") + f" · {elapsed:.1f} s"
        )

    @override
    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            metrics = _metric_text(dict(trainer.callback_metrics), ("test_",))
            self.write(f"[train] test · {metrics or 'no metrics'}")

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if trainer.is_global_zero and not isinstance(exception, SIGTERMException):
            self.write(
                f"[train] stopped at epoch {trainer.current_epoch + 1} step "
                f"{trainer.global_step}: {type(exception).__name__}: {exception}"
            )
