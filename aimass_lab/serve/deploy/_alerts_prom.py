"""The same alert rules as Prometheus alerting rules, for users who run Prometheus.

Each :class:`~aimass_lab.specs.AlertRule` becomes one rule of a group named after the
deployment, written with the inference server's own metric names (``aimass_requests_total``,
``aimass_request_errors_total``, ``aimass_request_latency_seconds_bucket``,
``aimass_queue_depth``, ``aimass_predictions_total``) and the spec's window as the range of
``rate()``. Drift rules hold the training labels' class proportions as constants.
"""

from __future__ import annotations

import math
import re
from typing import Any

from aimass_lab.errors import AimassError
from aimass_lab.specs import AlertRule, AlertSpec

__all__ = ["prometheus_rules", "prometheus_rules_yaml"]

_OPS = {"above": ">", "below": "<"}


def _duration(seconds: float) -> str:
    """A Prometheus duration: whole seconds (at least 1 s), or milliseconds."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selector(spec: AlertSpec, rule: AlertRule, extra: str = "") -> str:
    parts = [f"model={_quote(spec.deployment)}"]
    if rule.version is not None:
        parts.append(f"version={_quote(rule.version)}")
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}"


def _expr(spec: AlertSpec, rule: AlertRule, class_counts: dict[str, int] | None) -> str:
    """The PromQL of the rule's metric (without the comparison)."""
    w = _duration(spec.window_s)
    served = _selector(spec, rule, 'route!="shadow"')
    requests = f"sum(rate(aimass_requests_total{served}[{w}]))"
    if rule.metric == "error_rate_pct":
        return f"100 * sum(rate(aimass_request_errors_total{served}[{w}])) / {requests}"
    if rule.metric == "request_rate":
        return requests
    if rule.metric == "p99_ms":
        return (
            "1000 * histogram_quantile(0.99, sum by (le) "
            f"(rate(aimass_request_latency_seconds_bucket{served}[{w}])))"
        )
    if rule.metric == "queue_depth":
        return f"sum(aimass_queue_depth{_selector(spec, rule)})"
    if not class_counts:
        raise AimassError(
            f"rule {rule.label!r} of deployment {spec.deployment!r} needs the training labels' "
            "class counts (class_counts in the model.json of its versions), and none are "
            "recorded; accepted: drift rules on versions trained on labelled data"
        )
    total = sum(class_counts.values())
    all_preds = f"sum(rate(aimass_predictions_total{_selector(spec, rule)}[{w}]))"
    terms = []
    for name, n in class_counts.items():
        q = n / total
        share = (
            f"(sum(rate(aimass_predictions_total{_selector(spec, rule, 'class=' + _quote(name))}"
            f"[{w}])) or vector(0)) / {all_preds}"
        )
        if rule.metric == "drift_tv":
            terms.append(f"abs({share} - {q:.6g})")
        else:
            qq = max(q, 1e-4)
            terms.append(
                f"((clamp_min({share}, 0.0001) - {qq:.6g}) * ln(clamp_min({share}, 0.0001) / {qq:.6g}))"
            )
    joined = " + ".join(terms)
    return f"0.5 * ({joined})" if rule.metric == "drift_tv" else f"({joined})"


def _alert_name(spec: AlertSpec, rule: AlertRule) -> str:
    words = re.split(r"[^A-Za-z0-9]+", f"aimass {spec.deployment} {rule.name or rule.metric}")
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name + ("" if rule.name else rule.op.capitalize())


def prometheus_rules(spec: AlertSpec, class_counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The spec as a Prometheus rule file (a dict: ``groups`` -> ``rules``).

    Parameters
    ----------
    class_counts
        The training labels' class counts (drift rules need them).
    """
    rules = []
    for rule in spec.rules:
        expr = f"{_expr(spec, rule, class_counts)} {_OPS[rule.op]} {rule.threshold:g}"
        entry: dict[str, Any] = {
            "alert": _alert_name(spec, rule),
            "expr": expr,
            "for": _duration(rule.for_s) if rule.for_s > 0 else "0s",
            "labels": {
                "severity": rule.severity,
                "deployment": spec.deployment,
                "metric": rule.metric,
                **({"version": rule.version} if rule.version else {}),
            },
            "annotations": {
                "summary": f"{spec.deployment}: {rule.label}",
                "description": (
                    f"{rule.metric} of deployment {spec.deployment} is {{{{ $value }}}}, "
                    f"{rule.op} {rule.threshold:g}"
                    + (f" for {rule.for_s:g} s" if rule.for_s else "")
                ),
            },
        }
        rules.append(entry)
    interval = max(1.0, math.ceil(spec.interval_s))
    return {
        "groups": [
            {"name": f"aimass-{spec.deployment}", "interval": _duration(interval), "rules": rules}
        ]
    }


def prometheus_rules_yaml(spec: AlertSpec, class_counts: dict[str, int] | None = None) -> str:
    """:func:`prometheus_rules` as YAML text (``promtool check rules`` reads it)."""
    import yaml

    header = (
        f"# Prometheus alerting rules of deployment {spec.deployment!r}, written by AI Mass Lab\n"
        "# (aimass alerts export-prometheus). Load with rule_files: in prometheus.yml.\n"
    )
    return header + yaml.safe_dump(
        prometheus_rules(spec, class_counts), sort_keys=False, width=1000
    )
