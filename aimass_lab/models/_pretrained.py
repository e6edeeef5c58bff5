"""Local pretrained model folders, read without torch: what a folder holds and what it takes.

A folder as Hugging Face ``save_pretrained`` writes it: ``config.json`` plus
``model.safetensors`` (or shards with ``model.safetensors.index.json``), and beside them the
tokenizer (``tokenizer.json``) of a text model or the image processor
(``preprocessor_config.json``) of an image model. Nothing is downloaded: a folder is read
where it is, so a model fetched elsewhere is copied here and pointed at.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError, NotFoundError

__all__ = [
    "PretrainedInfo",
    "find_pretrained",
    "human_count",
    "human_size",
    "inspect_pretrained",
    "models_dir",
    "safetensors_stats",
]

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
PROCESSOR_FILE = "preprocessor_config.json"
WEIGHT_INDEX = "model.safetensors.index.json"
_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}  # fmt: skip
#: Config keys that say a model reads images.
_IMAGE_KEYS = ("image_size", "num_channels", "patch_size")


@dataclass
class PretrainedInfo:
    """What a local pretrained model folder holds (read from its files, no torch).

    Attributes
    ----------
    path
        The folder.
    model_type, architectures
        From ``config.json``.
    kind
        ``"text"`` or ``"image"``: the input it takes.
    parameters, size_bytes
        Counted from the safetensors headers (no weight is read).
    weight_files
        The safetensors files.
    max_length
        Longest input in tokens (``max_position_embeddings``) of a text model.
    image_size, image_mean, image_std
        The square side and per-channel normalisation of an image model.
    tokenizer
        Whether ``tokenizer.json`` is beside the model.
    labels
        The label names of the head it was saved with (``id2label``).
    """

    path: str
    model_type: str
    architectures: list[str]
    kind: str
    parameters: int
    size_bytes: int
    weight_files: list[str]
    max_length: int | None = None
    image_size: int | None = None
    image_mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    image_std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    tokenizer: bool = False
    labels: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    @property
    def name(self) -> str:
        """The folder's name."""
        return Path(self.path).name

    @property
    def input_text(self) -> str:
        """What it reads: ``max_length 512``, ``image 224px`` (or just the kind)."""
        if self.kind == "image":
            return f"image {self.image_size}px" if self.image_size else "image"
        return f"max_length {self.max_length}" if self.max_length else "text"

    def label(self) -> str:
        """One line for a list: ``bert-small: text bert, 4.39M parameters, 17.6 MB, max_length
        512, tokenizer``."""
        extra = ", tokenizer" if self.tokenizer else ""
        return (
            f"{self.name}: {self.kind} {self.model_type}, {human_count(self.parameters)} "
            f"parameters, {human_size(self.size_bytes)}, {self.input_text}{extra}"
        )


def human_count(n: int | None) -> str:
    """A count as ``33K``, ``4.39M``, ``110M``, ``1.3B`` (``-`` for None)."""
    if n is None:
        return "-"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def human_size(n: int | None) -> str:
    """A size in bytes as ``132 KB``, ``17.6 MB``, ``1.2 GB`` (``-`` for None)."""
    if n is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} B"


def models_dir(workspace_root: str | Path | None = None) -> Path:
    """The folder of local pretrained models: ``AIMASS_MODELS_DIR``, else ``<workspace>/pretrained``."""
    from aimass_lab.settings import settings

    configured = settings().models_dir
    if configured:
        return Path(configured).expanduser()
    if workspace_root is None:
        from aimass_lab.workspace import resolve_workspace

        workspace_root = resolve_workspace(None).path
    return Path(workspace_root) / "pretrained"


def _read_json(file: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AimassError(f"cannot read {what} {file}: {exc}") from None
    if not isinstance(value, dict):
        raise AimassError(f"{what} {file} is not a JSON object")
    return value


def _safetensors_header(file: Path) -> dict[str, Any]:
    """The tensor table of a safetensors file (its JSON header; no tensor is read)."""
    try:
        with file.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if length > 100_000_000:
                raise ValueError("header too large")
            header = json.loads(fh.read(length))
    except (OSError, ValueError, struct.error) as exc:
        raise AimassError(
            f"{file} is not a safetensors file ({exc}); accepted: weights saved with "
            "save_pretrained(safe_serialization=True) or safetensors.torch.save_file"
        ) from None
    header.pop("__metadata__", None)
    return header


def _weight_files(folder: Path) -> list[Path]:
    index = folder / WEIGHT_INDEX
    if index.is_file():
        names = sorted(set(_read_json(index, "weight index").get("weight_map", {}).values()))
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise NotFoundError(
                f"pretrained model {folder}: {WEIGHT_INDEX} names {', '.join(missing)}, which "
                "are not in the folder; copy every shard beside the index"
            )
        return [folder / n for n in names]
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        present = sorted(p.name for p in folder.iterdir())[:12]
        pickled = [n for n in present if n.endswith((".bin", ".pt", ".pth", ".ckpt"))]
        hint = (
            f"; {', '.join(pickled)} is a pickle file, which is not loaded (it can run code): "
            "save the model again with save_pretrained(safe_serialization=True)"
            if pickled
            else ""
        )
        raise NotFoundError(
            f"pretrained model {folder} has no safetensors weights (it holds: "
            f"{', '.join(present) or 'nothing'}){hint}"
        )
    return files


def safetensors_stats(files: list[Path]) -> tuple[int, int]:
    """The parameter count and tensor bytes of safetensors files, from their headers alone
    (no tensor is read, no torch)."""
    parameters = size = 0
    for file in files:
        for entry in _safetensors_header(Path(file)).values():
            count = 1
            for dim in entry.get("shape", []):
                count *= int(dim)
            parameters += count
            size += count * _DTYPE_BYTES.get(str(entry.get("dtype")), 4)
    return parameters, size


def inspect_pretrained(path: str | Path) -> PretrainedInfo:
    """Read a local pretrained model folder: its kind, size, input settings and extras.

    Raises
    ------
    NotFoundError
        When the folder does not exist or has no ``config.json`` / safetensors weights.
    AimassError
        When ``config.json`` is not a Transformers config or a weight file is not safetensors.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise NotFoundError(
            f"pretrained model folder not found: {folder}; accepted: a local folder with "
            f"{CONFIG_FILE} and safetensors weights, as save_pretrained writes it (nothing is "
            "downloaded: copy a model fetched elsewhere here and point at it)"
        )
    if not (folder / CONFIG_FILE).is_file():
        present = sorted(p.name for p in folder.iterdir())[:12]
        raise NotFoundError(
            f"{folder} is not a pretrained model folder: it has no {CONFIG_FILE} (it holds: "
            f"{', '.join(present) or 'nothing'}); accepted: a folder written by "
            "save_pretrained (config.json + model.safetensors)"
        )
    config = _read_json(folder / CONFIG_FILE, "model config")
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise AimassError(
            f"{folder / CONFIG_FILE} has no model_type; accepted: a Hugging Face Transformers "
            "config.json (as save_pretrained writes it)"
        )
    files = _weight_files(folder)
    parameters, size = safetensors_stats(files)
    processor = folder / PROCESSOR_FILE
    is_image = any(k in config for k in _IMAGE_KEYS) or processor.is_file()
    info = PretrainedInfo(
        path=str(folder),
        model_type=model_type,
        architectures=list(config.get("architectures") or []),
        kind="image" if is_image else "text",
        parameters=parameters,
        size_bytes=size,
        weight_files=[f.name for f in files],
        tokenizer=(folder / TOKENIZER_FILE).is_file(),
        labels=[str(v) for _, v in sorted((config.get("id2label") or {}).items(), key=_by_id)],
    )
    if is_image:
        pre = _read_json(processor, "image processor config") if processor.is_file() else {}
        size_value = pre.get("size", config.get("image_size"))
        if isinstance(size_value, dict):
            size_value = size_value.get("height") or size_value.get("shortest_edge")
        info.image_size = int(size_value) if isinstance(size_value, int | float) else None
        if isinstance(pre.get("image_mean"), list) and isinstance(pre.get("image_std"), list):
            info.image_mean = [float(v) for v in pre["image_mean"]]
            info.image_std = [float(v) for v in pre["image_std"]]
    else:
        positions = config.get("max_position_embeddings") or config.get("n_positions")
        info.max_length = int(positions) if isinstance(positions, int) else None
    return info


def _by_id(item: tuple[Any, Any]) -> int:
    try:
        return int(item[0])
    except (TypeError, ValueError):
        return 0


def find_pretrained(folder: str | Path | None = None) -> list[PretrainedInfo]:
    """The pretrained models in a folder's sub-folders (default :func:`models_dir`).

    Sub-folders that are not model folders are skipped; a missing folder gives ``[]``.
    """
    root = Path(folder).expanduser() if folder is not None else models_dir()
    if not root.is_dir():
        return []
    found: list[PretrainedInfo] = []
    for sub in sorted(root.iterdir()):
        if sub.is_dir() and (sub / CONFIG_FILE).is_file():
            try:
                found.append(inspect_pretrained(sub))
            except AimassError:
                continue
    return found
