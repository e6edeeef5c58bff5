"""TaskModule: the LightningModule that trains any network for classification or regression."""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning.pytorch as pl
import torch
import torchmetrics
from torch import nn
from torch.nn import functional as F

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "TaskModule",
    "lr_factor",
    "metric_names",
]

CLASSIFICATION_METRICS: tuple[str, ...] = ("acc", "precision", "recall", "f1", "auroc")
REGRESSION_METRICS: tuple[str, ...] = ("mae", "rmse", "r2", "pearson")


def metric_names(task: str, stage: str = "val") -> list[str]:
    """The metrics a TaskModule logs for a task at a stage (``val`` or ``test``), loss first."""
    names = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    return [f"{stage}_loss", *(f"{stage}_{n}" for n in names)]


def _metrics(task: str, num_classes: int, prefix: str) -> torchmetrics.MetricCollection:
    if task == "classification":
        kw: dict[str, Any] = {"task": "multiclass", "num_classes": max(2, num_classes)}
        return torchmetrics.MetricCollection(
            {
                "acc": torchmetrics.Accuracy(**kw),
                "precision": torchmetrics.Precision(**kw, average="macro"),
                "recall": torchmetrics.Recall(**kw, average="macro"),
                "f1": torchmetrics.F1Score(**kw, average="macro"),
                "auroc": torchmetrics.AUROC(**kw, average="macro"),
            },
            prefix=prefix,
        )
    return torchmetrics.MetricCollection(
        {
            "mae": torchmetrics.MeanAbsoluteError(),
            "rmse": torchmetrics.MeanSquaredError(squared=False),
            "r2": torchmetrics.R2Score(),
            "pearson": torchmetrics.PearsonCorrCoef(),
        },
        prefix=prefix,
    )


class TaskModule(pl.LightningModule):
    """Train a plain ``nn.Module`` for classification or regression with Lightning.

    Logs ``train_loss`` (per step and epoch) and, on validation and test, the loss and
    torchmetrics: accuracy, macro precision, recall, F1 and AUROC for classification;
    MAE, RMSE, R2 and Pearson for regression (on the target's original scale).

    Parameters
    ----------
    network
        The network: inputs to logits (classification) or one value (regression).
    task
        ``"classification"`` or ``"regression"``.
    output_dim
        Number of classes, or 1.
    lr, weight_decay, optimizer
        Optimisation settings.
    target_stats
        ``{"mean": m, "std": s}`` of the training target (regression): the network learns
        the standardised target and predictions are mapped back.
    warmup_steps, lr_schedule, lr_gamma, lr_step_epochs, lr_patience
        The learning rate rises linearly from 0 over ``warmup_steps`` optimizer steps, then
        stays (``"constant"``), decays to 0 at the last step (``"linear"``, ``"cosine"``) or
        is multiplied by ``lr_gamma`` every ``lr_step_epochs`` epochs (``"step"``);
        ``"one_cycle"`` is PyTorch's one-cycle policy peaking at ``lr`` (after the warm-up,
        else 30% of the steps); ``"plateau"`` multiplies it by ``lr_gamma`` when
        ``val_loss`` did not improve for ``lr_patience`` epochs. With a schedule, the
        learning rate is logged as ``lr`` at every step.

    Only parameters that require gradients are optimised (a frozen backbone is left out); a
    network with ``param_groups(lr)`` (a pretrained model) gives its own groups (head and
    backbone learning rates).
    """

    def __init__(
        self,
        network: nn.Module,
        task: Literal["classification", "regression"] = "classification",
        output_dim: int = 2,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: str = "adam",
        target_stats: dict[str, float] | None = None,
        warmup_steps: int = 0,
        lr_schedule: str = "constant",
        lr_gamma: float = 0.1,
        lr_step_epochs: int = 10,
        lr_patience: int = 2,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["network"])
        self.network = network
        self.task = task
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer_name = optimizer
        self.warmup_steps = int(warmup_steps)
        self.lr_schedule = lr_schedule
        self.lr_gamma = float(lr_gamma)
        self.lr_step_epochs = int(lr_step_epochs)
        self.lr_patience = int(lr_patience)
        stats = target_stats or {"mean": 0.0, "std": 1.0}
        self.y_mean: torch.Tensor
        self.y_std: torch.Tensor
        self.register_buffer("y_mean", torch.tensor(float(stats["mean"])), persistent=False)
        self.register_buffer("y_std", torch.tensor(float(stats["std"]) or 1.0), persistent=False)
        self.val_metrics = _metrics(task, output_dim, "val_")
        self.test_metrics = _metrics(task, output_dim, "test_")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.network(x)
        if self.task == "regression":
            return out.squeeze(-1) * self.y_std + self.y_mean
        return out

    def _loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.task == "classification":
            return F.cross_entropy(out, y)
        return F.mse_loss(out.squeeze(-1), (y - self.y_mean) / self.y_std)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = self._loss(self.network(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(y))
        if self.scheduled:
            lr = self.trainer.optimizers[0].param_groups[-1]["lr"]  # the head's, for pretrained
            self.log("lr", float(lr), on_step=True, on_epoch=False, batch_size=len(y))
        return loss

    @property
    def scheduled(self) -> bool:
        """Whether the learning rate changes during training (then it is logged as ``lr``)."""
        return self.warmup_steps > 0 or self.lr_schedule != "constant"

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> None:
        x, y = batch
        out = self.network(x)
        loss = self._loss(out, y)
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        if self.task == "classification":
            metrics.update(torch.softmax(out, dim=-1), y)
        else:
            metrics.update(out.squeeze(-1) * self.y_std + self.y_mean, y)
        self.log(
            f"{stage}_loss", loss, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=len(y)
        )
        self.log_dict(metrics, on_epoch=True, batch_size=len(y))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, list | tuple) else batch
        out = self(x)
        return torch.softmax(out, dim=-1) if self.task == "classification" else out

    def configure_optimizers(self) -> Any:
        groups = getattr(self.network, "param_groups", None)
        params: Any = (
            groups(self.lr)
            if callable(groups)
            else [p for p in self.network.parameters() if p.requires_grad]
        )
        if self.optimizer_name == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=self.lr, momentum=0.9, weight_decay=self.weight_decay
            )
        elif self.optimizer_name == "adamw":
            opt = torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if not self.scheduled:
            return opt
        return {"optimizer": opt, "lr_scheduler": self._scheduler(opt)}

    def _scheduler(self, opt: torch.optim.Optimizer) -> dict[str, Any]:
        """Lightning's scheduler entry for ``lr_schedule`` (see the class's doc)."""
        sched = torch.optim.lr_scheduler
        total = max(1, int(self.trainer.estimated_stepping_batches))
        if self.lr_schedule == "plateau":
            plateau = sched.ReduceLROnPlateau(
                opt, mode="min", factor=self.lr_gamma, patience=self.lr_patience
            )
            return {"scheduler": plateau, "monitor": "val_loss", "interval": "epoch"}
        if self.lr_schedule == "one_cycle":
            cycle = sched.OneCycleLR(
                opt,
                max_lr=[g["lr"] for g in opt.param_groups],
                total_steps=total,
                pct_start=min(0.9, self.warmup_steps / total) if self.warmup_steps else 0.3,
            )
            return {"scheduler": cycle, "interval": "step"}
        per_epoch = max(1, math.ceil(self.trainer.num_training_batches / self._accumulate()))
        every = self.lr_step_epochs * per_epoch

        def factor(step: int) -> float:
            if self.lr_schedule == "step":
                warm = (step + 1) / self.warmup_steps if step < self.warmup_steps else 1.0
                return warm * self.lr_gamma ** (step // every)
            return lr_factor(step, self.warmup_steps, total, self.lr_schedule)

        return {"scheduler": sched.LambdaLR(opt, factor), "interval": "step"}

    def _accumulate(self) -> int:
        return int(getattr(self.trainer, "accumulate_grad_batches", 1) or 1)


def lr_factor(step: int, warmup: int, total: int, schedule: str) -> float:
    """The learning-rate multiplier at optimizer step ``step`` (0-based) of ``total``.

    >>> [round(lr_factor(s, 2, 6, "linear"), 2) for s in range(6)]
    [0.5, 1.0, 1.0, 0.75, 0.5, 0.25]
    """
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    done = (step - warmup) / max(1, total - warmup)
    if schedule == "linear":
        return max(0.0, 1.0 - done)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))
