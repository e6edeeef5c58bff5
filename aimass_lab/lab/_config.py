"""Options of the server extension, as a traitlets Configurable (``c.AimassLab.workspace``)."""

from __future__ import annotations

from traitlets import Float, Unicode
from traitlets.config import Configurable

__all__ = ["AimassLab"]


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
        1800.0,
        help="Seconds without a request after which a run's TensorBoard (started by the proxy) "
        "is stopped; 0 keeps them until the server stops.",
    ).tag(config=True)
