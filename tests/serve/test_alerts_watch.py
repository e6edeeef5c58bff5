"""Alerts without a notebook: a real ``alerts`` watcher job on a real inference server,
real bad requests (error rate) and skewed inputs (drift), a real webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from common_helpers import wait_for
from deploy_helpers import digits_rows

import aimass_lab as am
from aimass_lab import registry
from aimass_lab.errors import NotFoundError
from aimass_lab.serve import alert_history, alert_rules, stop_alerts
from aimass_lab.workspace import Workspace


class Hook:
    """A webhook receiver: a real HTTP server on 127.0.0.1 keeping every JSON body POSTed."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def states(self, metric: str) -> list[str]:
        return [b["status"] for b in self.bodies if b["metric"] == metric]


@pytest.fixture
def watched(ws: Workspace) -> Iterator[Workspace]:
    """The ``ws`` fixture; every alerts watcher the test starts is stopped after it."""
    yield ws
    for job in ws.jobs.list(kind="alerts"):
        if job.active:
            ws.jobs.cancel(job.id)
            ws.jobs.wait(job.id, timeout=30)


def _changes(ws: Workspace, metric: str) -> list[str]:
    return [
        a["state"] for a in reversed(alert_history("digits", workspace=ws)) if a["metric"] == metric
    ]


def test_watcher_fires_and_resolves_and_calls_the_webhook(watched: Workspace) -> None:
    ws = watched
    counts = registry.get("digits-mlp:2", ws).config["class_counts"]
    assert sorted(counts, key=int) == [str(i) for i in range(10)]
    assert sum(counts.values()) > 1000  # the training part of digits
    dep = am.deploy("digits-mlp:2", name="digits", port=0)
    with Hook() as hook:
        job = am.watch_alerts(
            "digits",
            ["error_rate_pct above 30", {"metric": "drift_tv", "threshold": 0.5}],
            interval_s=0.1,
            window_s=1.0,
            drift_min_predictions=30,
            webhook=hook.url,
            webhook_retries=0,
        )
        assert job.kind == "alerts" and job.spec["deployment"] == "digits"
        wait_for(
            lambda: "first scrape" in ws.jobs.logs(job.id),
            timeout=60,
            what="the watcher's first scrape",
        )
        assert [w["job_id"] for w in alert_rules("digits", workspace=ws)] == [job.id]
        # 1. bad requests (wrong number of features): the error rate fires, then resolves
        with httpx.Client(timeout=30) as client:
            for _ in range(8):
                reply = client.post(dep.endpoint, json={"inputs": [[1.0, 2.0, 3.0]]})
                assert reply.status_code == 400
        wait_for(lambda: _changes(ws, "error_rate_pct") == ["firing", "resolved"], timeout=60,
                 what="the error-rate alert to fire and resolve")  # fmt: skip
        # 2. skewed inputs: the same digit 60 times, the predicted classes drift
        one = digits_rows(1) * 60
        assert len(set(dep.predict(one)["predictions"])) == 1
        predicted = dep.metrics()["2"]["predictions"]  # aimass_predictions_total{class}
        assert sum(predicted.values()) == 60 and len([n for n in predicted.values() if n]) == 1
        wait_for(lambda: _changes(ws, "drift_tv") == ["firing", "resolved"], timeout=60,
                 what="the drift alert to fire and resolve")  # fmt: skip
        wait_for(lambda: len(hook.bodies) >= 4, timeout=30, what="4 webhook calls")
    history = alert_history("digits", workspace=ws)
    fired = {a["metric"]: a for a in history if a["state"] == "firing"}
    assert fired["error_rate_pct"]["value"] == pytest.approx(100.0)
    assert fired["drift_tv"]["value"] > 0.5 and fired["drift_tv"]["job_id"] == job.id
    assert "digits: drift_tv is" in fired["drift_tv"]["message"]
    assert hook.states("error_rate_pct") == ["firing", "resolved"]
    assert hook.states("drift_tv") == ["firing", "resolved"]
    body = hook.bodies[0]
    assert body["source"] == "aimass-lab" and body["deployment"] == "digits"
    assert {"rule", "value", "threshold", "at", "message"} <= set(body)
    # the watcher runs detached, until stopped
    assert ws.jobs.get(job.id).state == "running"
    assert stop_alerts("digits", workspace=ws) == 1
    assert not ws.jobs.get(job.id).active
    assert alert_rules("digits", workspace=ws) == []


def test_a_failing_webhook_is_logged_and_the_watch_goes_on(watched: Workspace) -> None:
    ws = watched
    dep = am.deploy("digits-mlp:1", name="digits", port=0)
    job = am.watch_alerts(
        "digits", "error_rate_pct above 10", interval_s=0.1, window_s=1.0,
        webhook="http://127.0.0.1:9/nobody", webhook_retries=1, webhook_timeout_s=1.0,
    )  # fmt: skip
    wait_for(lambda: "first scrape" in ws.jobs.logs(job.id), timeout=60, what="the first scrape")
    with httpx.Client(timeout=30) as client:
        for _ in range(5):
            assert client.post(dep.endpoint, json={"inputs": [[1.0]]}).status_code == 400
    wait_for(lambda: _changes(ws, "error_rate_pct") == ["firing", "resolved"], timeout=60,
             what="the alert to fire and resolve without its webhook")  # fmt: skip
    log = ws.jobs.logs(job.id)
    assert "webhook http://127.0.0.1:9/nobody attempt 2/2 failed: ConnectError" in log
    assert ws.jobs.get(job.id).state == "running"
    # a second watcher replaces the first
    again = am.watch_alerts("digits", ["p99_ms above 1000"], interval_s=0.1)
    assert not ws.jobs.get(job.id).active and ws.jobs.get(again.id).active


def test_a_watcher_for_an_unknown_deployment_is_refused(watched: Workspace) -> None:
    with pytest.raises(
        NotFoundError, match="no deployment named 'nope' to watch; accepted: none yet"
    ):
        am.watch_alerts("nope", ["p99_ms above 100"])
    assert watched.jobs.list(kind="alerts") == []
