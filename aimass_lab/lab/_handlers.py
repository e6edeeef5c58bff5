"""REST handlers under ``{base_url}aimass-lab/api/v1/``: thin translations to stage calls.

Every verb is authenticated and authorized (``auth_resource = "aimass_lab"``); blocking work
runs in a thread, off the server's event loop. Errors come back as JSON
``{"error": message, "errors": [...]}`` with a status that says what went wrong — never a
server traceback.
"""

from __future__ import annotations

import threading
from typing import Any

from jupyter_server.utils import url_path_join

from aimass_lab.lab._alerts_api import AlertsHandler
from aimass_lab.lab._base import API_PREFIX, BaseHandler, OpenAPIHandler, VersionHandler
from aimass_lab.lab._challenge_api import (
    ChallengeActionHandler,
    ChallengeExportHandler,
    ChallengeHandler,
    ChallengesHandler,
    ChallengeSubmissionsHandler,
)
from aimass_lab.lab._datasets_api import DatasetReportHandler, DatasetSamplesHandler
from aimass_lab.lab._deploy_api import (
    DeploymentHandler,
    DeploymentMetricsHandler,
    DeploymentRollbackHandler,
    DeploymentsHandler,
    DeploymentSplitHandler,
    DeploymentStartHandler,
)
from aimass_lab.lab._jobs_api import (
    CompressHandler,
    JobActionHandler,
    JobHandler,
    JobLogHandler,
    JobsHandler,
    RunMetricsHandler,
)
from aimass_lab.lab._registry_api import (
    DatasetHandler,
    DatasetsHandler,
    ModelAliasesHandler,
    ModelAliasHandler,
    ModelHandler,
    ModelLineageHandler,
    ModelsHandler,
    ModelVerifyHandler,
    PretrainedHandler,
    StudiesHandler,
    StudyHandler,
)
from aimass_lab.lab._services_api import ServicesHandler, ServiceStopHandler
from aimass_lab.lab._sources_api import (
    SourceGrantHandler,
    SourceGrantsHandler,
    SourceHandler,
    SourcesHandler,
)
from aimass_lab.lab._uploads_api import UploadFinishHandler, UploadHandler, UploadsHandler

__all__ = ["API_PREFIX", "ROUTES", "setup_handlers"]

_ID = r"(?P<{}>[^/]+)"

#: (path under the API prefix, handler): the whole REST surface, in one place.
ROUTES: list[tuple[str, type[BaseHandler]]] = [
    ("version", VersionHandler),
    ("jobs", JobsHandler),
    (f"jobs/{_ID.format('job_id')}", JobHandler),
    (f"jobs/{_ID.format('job_id')}/(?P<action>cancel|resume)", JobActionHandler),
    (f"jobs/{_ID.format('job_id')}/log", JobLogHandler),
    (f"runs/{_ID.format('run_id')}/metrics", RunMetricsHandler),
    ("models", ModelsHandler),
    (f"models/{_ID.format('ref')}", ModelHandler),
    (f"models/{_ID.format('ref')}/verify", ModelVerifyHandler),
    (f"models/{_ID.format('ref')}/aliases", ModelAliasesHandler),
    (f"models/{_ID.format('name')}/aliases/{_ID.format('alias')}", ModelAliasHandler),
    (f"models/{_ID.format('ref')}/lineage", ModelLineageHandler),
    ("pretrained", PretrainedHandler),
    ("datasets", DatasetsHandler),
    (f"datasets/{_ID.format('name')}", DatasetHandler),
    (f"datasets/{_ID.format('name')}/samples", DatasetSamplesHandler),
    (f"datasets/{_ID.format('name')}/report", DatasetReportHandler),
    ("sources", SourcesHandler),
    (f"sources/{_ID.format('name')}", SourceHandler),
    (f"sources/{_ID.format('name')}/grants", SourceGrantsHandler),
    (f"sources/{_ID.format('name')}/grants/{_ID.format('principal')}", SourceGrantHandler),
    ("studies", StudiesHandler),
    (f"studies/{_ID.format('name')}", StudyHandler),
    ("deployments", DeploymentsHandler),
    (f"deployments/{_ID.format('name')}", DeploymentHandler),
    (f"deployments/{_ID.format('name')}/split", DeploymentSplitHandler),
    (f"deployments/{_ID.format('name')}/rollback", DeploymentRollbackHandler),
    (f"deployments/{_ID.format('name')}/start", DeploymentStartHandler),
    (f"deployments/{_ID.format('name')}/metrics", DeploymentMetricsHandler),
    ("alerts", AlertsHandler),
    ("services", ServicesHandler),
    (
        f"services/(?P<kind>server|dashboard|tensorboard)/{_ID.format('service_id')}/stop",
        ServiceStopHandler,
    ),
    ("compress", CompressHandler),
    ("uploads", UploadsHandler),
    (f"uploads/{_ID.format('upload_id')}", UploadHandler),
    (f"uploads/{_ID.format('upload_id')}/finish", UploadFinishHandler),
    ("challenges", ChallengesHandler),
    (f"challenges/{_ID.format('name')}", ChallengeHandler),
    (f"challenges/{_ID.format('name')}/submissions", ChallengeSubmissionsHandler),
    (f"challenges/{_ID.format('name')}/(?P<action>freeze|unfreeze|reset)", ChallengeActionHandler),
    (f"challenges/{_ID.format('name')}/board.csv", ChallengeExportHandler),
    ("openapi.json", OpenAPIHandler),
]


def setup_handlers(
    web_app: Any, path: str = "", db_url: str = "", tensorboard_idle_timeout: float = 1800.0
) -> dict[str, Any]:
    """Add the REST routes and the proxies to a Jupyter Server web application.

    Returns the extension's shared state (also in ``web_app.settings["aimass_lab"]``).
    """
    from aimass_lab.lab._proxy import SERVE_PREFIX, ServeProxyHandler, TensorBoardProxyHandler
    from aimass_lab.lab._tensorboard import TensorBoardManager
    from aimass_lab.train import TENSORBOARD_PREFIX

    base_url = web_app.settings["base_url"]
    state: dict[str, Any] = {"path": path, "db_url": db_url, "workspace": None}
    lock = threading.Lock()

    def get_workspace() -> Any:
        with lock:
            if state["workspace"] is None:
                from aimass_lab.workspace import Workspace

                state["workspace"] = Workspace(path or None, db_url=db_url or None)
            return state["workspace"]

    state["get_workspace"] = get_workspace
    state["tensorboards"] = TensorBoardManager(base_url, idle_timeout=tensorboard_idle_timeout)
    web_app.settings["aimass_lab"] = state
    prefix = url_path_join(base_url, *API_PREFIX)
    tensorboard = url_path_join(base_url, *TENSORBOARD_PREFIX)
    web_app.add_handlers(
        ".*$",
        [(url_path_join(prefix, route), handler) for route, handler in ROUTES]
        + [
            (tensorboard + r"/(?P<run_id>[^/]+)(?P<path>/.*)?", TensorBoardProxyHandler),
            (
                url_path_join(base_url, *SERVE_PREFIX) + r"(?:/(?P<path>.*))?",
                ServeProxyHandler,
            ),
        ],
    )
    return state
