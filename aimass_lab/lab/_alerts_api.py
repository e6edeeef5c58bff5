"""REST handler of the alerts: the history the ``alerts`` watcher jobs recorded, and the
watchers running."""

from typing import Any

from aimass_lab.lab._base import BaseHandler, _api

__all__ = ["AlertsHandler"]


def _alerts(ws: Any, deployment: str | None, state: str | None, limit: int) -> dict[str, Any]:
    from aimass_lab.serve import alert_history, alert_rules

    return {
        "alerts": alert_history(deployment, state=state, limit=limit, workspace=ws),
        "watchers": alert_rules(deployment, workspace=ws),
    }


class AlertsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        deployment = self.get_query_argument("deployment", None)
        state = self.get_query_argument("state", None)
        limit = self.int_arg("limit", 100)
        self.reply(
            await self.call(_alerts, self.ws, deployment, state, 100 if limit is None else limit)
        )
