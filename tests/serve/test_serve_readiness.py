"""Readiness of a server with one broken model: two startup models, one whose registry files
were modified after registration. The good one serves and says ready; the broken one says
not ready with the reason; the server is not ready (strict readiness, the default) until
the broken one is unloaded, or ready at once with ``--no-strict-readiness``."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from serve_helpers import digits, model_workspace, oip_body, running

from aimass_lab import registry
from aimass_lab.workspace import Workspace

ADMIN = "ready-admin-key"


def _broken_model(tmp_path_factory: pytest.TempPathFactory, tmp: Path) -> Path:
    """A workspace with ``digits-mlp:1..3`` and ``broken:1``: a copy of ``digits-mlp:1``
    whose stored model.json (a file of its own: it differs from the original by one key) was
    modified after registration."""
    ws = Workspace(model_workspace(tmp_path_factory, tmp / "ws"))
    src = tmp / "broken-src"
    src.mkdir()
    for name, path in registry.get("digits-mlp:1", workspace=ws).files().items():
        shutil.copyfile(path, src / name)
    config = json.loads((src / "model.json").read_text())
    (src / "model.json").write_text(json.dumps({**config, "description": "to be broken"}))
    stored = registry.register(src, "broken", workspace=ws).files()["model.json"]
    ws.store.close()
    os.chmod(stored, stat.S_IRUSR | stat.S_IWUSR)
    with open(stored, "a", encoding="utf-8") as f:
        f.write(" ")  # tampered after registration: its sha256 no longer matches
    return Path(ws.path)


def test_one_broken_model_strict_readiness(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    with running(
        _broken_model(tmp_path_factory, tmp_path), tmp_path, "--models", "digits-mlp:2", "--models", "broken:1",
        "--admin", "--admin-key-env", "READY_ADMIN", env={"READY_ADMIN": ADMIN},
    ) as server, server.client() as c:  # fmt: skip
        # the good model serves and is ready
        assert c.get("/v2/models/digits-mlp/ready").json() == {"name": "digits-mlp", "ready": True}
        _, x = digits(2)
        assert c.post("/v2/models/digits-mlp/infer", json=oip_body(x)).status_code == 200
        # the broken one is not ready, and says why
        for path in ("/v2/models/broken/ready", "/v2/models/broken/versions/1/ready"):
            r = c.get(path)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["ready"] is False and body["name"] == "broken"
            assert "model.json" in body["error"] and "failed" in body["error"], body
        r = c.post("/v2/models/broken/infer", json=oip_body(x))
        assert r.status_code == 503 and "failed to load" in r.json()["error"]
        index = {e["name"]: e for e in c.get("/v2/repository/index").json()}
        assert index["digits-mlp"]["state"] == "READY"
        assert index["broken"]["state"] == "FAILED" and "model.json" in index["broken"]["reason"]
        # strict readiness: the server is not ready while a startup model failed ...
        r = c.get("/v2/health/ready")
        assert r.status_code == 503, r.text
        assert "'broken'" in r.json()["error"] and "--no-strict-readiness" in r.json()["error"]
        assert c.get("/v2/health/live").status_code == 200
        # ... and is once it is unloaded
        r = c.delete("/admin/models/broken", headers={"x-admin-key": ADMIN})
        assert r.status_code == 200, r.text
        assert c.get("/v2/health/ready").json() == {"ready": True}
        assert c.get("/v2/models/broken/ready").status_code == 404


def test_one_broken_model_without_strict_readiness(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    with (
        running(
            _broken_model(tmp_path_factory, tmp_path),
            tmp_path,
            "--models",
            "digits-mlp:2",
            "--models",
            "broken:1",
            "--no-strict-readiness",
        ) as server,
        server.client() as c,
    ):
        r = c.get("/v2/health/ready")
        assert r.status_code == 200, r.text
        assert r.json() == {"ready": True, "failed": ["broken:1"]}
        assert c.get("/v2/models/digits-mlp/ready").status_code == 200
        assert c.get("/v2/models/broken/ready").status_code == 503
