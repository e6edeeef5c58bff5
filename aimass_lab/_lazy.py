"""Lazy public names of a package (PEP 562): ``import aimass_lab`` and friends stay light.

A package lists where each public name lives and installs the pair this returns::

    __getattr__, __dir__ = lazy_exports(__name__, {"Workspace": "aimass_lab.workspace._workspace"})

A name's value is imported on first use and kept in the package's namespace. A target is a
module name (the attribute of the same name is taken from it) or ``(module, attribute)``;
``(module, None)`` is the module itself.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]

Target = str | tuple[str, str | None]


def lazy_exports(
    package: str, names: Mapping[str, Target], listed: Sequence[str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for its lazily imported ``names``.

    ``dir(package)`` lists ``listed`` (its ``__all__``) when given, else its namespace and
    the lazy names.
    """

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, attr = (target, name) if isinstance(target, str) else target
        module = importlib.import_module(module_name)
        value = module if attr is None else getattr(module, attr)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        if listed is not None:
            return sorted(listed)
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
