"""Pretrained Transformers models in the compress stage: export inputs, external data,
ONNX Runtime transformer graph optimisations and smaller students.

A pretrained network (family ``pretrained``) is a ``PretrainedClassifier``: its ``kind`` is
``"text"`` (``(B, L)`` token ids, float or int, padded with ``pad_id``) or ``"image"``.
Everything here is duck-typed on that, so that the stage imports nothing private of
:mod:`aimass_lab.models`.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimass_lab.compress._errors import ExportError
from aimass_lab.errors import AimassError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "DATA_SUFFIX",
    "EXTERNAL_DATA_THRESHOLD",
    "ORT_MODEL_TYPES",
    "copy_onnx",
    "eager_attention",
    "export_example",
    "is_pretrained",
    "is_text",
    "link_onnx",
    "onnx_files",
    "onnx_size",
    "optimize_graph",
    "ort_model_type",
    "save_onnx",
    "smaller_student",
]

#: The file beside ``model.onnx`` holding its tensors when they are saved apart.
DATA_SUFFIX = ".data"
#: ONNX files larger than this keep their tensors in ``<name>.data`` (protobuf's 2 GiB limit).
EXTERNAL_DATA_THRESHOLD = 2_000_000_000
#: Transformers ``model_type`` -> ONNX Runtime optimizer model type.
ORT_MODEL_TYPES = {
    "bert": "bert",
    "distilbert": "bert",
    "roberta": "bert",
    "xlm-roberta": "bert",
    "electra": "bert",
    "vit": "vit",
    "deit": "vit",
    "swin": "swin",
}


def is_pretrained(config: dict[str, Any]) -> bool:
    """Whether a ``model.json`` is a pretrained Transformers model's."""
    return isinstance(config.get("pretrained"), dict)


def is_text(network: Any) -> bool:
    """Whether ``network`` is a pretrained text classifier (token ids in)."""
    return getattr(network, "kind", None) == "text" and hasattr(network, "pad_id")


def export_example(network: Any, input_shape: tuple[int, ...]) -> torch.Tensor:
    """The batch a network is traced with.

    A pretrained text model gets two rows of token ids, one full and one half padding, so
    that the traced graph keeps the attention mask (a batch without padding could let the
    model skip it); every other network gets zeros.
    """
    import torch

    example = torch.zeros((2, *input_shape), dtype=torch.float32)
    if is_text(network) and input_shape:
        pad = float(network.pad_id)
        token = 1.0 if pad != 1.0 else 2.0
        example.fill_(token)
        example[1, max(1, input_shape[0] // 2) :] = pad
    return example


@contextlib.contextmanager
def eager_attention(network: Any) -> Iterator[None]:
    """Trace a Transformers model with its plain ("eager") attention, then restore its own.

    The eager attention exports as MatMul/Softmax nodes that ONNX Runtime's transformer
    optimizer fuses into its ``Attention`` operator (the ``scaled_dot_product_attention``
    graph is not recognised); both compute the same (the parity check says so).
    """
    model = getattr(network, "model", None)
    config = getattr(model, "config", None)
    before = getattr(config, "_attn_implementation", None)
    switch = getattr(model, "set_attn_implementation", None)
    if not callable(switch) or before in (None, "eager"):
        yield
        return
    try:
        switch("eager")
    except (ValueError, AttributeError, ImportError):  # a model without eager attention
        yield
        return
    try:
        yield
    finally:
        switch(before)


def onnx_files(path: Path) -> list[Path]:
    """``path`` and, when it exists, the ``<name>.data`` file of its external tensors."""
    data = path.with_name(path.name + DATA_SUFFIX)
    return [path, data] if data.exists() else [path]


def onnx_size(path: Path) -> int:
    """Bytes of an ONNX model, its external data included."""
    return sum(p.stat().st_size for p in onnx_files(path))


def _stored(src: Path) -> tuple[int, bool]:
    """Bytes of the ONNX model ``src`` (its external tensors included) and whether it has any."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(src), load_external_data=False)
    size, external = src.stat().st_size, False
    for tensor in model.graph.initializer:
        if uses_external_data(tensor):
            external = True
            entry = {e.key: e.value for e in tensor.external_data}
            if entry.get("length"):
                size += int(entry["length"])
            elif (src.parent / entry.get("location", "")).is_file():  # one file per tensor
                size += (src.parent / entry["location"]).stat().st_size
    return size, external


def save_onnx(src: Path, dst: Path, threshold: int = EXTERNAL_DATA_THRESHOLD) -> bool:
    """Write the ONNX model ``src`` to ``dst``, its tensors apart when it is over ``threshold``.

    Over ``threshold`` bytes the tensors go to one file ``<dst name>.data`` beside ``dst``
    (an ONNX file cannot exceed 2 GiB); under it ``dst`` is a single file. The data file is
    moved into place first and ``dst`` last, so a reader never sees ``dst`` without its data.

    Returns
    -------
    bool
        Whether ``dst`` keeps its tensors in ``<dst name>.data``.
    """
    import onnx

    size, has_external = _stored(src)
    external = size > threshold
    dst.parent.mkdir(parents=True, exist_ok=True)
    data = dst.with_name(dst.name + DATA_SUFFIX)
    scratch = Path(tempfile.mkdtemp(prefix=".onnx-", dir=dst.parent))
    try:
        if not external and not has_external:
            shutil.copyfile(src, scratch / dst.name)
        else:
            model = onnx.load(str(src), load_external_data=True)
            if external:
                onnx.save_model(
                    model,
                    str(scratch / dst.name),
                    save_as_external_data=True,
                    all_tensors_to_one_file=True,
                    location=data.name,
                    size_threshold=1024,
                )
            else:
                onnx.save_model(model, str(scratch / dst.name))
        if external:
            os.replace(scratch / data.name, data)
        else:
            data.unlink(missing_ok=True)
        os.replace(scratch / dst.name, dst)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return external


def copy_onnx(src: Path, dst: Path) -> None:
    """Copy an ONNX model and its external data file (renamed to match ``dst``)."""
    if len(onnx_files(src)) == 1:
        shutil.copyfile(src, dst)
        return
    save_onnx(src, dst, threshold=0)


def link_onnx(onnx_file: Path, data_file: Path | None, folder: Path, name: str) -> Path:
    """``folder/name`` and ``folder/name.data`` linked to stored files (content-addressed
    files have no names, but ONNX Runtime finds external data by name beside the model)."""
    if data_file is None:
        return onnx_file
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    for src, dst in ((data_file, folder / (name + DATA_SUFFIX)), (onnx_file, target)):
        dst.unlink(missing_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return target


def ort_model_type(config: dict[str, Any]) -> str:
    """The ONNX Runtime optimizer model type of a pretrained ``model.json``.

    Raises
    ------
    AimassError
        When the model is not a pretrained Transformers model, or ONNX Runtime has no
        transformer optimisations for its ``model_type``.
    """
    info = config.get("pretrained")
    if not isinstance(info, dict):
        family = (config.get("model_spec") or {}).get("family", "?")
        raise AimassError(
            f"optimize=True applies the ONNX Runtime transformer optimisations to pretrained "
            f"Transformers models (family 'pretrained'); this model is {family!r}. Leave "
            "optimize off for it"
        )
    model_type = str(info.get("model_type") or (info.get("config") or {}).get("model_type"))
    if model_type not in ORT_MODEL_TYPES:
        raise AimassError(
            f"ONNX Runtime has no transformer optimisations for model type {model_type!r}; "
            f"accepted: {', '.join(sorted(ORT_MODEL_TYPES))}. Leave optimize off for this model"
        )
    return ORT_MODEL_TYPES[model_type]


def optimize_graph(
    src: Path, dst: Path, config: dict[str, Any], threshold: int = EXTERNAL_DATA_THRESHOLD
) -> dict[str, Any]:
    """ONNX Runtime's transformer fusions (attention, layer norm, GELU...) of ``src`` into
    ``dst``, for the CPU.

    Returns
    -------
    dict
        ``{"model_type": ..., "fused": {op: count}}`` for the lineage.
    """
    import logging

    from onnxruntime.transformers.optimizer import optimize_model

    model_type = ort_model_type(config)
    hf = (config["pretrained"].get("config")) or {}
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        optimized = optimize_model(
            str(src),
            model_type=model_type,
            num_heads=int(hf.get("num_attention_heads", 0)),
            hidden_size=int(hf.get("hidden_size", 0)),
            opt_level=0,
        )
        fused = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
        with tempfile.TemporaryDirectory(prefix="aimass-ort-opt-") as tmp:
            out = Path(tmp) / dst.name
            optimized.save_model_to_file(str(out), use_external_data_format=True)
            save_onnx(out, dst, threshold)
    except AimassError:
        raise
    except Exception as exc:
        raise ExportError(
            f"ONNX Runtime's {model_type} optimizer failed on the export: "
            f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__}"
        ) from None
    finally:
        root.setLevel(level)
    return {"model_type": model_type, "fused": fused}


def _layer_list(model: nn.Module, count: int) -> tuple[nn.Module, str, Any]:
    """The ``ModuleList`` of the encoder's ``count`` layers: (its parent, attribute, list)."""
    from torch import nn

    for name, module in model.named_modules():
        for attr, child in module.named_children():
            if isinstance(child, nn.ModuleList) and len(child) == count and "layer" in attr:
                return module, attr, child
        del name
    raise AimassError(
        f"cannot find the {count} encoder layers of {type(model).__name__}; accepted: "
        "Transformers encoders whose layers are a ModuleList named like 'layer'"
    )


def smaller_student(
    teacher: nn.Module, config: dict[str, Any], layers: int, init: str
) -> tuple[nn.Module, dict[str, Any]]:
    """The teacher's architecture with ``layers`` encoder layers, and its ``pretrained`` entry.

    ``init="teacher"`` copies the teacher's embeddings, its bottom ``layers`` layers, its
    pooler and its head; ``init="fresh"`` initialises them at random from the config.
    LoRA adapters are merged first; every weight of the student is trained.

    Raises
    ------
    AimassError
        When the teacher is not a pretrained Transformers model, or ``layers`` is not below
        the teacher's number of layers.
    """
    info = config.get("pretrained")
    if not isinstance(info, dict) or not hasattr(teacher, "merged"):
        family = (config.get("model_spec") or {}).get("family", "?")
        raise AimassError(
            f"distill layers= builds the student from a pretrained teacher's own config; this "
            f"teacher is {family!r}. Give a zoo student instead (student='mlp-small', ...)"
        )
    hf = dict(info.get("config") or {})
    total = int(hf.get("num_hidden_layers", 0))
    if not 1 <= layers < total:
        raise AimassError(
            f"distill layers={layers}: the student must have fewer layers than its teacher "
            f"({total}); accepted: 1..{total - 1}"
        )
    student = copy.deepcopy(teacher.merged())  # type: ignore[operator]
    parent, attr, layer_list = _layer_list(student.model, total)
    from torch import nn

    setattr(parent, attr, nn.ModuleList(list(layer_list)[:layers]))
    student.model.config.num_hidden_layers = layers
    if init == "fresh":
        student.model = type(student.model)(student.model.config)
    for p in student.parameters():
        p.requires_grad_(True)
    new_info = {
        **info,
        "config": {**hf, "num_hidden_layers": layers},
        "lora": None,
        "finetune": "full",
        "student": {"layers": layers, "teacher_layers": total, "init": init},
    }
    student.info = new_info
    return student, new_info
