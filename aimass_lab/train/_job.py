"""What a training job does inside its process: data, model, Trainer, fit, test, outputs."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from aimass_lab._io import atomic_write_json, remove_stale_temp_files
from aimass_lab.errors import CheckpointError
from aimass_lab.specs import TrainSpec

__all__ = ["check_checkpoint", "execute", "run"]

CHECKPOINT_DIR = "checkpoints"
MODEL_DIR = "model"


def check_checkpoint(path: Path) -> None:
    """Raise :class:`CheckpointError` unless ``path`` is a loadable checkpoint (no pickle code runs)."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "delete it to train from the start, or resume from another run"
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "global_step" not in ckpt:
        raise CheckpointError(
            f"checkpoint {path} is not a Lightning checkpoint (no state_dict/global_step)"
        )


def quiet_lightning() -> None:
    import logging

    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*The number of training batches.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")


def execute(
    ctx: Any, network: Any = None, callbacks: Sequence[Any] = (), dataset: Any = None
) -> dict[str, Any]:
    """Train as ``ctx.spec`` says; write checkpoints, metrics, TensorBoard events and the model.

    Parameters
    ----------
    ctx
        A :class:`~aimass_lab.workspace.JobContext` (or the in-process equivalent).
    network
        A user's ``nn.Module`` or ``LightningModule`` to train instead of building one
        from the model spec.
    callbacks
        More Lightning callbacks (a search's pruning callback, for instance).
    dataset
        The loaded :class:`~aimass_lab.data.Dataset` of ``spec.data``, when the caller has it
        already (a search worker loads it once for all its trials); it must be that dataset.

    Returns
    -------
    dict
        The result recorded with the job: global step, epochs, metrics.
    """
    import lightning.pytorch as pl

    from aimass_lab import data as data_stage
    from aimass_lab.models import TaskModule, build_network

    quiet_lightning()
    spec = TrainSpec.from_dict(ctx.spec)
    run_dir: Path = ctx.run_dir
    last_ckpt = run_dir / CHECKPOINT_DIR / "last.ckpt"

    pl.seed_everything(spec.seed, workers=True, verbose=False)
    if dataset is None:
        dataset = data_stage.load(spec.data, workspace=ctx.workspace)
    if network is None:
        network = build_network(
            spec.model,
            tuple(dataset.input_shape),
            int(dataset.output_dim),
            **network_inputs(dataset),
            **pretrained_inputs(spec, dataset),
        )
    if isinstance(network, pl.LightningModule):
        module = network
    else:
        module = TaskModule(
            network,
            task="regression" if dataset.task == "regression" else "classification",
            output_dim=int(dataset.output_dim),
            lr=spec.lr,
            weight_decay=spec.weight_decay,
            optimizer=spec.optimizer,
            target_stats=dataset.target_stats,
            warmup_steps=spec.warmup_steps,
            lr_schedule=spec.lr_schedule,
            lr_gamma=spec.lr_gamma,
            lr_step_epochs=spec.lr_step_epochs,
            lr_patience=spec.lr_patience,
        )
    datamodule = dataset.datamodule(batch_size=spec.batch_size, seed=spec.seed)
    trainer = _trainer(spec, run_dir, _callbacks(ctx, spec, last_ckpt, callbacks))

    _remove_stale_saves(last_ckpt.parent)
    ckpt_path = None
    if last_ckpt.exists():
        check_checkpoint(last_ckpt)
        ckpt_path = str(last_ckpt)
        print(f"[aimass] resuming from {last_ckpt}", flush=True)

    with _in_loop(ctx):
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    if ctx.stop_requested.is_set():
        return {"global_step": int(trainer.global_step), "epochs": int(trainer.current_epoch)}
    trainer.save_checkpoint(last_ckpt)  # the final state, whatever the interval

    # The last epoch's metrics (val_*, train_loss_epoch), read before testing replaces them.
    metrics = {
        ("train_loss_epoch" if k == "train_loss" else k): float(v)
        for k, v in trainer.callback_metrics.items()
        if not k.endswith("_step") and k != "lr"
    }
    with _in_loop(ctx):
        test_results = trainer.test(module, datamodule=datamodule, verbose=False)
    if test_results:
        metrics.update({k: float(v) for k, v in test_results[0].items()})
    result = {
        "global_step": int(trainer.global_step),
        "epochs": int(trainer.current_epoch),
        "world_size": int(trainer.world_size),
        "metrics": metrics,
    }
    if ctx.primary:
        inner = module.network if isinstance(module, TaskModule) else module
        write_model(run_dir / MODEL_DIR, inner, spec, dataset, metrics, ctx.job.id)
        ctx.set_result(result)
    return result


def network_inputs(dataset: Any) -> dict[str, Any]:
    """What :func:`~aimass_lab.models.build_network` needs beyond shapes: text vocabulary."""
    if getattr(dataset, "input_kind", None) != "text":
        return {}
    return {"input_kind": "text", "vocab_size": dataset.vocab_size, "pad_id": dataset.pad_id}


def class_counts(dataset: Any) -> dict[str, int] | None:
    """Rows of each class among the training labels (classification; ``None`` otherwise):
    what the ``alerts`` watcher compares a deployment's predicted classes with (drift)."""
    classes = getattr(dataset, "classes", None)
    if dataset.task != "classification" or not classes:
        return None
    import numpy as np

    y = np.asarray(dataset.y_train).astype(np.int64).ravel()
    y = y[(y >= 0) & (y < len(classes))]
    counts = np.bincount(y, minlength=len(classes))
    names = json.loads(json.dumps(list(classes), default=str))
    return {str(c): int(n) for c, n in zip(names, counts.tolist(), strict=True)}


def pretrained_inputs(spec: TrainSpec, dataset: Any) -> dict[str, Any]:
    """What a pretrained network needs from the dataset: its image normalisation and classes."""
    if spec.model.family != "pretrained":
        return {}
    out: dict[str, Any] = {
        "classes": list(dataset.classes) if dataset.classes is not None else None
    }
    if dataset.input_kind == "image":
        state = dataset.preprocessor.state_dict()
        out["input_norm"] = (float(state["mean"]), float(state["std"]))
    return out


@contextlib.contextmanager
def _in_loop(ctx: Any) -> Iterator[None]:
    """While Lightning runs, SIGTERM asks it to stop (GracefulStop) instead of raising."""
    ctx.in_loop = True
    try:
        yield
    finally:
        ctx.in_loop = False


def _remove_stale_saves(folder: Path) -> None:
    """Delete the temp files of checkpoint saves killed before their rename (an earlier
    attempt of this run killed with ``kill -9``), and say so in the job's log."""
    removed = remove_stale_temp_files(folder)
    if removed:
        size = sum(r["bytes"] for r in removed) / 1e6
        names = ", ".join(Path(r["path"]).name for r in removed)
        print(
            f"[aimass] removed {len(removed)} stale temp file(s) of interrupted checkpoint "
            f"saves ({size:.1f} MB): {names}",
            flush=True,
        )


def _callbacks(ctx: Any, spec: TrainSpec, last_ckpt: Path, extra: Sequence[Any]) -> list[Any]:
    """Checkpointing, graceful stop, the extra callbacks, metrics and early stopping."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from aimass_lab.train._callbacks import (
        GracefulStop,
        IntervalCheckpoint,
        LogLines,
        MetricsRecorder,
    )

    # last.ckpt: written at most every checkpoint_interval_s seconds while training (a save
    # costs tens of ms with its fsyncs, too much for every short epoch) and then at most 2%
    # of training time (a large model's save takes seconds), when the job is cancelled
    # (GracefulStop) and at the end of fit.
    where: dict[str, Any] = {
        "dirpath": last_ckpt.parent,
        "filename": last_ckpt.stem,
        "save_top_k": 1,
        "enable_version_counter": False,
    }
    checkpointing: Any
    if spec.checkpoint_interval_s > 0:
        checkpointing = IntervalCheckpoint(spec.checkpoint_interval_s, **where)
    else:
        checkpointing = ModelCheckpoint(every_n_epochs=1, **where)
    callbacks: list[Any] = [checkpointing, GracefulStop(last_ckpt, ctx.stop_requested), *extra]
    if ctx.primary:
        callbacks.append(MetricsRecorder(ctx.workspace, ctx.job.id, on_progress=ctx.set_progress))
        if not ctx.job.result.get("in_process"):  # a job process: its stdout is its log
            callbacks.append(LogLines())
    if spec.early_stopping:
        es = spec.early_stopping
        callbacks.append(
            EarlyStopping(
                monitor=es.monitor, patience=es.patience, mode=es.mode, min_delta=es.min_delta
            )
        )
    return callbacks


def _trainer(spec: TrainSpec, run_dir: Path, callbacks: list[Any]) -> Any:
    """The Lightning Trainer of a spec: devices, strategy, precision, logging, checkpoint IO."""
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import TensorBoardLogger

    from aimass_lab.train._callbacks import AtomicCheckpointIO

    return pl.Trainer(
        max_epochs=spec.max_epochs,
        accelerator=spec.accelerator,
        devices=spec.devices,
        strategy=spec.strategy,
        num_nodes=spec.num_nodes,
        precision=spec.precision,  # type: ignore[arg-type]
        deterministic=spec.deterministic,
        callbacks=callbacks,
        logger=TensorBoardLogger(
            str(run_dir), name="tensorboard", version="", default_hp_metric=False
        ),
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(run_dir),
        enable_progress_bar=False,
        enable_model_summary=False,
        # The store records every step's loss; TensorBoard gets every 50th step (a flush per
        # logged step costs ~2 ms).
        log_every_n_steps=50,
        limit_train_batches=spec.limit_train_batches,
        accumulate_grad_batches=spec.accumulate_grad_batches,
        gradient_clip_val=spec.gradient_clip_val,
        gradient_clip_algorithm=spec.gradient_clip_algorithm,
        max_steps=spec.max_steps or -1,
    )


def _schedule_hparams(spec: TrainSpec) -> dict[str, Any]:
    """The schedule's and the step's settings that apply to this run (recorded in model.json)."""
    out: dict[str, Any] = {}
    if spec.lr_schedule in ("step", "plateau"):
        out["lr_gamma"] = spec.lr_gamma
    if spec.lr_schedule == "step":
        out["lr_step_epochs"] = spec.lr_step_epochs
    if spec.lr_schedule == "plateau":
        out["lr_patience"] = spec.lr_patience
    if spec.gradient_clip_val is not None:
        out["gradient_clip_val"] = spec.gradient_clip_val
        out["gradient_clip_algorithm"] = spec.gradient_clip_algorithm
    if spec.max_steps is not None:
        out["max_steps"] = spec.max_steps
    return out


def write_model(
    folder: Path,
    network: Any,
    spec: TrainSpec,
    dataset: Any,
    metrics: dict[str, float],
    run_id: str,
) -> None:
    """Write ``weights.safetensors`` (sharded when large) and ``model.json``: what the
    registry takes. A pretrained network also records its config (``pretrained``); with LoRA
    its adapter is written apart (``adapter.safetensors``) and the weights are merged unless
    ``lora_merge`` is false."""
    from aimass_lab.models import save_weights

    extra: dict[str, Any] = {}
    describe = getattr(network, "describe", None)
    if callable(describe):
        adapter = network.adapter_state()
        if adapter:
            save_weights(adapter, folder, stem="adapter")
        if describe().get("lora_merge", True):
            network = network.merged()
        extra["pretrained"] = network.describe()
    names = save_weights(network.state_dict(), folder)
    if len(names) > 1:
        extra["weight_files"] = names
    hparams = {
        **spec.model.resolved_hparams(),
        "lr": spec.lr,
        "batch_size": spec.batch_size,
        "weight_decay": spec.weight_decay,
        "optimizer": spec.optimizer,
        "max_epochs": spec.max_epochs,
        "accumulate_grad_batches": spec.accumulate_grad_batches,
        "warmup_steps": spec.warmup_steps,
        "lr_schedule": spec.lr_schedule,
        **_schedule_hparams(spec),
        "seed": spec.seed,
    }
    atomic_write_json(
        folder / "model.json",
        {
            "model_spec": spec.model.to_dict(),
            "hparams": hparams,
            "task": dataset.task,
            "input_shape": [int(s) for s in dataset.input_shape],
            "input_kind": dataset.input_kind,
            **{k: v for k, v in network_inputs(dataset).items() if k != "input_kind"},
            "output_dim": int(dataset.output_dim),
            "classes": json.loads(json.dumps(dataset.classes, default=str))
            if dataset.classes is not None
            else None,
            "feature_names": list(dataset.feature_names)
            if dataset.feature_names is not None
            else None,
            "target_stats": dataset.target_stats,
            "class_counts": class_counts(dataset),
            "preprocess": dataset.preprocessor.state_dict(),
            "data_spec": spec.data.to_dict(),
            "data_fingerprint": dataset.fingerprint,
            "metrics": metrics,
            "run_id": run_id,
            **extra,
        },
    )


def run(ctx: Any) -> None:
    """Entry point of a ``train`` job (registered with :func:`aimass_lab.workspace.register_job_kind`)."""
    os.environ.setdefault("PL_DISABLE_FORK", "1")
    execute(ctx)
