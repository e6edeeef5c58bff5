"""The model registry: named, numbered, verified model versions with aliases and lineage.

A model version is a flat set of files (``weights.safetensors`` and ``model.json``, as a
training run leaves them) stored by sha256 in the workspace's artifact folder, plus a record
in the workspace's store: name, version number, model spec, hyperparameters, metrics,
lineage and the sha256 of every file. Every load checks the files against those hashes.

Examples
--------
>>> from aimass_lab import registry  # doctest: +SKIP
>>> mv = registry.register(run, "digits-mlp", aliases=["staging"])  # doctest: +SKIP
>>> registry.set_alias("digits-mlp:1", "prod")  # doctest: +SKIP
>>> net = registry.get("digits-mlp:prod").load_network()  # doctest: +SKIP
"""

from aimass_lab.registry._aliases import delete_version as delete
from aimass_lab.registry._aliases import remove_alias, set_alias
from aimass_lab.registry._archive import ARCHIVE_SUFFIX, export, import_
from aimass_lab.registry._model_version import ModelVersion
from aimass_lab.registry._query import get, names, verify
from aimass_lab.registry._query import list_versions as list
from aimass_lab.registry._register import register

__all__ = [
    "ARCHIVE_SUFFIX",
    "ModelVersion",
    "delete",
    "export",
    "get",
    "import_",
    "list",
    "names",
    "register",
    "remove_alias",
    "set_alias",
    "verify",
]
