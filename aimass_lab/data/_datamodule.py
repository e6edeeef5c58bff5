"""The Lightning DataModule over a loaded :class:`~aimass_lab.data.Dataset`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset
from typing_extensions import override

from aimass_lab.data._augment import augment_batch

if TYPE_CHECKING:
    from aimass_lab.specs import DataSpec

__all__ = ["DataModule", "SplitArrays"]


class SplitArrays(Protocol):
    """What the DataModule reads of a :class:`~aimass_lab.data.Dataset` (its split arrays)."""

    name: str
    spec: DataSpec
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _tensors(X: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(
        torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.ascontiguousarray(y))
    )


class DataModule(pl.LightningDataModule):
    """Train, validation, test and predict loaders over a loaded dataset.

    Batches are ``(x, y)``: ``x`` is ``float32`` ``(B, F)`` or ``(B, C, H, W)``, ``y`` is
    ``int64`` class indices (classification) or ``float32`` targets (regression). The
    training loader shuffles with a generator seeded by ``seed``. When the dataset's spec
    asks for augmentation, training batches (only) are augmented on their device after the
    transfer, with a seeded generator.

    Parameters
    ----------
    dataset
        The loaded dataset.
    batch_size
        Rows per batch.
    seed
        Seed of the shuffle and of the augmentation.
    num_workers
        Worker processes of each ``DataLoader``.
    """

    def __init__(
        self, dataset: SplitArrays, batch_size: int = 64, seed: int = 0, num_workers: int = 0
    ) -> None:
        super().__init__()
        if int(batch_size) < 1:
            from aimass_lab.errors import SpecError

            raise SpecError(
                "DataModule",
                [{"field": "batch_size", "value": batch_size, "message": "must be 1 or more"}],
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        self.augment = dataset.spec.augment
        self._parts: dict[str, TensorDataset] = {}
        self._generators: dict[str, torch.Generator] = {}

    @override
    def setup(self, stage: str | None = None) -> None:
        if not self._parts:
            d = self.dataset
            self._parts = {
                "train": _tensors(d.X_train, d.y_train),
                "val": _tensors(d.X_val, d.y_val),
                "test": _tensors(d.X_test, d.y_test),
            }

    def _loader(self, part: str, shuffle: bool = False) -> DataLoader[Any]:
        self.setup()
        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(
            self._parts[part],
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    @override
    def train_dataloader(self) -> DataLoader[Any]:
        return self._loader("train", shuffle=True)

    @override
    def val_dataloader(self) -> DataLoader[Any]:
        return self._loader("val")

    @override
    def test_dataloader(self) -> DataLoader[Any]:
        return self._loader("test")

    @override
    def predict_dataloader(self) -> DataLoader[Any]:
        return self._loader("test")

    def _generator(self, device: torch.device, rank: int = 0) -> torch.Generator:
        """A seeded generator per device; each distributed rank draws its own stream."""
        key = f"{device}/{rank}"
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(
                self.seed + 7919 * rank
            )
        return self._generators[key]

    @override
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        trainer = self.trainer
        if not self.augment.active or trainer is None or not trainer.training:
            return batch
        x, y = batch
        generator = self._generator(x.device, int(getattr(trainer, "global_rank", 0)))
        return augment_batch(x, self.augment, generator), y

    def __repr__(self) -> str:
        return (
            f"DataModule({self.dataset.name!r}, batch_size={self.batch_size}, seed={self.seed}, "
            f"num_workers={self.num_workers}, augment={self.augment.active})"
        )
