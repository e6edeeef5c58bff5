"""ONNX export of a torch network: preflight, export with a dynamic batch axis, parity."""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.compress._errors import ExportError, ParityError
from aimass_lab.compress._transformer import (
    DATA_SUFFIX,
    EXTERNAL_DATA_THRESHOLD,
    eager_attention,
    export_example,
    is_text,
    save_onnx,
)

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "DEFAULT_OPSET",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "check_parity",
    "export_network",
    "is_int8",
    "preflight",
    "providers",
    "run_onnx",
    "session",
]

#: The ONNX opset the exports use.
DEFAULT_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "output"
_INT8_OPS = {
    "QuantizeLinear",
    "DynamicQuantizeLinear",
    "MatMulInteger",
    "QLinearMatMul",
    "QLinearConv",
    "ConvInteger",
}

# Layers the TorchScript exporter turns into ONNX at opset 17: no trial export needed.
_KNOWN_GOOD = {
    "Linear", "Conv1d", "Conv2d", "Conv3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
    "LayerNorm", "GroupNorm", "ReLU", "GELU", "Tanh", "SiLU", "Sigmoid", "LeakyReLU", "ELU",
    "Softmax", "LogSoftmax", "Dropout", "Identity", "Flatten", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "Embedding", "GRU",
    "LSTM", "RNN", "MultiheadAttention", "NonDynamicallyQuantizableLinear",
}  # fmt: skip


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's warnings and its dump of the graph on failure."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield


def _export(
    module: nn.Module, example: Any, target: Any, opset: int, axes: dict[str, Any] | None = None
) -> None:
    import torch

    # The fused Transformer-encoder kernel (eval fast path) has no ONNX op: export the
    # plain layers it computes the same as.
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        _export_plain(module, example, target, opset, axes)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def _export_plain(
    module: nn.Module, example: Any, target: Any, opset: int, axes: dict[str, Any] | None
) -> None:
    import torch

    with _quiet(), torch.no_grad():
        torch.onnx.export(
            module,
            (example,),
            target,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=axes or {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def preflight(network: nn.Module, input_shape: tuple[int, ...], opset: int = DEFAULT_OPSET) -> None:
    """Find the layers of ``network`` that cannot be exported, before exporting it.

    Each layer whose class is not a plain torch layer known to export is exported on its own
    with the input it receives on an example batch.

    Raises
    ------
    ExportError
        Naming every layer that fails (its path in the network, its class and the reason).
    """
    import torch

    inputs: dict[str, Any] = {}
    hooks = []
    for path, module in network.named_modules():
        if not path or type(module).__name__ in _KNOWN_GOOD:
            continue
        if type(module).__module__.startswith("torch.nn") and list(module.children()):
            continue  # a torch container: its children are checked

        def hook(mod: nn.Module, args: tuple[Any, ...], path: str = path) -> None:
            if path not in inputs and len(args) == 1 and isinstance(args[0], torch.Tensor):
                inputs[path] = args[0].detach()

        hooks.append(module.register_forward_pre_hook(hook))
    example = torch.zeros((2, *input_shape), dtype=torch.float32)
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            network(example)
    except Exception as exc:
        raise ExportError(
            f"the network ({type(network).__name__}) fails on an example batch of shape "
            f"{tuple(example.shape)}: {_first_line(exc)}"
        ) from None
    finally:
        for h in hooks:
            h.remove()
        network.train(was_training)
    problems: list[str] = []
    modules = dict(network.named_modules())
    for path, x in inputs.items():
        # Leaves first: a failing leaf explains its parents' failures.
        if any(other.startswith(path + ".") for other in inputs):
            continue
        try:
            _export(modules[path], x, io.BytesIO(), opset)
        except Exception as exc:
            problems.append(f"layer {path!r} ({type(modules[path]).__name__}): {_first_line(exc)}")
    if problems:
        raise ExportError(
            f"cannot export {type(network).__name__} to ONNX (opset {opset}): "
            + "; ".join(problems)
            + ". Replace the layer with one ONNX supports, or export a model without it"
        )


def export_network(
    network: nn.Module,
    input_shape: tuple[int, ...],
    path: Path,
    opset: int = DEFAULT_OPSET,
    *,
    external_data_threshold: int = EXTERNAL_DATA_THRESHOLD,
) -> dict[str, Any]:
    """Export ``network`` to ``path`` with a dynamic batch axis (after a preflight).

    A pretrained Transformers network is exported with its LoRA adapters merged; a text one
    also gets a dynamic sequence axis (``input`` axis 1), so one file takes any length up to
    the model's ``max_length``. A model over ``external_data_threshold`` bytes keeps its
    tensors in ``<path name>.data`` beside ``path`` (ONNX files cannot exceed 2 GiB).

    Returns
    -------
    dict
        ``{"format": "onnx", "opset": ..., "input": "input", "output": "output",
        "dynamic_axes": {...}, "external_data": file or None, "torch": version}``.

    Raises
    ------
    ExportError
        When a layer cannot be exported (named) or the export fails.
    """
    import onnx
    import torch

    merged = getattr(network, "merged", None)
    network = (merged() if callable(merged) else network).cpu().eval()
    preflight(network, input_shape, opset)
    example = export_example(network, input_shape)
    axes: dict[str, Any] = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
    if is_text(network):
        axes[INPUT_NAME] = {0: "batch", 1: "sequence"}
    try:
        with tempfile.TemporaryDirectory(prefix="aimass-onnx-") as tmp:
            raw = Path(tmp) / path.name
            with eager_attention(network):
                _export(network, example, str(raw), opset, axes)
            onnx.checker.check_model(str(raw))
            external = save_onnx(raw, path, external_data_threshold)
    except Exception as exc:
        raise ExportError(
            f"cannot export {type(network).__name__} to ONNX (opset {opset}): {_first_line(exc)}"
        ) from None
    return {
        "format": "onnx",
        "opset": opset,
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "dynamic_axes": {"batch": 0, **({"sequence": 1} if is_text(network) else {})},
        "external_data": path.name + DATA_SUFFIX if external else None,
        "exporter": f"torch {torch.__version__} (TorchScript)",
    }


def is_int8(path: Path) -> bool:
    """Whether an ONNX file holds int8 quantisation nodes."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return any(node.op_type in _INT8_OPS for node in model.graph.node)


def providers(cuda: bool = False) -> list[str]:
    """ONNX Runtime providers: CUDA first when asked and present, CPU always."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    chosen = ["CUDAExecutionProvider"] if cuda and "CUDAExecutionProvider" in available else []
    return [*chosen, "CPUExecutionProvider"]


def session(path: Path, *, threads: int | None = None, cuda: bool = False) -> Any:
    """An ONNX Runtime inference session on ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=providers(cuda))


def run_onnx(sess: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Outputs of a session on ``x``, batch by batch."""
    outs = [
        sess.run(None, {INPUT_NAME: np.ascontiguousarray(x[i : i + batch_size], np.float32)})[0]
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


def check_parity(
    reference: np.ndarray,
    path: Path,
    x: np.ndarray,
    *,
    atol: float | None,
    min_agreement: float,
    task: str,
    what: str,
    max_rel_error: float | None = None,
) -> dict[str, Any]:
    """Compare an ONNX model's outputs with reference outputs on a held-out batch.

    Parameters
    ----------
    reference
        The torch model's outputs on ``x``.
    path
        The ONNX file.
    x
        The held-out batch.
    atol
        Largest accepted absolute difference (``None``: not checked, as for int8 models).
    min_agreement
        Smallest accepted fraction of rows whose argmax agrees (classification).
    task
        ``"classification"`` or ``"regression"``.
    what
        What is checked, for the message.
    max_rel_error
        Largest accepted relative error ``max|onnx - reference| / max|reference|`` (regression;
        ``None``: not checked). int8 regression models are held to it instead of ``atol``.

    Returns
    -------
    dict
        ``max_abs_diff``, ``relative_error`` (regression), ``argmax_agreement``
        (classification), ``rows``, ``atol``, ``min_agreement``, ``max_rel_error``,
        ``passed``.

    Raises
    ------
    ParityError
        With the report, when a figure is past its tolerance.
    """
    out = run_onnx(session(path), x)
    diff = float(np.max(np.abs(out.astype(np.float64) - reference))) if len(x) else 0.0
    report: dict[str, Any] = {
        "rows": len(x),
        "max_abs_diff": diff,
        "atol": atol,
        "argmax_agreement": None,
        "min_agreement": min_agreement if task == "classification" else None,
    }
    failures = []
    if atol is not None and not diff <= atol:
        failures.append(f"max |torch - onnx| = {diff:.3g} > atol {atol:g}")
    if task == "regression" and len(x):
        scale = float(np.max(np.abs(reference)))
        relative = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
        report["relative_error"] = relative
        report["max_rel_error"] = max_rel_error
        if max_rel_error is not None and not relative <= max_rel_error:
            failures.append(
                f"relative error max|onnx - reference| / max|reference| = {relative:.3g} > "
                f"{max_rel_error:g}"
            )
    if task == "classification" and len(x):
        agreement = float(np.mean(out.argmax(-1) == reference.argmax(-1)))
        report["argmax_agreement"] = agreement
        if agreement < min_agreement:
            failures.append(
                f"argmax agreement {agreement:.1%} < {min_agreement:.1%} of {len(x)} rows"
            )
    report["passed"] = not failures
    if failures:
        raise ParityError(
            f"parity check failed for {what}: {'; '.join(failures)}; nothing was registered. "
            f"Report: {report}",
            report,
        )
    return report
