"""The Deploy panel lists the alert history the ``alerts`` watcher recorded in the store."""

from __future__ import annotations

from aimass_lab.serve.deploy._alerts_job import record_alert
from aimass_lab.workspace import Workspace


def test_deploy_panel_shows_the_stored_alert_history(sqlite_workspace: Workspace) -> None:
    from aimass_lab.widgets import DeployPanel

    ws = sqlite_workspace
    panel = DeployPanel(workspace=ws)
    panel.stop_polling()
    panel.show_alert_history("iris", force=True)
    assert "no alerts watcher" in panel.alert_history.value
    assert "aimass-alert-history" not in panel.alert_history.value
    change = {
        "deployment": "iris", "rule": "p99_ms above 50", "metric": "p99_ms", "op": "above",
        "threshold": 50.0, "message": "iris: p99_ms is 75, above 50",
    }  # fmt: skip
    record_alert(ws, "j1", {**change, "state": "firing", "value": 75.0})
    record_alert(ws, "j1", {**change, "state": "resolved", "value": 12.0})
    record_alert(ws, "j1", {**change, "deployment": "other", "state": "firing", "value": 99.0})
    panel.show_alert_history("iris")  # read a moment ago: not read again yet
    assert "aimass-alert-history" not in panel.alert_history.value
    panel.show_alert_history("iris", force=True)
    html = panel.alert_history.value
    assert "aimass-alert-history" in html and html.count("p99_ms above 50") == 2
    assert html.index("resolved") < html.index("firing")  # newest first
    assert "<td>75</td>" in html and "<td>12</td>" in html and "<td>99</td>" not in html
    assert panel.alert_history in panel.children
    panel.close()
