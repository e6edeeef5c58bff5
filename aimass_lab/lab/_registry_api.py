"""REST handlers of registered models (and their lineage), datasets and studies."""

from typing import Any

from aimass_lab.errors import (
    AimassError,
    NotFoundError,
    accepted,
)
from aimass_lab.lab._base import BaseHandler, _api

__all__ = [
    "DatasetHandler",
    "DatasetsHandler",
    "ModelAliasHandler",
    "ModelAliasesHandler",
    "ModelHandler",
    "ModelLineageHandler",
    "ModelVerifyHandler",
    "ModelsHandler",
    "PretrainedHandler",
    "StudiesHandler",
    "StudyHandler",
]


class ModelsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        from aimass_lab import registry

        name = self.get_query_argument("name", None)
        versions = await self.call(registry.list, name, workspace=self.ws)
        self.reply(await self.call(lambda: [_with_sizes(self.ws, v) for v in versions]))


#: Parameter counts of weight files by their sha256 (artifacts never change).
_PARAMETERS: dict[tuple[str, ...], int | None] = {}


def _with_sizes(ws: Any, version: Any) -> dict[str, Any]:
    """A version's dict with ``size_bytes`` (its files, from the manifest) and ``parameters``
    (from the safetensors headers of its weights; None for an ONNX-only version)."""
    from aimass_lab.errors import AimassError
    from aimass_lab.models import safetensors_stats

    doc: dict[str, Any] = version.to_dict()
    manifest = doc.get("manifest") or {}
    doc["size_bytes"] = sum(int(entry.get("size", 0)) for entry in manifest.values())
    names = sorted(n for n in manifest if n.endswith(".safetensors") and n != "adapter.safetensors")
    key = tuple(str(manifest[n].get("sha256", "")) for n in names)
    if key not in _PARAMETERS:
        try:
            files = [ws.artifacts.path(digest) for digest in key]
            _PARAMETERS[key] = safetensors_stats(files)[0] if files else None
        except (AimassError, OSError):
            return {**doc, "parameters": None}
    doc["parameters"] = _PARAMETERS[key]
    return doc


class PretrainedHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.reply(await self.call(_pretrained_models, self.ws))


def _pretrained_models(ws: Any) -> dict[str, Any]:
    """The local pretrained models of the workspace's models folder, as ``aimass models
    pretrained --json`` lists them: ``{"dir": ..., "models": [...]}``."""
    from aimass_lab.models import find_pretrained, models_dir

    root = models_dir(ws.path)
    models = [{**info.to_dict(), "name": info.name} for info in find_pretrained(root)]
    return {"dir": str(root), "models": models}


class ModelHandler(BaseHandler):
    @_api
    async def get(self, ref: str) -> None:
        from aimass_lab import registry

        version = await self.call(registry.get, ref, workspace=self.ws)
        self.reply(version.to_dict())

    @_api
    async def delete(self, ref: str) -> None:
        from aimass_lab import registry

        version = await self.call(registry.delete, ref, workspace=self.ws)
        self.reply({"deleted": version.ref})


class ModelVerifyHandler(BaseHandler):
    @_api
    async def get(self, ref: str) -> None:
        from aimass_lab import registry

        self.reply(await self.call(registry.verify, ref, workspace=self.ws))


class ModelAliasesHandler(BaseHandler):
    @_api
    async def post(self, ref: str) -> None:
        from aimass_lab import registry

        alias = self.body().get("alias")
        version = await self.call(registry.set_alias, ref, alias, workspace=self.ws)
        self.reply(version.to_dict())


class ModelAliasHandler(BaseHandler):
    @_api
    async def delete(self, name: str, alias: str) -> None:
        from aimass_lab import registry

        await self.call(registry.remove_alias, name, alias, workspace=self.ws)
        self.reply({"removed": f"{name}:{alias}"})


class DatasetsHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        from aimass_lab import data

        self.reply(await self.call(data.list, workspace=self.ws))


class DatasetHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        from aimass_lab.lab._datasets_api import dataset_cache

        cache = dataset_cache(self)

        def describe() -> dict[str, Any]:
            dataset = cache.get(name, self.ws)
            return {"info": dataset.info(), "report": dataset.report().to_dict()}

        self.reply(await self.call(describe))


class StudiesHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.reply(await self.call(_list_studies, self.ws))


def _list_studies(ws: Any) -> list[dict[str, Any]]:
    from aimass_lab.search import Study, list_studies

    studies = list_studies(workspace=ws)
    for entry in studies:
        try:
            entry["status"] = Study(entry["study"], workspace=ws).status
        except AimassError:
            entry["status"] = None
    return studies


class StudyHandler(BaseHandler):
    @_api
    async def get(self, name: str) -> None:
        self.reply(await self.call(_show_study, self.ws, name))


def _show_study(ws: Any, name: str) -> dict[str, Any]:
    from aimass_lab.search import Study, list_studies

    names = sorted(s["study"] for s in list_studies(workspace=ws))
    if name not in names:
        raise NotFoundError(f"no study {name!r} in the workspace; accepted: {accepted(names)}")
    study = Study(name, workspace=ws)
    doc = study.to_dict()
    doc["best"] = [t.to_dict() for t in study.best_trials]
    return doc


class ModelLineageHandler(BaseHandler):
    @_api
    async def get(self, ref: str) -> None:
        from aimass_lab.lab._lineage import model_lineage

        self.reply(await self.call(model_lineage, ref, self.ws))
