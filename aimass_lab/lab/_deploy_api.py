"""REST handlers of deployments: start, stop, traffic split, rollback, metrics."""

from typing import Any

from aimass_lab.errors import (
    SpecError,
    accepted,
)
from aimass_lab.lab._base import BaseHandler, _api

__all__ = [
    "DeploymentHandler",
    "DeploymentMetricsHandler",
    "DeploymentRollbackHandler",
    "DeploymentSplitHandler",
    "DeploymentStartHandler",
    "DeploymentsHandler",
]


class DeploymentsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        from aimass_lab.serve import deployments

        found = await self.call(deployments, workspace=self.ws)
        self.reply([d.to_dict() for d in found])

    @_api
    async def post(self) -> None:
        from aimass_lab.specs import DeploySpec

        spec = DeploySpec.from_dict(self.body())
        deployment = await self.call(_deploy, self.ws, spec)
        self.reply(deployment.to_dict(), status=201)


def _deploy(ws: Any, spec: Any) -> Any:
    from aimass_lab.serve import deploy

    return deploy(spec, workspace=ws)


def _get_deployment(ws: Any, name: str) -> Any:
    from aimass_lab.serve import get_deployment

    return get_deployment(name, workspace=ws)


class DeploymentHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        deployment = await self.call(_get_deployment, self.ws, name)
        self.reply(deployment.to_dict())

    @_api
    async def delete(self, name: str) -> None:
        def stop() -> Any:
            deployment = _get_deployment(self.ws, name)
            deployment.stop()
            return deployment

        deployment = await self.call(stop)
        self.reply({"stopped": deployment.name})


def _split_body(body: dict[str, Any]) -> tuple[dict[str, int], str | None]:
    """The weights and shadow of a split request, with field messages when they are wrong."""
    errors: list[dict[str, Any]] = []
    unknown = sorted(set(body) - {"split", "shadow"})
    if unknown:
        errors.append(
            {
                "field": unknown[0],
                "message": f"unknown field; accepted: {accepted(['split', 'shadow'])}",
            }
        )
    split = body.get("split")
    weights: dict[str, int] = {}
    if not isinstance(split, dict) or not split:
        errors.append(
            {
                "field": "split",
                "value": split,
                "message": 'expected a mapping of version to percent, e.g. {"3": 90, "4": 10}',
            }
        )
    else:
        for version, weight in split.items():
            if isinstance(weight, float) and weight.is_integer():  # JSON: 90.0 is 90
                weight = int(weight)
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
                errors.append(
                    {
                        "field": f"split.{version}",
                        "value": weight,
                        "message": "expected an integer percent from 0 to 100",
                    }
                )
            else:
                weights[str(version)] = weight
        if not errors and sum(weights.values()) != 100:
            errors.append(
                {
                    "field": "split",
                    "value": split,
                    "message": f"the weights must add up to 100, not {sum(weights.values())}",
                }
            )
    shadow = body.get("shadow")
    if shadow is not None and not isinstance(shadow, str | int):
        errors.append({"field": "shadow", "value": shadow, "message": "expected a version or null"})
    if errors:
        raise SpecError("split request", errors)
    return weights, None if shadow is None else str(shadow)


class DeploymentSplitHandler(BaseHandler):
    @_api
    async def put(self, name: str) -> None:
        weights, shadow = _split_body(self.body())

        def split() -> Any:
            deployment = _get_deployment(self.ws, name)
            if shadow is None:
                deployment.split(weights)
            else:
                deployment.split(weights, shadow=shadow)
            return deployment.refresh()

        self.reply((await self.call(split)).to_dict())


class DeploymentRollbackHandler(BaseHandler):
    @_api
    async def post(self, name: str) -> None:
        def rollback() -> Any:
            deployment = _get_deployment(self.ws, name)
            deployment.rollback()
            return deployment.refresh()

        self.reply((await self.call(rollback)).to_dict())


class DeploymentStartHandler(BaseHandler):
    @_api
    async def post(self, name: str) -> None:
        def start() -> Any:
            return _get_deployment(self.ws, name).start()

        self.reply((await self.call(start)).to_dict())


class DeploymentMetricsHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        def metrics() -> dict[str, Any]:
            return dict(_get_deployment(self.ws, name).metrics())

        self.reply({"name": name, "metrics": await self.call(metrics)})
