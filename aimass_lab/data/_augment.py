"""Image augmentation as batched torch ops, on whatever device the batch is on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import DataError

if TYPE_CHECKING:
    import torch

    from aimass_lab.specs import AugmentSpec

__all__ = ["augment_batch"]


def _augment_spec(spec: Any) -> AugmentSpec:
    from aimass_lab.specs import AugmentSpec, DataSpec

    if isinstance(spec, DataSpec):
        return spec.augment
    if isinstance(spec, Mapping):
        return AugmentSpec.from_dict(dict(spec))
    if isinstance(spec, AugmentSpec):
        return spec
    raise DataError(f"expected an AugmentSpec, a DataSpec or a dict; got {type(spec).__name__}")


def augment_batch(
    x: torch.Tensor, spec: Any, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Randomly augment a batch: horizontal flip, pad-and-crop, Gaussian noise.

    Parameters
    ----------
    x
        A batch: ``(N, C, H, W)`` images, or ``(N, F)`` rows (only ``noise`` applies to rows).
    spec
        An :class:`~aimass_lab.specs.AugmentSpec` (or a dict of its fields, or a DataSpec):
        ``flip`` mirrors each image left-right with probability 0.5; ``crop`` pads each
        image by that many pixels (zeros) and cuts a random window of the original size;
        ``noise`` adds Gaussian noise of that standard deviation.
    generator
        A ``torch.Generator`` on the batch's device, for reproducible augmentation.

    Returns
    -------
    torch.Tensor
        A new tensor of the same shape and dtype (``x`` is not modified).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> augment_batch(torch.zeros(2, 1, 8, 8), {"flip": True, "crop": 2}, g).shape
    torch.Size([2, 1, 8, 8])
    """
    import torch

    aug = _augment_spec(spec)
    if not aug.active:
        return x
    image = x.dim() == 4
    if (aug.flip or aug.crop) and not image:
        raise DataError(
            f"flip and crop augment images of shape (N, C, H, W); got a batch of shape {tuple(x.shape)}. "
            "For tables use noise only"
        )
    n = x.shape[0]
    device = x.device
    out = x
    if aug.flip:
        flip = torch.rand(n, generator=generator, device=device) < 0.5
        out = torch.where(flip.view(n, 1, 1, 1), out.flip(-1), out)
    if aug.crop:
        pad = int(aug.crop)
        h, w = out.shape[-2:]
        padded = torch.nn.functional.pad(out, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=device)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=device)
        rows = (dy[:, None] + torch.arange(h, device=device)[None, :])[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device)[None, :])[:, None, None, :]
        batch = torch.arange(n, device=device)[:, None, None, None]
        channel = torch.arange(out.shape[1], device=device)[None, :, None, None]
        out = padded[batch, channel, rows, cols]
    if aug.noise:
        noise = torch.randn(out.shape, generator=generator, device=device, dtype=out.dtype)
        out = out + noise * float(aug.noise)
    return out if out is not x else x.clone()
