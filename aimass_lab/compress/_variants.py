"""One variant of a compression: exported, checked for parity, measured and registered."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aimass_lab.compress._base import Candidate
from aimass_lab.compress._onnx import DEFAULT_OPSET, check_parity, export_network
from aimass_lab.compress._transformer import (
    DATA_SUFFIX,
    link_onnx,
    onnx_files,
    optimize_graph,
    save_onnx,
)
from aimass_lab.errors import DataError
from aimass_lab.specs import BenchmarkSpec, CompressSpec

if TYPE_CHECKING:
    from aimass_lab.data import Dataset
    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

ONNX_FILE = "model.onnx"
#: Test rows measured for data read on demand (data in memory is measured whole).
MEASURE_ROWS = 10_000

__all__ = [
    "ONNX_FILE",
    "baseline",
    "export_checked",
    "int8_columns",
    "measure",
    "register",
    "torch_outputs",
]


def held_out_part(dataset: Dataset, ref: str = "the model") -> str:
    """The part that measures and parity-checks a variant: ``test``, else ``val`` (data split
    without a test part), else ``train``.

    Raises
    ------
    DataError
        When every part of the data is empty.
    """
    sizes = dataset.sizes
    for part in ("test", "val", "train"):
        if sizes.get(part):
            return part
    raise DataError(
        f"the data of {ref} has no rows in any part ({sizes}); measuring and checking an "
        "export need a few rows: pass data= a dataset with rows"
    )


def torch_outputs(network: Any, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return network.cpu().eval()(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


def export_checked(
    candidate: Candidate,
    folder: Path,
    x_parity: np.ndarray,
    spec: CompressSpec,
    what: str,
    *,
    optimize: bool = False,
) -> tuple[Path, dict[str, Any]]:
    """The candidate's ONNX file (exported unless it is int8) and its parity report.

    With ``optimize`` the export goes through ONNX Runtime's transformer optimisations
    (pretrained models) before the parity check.
    """
    config = candidate.config
    task = "regression" if config.get("task") == "regression" else "classification"
    reference = torch_outputs(candidate.network, x_parity)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ONNX_FILE
    threshold = spec.external_data_threshold
    if candidate.onnx_path is not None:
        save_onnx(candidate.onnx_path, path, threshold)
        info: dict[str, Any] = dict(config.get("onnx") or {})
        info.update({"format": "onnx", "quantized": candidate.quantized})
        info["external_data"] = ONNX_FILE + DATA_SUFFIX if len(onnx_files(path)) > 1 else None
        quantized = bool(candidate.quantized)
        parity = check_parity(
            reference,
            path,
            x_parity,
            atol=None if quantized else spec.parity_atol,
            min_agreement=spec.int8_min_agreement if quantized else 1.0,
            task=task,
            what=f"{what} (int8 against its float32 source)" if quantized else what,
            max_rel_error=spec.int8_max_rel_error if quantized else None,
        )
    else:
        shape = tuple(int(d) for d in config["input_shape"])
        info = export_network(
            candidate.network, shape, path, DEFAULT_OPSET, external_data_threshold=threshold
        )
        if optimize:
            info["ort_optimizer"] = optimize_graph(path, path, config, threshold)
            info["external_data"] = ONNX_FILE + DATA_SUFFIX if len(onnx_files(path)) > 1 else None
        parity = check_parity(
            reference,
            path,
            x_parity,
            atol=spec.parity_atol,
            min_agreement=1.0,
            task=task,
            what=what,
        )
    return path, {**info, "parity": parity}


def int8_columns(
    int8: dict[str, Any] | None, row: dict[str, Any], parent_row: dict[str, Any]
) -> dict[str, Any]:
    """The report columns of an int8 step: the CPU it was quantised for, and a note when
    int8 is slower than its float parent on this CPU."""
    if not int8:
        return {}
    out: dict[str, Any] = {
        "int8_isa": int8["isa"],
        "int8_reduce_range": int8["reduce_range"],
    }
    mine, theirs = row.get("ort_cpu_p50_ms"), parent_row.get("ort_cpu_p50_ms")
    if mine is not None and theirs is not None and mine > theirs:
        out["note"] = (
            f"int8 is slower than float32 on this CPU ({int8['detected_isa']}): "
            f"{mine:.4g} ms against {theirs:.4g} ms at batch 1; keep the float model for "
            "speed here, or serve the int8 one on a CPU with VNNI"
        )
    return out


def register(
    candidate: Candidate,
    folder: Path,
    onnx_info: dict[str, Any],
    measured: dict[str, Any],
    *,
    name: str,
    parent: ModelVersion,
    lineage: dict[str, Any],
    ws: Workspace,
) -> ModelVersion:
    from aimass_lab import registry
    from aimass_lab.models import save_weights

    names = save_weights(candidate.network.state_dict(), folder)
    metric_keys = (
        "accuracy",
        "rmse",
        "size_bytes",
        "params",
        "ort_cpu_p50_ms",
        "ort_cpu_throughput",
    )
    metrics = {
        {"accuracy": "test_acc", "rmse": "test_rmse"}.get(k, k): measured[k]
        for k in metric_keys
        if k in measured
    }
    config = {**candidate.config, "onnx": onnx_info, "metrics": metrics, "run_id": None}
    config.pop("weight_files", None)
    if len(names) > 1:
        config["weight_files"] = names
    (folder / "model.json").write_text(json.dumps(config, default=str), encoding="utf-8")
    return registry.register(
        folder,
        name,
        parent=parent,
        lineage={**lineage, "source": "compress", "folder": None},
        description=f"{candidate.method} of {parent.ref}",
        workspace=ws,
    )


def measure(
    candidate: Candidate,
    onnx_path: Path,
    dataset: Dataset,
    bench: BenchmarkSpec,
    parity: dict[str, Any],
) -> dict[str, Any]:
    from aimass_lab.compress._measure import measure

    # the whole test part when it is in memory, else its first MEASURE_ROWS rows (the
    # validation part of data split without a test part)
    part = held_out_part(dataset)
    x_test, y_test = dataset.take(part, None if dataset.in_memory else MEASURE_ROWS)
    row = measure(
        onnx_path=onnx_path,
        network=candidate.network,
        config=candidate.config,
        x_test=x_test,
        y_test=y_test,
        bench=bench,
    )
    row["parity_max_abs_diff"] = parity.get("max_abs_diff")
    row["parity_argmax_agreement"] = parity.get("argmax_agreement")
    if parity.get("relative_error") is not None:
        row["parity_relative_error"] = parity["relative_error"]
    return row


def baseline(mv: ModelVersion) -> Candidate:
    config = mv.config
    candidate = Candidate(mv.load_network(), config, "baseline")
    if candidate.quantized and ONNX_FILE in mv.manifest:
        files = mv.files()
        candidate.onnx_path = link_onnx(
            files[ONNX_FILE],
            files.get(ONNX_FILE + DATA_SUFFIX),
            Path(tempfile.mkdtemp(prefix="aimass-onnx-")),
            ONNX_FILE,
        )
    return candidate
