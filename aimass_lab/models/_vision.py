"""timm and torchvision image classifiers with a local safetensors weight file.

``ModelSpec(family="pretrained", architecture="timm:resnet18", path="resnet18.safetensors")``
builds the architecture with a new head of the dataset's classes and loads the weights file
(or ``model.safetensors`` in a folder) into everything but the head. Both libraries are the
``[vision]`` extra: they import only with a torchvision built for the installed torch
(docs/install.md), so this path is tested where they import.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from aimass_lab.errors import AimassError, NotFoundError
from aimass_lab.specs import ModelSpec

if TYPE_CHECKING:
    from aimass_lab.models._finetune import PretrainedClassifier

__all__ = ["VISION_LIBRARIES", "build_vision", "create_vision"]

VISION_LIBRARIES = ("timm", "torchvision")
_IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def create_vision(library: str, name: str, num_classes: int) -> nn.Module:
    """A freshly initialised ``library`` architecture ``name`` with ``num_classes`` outputs."""
    try:
        if library == "timm":
            import timm

            return timm.create_model(name, pretrained=False, num_classes=num_classes)  # type: ignore[no-any-return]
        import torchvision.models as tvm

        return tvm.get_model(name, weights=None, num_classes=num_classes)  # type: ignore[no-any-return]
    except ImportError as exc:
        raise AimassError(
            f"architecture '{library}:{name}' needs {library}, which does not import here "
            f"({str(exc)[:160]}); install the [vision] extra with a torchvision built for "
            "this torch (see docs/install.md), or use a Transformers image model folder"
        ) from None
    except (RuntimeError, ValueError, KeyError) as exc:
        raise AimassError(
            f"{library} has no architecture {name!r} ({str(exc)[:160]}); accepted: a name "
            + (
                "timm.list_models() lists"
                if library == "timm"
                else "torchvision.models.list_models() lists"
            )
        ) from None


def _weights_file(path: str) -> Path:
    where = Path(path).expanduser()
    file = where / "model.safetensors" if where.is_dir() else where
    if not file.is_file() or file.suffix != ".safetensors":
        raise NotFoundError(
            f"no safetensors weights at {where}; accepted for an architecture: a .safetensors "
            "file, or a folder holding model.safetensors (pickle .pth/.bin files are not loaded)"
        )
    return file


def _head(model: nn.Module) -> str:
    """The classifier: the last Linear module (timm and torchvision classifiers end in one)."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise AimassError(f"{type(model).__name__} has no Linear classifier to replace")
    return names[-1]


def _norm(model: nn.Module, library: str) -> tuple[list[float], list[float], int | None]:
    """Per-channel mean and std, and the fixed input size (``None``: any size)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    if library == "timm" and cfg.get("mean"):
        size = int(cfg["input_size"][-1]) if cfg.get("fixed_input_size") else None
        return list(cfg["mean"]), list(cfg["std"]), size
    fixed = getattr(model, "image_size", None)
    return _IMAGENET[0], _IMAGENET[1], int(fixed) if isinstance(fixed, int) else None


def build_vision(
    spec: ModelSpec,
    input_shape: tuple[int, ...],
    output_dim: int,
    *,
    input_norm: tuple[float, float] | None = None,
    pretrained: dict[str, Any] | None = None,
) -> PretrainedClassifier:
    """The architecture of ``spec.architecture`` with a new head, its weights loaded; with
    ``pretrained`` (a ``model.json`` entry) the recorded network, without weights.

    Raises
    ------
    AimassError
        When the library does not import, the name is unknown, the data is not images of
        the size the model takes, or the weights do not fit the architecture.
    """
    from aimass_lab.models._finetune import PretrainedClassifier, pixel_affine, rebuild_pretrained
    from aimass_lab.models._freeze import apply_finetune, in_module
    from aimass_lab.models._weights import load_weights

    if pretrained is not None:
        bare = create_vision(
            pretrained["library"], pretrained["architecture"], int(pretrained["num_classes"])
        )
        return rebuild_pretrained(pretrained, bare)
    assert spec.architecture is not None and spec.path is not None
    library, name = spec.architecture.split(":", 1)
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise AimassError(
            f"architecture {spec.architecture!r} takes images (3, H, W); the data gives shape "
            f"{tuple(input_shape)}"
        )
    model = create_vision(library, name, output_dim)
    file = _weights_file(spec.path)
    state = load_weights(file)
    own = model.state_dict()
    head = _head(model)
    fits = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    wrong = [k for k in [*state, *own] if k not in fits and not in_module(k, head)]
    if wrong:
        raise AimassError(
            f"the weights {file} do not fit architecture {spec.architecture!r}: "
            f"{len(set(wrong))} tensor(s) outside the head are missing, extra or of another "
            f"shape ({', '.join(sorted(set(wrong))[:5])}); accepted: weights saved from that "
            "architecture (its state_dict in safetensors)"
        )
    model.load_state_dict(fits, strict=False)
    mean, std, size = _norm(model, library)
    if size is not None and tuple(input_shape[1:]) != (size, size):
        raise AimassError(
            f"architecture {spec.architecture!r} takes {size}x{size} images; the data gives "
            f"{input_shape[1]}x{input_shape[2]}: set data image_size={size}"
        )
    print(
        f"[aimass] a new {output_dim}-class head ({head}) is initialised on {spec.architecture}",
        flush=True,
    )
    hp = spec.resolved_hparams()
    model, lora = apply_finetune(model, hp, head)
    affine = pixel_affine({"image_mean": mean, "image_std": std}, input_norm)
    info: dict[str, Any] = {
        "library": library,
        "architecture": name,
        "source": str(file),
        "kind": "image",
        "num_classes": output_dim,
        "head": head,
        "new_head": True,
        "finetune": hp["finetune"],
        "backbone_lr_scale": float(hp["backbone_lr_scale"]),
        "lora": lora,
        "lora_merge": bool(hp["lora_merge"]),
        "parameters": sum(int(p.numel()) for p in model.parameters()),
        "channels": 3,
        "image_size": size,
        "image_mean": mean,
        "image_std": std,
        "pixel_scale": affine[0],
        "pixel_shift": affine[1],
    }
    return PretrainedClassifier(model, "image", pixel_affine=affine, channels=3, info=info)
