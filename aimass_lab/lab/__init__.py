"""The jupyter-server extension: an authenticated REST API over the stages.

Enabled by the shipped ``jupyter-config/server-config/aimass_lab.json``; the entry points are
in :mod:`aimass_lab` (``_jupyter_server_extension_points``).
"""

from __future__ import annotations

import os
from typing import Any

from aimass_lab.lab._config import AimassLab

__all__ = ["AimassLab", "load_extension"]


def load_extension(server_app: Any) -> None:
    """Register the REST handlers on a running Jupyter Server."""
    from aimass_lab.lab._handlers import API_PREFIX, setup_handlers

    config = AimassLab(parent=server_app)
    path = (
        config.workspace
        or os.environ.get("AIMASS_HOME")
        or os.path.join(server_app.root_dir, "aimass-workspace")
    )
    setup_handlers(server_app.web_app, path=path, db_url=config.db_url)
    server_app.log.info("AI Mass Lab API at %s (workspace %s)", "/".join(API_PREFIX), path)
