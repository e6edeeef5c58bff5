"""The ensemble spec: registered versions of one task combined into one new version."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, field_validator, model_validator

from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._compress import BenchmarkSpec
from aimass_lab.specs._data import DataSpec
from aimass_lab.specs._refs import parse_ref, validate_name

__all__ = ["ENSEMBLE_METHODS", "EnsembleSpec"]

#: How the members' outputs are combined: the mean of their class probabilities, a majority
#: vote of their predicted classes, a weighted mean of probabilities (weights given), or
#: stacking (a logistic-regression meta-model fitted on the validation split's member outputs).
ENSEMBLE_METHODS: tuple[str, ...] = ("mean", "vote", "weighted", "stack")


class EnsembleSpec(Spec):
    """Registered versions of the same task combined into one new registered version.

    Examples
    --------
    >>> spec = EnsembleSpec(members=["digits-mlp:1", "digits-mlp:2"], method="weighted",
    ...                     weights=[3, 1], name="digits-ens")
    >>> spec.normalised_weights()
    [0.75, 0.25]
    """

    members: list[str] = Field(description="refs of the member versions (at least 2)")
    method: str = Field("mean", description="mean, vote, weighted or stack")
    weights: list[float] | None = Field(
        None, description="weighted (and vote): one non-negative weight per member, normalised"
    )
    name: str | None = Field(
        None, description="registry name of the ensemble (default: '<first member>-ensemble')"
    )
    data: DataSpec | None = Field(
        None, description="data to fit (stack) and evaluate on (default: the first member's)"
    )
    stack_c: float = Field(
        1.0, gt=0.0, le=1e6, description="stack: inverse L2 strength of the meta-model"
    )
    parity_atol: float = Field(
        1e-4, gt=0.0, description="largest |members - ensemble ONNX| accepted (probabilities)"
    )
    benchmark: BenchmarkSpec = Field(default_factory=BenchmarkSpec)

    @field_validator("members", mode="before")
    @classmethod
    def _members(cls, value: object) -> object:
        if not isinstance(value, list | tuple):
            raise ValueError(
                f"members must be a list of model refs such as ['digits-mlp:1', 'digits-cnn:1'], "
                f"got {value!r}"
            )
        refs = [str(getattr(v, "ref", v)) for v in value]
        if len(refs) < 2:
            raise ValueError(
                f"an ensemble needs at least 2 members, got {len(refs)}; accepted: a list of 2 "
                "or more model refs ('name:version')"
            )
        for ref in refs:
            try:
                parse_ref(ref)
            except Exception as exc:
                raise ValueError(str(exc)) from None
        if len(set(refs)) != len(refs):
            raise ValueError(f"members are listed twice: {refs}; accepted: distinct versions")
        return refs

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: object) -> object:
        return one_of(value, ENSEMBLE_METHODS, "ensemble method")

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: object) -> object:
        return None if value is None else validate_name(value)

    @model_validator(mode="after")
    def _weights(self) -> EnsembleSpec:
        if self.method == "weighted" and self.weights is None:
            raise ValueError(
                f"method 'weighted' needs weights: one per member ({len(self.members)})"
            )
        if self.weights is None:
            return self
        if self.method not in ("weighted", "vote"):
            raise ValueError(
                f"weights apply to methods 'weighted' and 'vote', not {self.method!r}; "
                "leave weights out"
            )
        if len(self.weights) != len(self.members):
            raise ValueError(
                f"weights has {len(self.weights)} values for {len(self.members)} members; "
                "accepted: one non-negative weight per member"
            )
        bad = [w for w in self.weights if not math.isfinite(w) or w < 0]
        if bad or sum(self.weights) <= 0:
            raise ValueError(
                f"weights must be finite, non-negative and not all zero, got {self.weights}"
            )
        return self

    def normalised_weights(self) -> list[float]:
        """One weight per member, summing to 1 (equal weights when none were given)."""
        raw = self.weights or [1.0] * len(self.members)
        total = float(sum(raw))
        return [float(w) / total for w in raw]

    def label(self) -> str:
        """``"ensemble:<method>"``: the method column of the report."""
        return f"ensemble:{self.method}"

    def to_lineage(self) -> dict[str, Any]:
        """What the ensemble version records about how it was built."""
        return {
            "method": self.method,
            "members": list(self.members),
            "weights": self.normalised_weights(),
        }
