"""Fine-tuning modes of a pretrained model: freeze the backbone, unfreeze the top blocks, LoRA."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from aimass_lab.errors import AimassError, SpecError

__all__ = ["apply_finetune", "linear_names", "lora_target_names"]


def _blocks(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The longest ``ModuleList`` of the model: its stack of Transformer blocks."""
    best: tuple[str, nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and (best is None or len(module) > len(best[1])):
            best = (name, module)
    if best is None:
        raise AimassError(f"{type(model).__name__} has no stack of layers to unfreeze")
    return best


def linear_names(model: nn.Module) -> list[str]:
    """The distinct last names of the ``nn.Linear`` modules (what LoRA can target)."""
    return sorted(
        {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    )


#: Attention projections LoRA targets by default ("auto"), by naming convention: the query
#: and value projections (the LoRA paper's choice), or a fused query-key-value projection.
_AUTO_TARGETS: tuple[tuple[str, ...], ...] = (
    ("query", "value"),
    ("q_proj", "v_proj"),
    ("q_lin", "v_lin"),
    ("qkv",),
    ("c_attn",),
    ("Wqkv",),
    ("query_key_value",),
)


def lora_target_names(model: nn.Module, targets: str, head: str) -> list[str] | None:
    """``lora_targets`` as a list for peft; for ``"auto"`` the model's query and value
    projections (``None`` when no known name is found: peft's own choice by model type).

    Raises
    ------
    SpecError
        When a named module is not a Linear layer of the model, listing those that are.
    """
    known = [n for n in linear_names(model) if n != head]
    if targets.strip() in ("", "auto"):
        for names in _AUTO_TARGETS:
            if all(n in known for n in names):
                return list(names)
        return None
    wanted = [t.strip() for t in targets.split(",") if t.strip()]
    missing = [t for t in wanted if t not in known]
    if missing:
        raise SpecError(
            "ModelSpec",
            [
                {
                    "field": "hparams.lora_targets",
                    "value": targets,
                    "message": f"{type(model).__name__} has no Linear module named "
                    f"{', '.join(repr(m) for m in missing)}; accepted (comma-separated): "
                    f"{', '.join(known)}, or 'auto'",
                }
            ],
        )
    return wanted


def apply_finetune(
    model: nn.Module, hp: Mapping[str, Any], head: str
) -> tuple[nn.Module, dict[str, Any] | None]:
    """Freeze / unfreeze as ``hp["finetune"]`` says, or wrap in LoRA; the LoRA record."""
    from aimass_lab.models._finetune import quiet_transformers

    mode = hp["finetune"]
    if hp.get("gradient_checkpointing"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})  # type: ignore[operator]
    if mode == "full":
        return model, None
    if mode == "lora":
        from peft import LoraConfig, get_peft_model

        targets = lora_target_names(model, str(hp["lora_targets"]), head)
        config = LoraConfig(
            r=int(hp["lora_rank"]),
            lora_alpha=float(hp["lora_alpha"]),
            lora_dropout=float(hp["lora_dropout"]),
            target_modules=targets,
            modules_to_save=[head],
        )
        try:
            with quiet_transformers():
                wrapped = get_peft_model(model, config)
        except ValueError as exc:
            raise SpecError(
                "ModelSpec",
                [
                    {
                        "field": "hparams.lora_targets",
                        "value": hp["lora_targets"],
                        "message": f"{str(exc)[:200]}; accepted (comma-separated): "
                        f"{', '.join(n for n in linear_names(model) if n != head)}",
                    }
                ],
            ) from None
        record = {
            "rank": int(hp["lora_rank"]),
            "alpha": float(hp["lora_alpha"]),
            "dropout": float(hp["lora_dropout"]),
            "targets": sorted(wrapped.peft_config["default"].target_modules),
            "merged": False,
        }
        return wrapped, record
    for param in model.parameters():
        param.requires_grad = False
    names = [name for name, _ in model.named_parameters()]
    trainable: set[str] = {n for n in names if head in n.split(".")}
    if mode == "top" and int(hp["top_layers"]) > 0:
        _, blocks = _blocks(model)
        top = blocks[-min(int(hp["top_layers"]), len(blocks)) :]
        first = {id(p) for p in top[0].parameters()}
        # The top blocks and everything above them (final norm, pooler, head).
        after = False
        for name, param in model.named_parameters():
            after = after or id(param) in first
            if after:
                trainable.add(name)
    for name, param in model.named_parameters():
        param.requires_grad = name in trainable
    return model, None
