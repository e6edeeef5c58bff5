"""Finding the :class:`Source` for a spec: core sources, entry points and run-time registrations."""

from __future__ import annotations

import importlib
from typing import Any

from aimass_lab.data._base import Source
from aimass_lab.errors import DataError, NotFoundError, SpecError, accepted
from aimass_lab.specs import (
    CORE_SOURCES,
    ENTRY_POINT_GROUP,
    add_runtime_source,
    plugin_sources,
    remove_runtime_source,
    source_names,
)

__all__ = ["get_source", "register_source", "unregister_source"]

_CORE: dict[str, str] = {
    "builtin": "aimass_lab.data._builtin:BuiltinSource",
    "csv": "aimass_lab.data._files:CSVSource",
    "parquet": "aimass_lab.data._files:ParquetSource",
    "jsonl": "aimass_lab.data._tables:JSONLinesSource",
    "hf": "aimass_lab.data._tables:HFDatasetSource",
    "dataframe": "aimass_lab.data._memory:DataFrameSource",
    "numpy": "aimass_lab.data._memory:NumpySource",
    "image_folder": "aimass_lab.data._images:ImageFolderSource",
    "sql": "aimass_lab.data._sql:SQLSource",
}
assert set(_CORE) == set(CORE_SOURCES)

_REGISTERED: dict[str, type[Source]] = {}


def _import_source(name: str, target: str, origin: str) -> type[Source]:
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except Exception as exc:
        raise DataError(
            f"cannot import the source {name!r} ({target!r}, {origin}): {exc}"
        ) from None
    if not (isinstance(obj, type) and issubclass(obj, Source)):
        raise DataError(
            f"the source {name!r} ({target!r}, {origin}) is not a subclass of "
            "aimass_lab.data.Source; a source class must subclass it and implement load(spec, workspace)"
        )
    return obj


def get_source(name: str) -> Source:
    """An instance of the source called ``name``.

    Run-time registrations come first, then core sources, then the ``aimass_lab.sources``
    entry-point group.

    Raises
    ------
    NotFoundError
        When no source has that name (the message lists the accepted names).
    DataError
        When a plugin cannot be imported or is not a :class:`Source` subclass.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]()
    if name in _CORE:
        return _import_source(name, _CORE[name], "core")()
    plugins = plugin_sources()
    if name in plugins:
        return _import_source(name, plugins[name], f"entry point in group {ENTRY_POINT_GROUP!r}")()
    raise NotFoundError(f"unknown source {name!r}; accepted: {accepted(source_names())}")


def register_source(name: str, cls: type[Source] | str) -> None:
    """Make a :class:`Source` subclass available under ``name`` in this process.

    Packages make sources available everywhere (including detached job processes) through
    the ``aimass_lab.sources`` entry-point group; this hook is for notebooks and tests.

    Parameters
    ----------
    name
        The ``source`` value specs use.
    cls
        The class, or ``"package.module:Class"``.

    Raises
    ------
    SpecError
        When ``name`` is a core source or is not a plain identifier, or ``cls`` is not a
        :class:`Source` subclass.

    Examples
    --------
    >>> from aimass_lab.data import RawData, Source, register_source
    >>> class Tiny(Source):
    ...     name = "tiny"
    ...     def load(self, spec, workspace):
    ...         return RawData([[0.0], [1.0]] * 10, [0, 1] * 10)
    >>> register_source("tiny", Tiny)
    """
    field = {"field": "name", "value": name}
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(
            "register_source", [{**field, "message": "a source name must be an identifier"}]
        )
    if name in CORE_SOURCES:
        raise SpecError(
            "register_source",
            [
                {
                    **field,
                    "message": f"{name!r} is a core source and cannot be replaced; core: {accepted(CORE_SOURCES)}",
                }
            ],
        )
    if isinstance(cls, str):
        resolved = _import_source(name, cls, "register_source")
        target = cls
    elif isinstance(cls, type) and issubclass(cls, Source):
        resolved = cls
        target = f"{cls.__module__}:{cls.__qualname__}"
    else:
        raise SpecError(
            "register_source",
            [
                {
                    "field": "cls",
                    "value": cls,
                    "message": "expected a subclass of aimass_lab.data.Source or 'module:Class'",
                }
            ],
        )
    _REGISTERED[name] = resolved
    add_runtime_source(name, target)


def unregister_source(name: str) -> None:
    """Forget a source registered with :func:`register_source` (no error if unknown)."""
    _REGISTERED.pop(name, None)
    remove_runtime_source(name)
