"""A deploy that fails leaves nothing behind: a tampered version starts no server, and a
server a failed deploy started is stopped, with no deployment record (real server jobs)."""

from __future__ import annotations

import psutil
import pytest
from common_helpers import aimass
from deploy_helpers import digits_rows

import aimass_lab as am
from aimass_lab import registry, serve
from aimass_lab.errors import AimassError, IntegrityError
from aimass_lab.serve.deploy._records import record_names
from aimass_lab.workspace import Workspace


def _tamper(ws: Workspace, ref: str) -> None:
    """Flip one byte of the weights of a registered version (same size, another sha256)."""
    mv = registry.get(ref, workspace=ws)
    stored = ws.artifacts.path(mv.manifest["weights.safetensors"]["sha256"])
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.chmod(0o644)
    stored.write_bytes(bytes(data))


def _alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped does not)."""
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _nothing_left(ws: Workspace) -> None:
    """No server job or process alive, no deployment recorded."""
    jobs = ws.jobs.list(kind="serve")
    assert [j.id for j in jobs if j.active] == [], [(j.id, j.state) for j in jobs]
    assert [j.pid for j in jobs if _alive(j.pid)] == []
    assert serve.server_url(ws) is None
    assert record_names(ws) == []


def test_a_tampered_version_starts_nothing(ws: Workspace) -> None:
    _tamper(ws, "digits-mlp:1")
    proc = aimass(ws.path, "deploy", "digits-mlp:1", "--name", "digits", "--port", "0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "'weights.safetensors' of model digits-mlp:1 was modified or corrupted" in proc.stderr
    assert ws.jobs.list(kind="serve") == []  # verified before any server was started
    _nothing_left(ws)
    with pytest.raises(IntegrityError, match="was modified or corrupted"):
        am.deploy("digits-mlp:1", name="digits", port=0)
    _nothing_left(ws)


def test_a_failed_load_stops_the_server_it_started(ws: Workspace) -> None:
    # intact files, but the server cannot load them: version 1 has no model.onnx
    with pytest.raises(AimassError, match=r"has no model\.onnx"):
        am.deploy("digits-mlp:1", name="digits", engine="onnxruntime", port=0)
    assert len(ws.jobs.list(kind="serve")) == 1  # it did start one, and stopped it
    _nothing_left(ws)
    proc = aimass(ws.path, "deploy", "digits-mlp:1", "--engine", "onnxruntime", "--port", "0")
    assert proc.returncode == 1 and "has no model.onnx" in proc.stderr, proc.stderr
    _nothing_left(ws)


def test_a_failed_deploy_leaves_a_server_it_did_not_start_serving(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="a", port=0)
    job_id = dep.to_dict()["job_id"]
    with pytest.raises(AimassError, match=r"has no model\.onnx"):
        am.deploy("digits-mlp:1", name="b", engine="onnxruntime")
    assert ws.jobs.get(str(job_id)).active and record_names(ws) == ["a"]
    assert dep.predict(digits_rows(1))["version"] == "2"
    assert [m["name"] for m in dep.client.admin_models()] == ["a"]
    # an existing deployment keeps its record and its server, and records the failure
    with pytest.raises(AimassError, match=r"has no model\.onnx"):
        am.deploy("digits-mlp:1", name="a", engine="onnxruntime")
    dep.refresh()
    assert dep.state == "running" and dep.to_dict()["job_id"] == job_id
    assert "has no model.onnx" in dep.history[-1]["error"]
    assert dep.predict(digits_rows(1))["version"] == "2"
