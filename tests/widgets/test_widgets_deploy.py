"""CompressPanel and DeployPanel on a real model: compress job, pick, deploy, split, metrics."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from widgets_helpers import poll_until

import aimass_lab._display
from aimass_lab.workspace import Workspace


@pytest.fixture
def ws(trained: dict[str, Any], tmp_path: Path) -> Iterator[Workspace]:
    """A private copy of the trained workspace (``iris-mlp:1`` alone, no compress job, no
    deployment), whatever other tests did to the shared one; its servers stop after the test."""
    shutil.copytree(trained["workspace"].path, tmp_path / "ws")
    workspace = Workspace(tmp_path / "ws")
    yield workspace
    for job in workspace.jobs.list():
        if job.active:
            workspace.jobs.cancel(job.id)
            workspace.jobs.wait(job.id, timeout=60)


def ws_dataset_rows(ws: Workspace, ref: str) -> list[dict[str, Any]]:
    """The first two raw rows of a version's test split, as records."""
    from aimass_lab import datasets, registry

    dataset = datasets.load(registry.get(ref, workspace=ws).config["data_spec"], workspace=ws)
    return [row["values"] for row in dataset.preview("test", n=2)["rows"]]


def test_compress_panel_runs_a_job_and_picks_a_variant(ws: Workspace) -> None:
    from aimass_lab.widgets import CompressPanel

    panel = CompressPanel(workspace=ws)
    assert panel.model.value == "iris-mlp:1"
    panel.finetune.value = 1
    panel.run_button.click()
    assert panel.last_error is None, panel.status.value
    assert panel.job is not None and panel.run_button.disabled
    assert [j.kind for j in ws.jobs.list(kind="compress")] == ["compress"]
    panel.stop_polling()
    poll_until(panel.refresh)
    assert panel.job.status == "succeeded", panel.status.value
    refs = list(panel.points.customdata)
    assert refs == ["iris-mlp:1", "iris-mlp:2", "iris-mlp:3"]
    assert len(panel.front_line.x) >= 1  # the Pareto front (drawn first: under the markers)
    assert "prune:structured:0.5" in panel.table.value

    class Points:
        point_inds = [2]

    assert panel.deploy_button.disabled
    panel._on_point_click(panel.points, Points())
    assert panel.selected == "iris-mlp:3" and "quantize" in panel.selected_label.value
    panel.alias.value = "edge"
    panel.alias_button.click()
    assert "iris-mlp:edge now points to iris-mlp:3" in panel.status.value
    from aimass_lab.widgets import _display

    shown = _display.panel_for(panel.report)  # a CompressionReport's rich display
    assert isinstance(shown, CompressPanel) and list(shown.points.customdata) == refs
    shown.close()
    handed: list[str] = []
    panel.on_deploy.append(handed.append)
    panel.deploy_button.click()
    assert handed == ["iris-mlp:3"]


def test_deploy_panel_deploys_splits_alerts_and_rolls_back(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aimass_lab.widgets import DeployPanel, ModelsPanel

    panel = DeployPanel(workspace=ws)
    waiting = [a.text for a in panel.metrics_chart.layout.annotations if a.name == "waiting"]
    assert waiting and "waiting for the first request" in waiting[0]  # no made-up axes
    panel.model.value = "iris-mlp:1"
    panel.endpoint_name.value = "bad name!"
    assert panel.deploy_button.disabled and "&#9888;" in panel.endpoint_name.error.value
    panel.endpoint_name.value = "iris"
    panel.deploy_button.click()
    assert panel.last_error is None, panel.status.value
    panel.stop_polling()
    dep = panel.deployment
    assert dep is not None and dep.state == "running" and dep.split_weights == {"1": 100}
    assert dep.endpoint in panel.curl.text and "curl -s -X POST" in panel.curl.text
    assert "httpx.post" in panel.python.text and "get_deployment('iris')" in panel.python.text
    # what a learner sends is the raw rows of the test split, as records, not model-ready
    # (standardised) numbers; the URL through Jupyter's proxy is shown and in the snippet
    body = json.loads(panel.request.value)
    test_rows = ws_dataset_rows(ws, "iris-mlp:1")
    assert body == {"records": test_rows} and "sepal length (cm)" in test_rows[0]
    assert "/aimass-lab/serve/v1/models/iris/predict" in panel.info.value
    assert '"$JUPYTER_URL/aimass-lab/serve/v1/models/iris/predict"' in panel.curl.text
    assert f"predict(records={json.dumps(test_rows)})" in panel.python.text
    assert panel.python.text.count(json.dumps(test_rows)) == 2

    result = panel.predict()
    assert result is not None, panel.status.value
    assert result["version"] == "1" and len(result["predictions"]) == 2
    assert "answered by version 1" in panel.response.value
    # the answer is a table: class names as columns, probabilities rounded to 3 places
    answer = panel.response.value
    for name in ("setosa", "versicolor", "virginica"):
        assert f"<th>{name}</th>" in answer
    first = result["probabilities"][0][0]
    assert f">{first:.3f}<div" in answer and repr(first) not in answer.split("<details>")[0]

    # a second version, hot-swapped, then a canary split from the slider
    second = _second_version(ws)
    v2 = second.partition(":")[2]
    assert panel.deploy(second) is not None, panel.status.value
    panel.stop_polling()
    assert set(panel.sliders) == {"1", v2} and panel.deployment.split_weights == {v2: 100}
    panel.sliders["1"].value = 30
    assert panel.deployment.split_weights == {"1": 30, v2: 70}, panel.status.value
    assert panel.sliders[v2].value == 70

    for _ in range(4):
        panel.predict()
    panel.p99_limit.value = 1e-6  # any real request is slower: the alert must show
    assert panel.refresh() is True
    assert panel.refresh() is True
    rps = panel.metrics_chart.data[0].y
    assert len(rps) >= 2 and panel.metrics_chart.data[2].y[-1] > 0
    assert not [a for a in panel.metrics_chart.layout.annotations if a.name == "waiting"]
    assert panel.alerts and "p99 latency" in panel.alert.value
    panel.p99_limit.value = 0.0
    assert not panel.alerts and panel.alert.value == ""

    panel.rollback_button.click()
    assert panel.deployment.split_weights == {v2: 100}, panel.status.value
    assert panel.sliders["1"].value == 0
    # the lineage reads the current split: v1 is loaded but serves nothing now
    from aimass_lab.lab._lineage import model_lineage

    old, new = model_lineage("iris-mlp:1", ws), model_lineage(second, ws)
    assert old["deployments"] == [] and new["deployments"] == ["iris"]
    assert {"source": "model:iris-mlp:1", "target": "deployment:iris",
            "label": "loaded, 0% of traffic"} in old["edges"]  # fmt: skip
    assert {"source": f"model:{second}", "target": "deployment:iris",
            "label": "deployed"} in new["edges"]  # fmt: skip

    models = ModelsPanel(workspace=ws)
    models.select("iris-mlp:1")
    assert models.lineage_nodes[-1]["kind"] == "deployment"

    from aimass_lab.widgets import _display

    monkeypatch.setattr(aimass_lab._display, "in_kernel", lambda: True)
    bundle = panel.deployment._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle
    shown = _display.panel_for(panel.deployment)
    assert isinstance(shown, DeployPanel) and shown.deployment.name == "iris"
    shown.close()

    assert panel.start_button.disabled  # running
    panel.stop_button.click()  # asks first, naming the endpoint; "Keep it running" keeps it
    assert panel.confirm.asking and panel.confirm.yes.description == "Confirm stop iris"
    panel.confirm.no.click()
    assert not panel.confirm.asking and panel.deployment.state == "running"
    panel.stop_button.click()
    panel.confirm.yes.click()
    assert "stopped" in panel.status.value and panel.refresh() is False
    assert not panel.start_button.disabled and panel.stop_button.disabled
    weights = panel.deployment.split_weights
    panel.start_button.click()  # served again as recorded
    assert "running" in panel.status.value, panel.status.value
    assert panel.deployment.state == "running" and panel.deployment.split_weights == weights
    assert panel.start_button.disabled and not panel.stop_button.disabled
    panel.stop_polling()
    assert len(panel.predict()["predictions"]) == 2, panel.status.value
    panel.stop_button.click()
    panel.confirm.yes.click()
    assert panel.deployment.state == "stopped"


def _second_version(ws: Any) -> str:
    """Register the trained run again: version 2 of the same model."""
    from aimass_lab import registry

    versions = registry.list("iris-mlp", workspace=ws)
    plain = [mv for mv in versions if not mv.lineage.get("compression")]
    run_id = plain[-1].run_id
    return registry.register(run_id, "iris-mlp", workspace=ws).ref
