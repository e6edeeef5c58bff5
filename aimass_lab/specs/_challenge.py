"""Challenge specs: a workshop leaderboard's dataset, metric and hidden test split."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from aimass_lab.errors import AimassError
from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._refs import validate_name

__all__ = ["CHALLENGE_METRICS", "ChallengeSpec"]

#: The metrics a challenge ranks by: ``{name: (task, higher_is_better)}``.
CHALLENGE_METRICS: dict[str, tuple[str, bool]] = {
    "accuracy": ("classification", True),
    "f1_macro": ("classification", True),
    "r2": ("regression", True),
    "rmse": ("regression", False),
}


class ChallengeSpec(Spec):
    """A challenge: participants' models are scored by the workspace on a hidden test split.

    The rows of ``dataset`` are cut once, with ``seed``: ``hidden`` of them (stratified by
    class for classification) are kept by the workspace for scoring, the rest are registered
    as the dataset ``public`` that participants train on.

    Examples
    --------
    >>> spec = ChallengeSpec(name="iris-cup", dataset="iris")
    >>> spec.public_name, spec.metric, spec.higher_is_better
    ('iris-cup-public', 'accuracy', True)
    """

    name: str = Field(description="the challenge's name (letters, digits, '-', '_', '.')")
    dataset: str = Field(description="a built-in or registered tabular dataset")
    metric: str = Field("accuracy", description="accuracy, f1_macro (classification); r2, rmse")
    hidden: float = Field(
        0.25, gt=0.0, lt=1.0, description="fraction of the rows held out for scoring"
    )
    seed: int = Field(0, description="seed of the hidden split")
    public: str | None = Field(
        None, description="name of the participants' dataset (default: '<name>-public')"
    )
    description: str | None = Field(None, description="one line for the board")

    @field_validator("name", "public")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_name(value)
        except AimassError as exc:
            raise ValueError(str(exc).replace("model name", "name")) from None

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        return one_of(value, CHALLENGE_METRICS, "metric")

    @model_validator(mode="after")
    def _check(self) -> ChallengeSpec:
        if self.public_name == self.dataset:
            raise ValueError(
                f"public must differ from dataset {self.dataset!r}: the participants' dataset "
                "is a new one, without the hidden rows"
            )
        return self

    @property
    def public_name(self) -> str:
        """The dataset participants train on."""
        return self.public or f"{self.name}-public"

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"`` (from the metric)."""
        return CHALLENGE_METRICS[self.metric][0]

    @property
    def higher_is_better(self) -> bool:
        """Whether a higher score ranks first."""
        return CHALLENGE_METRICS[self.metric][1]
