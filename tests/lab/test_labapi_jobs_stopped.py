"""The REST job listing of a stopped inference server: ``stopped``, not ``succeeded`` 100%
(a real ``serve`` job behind a real Jupyter Server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common_helpers import wait_for
from lab_helpers import api_json

from aimass_lab.workspace import Workspace


async def test_a_stopped_server_reads_stopped(jp_fetch: Any, ws_path: Path) -> None:
    from aimass_lab.serve.deploy import stop_server

    ws = Workspace(ws_path)
    job = ws.jobs.submit("serve", {"port": 0}, name="aimass serve")
    try:
        wait_for(lambda: "url" in ws.jobs.get(job.id).result or not ws.jobs.get(job.id).active)
        listed = {j["id"]: j for j in await api_json(jp_fetch, "jobs")}
        assert listed[job.id]["state"] == "running" and listed[job.id]["label"] == "aimass serve"
    finally:
        stop_server(ws, ws.jobs.get(job.id))
    listed = {j["id"]: j for j in await api_json(jp_fetch, "jobs")}
    shown = listed[job.id]
    assert shown["state"] == "stopped", ws.jobs.logs(job.id, tail=20)
    assert shown["progress"] != 1.0 and shown["exit_reason"] == "stopped on request"
    only = await api_json(jp_fetch, "jobs", params={"state": "stopped"})
    assert [j["id"] for j in only] == [job.id]
    ws.store.close()
