"""Closed choices of the specs, each as a ``Literal`` type and the tuple of its values.

The ``Literal`` types annotate the spec fields (so type checkers and JSON schemas know the
values); the tuples are what error messages, the CLI and the widgets list. Aliases map
accepted shorthands to the canonical value.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "COMPRESS_METHODS",
    "DEPLOY_ENGINES",
    "DISTRIBUTIONS",
    "LR_SCHEDULES",
    "MEASURED_OBJECTIVES",
    "METHOD_ALIASES",
    "MODE_ALIASES",
    "PRECISIONS",
    "PRECISION_ALIASES",
    "PRUNERS",
    "PRUNE_KINDS",
    "QUANTIZE_MODES",
    "SAMPLERS",
    "STRATEGIES",
    "TRAIN_HPARAMS",
    "CompressMethod",
    "DeployEngine",
    "Distribution",
    "LrSchedule",
    "Precision",
    "PruneKind",
    "Pruner",
    "QuantizeMode",
    "Sampler",
    "Strategy",
]

# ------------------------------------------------------------------------------------- train
#: Hyperparameters that belong to training rather than to the model; ``--set`` routes them.
TRAIN_HPARAMS: tuple[str, ...] = (
    "lr",
    "batch_size",
    "weight_decay",
    "optimizer",
    "max_epochs",
    "seed",
    "accumulate_grad_batches",
    "warmup_steps",
    "lr_schedule",
    "lr_gamma",
    "lr_step_epochs",
    "lr_patience",
    "gradient_clip_val",
    "max_steps",
)

LrSchedule = Literal["constant", "linear", "cosine", "step", "one_cycle", "plateau"]
#: Learning-rate schedules: after the warm-up flat, linear or cosine decay to 0, x lr_gamma
#: every lr_step_epochs epochs; one-cycle (up to lr over the warm-up, then down); x lr_gamma
#: when val_loss stopped improving for lr_patience epochs.
LR_SCHEDULES: tuple[LrSchedule, ...] = get_args(LrSchedule)

Precision = Literal["64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true"]
#: Lightning precisions.
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
#: Short spellings of precisions.
PRECISION_ALIASES: dict[str, Precision] = {
    "32": "32-true",
    "64": "64-true",
    "16": "16-mixed",
    "bf16": "bf16-mixed",
}

Strategy = Literal[
    "auto",
    "ddp",
    "ddp_spawn",
    "ddp_notebook",
    "ddp_find_unused_parameters_true",
    "fsdp",
    "deepspeed",
    "single_device",
]
#: Lightning strategies.
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)

# ------------------------------------------------------------------------------------ search
Distribution = Literal["int", "float", "categorical"]
#: Distributions a search-space parameter can take.
DISTRIBUTIONS: tuple[Distribution, ...] = get_args(Distribution)

Sampler = Literal["random", "grid", "tpe", "cmaes", "gp", "nsga2", "qmc"]
#: Optuna samplers a search can use.
SAMPLERS: tuple[Sampler, ...] = get_args(Sampler)

Pruner = Literal["none", "median", "percentile", "successive-halving", "hyperband", "wilcoxon"]
#: Optuna pruners a search can use.
PRUNERS: tuple[Pruner, ...] = get_args(Pruner)

#: Objectives measured on the trained model rather than logged during training.
MEASURED_OBJECTIVES: tuple[str, ...] = ("params", "size_kb", "latency_ms")

# ---------------------------------------------------------------------------------- compress
CompressMethod = Literal["prune", "quantize", "distill", "low-rank"]
#: The compression methods a :class:`~aimass_lab.specs.CompressSpec` step can name.
COMPRESS_METHODS: tuple[CompressMethod, ...] = get_args(CompressMethod)
#: Other spellings of compression methods.
METHOD_ALIASES: dict[str, CompressMethod] = {
    "lowrank": "low-rank",
    "low_rank": "low-rank",
    "svd": "low-rank",
}

PruneKind = Literal["unstructured", "structured"]
#: Kinds of pruning: zero the smallest weights, or remove whole neurons.
PRUNE_KINDS: tuple[PruneKind, ...] = get_args(PruneKind)

QuantizeMode = Literal["int8-dynamic", "int8-static"]
#: ONNX Runtime int8 quantisation modes.
QUANTIZE_MODES: tuple[QuantizeMode, ...] = get_args(QuantizeMode)
#: Other spellings of quantisation modes.
MODE_ALIASES: dict[str, QuantizeMode] = {
    "dynamic": "int8-dynamic",
    "int8": "int8-dynamic",
    "static": "int8-static",
    "qdq": "int8-static",
    "int8-qdq": "int8-static",
}

# ------------------------------------------------------------------------------------ deploy
DeployEngine = Literal["auto", "onnxruntime", "torch"]
#: The inference engines a :class:`~aimass_lab.specs.DeploySpec` can ask for.
DEPLOY_ENGINES: tuple[DeployEngine, ...] = get_args(DeployEngine)
