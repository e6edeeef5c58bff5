"""Fixtures of tests/serve (helpers: serve_helpers.py, deploy_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_helpers import model_workspace

from aimass_lab.workspace import Workspace, set_current_workspace


@pytest.fixture
def ws(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A copy of the session's model workspace, made current; every server job it starts is
    stopped after the test."""
    workspace = model_workspace(tmp_path_factory, tmp_path / "ws")
    set_current_workspace(workspace)
    yield workspace
    for job in workspace.jobs.list(kind="serve"):
        if job.active:
            workspace.jobs.cancel(job.id)
            workspace.jobs.wait(job.id, timeout=30)
