"""The jupyter-server extension: an authenticated REST API over the stages.

Enabled by the shipped ``jupyter-config/server-config/aimass_lab.json``; the entry points are
in :mod:`aimass_lab` (``_jupyter_server_extension_points``).
"""

from __future__ import annotations

import os
from typing import Any

from aimass_lab.lab._config import AimassLab, tensorboard_idle_timeout
from aimass_lab.lab._upload_client import upload
from aimass_lab.settings import env_name, settings
from aimass_lab.train import tensorboard_path

__all__ = ["AimassLab", "load_extension", "tensorboard_path", "upload"]

#: Kernels started by the server read Jupyter's base_url here (``%aimass tensorboard``).
BASE_URL_ENV = env_name("lab_base_url")


def load_extension(server_app: Any) -> None:
    """Register the REST handlers and the proxies on a running Jupyter Server."""
    from tornado.ioloop import PeriodicCallback

    from aimass_lab.lab._handlers import API_PREFIX, setup_handlers

    config = AimassLab(parent=server_app)
    path = (
        config.workspace or settings().home or os.path.join(server_app.root_dir, "aimass-workspace")
    )
    state = setup_handlers(
        server_app.web_app,
        path=path,
        db_url=config.db_url,
        tensorboard_idle_timeout=tensorboard_idle_timeout(config.tensorboard_idle_timeout),
    )
    # Kernels inherit the server's environment: what a notebook starts lands in the workspace
    # the sidebar shows, and links printed by the magics use the base_url.
    if config.workspace or not settings().home:
        os.environ[env_name("home")] = str(path)
    if config.db_url:
        os.environ[env_name("db_url")] = config.db_url
    os.environ[BASE_URL_ENV] = server_app.web_app.settings["base_url"]
    tensorboards = state["tensorboards"]

    def reap() -> None:
        """Stop idle TensorBoards, and (AIMASS_STOP_WITH_KERNEL) those whose kernel ended."""
        tensorboards.stop_idle()
        if settings().stop_with_kernel:
            tensorboards.stop_orphans(server_app.kernel_manager.list_kernel_ids())

    timeout = tensorboards.idle_timeout
    period_ms = 1000 * (min(60.0, max(1.0, timeout / 4)) if timeout > 0 else 2.0)
    reaper = PeriodicCallback(reap, min(period_ms, 2000.0))
    loop = getattr(server_app, "io_loop", None)
    if loop is not None:
        loop.add_callback(reaper.start)
    else:
        reaper.start()
    state["reaper"] = reaper
    server_app.log.info("AI Mass Lab API at %s (workspace %s)", "/".join(API_PREFIX), path)
