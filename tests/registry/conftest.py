"""Fixtures of the registry tests: real model folders (safetensors + model.json) and jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import MODEL_SPEC, MakeJob, write_model_folder
from sqlalchemy import update

from aimass_lab.workspace import Workspace
from aimass_lab.workspace._store import JobRow, utcnow


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A model folder with real safetensors weights of a small MLP."""
    return write_model_folder(tmp_path / "model-src")


@pytest.fixture
def make_job(workspace: Workspace) -> MakeJob:
    """Record a train job in ``state`` with (or without) a model in its run folder."""

    def make(
        state: str = "succeeded",
        *,
        with_model: bool = True,
        seed: int = 0,
        reason: str | None = None,
    ) -> str:
        job = workspace.jobs.create("train", {"data": {"name": "iris"}, "model": MODEL_SPEC})
        if with_model:
            write_model_folder(workspace.jobs.run_dir(job.id) / "model", seed=seed, run_id=job.id)
        with workspace.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job.id)
                .values(
                    state=state,
                    finished_at=utcnow(),
                    exit_reason=reason,
                    result={"metrics": {"val_acc": 0.5, "test_acc": 0.8}},
                )
            )
        return job.id

    return make
