"""Pretrained Transformers models as zoo networks: a new head, fine-tuning modes, LoRA.

:class:`PretrainedClassifier` wraps a ``transformers`` ``...ForSequenceClassification`` or
``...ForImageClassification`` model so that it takes what the data stage gives every zoo
network: ``(B, L)`` token ids padded with the tokenizer's pad id (the attention mask is
computed from it), or ``(B, C, H, W)`` images normalised by the dataset (mapped back to
pixels and normalised as the model's own image processor says). It returns logits.

The ``pretrained`` entry of a ``model.json`` (:meth:`PretrainedClassifier.describe`) holds
the model's config, so a registered version is rebuilt without the original folder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from aimass_lab.errors import AimassError
from aimass_lab.models._freeze import apply_finetune, in_module, wrap_lora
from aimass_lab.models._hf import quiet_transformers
from aimass_lab.models._pretrained import PretrainedInfo, inspect_pretrained
from aimass_lab.specs import ModelSpec

__all__ = ["PretrainedClassifier", "build_pretrained", "pixel_affine", "rebuild_pretrained"]

#: Attribute names of classification heads in Transformers models.
_HEAD_NAMES = ("classifier", "score", "head", "classification_head", "fc", "logits")


def _auto_class(kind: str) -> Any:
    import transformers

    if kind == "image":
        return transformers.AutoModelForImageClassification
    return transformers.AutoModelForSequenceClassification


def _head_name(model: nn.Module) -> str:
    for name in _HEAD_NAMES:
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    raise AimassError(
        f"cannot find the classification head of {type(model).__name__} (looked for "
        f"{', '.join(_HEAD_NAMES)}); accepted: Transformers ...ForSequenceClassification or "
        "...ForImageClassification models"
    )


class PretrainedClassifier(nn.Module):
    """A Transformers classification model taking the data stage's batches.

    Parameters
    ----------
    model
        The Transformers model (possibly wrapped by peft).
    kind
        ``"text"`` or ``"image"``.
    pad_id
        The pad token id (text): ``attention_mask = ids != pad_id``.
    pixel_affine
        ``(scale, shift)`` per channel (image): the model's input is ``x * scale + shift``,
        which undoes the dataset's normalisation and applies the model's own.
    channels
        The model's input channels (a 1-channel dataset is repeated to 3).
    info
        What :meth:`describe` writes into ``model.json``.
    """

    def __init__(
        self,
        model: nn.Module,
        kind: str,
        *,
        pad_id: int = 0,
        pixel_affine: tuple[Sequence[float], Sequence[float]] | None = None,
        channels: int = 3,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.kind = kind
        self.pad_id = int(pad_id)
        self.channels = int(channels)
        self.info = dict(info or {})
        scale, shift = pixel_affine or ([1.0] * self.channels, [0.0] * self.channels)
        self.pixel_scale: torch.Tensor
        self.pixel_shift: torch.Tensor
        self.register_buffer(
            "pixel_scale", torch.tensor(list(scale), dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.register_buffer(
            "pixel_shift", torch.tensor(list(shift), dtype=torch.float32).view(1, -1, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "text":
            ids = x.round().long() if x.is_floating_point() else x.long()
            mask = (ids != self.pad_id).long()
            mask[:, 0] = 1  # a text of padding only still attends to one position
            return self.model(input_ids=ids, attention_mask=mask).logits  # type: ignore[no-any-return]
        if x.shape[1] == 1 and self.channels == 3:
            x = x.expand(-1, 3, -1, -1)
        pixels = x * self.pixel_scale.to(x.dtype) + self.pixel_shift.to(x.dtype)
        if self.info.get("library", "transformers") != "transformers":
            return self.model(pixels)  # type: ignore[no-any-return]  # timm, torchvision
        return self.model(pixel_values=pixels).logits  # type: ignore[no-any-return]

    # -- fine-tuning --------------------------------------------------------------------------
    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """Trainable parameters in two groups: the head at ``lr``, the rest at
        ``lr * backbone_lr_scale``."""
        head = str(self.info.get("head", "classifier"))
        scale = float(self.info.get("backbone_lr_scale", 1.0))
        heads: list[nn.Parameter] = []
        body: list[nn.Parameter] = []
        for name, param in self.model.named_parameters():
            if not param.requires_grad:
                continue
            (heads if in_module(name, head) else body).append(param)
        groups = [{"params": heads, "lr": lr, "name": "head"}]
        if body:
            groups.append({"params": body, "lr": lr * scale, "name": "backbone"})
        return groups

    def merged(self) -> PretrainedClassifier:
        """This network with LoRA adapters merged into the weights (itself when there are none)."""
        if not self.info.get("lora") or not hasattr(self.model, "merge_and_unload"):
            return self
        import copy

        clone = copy.deepcopy(self)
        clone.model = cast(Any, clone.model).merge_and_unload()
        clone.info = {**self.info, "lora": {**self.info["lora"], "merged": True}}
        return clone

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """The LoRA adapter and the head (what peft saves apart), empty without LoRA."""
        if not self.info.get("lora") or self.info["lora"].get("merged"):
            return {}
        from peft import get_peft_model_state_dict

        return {
            k: v.detach().cpu().contiguous()
            for k, v in get_peft_model_state_dict(self.model).items()
        }

    def describe(self) -> dict[str, Any]:
        """The ``pretrained`` entry of ``model.json``: enough to rebuild this network."""
        return dict(self.info)


def _check_text(
    info: PretrainedInfo,
    config: Any,
    input_shape: tuple[int, ...],
    vocab_size: int | None,
    pad_id: int | None,
) -> None:
    model_vocab = int(getattr(config, "vocab_size", 0) or 0)
    if vocab_size is not None and model_vocab and vocab_size > model_vocab:
        raise AimassError(
            f"the tokenizer does not match the model {info.path}: it has {vocab_size} tokens, "
            f"the model's embedding {model_vocab}; accepted: the tokenizer saved with the model "
            "(tokenizer.json beside config.json), or data.tokenizer.path naming one of at most "
            f"{model_vocab} tokens"
        )
    if pad_id is not None and model_vocab and pad_id >= model_vocab:
        raise AimassError(
            f"the tokenizer's pad id {pad_id} is outside the model's vocabulary ({model_vocab}); "
            "the tokenizer has no pad token of the model's: use the tokenizer saved with the model"
        )
    length = int(input_shape[0]) if input_shape else 0
    if info.max_length and length > info.max_length:
        raise AimassError(
            f"data.tokenizer.max_length is {length} but the model {info.path} takes at most "
            f"{info.max_length} tokens (max_position_embeddings); accepted: max_length <= "
            f"{info.max_length}"
        )


def _check_image(info: PretrainedInfo, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 3:
        raise AimassError(
            f"the image model {info.path} takes images (C, H, W); the data gives shape "
            f"{tuple(input_shape)}"
        )
    channels, height, width = (int(v) for v in input_shape)
    if info.image_size and (height, width) != (info.image_size, info.image_size):
        raise AimassError(
            f"the image model {info.path} takes {info.image_size}x{info.image_size} images; the "
            f"data gives {height}x{width}: set data image_size={info.image_size}"
        )
    if channels not in (1, 3):
        raise AimassError(
            f"the image model {info.path} takes 3-channel images; the data gives {channels}"
        )
    return channels


def pixel_affine(
    info: Mapping[str, Any], input_norm: tuple[float, float] | None
) -> tuple[list[float], list[float]]:
    """``x * scale + shift`` = ``((x * std_d + mean_d) - mean_m) / std_m`` per channel."""
    data_mean, data_std = input_norm or (0.0, 1.0)
    means, stds = info["image_mean"], info["image_std"]
    scale = [data_std / s for s in stds]
    shift = [(data_mean - m) / s for m, s in zip(means, stds, strict=True)]
    return scale, shift


def rebuild_pretrained(
    info: dict[str, Any], model: nn.Module | None = None
) -> PretrainedClassifier:
    """The network a ``model.json``'s ``pretrained`` entry describes, without weights.

    ``model`` is the bare architecture (timm, torchvision); by default the Transformers
    model of the recorded config.
    """
    if model is None:
        import transformers

        config = transformers.AutoConfig.for_model(**info["config"])
        model = _auto_class(info["kind"]).from_config(config)
    lora = info.get("lora")
    if lora and not lora.get("merged"):
        model = wrap_lora(model, lora, str(info["head"]))
    affine = (info["pixel_scale"], info["pixel_shift"]) if info["kind"] == "image" else None
    return PretrainedClassifier(
        model,
        info["kind"],
        pad_id=int(info.get("pad_id") or 0),
        pixel_affine=affine,
        channels=int(info.get("channels", 3)),
        info=info,
    )


def _load_folder(found: PretrainedInfo, kind: str, config: Any) -> tuple[nn.Module, str, bool]:
    """The folder's model with a new head: the model, its head's name, whether it is new.

    Raises
    ------
    AimassError
        When the weights cannot be read or do not match the config outside the head.
    """
    try:
        with quiet_transformers():
            model, loading = _auto_class(kind).from_pretrained(
                found.path,
                config=config,
                local_files_only=True,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
                use_safetensors=True,
            )
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise AimassError(
            f"cannot load the pretrained model {found.path}: {str(exc)[:400]}"
        ) from None
    model.train()  # from_pretrained gives eval mode; Lightning switches modes per stage
    head = _head_name(model)
    mismatched = [k[0] if isinstance(k, tuple) else k for k in loading.get("mismatched_keys", [])]
    fresh = [*loading.get("missing_keys", []), *mismatched]
    outside = sorted({str(k) for k in fresh if not in_module(str(k), head)})
    if outside:
        raise AimassError(
            f"the weights of {found.path} do not match its config.json: "
            f"{len(outside)} tensor(s) are missing or have other shapes "
            f"({', '.join(outside[:5])}{'…' if len(outside) > 5 else ''}); accepted: the "
            "config.json saved with these weights"
        )
    return model, head, bool(fresh)


def _folder_config(
    found: PretrainedInfo,
    kind: str,
    shape: tuple[int, ...],
    output_dim: int,
    classes: Sequence[Any] | None,
    vocab_size: int | None,
    pad_id: int | None,
) -> tuple[Any, list[str]]:
    """The folder's config with the dataset's label map (and pad id); checked against the data."""
    import transformers

    labels = (
        [str(c) for c in classes]
        if classes is not None and len(classes) == output_dim
        else [f"LABEL_{i}" for i in range(output_dim)]
    )
    try:
        with quiet_transformers():
            config = transformers.AutoConfig.from_pretrained(found.path, local_files_only=True)
    except Exception as exc:  # transformers raises many kinds for a bad config
        raise AimassError(
            f"{found.path}/config.json is not a config Transformers can read: {str(exc)[:300]}"
        ) from None
    config.num_labels = output_dim
    config.id2label = dict(enumerate(labels))
    config.label2id = {v: k for k, v in config.id2label.items()}
    if kind == "text":
        _check_text(found, config, shape, vocab_size, pad_id)
        if pad_id is not None:
            config.pad_token_id = int(pad_id)
    return config, labels


def build_pretrained(
    spec: ModelSpec,
    input_shape: tuple[int, ...],
    output_dim: int,
    *,
    input_kind: str | None = None,
    vocab_size: int | None = None,
    pad_id: int | None = None,
    input_norm: tuple[float, float] | None = None,
    pretrained: Mapping[str, Any] | None = None,
    classes: Sequence[Any] | None = None,
) -> PretrainedClassifier:
    """Load the model of ``spec.path`` with a new ``output_dim``-class head, ready to fine-tune.

    With ``pretrained`` (the ``pretrained`` entry of a ``model.json``) the network is built
    from the recorded config instead, without weights, for :func:`load_network` to fill.

    Raises
    ------
    NotFoundError, AimassError, SpecError
        When the folder is not a model, its weights do not match its config, the tokenizer or
        image size does not match the model, or a LoRA target does not exist.
    """
    if pretrained is not None:
        return rebuild_pretrained(dict(pretrained))
    hp = spec.resolved_hparams()
    shape = tuple(int(s) for s in input_shape)
    assert spec.path is not None
    found = inspect_pretrained(spec.path)
    kind = "image" if input_kind == "image" or len(shape) == 3 else "text"
    if kind != found.kind:
        raise AimassError(
            f"the pretrained model {found.path} takes {found.kind} input, the data is {kind}; "
            f"accepted: a {found.kind} dataset"
            + (
                " (a table with a text column: DataSpec.text)"
                if found.kind == "text"
                else " (an image folder)"
            )
        )
    config, labels = _folder_config(found, kind, shape, output_dim, classes, vocab_size, pad_id)
    channels = _check_image(found, shape) if kind == "image" else 3
    model, head, fresh = _load_folder(found, kind, config)
    new_head = fresh or found.labels != labels
    if new_head:
        logging.getLogger("aimass_lab").info(
            "a new %d-class head (%s) is initialised on %s", output_dim, head, found.path
        )
        print(
            f"[aimass] a new {output_dim}-class head ({head}) is initialised on {found.path}",
            flush=True,
        )
    model, lora = apply_finetune(model, hp, head)
    info: dict[str, Any] = {
        "library": "transformers",
        "source": found.path,
        "kind": kind,
        "model_type": found.model_type,
        "config": config.to_dict(),
        "head": head,
        "new_head": new_head,
        "finetune": hp["finetune"],
        "backbone_lr_scale": float(hp["backbone_lr_scale"]),
        "lora": lora,
        "lora_merge": bool(hp["lora_merge"]),
        "parameters": found.parameters,
        "channels": channels,
    }
    affine = None
    if kind == "image":
        affine = pixel_affine(found.to_dict(), input_norm)
        info.update(
            image_size=found.image_size,
            image_mean=found.image_mean,
            image_std=found.image_std,
            pixel_scale=affine[0],
            pixel_shift=affine[1],
        )
    else:
        info.update(pad_id=pad_id, max_length=found.max_length)
    return PretrainedClassifier(
        model, kind, pad_id=pad_id or 0, pixel_affine=affine, channels=channels, info=info
    )
