"""The REST routes added for the sidebar (studies, lineage, compress, deployments, OpenAPI),
through a real Jupyter Server (pytest-jupyter) over a workspace with a real study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import api_error, api_json

from aimass_lab._version import __version__
from aimass_lab.lab import _openapi
from aimass_lab.lab._handlers import ROUTES
from aimass_lab.workspace import Workspace

#: each test's server works on a private copy of the study workspace (conftest.ws_path), so
#: what one test writes (a compress job) is never seen by another
pytestmark = pytest.mark.study_copy


def _field_errors(payload: dict[str, Any]) -> dict[str, str]:
    """The message of each field of a 422 answer, by field."""
    return {e["field"]: e["message"] for e in payload["errors"]}


# ------------------------------------------------------------------------------------ studies
async def test_studies(jp_fetch: Any, lab_study_ws: dict[str, Any], ws_path: Path) -> None:
    studies = await api_json(jp_fetch, "studies")
    assert [s["study"] for s in studies] == ["iris-study"]
    assert studies[0]["n_trials"] == 1 and studies[0]["directions"] == ["maximize"]
    assert studies[0]["status"] == "finished"

    study = await api_json(jp_fetch, "studies", "iris-study")
    assert study["study"] == "iris-study" and study["objectives"] == ["val_acc:max"]
    assert [t["state"] for t in study["trials"]] == ["COMPLETE"]
    assert study["best"][0]["run_id"] == lab_study_ws["run_id"]
    assert study["best_trials"] == [0]

    code, body = await api_error(jp_fetch, "studies", "nope")
    assert code == 404
    assert body["error"] == "no study 'nope' in the workspace; accepted: 'iris-study'"
    assert not (ws_path / "studies" / "nope.journal").exists()


# ------------------------------------------------------------------------------------ lineage
async def test_lineage_from_dataset_to_derived_version(
    jp_fetch: Any, lab_study_ws: dict[str, Any]
) -> None:
    run_id, parent, child = lab_study_ws["run_id"], lab_study_ws["parent"], lab_study_ws["child"]
    doc = await api_json(jp_fetch, "models", child, "lineage")
    assert doc["ref"] == child and doc["ancestors"] == [parent, child]
    kinds = {n["id"]: n["kind"] for n in doc["nodes"]}
    assert kinds == {
        "dataset:iris": "dataset",
        f"run:{run_id}": "run",
        "trial:iris-study/0": "trial",
        f"model:{parent}": "model",
        f"model:{child}": "model",
    }
    edges = {(e["source"], e["target"], e["label"]) for e in doc["edges"]}
    assert {
        ("dataset:iris", f"run:{run_id}", "trained on"),
        (f"run:{run_id}", "trial:iris-study/0", "trial of"),
        ("trial:iris-study/0", f"model:{parent}", "registered"),
        (f"model:{parent}", f"model:{child}", "compress"),
    } <= edges
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert nodes[f"model:{child}"]["current"] is True
    assert nodes[f"model:{parent}"]["current"] is False
    assert nodes[f"run:{run_id}"]["state"] == "succeeded"
    assert nodes["trial:iris-study/0"]["params"] == {"lr": 0.05}

    up = await api_json(jp_fetch, "models", parent, "lineage")
    assert up["ancestors"] == [parent] and up["children"] == [child]
    assert up["deployments"] == []

    code, body = await api_error(jp_fetch, "models", "iris-mlp:9", "lineage")
    assert code == 404 and body["error"] == "model 'iris-mlp' has no version 9; versions: 1"


# ----------------------------------------------------------------------------------- compress
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"model": 3, "compress": {"methods": ["prune:structured:0.5"]}},
            "model",
            "expected a model ref such as 'digits-mlp:1'",
        ),
        (
            {"model": "iris-mlp:1", "compress": {"methods": ["shrink"]}},
            "compress.methods",
            "unknown compression method 'shrink' in 'shrink'; accepted: 'prune', 'quantize', "
            "'distill', 'low-rank', e.g. 'prune:structured:0.5'",
        ),
        (
            {"model": "iris-mlp:1", "compress": {"methods": ["quantize:int8-dynamic", "prune"]}},
            "compress",
            "quantize must be the last step (it turns the model into int8 ONNX, which the later "
            "steps cannot change); got it at step 1 of 2: "
            "['quantize:int8-dynamic', 'prune:unstructured:0.5']",
        ),
        (
            {"model": "iris-mlp:1", "speed": "max"},
            "speed",
            "unknown field; accepted: 'model', 'compress'",
        ),
    ],
)
async def test_bad_compression_requests(
    jp_fetch: Any, body: dict[str, Any], field: str, message: str
) -> None:
    code, payload = await api_error(jp_fetch, "compress", method="POST", body=json.dumps(body))
    assert code == 422, payload
    assert payload["error"].startswith("invalid compression request:\n"), payload["error"]
    assert f"\n  - {field}: " in payload["error"], payload["error"]
    assert _field_errors(payload)[field] == message, payload["errors"]


async def test_compression_job_through_the_api(
    jp_fetch: Any, lab_study_ws: dict[str, Any], ws_path: Path
) -> None:
    code, body = await api_error(
        jp_fetch,
        "compress",
        method="POST",
        body=json.dumps({"model": "nope:1", "compress": {"methods": ["prune:structured:0.5"]}}),
    )
    assert code == 404, body
    assert body["error"] == (
        f"no model named 'nope' in the registry of workspace {ws_path}; "
        "models: 'iris-mlp', 'iris-small'"
    )

    request = {"model": lab_study_ws["parent"], "compress": {"methods": ["prune:structured:0.5"]}}
    job = await api_json(jp_fetch, "compress", method="POST", body=json.dumps(request))
    ws = Workspace(ws_path)
    try:
        assert job["kind"] == "compress" and job["state"] in ("queued", "running")
        assert job["spec"]["model"] == lab_study_ws["parent"]
        assert job["spec"]["compress"]["methods"][0]["method"] == "prune"
        listed = await api_json(jp_fetch, "jobs", params={"kind": "compress"})
        assert [j["id"] for j in listed] == [job["id"]]
    finally:
        ws.jobs.cancel(job["id"])  # the job itself is tested in tests/compress
        ws.jobs.wait(job["id"], timeout=60)


# -------------------------------------------------------------------------------- deployments
async def test_deployment_routes_without_a_server(jp_fetch: Any, ws_path: Path) -> None:
    assert await api_json(jp_fetch, "deployments") == []
    missing = (
        f"no deployment named 'iris' in workspace {ws_path}; there are none; deploy a model "
        "with aimass_lab.deploy('name:version') or: aimass deploy NAME:VERSION"
    )
    code, body = await api_error(jp_fetch, "deployments", "iris")
    assert code == 404 and body["error"] == missing, body
    for method, parts, payload in [
        ("DELETE", ("deployments", "iris"), None),
        ("POST", ("deployments", "iris", "rollback"), ""),
        ("GET", ("deployments", "iris", "metrics"), None),
        ("PUT", ("deployments", "iris", "split"), json.dumps({"split": {"1": 100}})),
    ]:
        code, body = await api_error(jp_fetch, *parts, method=method, body=payload)
        assert code == 404 and body["error"] == missing, (method, parts, body)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"model": "iris-mlp:1", "replicas": 0},
            "replicas",
            "Input should be greater than or equal to 1",
        ),
        (
            {"model": "iris-mlp:1", "batching": {"max_batch_size": "big"}},
            "batching.max_batch_size",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            {"model": "iris mlp!"},
            "model",
            "invalid model name 'iris mlp!'; accepted: letters, digits, '-', '_' and '.', "
            "1 to 100 characters, not starting with '.', e.g. 'digits-mlp'",
        ),
        (
            {"model": "iris-mlp:1", "name": ".."},
            "name",
            "invalid endpoint name '..'; accepted: letters, digits, '-', '_' and '.', "
            "1 to 100 characters, not starting with '.', e.g. 'digits-mlp'",
        ),
        ({"replicas": 1}, "model", "required field is missing"),
        (
            {"model": "iris-mlp:1", "gpus": 2},
            "gpus",
            "unknown field 'gpus'; accepted: model, name, replicas, batching, engine, port, "
            "idle_timeout_s, stop_with_kernel",
        ),
    ],
)
async def test_bad_deploy_requests(
    jp_fetch: Any, body: dict[str, Any], field: str, message: str
) -> None:
    code, payload = await api_error(jp_fetch, "deployments", method="POST", body=json.dumps(body))
    assert code == 422, payload
    assert payload["error"].startswith("invalid DeploySpec:\n"), payload["error"]
    assert f"\n  - {field}: " in payload["error"], payload["error"]
    assert _field_errors(payload) == {field: message}, payload["errors"]


async def test_deploying_an_unknown_model_is_a_404(jp_fetch: Any, ws_path: Path) -> None:
    code, body = await api_error(
        jp_fetch, "deployments", method="POST", body=json.dumps({"model": "nope:1"})
    )
    assert code == 404, body
    assert body["error"] == (
        f"no model named 'nope' in the registry of workspace {ws_path}; "
        "models: 'iris-mlp', 'iris-small'"
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {},
            "split",
            'expected a mapping of version to percent, e.g. {"3": 90, "4": 10}',
        ),
        ({"split": {"1": 90}}, "split", "the weights must add up to 100, not 90"),
        ({"split": {"1": 101}}, "split.1", "expected an integer percent from 0 to 100"),
        ({"split": {"1": "all"}}, "split.1", "expected an integer percent from 0 to 100"),
        (
            {"split": {"1": 100}, "mirror": "2"},
            "mirror",
            "unknown field; accepted: 'split', 'shadow'",
        ),
        ({"split": {"1": 100}, "shadow": [2]}, "shadow", "expected a version or null"),
    ],
)
async def test_bad_split_requests(
    jp_fetch: Any, body: dict[str, Any], field: str, message: str
) -> None:
    code, payload = await api_error(
        jp_fetch, "deployments", "iris", "split", method="PUT", body=json.dumps(body)
    )
    assert code == 422, payload
    assert payload["error"].startswith("invalid split request:\n"), payload["error"]
    assert f"\n  - {field}: " in payload["error"], payload["error"]
    assert _field_errors(payload) == {field: message}, payload["errors"]


# ------------------------------------------------------------------------------------ openapi
async def test_openapi_document_is_served(jp_fetch: Any) -> None:
    doc = await api_json(jp_fetch, "openapi.json")
    assert doc["openapi"].startswith("3.1") and doc["info"]["version"] == __version__
    assert doc["paths"].keys() == _openapi.load()["paths"].keys()


def _documented() -> dict[str, set[str]]:
    return {
        path: {m for m in item if m in ("get", "post", "put", "delete", "patch")}
        for path, item in _openapi.load()["paths"].items()
    }


def test_every_route_is_documented_and_every_documented_path_is_a_route() -> None:
    routed: dict[str, set[str]] = {}
    for route, handler in ROUTES:
        verbs = {m for m in ("get", "post", "put", "delete", "patch") if m in vars(handler)}
        for path in _openapi.route_paths(route):
            routed[path] = verbs
    documented = _documented()
    assert sorted(set(routed) - set(documented)) == [], "routes missing from openapi.json"
    assert sorted(set(documented) - set(routed)) == [], "openapi.json documents unknown paths"
    wrong = {p: (routed[p], documented[p]) for p in routed if routed[p] != documented[p]}
    assert not wrong, f"verbs differ (routes, openapi.json): {wrong}"


def test_route_paths_expand_patterns() -> None:
    assert _openapi.route_paths("jobs/(?P<job_id>[^/]+)/(?P<action>cancel|resume)") == [
        "/jobs/{job_id}/cancel",
        "/jobs/{job_id}/resume",
    ]
    assert _openapi.route_paths("openapi.json") == ["/openapi.json"]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_document_is_consistent() -> None:
    doc = _openapi.load()
    schemas = doc["components"]["schemas"]
    dangling = sorted(
        {r for r in _refs(doc) if r.removeprefix("#/components/schemas/") not in schemas}
    )
    assert dangling == [], dangling
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for path, item in doc["paths"].items():
        params = {p.strip("{}") for p in path.split("/") if p.startswith("{")}
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == params, (method, path, declared)
            assert "403" in op["responses"], (method, path)


def test_openapi_spec_schemas_are_current() -> None:
    stored = {
        k: {kk: vv for kk, vv in v.items() if kk != "x-aimass-spec"}
        for k, v in _openapi.load()["components"]["schemas"].items()
        if v.get("x-aimass-spec")
    }
    assert stored == _openapi.spec_schemas(), (
        "the spec schemas in aimass_lab/lab/openapi.json are out of date; refresh them with: "
        "python -m aimass_lab.lab._openapi"
    )


async def test_kernels_inherit_the_workspace_and_base_url(
    jp_fetch: Any, jp_base_url: str, ws_path: Path
) -> None:
    import os

    await api_json(jp_fetch, "version")
    assert os.environ["AIMASS_HOME"] == str(ws_path)
    assert os.environ["AIMASS_LAB_BASE_URL"] == jp_base_url
