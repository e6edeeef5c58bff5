"""Export a registered model version as a Triton Inference Server model repository."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError
from aimass_lab.workspace import Workspace, resolve_workspace

__all__ = ["TritonExportError", "export_triton", "triton_config"]

ONNX_FILE = "model.onnx"

# ONNX TensorProto element types -> Triton data types
_TRITON_TYPES: dict[int, str] = {
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    4: "TYPE_UINT16",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    8: "TYPE_STRING",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
    12: "TYPE_UINT32",
    13: "TYPE_UINT64",
    16: "TYPE_BF16",
}


class TritonExportError(AimassError):
    """The model repository could not be written (the message says why)."""


def _tensors(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Inputs and outputs of an ONNX graph: name, Triton type, dims without the batch axis."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    batched = True

    def describe(value: Any) -> dict[str, Any]:
        nonlocal batched
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        first = tensor.shape.dim[0] if tensor.shape.dim else None
        if first is None or first.HasField("dim_value"):
            batched = False  # a fixed first axis: no batch dimension for Triton
        dtype = _TRITON_TYPES.get(tensor.elem_type)
        if dtype is None:
            raise TritonExportError(
                f"tensor {value.name!r} of {path.name} has ONNX element type "
                f"{tensor.elem_type}, which Triton does not take"
            )
        return {"name": value.name, "data_type": dtype, "dims": dims}

    inputs = [describe(v) for v in model.graph.input if v.name not in initializers]
    outputs = [describe(v) for v in model.graph.output]
    if batched:
        for t in (*inputs, *outputs):
            t["dims"] = t["dims"][1:]
    return inputs, outputs, batched


def _tensor_block(kind: str, tensors: list[dict[str, Any]], labels: bool) -> str:
    items = []
    for i, t in enumerate(tensors):
        dims = ", ".join(str(d) for d in t["dims"]) or "1"
        extra = (
            '\n    label_filename: "labels.txt"' if labels and kind == "output" and i == 0 else ""
        )
        items.append(
            f'  {{\n    name: "{t["name"]}"\n    data_type: {t["data_type"]}\n'
            f"    dims: [ {dims} ]{extra}\n  }}"
        )
    return f"{kind} [\n" + ",\n".join(items) + "\n]\n"


def triton_config(
    name: str,
    onnx_path: Path,
    *,
    version: int,
    max_batch_size: int = 32,
    max_delay_ms: float = 2.0,
    labels: bool = False,
) -> str:
    """The ``config.pbtxt`` of an ONNX model for Triton's ``onnxruntime_onnx`` backend.

    Inputs and outputs (names, data types, dims without the batch axis) are read from the
    ONNX graph; ``max_batch_size`` and ``dynamic_batching`` follow the arguments (a graph
    with a fixed first axis gets ``max_batch_size: 0`` and no dynamic batching).
    """
    inputs, outputs, batched = _tensors(onnx_path)
    lines = [
        f'name: "{name}"',
        'platform: "onnxruntime_onnx"',
        f"max_batch_size: {max_batch_size if batched else 0}",
        "version_policy: { specific: { versions: [ " + str(version) + " ] } }",
    ]
    text = "\n".join(lines) + "\n"
    text += _tensor_block("input", inputs, labels)
    text += _tensor_block("output", outputs, labels)
    if batched and max_batch_size > 1:
        text += "dynamic_batching {\n"
        text += f"  max_queue_delay_microseconds: {round(max_delay_ms * 1000)}\n}}\n"
    return text


def _onnx_child(mv: Any, ws: Workspace) -> Any:
    """An ONNX export of ``mv``: one registered before, else a new one (parity-checked)."""
    from aimass_lab import registry
    from aimass_lab.compress import export_onnx

    for other in registry.list(mv.name, workspace=ws):
        if (
            other.parent == mv.ref
            and ONNX_FILE in other.manifest
            and "export" in other.lineage
            and other.lineage.get("source") == "export"
        ):
            return other
    return export_onnx(mv, workspace=ws)


def export_triton(
    model_version: Any,
    directory: str | os.PathLike[str],
    *,
    name: str | None = None,
    max_batch_size: int = 32,
    max_delay_ms: float = 2.0,
    workspace: Workspace | str | os.PathLike[str] | None = None,
) -> Path:
    # Long by its docstring (the API reference); the code is some 65 lines.
    """Write a registered model version as a Triton model repository entry.

    The layout is ``DIRECTORY/NAME/config.pbtxt`` (platform ``onnxruntime_onnx``, the
    graph's inputs and outputs, ``max_batch_size``, ``dynamic_batching``),
    ``DIRECTORY/NAME/VERSION/model.onnx`` and, for classifiers, ``DIRECTORY/NAME/labels.txt``.
    A version without ``model.onnx`` is exported to ONNX first (parity-checked, registered
    as a child version; see :func:`aimass_lab.export_onnx`), unless such a child exists. The folder is written beside
    its final place and renamed into it, so a reader never sees half of it; an existing
    ``DIRECTORY/NAME`` is never overwritten.

    Parameters
    ----------
    model_version
        A :class:`~aimass_lab.registry.ModelVersion` or a ref (``"digits-mlp:3"``).
    directory
        The model repository (created if missing; other models in it are left alone).
    name
        The Triton model name (default: the registry name).
    max_batch_size, max_delay_ms
        Triton's batch limit and dynamic batching delay.

    Returns
    -------
    Path
        ``DIRECTORY/NAME``.

    Raises
    ------
    TritonExportError
        When ``DIRECTORY/NAME`` exists or ``DIRECTORY`` is a file.
    """
    from aimass_lab import registry
    from aimass_lab.specs import validate_name

    ws = resolve_workspace(
        workspace if workspace is not None else getattr(model_version, "workspace", None)
    )
    mv = registry.get(model_version, workspace=ws)
    model_name = validate_name(name or mv.name)
    if not 1 <= int(max_batch_size) <= 65_536:
        raise TritonExportError(f"max_batch_size must be 1..65536; got {max_batch_size}")
    root = Path(directory).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise TritonExportError(f"{root} is a file; give the model repository folder")
    target = root / model_name
    if target.exists():
        raise TritonExportError(
            f"{target} already exists; Triton export never overwrites a model: remove it or "
            "export to another folder (or under another name with --as NAME)"
        )
    source = mv
    if ONNX_FILE not in mv.manifest:
        source = _onnx_child(mv, ws)
    files = source.files()
    config = source.config
    classes = config.get("classes")
    labels = config.get("task") == "classification" and bool(classes)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{model_name}.tmp-", dir=root))
    try:
        (tmp / str(mv.version)).mkdir()
        shutil.copyfile(files[ONNX_FILE], tmp / str(mv.version) / ONNX_FILE)
        if ONNX_FILE + ".data" in files:  # the tensors of a model over 2 GiB, by name
            shutil.copyfile(
                files[ONNX_FILE + ".data"], tmp / str(mv.version) / (ONNX_FILE + ".data")
            )
        text = triton_config(
            model_name,
            tmp / str(mv.version) / ONNX_FILE,
            version=mv.version,
            max_batch_size=int(max_batch_size),
            max_delay_ms=float(max_delay_ms),
            labels=labels,
        )
        (tmp / "config.pbtxt").write_text(text, encoding="utf-8")
        if labels:
            (tmp / "labels.txt").write_text(
                "".join(f"{c}\n" for c in classes or []), encoding="utf-8"
            )
        provenance = {
            "ref": mv.ref,
            "onnx_from": source.ref,
            "sha256": source.manifest[ONNX_FILE]["sha256"],
            "input_note": "inputs are features after the preprocessing below (the model's "
            "own, fitted on its training data); aimass serve applies it on its JSON route",
            "preprocess": config.get("preprocess"),
            "classes": classes,
        }
        (tmp / "aimass.json").write_text(json.dumps(provenance, indent=2), encoding="utf-8")
        tmp.chmod(0o755)
        for path in tmp.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(tmp, target)  # fails if the target appeared meanwhile (never replaces)
        except OSError:
            raise TritonExportError(
                f"{target} appeared while exporting; Triton export never overwrites a model"
            ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
