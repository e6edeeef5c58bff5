"""The OpenAPI 3.1 description of the REST API, checked in as ``openapi.json``.

The paths are written by hand in ``openapi.json``; the request-body schemas of the specs
(``TrainSpec``, ``DeploySpec``, ``CompressSpec``, ``DataSourceSpec`` and what they contain) come from the pydantic
specs themselves. After changing a spec, refresh them with::

    python -m aimass_lab.lab._openapi

The tests check that every route is documented, every documented path is a route, and the
spec schemas are current.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["OPENAPI_FILE", "load", "route_paths", "spec_schemas"]

OPENAPI_FILE = Path(__file__).with_name("openapi.json")

#: The specs whose JSON schemas are request bodies of the API.
SPECS = ("TrainSpec", "DeploySpec", "CompressSpec", "DataSourceSpec")

_GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")


def load() -> dict[str, Any]:
    """The checked-in document (``__VERSION__`` left as is)."""
    doc: dict[str, Any] = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    return doc


def route_paths(route: str) -> list[str]:
    """The OpenAPI path templates of a route pattern.

    ``jobs/(?P<job_id>[^/]+)/(?P<action>cancel|resume)`` gives
    ``/jobs/{job_id}/cancel`` and ``/jobs/{job_id}/resume``.
    """
    paths = ["/"]
    pos = 0
    for match in _GROUP.finditer(route):
        literal = route[pos : match.start()]
        name, body = match.groups()
        options = ["{" + name + "}"] if body == "[^/]+" else body.split("|")
        paths = [p + literal + o for p in paths for o in options]
        pos = match.end()
    return [p + route[pos:] for p in paths]


def spec_schemas() -> dict[str, Any]:
    """JSON schemas of the request-body specs, referring to each other under components."""
    from pydantic.json_schema import models_json_schema

    from aimass_lab import specs

    models: list[Any] = [(getattr(specs, name), "validation") for name in SPECS]
    _keys, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    return dict(sorted(schemas.items()))


def refresh() -> dict[str, Any]:
    """The document with its spec schemas replaced by the current ones."""
    doc = load()
    current = doc["components"]["schemas"]
    kept = {k: v for k, v in current.items() if not v.get("x-aimass-spec")}
    fresh = {k: {**v, "x-aimass-spec": True} for k, v in spec_schemas().items()}
    doc["components"]["schemas"] = dict(sorted({**kept, **fresh}.items()))
    return doc


def main() -> int:
    doc = refresh()
    OPENAPI_FILE.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OPENAPI_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
