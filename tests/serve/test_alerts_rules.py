"""Alert rules: AlertSpec errors, the evaluator (windows, for_s, drift), the alerts table on
SQLite and PostgreSQL and its migration, and the Prometheus rules export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import inspect, text

from aimass_lab.errors import SpecError
from aimass_lab.serve import alert_history, parse_metrics
from aimass_lab.serve.deploy._alerts import Evaluator, drift
from aimass_lab.serve.deploy._alerts_job import record_alert
from aimass_lab.serve.deploy._alerts_prom import prometheus_rules, prometheus_rules_yaml
from aimass_lab.specs import AlertRule, AlertSpec, parse_rule
from aimass_lab.workspace import SCHEMA_VERSION, Workspace


# ------------------------------------------------------------------------------ the spec
def test_rule_text_and_fields() -> None:
    rule = parse_rule("error_rate_pct above 5 for 30s")
    assert (rule.metric, rule.op, rule.threshold, rule.for_s) == ("error_rate_pct", "above", 5, 30)
    assert rule.label == "error_rate_pct above 5 for 30s"
    spec = AlertSpec(
        deployment="digits",
        rules=["request_rate below 1", {"metric": "drift_tv", "threshold": 0.3}],
    )
    assert [r.label for r in spec.rules] == ["request_rate below 1", "drift_tv above 0.3"]
    assert AlertSpec.from_yaml(spec.to_yaml()) == spec


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"metric": "latency", "threshold": 1},
            "unknown alert metric 'latency'; accepted: 'error_rate_pct', 'p99_ms'",
        ),
        (
            {"metric": "drift_tv", "threshold": 1.5},
            r"threshold 1.5 is impossible for drift_tv \(values \[0, 1\]\); accepted: a threshold in \[0, 1\]",
        ),
        ({"metric": "error_rate_pct", "threshold": 101}, r"impossible for error_rate_pct"),
        ({"metric": "p99_ms", "threshold": -1}, r"impossible for p99_ms \(values 0 or more ms\)"),
        (
            {"metric": "queue_depth", "op": "below", "threshold": 0},
            "never below 0.*could never fire",
        ),
        ({"metric": "drift_tv", "op": "above", "threshold": 1}, "never above 1"),
        (
            {"metric": "p99_ms", "op": "over", "threshold": 1},
            "unknown alert op 'over'; accepted: 'above', 'below'",
        ),
        ({"metric": "p99_ms", "threshold": 1, "for_s": -3}, "for_s"),
    ],
)
def test_bad_rules_name_what_is_accepted(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        AlertSpec(deployment="digits", rules=[rule])


def test_bad_specs_name_what_is_accepted() -> None:
    with pytest.raises(SpecError, match="rules must be a non-empty list"):
        AlertSpec(deployment="digits", rules=[])
    with pytest.raises(SpecError, match="accepted: an http:// or https:// URL"):
        AlertSpec(deployment="digits", rules=["p99_ms above 9"], webhook="ftp://x")
    with pytest.raises(SpecError, match="rules are listed twice"):
        AlertSpec(deployment="digits", rules=["p99_ms above 9", "p99_ms above 9"])
    with pytest.raises(SpecError, match=r"accepted: 'METRIC above\|below THRESHOLD"):
        parse_rule("p99 high")
    with pytest.raises(SpecError, match=r"(?s)unknown alert metric 'p99'.*unknown alert op 'is'"):
        parse_rule("p99 is high")
    with pytest.raises(SpecError, match="interval_s"):
        AlertSpec(deployment="digits", rules=["p99_ms above 9"], interval_s=0)


# ------------------------------------------------------------------------------ the evaluator
def _scrape(requests: int, errors: int, preds: dict[str, int], depth: int = 0) -> dict[str, Any]:
    """A /metrics scrape of deployment 'digits' version 1 (cumulative counters)."""
    lines = [
        f'aimass_requests_total{{model="digits",version="1",route="predict",code="200"}} {requests - errors}',
        f'aimass_requests_total{{model="digits",version="1",route="predict",code="400"}} {errors}',
        f'aimass_request_errors_total{{model="digits",version="1",route="predict",code="400"}} {errors}',
        f'aimass_queue_depth{{model="digits",version="1"}} {depth}',
        f'aimass_requests_total{{model="other",version="1",route="predict",code="400"}} {errors * 7}',
    ]
    lines += [
        f'aimass_predictions_total{{model="digits",version="1",class="{c}"}} {n}'
        for c, n in preds.items()
    ]
    return parse_metrics("\n".join(lines) + "\n")


def test_evaluator_fires_after_for_s_and_resolves() -> None:
    spec = AlertSpec(
        deployment="digits",
        rules=["error_rate_pct above 20 for 2s", "queue_depth above 3", "request_rate below 0.5"],
        window_s=10,
    )
    ev = Evaluator(spec, lambda version: None)
    assert ev.observe(0.0, _scrape(0, 0, {})) == []  # the first scrape has no window yet
    assert ev.observe(1.0, _scrape(10, 5, {})) == []  # 50 % errors, holding for 0 s
    assert ev.values["error_rate_pct above 20 for 2s"] == pytest.approx(50.0)
    fired = ev.observe(3.0, _scrape(20, 10, {}, depth=5))
    assert [(c["rule"], c["state"]) for c in fired] == [
        ("error_rate_pct above 20 for 2s", "firing"),
        ("queue_depth above 3", "firing"),
    ]
    assert fired[0]["value"] == pytest.approx(50.0) and fired[1]["value"] == 5
    assert fired[0]["message"] == "digits: error_rate_pct is 50, above 20 for 2 s"
    # the window forgets the errors: 10 s later only good requests came
    resolved = ev.observe(14.0, _scrape(120, 10, {}))
    assert [(c["rule"], c["state"]) for c in resolved] == [
        ("error_rate_pct above 20 for 2s", "resolved"),
        ("queue_depth above 3", "resolved"),
    ]
    # no request for a whole window: the request rate is 0, below 0.5
    quiet = ev.observe(30.0, _scrape(120, 10, {}))
    assert [(c["rule"], c["state"], c["value"]) for c in quiet] == [
        ("request_rate below 0.5", "firing", 0.0)
    ]


def test_drift_against_the_training_labels() -> None:
    trained = {"0": 50, "1": 50}
    assert drift({"0": 100}, trained, "drift_tv") == pytest.approx(0.5)
    assert drift({"0": 50, "1": 50}, trained, "drift_tv") == pytest.approx(0.0)
    assert drift({"0": 100}, trained, "drift_psi") > 1.0
    assert drift({}, trained, "drift_tv") is None
    spec = AlertSpec(
        deployment="digits",
        rules=[{"metric": "drift_tv", "threshold": 0.3}, "drift_psi above 0.5"],
        drift_min_predictions=20,
    )
    ev = Evaluator(spec, lambda version: trained)
    ev.observe(0.0, _scrape(0, 0, {"0": 0, "1": 0}))
    assert ev.observe(1.0, _scrape(1, 0, {"0": 10, "1": 0})) == []  # 10 < 20 predictions
    fired = ev.observe(2.0, _scrape(3, 0, {"0": 40, "1": 0}))
    assert [c["rule"] for c in fired] == ["drift_tv above 0.3", "drift_psi above 0.5"]
    assert fired[0]["value"] == pytest.approx(0.5)


# ------------------------------------------------------------------------------ the store
def test_alerts_table_on_both_backends(workspace: Workspace) -> None:
    assert workspace.store.schema_version == SCHEMA_VERSION >= 4
    change = {
        "deployment": "digits", "rule": "p99_ms above 5", "metric": "p99_ms", "op": "above",
        "threshold": 5.0, "version": None, "state": "firing", "value": 7.5,
        "message": "digits: p99_ms is 7.5, above 5", "severity": "warning", "for_s": 0.0,
    }  # fmt: skip
    record_alert(workspace, "job1", change)
    record_alert(workspace, "job1", {**change, "state": "resolved", "value": 1.0})
    record_alert(workspace, "job2", {**change, "deployment": "other"})
    rows = alert_history("digits", workspace=workspace)
    assert [(r["state"], r["value"]) for r in rows] == [("resolved", 1.0), ("firing", 7.5)]
    assert rows[0]["job_id"] == "job1" and rows[0]["severity"] == "warning"
    assert [r["deployment"] for r in alert_history(state="firing", workspace=workspace)] == [
        "other",
        "digits",
    ]
    assert len(alert_history(limit=1, workspace=workspace)) == 1
    with pytest.raises(SpecError, match="accepted: 'firing', 'resolved'"):
        alert_history(state="loud", workspace=workspace)


def test_schema_3_workspace_is_migrated_to_4_and_on(workspace: Workspace, tmp_path: Path) -> None:
    with workspace.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE alerts"))
        conn.execute(text("UPDATE aimass_meta SET value = '3' WHERE key = 'schema_version'"))
    job = workspace.jobs.create("train", {"kept": True})
    reopened = Workspace(workspace.path, db_url=workspace.db_url)
    assert reopened.store.schema_version == SCHEMA_VERSION
    with reopened.store.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("alerts")}
    assert {"deployment", "rule", "metric", "state", "value", "threshold", "op", "at"} <= columns
    assert reopened.jobs.get(job.id).spec == {"kept": True}
    reopened.store.close()


# ------------------------------------------------------------------------------ Prometheus
def test_prometheus_rules_have_the_shape_prometheus_reads() -> None:
    spec = AlertSpec(
        deployment="digits",
        rules=[
            "error_rate_pct above 5 for 30s",
            {"metric": "p99_ms", "threshold": 250, "version": "2", "severity": "critical"},
            "request_rate below 0.1 for 120s",
            "queue_depth above 100",
            "drift_tv above 0.3 for 60s",
            "drift_psi above 0.2",
        ],
        window_s=120,
    )
    doc = yaml.safe_load(prometheus_rules_yaml(spec, {"0": 30, "1": 70}))
    assert doc == prometheus_rules(spec, {"0": 30, "1": 70})
    assert list(doc) == ["groups"] and len(doc["groups"]) == 1
    group = doc["groups"][0]
    assert group["name"] == "aimass-digits" and len(group["rules"]) == 6
    names = set()
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert rule["alert"].isalnum() and rule["alert"][0].isupper()
        names.add(rule["alert"])
        assert rule["for"][-1] == "s" and rule["labels"]["deployment"] == "digits"
        assert set(rule["annotations"]) == {"summary", "description"}
        assert rule["expr"].count("(") == rule["expr"].count(")")
        assert 'model="digits"' in rule["expr"]
    assert len(names) == 6
    err, p99, rate, depth, tv, psi = group["rules"]
    assert err["expr"].startswith("100 * sum(rate(aimass_request_errors_total{")
    assert err["expr"].endswith(" > 5") and err["for"] == "30s"
    assert "[120s]" in err["expr"] and 'route!="shadow"' in err["expr"]
    assert "histogram_quantile(0.99" in p99["expr"] and 'version="2"' in p99["expr"]
    assert p99["labels"]["severity"] == "critical" and p99["labels"]["version"] == "2"
    assert rate["expr"].endswith(" < 0.1") and rate["for"] == "120s"
    assert depth["expr"] == 'sum(aimass_queue_depth{model="digits"}) > 100'
    assert (
        tv["expr"].startswith("0.5 * (abs(") and "- 0.3)" in tv["expr"] and "- 0.7)" in tv["expr"]
    )
    assert 'class="1"' in tv["expr"] and "aimass_predictions_total" in tv["expr"]
    assert "ln(" in psi["expr"]
    with pytest.raises(Exception, match="class counts"):
        prometheus_rules(spec, None)
    assert (
        AlertRule(metric="p99_ms", threshold=1).label
        in prometheus_rules(AlertSpec(deployment="d", rules=["p99_ms above 1"]))["groups"][0][
            "rules"
        ][0]["annotations"]["summary"]
    )
