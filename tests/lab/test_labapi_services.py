"""The services routes through a real Jupyter Server with two identities (ada and bob): the
owner of an inference server, an optuna-dashboard and a TensorBoard is shown; only the owner
may stop it; a TensorBoard opened from a kernel stops when that kernel ends
(AIMASS_STOP_WITH_KERNEL); TensorBoards stop after AIMASS_IDLE_SHUTDOWN_S unless the extension
says otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import API, USER_HEADER, HeaderIdentity, server_with_users
from tornado.httpclient import HTTPClientError

from aimass_lab.lab import tensorboard_path
from aimass_lab.workspace import Workspace, acting_as


class AdaByDefault(HeaderIdentity):
    default_user = "ada"


@pytest.fixture
def jp_server_config(ws_path: Path) -> dict[str, Any]:
    """conftest's server (on ``ws_path``), with two identities (ada when none is named)."""
    return server_with_users(ws_path, AdaByDefault)


def _as(jp_fetch: Any, user: str) -> Callable[..., Awaitable[Any]]:
    async def fetch(*parts: str, **kwargs: Any) -> Any:
        headers = {USER_HEADER: user, **kwargs.pop("headers", {})}
        return await jp_fetch(*parts, headers=headers, **kwargs)

    return fetch


async def _services(fetch: Any) -> dict[str, Any]:
    return dict(json.loads((await fetch(*API, "services")).body))


async def _refused(fetch: Any, *parts: str) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await fetch(*parts, method="POST", body="{}")
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)["error"]


async def _until(predicate: Callable[[], Any], timeout: float = 60.0) -> None:
    """Wait for a condition without blocking the server's event loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the condition"
        await asyncio.sleep(0.1)


async def test_server_owner_is_shown_and_only_the_owner_stops_it(
    jp_fetch: Any, ws_path: Path
) -> None:
    from aimass_lab.serve.deploy import ensure_server

    ws = Workspace(ws_path)
    with acting_as("ada"):
        job = await asyncio.to_thread(ensure_server, ws, port=0, timeout=120)
    ada, bob = _as(jp_fetch, "ada"), _as(jp_fetch, "bob")
    try:
        listed = await _services(bob)
        assert listed["user"] == "bob"
        (server,) = [s for s in listed["services"] if s["kind"] == "server"]
        assert (server["id"], server["owner"], server["kernel_id"]) == (job.id, "ada", None)
        assert server["idle_s"] is not None and server["idle_s"] >= 0
        assert server["url"] == job.result["url"].rstrip("/")

        assert server["can_stop"] is False  # bob's view
        code, error = await _refused(bob, *API, "services", "server", job.id, "stop")
        assert code == 403 and "'ada'" in error and "'bob'" in error, error
        code, error = await _refused(bob, *API, "jobs", job.id, "cancel")  # nor as a job
        assert code == 403 and "'ada'" in error and "'bob'" in error, error
        assert ws.jobs.get(job.id).state == "running"
        mine = [s for s in (await _services(ada))["services"] if s["kind"] == "server"]
        assert mine[0]["can_stop"] is True

        done = json.loads(
            (await ada(*API, "services", "server", job.id, "stop", method="POST", body="{}")).body
        )
        assert done["state"] == "stopped"
        assert ws.jobs.get(job.id).state == "stopped"
        assert [s for s in (await _services(ada))["services"] if s["kind"] == "server"] == []
    finally:
        if ws.jobs.get(job.id).active:
            ws.jobs.cancel(job.id)
            ws.jobs.wait(job.id, timeout=30)


@pytest.mark.study_copy
async def test_a_dashboard_is_listed_with_its_owner_and_only_the_owner_stops_it(
    jp_fetch: Any, ws_path: Path, lab_study_ws: dict[str, Any]
) -> None:
    from aimass_lab.search import start_dashboard

    ws = Workspace(ws_path)
    with acting_as("ada"):
        board = await asyncio.to_thread(
            start_dashboard, ws, lab_study_ws["study"], idle_timeout_s=600
        )
    ada, bob = _as(jp_fetch, "ada"), _as(jp_fetch, "bob")
    try:
        (listed,) = [s for s in (await _services(bob))["services"] if s["kind"] == "dashboard"]
        assert (listed["id"], listed["owner"], listed["url"]) == (board.job_id, "ada", board.url)
        assert listed["name"] == f"optuna-dashboard {lab_study_ws['study']}"
        assert listed["idle_timeout_s"] == 600 and listed["idle_s"] >= 0
        assert listed["can_stop"] is False  # bob's view
        code, error = await _refused(bob, *API, "services", "dashboard", board.job_id, "stop")
        assert code == 403 and "'ada'" in error and "'bob'" in error, error
        code, error = await _refused(bob, *API, "jobs", board.job_id, "cancel")  # nor as a job
        assert code == 403, error
        assert ws.jobs.get(board.job_id).state == "running"

        stop = (*API, "services", "dashboard", board.job_id, "stop")
        done = json.loads((await ada(*stop, method="POST", body="{}")).body)
        assert done == {"kind": "dashboard", "id": board.job_id, "state": "stopped"}
        assert [s for s in (await _services(ada))["services"] if s["kind"] == "dashboard"] == []
    finally:
        if ws.jobs.get(board.job_id).active:
            ws.jobs.cancel(board.job_id)
            ws.jobs.wait(board.job_id, timeout=30)


@pytest.mark.parametrize(("env", "expected"), [(None, 1800.0), ("90", 90.0)])
def test_tensorboards_idle_timeout_follows_aimass_idle_shutdown_s(
    env: str | None, expected: float, monkeypatch: pytest.MonkeyPatch, request: Any
) -> None:
    """Nothing said: half an hour; AIMASS_IDLE_SHUTDOWN_S in the server's environment: that."""
    monkeypatch.delenv("AIMASS_IDLE_SHUTDOWN_S", raising=False)
    if env is not None:
        monkeypatch.setenv("AIMASS_IDLE_SHUTDOWN_S", env)
    server = request.getfixturevalue("jp_serverapp")  # started now, with this environment
    assert server.web_app.settings["aimass_lab"]["tensorboards"].idle_timeout == expected


async def test_unknown_services_are_404(jp_fetch: Any) -> None:
    for kind in ("server", "dashboard", "tensorboard"):
        code, error = await _refused(jp_fetch, *API, "services", kind, "nope", "stop")
        assert code == 404 and "nope" in error


@pytest.mark.study_copy
async def test_a_tensorboard_has_an_owner_and_stops_with_its_kernel(
    jp_fetch: Any,
    jp_serverapp: Any,
    http_server_client: Any,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    lab_study_ws: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIMASS_STOP_WITH_KERNEL", "1")
    run_id = lab_study_ws["run_id"]
    manager = jp_serverapp.web_app.settings["aimass_lab"]["tensorboards"]
    ada, bob = _as(jp_fetch, "ada"), _as(jp_fetch, "bob")
    kernel = json.loads(
        (await ada("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))).body
    )
    try:
        page = await http_server_client.fetch(
            jp_base_url + tensorboard_path(run_id) + f"?aimass_kernel={kernel['id']}",
            headers={**jp_auth_header, USER_HEADER: "ada"},
            raise_error=False,
        )
        assert page.code == 200, page.body[:500]
        (tb,) = [s for s in (await _services(bob))["services"] if s["kind"] == "tensorboard"]
        assert (tb["id"], tb["owner"], tb["kernel_id"]) == (run_id, "ada", kernel["id"])
        assert tb["idle_s"] >= 0 and tb["url"].endswith(tensorboard_path(run_id))

        code, error = await _refused(bob, *API, "services", "tensorboard", run_id, "stop")
        assert code == 403 and "'ada'" in error and "'bob'" in error, error
        assert run_id in manager.processes

        await ada("api", "kernels", kernel["id"], method="DELETE")
        await _until(lambda: run_id not in manager.processes)
        assert [s for s in (await _services(ada))["services"] if s["kind"] == "tensorboard"] == []
    finally:
        manager.stop_all()


def test_the_listing_asks_every_dashboard_at_once(tmp_path: Path) -> None:
    """Two dashboards whose idle answers wait for each other (a real HTTP server on 127.0.0.1):
    asked one after the other, the first would give up (its 2 s timeout) before the second is
    asked, and show no idle time."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from aimass_lab.lab._services_api import list_dashboards
    from aimass_lab.search import DASHBOARD_KIND, IDLE_PATH
    from aimass_lab.workspace import start_job

    both_asked = threading.Barrier(2)

    class Idle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != IDLE_PATH:
                self.send_error(404)
                return
            with contextlib.suppress(threading.BrokenBarrierError):
                both_asked.wait(timeout=30)
            body = json.dumps({"idle_s": 1.5, "idle_timeout_s": 60.0}).encode()
            with contextlib.suppress(OSError):  # a client that gave up
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Idle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ws = Workspace(tmp_path / "ws")
        for study in ("s1", "s2"):
            job = ws.jobs.create(DASHBOARD_KIND, {"study": study}, name=f"optuna-dashboard {study}")
            start_job(ws, job.id).set_result({"url": f"http://127.0.0.1:{server.server_port}/"})
        listed = list_dashboards(ws)
        assert sorted((s["name"], s["idle_s"], s["idle_timeout_s"]) for s in listed) == [
            ("optuna-dashboard s1", 1.5, 60.0),
            ("optuna-dashboard s2", 1.5, 60.0),
        ]
    finally:
        both_asked.abort()
        server.shutdown()
        server.server_close()
