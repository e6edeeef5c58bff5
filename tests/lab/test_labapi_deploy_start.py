"""``POST /deployments/{name}/start``: a deployment whose server was killed comes back through
the REST API, against a real inference server and a real Jupyter Server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import api_error, api_json

from aimass_lab.workspace import Workspace

#: the server works on a private copy of the study workspace (conftest.ws_path)
pytestmark = pytest.mark.study_copy


@pytest.mark.slow
async def test_start_a_down_deployment_through_the_api(jp_fetch: Any, ws_path: Path) -> None:
    ws = Workspace(ws_path)
    rows = json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]]})
    try:
        dep = await api_json(
            jp_fetch,
            "deployments",
            method="POST",
            body=json.dumps({"model": "iris-mlp:1", "name": "iris", "port": 0}),
        )
        assert dep["state"] == "running" and dep["split"] == {"1": 100}
        # kill -9 the server job: the deployment is down
        job = ws.jobs.get(dep["job_id"])
        assert job.pid is not None
        os.killpg(job.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (await api_json(jp_fetch, "deployments", "iris"))["state"] != "down":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)

        started = await api_json(jp_fetch, "deployments", "iris", "start", method="POST", body="")
        assert started["state"] == "running" and started["split"] == {"1": 100}
        assert started["job_id"] != dep["job_id"]
        assert started["history"][-1]["action"] == "start"
        answer = await jp_fetch(
            "aimass-lab", "serve", "v1", "models", "iris", "predict", method="POST", body=rows
        )
        assert answer.code == 200 and answer.headers["x-model-version"] == "1"
        # running: a no-op that answers the deployment
        again = await api_json(jp_fetch, "deployments", "iris", "start", method="POST", body="")
        assert again["job_id"] == started["job_id"]

        code, body = await api_error(
            jp_fetch, "deployments", "nope", "start", method="POST", body=""
        )
        assert code == 404 and "no deployment named 'nope'" in body["error"]
        assert "deployments: 'iris'" in body["error"]
    finally:
        from aimass_lab.serve.deploy import server_job, stop_server

        running = server_job(ws)
        if running is not None:
            stop_server(ws, running)
