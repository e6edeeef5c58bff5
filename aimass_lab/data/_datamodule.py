"""The Lightning DataModule over a loaded :class:`~aimass_lab.data.Dataset`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader
from typing_extensions import override

from aimass_lab.data._augment import augment_batch
from aimass_lab.data._loaders import make_loader, workers_for

if TYPE_CHECKING:
    from aimass_lab.data._samples import Samples
    from aimass_lab.specs import DataSpec

__all__ = ["DataModule", "SplitArrays"]


class SplitArrays(Protocol):
    """What the DataModule reads of a :class:`~aimass_lab.data.Dataset` (its parts)."""

    name: str
    spec: DataSpec
    parts: dict[str, Samples]


class DataModule(pl.LightningDataModule):
    """Train, validation, test and predict loaders over a loaded dataset.

    Batches are ``(x, y)``: ``x`` is ``float32`` ``(B, F)`` or ``(B, C, H, W)`` (``int64``
    token ids ``(B, L)`` for text, padded to the longest text of the batch), ``y`` is
    ``int64`` class indices (classification) or ``float32`` targets (regression). The
    training loader shuffles with a generator seeded by ``seed``. Features are read from
    each part's :class:`~aimass_lab.data._samples.Samples`: in-memory arrays in the
    training process, files (images, streamed tables, text) in ``DataLoader`` workers as
    ``spec.loader`` says. When the spec asks for augmentation, training batches (only) are
    augmented on their device after the transfer, with a seeded generator.

    Parameters
    ----------
    dataset
        The loaded dataset.
    batch_size
        Rows per batch.
    seed
        Seed of the shuffle and of the augmentation.
    num_workers
        Worker processes of each ``DataLoader`` (default: ``dataset.spec.loader``).
    """

    def __init__(
        self,
        dataset: SplitArrays,
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int | None = None,
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
        self.loader = dataset.spec.loader
        self.num_workers = num_workers
        self.augment = dataset.spec.augment
        self._generators: dict[str, torch.Generator] = {}

    def workers(self, part: str) -> int:
        """The worker processes that read ``part``."""
        return workers_for(self.dataset.parts[part], self.loader, self.num_workers)

    def _loader(self, part: str, shuffle: bool = False) -> DataLoader[Any]:
        return make_loader(
            self.dataset.parts[part],
            self.loader,
            batch_size=self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            num_workers=self.num_workers,
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
            f"num_workers={self.workers('train')}, augment={self.augment.active})"
        )
