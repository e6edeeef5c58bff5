"""Image folders: one subfolder per class; the file list up front, pixels on demand.

Loading lists the files, hashes each and reads its header in one cached pass
(:mod:`aimass_lab.data._imagescan`); no pixel is decoded. Decoding, resizing and
normalisation happen per sample in ``DataLoader`` worker processes (:class:`ImageSamples`).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aimass_lab.data._base import LazyData, Source
from aimass_lab.data._imagescan import Scan, scan_images
from aimass_lab.data._preprocess import Preprocessor
from aimass_lab.data._samples import Samples
from aimass_lab.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Callable

    from aimass_lab.data._report import DataReport
    from aimass_lab.specs import DataSpec
    from aimass_lab.workspace import Workspace

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "IMAGE_FORMATS",
    "IMAGE_SUFFIXES",
    "ImageFiles",
    "ImageFolderSource",
    "ImageSamples",
    "decode_image",
    "decode_image_bytes",
]

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
#: Training images decoded to fit the normalisation (a seeded random sample).
FIT_SAMPLE = 256
#: Image formats a server takes as bytes (those Pillow decodes without plugins).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WebP")
#: Offending files listed in an error.
SHOWN_BAD = 10


def decode_image(path: str | bytes, size: int, gray: bool) -> np.ndarray:
    """One image as a ``float32`` ``(C, size, size)`` array in ``[0, 1]``.

    JPEG files are decoded at a reduced scale when that is still at least ``size``
    (Pillow's ``draft``), which makes large photos much cheaper to read.

    Raises
    ------
    DataError
        Naming the file, when it cannot be decoded.
    """
    from PIL import UnidentifiedImageError

    name = path.decode() if isinstance(path, bytes) else path
    try:
        return _pixels(name, size, gray)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"cannot read the image {name}: {exc}") from None


def _pixels(source: Any, size: int, gray: bool) -> np.ndarray:
    """Decode, convert, resize: ``(C, size, size)`` float32 in ``[0, 1]`` (PIL's errors)."""
    from PIL import Image

    mode = "L" if gray else "RGB"
    with Image.open(source) as opened:
        opened.draft(mode, (size, size))
        image = opened.convert(mode) if opened.mode != mode else opened.copy()
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) * np.float32(1.0 / 255.0)
    return pixels[None, :, :] if gray else pixels.transpose(2, 0, 1)


def decode_image_bytes(data: bytes, size: int, gray: bool) -> np.ndarray:
    """:func:`decode_image` of an image file's bytes (PNG, JPEG, ... as Pillow reads them).

    Raises
    ------
    DataError
        When the bytes are not an image Pillow can decode.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        return _pixels(io.BytesIO(data), size, gray)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(
            f"cannot decode the image ({len(data)} bytes): {exc}; accepted: "
            f"{', '.join(IMAGE_FORMATS)}"
        ) from None


class ImageSamples(Samples):
    """One part of an image folder: file paths and labels; pixels decoded per sample."""

    kind = "images"

    def __init__(
        self,
        paths: np.ndarray,
        labels: np.ndarray,
        *,
        root: str,
        classes: list[str],
        size: int,
        gray: bool,
        mean: float,
        scale: float,
        skip_bad: bool,
    ) -> None:
        super().__init__(labels)
        self.paths = paths  # bytes (dtype "S"): no per-path Python object in forked workers
        self.root = root
        self.classes = classes
        self.size = size
        self.gray = gray
        self.mean = mean
        self.scale = scale
        self.skip_bad = skip_bad

    def _rows(self, n: int | None, start: int) -> range:
        stop = len(self) if n is None else min(len(self), start + n)
        return range(max(0, start), stop)

    def decode(self, index: int) -> np.ndarray | None:
        """The normalised image at ``index`` (``None``: unreadable and skipped)."""
        try:
            pixels = decode_image(self.paths[index], self.size, self.gray)
        except DataError:
            if self.skip_bad:
                return None
            raise
        return (pixels - np.float32(self.mean)) / np.float32(self.scale)

    def take(self, n: int | None = None, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for i in self._rows(n, start):
            pixels = self.decode(i)
            if pixels is not None:
                images.append(pixels)
                labels.append(self.labels[i])
        channels = 1 if self.gray else 3
        X = np.stack(images) if images else np.zeros((0, channels, self.size, self.size))
        return X.astype(np.float32, copy=False), np.asarray(labels, dtype=self.labels.dtype)

    def preview(self, n: int = 12, start: int = 0) -> list[dict[str, Any]]:
        """Thumbnails of rows ``start`` to ``start + n`` with their labels and files."""
        from aimass_lab.data._thumbs import thumbnail_uri

        rows = []
        prefix = len(self.root) + 1
        for i in self._rows(n, start):
            path = self.paths[i].decode()
            row: dict[str, Any] = {
                "index": i,
                "label": self.classes[int(self.labels[i])],
                "path": path[prefix:],
            }
            try:
                row["thumbnail"] = thumbnail_uri(decode_image(path, 64, self.gray))
            except DataError as exc:
                row["error"] = str(exc)
            rows.append(row)
        return rows

    def torch_dataset(self, *, batch_size: int, shuffle: bool, seed: int) -> Any:
        from aimass_lab.data._torchdata import SampleDataset

        return SampleDataset(self)

    def collate_fn(self) -> Callable[[Any], Any] | None:
        if not self.skip_bad:
            return None
        from aimass_lab.data._torchdata import collate_skipping

        return collate_skipping


class ImageFiles(LazyData):
    """The file list of an image folder, its labels and what one scan found in each file."""

    def __init__(
        self,
        root: Path,
        files: np.ndarray,
        labels: np.ndarray,
        classes: list[str],
        scan: Scan,
        bad: list[tuple[str, str]],
        *,
        skip_bad: bool,
        image_size: int,
    ) -> None:
        self.root = root
        self.image_size = image_size
        self.files = files  # relative names, bytes (dtype "S")
        self.codes = labels
        self.class_names = classes
        self.classes = classes
        self.task = "classification"
        self.target_name = "label"
        self.y = pd.Series(np.asarray(classes, dtype=object)[labels], name="label")
        self.scan = scan
        self.bad = bad
        self.skip_bad = skip_bad
        self.gray = all(m.decode() in _GRAY_MODES for m in np.unique(scan.mode))

    def content_digest(self) -> str:
        digest = hashlib.sha256(b"image-folder-1\n")
        names = [name.encode() for name in self.class_names]
        for name, code, sha in zip(self.files, self.codes, self.scan.sha256, strict=True):
            digest.update(b"%s\t%s\t%s\n" % (name, names[code], sha))
        return digest.hexdigest()

    def build_parts(
        self, spec: DataSpec, indices: dict[str, np.ndarray], labels: np.ndarray, task: str
    ) -> tuple[dict[str, Samples], Preprocessor]:
        size = self.image_size
        paths = np.char.add(os.fsencode(f"{self.root}{os.sep}"), self.files)
        train = indices["train"]
        rng = np.random.default_rng(spec.split.seed)
        chosen = np.sort(rng.choice(train, size=min(FIT_SAMPLE, len(train)), replace=False))
        sample = [
            pixels
            for pixels in (self._decode_for_fit(paths[i], size) for i in chosen)
            if pixels is not None
        ]
        channels = 1 if self.gray else 3
        pre = Preprocessor.from_spec(spec.preprocess, kind="image")
        pre.fit(np.stack(sample) if sample else np.zeros((0, channels, size, size), np.float32))
        if not sample:
            pre.input_shape_ = [channels, size, size]
        mean, scale = pre.mean_, pre.scale_
        assert isinstance(mean, float) and isinstance(scale, float)
        parts: dict[str, Samples] = {
            part: ImageSamples(
                paths[idx],
                labels[idx],
                root=str(self.root),
                classes=self.class_names,
                size=size,
                gray=self.gray,
                mean=mean,
                scale=scale,
                skip_bad=self.skip_bad,
            )
            for part, idx in indices.items()
        }
        return parts, pre

    def _decode_for_fit(self, path: bytes, size: int) -> np.ndarray | None:
        try:
            return decode_image(path, size, self.gray)
        except DataError:
            if self.skip_bad:
                return None
            raise

    def report(
        self,
        *,
        name: str,
        task: str,
        target: str,
        classes: list[Any] | None,
        indices: dict[str, np.ndarray],
    ) -> DataReport:
        from aimass_lab.data._report import DataReport, class_balance, leakage_warning

        warnings: list[dict[str, Any]] = []
        balance = class_balance(self.y, classes, warnings)
        hashes = self.scan.sha256
        distinct = len(np.unique(hashes))
        duplicates = len(hashes) - distinct
        if duplicates:
            warnings.append(
                {
                    "kind": "duplicates",
                    "message": f"{duplicates} image file(s) repeat the content of another file",
                }
            )
        train = {hashes[i] for i in indices["train"]}
        leaked = sum(hashes[i] in train for part in ("val", "test") for i in indices.get(part, []))
        if leaked:
            warnings.append(leakage_warning(leaked, "image"))
        if self.bad:
            warnings.append(
                {
                    "kind": "bad_records",
                    "message": f"{len(self.bad)} unreadable file(s) skipped, e.g. {self.bad[0][0]}",
                }
            )
        pairs, pair_counts = np.unique(
            np.stack([self.scan.width, self.scan.height], axis=1), axis=0, return_counts=True
        )
        sizes = Counter({f"{w}x{h}": int(c) for (w, h), c in zip(pairs, pair_counts, strict=True)})
        mode_names, mode_counts = np.unique(self.scan.mode, return_counts=True)
        modes = Counter({m.decode(): int(c) for m, c in zip(mode_names, mode_counts, strict=True)})
        channels = 1 if self.gray else 3
        return DataReport(
            name=name,
            task=task,
            target=target,
            n_rows=len(self.files),
            n_features=channels * (self.image_size**2),
            schema=[
                {
                    "column": "image",
                    "dtype": "/".join(sorted(modes)),
                    "missing": 0,
                    "unique": distinct,
                },
                {
                    "column": target,
                    "dtype": "object",
                    "missing": 0,
                    "unique": len(self.class_names),
                },
            ],
            class_balance=balance,
            duplicates=duplicates,
            warnings=warnings,
            bad_records=len(self.bad),
            bad_examples=[f"{file}: {why}" for file, why in self.bad[:SHOWN_BAD]],
            leaked=leaked,
            distributions={
                "image_size": dict(sizes.most_common(20)),
                "image_mode": dict(modes.most_common()),
            },
        )


class ImageFolderSource(Source):
    """A folder with one subfolder per class (``path/cat/1.png``, ``path/dog/2.png``).

    Classes are the subfolder names in sorted order. When every image is grayscale the data
    keeps one channel, otherwise every image is converted to RGB. Images are resized to
    ``spec.image_size`` (default 32) squares and normalised with one mean and standard
    deviation fitted on a sample of 256 training images. Hidden folders and files
    (``.ipynb_checkpoints``) are skipped. Files Pillow cannot read stop the load with an error
    listing the first 10 (``on_bad_record="error"``), or are skipped and counted in the
    report (``"skip"``).
    """

    name = "image_folder"

    def load(self, spec: DataSpec, workspace: Workspace | None) -> ImageFiles:
        """List and scan the images under ``spec.path`` (no pixel is decoded)."""
        root = Path(spec.path or "").expanduser().resolve()
        listed, labels, classes = _list_files(root)
        base = f"{root}{os.sep}"
        scan = scan_images(
            [base + name for name, _, _ in listed],
            stats=[(size, mtime) for _, size, mtime in listed],
            desc=f"scan {root.name}",
        )
        files = np.asarray([os.fsencode(name) for name, _, _ in listed], dtype=bytes)
        del listed
        bad = [(files[i].decode(), why) for i, why in sorted(scan.errors.items())]
        if bad and spec.on_bad_record == "error":
            shown = "; ".join(f"{root / file}: {why}" for file, why in bad[:SHOWN_BAD])
            more = f" (and {len(bad) - SHOWN_BAD} more)" if len(bad) > SHOWN_BAD else ""
            raise DataError(
                f"{len(bad)} unreadable image file(s) in {root}{more}: {shown}. Remove or fix "
                "them, or set on_bad_record='skip' to skip them and count them in the report"
            )
        keep = np.asarray([i for i in range(len(files)) if i not in scan.errors], dtype=np.int64)
        kept_labels = labels[keep]
        emptied = sorted(set(range(len(classes))) - set(kept_labels.tolist()))
        if emptied:
            raise DataError(
                f"class folder(s) {', '.join(repr(classes[i]) for i in emptied)} in {root} hold "
                "no readable image"
            )
        return ImageFiles(
            root,
            files[keep],
            kept_labels,
            classes,
            scan.take(keep),
            [(str(root / file), str(why)) for file, why in bad],
            skip_bad=spec.on_bad_record == "skip",
            image_size=spec.image_size or DEFAULT_IMAGE_SIZE,
        )


def _walk(folder: str, prefix: str, out: list[tuple[str, int, int]]) -> None:
    """Append ``(relative path, size, mtime_ns)`` of the image files under ``folder``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                _walk(entry.path, f"{prefix}{entry.name}/", out)
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file():
                st = entry.stat()
                out.append((prefix + entry.name, st.st_size, st.st_mtime_ns))


def _list_files(root: Path) -> tuple[list[tuple[str, int, int]], np.ndarray, list[str]]:
    """The image files under ``root`` (relative, sorted by class then name, with their size and
    mtime) and their labels."""
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
    files: list[tuple[str, int, int]] = []
    labels: list[int] = []
    empty: list[str] = []
    for index, folder in enumerate(class_dirs):
        found: list[tuple[str, int, int]] = []
        _walk(str(folder), f"{folder.name}/", found)
        if not found:
            empty.append(folder.name)
        files.extend(sorted(found))
        labels.extend([index] * len(found))
    if empty:
        raise DataError(
            f"class folder(s) {', '.join(repr(e) for e in empty)} in {root} hold no images; "
            f"accepted file types: {', '.join(IMAGE_SUFFIXES)}"
        )
    return files, np.asarray(labels, dtype=np.int64), [p.name for p in class_dirs]
