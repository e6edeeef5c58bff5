"""The model spec: a zoo family with its hyperparameters, or a user class by import path."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from aimass_lab.errors import SpecError, accepted
from aimass_lab.specs._base import Spec
from aimass_lab.specs._catalog import FAMILIES, coerce_hparams

__all__ = ["ModelSpec"]


class ModelSpec(Spec):
    """A model from the zoo with its hyperparameters, a pretrained model, or a user class.

    ``family="custom"`` with ``target="package.module:Class"`` builds any importable
    ``nn.Module`` or ``LightningModule``; ``hparams`` become its keyword arguments.
    ``family="pretrained"`` with ``path`` loads a Hugging Face Transformers model from a
    local folder (``config.json`` + safetensors weights, as ``save_pretrained`` writes it)
    and puts a new classification head on it; ``hparams`` choose how it is fine-tuned
    (``finetune``: full, head, top or lora). Nothing downloads.

    Examples
    --------
    >>> ModelSpec(family="pretrained", path="models/bert-small",
    ...           hparams={"finetune": "lora", "lora_rank": 4}).hparams["lora_rank"]
    4
    """

    family: str = Field(
        "mlp",
        description="mlp, cnn, resnet, gru, lstm, transformer, text_transformer, pretrained, "
        "or custom",
    )
    hparams: dict[str, Any] = Field(
        default_factory=dict, description="the family's hyperparameters"
    )
    target: str | None = Field(None, description="'package.module:Class' for family='custom'")
    path: str | None = Field(
        None,
        description="local folder of a pretrained model (config.json + safetensors) for "
        "family='pretrained'; with architecture, its safetensors weight file",
    )
    architecture: str | None = Field(
        None,
        description="'timm:NAME' or 'torchvision:NAME' for family='pretrained' (the [vision] "
        "extra); path names its safetensors weights",
    )

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        # A SpecError (a ValueError) raised here keeps its field names: Spec.__init__ unpacks it.
        if self.family == "custom":
            if not self.target or ":" not in self.target:
                raise SpecError(
                    "ModelSpec",
                    [
                        {
                            "field": "target",
                            "value": self.target,
                            "message": "family 'custom' needs target='package.module:Class'",
                        }
                    ],
                )
            return self
        if self.family == "pretrained" and not self.path:
            raise SpecError(
                "ModelSpec",
                [
                    {
                        "field": "path",
                        "value": self.path,
                        "message": "family 'pretrained' needs path: a local folder with "
                        "config.json and safetensors weights (as save_pretrained writes it); "
                        "nothing is downloaded",
                    }
                ],
            )
        if self.architecture is not None and (
            self.family != "pretrained"
            or self.architecture.split(":", 1)[0] not in ("timm", "torchvision")
            or ":" not in self.architecture
        ):
            raise SpecError(
                "ModelSpec",
                [
                    {
                        "field": "architecture",
                        "value": self.architecture,
                        "message": "accepted: 'timm:NAME' or 'torchvision:NAME' with "
                        "family='pretrained' and path naming the safetensors weights",
                    }
                ],
            )
        if self.path and self.family != "pretrained":
            raise SpecError(
                "ModelSpec",
                [
                    {
                        "field": "path",
                        "value": self.path,
                        "message": f"path is for family 'pretrained', not {self.family!r}",
                    }
                ],
            )
        family = FAMILIES.get(self.family)
        if family is None:
            raise SpecError(
                "ModelSpec",
                [
                    {
                        "field": "family",
                        "message": f"unknown model {self.family!r}; "
                        f"accepted: {accepted([*FAMILIES, 'custom'])}",
                    }
                ],
            )
        coerced, errors = coerce_hparams(family, self.hparams)
        if errors:
            raise SpecError("ModelSpec", errors)
        object.__setattr__(self, "hparams", coerced)
        return self

    def resolved_hparams(self) -> dict[str, Any]:
        """The family's defaults updated with the given hyperparameters."""
        family = FAMILIES.get(self.family)
        return {**(family.defaults if family else {}), **self.hparams}
