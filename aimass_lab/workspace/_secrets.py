"""The workspace's secret store: a source's credential read at use time, never stored.

A credential is a reference: ``env:NAME`` reads environment variable NAME of the process that
loads the data (the kernel, the ``aimass`` command, the Jupyter server; jobs inherit it), and
``file:/path`` reads a file that only its owner may read (``chmod 600``). The value lives in
memory just long enough to open the connection; it is never written to the store, a log, a
job spec or a REST answer.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from aimass_lab.errors import DataError

if TYPE_CHECKING:
    from aimass_lab.specs import DataSourceSpec

__all__ = ["join_location", "read_secret", "sql_url_with_secret"]


def read_secret(spec: DataSourceSpec) -> str | None:
    """The secret of ``spec`` (``None`` when it has no credential).

    Raises
    ------
    DataError
        When the variable is not set, the file is missing or unreadable, or the file may be
        read by other users (its mode must give nothing to "others": ``chmod 600``).
    """
    ref = spec.credential
    if not ref:
        return None
    where = f"the credential {ref} of data source {spec.name!r}"
    if ref.startswith("env:"):
        name = ref[4:]
        value = os.environ.get(name)
        if value is None:
            raise DataError(
                f"{where}: the environment variable {name} is not set; set it where the data "
                "is loaded (the kernel, the `aimass` command, the Jupyter server: jobs inherit "
                "it from the process that starts them)"
            )
        return value
    path = Path(ref[5:])
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise DataError(f"{where}: cannot read the file ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise DataError(f"{where}: {path} is not a file")
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise DataError(
            f"{where}: the file {path} can be read or written by every user of the machine "
            f"(mode {stat.filemode(mode)}); refusing it. Restrict it: chmod 600 {path}"
        )
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: cannot read the file ({exc})") from None


def sql_url_with_secret(spec: DataSourceSpec) -> str:
    """The SQLAlchemy URL of a ``sql`` source with its password put in (for connecting only)."""
    from sqlalchemy.engine import make_url

    secret = read_secret(spec)
    url = make_url(spec.location)
    if secret is not None:
        url = url.set(password=secret)
    return url.render_as_string(hide_password=False)


def join_location(spec: DataSourceSpec, rest: str) -> str:
    """The path of ``rest`` inside a folder or bucket source.

    Raises
    ------
    DataError
        When ``rest`` is absolute or climbs out of the source (``..``).
    """
    parts = PurePosixPath(rest).parts if rest else ()
    if rest.startswith("/") or ".." in parts:
        raise DataError(
            f"source://{spec.name}/{rest}: the path must stay inside the data source "
            f"{spec.name!r} (no leading '/', no '..')"
        )
    if not parts and not spec.location.startswith("file://"):
        return spec.location
    if spec.kind == "folder":
        return str(Path(spec.location).joinpath(*parts))
    if spec.location.startswith("file://"):  # a mounted bucket: a local path
        return str(Path(spec.location[len("file://") :]).joinpath(*parts))
    return spec.location.rstrip("/") + "/" + "/".join(parts)
