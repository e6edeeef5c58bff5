"""The REST API of the server extension, through a real Jupyter Server (pytest-jupyter)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from common_helpers import wait_for
from lab_helpers import API, api_error, api_json
from tornado.httpclient import HTTPClientError

from aimass_lab._version import __version__
from aimass_lab.lab._handlers import ROUTES
from aimass_lab.workspace import Workspace


async def test_version(jp_fetch: Any) -> None:
    assert await api_json(jp_fetch, "version") == {"version": __version__, "api": "v1"}


async def test_datasets(jp_fetch: Any) -> None:
    names = {d["name"] for d in await api_json(jp_fetch, "datasets")}
    assert {"iris", "digits"} <= names
    iris = await api_json(jp_fetch, "datasets", "iris")
    assert iris["info"]["num_classes"] == 3 and iris["report"]["n_rows"] == 150
    code, body = await api_error(jp_fetch, "datasets", "mnist")
    assert code == 404 and "unknown dataset 'mnist'" in body["error"]


async def test_train_job_through_the_api(jp_fetch: Any, tmp_path: Path) -> None:
    spec = {
        "data": {"name": "iris"},
        "model": {"family": "mlp", "hparams": {"hidden": 16}},
        "max_epochs": 2,
    }
    job = await api_json(
        jp_fetch, "jobs", method="POST", body=json.dumps({"kind": "train", "spec": spec})
    )
    assert job["kind"] == "train" and job["state"] in ("queued", "running")
    ws = Workspace(tmp_path / "ws")
    final = ws.jobs.wait(job["id"], timeout=120)
    assert final.state == "succeeded", ws.jobs.logs(job["id"], tail=30)

    listed = await api_json(jp_fetch, "jobs", params={"kind": "train"})
    assert [j["id"] for j in listed] == [job["id"]]
    assert (await api_json(jp_fetch, "jobs", job["id"]))["state"] == "succeeded"
    log = await api_json(jp_fetch, "jobs", job["id"], "log", params={"tail": "5"})
    assert f"job {job['id']} succeeded" in log["log"]
    metrics = await api_json(jp_fetch, "runs", job["id"], "metrics", params={"name": "val_acc"})
    assert len(metrics["points"]) == 2 and metrics["progress"] == 1.0
    later = await api_json(
        jp_fetch,
        "runs",
        job["id"],
        "metrics",
        params={"after_id": str(metrics["points"][-1]["id"])},
    )
    assert all(p["id"] > metrics["points"][-1]["id"] for p in later["points"])

    code, body = await api_error(jp_fetch, "jobs", job["id"], "cancel", method="POST", body="")
    assert code == 409 and "already succeeded" in body["error"]

    from aimass_lab import registry

    registry.register(job["id"], "iris-mlp", workspace=ws)
    models = await api_json(jp_fetch, "models")
    assert [m["ref"] for m in models] == ["iris-mlp:1"]
    aliased = await api_json(
        jp_fetch,
        "models",
        "iris-mlp:1",
        "aliases",
        method="POST",
        body=json.dumps({"alias": "prod"}),
    )
    assert aliased["aliases"] == ["prod"]
    assert (await api_json(jp_fetch, "models", "iris-mlp:prod"))["version"] == 1
    assert "weights.safetensors" in json.dumps(
        await api_json(jp_fetch, "models", "iris-mlp:1", "verify")
    )
    await api_json(jp_fetch, "models", "iris-mlp", "aliases", "prod", method="DELETE")
    assert (await api_json(jp_fetch, "models", "iris-mlp:1"))["aliases"] == []
    assert (await api_json(jp_fetch, "models", "iris-mlp:1", method="DELETE")) == {
        "deleted": "iris-mlp:1"
    }
    code, body = await api_error(jp_fetch, "models", "iris-mlp:1")
    assert code == 404


async def test_cancel_then_resume_a_training_job_through_the_api(
    jp_fetch: Any, tmp_path: Path
) -> None:
    import asyncio

    from aimass_lab.train import Run

    spec = {
        "data": {"name": "digits"},
        "model": {"family": "mlp", "hparams": {"hidden": 32}},
        "max_epochs": 12,
        "batch_size": 16,
    }
    job = await api_json(
        jp_fetch, "jobs", method="POST", body=json.dumps({"kind": "train", "spec": spec})
    )
    ws = Workspace(tmp_path / "ws")
    run = Run(job["id"], ws)

    def first_validation() -> None:
        wait_for(lambda: run.summary.get("val_loss") is not None, what="the first validation")

    await asyncio.to_thread(first_validation)  # the server keeps answering meanwhile
    cancelled = await api_json(jp_fetch, "jobs", job["id"], "cancel", method="POST", body="")
    assert cancelled["id"] == job["id"]
    final = await asyncio.to_thread(ws.jobs.wait, job["id"], 120)
    assert final.state == "interrupted", ws.jobs.logs(job["id"], tail=30)

    resumed = await api_json(jp_fetch, "jobs", job["id"], "resume", method="POST", body="")
    assert resumed["id"] == job["id"] and resumed["state"] in ("queued", "running")
    final = await asyncio.to_thread(ws.jobs.wait, job["id"], 240)
    assert final.state == "succeeded", ws.jobs.logs(job["id"], tail=40)
    assert final.attempt == 2 and "resuming from" in ws.jobs.logs(job["id"])

    code, body = await api_error(jp_fetch, "jobs", job["id"], "resume", method="POST", body="")
    assert code == 409, body
    assert (
        "is succeeded; only interrupted, failed or cancelled jobs can be resumed" in body["error"]
    )
    code, body = await api_error(jp_fetch, "jobs", "nope-nope", "resume", method="POST", body="")
    assert code == 404 and body["error"].startswith("no job 'nope-nope' in workspace "), body


@pytest.mark.parametrize(
    ("body", "code", "field", "message"),
    [
        (
            {"spec": {"data": {"name": "digits"}, "max_epochs": "many"}},
            422,
            "max_epochs",
            "valid integer",
        ),
        (
            {"spec": {"data": {"name": "digits"}, "model": {"family": "vgg"}}},
            422,
            "model",
            "unknown model 'vgg'",
        ),
        ({"spec": {"data": {"name": "nope"}}}, 422, "data", "unknown dataset 'nope'"),
        ({"kind": "bake", "spec": {}}, 422, "kind", "accepted: 'train'"),
        (
            {"spec": {"data": {"name": "digits"}, "devices": 64, "accelerator": "cpu"}},
            422,
            None,
            "asks for 64 CPU processes",
        ),
    ],
)
async def test_bad_job_requests(
    jp_fetch: Any, body: dict[str, Any], code: int, field: str | None, message: str
) -> None:
    status, payload = await api_error(jp_fetch, "jobs", method="POST", body=json.dumps(body))
    assert status == code
    assert message in payload["error"]
    if field is not None:
        assert any(e["field"].startswith(field) for e in payload["errors"])


async def test_malformed_json_and_bad_queries(jp_fetch: Any) -> None:
    status, payload = await api_error(jp_fetch, "jobs", method="POST", body="{not json")
    assert status == 422 and "malformed JSON" in payload["error"]
    status, payload = await api_error(jp_fetch, "jobs", params={"limit": "ten"})
    assert status == 422 and "limit: got 'ten': expected an integer" in payload["error"]
    status, payload = await api_error(jp_fetch, "jobs", params={"state": "done"})
    assert status == 409 and "unknown job state 'done'" in payload["error"]
    status, payload = await api_error(jp_fetch, "jobs", "nope-nope")
    assert status == 404 and "no job 'nope-nope'" in payload["error"]


def _concrete(route: str) -> str:
    """A real path for a route pattern: ``jobs/(?P<job_id>[^/]+)/log`` -> ``jobs/x/log``;
    a group of alternatives takes the first, ``(?P<action>cancel|resume)`` -> ``cancel``."""
    route = re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "x", route)
    return re.sub(r"\(\?P<\w+>([\w-]+)(?:\|[\w-]+)+\)", r"\1", route)


def _verbs(handler: type) -> list[tuple[str, str | None]]:
    """The verbs a handler implements, each with a body to send."""
    own = [m for m in ("get", "post", "put", "delete") if m in vars(handler)]
    return [(m.upper(), "{}" if m in ("post", "put") else None) for m in own]


@pytest.mark.parametrize(("route", "handler"), ROUTES, ids=[r for r, _ in ROUTES])
async def test_every_route_refuses_unauthenticated_requests(
    route: str, handler: type, http_server_client: Any, jp_base_url: str
) -> None:
    url = jp_base_url + "/".join(API) + "/" + _concrete(route)
    assert "(" not in url and _verbs(handler)
    for method, body in _verbs(handler):
        response = await http_server_client.fetch(url, method=method, body=body, raise_error=False)
        # 403; Jupyter answers anonymous writes with 404 so as not to reveal the route
        assert response.code == 403 or (method != "GET" and response.code == 404), (method, url)


async def test_foreign_origin_and_missing_xsrf_are_refused(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any
) -> None:
    token = jp_serverapp.identity_provider.token
    url = jp_base_url + "/".join(API) + "/jobs"
    # A page on a foreign origin cannot get a CORS grant for the API (no Allow-Origin header).
    response = await http_server_client.fetch(
        url,
        method="OPTIONS",
        raise_error=False,
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    assert token  # the token itself only travels in headers a foreign page cannot set
    # An anonymous POST with a made-up XSRF pair starts nothing.
    response = await http_server_client.fetch(
        url,
        method="POST",
        body="{}",
        raise_error=False,
        headers={"Cookie": "_xsrf=abc", "X-XSRFToken": "abc", "Origin": "http://127.0.0.1"},
    )
    assert response.code in (403, 404)  # refused (Jupyter hides the route from anonymous POSTs)
    assert Workspace(jp_serverapp.config.AimassLab.workspace).jobs.list() == []


async def test_a_cookie_session_needs_the_xsrf_token_to_write(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any
) -> None:
    """A browser session (login cookie): POST and DELETE are refused without the XSRF token
    (cookie + X-XSRFToken header, as JupyterLab sends them) and accepted with it."""
    token = jp_serverapp.identity_provider.token
    base = jp_base_url + "/".join(API)
    # A request with the token gets the login cookie, as a browser opening the lab URL does.
    response = await http_server_client.fetch(f"{base}/jobs?token={token}")
    cookies = [
        c.split(";", 1)[0]
        for c in response.headers.get_list("Set-Cookie")
        if c.startswith("username-")
    ]
    assert len(cookies) == 1, response.headers.get_list("Set-Cookie")
    session = cookies[0]
    ws = Workspace(jp_serverapp.config.AimassLab.workspace)
    job = ws.jobs.create("train", {})  # queued, never started: cancelling it is harmless

    async def write(method: str, path: str, xsrf: bool) -> Any:
        headers = {"Cookie": f"{session}; _xsrf=t0ken"}
        if xsrf:
            headers["X-XSRFToken"] = "t0ken"
        return await http_server_client.fetch(
            f"{base}/{path}",
            method=method,
            body="" if method == "POST" else None,
            headers=headers,
            raise_error=False,
        )

    # the session itself is good: a read needs no XSRF token
    read = await http_server_client.fetch(f"{base}/jobs", headers={"Cookie": session})
    assert job.id in read.body.decode()
    for method, path in (("POST", f"jobs/{job.id}/cancel"), ("DELETE", "models/nope:1")):
        refused = await write(method, path, xsrf=False)
        assert refused.code == 403, (method, refused.code, refused.body[:200])
        assert b"XSRF" in refused.body or b"_xsrf" in refused.body, refused.body[:200]
    assert ws.jobs.get(job.id).state == "queued"  # the refused POST changed nothing
    cancelled = await write("POST", f"jobs/{job.id}/cancel", xsrf=True)
    assert cancelled.code == 200, cancelled.body[:300]
    assert json.loads(cancelled.body)["state"] == "cancelled"
    assert ws.jobs.get(job.id).state == "cancelled"
    deleted = await write("DELETE", "models/nope:1", xsrf=True)  # reaches the handler: its 404
    assert deleted.code == 404 and "nope" in json.loads(deleted.body)["error"], deleted.body


@pytest.mark.deny_all
@pytest.mark.parametrize(("route", "handler"), ROUTES, ids=[r for r, _ in ROUTES])
async def test_a_deny_all_authorizer_refuses_every_route(
    route: str, handler: type, jp_fetch: Any
) -> None:
    for method, body in _verbs(handler):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(*API, *_concrete(route).split("/"), method=method, body=body)
        assert info.value.code == 403, (method, route, info.value.code)
