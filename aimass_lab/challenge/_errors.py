"""The challenge stage's own refusals (the REST API maps them to 409 and 403)."""

from __future__ import annotations

from aimass_lab.errors import AimassError

__all__ = ["ChallengeFrozenError", "NotOwnerError"]


class ChallengeFrozenError(AimassError):
    """A submission to a frozen challenge."""


class NotOwnerError(AimassError, PermissionError):
    """A teacher's action (freeze, unfreeze, reset, delete) by someone else than the owner."""
