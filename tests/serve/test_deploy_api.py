"""``aimass_lab.deploy`` on a real workspace: a real server job, real HTTP, live changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deploy_helpers import Load, digits_rows

import aimass_lab as am
from aimass_lab import registry, serve
from aimass_lab.errors import NotFoundError, SpecError
from aimass_lab.serve import DeployError
from aimass_lab.workspace import Workspace


def test_deploy_hot_swap_split_rollback_under_load(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="digits", port=0)
    assert dep.state == "running" and dep.versions == ["2"] and dep.split_weights == {"2": 100}
    assert dep.endpoint is not None and dep.endpoint.endswith("/v1/models/digits/predict")
    assert dep.url == serve.server_url()
    answer = dep.predict(digits_rows(3))
    assert answer["model"] == "digits" and answer["version"] == "2"
    assert len(answer["predictions"]) == 3 and len(answer["confidence"]) == 3
    assert dep.infer([[0.0] * 64] * 2).shape == (2, 10)
    with Load(dep.endpoint) as load:
        load.wait_for(20)
        # a new version of the same endpoint: loaded while 2 serves, then 100% to it
        dep = am.deploy("digits-mlp:1", name="digits")
        assert dep.versions == ["1", "2"] and dep.split_weights == {"1": 100}
        assert dep.previous_split == {"2": 100}
        load.wait_for(20)
        dep.split({"1": 50, "2": 50})
        load.wait_for(40)
        dep.rollback()
        assert dep.split_weights == {"1": 100}
        load.wait_for(20)
        dep.rollback()  # rolls forward again: the split it replaced
        assert dep.split_weights == {"1": 50, "2": 50}
        load.wait_for(20)
    assert set(load.statuses) == {200}, load.statuses  # zero non-2xx through every change
    assert load.versions["1"] > 0 and load.versions["2"] > 0 and load.mismatches == 0
    # the store has it all, for every front door
    again = serve.get_deployment("digits")
    assert again.split_weights == {"1": 50, "2": 50}
    assert again.refs == {"1": "digits-mlp:1", "2": "digits-mlp:2"}
    assert [e["action"] for e in again.history] == [
        "deploy",
        "deploy",
        "split",
        "rollback",
        "rollback",
    ]
    assert [d.name for d in serve.deployments()] == ["digits"]
    metrics = dep.metrics()
    assert set(metrics) == {"1", "2"}
    assert metrics["1"]["requests"] > 0 and metrics["1"]["errors"] == 0
    assert metrics["1"]["p50_ms"] > 0 and metrics["1"]["rps"] > 0
    # bad input, with the reason
    with pytest.raises(
        DeployError, match=r"version 7 is not loaded in deployment 'digits'; loaded: 1, 2"
    ):
        dep.split({"1": 50, "7": 50})
    with pytest.raises(DeployError, match=r"the weights sum to 90, not 100"):
        dep.split({"1": 50, "2": 40})
    with pytest.raises(NotFoundError, match=r"no model named 'nope' in the registry"):
        am.deploy("nope:1", name="digits")
    with pytest.raises(NotFoundError, match=r"model 'digits-mlp' has no version 9; versions: 1, 2"):
        am.deploy("digits-mlp:9")
    with pytest.raises(SpecError, match=r"replicas: got 0"):
        am.deploy("digits-mlp:2", replicas=0)
    with pytest.raises(DeployError, match=r"already runs on port \d+"):
        am.deploy("digits-mlp:2", name="other", port=1)
    # stop: unloaded, recorded, and the server job ends (nothing else is served)
    job_id = dep.to_dict()["job_id"]
    dep.stop()
    assert dep.state == "stopped" and serve.server_url() is None
    assert not ws.jobs.get(job_id).active
    with pytest.raises(DeployError, match=r"deployment 'digits' is already stopped"):
        dep.stop()
    with pytest.raises(DeployError, match=r"deployment 'digits' is stopped; deploy it again"):
        dep.predict(digits_rows(1))


def test_second_endpoint_shares_the_server(ws: Workspace, tmp_path: Path) -> None:
    first = am.deploy("digits-mlp:2", name="a", port=0, batching=False)
    second = am.deploy("digits-mlp:1", name="b", replicas=1, engine="torch")
    assert first.url == second.url  # one server per workspace
    assert second.predict(digits_rows(1))["version"] == "1"
    # another registry model may not take over an endpoint that serves digits-mlp
    folder = tmp_path / "other"
    folder.mkdir()
    for name, path in registry.get("digits-mlp:2", workspace=ws).files().items():
        shutil.copyfile(path, folder / name)
    registry.register(folder, "other", workspace=ws)
    with pytest.raises(
        DeployError, match=r"endpoint 'a' serves model 'digits-mlp', not 'other'; stop it first"
    ):
        am.deploy("other:1", name="a")
    first.stop()
    assert serve.server_url() == second.url  # b still served
    assert second.predict(digits_rows(1))["version"] == "1"
    second.stop()
    assert serve.server_url() is None


def test_default_port_taken_after_the_check_falls_back_to_a_free_port(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from aimass_lab.serve.deploy import _server_job as _deploy

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        # The port looks free when checked, and is taken when the server binds it.
        monkeypatch.setattr(_deploy, "DEFAULT_PORT", busy)
        monkeypatch.setattr(_deploy, "_port_free", lambda port, host="127.0.0.1": True)
        job = _deploy.ensure_server(ws)
    assert job.active
    assert int(job.result["port"]) != busy
    failed = [j for j in ws.jobs.list(kind="serve") if j.state == "failed"]
    assert len(failed) == 1 and "Address already in use" in (failed[0].exit_reason or "")
    assert failed[0].result["port_in_use"] == busy  # what the fallback reads, not the text
