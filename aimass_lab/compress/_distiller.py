"""The distillation loss: a :class:`TaskModule` that also learns from a teacher's outputs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from aimass_lab.models import TaskModule

__all__ = ["Distiller"]


class Distiller(TaskModule):
    """A :class:`TaskModule` whose training loss mixes the task loss with a KD term.

    Parameters
    ----------
    network
        The student (the only trained network); give the teacher with :meth:`set_teacher`.
    temperature, alpha
        The softening temperature and the weight of the distillation term.
    """

    def __init__(
        self,
        network: nn.Module,
        *,
        temperature: float = 4.0,
        alpha: float = 0.7,
        **kwargs: Any,
    ) -> None:
        super().__init__(network, **kwargs)
        self.temperature = temperature
        self.alpha = alpha
        self._teacher: list[nn.Module] = []

    def set_teacher(self, teacher: nn.Module) -> Distiller:
        """Set the frozen teacher (kept out of the module's children, hence out of checkpoints)."""
        for p in teacher.parameters():
            p.requires_grad_(False)
        self._teacher = [teacher.eval()]
        return self

    @property
    def teacher(self) -> nn.Module:
        """The teacher."""
        if not self._teacher:
            raise RuntimeError("Distiller.set_teacher() was not called")
        return self._teacher[0]

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        out = self.network(x)
        task_loss = self._loss(out, y)
        if self.alpha == 0:  # the task loss alone (a from-scratch baseline): no teacher call
            loss = task_loss
        else:
            teacher = self.teacher.to(x.device)
            teacher.eval()  # frozen: BatchNorm statistics and dropout stay in inference mode
            with torch.no_grad():
                target = teacher(x)
            if self.task == "classification":
                # Hinton et al.: KL(teacher_T || student_T) on logits softened by T, times T^2
                # so that its gradients keep the scale of the hard-label term's as T changes.
                t = self.temperature
                kd = F.kl_div(
                    F.log_softmax(out / t, dim=-1),
                    F.log_softmax(target / t, dim=-1),
                    reduction="batchmean",
                    log_target=True,
                ) * (t * t)
            else:
                kd = F.mse_loss(out, target)
            loss = self.alpha * kd + (1 - self.alpha) * task_loss
        self.log("train_loss", loss, on_step=True, on_epoch=True, batch_size=len(y))
        return loss
