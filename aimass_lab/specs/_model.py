"""The model spec: a zoo family with its hyperparameters, or a user class by import path."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from aimass_lab.errors import SpecError, accepted
from aimass_lab.specs._base import Spec
from aimass_lab.specs._catalog import FAMILIES, coerce_hparams

__all__ = ["ModelSpec"]


class ModelSpec(Spec):
    """A model from the zoo with its hyperparameters, or a user class by import path.

    ``family="custom"`` with ``target="package.module:Class"`` builds any importable
    ``nn.Module`` or ``LightningModule``; ``hparams`` become its keyword arguments.
    """

    family: str = Field("mlp", description="mlp, cnn, resnet, gru, lstm, transformer, or custom")
    hparams: dict[str, Any] = Field(
        default_factory=dict, description="the family's hyperparameters"
    )
    target: str | None = Field(None, description="'package.module:Class' for family='custom'")

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
