"""The training-time checkpoint interval stretches when a save is expensive (large models)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from aimass_lab.train._callbacks import AtomicCheckpointIO, IntervalCheckpoint


class _Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.cross_entropy(self.layer(x), y)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _CountingIO(AtomicCheckpointIO):
    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save_checkpoint(self, checkpoint: Any, path: Any, storage_options: Any = None) -> None:
        self.saves += 1
        super().save_checkpoint(checkpoint, path, storage_options)


def _fit(tmp_path: Path, interval_s: float, max_share: float) -> tuple[IntervalCheckpoint, int]:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    io = _CountingIO()
    ckpt = IntervalCheckpoint(
        interval_s, max_share=max_share, dirpath=tmp_path, filename="last", save_top_k=1
    )
    trainer = pl.Trainer(
        max_epochs=1,
        callbacks=[ckpt],
        plugins=[io],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        devices=1,
    )
    trainer.fit(_Tiny(), DataLoader(data, batch_size=4))  # 16 steps
    return ckpt, io.saves


def test_a_costly_save_stretches_the_interval(tmp_path: Path) -> None:
    # interval 0: a save after every step, unless the cost bound stretches it; a share of
    # 1e-9 turns the first save's duration (> 0) into an interval far beyond this run
    ckpt, saves = _fit(tmp_path, interval_s=0.0, max_share=1e-9)
    assert ckpt._train_time_interval is not None
    assert ckpt._train_time_interval.total_seconds() > 1.0
    assert 1 <= saves <= 2  # the first step's save (and possibly one at the end of fit)
    assert (tmp_path / "last.ckpt").exists()


def test_a_cheap_save_keeps_the_interval(tmp_path: Path) -> None:
    # a share of 1e9: the bound is far below any step, so interval 0 saves after every step
    ckpt, saves = _fit(tmp_path, interval_s=0.0, max_share=1e9)
    assert saves >= 16
    assert ckpt._train_time_interval is not None
    assert ckpt._train_time_interval.total_seconds() < 1e-3
