"""Built-in datasets and source kinds, listed without importing pandas or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points

__all__ = [
    "BUILTINS",
    "BuiltinInfo",
    "CORE_SOURCES",
    "ENTRY_POINT_GROUP",
    "RUNTIME_SOURCES",
    "plugin_sources",
    "source_names",
]

ENTRY_POINT_GROUP = "aimass_lab.sources"


@dataclass(frozen=True)
class BuiltinInfo:
    """A built-in dataset: scikit-learn bundled data or a seeded generator."""

    name: str
    task: str
    description: str
    generator: bool = False


BUILTINS: dict[str, BuiltinInfo] = {
    b.name: b
    for b in [
        BuiltinInfo("iris", "classification", "150 irises, 4 features, 3 classes"),
        BuiltinInfo(
            "digits",
            "classification",
            "1797 8x8 handwritten digits, 64 features (or 1x8x8 images), 10 classes",
        ),
        BuiltinInfo("wine", "classification", "178 wines, 13 features, 3 classes"),
        BuiltinInfo("breast_cancer", "classification", "569 tumours, 30 features, 2 classes"),
        BuiltinInfo("diabetes", "regression", "442 patients, 10 features, disease progression"),
        BuiltinInfo("moons", "classification", "two interleaving half circles (generator)", True),
        BuiltinInfo("blobs", "classification", "isotropic Gaussian blobs (generator)", True),
        BuiltinInfo("classification", "classification", "random n-class problem (generator)", True),
        BuiltinInfo(
            "regression", "regression", "random linear regression problem (generator)", True
        ),
    ]
}

#: Source kinds that ship with AI Mass Lab.
CORE_SOURCES: tuple[str, ...] = (
    "builtin",
    "csv",
    "parquet",
    "dataframe",
    "numpy",
    "image_folder",
    "sql",
)


@lru_cache(maxsize=1)
def plugin_sources() -> dict[str, str]:
    """Third-party sources registered in the ``aimass_lab.sources`` entry-point group.

    Returns
    -------
    dict
        ``{name: "module:attr"}``.
    """
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


#: Sources registered in this process with :func:`aimass_lab.data.register_source`
#: (``{name: "module:Class"}``); kept here so that specs accept them without importing them.
RUNTIME_SOURCES: dict[str, str] = {}


def source_names() -> list[str]:
    """Every accepted source kind, core first."""
    extra = (set(plugin_sources()) | set(RUNTIME_SOURCES)) - set(CORE_SOURCES)
    return list(CORE_SOURCES) + sorted(extra)
