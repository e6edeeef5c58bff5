"""AI Mass Lab: a JupyterLab workbench for the whole life of a model.

The public API is imported lazily, so ``import aimass_lab`` stays fast and imports no torch.

Examples
--------
>>> import aimass_lab as am  # doctest: +SKIP
>>> run = am.train("digits", "mlp", hparams={"hidden": 128}, max_epochs=5, wait=True)  # doctest: +SKIP
>>> run.register("digits-mlp")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimass_lab._display import set_panel_loader as _set_panel_loader
from aimass_lab._lazy import lazy_exports
from aimass_lab._version import __version__
from aimass_lab.workspace import set_job_kind_loader as _set_job_kind_loader

if TYPE_CHECKING:
    from aimass_lab import data as datasets
    from aimass_lab import registry
    from aimass_lab.compress import CompressionReport, compress, ensemble, export_onnx
    from aimass_lab.errors import AimassError
    from aimass_lab.lab import upload
    from aimass_lab.search import Study, search
    from aimass_lab.serve.deploy import Deployment, deploy, watch_alerts
    from aimass_lab.serve.deploy import alert_history as alerts
    from aimass_lab.specs import DataSpec, ModelSpec, SearchSpec, TrainSpec
    from aimass_lab.train import Run, train
    from aimass_lab.widgets import Workbench
    from aimass_lab.workspace import (
        Workspace,
        add_source,
        grant,
        remove_source,
        revoke,
        set_current_workspace,
        sources,
    )

__all__ = [
    "AimassError",
    "CompressionReport",
    "DataSpec",
    "Deployment",
    "ModelSpec",
    "Run",
    "SearchSpec",
    "Study",
    "TrainSpec",
    "Workbench",
    "Workspace",
    "__version__",
    "add_source",
    "alerts",
    "challenge",
    "compress",
    "create_challenge",
    "datasets",
    "deploy",
    "ensemble",
    "export_onnx",
    "grant",
    "leaderboard",
    "registry",
    "remove_source",
    "revoke",
    "search",
    "set_current_workspace",
    "sources",
    "submit",
    "train",
    "upload",
    "watch_alerts",
]

_LAZY: dict[str, tuple[str, str | None]] = {
    "Workspace": ("aimass_lab.workspace", "Workspace"),
    "set_current_workspace": ("aimass_lab.workspace", "set_current_workspace"),
    "add_source": ("aimass_lab.workspace", "add_source"),
    "sources": ("aimass_lab.workspace", "sources"),
    "grant": ("aimass_lab.workspace", "grant"),
    "revoke": ("aimass_lab.workspace", "revoke"),
    "remove_source": ("aimass_lab.workspace", "remove_source"),
    "AimassError": ("aimass_lab.errors", "AimassError"),
    "DataSpec": ("aimass_lab.specs", "DataSpec"),
    "ModelSpec": ("aimass_lab.specs", "ModelSpec"),
    "TrainSpec": ("aimass_lab.specs", "TrainSpec"),
    "SearchSpec": ("aimass_lab.specs", "SearchSpec"),
    "search": ("aimass_lab.search", None),
    "Study": ("aimass_lab.search", "Study"),
    "train": ("aimass_lab.train", "train"),
    "Run": ("aimass_lab.train", "Run"),
    "datasets": ("aimass_lab.data", None),
    "registry": ("aimass_lab.registry", None),
    "compress": ("aimass_lab.compress", None),
    "CompressionReport": ("aimass_lab.compress", "CompressionReport"),
    "export_onnx": ("aimass_lab.compress", "export_onnx"),
    "ensemble": ("aimass_lab.compress", "ensemble"),
    "Workbench": ("aimass_lab.widgets", "Workbench"),
    "deploy": ("aimass_lab.serve.deploy", "deploy"),
    "Deployment": ("aimass_lab.serve.deploy", "Deployment"),
    "watch_alerts": ("aimass_lab.serve.deploy", "watch_alerts"),
    "alerts": ("aimass_lab.serve.deploy", "alert_history"),
    "upload": ("aimass_lab.lab", "upload"),
    "challenge": ("aimass_lab.challenge", None),
    "create_challenge": ("aimass_lab.challenge", "create_challenge"),
    "submit": ("aimass_lab.challenge", "submit"),
    "leaderboard": ("aimass_lab.challenge", "leaderboard"),
}


def _load_panels() -> None:
    """Register the live panels of the API handles (see :mod:`aimass_lab._display`)."""
    from aimass_lab.widgets import register_panels

    register_panels()


_set_panel_loader(_load_panels)


def _load_job_kinds() -> None:
    """Register every stage's job kind (see :mod:`aimass_lab.workspace._kinds`)."""
    import aimass_lab.compress
    import aimass_lab.search
    import aimass_lab.serve
    import aimass_lab.train  # noqa: F401  (each registers its job kind on import)
    from aimass_lab.workspace import BACKUP_KIND, register_job_kind, run_backup_job

    register_job_kind(BACKUP_KIND, run_backup_job)  # the workspace's own kind


_set_job_kind_loader(_load_job_kinds)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter Server finds the extension here (enabled by jupyter-config/server-config)."""
    return [{"module": "aimass_lab"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (built from labextension/ into aimass_lab/labextension)."""
    return [{"src": "labextension", "dest": "aimass-lab"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Add AI Mass Lab's REST API to a Jupyter Server (handlers are imported here, lazily)."""
    from aimass_lab.lab import load_extension

    load_extension(server_app)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext aimass_lab``: the ``%aimass status|jobs|deploy|tensorboard`` magic."""
    from aimass_lab._magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext aimass_lab``."""
    from aimass_lab._magics import unload_ipython_extension as unload

    unload(ipython)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, listed=__all__)
