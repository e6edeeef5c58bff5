"""The distillation loss of :class:`Distiller`, checked against its formula (no training)."""

from __future__ import annotations

import warnings

import torch
from torch.nn import functional as F

from aimass_lab.compress._distill import Distiller


class _Counting(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)
        self.drop = torch.nn.Dropout(0.5)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.drop(self.lin(x))


def _step(module: Distiller, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log() outside a Trainer
        return module.training_step((x, y), 0)


def test_kd_loss_is_alpha_t2_kl_plus_task_loss() -> None:
    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(4, 3), _Counting()
    module = Distiller(student, temperature=3.0, alpha=0.6, output_dim=3).set_teacher(teacher)
    module.train()  # as the Trainer does: the teacher must stay in eval mode (no dropout)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    loss = _step(module, x, y)
    out = student(x)
    with torch.no_grad():
        target = teacher.eval()(x)
    p_t = F.softmax(target / 3.0, dim=-1)
    kl = (p_t * (p_t.log() - F.log_softmax(out / 3.0, dim=-1))).sum(-1).mean()
    expected = 0.6 * 9.0 * kl + 0.4 * F.cross_entropy(out, y)
    assert torch.allclose(loss, expected, atol=1e-6)
    assert not teacher.training and loss.requires_grad
    assert all(p.grad is None for p in teacher.parameters())


def test_alpha_zero_is_the_task_loss_without_calling_the_teacher() -> None:
    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(4, 3), _Counting()
    module = Distiller(student, alpha=0.0, output_dim=3).set_teacher(teacher)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    loss = _step(module, x, y)
    assert torch.allclose(loss, F.cross_entropy(student(x), y))
    assert teacher.calls == 0
