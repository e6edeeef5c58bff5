"""Image folders: one subfolder per class, read with Pillow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.data._base import RawData, Source
from aimass_lab.errors import DataError

if TYPE_CHECKING:
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = ["DEFAULT_IMAGE_SIZE", "IMAGE_SUFFIXES", "ImageFolderSource"]

#: Images are resized to this square size unless ``spec.image_size`` says otherwise.
DEFAULT_IMAGE_SIZE = 32
#: File suffixes read as images (case-insensitive).
IMAGE_SUFFIXES: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".webp",
    ".tif",
    ".tiff",
)
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


class ImageFolderSource(Source):
    """A folder with one subfolder per class (``path/cat/1.png``, ``path/dog/2.png``).

    Classes are the subfolder names in sorted order. When every image is grayscale the data
    keeps one channel, otherwise every image is converted to RGB. Images are resized to
    ``spec.image_size`` (default 32) squares; values are floats in ``[0, 1]`` and the array
    has shape ``(N, C, H, W)``. Hidden folders and files (``.ipynb_checkpoints``) are skipped.
    """

    name = "image_folder"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> RawData:
        """Read every image under ``spec.path``."""
        from PIL import Image

        root = Path(spec.path or "").expanduser()
        if not root.is_dir():
            raise DataError(
                f"image folder not found: {root}; give a folder with one subfolder per class"
            )
        class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not class_dirs:
            raise DataError(
                f"image folder {root} has no class subfolders; put the images of each class in a "
                f"subfolder named after the class, e.g. {root / 'cat' / '1.png'} and {root / 'dog' / '2.png'}"
            )
        files: list[tuple[Path, int]] = []
        empty: list[str] = []
        for index, folder in enumerate(class_dirs):
            found = sorted(
                p
                for p in folder.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not found:
                empty.append(folder.name)
            files.extend((p, index) for p in found)
        if empty:
            raise DataError(
                f"class folder(s) {', '.join(repr(e) for e in empty)} in {root} hold no images; "
                f"accepted file types: {', '.join(IMAGE_SUFFIXES)}"
            )
        size = spec.image_size or DEFAULT_IMAGE_SIZE
        modes = [_open(file, header_only=True) for file, _ in files]
        gray = all(mode in _GRAY_MODES for mode in modes)
        arrays = []
        for file, _ in files:
            img = _open(file, header_only=False)
            if gray:
                if img.mode != "L":
                    img = img.convert("L")
            elif img.mode != "RGB":
                img = img.convert("RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.float32) / 255.0
            arrays.append(arr[None, :, :] if gray else arr.transpose(2, 0, 1))
        X = np.stack(arrays).astype(np.float32)
        y = np.asarray([label for _, label in files], dtype=np.int64)
        classes = [p.name for p in class_dirs]
        return RawData(
            X, np.asarray(classes, dtype=object)[y], classes=classes, task="classification"
        )


def _open(file: Path, *, header_only: bool) -> Any:
    """The image's mode (header only) or the fully loaded image, with a DataError naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as opened:
            if header_only:
                return opened.mode
            opened.load()
            return opened.copy()
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot read the image {file}: {exc}") from None
