"""The proxies (a run's TensorBoard, the workspace's inference server) and the deployment
routes against a real inference server, through a real Jupyter Server."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from aimass_lab.errors import AimassError
from aimass_lab.lab import tensorboard_path
from aimass_lab.workspace import Workspace

API = ("aimass-lab", "api", "v1")


#: the server works on a private copy of the study workspace (conftest.ws_path)
pytestmark = pytest.mark.study_copy


async def _json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch(*parts, **kwargs)
    return json.loads(response.body)


async def _error(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, **kwargs)
    assert info.value.response is not None
    body = json.loads(info.value.response.body)
    assert "Traceback" not in json.dumps(body)
    return info.value.code, body


@pytest.fixture
def fetch_path(http_server_client: Any, jp_base_url: str, jp_auth_header: dict[str, str]) -> Any:
    """Fetch ``{base_url}PATH`` exactly as given (a trailing slash kept), with the token."""

    async def fetch(path: str, **kwargs: Any) -> Any:
        headers = {**jp_auth_header, **kwargs.pop("headers", {})}
        return await http_server_client.fetch(
            jp_base_url + path, headers=headers, raise_error=False, **kwargs
        )

    return fetch


def test_tensorboard_path() -> None:
    assert (
        tensorboard_path("20240101-120000-abc123")
        == "aimass-lab/tensorboard/20240101-120000-abc123/"
    )
    for bad in ("", "a/b", ".."):
        with pytest.raises(AimassError, match="expected a run id"):
            tensorboard_path(bad)


async def test_tensorboard_of_a_real_run_through_the_proxy(
    fetch_path: Any, jp_serverapp: Any, jp_base_url: str, lab_study_ws: dict[str, Any]
) -> None:
    run_id = lab_study_ws["run_id"]
    root = tensorboard_path(run_id)
    manager = jp_serverapp.web_app.settings["aimass_lab"]["tensorboards"]
    try:
        page = await fetch_path(root)
        text = page.body.decode()
        assert page.code == 200, (page.code, text[:500])
        assert "tb-relative-root" in text and "<html" in text.lower()
        assert set(manager.processes) == {run_id}
        tb = manager.processes[run_id]
        # TensorBoard writes its links under the proxied path (base_url included)
        assert tb.prefix == urllib.parse.unquote(jp_base_url) + root.rstrip("/")

        runs = json.loads((await fetch_path(root + "data/runs")).body)
        assert runs == ["."], runs  # one run: the event files of this training
        tags = json.loads((await fetch_path(root + "data/plugin/scalars/tags")).body)
        assert any("val_acc" in t for t in tags["."]), tags
        # TensorBoard's page POSTs (marked X-XSRF-Protected) pass through, answered by it
        tag = next(t for t in tags["."] if "val_acc" in t)
        multirun = await fetch_path(
            root + "data/plugin/scalars/scalars_multirun",
            method="POST",
            body=urllib.parse.urlencode({"tag": tag, "runs": "."}),
            headers={"X-XSRF-Protected": "1"},
        )
        assert multirun.code == 200, multirun.body
        series = json.loads(multirun.body)["."]
        assert len(series) >= 1 and len(series[0]) == 3  # [wall_time, step, value]

        # the second request reuses the running TensorBoard
        assert (await fetch_path(root)).code == 200
        assert manager.processes[run_id] is tb and tb.alive

        # without the trailing slash: sent to the page
        moved = await fetch_path(root.rstrip("/"), follow_redirects=False)
        assert moved.code == 302 and moved.headers["Location"].endswith(f"/tensorboard/{run_id}/")

        # an idle TensorBoard is stopped; the next request starts a new one
        manager.idle_timeout = 1e-9
        assert manager.stop_idle() == [run_id] and not tb.alive
    finally:
        manager.stop_all()


async def test_tensorboard_proxy_errors(fetch_path: Any, ws_path: Path) -> None:
    missing = await fetch_path("aimass-lab/tensorboard/nope/")
    assert missing.code == 404 and "no job 'nope'" in json.loads(missing.body)["error"]
    job = Workspace(ws_path).jobs.create("train", {"data": {"name": "iris"}}, name="never-run")
    empty = await fetch_path(f"aimass-lab/tensorboard/{job.id}/")
    assert empty.code == 404
    assert "has no TensorBoard events yet" in json.loads(empty.body)["error"]


async def test_serve_proxy_without_a_server(jp_fetch: Any) -> None:
    code, body = await _error(jp_fetch, "aimass-lab", "serve", "v2", "health", "ready")
    assert code == 503 and "no inference server runs for this workspace" in body["error"]
    code, body = await _error(
        jp_fetch, "aimass-lab", "serve", "v1", "models", "x", "predict", method="POST", body="{}"
    )
    assert code == 503


@pytest.mark.slow
async def test_deploy_split_rollback_stop_through_the_api(
    jp_fetch: Any, ws_path: Path, lab_study_ws: dict[str, Any]
) -> None:
    from aimass_lab import registry

    ws = Workspace(ws_path)
    v2 = registry.register(lab_study_ws["run_id"], "iris-mlp", workspace=ws)
    assert v2.ref == "iris-mlp:2"
    rows = {"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}
    try:
        dep = await _json(
            jp_fetch,
            *API,
            "deployments",
            method="POST",
            body=json.dumps({"model": "iris-mlp:1", "name": "iris", "port": 0}),
        )
        assert dep["name"] == "iris" and dep["state"] == "running"
        assert dep["split"] == {"1": 100}
        assert [d["name"] for d in await _json(jp_fetch, *API, "deployments")] == ["iris"]

        # the inference server through the proxy: Jupyter's auth, the server's answer
        ready = await jp_fetch("aimass-lab", "serve", "v2", "health", "ready")
        assert ready.code == 200
        answer = await jp_fetch(
            "aimass-lab", "serve", "v1", "models", "iris", "predict",
            method="POST",
            body=json.dumps(rows),
        )  # fmt: skip
        assert answer.headers["x-model-version"] == "1"
        assert len(json.loads(answer.body)["predictions"]) == 2

        metrics = await _json(jp_fetch, *API, "deployments", "iris", "metrics")
        assert metrics["name"] == "iris" and metrics["metrics"]["1"]["requests"] >= 1

        lineage = await _json(jp_fetch, *API, "models", "iris-mlp:1", "lineage")
        assert lineage["deployments"] == ["iris"]
        assert {"source": "model:iris-mlp:1", "target": "deployment:iris", "label": "deployed"} in (
            lineage["edges"]
        )

        # another model on the same endpoint is refused, with the reason
        code, body = await _error(
            jp_fetch,
            *API,
            "deployments",
            method="POST",
            body=json.dumps({"model": lab_study_ws["child"], "name": "iris"}),
        )
        assert code == 422 and "serves model 'iris-mlp'" in body["error"]

        # a new version: hot swap, then a canary split, then back
        dep = await _json(
            jp_fetch,
            *API,
            "deployments",
            method="POST",
            body=json.dumps({"model": "iris-mlp:2", "name": "iris"}),
        )
        assert dep["split"] == {"2": 100}
        dep = await _json(
            jp_fetch,
            *API,
            "deployments",
            "iris",
            "split",
            method="PUT",
            body=json.dumps({"split": {"1": 50, "2": 50}}),
        )
        assert dep["split"] == {"1": 50, "2": 50}
        code, body = await _error(
            jp_fetch,
            *API,
            "deployments",
            "iris",
            "split",
            method="PUT",
            body=json.dumps({"split": {"7": 100}}),
        )
        assert code == 422 and "version 7 is not loaded" in body["error"]
        dep = await _json(jp_fetch, *API, "deployments", "iris", "rollback", method="POST", body="")
        assert dep["split"] == {"2": 100}
        assert (await _json(jp_fetch, *API, "deployments", "iris"))["split"] == {"2": 100}

        stopped = await _json(jp_fetch, *API, "deployments", "iris", method="DELETE")
        assert stopped == {"stopped": "iris"}
        assert (await _json(jp_fetch, *API, "deployments", "iris"))["state"] == "stopped"
        code, body = await _error(jp_fetch, *API, "deployments", "iris", method="DELETE")
        assert code == 422 and "already stopped" in body["error"]
        code, body = await _error(jp_fetch, "aimass-lab", "serve", "v2", "health", "ready")
        assert code == 503
    finally:
        from aimass_lab.serve.deploy import server_job, stop_server

        job = server_job(ws)
        if job is not None:
            stop_server(ws, job)
