"""Evaluating alert rules on scrapes of the server's ``/metrics``: windows, ``for_s``, drift.

:class:`Evaluator` keeps the scrapes of the last ``window_s`` seconds (only the deployment's
samples), computes each rule's metric over that window with the server's own parser and
summary (:func:`~aimass_lab.serve.server.summarize` of the counters' increase) and returns the
rules that started firing or resolved. It does no I/O: the ``alerts`` job scrapes and records.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable
from typing import Any

from aimass_lab.serve.server import summarize
from aimass_lab.specs import AlertRule, AlertSpec

__all__ = ["Evaluator", "drift", "window_delta"]

Parsed = dict[str, list[dict[str, Any]]]
#: The training labels' class counts of a version (``None``: all the deployment's versions).
CountsOf = Callable[[str | None], dict[str, int] | None]

_GAUGES = ("aimass_queue_depth", "aimass_replicas_ready")
_ALL = "*"


def _own(parsed: Parsed, model: str) -> Parsed:
    """The samples of ``model`` only (what a snapshot keeps)."""
    out: Parsed = {}
    for name, samples in parsed.items():
        mine = [s for s in samples if s["labels"].get("model") == model]
        if mine:
            out[name] = mine
    return out


def _key(sample: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(sample["labels"].items()))


def window_delta(current: Parsed, base: Parsed | None) -> Parsed:
    """The increase of every counter and histogram sample from ``base`` to ``current`` (a
    counter that went down was reset: its current value is the increase); gauges as they are."""
    out: Parsed = {}
    for name, samples in current.items():
        if name in _GAUGES:
            out[name] = samples
            continue
        before = {_key(s): s["value"] for s in (base or {}).get(name, [])}
        rows = []
        for s in samples:
            old = before.get(_key(s), 0.0)
            value = s["value"] - old if s["value"] >= old else s["value"]
            rows.append({"labels": s["labels"], "value": value})
        out[name] = rows
    return out


def _view(parsed: Parsed, version: str | None) -> Parsed:
    """Samples of one version, or of all versions relabelled as one (``"*"``)."""
    out: Parsed = {}
    for name, samples in parsed.items():
        rows = []
        for s in samples:
            got = s["labels"].get("version")
            if version is not None and got != version:
                continue
            labels = s["labels"] if version is not None else {**s["labels"], "version": _ALL}
            rows.append({"labels": labels, "value": s["value"]})
        out[name] = rows
    return out


def drift(predicted: dict[str, int], trained: dict[str, int], metric: str) -> float | None:
    """Total variation (``drift_tv``, in [0, 1]) or PSI (``drift_psi``) between the predicted
    classes and the training labels' classes (``None`` when either is empty)."""
    n, m = sum(predicted.values()), sum(trained.values())
    if n <= 0 or m <= 0:
        return None
    classes = sorted(set(predicted) | set(trained))
    p = [predicted.get(c, 0) / n for c in classes]
    q = [trained.get(c, 0) / m for c in classes]
    if metric == "drift_tv":
        return 0.5 * sum(abs(a - b) for a, b in zip(p, q, strict=True))
    eps = 1e-4
    return sum(
        (max(a, eps) - max(b, eps)) * math.log(max(a, eps) / max(b, eps))
        for a, b in zip(p, q, strict=True)
    )


class Evaluator:
    """The rules of one :class:`~aimass_lab.specs.AlertSpec`, fed one scrape at a time.

    Parameters
    ----------
    spec
        The rules, the window and the deployment (its endpoint is the ``model`` label).
    class_counts
        The training labels' class counts of a version (``None``: of all versions), for drift.
    """

    def __init__(self, spec: AlertSpec, class_counts: CountsOf) -> None:
        self.spec = spec
        self.class_counts = class_counts
        self.snapshots: deque[tuple[float, Parsed]] = deque()
        #: rule label -> when its condition began to hold (monotonic seconds)
        self.since: dict[str, float] = {}
        #: rule label -> the transition that made it fire (rules firing now)
        self.firing: dict[str, dict[str, Any]] = {}
        #: rule label -> its last value
        self.values: dict[str, float | None] = {}

    def observe(self, now: float, parsed: Parsed) -> list[dict[str, Any]]:
        """Take one scrape at monotonic time ``now``; return the transitions it caused."""
        current = _own(parsed, self.spec.deployment)
        self.snapshots.append((now, current))
        while len(self.snapshots) > 2 and self.snapshots[1][0] <= now - self.spec.window_s:
            self.snapshots.popleft()
        base_t, base = self.snapshots[0] if len(self.snapshots) > 1 else (None, None)
        delta = window_delta(current, base)
        elapsed = (now - base_t) if base_t is not None else None
        changes = []
        for rule in self.spec.rules:
            value = self.value(rule, delta, elapsed)
            self.values[rule.label] = value
            change = self._step(rule, value, now)
            if change is not None:
                changes.append(change)
        return changes

    def value(self, rule: AlertRule, delta: Parsed, elapsed: float | None) -> float | None:
        """The rule's metric over the window (``None``: no data, e.g. no request in it)."""
        endpoint = self.spec.deployment
        view = _view(delta, rule.version)
        if rule.metric == "queue_depth":
            depths = [s["value"] for s in view.get("aimass_queue_depth", [])]
            return float(sum(depths)) if depths else None
        if elapsed is None:  # the first scrape: no window yet
            return None
        stats = summarize(view).get(endpoint, {}).get(rule.version or _ALL)
        requests = float(stats["requests"]) if stats else 0.0
        if rule.metric == "request_rate":
            return requests / elapsed if elapsed > 0 else None
        if stats is None or requests <= 0:
            return None
        if rule.metric == "error_rate_pct":
            return 100.0 * float(stats["errors"]) / requests
        if rule.metric == "p99_ms":
            p99 = stats.get("p99_ms")
            return None if p99 is None else float(p99)
        predicted = {k: int(v) for k, v in (stats.get("predictions") or {}).items()}
        if sum(predicted.values()) < self.spec.drift_min_predictions:
            return None
        trained = self.class_counts(rule.version)
        return drift(predicted, trained, rule.metric) if trained else None

    def _step(self, rule: AlertRule, value: float | None, now: float) -> dict[str, Any] | None:
        label = rule.label
        if rule.holds(value):
            began = self.since.setdefault(label, now)
            if label not in self.firing and now - began >= rule.for_s:
                self.firing[label] = self._change(rule, "firing", value)
                return self.firing[label]
            return None
        self.since.pop(label, None)
        if label in self.firing:
            del self.firing[label]
            return self._change(rule, "resolved", value)
        return None

    def _change(self, rule: AlertRule, state: str, value: float | None) -> dict[str, Any]:
        shown = "no data" if value is None else f"{value:.4g}"
        if state == "firing":
            message = (
                f"{self.spec.deployment}: {rule.metric} is {shown}, {rule.op} {rule.threshold:g}"
            )
            if rule.for_s:
                message += f" for {rule.for_s:g} s"
        else:
            message = f"{self.spec.deployment}: {rule.metric} is {shown}, no longer {rule.op} {rule.threshold:g}"
        return {
            "deployment": self.spec.deployment,
            "rule": rule.label,
            "metric": rule.metric,
            "op": rule.op,
            "threshold": rule.threshold,
            "for_s": rule.for_s,
            "version": rule.version,
            "severity": rule.severity,
            "state": state,
            "value": value,
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "message": message,
        }
