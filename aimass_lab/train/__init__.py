"""The train stage: Lightning training as detached jobs, with metrics, checkpoints and resume.

``aimass_lab.train(...)`` is :func:`train` (the package is callable).
"""

from aimass_lab._callable_module import make_callable
from aimass_lab.train._api import (
    build_train_spec,
    check_pretrained,
    fit_to_pretrained,
    preflight,
    train,
)
from aimass_lab.train._job import execute as execute_training
from aimass_lab.train._job import quiet_lightning
from aimass_lab.train._job import run as _run_job
from aimass_lab.train._run import Run, list_runs
from aimass_lab.train._tensorboard import TENSORBOARD_PREFIX, tensorboard_logdir, tensorboard_path
from aimass_lab.workspace import register_job_kind

__all__ = [
    "TENSORBOARD_PREFIX",
    "Run",
    "build_train_spec",
    "check_pretrained",
    "fit_to_pretrained",
    "execute_training",
    "list_runs",
    "preflight",
    "quiet_lightning",
    "tensorboard_logdir",
    "tensorboard_path",
    "train",
]

make_callable(__name__, train)
register_job_kind("train", _run_job)
