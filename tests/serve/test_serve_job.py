"""The ``serve`` job kind (the workspace's server as a detached job) and the ``serve`` command."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from serve_helpers import model_workspace

from aimass_lab.cli import cli
from aimass_lab.serve import Client, ServerConfig
from aimass_lab.workspace import Workspace


def test_serve_job_listens_answers_and_drains_on_cancel(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    ws = Workspace(model_workspace(tmp_path_factory, tmp_path / "ws"))
    job = ws.jobs.submit(
        "serve",
        {"port": 0, "models": ["digits-mlp:prod"], "max_batch_size": 8},
        name="aimass serve",
    )
    deadline = time.monotonic() + 120
    while "url" not in ws.jobs.get(job.id).result:
        assert ws.jobs.get(job.id).active, ws.jobs.log_path(job.id).read_text()
        assert time.monotonic() < deadline, "the serve job did not come up"
        time.sleep(0.1)
    result = ws.jobs.get(job.id).result
    assert result["host"] == "127.0.0.1" and result["url"].endswith(f":{result['port']}")
    key_file = Path(result["admin_key_file"])
    assert key_file.parent == ws.jobs.run_dir(job.id)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    client = Client(result["url"], admin_key=key_file.read_text().strip())
    assert client.ready()
    assert client.predict("digits-mlp", [[0.0] * 64])["version"] == "2"
    assert client.admin_models()[0]["versions"][0]["batching"]["max_batch_size"] == 8
    ws.jobs.cancel(job.id)
    deadline = time.monotonic() + 60
    while ws.jobs.get(job.id).active:
        assert time.monotonic() < deadline, ws.jobs.log_path(job.id).read_text()
        time.sleep(0.1)
    assert not client.live()
    assert "draining" in ws.jobs.log_path(job.id).read_text()
    # stopped on purpose: "stopped", not "succeeded" at 100%, in the store and the CLI
    ended = ws.jobs.get(job.id)
    assert ended.state == "stopped" and ended.progress != 1.0, ended
    assert ended.exit_reason == "stopped on request"
    assert [j.id for j in ws.jobs.list(state="stopped")] == [job.id]
    listing = CliRunner().invoke(cli, ["--workspace", str(ws.path), "jobs", "list"])
    assert listing.exit_code == 0, listing.output
    row = next(line for line in listing.output.splitlines() if job.id in line)
    assert " stopped " in row and "aimass serve" in row and "100%" not in row, row
    ws.store.close()


def test_serve_command_errors_are_one_clean_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--workspace", str(tmp_path), "--admin"])
    assert result.exit_code == 1
    assert "error: --admin needs a key: --admin-key-env VAR" in result.output
    monkeypatch.delenv("B1_EMPTY", raising=False)
    result = runner.invoke(
        cli, ["serve", "--workspace", str(tmp_path), "--api-key-env", "B1_EMPTY"]
    )
    assert result.exit_code == 1
    assert "environment variable B1_EMPTY holds no API key" in result.output
    result = runner.invoke(cli, ["serve", "--workspace", str(tmp_path), "--replicas", "0"])
    assert result.exit_code == 1 and "replicas: got 0: accepted: an integer >= 1" in result.output


def test_server_config_from_a_job_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("B1_KEYS", "a, b")
    cfg = ServerConfig.from_dict({"port": 0, "api_key_env": "B1_KEYS", "models": ["m:1"]})
    assert cfg.api_keys == ["a", "b"] and cfg.to_dict()["api_keys"] == ["***", "***"]
    with pytest.raises(Exception, match="portt: unknown field"):
        ServerConfig.from_dict({"portt": 1})
    assert os.environ["B1_KEYS"] == "a, b"
