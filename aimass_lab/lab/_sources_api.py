"""REST handlers of named data sources and their read grants (no secret ever leaves).

``sources`` lists and adds sources; ``sources/{name}`` shows or removes one;
``sources/{name}/grants`` lists and adds grants; ``sources/{name}/grants/{principal}``
revokes one. Changes are the owner's only: anyone else gets 403 naming the source, the user
and the owner. The user is Jupyter Server's identity of the request.
"""

from __future__ import annotations

from typing import Any

from aimass_lab.errors import SpecError
from aimass_lab.lab._base import BaseHandler, _api

__all__ = ["SourceGrantHandler", "SourceGrantsHandler", "SourceHandler", "SourcesHandler"]


class SourcesHandler(BaseHandler):
    """``GET sources``: every data source; ``POST sources``: add one (a DataSourceSpec)."""

    @_api
    async def get(self) -> None:
        from aimass_lab.workspace import sources

        self.reply(await self.call(sources, self.ws))

    @_api
    async def post(self) -> None:
        from aimass_lab.specs import DataSourceSpec
        from aimass_lab.workspace import add_source

        spec = DataSourceSpec.from_dict(self.body())
        self.reply(await self.call(add_source, spec, workspace=self.ws), status=201)


class SourceHandler(BaseHandler):
    """``GET sources/{name}``: one source; ``DELETE``: remove it (its owner only)."""

    @_api
    async def get(self, name: str) -> None:
        from aimass_lab.workspace import get_source

        self.reply(await self.call(get_source, name, self.ws))

    @_api
    async def delete(self, name: str) -> None:
        from aimass_lab.workspace import remove_source

        await self.call(remove_source, name, self.ws)
        self.reply({"removed": name})


class SourceGrantsHandler(BaseHandler):
    """``GET sources/{name}/grants``; ``POST`` ``{"principal": "user:ada"}`` grants read access."""

    @_api
    async def get(self, name: str) -> None:
        from aimass_lab.workspace import get_source

        found: dict[str, Any] = await self.call(get_source, name, self.ws)
        self.reply({"source": name, "owner": found["owner"], "grants": found["grants"]})

    @_api
    async def post(self, name: str) -> None:
        from aimass_lab.workspace import grant

        principal = self.body().get("principal")
        if not isinstance(principal, str):
            raise SpecError(
                "grant",
                [
                    {
                        "field": "principal",
                        "value": principal,
                        "message": "expected 'user:NAME' or 'group:NAME'",
                    }
                ],
            )
        found = await self.call(grant, name, principal, self.ws)
        self.reply({"source": name, "owner": found["owner"], "grants": found["grants"]}, status=201)


class SourceGrantHandler(BaseHandler):
    """``DELETE sources/{name}/grants/{principal}``: revoke a grant (the owner only)."""

    @_api
    async def delete(self, name: str, principal: str) -> None:
        from aimass_lab.workspace import revoke

        found = await self.call(revoke, name, principal, self.ws)
        self.reply({"source": name, "owner": found["owner"], "grants": found["grants"]})
