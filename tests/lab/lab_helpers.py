"""Calls of the AI Mass REST API through pytest-jupyter's ``jp_fetch``, shared by tests/lab."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import IdentityProvider, User
from tornado.httpclient import HTTPClientError

API = ("aimass-lab", "api", "v1")


async def api_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    """The JSON answer of a route that succeeds."""
    response = await jp_fetch(*API, *parts, **kwargs)
    return json.loads(response.body)


async def api_error(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of a route that fails; never a traceback."""
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*API, *parts, **kwargs)
    assert info.value.response is not None
    body = json.loads(info.value.response.body)
    assert "Traceback" not in json.dumps(body)
    return info.value.code, body


#: The header that names the user of a request in the tests with several identities.
USER_HEADER = "X-Test-User"


@dataclass
class HeaderUser(User):  # type: ignore[misc]
    """A Jupyter identity with groups (as JupyterHub's carries them)."""

    groups: list[str] = field(default_factory=list)


class HeaderIdentity(IdentityProvider):  # type: ignore[misc]
    """Several users on one real Jupyter Server: the token authenticates each request as
    usual, the ``X-Test-User`` header says which user sent it (else :attr:`default_user`;
    neither: Jupyter's own anonymous user). :attr:`groups` gives users their groups."""

    default_user: str | None = None
    groups: dict[str, list[str]] = {}

    async def get_user(self, handler: Any) -> User | None:
        user = await self._get_user(handler)
        name = handler.request.headers.get(USER_HEADER) or self.default_user
        if user is None or not name:
            return user
        return HeaderUser(
            username=name, name=name, display_name=name, groups=self.groups.get(name, [])
        )


def server_with_users(
    ws_path: Path, identity: type[IdentityProvider] = HeaderIdentity, **server: Any
) -> dict[str, Any]:
    """A ``jp_server_config``: the AI Mass extension on ``ws_path``, authenticated requests
    only, users named by :class:`HeaderIdentity` (or ``identity``), more ServerApp settings."""
    return {
        "ServerApp": {
            "jpserver_extensions": {"aimass_lab": True},
            "allow_unauthenticated_access": False,
            "identity_provider_class": identity,
            **server,
        },
        "AimassLab": {"workspace": str(ws_path)},
    }
