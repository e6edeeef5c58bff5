"""Fine-tuning and distillation with Lightning, on the dataset's DataModule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimass_lab.compress._base import Context

if TYPE_CHECKING:
    from torch import nn

__all__ = ["count_params", "fit", "task_of"]


def task_of(config: dict[str, Any]) -> str:
    """``"classification"`` or ``"regression"`` from a ``model.json``."""
    return "regression" if config.get("task") == "regression" else "classification"


def count_params(network: nn.Module) -> tuple[int, int]:
    """``(parameters, non-zero parameters)`` of a network."""
    total = nonzero = 0
    for p in network.parameters():
        total += p.numel()
        nonzero += int((p != 0).sum())
    return total, nonzero


def _trainer(epochs: int) -> Any:
    import lightning.pytorch as pl

    from aimass_lab.train import quiet_lightning

    quiet_lightning()
    return pl.Trainer(
        max_epochs=epochs,
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


def fit(
    network: nn.Module,
    ctx: Context,
    config: dict[str, Any],
    *,
    epochs: int,
    lr: float,
    teacher: nn.Module | None = None,
    temperature: float = 4.0,
    alpha: float = 0.0,
    batch_size: int | None = None,
) -> nn.Module:
    """Train ``network`` in place for ``epochs`` with the dataset's DataModule (Lightning).

    With a ``teacher``, the loss is ``alpha * T^2 * KL + (1 - alpha) * task loss`` on the
    teacher's softened outputs (classification) or ``alpha * MSE(student, teacher) + ...``
    (regression).

    Returns
    -------
    nn.Module
        ``network``, on the CPU in eval mode.
    """
    import lightning.pytorch as pl

    if epochs <= 0:
        return network.cpu().eval()
    from aimass_lab.compress._distiller import Distiller
    from aimass_lab.models import TaskModule

    dataset = ctx.dataset
    pl.seed_everything(ctx.spec.seed, workers=True, verbose=False)
    kwargs: dict[str, Any] = {
        "task": task_of(config),
        "output_dim": int(config["output_dim"]),
        "lr": lr,
        "target_stats": dataset.target_stats,
    }
    network.train()
    module = (
        TaskModule(network, **kwargs)
        if teacher is None
        else Distiller(network, temperature=temperature, alpha=alpha, **kwargs).set_teacher(teacher)
    )
    datamodule = dataset.datamodule(
        batch_size=batch_size or ctx.spec.batch_size, seed=ctx.spec.seed
    )
    _trainer(epochs).fit(module, datamodule=datamodule)
    return network.cpu().eval()
