"""The inference centre: a bundled server (Open Inference Protocol v2 + JSON), and deploys.

The server (``aimass serve``, ``python -m aimass_lab.cli serve``, the job kind ``serve``)
serves registered model versions with ONNX Runtime or torch, dynamic batching, replicas,
versions, aliases, a weighted traffic split, shadow traffic, Prometheus metrics, API keys
and limits: the data plane, :mod:`aimass_lab.serve.server`. Deployments on the workspace's
server, and :class:`Client` that talks to any server, are the control plane,
:mod:`aimass_lab.serve.deploy`. Imports are lazy: ``import aimass_lab.serve`` imports
neither uvicorn nor onnxruntime.

Examples
--------
>>> from aimass_lab.serve import Client  # doctest: +SKIP
>>> Client("http://127.0.0.1:8500").predict("digits", X[:3])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimass_lab._lazy import lazy_exports
from aimass_lab.serve.deploy._alerts_job import run as _run_alerts
from aimass_lab.serve.deploy._job import run as _run_job
from aimass_lab.workspace import register_job_kind, register_service_kind

if TYPE_CHECKING:
    from aimass_lab.serve.deploy import (
        Client,
        DeployError,
        Deployment,
        KServeExportError,
        ServeError,
        TritonExportError,
        alert_history,
        alert_rules,
        deploy,
        deployments,
        export_kserve,
        export_prometheus_rules,
        export_triton,
        get_deployment,
        parse_split,
        server_url,
        stop_alerts,
        watch_alerts,
    )
    from aimass_lab.serve.server import (
        LoadRequest,
        ServerConfig,
        keys_from_env,
        parse_metrics,
        run_server,
        summarize,
    )

__all__ = [
    "Client",
    "DeployError",
    "Deployment",
    "KServeExportError",
    "LoadRequest",
    "ServeError",
    "ServerConfig",
    "TritonExportError",
    "alert_history",
    "alert_rules",
    "deploy",
    "deployments",
    "export_kserve",
    "export_prometheus_rules",
    "export_triton",
    "get_deployment",
    "keys_from_env",
    "parse_metrics",
    "parse_split",
    "run_server",
    "server_url",
    "stop_alerts",
    "summarize",
    "watch_alerts",
]

_SERVER = "aimass_lab.serve.server"
_DEPLOY = "aimass_lab.serve.deploy"
_LAZY: dict[str, str] = {
    "LoadRequest": _SERVER,
    "ServerConfig": _SERVER,
    "keys_from_env": _SERVER,
    "run_server": _SERVER,
    "parse_metrics": _SERVER,
    "summarize": _SERVER,
    "Client": _DEPLOY,
    "ServeError": _DEPLOY,
    "deploy": _DEPLOY,
    "deployments": _DEPLOY,
    "get_deployment": _DEPLOY,
    "parse_split": _DEPLOY,
    "server_url": _DEPLOY,
    "DeployError": _DEPLOY,
    "Deployment": _DEPLOY,
    "export_triton": _DEPLOY,
    "TritonExportError": _DEPLOY,
    "export_kserve": _DEPLOY,
    "KServeExportError": _DEPLOY,
    "alert_history": _DEPLOY,
    "alert_rules": _DEPLOY,
    "export_prometheus_rules": _DEPLOY,
    "stop_alerts": _DEPLOY,
    "watch_alerts": _DEPLOY,
}


register_job_kind("serve", _run_job)
register_service_kind("serve")  # idle shutdown, kernel binding, aimass gc
register_job_kind("alerts", _run_alerts)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
