"""Small PNG thumbnails as data URIs, for sample pages in widgets, the sidebar and the REST API."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

__all__ = ["thumbnail_uri"]


def thumbnail_uri(image: Any, size: int = 64) -> str:
    """A ``data:image/png;base64,...`` URI of ``image`` fitted into ``size`` x ``size``.

    Parameters
    ----------
    image
        A PIL image, or an array ``(C, H, W)`` / ``(H, W)`` of floats in ``[0, 1]``.
    size
        The longest side of the thumbnail, in pixels.
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        arr = np.asarray(image, dtype=np.float32)
        if arr.ndim == 3:
            arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
        image = Image.fromarray((np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8))
    image = image.copy()
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
