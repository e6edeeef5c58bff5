"""Stage packages that are also callables: ``aimass_lab.train(...)`` and ``aimass_lab.train.Run``.

A stage is a subpackage (``aimass_lab/train/``) and its front door is a function of the same
name. Importing the subpackage binds the module to ``aimass_lab.train``, so the module itself
must be callable: its class is swapped for one whose ``__call__`` is the stage's function.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["make_callable"]


def make_callable(module_name: str, func: Callable[..., Any] | str) -> None:
    """Make the module ``module_name`` callable as ``func``: a function, or the name of the
    module's own (lazily imported) attribute that is the function."""

    class _CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            target = getattr(self, func) if isinstance(func, str) else func
            return target(*args, **kwargs)

    module = sys.modules[module_name]
    module.__class__ = _CallableModule
    if not isinstance(func, str):
        module.__doc__ = func.__doc__
