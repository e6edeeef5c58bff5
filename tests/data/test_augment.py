"""Augmentation as torch ops, and the Lightning DataModule."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from common_helpers import cpu_trainer

from aimass_lab.data import DataModule, augment_batch, load
from aimass_lab.errors import DataError
from aimass_lab.specs import AugmentSpec


def _images() -> torch.Tensor:
    return torch.arange(4 * 2 * 5 * 6, dtype=torch.float32).reshape(4, 2, 5, 6)


def test_flip_really_flips() -> None:
    x = _images()
    out = augment_batch(x, AugmentSpec(flip=True), torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    for i in range(len(x)):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))
    flips = [
        sum(
            not torch.equal(o, xi)
            for o, xi in zip(
                augment_batch(x, {"flip": True}, torch.Generator().manual_seed(s)), x, strict=True
            )
        )
        for s in range(20)
    ]
    assert 0 < sum(flips) < 20 * len(x)  # some flipped, some not


def test_crop_shifts_within_the_padding() -> None:
    x = _images()
    out = augment_batch(x, {"crop": 2}, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):
        windows = [padded[i, :, dy : dy + 5, dx : dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)


def test_noise_and_determinism() -> None:
    x = _images()
    spec = AugmentSpec(flip=True, crop=1, noise=0.5)
    a = augment_batch(x, spec, torch.Generator().manual_seed(3))
    b = augment_batch(x, spec, torch.Generator().manual_seed(3))
    c = augment_batch(x, spec, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, _images())  # the input is untouched
    noisy = augment_batch(torch.zeros(2000, 3), {"noise": 0.5}, torch.Generator().manual_seed(0))
    assert abs(float(noisy.std()) - 0.5) < 0.02
    assert augment_batch(x, AugmentSpec()) is x


def test_flip_on_rows_is_refused() -> None:
    with pytest.raises(
        DataError,
        match=r"flip and crop augment images of shape \(N, C, H, W\); got a batch of shape \(4, 3\)",
    ):
        augment_batch(torch.zeros(4, 3), {"flip": True})
    with pytest.raises(
        DataError, match=r"augment\.flip and augment\.crop work on images; this dataset is a table"
    ):
        load("iris", augment={"flip": True})


def test_datamodule_batches() -> None:
    ds = load("iris")
    dm = ds.datamodule(batch_size=16, seed=0)
    assert isinstance(dm, DataModule) and isinstance(dm, pl.LightningDataModule)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 4) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert sum(len(b[0]) for b in dm.val_dataloader()) == len(ds.X_val)
    assert sum(len(b[0]) for b in dm.test_dataloader()) == len(ds.X_test)
    # the training shuffle is seeded
    again = next(iter(ds.datamodule(batch_size=16, seed=0).train_dataloader()))[1]
    other = next(iter(ds.datamodule(batch_size=16, seed=1).train_dataloader()))[1]
    assert torch.equal(y, again) and not torch.equal(y, other)
    reg = load("diabetes").datamodule(batch_size=8)
    _, target = next(iter(reg.train_dataloader()))
    assert target.dtype == torch.float32 and target.shape == (8,)


class _Recorder(pl.LightningModule):
    """Records the batches Lightning hands to each step."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(64, 10)
        self.seen: dict[str, list[torch.Tensor]] = {"train": [], "val": []}

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        self.seen["train"].append(batch[0].clone())
        return torch.nn.functional.cross_entropy(self.layer(batch[0].flatten(1)), batch[1])

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.seen["val"].append(batch[0].clone())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_augmentation_only_in_training_with_a_real_trainer() -> None:
    ds = load("digits", as_images=True, augment={"noise": 0.3, "flip": True})
    dm = ds.datamodule(batch_size=len(ds.X_train), seed=0)
    model = _Recorder()
    trainer = cpu_trainer(1, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    (train_batch,) = model.seen["train"]
    (val_batch,) = model.seen["val"]
    assert train_batch.shape == (len(ds.X_train), 1, 8, 8)
    # training images are augmented: the batch is not any reordering of the clean images
    assert not np.isclose(np.sort(train_batch.numpy().ravel()), np.sort(ds.X_train.ravel())).all()
    assert torch.equal(val_batch, torch.from_numpy(ds.X_val))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augmentation_on_the_gpu() -> None:
    x = _images().cuda()
    spec = AugmentSpec(flip=True, crop=2, noise=0.1)
    a = augment_batch(x, spec, torch.Generator(device="cuda").manual_seed(0))
    b = augment_batch(x, spec, torch.Generator(device="cuda").manual_seed(0))
    assert a.device == x.device and a.shape == x.shape and torch.equal(a, b)
