"""Job kinds: every stage registers the function that runs its jobs; the workspace names none.

``aimass_lab.train`` registers ``train``, ``aimass_lab.search`` ``search``,
``aimass_lab.compress`` ``compress`` and ``aimass_lab.serve`` ``serve`` when they are
imported. A job process (``python -m aimass_lab.runjob``) imports the stages, so every kind
is known there. Elsewhere (a process that records or checks a job without having imported
its stage), the first unknown kind calls the loader that ``aimass_lab/__init__`` installs
(:func:`set_job_kind_loader`): it imports the stages. This module imports nothing heavy:
registering a kind does not load the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aimass_lab.errors import JobError, accepted

__all__ = [
    "IN_PROCESS",
    "job_function",
    "job_kinds",
    "register_job_kind",
    "set_job_kind_loader",
]

#: kind -> the function run inside the job process with a :class:`JobContext`.
_KINDS: dict[str, Callable[[Any], Any]] = {}

_LOADER: list[Callable[[], None]] = []

#: Jobs running inside this process (a notebook kernel), by id -> their JobContext:
#: cancelling one sets its stop event instead of signalling a process.
IN_PROCESS: dict[str, Any] = {}


def register_job_kind(kind: str, func: Callable[[Any], Any]) -> None:
    """Run jobs of ``kind`` with ``func(ctx)`` (``ctx``: a :class:`JobContext`).

    Registering the same function again (a reloaded module) replaces it; another function for a kind that is
    taken is an error (two stages cannot share a kind).
    """
    if not kind or not kind.replace("-", "").isalnum() or kind != kind.lower():
        raise JobError(
            f"job kind {kind!r} is not accepted; accepted: lower-case letters, digits, '-'"
        )
    current = _KINDS.get(kind)
    same = current is not None and (current.__module__, current.__qualname__) == (
        func.__module__,
        func.__qualname__,
    )
    if current is not None and not same:
        raise JobError(f"job kind {kind!r} is registered already (by {current.__module__})")
    _KINDS[kind] = func


def set_job_kind_loader(loader: Callable[[], None]) -> None:
    """The function that registers every stage's kind (imports the stages); called lazily."""
    _LOADER[:] = [loader]


def _load() -> None:
    if _LOADER:
        loader = _LOADER.pop()  # once: a stage that fails to import is not retried per call
        loader()


def job_kinds() -> tuple[str, ...]:
    """The job kinds: the stages' (loaded if need be) and any registered in this process."""
    _load()
    return tuple(sorted(_KINDS))


def job_function(kind: str) -> Callable[[Any], Any]:
    """The function that runs a job of this kind (``JobError`` for an unknown kind)."""
    if kind not in _KINDS:
        _load()
    func = _KINDS.get(kind)
    if func is None:
        raise JobError(f"unknown job kind {kind!r}; accepted: {accepted(job_kinds())}")
    return func
