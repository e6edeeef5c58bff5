"""``aimass alerts ...`` in real processes: watch, rules, list, export-prometheus, stop, and
the errors of bad rules and unknown deployments."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from common_helpers import aimass

import aimass_lab as am
from aimass_lab.serve.deploy._alerts_job import record_alert
from aimass_lab.workspace import Workspace


@pytest.fixture
def watched(ws: Workspace) -> Iterator[Workspace]:
    """The ``ws`` fixture; every alerts watcher started is stopped after the test."""
    yield ws
    for job in ws.jobs.list(kind="alerts"):
        if job.active:
            ws.jobs.cancel(job.id)
            ws.jobs.wait(job.id, timeout=30)


def test_alerts_commands(watched: Workspace, tmp_path: Path) -> None:
    ws = watched
    am.deploy("digits-mlp:1", name="digits", port=0)
    started = aimass(
        ws.path, "alerts", "watch", "digits", "--rule", "error_rate_pct above 30 for 5s",
        "--rule", "drift_tv above 0.4", "--interval", "0.5", "--json", check=True,
    )  # fmt: skip
    doc = json.loads(started.stdout)
    assert ws.jobs.get(doc["job_id"]).kind == "alerts" and doc["interval_s"] == 0.5
    rules = aimass(ws.path, "alerts", "rules", check=True).stdout
    assert "error_rate_pct above 30 for 5s" in rules and "drift_tv above 0.4" in rules
    assert doc["job_id"] in rules

    out = tmp_path / "digits-alerts.yml"
    aimass(ws.path, "alerts", "export-prometheus", "digits", "-o", str(out), check=True)
    exported = yaml.safe_load(out.read_text())
    (group,) = exported["groups"]
    assert [r["for"] for r in group["rules"]] == ["5s", "0s"]
    for rule in group["rules"]:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
    assert 'aimass_predictions_total{model="digits",class="7"}' in group["rules"][1]["expr"]
    if shutil.which("promtool"):  # Prometheus's own check, when it is installed
        subprocess.run(["promtool", "check", "rules", str(out)], check=True)
    printed = aimass(
        ws.path, "alerts", "export-prometheus", "digits", "--rule", "p99_ms above 250", check=True
    ).stdout
    assert yaml.safe_load(printed)["groups"][0]["rules"][0]["expr"].endswith(" > 250")

    record_alert(
        ws, doc["job_id"],
        {"deployment": "digits", "rule": "drift_tv above 0.4", "metric": "drift_tv", "op": "above",
         "threshold": 0.4, "state": "firing", "value": 0.8, "message": "digits: drift_tv is 0.8"},
    )  # fmt: skip
    listed = json.loads(aimass(ws.path, "alerts", "list", "digits", "--json", check=True).stdout)
    assert [(a["rule"], a["state"], a["value"]) for a in listed] == [
        ("drift_tv above 0.4", "firing", 0.8)
    ]
    table = aimass(ws.path, "alerts", "list", check=True).stdout
    assert "drift_tv above 0.4" in table and "firing" in table
    stopped = aimass(ws.path, "alerts", "stop", "digits", check=True).stdout
    assert "stopped 1 watcher(s) of digits" in stopped
    assert not ws.jobs.get(doc["job_id"]).active
    assert "(none)" in aimass(ws.path, "alerts", "rules", check=True).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["digits", "--rule", "latency above 3"],
            "unknown alert metric 'latency'; accepted: 'error_rate_pct'",
        ),
        (["digits", "--rule", "drift_tv above 2"], "threshold 2.0 is impossible for drift_tv"),
        (["digits", "--rule", "p99_ms above 5", "--webhook", "mail:me"], "http:// or https:// URL"),
        (["nope", "--rule", "p99_ms above 5"], "no deployment named 'nope' to watch"),
    ],
)
def test_bad_alerts_commands_say_what_is_accepted(
    tmp_path: Path, args: list[str], message: str
) -> None:
    proc = aimass(tmp_path / "ws", "alerts", "watch", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr


def test_export_needs_rules_or_a_watcher(tmp_path: Path) -> None:
    proc = aimass(tmp_path / "ws", "alerts", "export-prometheus", "digits")
    assert proc.returncode == 1
    assert "deployment 'digits' has no running alerts watcher" in proc.stderr
