"""``aimass_lab.compress`` and ``aimass_lab.export_onnx``: the front doors of the stage."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from aimass_lab.compress._base import Candidate, CompressionMethod, Context
from aimass_lab.compress._report import CompressionReport
from aimass_lab.compress._transformer import ort_model_type
from aimass_lab.compress._variants import (
    baseline,
    export_checked,
    held_out_part,
    int8_columns,
    measure,
    register,
)
from aimass_lab.errors import DataError
from aimass_lab.specs import CompressSpec

if TYPE_CHECKING:
    from aimass_lab.compress._job import CompressJob
    from aimass_lab.data import Dataset
    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

__all__ = ["METHODS", "compress", "export_onnx"]

#: Rows of the held-out (test) batch the parity check runs on.
PARITY_ROWS = 64


def _methods() -> dict[str, type[CompressionMethod]]:
    from aimass_lab.compress._distill import Distill
    from aimass_lab.compress._lowrank import LowRank
    from aimass_lab.compress._prune import Prune
    from aimass_lab.compress._quantize import Quantize

    return {m.name: m for m in (Prune, Quantize, Distill, LowRank)}


#: ``{method name: class}``, filled on first use.
METHODS: dict[str, type[CompressionMethod]] = {}


def _method_for(step: Any) -> CompressionMethod:
    if not METHODS:
        METHODS.update(_methods())
    return METHODS[str(step.method)](step)


def _load_data(data: Any, config: dict[str, Any], ref: str, ws: Workspace) -> Dataset:
    from aimass_lab import data as data_stage

    if data is None:
        data = config.get("data_spec")
        if not isinstance(data, dict):
            raise DataError(
                f"model {ref} records no data_spec in its model.json; give data=, the dataset "
                "it was trained on (a built-in or registered name, a DataSpec or a Dataset)"
            )
    dataset = data_stage.load(data, workspace=ws)
    stored = config.get("preprocess") or {}
    if stored.get("kind") == "text" or dataset.input_kind == "text":
        check = getattr(dataset.preprocessor, "check_matches", None)
        if check is None:
            raise DataError(
                f"model {ref} takes text, dataset {dataset.name!r} is {dataset.input_kind}; "
                "accepted: the text dataset the model was trained on"
            )
        check(stored, f"model {ref}")  # the same tokenizer and max_length
    expected = tuple(int(d) for d in config["input_shape"])
    if tuple(dataset.input_shape) != expected:
        raise DataError(
            f"dataset {dataset.name!r} has samples of shape {tuple(dataset.input_shape)}, but "
            f"model {ref} takes samples of shape {expected}; accepted: the dataset the model "
            f"was trained on ({(config.get('data_spec') or {}).get('name') or 'see its model.json'})"
        )
    return dataset


def _version_and_workspace(model_version: Any, workspace: Any) -> tuple[Any, Any]:
    """The registered version and its workspace (a ModelVersion carries its own)."""
    from aimass_lab import registry
    from aimass_lab.workspace import resolve_workspace

    if (
        workspace is None
        and not isinstance(model_version, str)
        and getattr(model_version, "workspace", None)
    ):
        ws = model_version.workspace
    else:
        ws = resolve_workspace(workspace)
    return registry.get(model_version, ws), ws


@overload
def compress(
    model_version: Any,
    methods: Any = ...,
    *,
    data: Any = ...,
    calibration: Any = ...,
    workspace: Workspace | str | os.PathLike[str] | None = ...,
    launch: Literal[False] = ...,
    on_progress: Callable[[float, str], None] | None = ...,
    **fields: Any,
) -> CompressionReport: ...


@overload
def compress(
    model_version: Any,
    methods: Any = ...,
    *,
    data: Any = ...,
    calibration: Any = ...,
    workspace: Workspace | str | os.PathLike[str] | None = ...,
    launch: Literal[True],
    on_progress: Callable[[float, str], None] | None = ...,
    **fields: Any,
) -> CompressJob: ...


def compress(
    model_version: Any,
    methods: Any = None,
    *,
    data: Any = None,
    calibration: Any = None,
    workspace: Workspace | str | os.PathLike[str] | None = None,
    launch: bool = False,
    on_progress: Callable[[float, str], None] | None = None,
    **fields: Any,
) -> CompressionReport | CompressJob:
    """Compress a registered model step by step; register and measure every variant.

    Each step (prune, quantize, distill, low-rank) starts from the previous step's model.
    Every variant is exported to ONNX, checked for parity against its torch model on a
    held-out batch, measured, and registered as a child version (``parent=``) holding
    ``weights.safetensors``, ``model.json`` and ``model.onnx``.

    By default the work runs in this process and the report is returned. With
    ``launch=True`` it runs as a detached ``compress`` job of the workspace (it outlives the
    kernel; the CLI, the sidebar and ``aimass jobs`` see it) and a
    :class:`~aimass_lab.compress.CompressJob` is returned at once: ``.wait()``, then
    ``.report()``.

    Parameters
    ----------
    model_version
        A :class:`~aimass_lab.registry.ModelVersion` or a ref (``"digits-mlp:1"``).
    methods
        The steps: strings (``"prune:structured:0.5"``, ``"quantize:int8-dynamic"``,
        ``"distill:student=mlp-small"``, ``"low-rank:rank=16"``), dicts or method specs, or a
        whole :class:`~aimass_lab.specs.CompressSpec`.
    data
        The data to fine-tune, calibrate and evaluate on: a name, DataSpec, dict or Dataset
        (default: the data the model was trained on, from its ``model.json``).
    calibration
        Samples for int8-static calibration (default: the training split).
    workspace
        The workspace (default: the model version's, else the current one).
    launch
        Run as a detached job and return its :class:`~aimass_lab.compress.CompressJob`
        (the spec, the model and the data are checked here first, so mistakes fail at once).
    on_progress
        Called with ``(fraction done, what is being done)`` after each step (in-process only;
        a job records its progress in the workspace).
    **fields
        Other :class:`~aimass_lab.specs.CompressSpec` fields (``name``, ``parity_atol``,
        ``int8_min_agreement``, ``int8_max_rel_error``, ``benchmark``, ``seed``, ...).

    Returns
    -------
    CompressionReport or CompressJob
        The baseline and every variant, measured on this machine (a ``CompressJob`` with
        ``launch=True``).

    Raises
    ------
    SpecError
        For a bad method (unknown name, prune ratio outside (0, 1), ...).
    ExportError
        When a model cannot be exported to ONNX; the message names the layer.
    ParityError
        When an export does not compute what its torch model computes; the failing variant
        is not registered.
    DataError
        When the data or the calibration samples do not fit the model.

    Examples
    --------
    >>> import aimass_lab as am  # doctest: +SKIP
    >>> report = am.compress("digits-mlp:1", ["prune:structured:0.5", "quantize:int8-dynamic"])  # doctest: +SKIP
    >>> report.pick(max_drop=0.01, alias="edge")  # doctest: +SKIP
    >>> job = am.compress("digits-mlp:1", ["quantize:int8-dynamic"], launch=True)  # doctest: +SKIP
    >>> job.wait().report()  # doctest: +SKIP
    """
    spec, mv, ws, dataset = _checked_inputs(model_version, methods, data, workspace, fields)
    if launch:
        from aimass_lab.compress._job import launch_job

        return launch_job(mv, spec, calibration, ws)
    total = len(spec.methods) + 1

    def progress(done: int, what: str) -> None:
        if on_progress is not None:
            on_progress(done / total, what)

    return _run_steps(spec, mv, ws, dataset, calibration, progress)


def _checked_inputs(
    model_version: Any,
    methods: Any,
    data: Any,
    workspace: Workspace | str | os.PathLike[str] | None,
    fields: dict[str, Any],
) -> tuple[CompressSpec, ModelVersion, Workspace, Any]:
    """The spec, the model version, its workspace and the data, checked before any work."""
    from aimass_lab.data import Dataset

    if isinstance(methods, CompressSpec):
        spec = methods.model_copy(update=fields) if fields else methods
    else:
        spec = CompressSpec(methods=methods if methods is not None else [], **fields)
    mv, ws = _version_and_workspace(model_version, workspace)
    config = mv.config
    if data is None and spec.data is not None:
        data = spec.data
    dataset = data if isinstance(data, Dataset) else _load_data(data, config, mv.ref, ws)
    if isinstance(data, Dataset):
        _load_data(dataset, config, mv.ref, ws)
    spec = spec.model_copy(update={"data": dataset.spec})
    probe = Candidate(None, config, "baseline")  # type: ignore[arg-type]
    for step in spec.methods:  # an option that does not apply fails here, before any work
        check = getattr(_method_for(step), "check", None)
        if check is not None:
            check(probe, mv.ref)
    return spec, mv, ws, dataset


def _run_steps(
    spec: CompressSpec,
    mv: ModelVersion,
    ws: Workspace,
    dataset: Any,
    calibration: Any,
    progress: Callable[[int, str], None],
) -> CompressionReport:
    """Measure the baseline, then apply, export, check, measure and register each step."""
    name = spec.name or mv.name
    config = mv.config
    x_parity = np.asarray(dataset.take(held_out_part(dataset, mv.ref), PARITY_ROWS)[0])

    with tempfile.TemporaryDirectory(prefix="aimass-compress-") as tmp_name:
        tmp = Path(tmp_name)
        ctx = Context(spec=spec, dataset=dataset, tmp=tmp, calibration=calibration)
        current = baseline(mv)
        onnx_path, info = export_checked(
            current, tmp / "baseline", x_parity, spec, f"the baseline {mv.ref}"
        )
        row = measure(current, onnx_path, dataset, spec.benchmark, info["parity"])
        rows = [{"method": "baseline", "version": mv.ref, "parent": mv.parent, **row}]
        progress(1, f"measured the baseline {mv.ref}")
        versions: dict[str, ModelVersion] = {mv.ref: mv}
        parent = mv
        labels: list[str] = []
        for i, step in enumerate(spec.methods):
            method = _method_for(step)
            labels.append(method.label)
            candidate = method.apply(current, ctx)
            folder = tmp / f"step-{i + 1}"
            what = f"step {i + 1} ({method.label}) of {mv.ref}"
            onnx_path, info = export_checked(candidate, folder, x_parity, spec, what)
            row = measure(candidate, onnx_path, dataset, spec.benchmark, info["parity"])
            row.update(int8_columns(candidate.details.get("int8"), row, rows[-1]))
            compression = {
                "method": method.label,
                "step": i + 1,
                "steps": list(labels),
                "source": mv.ref,
                "details": candidate.details,
                "spec": step.to_dict(),
            }
            candidate.config = {
                **candidate.config,
                "compression": {**(candidate.config.get("compression") or {}), **compression},
            }
            child = register(
                candidate,
                folder,
                info,
                row,
                name=name,
                parent=parent,
                lineage={"compression": compression, "export": {k: v for k, v in info.items()}},
                ws=ws,
            )
            rows.append({"method": method.label, "version": child.ref, "parent": parent.ref, **row})
            versions[child.ref] = child
            progress(i + 2, f"step {i + 1}/{len(spec.methods)} {method.label} -> {child.ref}")
            current, parent = candidate, child
    metric = "rmse" if config.get("task") == "regression" else "accuracy"
    return CompressionReport(rows, versions, metric, spec=spec.to_dict())


def export_onnx(
    model_version: Any,
    *,
    data: Any = None,
    atol: float = 1e-4,
    name: str | None = None,
    optimize: bool = False,
    external_data_threshold: int = 2_000_000_000,
    workspace: Workspace | str | os.PathLike[str] | None = None,
) -> ModelVersion:
    """Export a registered model to ONNX and register it as a child version.

    A preflight names any layer that cannot be exported; the export has a dynamic batch
    axis (``input``/``output``, axis 0) at opset 17; a parity check compares ONNX Runtime
    with torch on a held-out batch of the test split (max absolute difference and argmax
    agreement). Only then is a child version registered, holding the parent's
    ``weights.safetensors``, its ``model.json`` (with an ``onnx`` entry: opset, axes,
    parity) and ``model.onnx``, each stored by sha256.

    Parameters
    ----------
    model_version
        A :class:`~aimass_lab.registry.ModelVersion` or a ref (``"digits-mlp:1"``).
    data
        The data of the parity batch (default: the model's, from its ``model.json``).
    atol
        The largest absolute difference accepted between torch and ONNX Runtime outputs.
    name
        Registry name of the exported version (default: the model's name).
    optimize
        Pretrained Transformers models: apply ONNX Runtime's transformer graph
        optimisations (``bert``, ``vit``... from the model's ``model_type``) before the parity
        check.
    external_data_threshold
        A model over this many bytes keeps its tensors in ``model.onnx.data`` beside
        ``model.onnx`` (an ONNX file cannot exceed 2 GiB).
    workspace
        The workspace (default: the model version's, else the current one).

    Returns
    -------
    ModelVersion
        The new version; ``mv.files()["model.onnx"]`` is the ONNX file.

    Raises
    ------
    AimassError
        When ``optimize`` does not apply to the model (not a pretrained model, or a
        ``model_type`` ONNX Runtime does not optimise); nothing is written.
    ExportError
        Naming the layer that cannot be exported.
    ParityError
        With the parity report; nothing is registered.
    """
    from aimass_lab import registry

    mv, ws = _version_and_workspace(model_version, workspace)
    config = mv.config
    if optimize:
        ort_model_type(config)
    dataset = _load_data(data, config, mv.ref, ws)
    spec = CompressSpec(  # only the tolerances and the threshold are used
        methods=["prune:0.5"], parity_atol=atol, external_data_threshold=external_data_threshold
    )
    candidate = baseline(mv)
    x_parity = np.asarray(dataset.take(held_out_part(dataset, mv.ref), PARITY_ROWS)[0])
    with tempfile.TemporaryDirectory(prefix="aimass-export-") as tmp_name:
        folder = Path(tmp_name) / "model"
        _, info = export_checked(
            candidate, folder, x_parity, spec, f"the export of {mv.ref}", optimize=optimize
        )
        for filename, path in mv.files().items():  # the weights (all shards), adapters...
            if filename not in ("model.json", "model.onnx", "model.onnx.data"):
                shutil.copyfile(path, folder / filename)
        new_config = {**config, "onnx": info, "run_id": config.get("run_id")}
        (folder / "model.json").write_text(json.dumps(new_config, default=str), encoding="utf-8")
        return registry.register(
            folder,
            name or mv.name,
            parent=mv,
            lineage={"export": info, "source": "export", "folder": None},
            description=f"ONNX export of {mv.ref}",
            workspace=ws,
        )
