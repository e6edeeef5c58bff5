"""REST handlers of workshop challenges: the boards, submissions as the request's identity,
and the owner's freeze, unfreeze and reset.

A submission is scored by the workspace (in a thread of the Jupyter server) on the
challenge's hidden rows; the participant is the request's Jupyter identity
(:meth:`BaseHandler.call` acts as it), so a JupyterHub user cannot submit as another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tornado.web

from aimass_lab.lab._base import BaseHandler, _api

__all__ = [
    "ChallengeActionHandler",
    "ChallengeExportHandler",
    "ChallengeHandler",
    "ChallengeSubmissionsHandler",
    "ChallengesHandler",
]


async def _refusals(handler: BaseHandler, func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func`` as the request's user; a frozen board is a 409, a non-owner a 403."""
    from aimass_lab.challenge import ChallengeFrozenError, NotOwnerError

    try:
        return await handler.call(func, *args)
    except ChallengeFrozenError as exc:
        raise tornado.web.HTTPError(409, str(exc).replace("%", "%%")) from None
    except NotOwnerError as exc:
        raise tornado.web.HTTPError(403, str(exc).replace("%", "%%")) from None


def _list(ws: Any) -> list[dict[str, Any]]:
    """Every challenge, with its board's size and first three rows (for the sidebar)."""
    from aimass_lab.challenge import leaderboard, list_challenges

    out = []
    for c in list_challenges(ws):
        board = leaderboard(c.name, ws)
        out.append(
            {
                **c.to_dict(),
                "participants": len(board.rows),
                "submissions": board.submissions,
                "leaders": board.rows[:3],
            }
        )
    return out


def _board(ws: Any, name: str) -> dict[str, Any]:
    from aimass_lab.challenge import leaderboard

    return leaderboard(name, ws).to_dict()


class ChallengesHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.reply(await self.call(_list, self.ws))


class ChallengeHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        self.reply(await self.call(_board, self.ws, name))


class ChallengeSubmissionsHandler(BaseHandler):
    @_api
    async def post(self, name: str) -> None:
        from aimass_lab.errors import SpecError

        model = self.body().get("model")
        if not isinstance(model, str) or not model:
            raise SpecError(
                "request body",
                [{"field": "model", "value": model, "message": "a model ref, e.g. 'my-iris:1'"}],
            )

        def submit() -> dict[str, Any]:
            from aimass_lab.challenge import leaderboard
            from aimass_lab.challenge import submit as submit_model

            sub = submit_model(name, model, self.ws)
            rows = leaderboard(name, self.ws).rows
            mine = next((r for r in rows if r["participant"] == sub.participant), None)
            return {**sub.to_dict(), "rank": mine["rank"] if mine else None}

        self.reply(await _refusals(self, submit), status=201)


class ChallengeActionHandler(BaseHandler):
    @_api
    async def post(self, name: str, action: str) -> None:
        from aimass_lab import challenge

        if action == "reset":
            removed = await _refusals(self, challenge.reset, name, self.ws)
            self.reply({"name": name, "removed": removed})
            return
        func = challenge.freeze if action == "freeze" else challenge.unfreeze
        self.reply((await _refusals(self, func, name, self.ws)).to_dict())


class ChallengeExportHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        from aimass_lab.challenge import board_csv, leaderboard

        text = await self.call(lambda: board_csv(leaderboard(name, self.ws)))
        self.set_header("Content-Disposition", f'attachment; filename="{name}-board.csv"')
        self.finish(text, set_content_type="text/csv; charset=utf-8")
