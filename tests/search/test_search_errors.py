"""Bad input to the search stage fails early with a message naming what was wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import aimass_lab as am
from aimass_lab.errors import AimassError, SpecError, WorkspaceError
from aimass_lab.specs import SearchSpec
from aimass_lab.workspace import Workspace

LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}


def _spec(**over: Any) -> SearchSpec:
    payload: dict[str, Any] = {
        "train": {"data": {"name": "iris"}, "model": {"family": "mlp"}, "max_epochs": 1},
        "space": {"lr": LR},
    }
    payload.update(over)
    return SearchSpec.from_dict(payload)


def _message(**over: Any) -> str:
    with pytest.raises(SpecError) as info:
        _spec(**over)
    return str(info.value)


def test_empty_space() -> None:
    msg = _message(space={})
    assert "space: the search space is empty" in msg and "'type': 'float'" in msg


def test_low_above_high() -> None:
    msg = _message(space={"hidden": {"type": "int", "low": 64, "high": 8}})
    assert "space.hidden: low (64) must not exceed high (8)" in msg


def test_log_with_non_positive_bound() -> None:
    msg = _message(space={"lr": {"type": "float", "low": 0, "high": 0.1, "log": True}})
    assert "space.lr: log scale needs positive bounds; got low=0" in msg
    assert "accepted: low > 0, or log: false" in msg


def test_unknown_distribution() -> None:
    msg = _message(space={"lr": {"type": "normal", "low": 0, "high": 1}})
    assert "space.lr.type: got 'normal': unknown distribution 'normal'" in msg
    assert "accepted: 'int', 'float', 'categorical'" in msg


def test_unknown_sampler() -> None:
    msg = _message(sampler="bayes")
    assert "sampler: got 'bayes': unknown sampler 'bayes'" in msg
    assert "'random', 'grid', 'tpe', 'cmaes', 'gp', 'nsga2', 'qmc'" in msg


def test_unknown_pruner() -> None:
    msg = _message(pruner="asha")
    assert "unknown pruner 'asha'" in msg
    assert "'none', 'median', 'percentile', 'successive-halving', 'hyperband'" in msg


def test_grid_over_continuous_range() -> None:
    msg = _message(sampler="grid", space={"lr": LR})
    assert "grid sampler needs a finite set of values, but 'lr' is a continuous float" in msg
    assert "give it a step, make it categorical, or use another sampler" in msg
    # a stepped float, an int and a categorical are fine on a grid
    spec = _spec(
        sampler="grid",
        space={
            "dropout": {"type": "float", "low": 0.0, "high": 0.2, "step": 0.1},
            "hidden": {"type": "int", "low": 8, "high": 16, "step": 8},
        },
    )
    assert spec.space["hidden"].grid_values() == [8, 16]


def test_bad_objectives_and_budget() -> None:
    assert "is not 'metric:min' or 'metric:max'" in _message(objectives=["val_acc"])
    assert "give a budget" in _message(n_trials=None, timeout=None)
    msg = _message(objectives=["val_acc:max", "params:min"], pruner="hyperband")
    assert "pruner 'hyperband' needs a single objective" in msg
    # left at its default, the pruner is switched off for several objectives
    assert _spec(objectives=["val_acc:max", "params:min"]).pruner == "none"


def test_condition_on_a_later_parameter() -> None:
    msg = _message(
        space={
            "hidden": {"type": "int", "low": 4, "high": 8, "condition": {"family": "mlp"}},
            "family": {"type": "categorical", "choices": ["mlp", "gru"]},
        }
    )
    assert "condition on 'family', which is not an earlier parameter" in msg


def test_objective_the_model_never_logs(sqlite_workspace: Workspace) -> None:
    with pytest.raises(SpecError) as info:
        am.search(
            "iris", "mlp", space={"lr": LR}, objectives="val_mae:min", workspace=sqlite_workspace
        )
    msg = str(info.value)
    assert "objectives: got 'val_mae:min': the model never logs 'val_mae'" in msg
    assert "'val_acc'" in msg and "'params'" in msg
    assert not (sqlite_workspace.path / "studies").exists()
    assert sqlite_workspace.jobs.list() == []


def test_space_parameter_the_model_does_not_take(sqlite_workspace: Workspace) -> None:
    with pytest.raises(SpecError) as info:
        am.search(
            "iris",
            "mlp",
            space={"channels": {"type": "int", "low": 4, "high": 8}},
            workspace=sqlite_workspace,
        )
    assert "space.channels" in str(info.value)
    assert "model 'mlp' takes no hyperparameter 'channels'" in str(info.value)


def test_unreachable_storage(sqlite_workspace: Workspace) -> None:
    url = "postgresql://nobody:secret@127.0.0.1:9/nowhere"
    with pytest.raises(WorkspaceError) as info:
        am.search(
            "iris",
            "mlp",
            space={"lr": LR},
            storage=url,
            study="remote",
            workspace=sqlite_workspace,
        )
    msg = str(info.value)
    assert "cannot reach the study storage postgresql://nobody:***@127.0.0.1:9/nowhere" in msg
    assert "nothing was created" in msg and "secret" not in msg
    assert sqlite_workspace.jobs.list() == []
    assert not (sqlite_workspace.path / "studies").exists()


def test_reusing_a_study_name_with_another_space(sqlite_workspace: Workspace) -> None:
    kw: dict[str, Any] = {"study": "s", "launch": False, "workspace": sqlite_workspace}
    study = am.search("iris", "mlp", space={"lr": LR}, objectives="val_acc:max", **kw)
    assert study.status == "queued" and len(study.workers) == 1
    with pytest.raises(SpecError) as info:
        am.search(
            "iris",
            "mlp",
            space={"hidden": {"type": "int", "low": 4, "high": 8}},
            objectives="val_acc:max",
            **kw,
        )
    assert "space: study 's' already exists with a different space (['lr'])" in str(info.value)
    with pytest.raises(SpecError) as info:
        am.search("iris", "mlp", space={"lr": LR}, objectives="val_loss:min", **kw)
    assert "objectives: got ['val_loss:min']: study 's' already exists with objectives" in str(
        info.value
    )
    # nothing was launched or recorded by the refused calls
    assert len(study.workers) == 1
    # the same space and objectives resume the study
    again = am.search("iris", "mlp", space={"lr": LR}, objectives="val_acc:max", **kw)
    assert again.name == "s" and len(again.workers) == 2


def test_unknown_study_and_multi_objective_best(sqlite_workspace: Workspace) -> None:
    with pytest.raises(AimassError, match="no study 'nope' in the workspace"):
        am.search.load_study("nope", workspace=sqlite_workspace)
    study = am.search(
        "iris",
        "mlp",
        space={"lr": LR},
        objectives=["val_acc:max", "params:min"],
        launch=False,
        workspace=sqlite_workspace,
    )
    with pytest.raises(AimassError, match="2 objectives, so no single best trial"):
        study.best_trial  # noqa: B018
    assert study.pareto_front().empty


def test_space_file(tmp_path: Path, sqlite_workspace: Workspace) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("lr: {type: float, low: 0.001, high: 0.1, log: true}\n")
    study = am.search("iris", "mlp", space=str(path), launch=False, workspace=sqlite_workspace)
    assert study.spec.space["lr"].log
    with pytest.raises(SpecError, match="space file not found"):
        am.search("iris", "mlp", space=str(tmp_path / "x.yaml"), workspace=sqlite_workspace)
