"""Schema 3: the deployments table, its migration from schema 2, and DeploySpec errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from aimass_lab.errors import NotFoundError, SpecError
from aimass_lab.serve.deploy import DeployError, deployments, get_deployment, parse_split
from aimass_lab.serve.deploy._records import read_record, record
from aimass_lab.specs import DeploySpec
from aimass_lab.workspace import SCHEMA_VERSION, Workspace


def test_schema_2_workspace_is_migrated_to_3(workspace: Workspace, tmp_path: Path) -> None:
    # Turn the fresh store into a schema-2 store, as the previous release wrote it.
    with workspace.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE deployments"))
        conn.execute(text("UPDATE aimass_meta SET value = '2' WHERE key = 'schema_version'"))
    with workspace.store.engine.connect() as conn:
        assert not inspect(conn).has_table("deployments")
    job = workspace.jobs.create("train", {"kept": True})
    reopened = Workspace(workspace.path, db_url=workspace.db_url)
    assert reopened.store.schema_version == SCHEMA_VERSION  # and on to the newest schema
    with reopened.store.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("deployments")}
    assert {"name", "state", "spec", "job_id", "url", "versions", "split"} <= columns
    assert {"previous_split", "history", "created_at", "updated_at", "stopped_at"} <= columns
    assert reopened.jobs.get(job.id).spec == {"kept": True}  # older rows survive
    record(reopened, "digits", {"action": "deploy"}, state="running", split={"1": 100})
    assert (read_record(reopened, "digits") or {})["split"] == {"1": 100}


def test_deployments_are_recorded_and_listed(workspace: Workspace) -> None:
    assert deployments(workspace) == []
    record(
        workspace,
        "digits",
        {"action": "deploy", "ref": "digits-mlp:2"},
        state="running",
        spec={"model": "digits-mlp:2"},
        url="http://127.0.0.1:9",
        versions=[{"version": "2", "ref": "digits-mlp:2"}],
        split={"2": 100},
    )
    record(workspace, "other", state="stopped", spec={"model": "x:1"})
    found = deployments(workspace)
    assert [d.name for d in found] == ["digits", "other"]
    dep = get_deployment("digits", workspace)
    assert dep.versions == ["2"] and dep.split_weights == {"2": 100}
    assert dep.endpoint == "http://127.0.0.1:9/v1/models/digits/predict"
    assert dep.state == "down"  # recorded running, but no server job runs
    doc = dep.to_dict()
    assert doc["history"][0]["action"] == "deploy" and doc["infer_url"].endswith("/infer")
    assert "Deployment digits" in dep._repr_html_()
    assert [d.name for d in deployments(workspace, all=False)] == []
    with pytest.raises(DeployError, match=r"server of deployment 'digits' .* is not running"):
        dep.predict([[0.0] * 64])
    with pytest.raises(DeployError, match=r"deployment 'other' is already stopped"):
        get_deployment("other", workspace).stop()
    with pytest.raises(NotFoundError, match=r"no deployment named 'nope'.*'digits', 'other'"):
        get_deployment("nope", workspace)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (["3=abc"], r"bad split entry 3='abc': the weight must be an integer from 0 to 100"),
        (["3=90", "4=20"], r"bad split 3=90 4=20: the weights sum to 110, not 100"),
        (["3"], r"bad split entry '3': expected VERSION=WEIGHT"),
        (["x=100"], r"'x' is not a version number"),
        (["3=50", "3=50"], r"version 3 appears twice"),
        ({"3": 100.5}, r"must be an integer"),
        ([], r"empty split"),
    ],
)
def test_bad_splits_are_named(weights: object, message: str) -> None:
    with pytest.raises(DeployError, match=message) as info:
        parse_split(weights)  # type: ignore[arg-type]
    assert "accepted: VERSION=WEIGHT pairs" in str(info.value)


def test_good_splits() -> None:
    assert parse_split(["3=90", "4=10"]) == {"3": 90, "4": 10}
    assert parse_split({3: 100.0, "4": 0}) == {"3": 100, "4": 0}


def test_deploy_spec_errors_name_the_field() -> None:
    spec = DeploySpec(model="digits-mlp:3", batching=False)
    assert spec.endpoint == "digits-mlp" and spec.batching.max_batch_size == 1
    assert DeploySpec.from_dict(spec.to_dict()) == spec
    cases = {
        "model: got 'a b:3': invalid model name 'a b'": {"model": "a b:3"},
        "replicas: got 0: Input should be greater than or equal to 1": {
            "model": "m",
            "replicas": 0,
        },
        "engine: got 'tf': unknown engine 'tf'; accepted: 'auto', 'onnxruntime', 'torch'": {
            "model": "m",
            "engine": "tf",
        },
        "batching.max_batch_size: got 0": {"model": "m", "batching": {"max_batch_size": 0}},
        "batching.foo: unknown field 'foo'; accepted: max_batch_size, max_delay_ms, queue_size": {
            "model": "m",
            "batching": {"foo": 1},
        },
        "name: got 'a/b': invalid endpoint name 'a/b'": {"model": "m", "name": "a/b"},
        "port: got 70000": {"model": "m", "port": 70000},
    }
    for message, data in cases.items():
        with pytest.raises(SpecError) as info:
            DeploySpec.from_dict(data)  # type: ignore[arg-type]
        assert message in str(info.value), (message, str(info.value))
