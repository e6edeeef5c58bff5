"""``GET /aimass-lab/api/v1/alerts``: the alert history and the watchers, through a real
Jupyter Server on a real workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab_helpers import api_error, api_json

from aimass_lab.serve.deploy._alerts_job import record_alert
from aimass_lab.workspace import Workspace


async def test_alert_history_through_the_api(jp_fetch: Any, ws_path: Path) -> None:
    assert await api_json(jp_fetch, "alerts") == {"alerts": [], "watchers": []}
    ws = Workspace(ws_path)
    base = {
        "rule": "error_rate_pct above 5", "metric": "error_rate_pct", "op": "above",
        "threshold": 5.0, "message": "digits: error_rate_pct is 40, above 5",
    }  # fmt: skip
    record_alert(ws, "j1", {**base, "deployment": "digits", "state": "firing", "value": 40.0})
    record_alert(ws, "j1", {**base, "deployment": "digits", "state": "resolved", "value": 0.0})
    record_alert(ws, "j2", {**base, "deployment": "iris", "state": "firing", "value": 9.0})
    doc = await api_json(jp_fetch, "alerts")
    assert [(a["deployment"], a["state"]) for a in doc["alerts"]] == [
        ("iris", "firing"),
        ("digits", "resolved"),
        ("digits", "firing"),
    ]
    assert doc["alerts"][0]["at"].endswith("Z") and doc["alerts"][0]["job_id"] == "j2"
    only = await api_json(jp_fetch, "alerts", params={"deployment": "digits", "state": "firing"})
    assert [a["value"] for a in only["alerts"]] == [40.0]
    assert len((await api_json(jp_fetch, "alerts", params={"limit": "1"}))["alerts"]) == 1
    code, body = await api_error(jp_fetch, "alerts", params={"state": "loud"})
    assert code == 422 and "accepted: 'firing', 'resolved'" in body["error"]
    code, body = await api_error(jp_fetch, "alerts", params={"limit": "0"})
    assert code == 422 and "accepted: 1 to 100000" in body["error"]
    code, body = await api_error(jp_fetch, "alerts", params={"limit": "many"})
    assert code == 422 and "expected an integer" in body["error"]
