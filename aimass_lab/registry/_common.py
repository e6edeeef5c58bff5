"""What the registry's modules share: the ref and workspace types and retried transactions."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.exc import OperationalError

from aimass_lab.errors import AimassError, accepted
from aimass_lab.registry._model_version import ModelVersion
from aimass_lab.workspace import Workspace

__all__ = ["MAX_ATTEMPTS", "Ref", "WorkspaceLike"]

#: How many times a registration (or an alias move) retries when another process took the
#: same version number (or SQLite was locked).
MAX_ATTEMPTS = 50

#: A model version: a ref string (``"name:3"``, ``"name:prod"``, ``"name"``) or a ModelVersion.
Ref = str | ModelVersion
#: A workspace, its folder, or ``None`` for the current one.
WorkspaceLike = Workspace | str | os.PathLike[str] | None
T = TypeVar("T")


def _few(values: Iterable[object], limit: int = 20) -> str:
    items = list(values)
    text = accepted(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, SAIntegrityError):
        return True
    # SQLite under heavy write contention can still say "database is locked".
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0.005, 0.02) * min(attempt + 1, 10))


def _retrying(transaction: Callable[[], T], failure: str) -> T:
    """Run ``transaction`` until it commits, up to :data:`MAX_ATTEMPTS` times while another
    process takes the same key (or SQLite is locked); then AimassError ``failure: last error``."""
    last_error: Exception | None = None
    for attempt in range(MAX_ATTEMPTS):
        try:
            return transaction()
        except (SAIntegrityError, OperationalError) as exc:
            if not _is_retryable(exc):
                raise
            last_error = exc
            _backoff(attempt)
    raise AimassError(f"{failure}: {last_error}")
