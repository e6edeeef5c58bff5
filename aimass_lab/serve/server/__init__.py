"""The data plane: the inference server (ASGI app, route table, batcher, workers, engines).

``aimass_lab.serve.server`` answers requests; it never imports the control plane
(:mod:`aimass_lab.serve.deploy`). Imports are lazy: importing this package imports neither
uvicorn nor onnxruntime nor torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab._lazy import lazy_exports

if TYPE_CHECKING:
    from aimass_lab.serve.server._app import ServeApp
    from aimass_lab.serve.server._config import (
        DEFAULT_MAX_REQUEST_ROWS,
        DEFAULT_PORT,
        ISOLATIONS,
        ServerConfig,
        keys_from_env,
    )
    from aimass_lab.serve.server._metrics import parse_metrics, summarize
    from aimass_lab.serve.server._openapi import openapi
    from aimass_lab.serve.server._routes import ROUTES
    from aimass_lab.serve.server._routing import Route, Router
    from aimass_lab.serve.server._schemas import LoadRequest, SplitRequest
    from aimass_lab.serve.server._server import PortInUse, run_server, serve

__all__ = [
    "DEFAULT_MAX_REQUEST_ROWS",
    "DEFAULT_PORT",
    "ISOLATIONS",
    "ROUTES",
    "LoadRequest",
    "PortInUse",
    "Route",
    "Router",
    "ServeApp",
    "ServerConfig",
    "SplitRequest",
    "keys_from_env",
    "openapi",
    "parse_metrics",
    "run_server",
    "serve",
    "summarize",
]

_LAZY: dict[str, str] = {
    "ServeApp": "aimass_lab.serve.server._app",
    "DEFAULT_MAX_REQUEST_ROWS": "aimass_lab.serve.server._config",
    "DEFAULT_PORT": "aimass_lab.serve.server._config",
    "ISOLATIONS": "aimass_lab.serve.server._config",
    "ServerConfig": "aimass_lab.serve.server._config",
    "keys_from_env": "aimass_lab.serve.server._config",
    "parse_metrics": "aimass_lab.serve.server._metrics",
    "summarize": "aimass_lab.serve.server._metrics",
    "openapi": "aimass_lab.serve.server._openapi",
    "ROUTES": "aimass_lab.serve.server._routes",
    "Route": "aimass_lab.serve.server._routing",
    "Router": "aimass_lab.serve.server._routing",
    "LoadRequest": "aimass_lab.serve.server._schemas",
    "SplitRequest": "aimass_lab.serve.server._schemas",
    "PortInUse": "aimass_lab.serve.server._server",
    "run_server": "aimass_lab.serve.server._server",
    "serve": "aimass_lab.serve.server._server",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
