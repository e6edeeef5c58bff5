"""``aimass deploy`` and ``aimass deployments ...``: a real CLI process, then in-process calls."""

from __future__ import annotations

import json

import httpx
from click.testing import CliRunner
from common_helpers import aimass
from deploy_helpers import digits_rows

from aimass_lab.cli import cli
from aimass_lab.workspace import Workspace


def test_cli_deploy_and_manage_deployments(ws: Workspace) -> None:
    proc = aimass(ws.path, "deploy", "digits-mlp:2", "--name", "digits", "--port", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["state"] == "running" and doc["split"] == {"2": 100}
    # The command returned once ready, and the server outlives it (a workspace job).
    reply = httpx.post(doc["endpoint"], json={"inputs": digits_rows(2)}, timeout=10)
    assert reply.status_code == 200 and reply.headers["x-model-version"] == "2"
    oip = httpx.post(
        doc["infer_url"],
        json={
            "inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64}]
        },
        timeout=10,
    )
    assert oip.status_code == 200 and oip.json()["outputs"][0]["shape"] == [1, 10]

    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, ["--workspace", str(ws.path), *args])
        return result.exit_code, result.output

    code, out = run("deploy", "digits-mlp:1", "--name", "digits", "--no-batching")
    assert code == 0, out
    assert "deployed digits-mlp:1 as 'digits'" in out and "split:  1=100" in out
    code, out = run("deployments", "list", "--json")
    assert code == 0 and [d["name"] for d in json.loads(out)] == ["digits"]
    code, out = run("deployments", "list")
    assert "digits" in out and "running" in out and "1=100" in out
    code, out = run("deployments", "split", "digits", "1=90", "2=10", "--json")
    assert code == 0, out
    assert json.loads(out)["split"] == {"1": 90, "2": 10}
    code, out = run("deployments", "rollback", "digits")
    assert code == 0 and "rolled back to split 1=100" in out
    code, out = run("deployments", "show", "digits", "--json")
    shown = json.loads(out)
    assert shown["split"] == {"1": 100} and shown["previous_split"] == {"1": 90, "2": 10}
    assert set(shown["metrics"]) >= {"2"} and shown["metrics"]["2"]["requests"] >= 1
    code, out = run("deployments", "show", "digits")
    assert "versions" in out and "1 (digits-mlp:1), 2 (digits-mlp:2)" in out

    # bad input: one clear line each, exit code 1
    for args, message in [
        (
            ("deployments", "split", "digits", "3=abc"),
            "error: bad split entry 3='abc': the weight must be an integer from 0 to 100; "
            "accepted: VERSION=WEIGHT pairs",
        ),
        (
            ("deployments", "split", "digits", "1=90", "2=20"),
            "error: bad split 1=90 2=20: the weights sum to 110, not 100",
        ),
        (
            ("deployments", "split", "digits", "1=90", "5=10"),
            "error: version 5 is not loaded in deployment 'digits'; loaded: 1, 2",
        ),
        (
            ("deployments", "show", "nope"),
            "error: no deployment named 'nope' in workspace",
        ),
        (("deployments", "stop", "nope"), "deployments: 'digits'"),
        (("deploy", "nope:1"), "error: no model named 'nope' in the registry"),
        (("deploy", "digits-mlp:2", "--replicas", "0"), "replicas: got 0"),
        (
            ("deploy", "digits-mlp:2", "--name", "other", "--port", "1"),
            "error: the workspace's inference server already runs on port",
        ),
    ]:
        code, out = run(*args)
        assert code == 1 and message in out, (args, out)

    proc = aimass(ws.path, "deployments", "stop", "digits", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == "stopped"
    assert not [j for j in ws.jobs.list(kind="serve") if j.active]
    code, out = run("deployments", "list", "--running", "--json")
    assert json.loads(out) == []
