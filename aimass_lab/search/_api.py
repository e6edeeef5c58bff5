"""``aimass_lab.search``: the notebook front door of the search stage."""

from __future__ import annotations

import os
import time
from typing import Any

from aimass_lab.errors import SpecError, accepted
from aimass_lab.search._factory import JOURNAL_SUFFIX, make_sampler, open_storage, studies_dir
from aimass_lab.search._launch import deprecated_name, launch_workers
from aimass_lab.search._space import check_space
from aimass_lab.search._study import Study
from aimass_lab.search._worker import SPEC_ATTR, STARTED_ATTR
from aimass_lab.specs import (
    MEASURED_OBJECTIVES,
    EarlyStoppingSpec,
    ParamSpec,
    SearchSpec,
    read_yaml,
)
from aimass_lab.workspace import Workspace, new_id, resolve_workspace

__all__ = ["list_studies", "load_study", "search", "start_study"]


def load_space(space: Any) -> Any:
    """A space given as a dict, YAML text or the path of a YAML/JSON file."""
    if isinstance(space, str | os.PathLike) and not isinstance(space, dict):
        return read_yaml(space, "SearchSpec", "space", what="space file") or {}
    if isinstance(space, dict):
        return {k: (v.to_dict() if isinstance(v, ParamSpec) else v) for k, v in space.items()}
    return space


def preflight(spec: SearchSpec, workspace: Workspace) -> None:
    """Check what can be checked before anything is created: data, model, space, objectives."""
    from aimass_lab import data as data_stage
    from aimass_lab.models import metric_names
    from aimass_lab.train import preflight as train_preflight

    dataset = data_stage.load(spec.train.data, workspace=workspace)
    train_preflight(spec.train, dataset)
    logged = metric_names(dataset.task, "val")
    known = [*logged, *MEASURED_OBJECTIVES]
    errors = [
        {
            "field": "objectives",
            "value": objective,
            "message": f"the model never logs {metric!r} on {spec.train.data.label!r} "
            f"({dataset.task}); accepted metrics: {accepted(known)}",
        }
        for objective, metric in zip(spec.objectives, spec.metrics, strict=True)
        if metric not in known
    ]
    if errors:
        raise SpecError("SearchSpec", errors)
    check_space(spec)
    make_sampler(spec)


def start_study(spec: SearchSpec, workspace: Workspace) -> str:
    """Create the spec's study in its storage (or check that the existing one matches).

    Returns
    -------
    str
        The study name.
    """
    import optuna

    name = (
        spec.study or f"{spec.train.data.label.split(' ')[0]}-{spec.train.model.family}-{new_id()}"
    )
    spec = spec.model_copy(update={"study": name})
    storage = open_storage(workspace, name, spec.storage, max_retry=spec.max_retry)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        study_id = None
    if study_id is not None:
        stored = storage.get_study_user_attrs(study_id).get(SPEC_ATTR)
        if stored is None:
            raise SpecError(
                "SearchSpec",
                [
                    {
                        "field": "study",
                        "value": name,
                        "message": "a study of this name exists but was not created by "
                        "AI Mass Lab; give another study name",
                    }
                ],
            )
        old = SearchSpec.from_dict(stored)
        errors: list[dict[str, Any]] = []
        if old.to_dict()["space"] != spec.to_dict()["space"]:
            errors.append(
                {
                    "field": "space",
                    "message": f"study {name!r} already exists with a different space "
                    f"({sorted(old.space)}); resume it with the same space, or give a new "
                    "study name",
                }
            )
        if old.objectives != spec.objectives:
            errors.append(
                {
                    "field": "objectives",
                    "value": spec.objectives,
                    "message": f"study {name!r} already exists with objectives "
                    f"{old.objectives}; resume it with the same objectives, or give a new "
                    "study name",
                }
            )
        if errors:
            raise SpecError("SearchSpec", errors)
    else:
        optuna.create_study(
            study_name=name,
            storage=storage,
            directions=spec.directions,  # type: ignore[arg-type]
            load_if_exists=True,
        )
        study_id = storage.get_study_id_from_name(name)
    storage.set_study_user_attr(study_id, SPEC_ATTR, spec.to_dict())
    storage.set_study_user_attr(study_id, STARTED_ATTR, time.time())
    return name


def search(
    data: Any,
    model: Any = "mlp",
    space: Any = None,
    objectives: str | list[str] | tuple[str, ...] = ("val_loss:min",),
    *,
    sampler: str = "tpe",
    pruner: str | None = None,
    n_trials: int | None = 20,
    timeout: float | None = None,
    workers: int = 1,
    seed: int | None = None,
    study: str | None = None,
    storage: str | None = None,
    max_retry: int = 2,
    cv: int | None = None,
    hparams: dict[str, Any] | None = None,
    max_epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    early_stopping: bool | dict[str, Any] | EarlyStoppingSpec | None = None,
    wait: bool = False,
    launch: bool = True,
    workspace: Workspace | str | None = None,
    **fields: Any,
) -> Study:
    """Search hyperparameters with Optuna; every trial is a training run of a worker job.

    Parameters
    ----------
    data
        A built-in or registered dataset name, a DataSpec or dict.
    model
        A zoo name (``"mlp"``, ``"cnn"``, ...), a ModelSpec or dict: the base model.
    space
        ``{name: {"type": "int"|"float"|"categorical", "low", "high", "log", "step",
        "choices", "condition"}}``, YAML text or a YAML file. Names are training fields
        (``lr``, ``batch_size``, ``weight_decay``, ``optimizer``, ``max_epochs``), ``family``
        (the model family) or the model's hyperparameters.
    objectives
        ``"metric:min"`` / ``"metric:max"``, one or several: a logged validation metric
        (``val_loss``, ``val_acc``, ...) or a measured one (``params``, ``size_kb``,
        ``latency_ms``).
    sampler
        random, grid, tpe, cmaes, gp, nsga2 or qmc.
    pruner
        none, median, percentile, successive-halving, hyperband, or wilcoxon (with ``cv``)
        (default: median for one objective, none for several).
    n_trials, timeout
        The budget, shared by all workers: trials in all, and/or seconds from the start.
    workers
        Worker jobs to start (each a detached process) running trials at the same time.
    seed
        Seed of the sampler (worker ``i`` uses ``seed + i``).
    study
        The study name; an existing study of the name is resumed (same space and
        objectives required).
    storage
        An Optuna RDB URL (``postgresql://...``) to share the study with workers on other
        machines; default: the workspace's journal file.
    max_retry
        How many times a trial whose worker died is retried.
    cv
        k-fold cross-validation: each trial trains ``cv`` runs (one per validation fold, the
        test part held out first) and its values are the means over the folds; the pruner
        then sees the first objective fold by fold.
    hparams, max_epochs, batch_size, lr, early_stopping, **fields
        The base training (see :func:`aimass_lab.train`).
    wait
        Block until the workers end.
    launch
        ``False`` creates the study and records the worker jobs without starting them.
    workspace
        The workspace (default: the current one).

    Returns
    -------
    Study
        The study handle: ``trials``, ``best_trial``, ``pareto_front()``, ``best_model()``,
        ``register()``, ``wait()``, ``status``.
    """
    from aimass_lab.train import build_train_spec

    workers = deprecated_name("parallel", fields.pop("parallel", None), "workers", workers)
    ws = resolve_workspace(workspace)
    base = build_train_spec(
        data,
        model,
        hparams=hparams,
        workspace=ws,
        early_stopping=early_stopping,
        max_epochs=max_epochs,
        batch_size=batch_size,
        lr=lr,
        **fields,
    )
    payload: dict[str, Any] = {
        "train": base,
        "space": load_space(space) if space is not None else {},
        "objectives": [objectives] if isinstance(objectives, str) else list(objectives),
        "sampler": sampler,
        "n_trials": n_trials,
        "timeout": timeout,
        "workers": workers,
        "seed": seed,
        "study": study,
        "storage": storage,
        "max_retry": max_retry,
        "cv": cv,
    }
    if pruner is not None:
        payload["pruner"] = pruner
    spec = SearchSpec.from_dict(payload)
    return run_search(spec, ws, wait=wait, launch=launch)


def run_search(
    spec: SearchSpec, workspace: Workspace, *, wait: bool = False, launch: bool = True
) -> Study:
    """Check a SearchSpec, create (or resume) its study and start its workers."""
    preflight(spec, workspace)
    name = start_study(spec, workspace)
    launch_workers(workspace, name, spec.storage, spec, spec.workers, launch=launch)
    handle = Study(name, spec.storage, workspace)
    if wait and launch:
        handle.wait()
    return handle


def load_study(
    name: str, storage: str | None = None, workspace: Workspace | str | None = None
) -> Study:
    """The handle of an existing study."""
    return Study(name, storage, workspace)


def list_studies(
    storage: str | None = None, workspace: Workspace | str | None = None
) -> list[dict[str, Any]]:
    """Studies of the workspace (or of an RDB storage): name, trials, best values, directions."""
    import optuna

    ws = resolve_workspace(workspace)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out: list[dict[str, Any]] = []
    if storage is None:
        folder = studies_dir(ws)
        names = sorted(p.name[: -len(JOURNAL_SUFFIX)] for p in folder.glob(f"*{JOURNAL_SUFFIX}"))
        summaries = []
        for name in names:
            summaries.extend(
                optuna.get_all_study_summaries(
                    open_storage(ws, name, None), include_best_trial=False
                )
            )
    else:
        summaries = optuna.get_all_study_summaries(
            open_storage(ws, "", storage), include_best_trial=False
        )
    for s in summaries:
        out.append(
            {
                "study": s.study_name,
                "directions": [d.name.lower() for d in s.directions],
                "n_trials": s.n_trials,
                "started": s.datetime_start.isoformat() if s.datetime_start else None,
                "objectives": (s.user_attrs.get(SPEC_ATTR) or {}).get("objectives"),
            }
        )
    return out
