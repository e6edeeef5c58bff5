"""Alert specs: threshold rules on a deployment's metrics, watched by a workspace job."""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._refs import validate_name

__all__ = ["ALERT_METRICS", "ALERT_OPS", "AlertRule", "AlertSpec", "parse_rule"]

#: The metrics a rule watches, with the range of values each can take (inclusive) and unit.
#: ``error_rate_pct``: errors per 100 requests in the window; ``p99_ms``: the 99th percentile of
#: the request latency in the window; ``request_rate``: requests per second in the window;
#: ``queue_depth``: requests waiting for a batch now; ``drift_tv``: total variation distance
#: between the predicted classes in the window and the training labels' classes;
#: ``drift_psi``: their population stability index.
ALERT_METRICS: dict[str, tuple[float, float, str]] = {
    "error_rate_pct": (0.0, 100.0, "%"),
    "p99_ms": (0.0, math.inf, "ms"),
    "request_rate": (0.0, math.inf, "req/s"),
    "queue_depth": (0.0, math.inf, "requests"),
    "drift_tv": (0.0, 1.0, ""),
    "drift_psi": (0.0, math.inf, ""),
}
ALERT_OPS: tuple[str, ...] = ("above", "below")

_RULE_TEXT = re.compile(
    r"^\s*(?P<metric>\w+)\s+(?P<op>\w+)\s+(?P<threshold>\S+?)"
    r"(?:\s+for\s+(?P<for_s>[0-9.]+)\s*s?)?\s*$"
)


class AlertRule(Spec):
    """One rule: fire when ``metric`` stays ``op`` ``threshold`` for ``for_s`` seconds.

    Examples
    --------
    >>> AlertRule(metric="error_rate_pct", op="above", threshold=5, for_s=30).label
    'error_rate_pct above 5 for 30s'
    """

    metric: str = Field(
        description="error_rate_pct, p99_ms, request_rate, queue_depth, drift_tv, drift_psi"
    )
    op: str = Field("above", description="above or below")
    threshold: float = Field(description="the value the metric is compared with")
    for_s: float = Field(
        0.0, ge=0.0, le=86_400.0, description="seconds the condition must hold before it fires"
    )
    version: str | None = Field(None, description="only this version (default: all versions)")
    name: str | None = Field(None, description="the rule's name (default: from its fields)")
    severity: str = Field(
        "warning", description="a label for the receiver: info, warning or critical"
    )

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, value: object) -> object:
        return one_of(value, tuple(ALERT_METRICS), "alert metric")

    @field_validator("op", mode="before")
    @classmethod
    def _op(cls, value: object) -> object:
        return one_of(value, ALERT_OPS, "alert op")

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        return one_of(value, ("info", "warning", "critical"), "severity")

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: object) -> object:
        return None if value is None else str(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_.\- ]{1,100}", value):
            raise ValueError(
                f"rule name {value!r} is not accepted; accepted: 1 to 100 letters, digits, "
                "spaces, '_', '-' and '.'"
            )
        return value

    @model_validator(mode="after")
    def _possible(self) -> AlertRule:
        lo, hi, unit = ALERT_METRICS[self.metric]
        shown = f"[{lo:g}, {hi:g}]" if math.isfinite(hi) else f"{lo:g} or more"
        t = self.threshold
        if not math.isfinite(t) or t < lo or t > hi:
            raise ValueError(
                f"threshold {t!r} is impossible for {self.metric} (values {shown}{' ' + unit if unit else ''}); "
                f"accepted: a threshold in {shown}"
            )
        if (self.op == "above" and t >= hi) or (self.op == "below" and t <= lo):
            raise ValueError(
                f"{self.metric} is never {self.op} {t:g} (values {shown}): the rule could never "
                f"fire; accepted: 'above' a threshold below {hi:g}, 'below' one above {lo:g}"
            )
        return self

    @property
    def label(self) -> str:
        """The rule's name, or ``"<metric> <op> <threshold> for <for_s>s"``."""
        if self.name:
            return self.name
        text = f"{self.metric} {self.op} {self.threshold:g}"
        if self.for_s:
            text += f" for {self.for_s:g}s"
        return text + (f" (version {self.version})" if self.version else "")

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` breaks the threshold (no value: it does not)."""
        if value is None:
            return False
        return value > self.threshold if self.op == "above" else value < self.threshold


def parse_rule(text: str) -> AlertRule:
    """A rule from ``"METRIC above|below THRESHOLD [for SECONDS]"`` (the CLI's ``--rule``).

    Examples
    --------
    >>> parse_rule("p99_ms above 250 for 60s").for_s
    60.0
    """
    match = _RULE_TEXT.match(str(text))
    if match is None:
        from aimass_lab.errors import SpecError

        raise SpecError(
            "AlertRule",
            [
                {
                    "field": "rule",
                    "value": text,
                    "message": "not a rule; accepted: 'METRIC above|below THRESHOLD [for SECONDS]'"
                    ", e.g. 'error_rate_pct above 5 for 30s'",
                }
            ],
        )
    fields: dict[str, Any] = {k: v for k, v in match.groupdict().items() if v is not None}
    return AlertRule(**fields)


class AlertSpec(Spec):
    """Rules on one deployment, evaluated by an ``alerts`` job every ``interval_s`` seconds.

    Rates (error rate, request rate, p99, drift) are computed over the last ``window_s``
    seconds of scrapes. Drift compares the classes the deployment predicted in the window with
    the class counts of the training labels its versions recorded (``class_counts`` in
    ``model.json``); it is not evaluated below ``drift_min_predictions`` predictions.

    Examples
    --------
    >>> spec = AlertSpec(deployment="digits", rules=[{"metric": "p99_ms", "threshold": 200}])
    >>> spec.rules[0].label, spec.interval_s
    ('p99_ms above 200', 15.0)
    """

    deployment: str = Field(description="the deployment (endpoint) watched")
    rules: list[AlertRule] = Field(description="the rules (at least one)")
    interval_s: float = Field(15.0, ge=0.05, le=3600.0, description="seconds between scrapes")
    window_s: float = Field(
        60.0, ge=0.05, le=86_400.0, description="seconds of scrapes that rates are computed over"
    )
    drift_min_predictions: int = Field(
        50, ge=1, le=10_000_000, description="fewest predictions in the window to judge drift"
    )
    webhook: str | None = Field(None, description="URL that gets a JSON POST on fire and resolve")
    webhook_timeout_s: float = Field(5.0, gt=0.0, le=120.0, description="seconds per POST")
    webhook_retries: int = Field(2, ge=0, le=10, description="retries of a failed POST")

    @field_validator("deployment")
    @classmethod
    def _deployment(cls, value: str) -> str:
        try:
            return validate_name(value)
        except Exception as exc:
            raise ValueError(str(exc).replace("model name", "deployment name")) from None

    @field_validator("rules", mode="before")
    @classmethod
    def _rules(cls, value: object) -> object:
        if isinstance(value, str | AlertRule | dict):
            value = [value]
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(
                "rules must be a non-empty list of rules such as "
                "{'metric': 'error_rate_pct', 'op': 'above', 'threshold': 5}"
            )
        return [parse_rule(v) if isinstance(v, str) else v for v in value]

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(
                f"webhook {value!r} is not accepted; accepted: an http:// or https:// URL"
            )
        return value

    @model_validator(mode="after")
    def _unique(self) -> AlertSpec:
        labels = [r.label for r in self.rules]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(
                f"rules are listed twice: {twice}; accepted: distinct rules (or names)"
            )
        return self
