"""The control plane: deployments of registered model versions on the workspace's server.

:func:`deploy` starts (or reuses) the workspace's inference server as a ``serve`` job,
loads versions through its admin API with :class:`Client`, and records each
:class:`Deployment` in the workspace's store. This package may import
:mod:`aimass_lab.serve.server`; the server never imports it. Imports are lazy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab._callable_module import make_callable
from aimass_lab._lazy import lazy_exports

if TYPE_CHECKING:
    from aimass_lab.serve.deploy._alerts_job import (
        ALERTS_KIND,
        alert_history,
        alert_rules,
        export_prometheus_rules,
        stop_alerts,
        watch_alerts,
    )
    from aimass_lab.serve.deploy._client import Client, ServeError
    from aimass_lab.serve.deploy._deploy import deploy, deployments, get_deployment
    from aimass_lab.serve.deploy._deployment import Deployment
    from aimass_lab.serve.deploy._job import ADMIN_KEY_FILE, stop_deployments
    from aimass_lab.serve.deploy._kserve import KServeExportError, export_kserve
    from aimass_lab.serve.deploy._records import DeployError, parse_split
    from aimass_lab.serve.deploy._server_job import (
        SERVE_KIND,
        ensure_server,
        server_job,
        server_url,
        stop_server,
    )
    from aimass_lab.serve.deploy._triton import TritonExportError, export_triton

__all__ = [
    "ADMIN_KEY_FILE",
    "ALERTS_KIND",
    "Client",
    "DeployError",
    "Deployment",
    "KServeExportError",
    "SERVE_KIND",
    "ServeError",
    "TritonExportError",
    "alert_history",
    "alert_rules",
    "deploy",
    "deployments",
    "ensure_server",
    "export_kserve",
    "export_prometheus_rules",
    "export_triton",
    "get_deployment",
    "parse_split",
    "server_job",
    "server_url",
    "stop_alerts",
    "stop_deployments",
    "stop_server",
    "watch_alerts",
]

_ALERTS = "aimass_lab.serve.deploy._alerts_job"
_LAZY: dict[str, str] = {
    "ALERTS_KIND": _ALERTS,
    "alert_history": _ALERTS,
    "alert_rules": _ALERTS,
    "export_prometheus_rules": _ALERTS,
    "stop_alerts": _ALERTS,
    "watch_alerts": _ALERTS,
    "Client": "aimass_lab.serve.deploy._client",
    "ServeError": "aimass_lab.serve.deploy._client",
    "deploy": "aimass_lab.serve.deploy._deploy",
    "deployments": "aimass_lab.serve.deploy._deploy",
    "get_deployment": "aimass_lab.serve.deploy._deploy",
    "Deployment": "aimass_lab.serve.deploy._deployment",
    "ADMIN_KEY_FILE": "aimass_lab.serve.deploy._job",
    "stop_deployments": "aimass_lab.serve.deploy._job",
    "DeployError": "aimass_lab.serve.deploy._records",
    "parse_split": "aimass_lab.serve.deploy._records",
    "SERVE_KIND": "aimass_lab.serve.deploy._server_job",
    "ensure_server": "aimass_lab.serve.deploy._server_job",
    "server_job": "aimass_lab.serve.deploy._server_job",
    "server_url": "aimass_lab.serve.deploy._server_job",
    "stop_server": "aimass_lab.serve.deploy._server_job",
    "TritonExportError": "aimass_lab.serve.deploy._triton",
    "KServeExportError": "aimass_lab.serve.deploy._kserve",
    "export_kserve": "aimass_lab.serve.deploy._kserve",
    "export_triton": "aimass_lab.serve.deploy._triton",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

# ``aimass_lab.serve.deploy`` is this package and the function deploy(): importing the package
# binds it to that name on ``aimass_lab.serve``, so the package calls the function.
make_callable(__name__, "deploy")
