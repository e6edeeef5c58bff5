"""``aimass train``: a training as a background job."""

from __future__ import annotations

from typing import Any

import click

from aimass_lab.cli._options import (
    config_option,
    field_option,
    given,
    images_option,
    json_option,
    parse_sets,
    sets_option,
)
from aimass_lab.cli._output import emit_json, show_run, wait_for_run
from aimass_lab.cli._root import cli, workspace_of
from aimass_lab.specs import TrainSpec

__all__ = ["pretrained_model", "train", "training_args"]


def training_args(
    ws: Any,
    base: dict[str, Any],
    data: str | None,
    model: str | None,
    images: bool,
    hparams: dict[str, Any],
) -> tuple[Any, Any, dict[str, Any]]:
    """The data and model of a training (the flags over the spec's fields ``base``), and the
    other fields of ``base`` less the training ones that ``--set`` (``hparams``) gives anew."""
    from aimass_lab.specs import TRAIN_HPARAMS

    data_arg: Any = data if data is not None else base.get("data")
    if images:
        from aimass_lab.data import resolve_spec

        data_arg = resolve_spec(data_arg, workspace=ws).model_copy(update={"as_images": True})
    model_arg: Any = model if model is not None else base.get("model", "mlp")
    dropped = {"data", "model", *(k for k in hparams if k in TRAIN_HPARAMS)}
    fields = {k: v for k, v in base.items() if k not in dropped}
    return data_arg, model_arg, fields


def pretrained_model(ws: Any, model: str | None, pretrained: str) -> dict[str, Any]:
    """The model of ``--pretrained PATH|NAME``: a pretrained ModelSpec (as a dict) of the
    folder, checked to be a model folder first (else a usage error, exit code 2)."""
    from aimass_lab.cli._models import resolve_pretrained
    from aimass_lab.models import models_dir

    if model not in (None, "pretrained"):
        raise click.UsageError(f"--pretrained fine-tunes a pretrained model; drop --model {model}")
    info = resolve_pretrained(pretrained, "--pretrained", models_dir(ws.path))
    return {"family": "pretrained", "path": info.path}


@cli.command()
@click.option("--data", "-d", help="Built-in or registered dataset name.")
@click.option(
    "--model",
    "-m",
    help="Zoo model (mlp, cnn, resnet, gru, lstm, transformer, text_transformer) or "
    "package.module:Class.",
)
@click.option(
    "--pretrained",
    metavar="PATH|NAME",
    help="Fine-tune a local pretrained Transformers model: its folder (config.json + "
    "safetensors), or the name of one listed by 'aimass models pretrained'; choose how with "
    "--set finetune=full|head|top|lora (and top_layers, lora_rank, lora_alpha, lora_dropout, "
    "lora_targets, lora_merge, gradient_checkpointing, backbone_lr_scale).",
)
@sets_option("A model or training hyperparameter (repeatable): --set hidden=128 --set lr=0.001.")
@field_option(TrainSpec, "max_epochs", "--epochs", help="max_epochs")
@field_option(TrainSpec, "batch_size", "--batch-size")
@field_option(TrainSpec, "lr", "--lr")
@field_option(TrainSpec, "warmup_steps", "--warmup-steps")
@field_option(TrainSpec, "lr_schedule", "--lr-schedule")
@field_option(TrainSpec, "accumulate_grad_batches", "--accumulate-grad-batches")
@field_option(TrainSpec, "gradient_clip_val", "--gradient-clip-val")
@field_option(TrainSpec, "max_steps", "--max-steps")
@field_option(
    TrainSpec,
    "devices",
    "--devices",
    help="'auto', a count, -1 for all, or a comma list of GPU indices",
)
@field_option(TrainSpec, "accelerator", "--accelerator")
@field_option(TrainSpec, "strategy", "--strategy")
@field_option(TrainSpec, "num_nodes", "--num-nodes", help="Machines, under torchrun or SLURM")
@field_option(TrainSpec, "precision", "--precision")
@field_option(TrainSpec, "seed", "--seed")
@click.option("--early-stopping", "early", is_flag=True, help="Stop when val_loss stops improving.")
@images_option
@field_option(TrainSpec, "name", "--name")
@config_option("TrainSpec")
@click.option(
    "--wait",
    is_flag=True,
    help="Wait for the run to end: a progress bar on a terminal, the job's log lines when the "
    "output goes to a file or a pipe.",
)
@click.option(
    "--no-launch",
    is_flag=True,
    help="Only record the job (queued), for torchrun/SLURM to start on every node.",
)
@json_option
@click.pass_context
def train(
    ctx: click.Context,
    data: str | None,
    model: str | None,
    pretrained: str | None,
    sets: tuple[str, ...],
    early: bool,
    images: bool,
    config: str | None,
    wait: bool,
    no_launch: bool,
    as_json: bool,
    **flags: Any,
) -> None:
    """Train a model as a background job.

    \b
    aimass train --data digits --model mlp --set hidden=128 --set lr=0.001 --epochs 5 --wait
    aimass train --data digits --model mlp --devices 2 --accelerator cpu --strategy ddp --wait
    aimass train --config train.yaml --epochs 20
    aimass train --data reviews --pretrained bert-small --set finetune=lora --set lora_rank=8 \\
        --warmup-steps 20 --lr-schedule linear --accumulate-grad-batches 4
    """
    from aimass_lab.train import train as train_fn

    ws = workspace_of(ctx)
    base: dict[str, Any] = TrainSpec.from_yaml(config).to_dict() if config else {}
    if data is None and not base:
        raise click.UsageError("give --data NAME or --config FILE")
    hparams = parse_sets(sets)
    data_arg, model_arg, fields = training_args(ws, base, data, model, images, hparams)
    if pretrained is not None:
        model_arg = pretrained_model(ws, model, pretrained)
    overrides = given(flags)
    devices = overrides.get("devices")
    if devices and "," in devices:
        overrides["devices"] = [int(d) for d in devices.split(",")]
    fields.update(overrides)
    if early:
        fields["early_stopping"] = True
    run = train_fn(
        data_arg, model_arg, hparams=hparams, workspace=ws, launch=not no_launch, **fields
    )
    if no_launch:
        if as_json:
            emit_json(run.to_dict())
        else:
            click.echo(
                f"job {run.id} queued; on every node run:\n"
                f"  python -m aimass_lab.runjob {ws.path} {run.id}"
            )
        return
    if wait:
        wait_for_run(run, as_json)
    show_run(run, as_json)
    if wait and run.status != "succeeded":
        ctx.exit(1)
