"""The search stage: Optuna hyperparameter search whose trials are training runs.

``aimass_lab.search(...)`` is :func:`search` (the package is callable). Optuna, torch and
Lightning are imported only when a search runs.

Examples
--------
>>> import aimass_lab as am  # doctest: +SKIP
>>> study = am.search(
...     "digits", "mlp",
...     space={"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
...            "hidden": {"type": "int", "low": 16, "high": 256, "log": True}},
...     objectives="val_acc:max", pruner="hyperband", n_trials=20, workers=2,
... )  # doctest: +SKIP
>>> study.wait().best_model(register=True)  # doctest: +SKIP
"""

from aimass_lab._callable_module import make_callable
from aimass_lab.search._api import list_studies, load_space, load_study, run_search, search
from aimass_lab.search._dashboard import serve_dashboard
from aimass_lab.search._plots import (
    plot_history,
    plot_importances,
    plot_intermediate_values,
    plot_parallel_coordinate,
    plot_pareto_front,
)
from aimass_lab.search._study import Study, TrialResult
from aimass_lab.search._worker import join_study, run_worker
from aimass_lab.search._worker import run as _run_job
from aimass_lab.workspace import register_job_kind

__all__ = [
    "Study",
    "TrialResult",
    "join_study",
    "list_studies",
    "load_space",
    "load_study",
    "plot_history",
    "plot_importances",
    "plot_intermediate_values",
    "plot_parallel_coordinate",
    "plot_pareto_front",
    "run_search",
    "run_worker",
    "search",
    "serve_dashboard",
]

make_callable(__name__, search)
register_job_kind("search", _run_job)
