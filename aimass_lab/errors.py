"""One family of errors, each with a message a user can act on.

Every error raised on purpose by AI Mass Lab derives from :class:`AimassError`. Messages
say what was wrong, the offending value, and what is accepted, so that the Python API,
the CLI and (later) the REST API can show them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "AimassError",
    "AimassWarning",
    "ArchiveError",
    "CheckpointError",
    "DataError",
    "DeviceError",
    "IntegrityError",
    "JobError",
    "NotFoundError",
    "PermissionDeniedError",
    "SchemaVersionError",
    "SpecError",
    "WorkspaceError",
    "accepted",
]


def accepted(values: Iterable[Any]) -> str:
    """Format a list of accepted values for an error message.

    Parameters
    ----------
    values
        The accepted values.

    Returns
    -------
    str
        ``"'a', 'b', 'c'"``, or ``"(none)"`` when there are none.
    """
    items = [repr(v) for v in values]
    return ", ".join(items) if items else "(none)"


class AimassError(Exception):
    """Base class of every error AI Mass Lab raises on purpose."""


class SpecError(AimassError, ValueError):
    """A spec (or an argument that becomes one) failed validation.

    Attributes
    ----------
    spec
        The spec class name.
    errors
        One dict per problem: ``field``, ``value``, ``message``.
    """

    def __init__(self, spec: str, errors: list[dict[str, Any]]) -> None:
        self.spec = spec
        self.errors = errors
        lines = [f"invalid {spec}:"]
        for err in errors:
            field = err.get("field") or "(spec)"
            if "value" in err:
                lines.append(f"  - {field}: got {err['value']!r}: {err['message']}")
            else:
                lines.append(f"  - {field}: {err['message']}")
        super().__init__("\n".join(lines))


class NotFoundError(AimassError, LookupError):
    """A named thing (dataset, model family, job, run, model version, alias) does not exist."""


class DataError(AimassError, ValueError):
    """The data cannot be used as asked: missing file or column, NaN target, wrong shape."""


class DeviceError(AimassError, ValueError):
    """The requested devices or accelerator are not available on this machine."""


class WorkspaceError(AimassError):
    """The workspace cannot be opened or used."""


class SchemaVersionError(WorkspaceError):
    """The workspace was written by a newer release of AI Mass Lab."""


class IntegrityError(AimassError):
    """A stored file is missing or its sha256 does not match the manifest."""


class CheckpointError(AimassError):
    """A checkpoint is missing, corrupt or unreadable."""


class JobError(AimassError):
    """A job cannot do what was asked (resume a finished job, cancel a finished job...)."""


class ArchiveError(AimassError):
    """A model archive is malformed or unsafe (paths outside the target, links, bad manifest)."""


class PermissionDeniedError(AimassError):
    """The acting user may not do this (read a data source, change its grants): the message
    names the source, the user and who can change it. The REST API answers 403."""


class AimassWarning(UserWarning):
    """Base class of every warning AI Mass Lab emits on purpose.

    Something worked but may not be what the user meant (a literal password in a database
    URL, a student that is not smaller than its teacher, data that changed since it was
    registered). Filter it with ``warnings.filterwarnings("ignore", category=AimassWarning)``.
    The test suite turns it into an error, so every warning the project emits is expected
    by the test that triggers it.
    """
