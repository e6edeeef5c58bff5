"""Options of the server extension, as a traitlets Configurable (``c.AimassLab.workspace``)."""

from __future__ import annotations

from traitlets import Float, Unicode
from traitlets.config import Configurable

__all__ = ["AimassLab", "tensorboard_idle_timeout"]


class AimassLab(Configurable):
    """AI Mass Lab inside Jupyter Server.

    Set in ``jupyter_server_config.py`` (``c.AimassLab.workspace = "/data/aimass"``) or on the
    command line (``jupyter lab --AimassLab.workspace=/data/aimass``).
    """

    workspace = Unicode(
        "",
        help="Workspace folder. Default: $AIMASS_HOME, else ./aimass-workspace beside the server's root.",
    ).tag(config=True)

    db_url = Unicode(
        "",
        help="SQLAlchemy URL of the metadata store. Default: $AIMASS_DB_URL, else SQLite in the workspace.",
    ).tag(config=True)

    tensorboard_idle_timeout = Float(
        None,
        allow_none=True,
        help="Seconds without a request after which a run's TensorBoard (started by the proxy) "
        "is stopped; 0 keeps them until the server stops. Default: AIMASS_IDLE_SHUTDOWN_S "
        "when it is above 0, else 1800.",
    ).tag(config=True)


def tensorboard_idle_timeout(configured: float | None) -> float:
    """The TensorBoards' idle timeout: the configured one, else ``AIMASS_IDLE_SHUTDOWN_S``
    when it is above 0, else 1800 seconds."""
    from aimass_lab.settings import settings

    if configured is not None:
        return float(configured)
    return settings().idle_shutdown_s or 1800.0
