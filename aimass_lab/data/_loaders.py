"""``DataLoader`` of one part of a dataset, as its :class:`Samples` and ``spec.loader`` say.

Torch only (no Lightning): the DataModule builds its loaders here, and a plain PyTorch loop
can use :meth:`aimass_lab.data.Dataset.dataloader` directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from aimass_lab.data._samples import auto_workers

if TYPE_CHECKING:
    from aimass_lab.data._samples import Samples
    from aimass_lab.specs import LoaderSpec

__all__ = ["make_loader", "workers_for"]


def workers_for(samples: Samples, loader: LoaderSpec, num_workers: int | None = None) -> int:
    """Worker processes for ``samples``: ``num_workers``, else the spec, else ``"auto"``."""
    if num_workers is not None:
        return int(num_workers)
    if loader.num_workers != "auto":
        return int(loader.num_workers)
    return 0 if samples.in_memory else auto_workers()


def make_loader(
    samples: Samples,
    loader: LoaderSpec,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    num_workers: int | None = None,
) -> DataLoader[Any]:
    """The ``DataLoader`` of one part.

    Streamed parts batch, shuffle and shard themselves (``batch_size=None``); map-style parts
    get a seeded shuffle (or their own batch sampler, e.g. length buckets) and their collate.
    """
    workers = workers_for(samples, loader, num_workers)
    options: dict[str, Any] = {
        "num_workers": workers,
        "pin_memory": torch.cuda.is_available()
        if loader.pin_memory == "auto"
        else bool(loader.pin_memory),
    }
    if workers > 0:
        options["persistent_workers"] = loader.persistent_workers
        options["prefetch_factor"] = loader.prefetch_factor
    dataset = samples.torch_dataset(batch_size=batch_size, shuffle=shuffle, seed=seed)
    if samples.streamed:
        return DataLoader(dataset, batch_size=None, **options)
    batch_sampler = samples.batch_sampler(batch_size=batch_size, shuffle=shuffle, seed=seed)
    if batch_sampler is not None:
        return DataLoader(
            dataset, batch_sampler=batch_sampler, collate_fn=samples.collate_fn(), **options
        )
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        collate_fn=samples.collate_fn(),
        **options,
    )
