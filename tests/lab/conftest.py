"""Jupyter Server fixtures (pytest-jupyter), for the tests of this folder only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer
from pytest_jupyter.jupyter_server import *  # noqa: F403


class DenyAll(Authorizer):
    """An authorizer that refuses every action on every resource."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return False


@pytest.fixture
def jp_server_config(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A real Jupyter Server with the extension on, authentication required.

    Tests marked ``@pytest.mark.deny_all`` get a server whose authorizer refuses everything.
    """
    server: dict[str, Any] = {
        "jpserver_extensions": {"aimass_lab": True},
        "allow_unauthenticated_access": False,
    }
    if request.node.get_closest_marker("deny_all"):
        server["authorizer_class"] = DenyAll
    return {"ServerApp": server, "AimassLab": {"workspace": str(tmp_path / "ws")}}
