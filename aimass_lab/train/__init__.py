"""The train stage: Lightning training as detached jobs, with metrics, checkpoints and resume.

``aimass_lab.train(...)`` is :func:`train` (the package is callable).
"""

from aimass_lab._callable_module import make_callable
from aimass_lab.train._api import build_train_spec, preflight, train
from aimass_lab.train._run import Run, list_runs

__all__ = ["Run", "build_train_spec", "list_runs", "preflight", "train"]

make_callable(__name__, train)
