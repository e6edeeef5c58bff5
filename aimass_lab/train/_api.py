"""``aimass_lab.train``: the notebook front door of the train stage."""

from __future__ import annotations

import os
import threading
from typing import Any

from aimass_lab.errors import DeviceError, SpecError, accepted
from aimass_lab.specs import EarlyStoppingSpec, ModelSpec, TrainSpec, split_hparams
from aimass_lab.train._run import Run
from aimass_lab.workspace import Workspace, resolve_workspace

__all__ = ["build_train_spec", "check_pretrained", "fit_to_pretrained", "preflight", "train"]


def build_train_spec(
    data: Any,
    model: Any = "mlp",
    *,
    hparams: dict[str, Any] | None = None,
    workspace: Workspace | None = None,
    early_stopping: bool | dict[str, Any] | EarlyStoppingSpec | None = None,
    **fields: Any,
) -> TrainSpec:
    """Turn front-door arguments into a validated :class:`TrainSpec`.

    ``hparams`` mixes model hyperparameters and training ones (``lr``, ``batch_size``,
    ``weight_decay``, ``optimizer``, ``max_epochs``, ``seed``); they are routed to the right
    place. A training one also given as its own argument must have the same value there
    (``max_epochs=5, hparams={"max_epochs": 3}`` is a :class:`SpecError`).
    """
    from aimass_lab.data import resolve_spec

    train_hp, model_hp = split_hparams(hparams, fields)
    data_spec = resolve_spec(data, workspace=workspace)
    if isinstance(model, ModelSpec):
        model_spec = (
            model.model_copy(update={"hparams": {**model.hparams, **model_hp}})
            if model_hp
            else model
        )
        model_spec = ModelSpec.from_dict(model_spec.to_dict())
    elif isinstance(model, dict):
        model_spec = ModelSpec.from_dict(
            {**model, "hparams": {**model.get("hparams", {}), **model_hp}}
        )
    elif isinstance(model, str):
        if ":" in model:
            model_spec = ModelSpec(family="custom", target=model, hparams=model_hp)
        else:
            model_spec = ModelSpec(family=model, hparams=model_hp)
    else:
        raise SpecError(
            "TrainSpec",
            [
                {
                    "field": "model",
                    "value": type(model).__name__,
                    "message": "expected a zoo name, 'package.module:Class', a ModelSpec, a dict, or an nn.Module",
                }
            ],
        )
    if model_spec.path and not os.path.isabs(model_spec.path):
        # a job runs in the workspace folder: a relative model folder is the caller's
        model_spec = model_spec.model_copy(
            update={"path": os.path.abspath(os.path.expanduser(model_spec.path))}
        )
    if early_stopping is True:
        early_stopping = EarlyStoppingSpec()
    elif early_stopping is False:
        early_stopping = None
    payload = {k: v for k, v in {**fields, **train_hp}.items() if v is not None}
    spec = TrainSpec.from_dict(
        {"data": data_spec, "model": model_spec, "early_stopping": early_stopping, **payload}
    )
    return fit_to_pretrained(spec)


def check_pretrained(spec: TrainSpec, input_kind: str | None = None) -> Any:
    """The :class:`~aimass_lab.models.PretrainedInfo` of a pretrained model's folder, read
    before the data (whose tokenizer is that folder); a folder that is not a model, or a
    model of another kind than the data (text data: known from the spec; else
    ``input_kind``, the loaded dataset's), gives a SpecError on ``model.path`` naming what
    is wrong and what is accepted. ``None`` for other families."""
    if spec.model.family != "pretrained":
        return None
    from aimass_lab.errors import AimassError
    from aimass_lab.models import inspect_pretrained

    try:
        info = inspect_pretrained(str(spec.model.path))
    except AimassError as exc:
        raise SpecError(
            "ModelSpec", [{"field": "path", "value": spec.model.path, "message": str(exc)}]
        ) from None
    kind = "text" if spec.data.text_column else input_kind
    if kind in ("text", "image") and kind != info.kind:
        _wrong_kind(spec, info, str(kind))
    return info


def fit_to_pretrained(spec: TrainSpec) -> TrainSpec:
    """A pretrained text model's data read up to the model's longest input: a tokenizer
    ``max_length`` left at its default is lowered to ``max_position_embeddings`` (one given
    explicitly is checked when the model is built, and refused with what is accepted)."""
    tokenizer = spec.data.tokenizer
    if spec.model.family != "pretrained" or not spec.data.text_column:
        return spec
    if "max_length" in tokenizer.model_fields_set:
        return spec
    info = check_pretrained(spec)
    if info is None or not info.max_length or tokenizer.max_length <= info.max_length:
        return spec
    data = spec.data.model_copy(
        update={"tokenizer": tokenizer.model_copy(update={"max_length": info.max_length})}
    )
    return TrainSpec.from_dict({**spec.to_dict(), "data": data.to_dict()})


def _wrong_kind(spec: TrainSpec, info: Any, data_kind: str) -> None:
    article = "an" if info.kind == "image" else "a"
    raise SpecError(
        "ModelSpec",
        [
            {
                "field": "path",
                "value": spec.model.path,
                "message": f"the {info.model_type} model at this path is {article} {info.kind} model "
                f"but dataset {spec.data.label!r} is {data_kind}; accepted: a {data_kind} "
                "model folder",
            }
        ],
    )


def preflight(spec: TrainSpec, dataset: Any | None = None) -> None:
    """Check what can be checked before a job starts: devices, model vs data, monitored metric."""
    import torch

    devices = spec.devices
    count = (
        devices if isinstance(devices, int) else len(devices) if isinstance(devices, list) else None
    )
    gpus = torch.cuda.device_count()
    if spec.accelerator in ("gpu", "cuda"):
        if gpus == 0:
            raise DeviceError(
                f"accelerator={spec.accelerator!r} but no CUDA GPU is visible on this machine; "
                "accepted here: accelerator='cpu' or 'auto'"
            )
        wanted = gpus if count == -1 else count
        if wanted is not None and wanted > gpus:
            raise DeviceError(
                f"devices={devices!r} asks for {wanted} GPUs but this machine has {gpus}; accepted: 1..{gpus}, -1 or 'auto'"
            )
        if isinstance(devices, list) and max(devices) >= gpus:
            raise DeviceError(
                f"devices={devices!r} names GPU {max(devices)}; this machine has GPUs 0..{gpus - 1}"
            )
    elif spec.accelerator == "cpu" or (spec.accelerator == "auto" and gpus == 0):
        cores = os.cpu_count() or 1
        if isinstance(devices, list):
            raise DeviceError(
                "a device list names GPUs; on CPU give a process count, e.g. devices=2"
            )
        if count is not None and count > cores:
            raise DeviceError(
                f"devices={devices!r} asks for {count} CPU processes but this machine has {cores} cores; "
                f"accepted: 1..{cores}, -1 or 'auto'"
            )
    on_cpu = spec.accelerator == "cpu" or (spec.accelerator == "auto" and gpus == 0)
    if on_cpu and spec.strategy in ("fsdp", "deepspeed"):
        raise DeviceError(
            f"strategy={spec.strategy!r} shards a model across GPUs and needs CUDA GPUs; this run "
            "is on CPU. Accepted on CPU: strategy 'auto', 'ddp' or 'ddp_spawn'; to fit a large "
            "model in memory here use model hparams finetune='lora' or 'head', "
            "gradient_checkpointing=True and precision='bf16-mixed'"
        )
    if spec.strategy == "deepspeed":
        import importlib.util

        if importlib.util.find_spec("deepspeed") is None:
            raise DeviceError(
                "strategy='deepspeed' needs the deepspeed package (pip install deepspeed on a "
                "GPU machine); accepted without it: 'fsdp', 'ddp' or 'auto'"
            )
    if on_cpu and spec.precision in ("16-mixed", "16-true"):
        raise DeviceError(
            f"precision={spec.precision!r} (float16) runs on GPUs; on CPU use 'bf16-mixed' or "
            "'32-true'"
        )
    if dataset is not None and spec.model.family != "custom":
        from aimass_lab.models import check_compatible

        check_compatible(
            spec.model,
            tuple(dataset.input_shape),
            f"dataset {spec.data.label!r}",
            input_kind=dataset.input_kind,
        )
        check_pretrained(spec, dataset.input_kind)
        if spec.early_stopping is not None:
            from aimass_lab.models import metric_names

            logged = ["train_loss_epoch", *metric_names(dataset.task, "val")]
            if spec.early_stopping.monitor not in logged:
                raise SpecError(
                    "TrainSpec",
                    [
                        {
                            "field": "early_stopping.monitor",
                            "value": spec.early_stopping.monitor,
                            "message": f"the model never logs this metric; accepted: {accepted(logged)}",
                        }
                    ],
                )


def train(
    data: Any,
    model: Any = "mlp",
    *,
    hparams: dict[str, Any] | None = None,
    max_epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    devices: int | str | list[int] | None = None,
    accelerator: str | None = None,
    strategy: str | None = None,
    num_nodes: int | None = None,
    precision: str | None = None,
    early_stopping: bool | dict[str, Any] | EarlyStoppingSpec | None = None,
    seed: int | None = None,
    name: str | None = None,
    wait: bool = False,
    progress: bool = False,
    launch: bool = True,
    workspace: Workspace | str | None = None,
    **fields: Any,
) -> Run:
    """Train a model on a dataset as a background job; return its :class:`Run`.

    Parameters
    ----------
    data
        A built-in or registered dataset name, a DataSpec or dict, or a Dataset.
    model
        A zoo name (``"mlp"``, ``"cnn"``, ``"resnet"``, ``"gru"``, ``"lstm"``,
        ``"transformer"``), ``"package.module:Class"``, a ModelSpec or dict — or an
        ``nn.Module``/``LightningModule`` object, which trains inside this process
        (in a background thread) since an object cannot move to another process.
    hparams
        Model and training hyperparameters in one dict (``{"hidden": 128, "lr": 1e-3}``).
        A training one also given as its own argument (``max_epochs=5``) must have the same
        value there, else :class:`~aimass_lab.errors.SpecError`.
    max_epochs, batch_size, lr, seed
        Training settings (defaults in :class:`~aimass_lab.specs.TrainSpec`).
    devices, accelerator, strategy, num_nodes, precision
        Passed to Lightning's ``Trainer``: ``devices=2, accelerator="cpu", strategy="ddp"``
        runs two processes; on GPUs ``accelerator="gpu", devices=N``; several machines
        with ``num_nodes`` under torchrun or SLURM.
    early_stopping
        ``True`` for val_loss with patience 3, or ``{"monitor": "val_acc", "mode": "max"}``.
    wait
        Block until the run ends.
    progress
        With ``wait``, show a progress bar.
    launch
        ``False`` records the job as queued without starting it, for a cluster launcher
        (torchrun, SLURM) to start ``python -m aimass_lab.runjob WORKSPACE JOB_ID``
        on every node.
    workspace
        The workspace (default: the current one).
    **fields
        Any other :class:`~aimass_lab.specs.TrainSpec` field.

    Returns
    -------
    Run
        The run handle: ``status``, ``metrics``, ``wait()``, ``cancel()``, ``resume()``,
        ``logs()``, ``model()``, ``register()``.
    """
    ws = resolve_workspace(workspace)
    network = None
    model_arg: Any = model
    if not isinstance(model, str | dict | ModelSpec):
        import torch

        if not isinstance(model, torch.nn.Module):
            raise SpecError(
                "TrainSpec",
                [
                    {
                        "field": "model",
                        "value": type(model).__name__,
                        "message": "expected a zoo name, 'package.module:Class', a ModelSpec, a dict, or an nn.Module",
                    }
                ],
            )
        network = model
        cls = type(model)
        model_arg = ModelSpec(family="custom", target=f"{cls.__module__}:{cls.__qualname__}")
    spec = build_train_spec(
        data,
        model_arg,
        hparams=hparams,
        workspace=ws,
        early_stopping=early_stopping,
        max_epochs=max_epochs,
        batch_size=batch_size,
        lr=lr,
        devices=devices,
        accelerator=accelerator,
        strategy=strategy,
        num_nodes=num_nodes,
        precision=precision,
        seed=seed,
        name=name,
        **fields,
    )
    check_pretrained(spec)
    from aimass_lab import data as data_stage

    dataset = data_stage.load(spec.data, workspace=ws)
    preflight(spec, dataset)
    if network is None:
        job = ws.jobs.create("train", spec.to_dict(), name=spec.name)
        if launch:
            ws.jobs.launch(job.id)
        run = Run(job.id, ws)
    else:
        run = _train_in_process(ws, spec, network, wait=wait)
    if wait and (launch or network is not None):
        run.wait(progress=progress)
    return run


def _train_in_process(ws: Workspace, spec: TrainSpec, network: Any, wait: bool) -> Run:
    """Train a model object inside this process, recorded as a job like any other."""
    from aimass_lab.train._job import execute
    from aimass_lab.workspace import IN_PROCESS, execute_job, start_job

    job = ws.jobs.create("train", spec.to_dict(), name=spec.name)
    ctx = start_job(ws, job.id)
    ctx.set_result({"in_process": True})
    ctx.job = ws.jobs.get(job.id)
    IN_PROCESS[job.id] = ctx

    def target() -> None:
        try:
            execute_job(ctx, lambda c: execute(c, network=network))
        finally:
            IN_PROCESS.pop(job.id, None)

    if wait:
        target()
    else:
        threading.Thread(target=target, name=f"aimass-train-{job.id}", daemon=True).start()
    return Run(job.id, ws)
