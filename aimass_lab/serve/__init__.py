"""The inference centre: a bundled server (Open Inference Protocol v2 + JSON), and deploys.

The server (``aimass serve``, ``python -m aimass_lab.serve``, the job kind ``serve``)
serves registered model versions with ONNX Runtime or torch, dynamic batching, replicas,
versions, aliases, a weighted traffic split, shadow traffic, Prometheus metrics, API keys
and limits. :class:`Client` talks to it. Imports are lazy: ``import aimass_lab.serve``
imports neither uvicorn nor onnxruntime.

Examples
--------
>>> from aimass_lab.serve import Client  # doctest: +SKIP
>>> Client("http://127.0.0.1:8500").predict("digits", X[:3])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aimass_lab.serve._job import run as _run_job
from aimass_lab.workspace import register_job_kind

if TYPE_CHECKING:
    from aimass_lab.serve._client import Client, ServeError
    from aimass_lab.serve._config import ServerConfig, keys_from_env
    from aimass_lab.serve._deploy import (
        DeployError,
        deploy,
        deployments,
        get_deployment,
        parse_split,
        server_url,
    )
    from aimass_lab.serve._deployment import Deployment
    from aimass_lab.serve._metrics import parse_metrics, summarize
    from aimass_lab.serve._server import run_server
    from aimass_lab.serve._triton import TritonExportError, export_triton

__all__ = [
    "Client",
    "DeployError",
    "Deployment",
    "ServeError",
    "ServerConfig",
    "TritonExportError",
    "deploy",
    "deployments",
    "export_triton",
    "get_deployment",
    "keys_from_env",
    "parse_metrics",
    "parse_split",
    "run_server",
    "server_url",
    "summarize",
]

_LAZY: dict[str, tuple[str, str]] = {
    "Client": ("aimass_lab.serve._client", "Client"),
    "ServeError": ("aimass_lab.serve._client", "ServeError"),
    "ServerConfig": ("aimass_lab.serve._config", "ServerConfig"),
    "keys_from_env": ("aimass_lab.serve._config", "keys_from_env"),
    "run_server": ("aimass_lab.serve._server", "run_server"),
    "parse_metrics": ("aimass_lab.serve._metrics", "parse_metrics"),
    "summarize": ("aimass_lab.serve._metrics", "summarize"),
}
# The deploy side (B2's modules) registers its names here too.
_LAZY_DEPLOY: dict[str, tuple[str, str]] = {
    "deploy": ("aimass_lab.serve._deploy", "deploy"),
    "deployments": ("aimass_lab.serve._deploy", "deployments"),
    "get_deployment": ("aimass_lab.serve._deploy", "get_deployment"),
    "parse_split": ("aimass_lab.serve._deploy", "parse_split"),
    "server_url": ("aimass_lab.serve._deploy", "server_url"),
    "DeployError": ("aimass_lab.serve._deploy", "DeployError"),
    "Deployment": ("aimass_lab.serve._deployment", "Deployment"),
    "export_triton": ("aimass_lab.serve._triton", "export_triton"),
    "TritonExportError": ("aimass_lab.serve._triton", "TritonExportError"),
}


register_job_kind("serve", _run_job)


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name) or _LAZY_DEPLOY.get(name)
    if target is None:
        raise AttributeError(f"module 'aimass_lab.serve' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_LAZY_DEPLOY})
