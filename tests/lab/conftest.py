"""Jupyter Server fixtures (pytest-jupyter), for the tests of this folder only."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer
from pytest_jupyter.jupyter_server import *  # noqa: F403


class DenyAll(Authorizer):
    """An authorizer that refuses every action on every resource."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return False


@pytest.fixture
def ws_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The workspace of the test's Jupyter Server: a new one, or for tests marked
    ``@pytest.mark.study_copy`` a private copy of :func:`lab_study_ws` (they may deploy into it).
    """
    dest = tmp_path / "ws"
    if request.node.get_closest_marker("study_copy"):
        shutil.copytree(request.getfixturevalue("lab_study_ws")["path"], dest)
    return dest


@pytest.fixture
def jp_server_config(ws_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A real Jupyter Server with the extension on ``ws_path``, authentication required.

    Tests marked ``@pytest.mark.deny_all`` get a server whose authorizer refuses everything.
    """
    server: dict[str, Any] = {
        "jpserver_extensions": {"aimass_lab": True},
        "allow_unauthenticated_access": False,
    }
    if request.node.get_closest_marker("deny_all"):
        server["authorizer_class"] = DenyAll
    return {"ServerApp": server, "AimassLab": {"workspace": str(ws_path)}}


@pytest.fixture(scope="session")
def lab_study_ws(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A workspace with a real one-trial study, its model registered and a derived version.

    Returns a dict: ``path``, ``study``, ``run_id`` (the trial's training run, with
    TensorBoard events), ``parent`` (``iris-mlp:1``, registered from the trial) and ``child``
    (``iris-small:1``, registered with ``parent=iris-mlp:1``).
    """
    import aimass_lab as am
    from aimass_lab import registry
    from aimass_lab.workspace import Workspace, execute_job, job_function, start_job

    path = tmp_path_factory.mktemp("lab-study") / "ws"
    ws = Workspace(path)
    study = am.search(
        "iris",
        "mlp",
        space={"lr": {"type": "categorical", "choices": [0.05]}},
        objectives="val_acc:max",
        sampler="random",
        n_trials=1,
        max_epochs=1,
        seed=0,
        study="iris-study",
        launch=False,
        workspace=ws,
    )
    worker = study.workers[0].id
    assert execute_job(start_job(ws, worker), job_function("search")) == 0, ws.jobs.logs(worker)
    trial = study.trial(0)
    assert trial.state == "COMPLETE" and trial.run_id
    parent = study.register(0, "iris-mlp")
    child = registry.register(
        trial.run_id, "iris-small", parent=parent.ref, lineage={"source": "compress"}, workspace=ws
    )
    return {
        "path": path,
        "study": study.name,
        "run_id": trial.run_id,
        "parent": parent.ref,
        "child": child.ref,
    }
