"""Who is acting: the user a shared workspace records as the owner of jobs and submissions.

In the Python API and the CLI it is :envvar:`AIMASS_USER`, else JupyterHub's
``JUPYTERHUB_USER`` (set in every single-user server and its kernels), else the login name.
The lab REST API acts as Jupyter Server's identity instead: its handlers run stage code
inside :func:`acting_as` (a context variable, so threads started with ``asyncio.to_thread``
see it and concurrent requests of different users do not mix).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from aimass_lab.settings import settings

__all__ = ["acting_as", "current_user"]

_ACTING: ContextVar[str | None] = ContextVar("aimass_acting_user", default=None)


@contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    """Run the block as ``user`` (``None``: as the process's own user)."""
    token = _ACTING.set(user)
    try:
        yield
    finally:
        _ACTING.reset(token)


def current_user() -> str:
    """The name of the user acting here: :func:`acting_as`, else the process's user."""
    acting = _ACTING.get()
    if acting:
        return acting
    configured = settings().user
    if configured:
        return str(configured)
    hub = os.environ.get("JUPYTERHUB_USER", "").strip()
    if hub:
        return hub
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid-{os.getuid()}"
