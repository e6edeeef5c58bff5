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
from aimass_lab.search._dashboard import (
    DASHBOARD_KIND,
    IDLE_PATH,
    Dashboard,
    run_dashboard_here,
    serve_dashboard,
    start_dashboard,
)
from aimass_lab.search._dashboard import run as _run_dashboard
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
from aimass_lab.workspace import register_job_kind, register_service_kind

__all__ = [
    "DASHBOARD_KIND",
    "IDLE_PATH",
    "Dashboard",
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
    "run_dashboard_here",
    "run_search",
    "run_worker",
    "search",
    "serve_dashboard",
    "start_dashboard",
]

make_callable(__name__, search)
register_job_kind("search", _run_job)
register_job_kind(DASHBOARD_KIND, _run_dashboard)
register_service_kind(DASHBOARD_KIND)  # idle shutdown, kernel binding, aimass gc
