"""Small PNG thumbnails as ``data:`` URIs, for pages of samples in the front doors."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from aimass_lab.errors import DataError

__all__ = ["DEFAULT_THUMB_SIZE", "thumbnail_uri"]

#: The longest side of a thumbnail, in pixels.
DEFAULT_THUMB_SIZE = 64


def _to_image(image: Any) -> Any:
    """A Pillow image from a Pillow image or a ``(C, H, W)``/``(H, W)`` float array in [0, 1]."""
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        return image
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise DataError(
            f"a thumbnail needs an image: a (C, H, W) array with C 1, 3 or 4, an (H, W) array or "
            f"a Pillow image; got an array of shape {np.shape(image)}"
        )
    if arr.dtype != np.uint8:
        values = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        arr = (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr))


def thumbnail_uri(image: Any, size: int = DEFAULT_THUMB_SIZE) -> str:
    """A PNG thumbnail of an image as a ``data:image/png;base64,...`` URI.

    Parameters
    ----------
    image
        A float array ``(C, H, W)`` (C 1, 3 or 4) or ``(H, W)`` with values in ``[0, 1]``
        (uint8 arrays are taken as 0-255), or a Pillow image.
    size
        The longest side of the thumbnail in pixels (the aspect ratio is kept; smaller images
        are not enlarged).

    Returns
    -------
    str
        ``"data:image/png;base64,..."``, small enough to embed in HTML or JSON.

    Examples
    --------
    >>> import numpy as np
    >>> thumbnail_uri(np.zeros((3, 8, 8))).startswith("data:image/png;base64,")
    True
    """
    if size < 1:
        raise DataError(f"thumbnail size must be at least 1 pixel; got {size}")
    from PIL import Image

    img = _to_image(image)
    if max(img.size) > size:
        img = img.copy()
        img.thumbnail((size, size), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
