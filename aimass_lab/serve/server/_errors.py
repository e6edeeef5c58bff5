"""Which HTTP status an exception becomes: tables by exception type, never by message text.

A route raises :class:`~aimass_lab.serve.server._protocol.HTTPError` when it knows the status
itself; the exceptions of the layers below (the registry, the batcher, the workers) are
mapped here, the first rule whose type matches winning (so the narrower types come first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aimass_lab.errors import AimassError, IntegrityError, NotFoundError
from aimass_lab.serve.server._batcher import QueueFull
from aimass_lab.serve.server._protocol import HTTPError
from aimass_lab.serve.server._worker import EngineFailed, Unavailable, WorkerCrashed

__all__ = ["INFER_ERRORS", "LOAD_ERRORS", "ErrorRule", "http_error"]

_RETRY = {"retry-after": "1"}


@dataclass(frozen=True)
class ErrorRule:
    """Exceptions of type ``kind`` answer ``status`` with ``message`` (``str.format`` with
    ``exc`` and the caller's context); ``retry`` adds ``retry-after: 1``."""

    kind: type[BaseException]
    status: int
    message: str = "{exc}"
    retry: bool = False


#: Loading a registry version (the admin route ``POST /admin/models/{name}/versions``).
LOAD_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(NotFoundError, 404),
    ErrorRule(IntegrityError, 409, "refusing to load {ref}: {exc}"),
    ErrorRule(AimassError, 422),  # the version exists but this server cannot serve it
)

#: Running a request on a version (the OIP ``infer`` and JSON ``predict`` routes).
INFER_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(
        QueueFull, 429, "the queue of {what} is full ({queue_size} requests); retry later", True
    ),
    ErrorRule(
        asyncio.TimeoutError, 504, "{what} did not answer within {timeout:g} s (--timeout-s)"
    ),
    ErrorRule(WorkerCrashed, 503, retry=True),
    ErrorRule(Unavailable, 503, retry=True),
    ErrorRule(EngineFailed, 500, "the engine of {what} failed: {exc}"),
)


def http_error(exc: BaseException, rules: Sequence[ErrorRule], **context: Any) -> HTTPError | None:
    """The answer for ``exc`` by the first rule of its type (None: no rule, a bug)."""
    for rule in rules:
        if isinstance(exc, rule.kind):
            message = rule.message.format(exc=exc, **context)
            return HTTPError(rule.status, message, dict(_RETRY) if rule.retry else None)
    return None
