"""Redeploying a loaded version with new settings (a live reload), and ``Deployment.start()``
bringing back a deployment whose server died: real server jobs, real HTTP, real kill -9."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from click.testing import CliRunner
from common_helpers import aimass
from deploy_helpers import Load, digits_rows

import aimass_lab as am
from aimass_lab import serve
from aimass_lab.cli import cli
from aimass_lab.serve import DeployError, Deployment, ServeError
from aimass_lab.serve.deploy._records import admin_entry, record
from aimass_lab.workspace import Workspace


def _version(dep: Deployment, label: str) -> dict:
    """The server's admin entry of one version of a running deployment."""
    entry = admin_entry(dep.client, dep.name)
    assert entry is not None
    return next(v for v in entry["versions"] if v["version"] == label)


def _replicas_ready(dep: Deployment, label: str) -> float:
    samples = dep.client.metrics()["aimass_replicas_ready"]
    return next(s["value"] for s in samples if s["labels"] == {"model": dep.name, "version": label})


def _kill_server(ws: Workspace, dep: Deployment) -> None:
    """kill -9 the server job's process group (the server and its replica workers)."""
    job = ws.jobs.get(str(dep.to_dict()["job_id"]))
    assert job.active and job.pid is not None
    os.killpg(job.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while dep.refresh(sync=False).state != "down":
        assert time.monotonic() < deadline, dep.state
        time.sleep(0.1)


def test_redeploy_with_new_settings_reloads_live(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="digits", port=0)
    first = _version(dep, "2")
    assert first["replicas"] == 1 and first["engine"] == "onnxruntime"
    assert dep.endpoint is not None
    with Load(dep.endpoint) as load:
        load.wait_for(20)
        # replicas 1 -> 2: a second copy loads beside the one serving, then takes over
        dep = am.deploy("digits-mlp:2", name="digits", replicas=2)
        load.wait_for(20)
        now = _version(dep, "2")
        assert now["replicas"] == 2 and len(now["workers"]) == 2 and now["ready"]
        assert _replicas_ready(dep, "2") == 2
        # other batching and another engine, in one reload
        dep = am.deploy(
            "digits-mlp:2",
            name="digits",
            replicas=2,
            batching={"max_batch_size": 8, "max_delay_ms": 1},
            engine="torch",
        )
        load.wait_for(20)
        torch = _version(dep, "2")
        assert torch["engine"] == "torch" and torch["replicas"] == 2
        assert torch["batching"] == {
            "max_batch_size": 8,
            "max_delay_ms": 1.0,
            "queue_size": 1024,
            "bucket_by_length": False,
        }
        assert set(torch["workers"]).isdisjoint(now["workers"])
        # the same settings again: nothing is reloaded
        dep = am.deploy(
            "digits-mlp:2",
            name="digits",
            replicas=2,
            batching={"max_batch_size": 8, "max_delay_ms": 1},
            engine="torch",
        )
        assert _version(dep, "2")["workers"] == torch["workers"]
        load.wait_for(20)
    assert set(load.statuses) == {200}, load.statuses  # zero non-2xx through every reload
    assert set(load.versions) == {"2"} and load.mismatches == 0
    # every front door reports what the server runs
    again = serve.get_deployment("digits")
    assert again.split_weights == {"2": 100} and again.previous_split is None
    (version,) = again.to_dict()["versions"]
    assert version["replicas"] == 2 and version["engine"] == "torch"
    assert version["batching"]["max_batch_size"] == 8
    assert again.to_dict()["spec"]["replicas"] == 2
    deploys = [e for e in again.history if e["action"] == "deploy"]
    assert [e.get("changes", {}).keys() for e in deploys] == [
        set(),
        {"replicas"},
        {"batching", "engine"},
        set(),
    ]
    assert deploys[1]["changes"]["replicas"] == [1, 2]
    result = CliRunner().invoke(cli, ["--workspace", str(ws.path), "deployments", "list", "--json"])
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.output)
    assert listed["versions"][0]["replicas"] == 2 and listed["spec"]["replicas"] == 2


def test_a_reload_that_fails_keeps_the_old_settings_serving(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:1", name="digits", port=0)  # torch: version 1 has no ONNX file
    assert _version(dep, "1")["engine"] == "torch"
    with pytest.raises(
        DeployError,
        match=r"could not reload digits-mlp:1 of endpoint 'digits' with engine torch -> "
        r"onnxruntime \(it keeps serving with its old settings\): .*has no model.onnx",
    ):
        am.deploy("digits-mlp:1", name="digits", engine="onnxruntime")
    dep.refresh()
    assert dep.state == "running" and dep.predict(digits_rows(2))["version"] == "1"
    assert _version(dep, "1")["engine"] == "torch"
    assert dep.to_dict()["spec"]["engine"] == "auto"  # the store still tells the truth
    failed = dep.history[-1]
    assert failed["action"] == "deploy" and "has no model.onnx" in failed["error"]
    assert failed["changes"] == {"engine": ["torch", "onnxruntime"]}
    # the server's admin API: a reload is asked for, never implied
    with pytest.raises(ServeError, match=r"'replace' must be true or false, got 'yes'"):
        dep.client.load("digits", "digits-mlp:1", replace="yes")
    with pytest.raises(ServeError, match=r"already serves version 1 .*\"replace\": true"):
        dep.client.load("digits", "digits-mlp:1")


def test_start_brings_back_a_killed_deployment_with_its_split(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="digits", port=0, batching={"max_batch_size": 4})
    dep = am.deploy("digits-mlp:1", name="digits")
    dep.split({"1": 70, "2": 30}, shadow="2")
    assert dep.shadow == "2" and dep.previous_split == {"1": 100}
    old_job = dep.to_dict()["job_id"]
    _kill_server(ws, dep)
    with pytest.raises(DeployError, match=r"aimass deployments start digits"):
        dep.predict(digits_rows(1))

    dep.start()
    assert dep.state == "running" and dep.to_dict()["job_id"] != old_job
    assert dep.versions == ["1", "2"] and dep.split_weights == {"1": 70, "2": 30}
    assert dep.shadow == "2" and dep.previous_split == {"1": 100}
    entry = admin_entry(dep.client, "digits")
    assert entry is not None
    assert entry["split"] == {"1": 70, "2": 30} and entry["shadow"] == "2"
    assert _version(dep, "2")["batching"]["max_batch_size"] == 4  # recorded settings
    answers = {dep.predict(digits_rows(1))["version"] for _ in range(30)}
    assert answers == {"1", "2"}
    assert dep.history[-1]["action"] == "start"
    # running already: start() changes nothing
    job_id = dep.to_dict()["job_id"]
    assert dep.start().to_dict()["job_id"] == job_id
    # rollback still knows the split before
    assert dep.rollback().split_weights == {"1": 100}

    # a stopped deployment starts again too
    dep.stop()
    assert dep.state == "stopped" and serve.server_url() is None
    dep.start()
    assert dep.state == "running" and dep.split_weights == {"1": 100}
    assert dep.predict(digits_rows(1))["version"] == "1"


def test_start_failures_are_recorded(ws: Workspace) -> None:
    # a recorded version that no longer exists in the registry
    record(
        ws,
        "ghost",
        {"action": "deploy", "ref": "digits-mlp:9"},
        state="stopped",
        spec={"model": "digits-mlp:9"},
        versions=[{"version": "9", "ref": "digits-mlp:9", "replicas": 1}],
        split={"9": 100},
    )
    dep = serve.get_deployment("ghost")
    with pytest.raises(
        DeployError, match=r"deployment 'ghost' could not be started: .*has no version 9"
    ):
        dep.start()
    assert dep.state == "failed"
    assert dep.history[-1]["action"] == "start" and "no version 9" in dep.history[-1]["error"]
    assert dep.split_weights == {"9": 100}  # the record is kept, to start again once fixed
    # the server this start started, serving nothing, is stopped again
    assert serve.server_url() is None
    assert [j.active for j in ws.jobs.list(kind="serve")] == [False]
    # nothing recorded to start
    record(ws, "empty", state="stopped", spec={"model": "digits-mlp:2"})
    with pytest.raises(DeployError, match=r"'empty' has no recorded versions to start"):
        serve.get_deployment("empty").start()


def test_cli_deployments_start(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="digits", port=0)
    _kill_server(ws, dep)
    proc = aimass(ws.path, "deployments", "start", "digits", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["state"] == "running" and doc["split"] == {"2": 100}
    assert doc["history"][-1]["action"] == "start"

    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, ["--workspace", str(ws.path), *args])
        return result.exit_code, result.output

    code, out = run("deployments", "start", "digits")  # running: a no-op
    assert code == 0 and out.startswith("digits: running at http://127.0.0.1:") and "2=100" in out
    assert serve.get_deployment("digits").predict(digits_rows(1))["version"] == "2"
    code, out = run("deployments", "start", "nope")
    assert code == 1
    assert (
        "error: no deployment named 'nope' in workspace" in out and "deployments: 'digits'" in out
    )
    code, out = run("deployments", "--help")
    assert code == 0 and "start" in out
