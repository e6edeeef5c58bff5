"""REST handlers of one dataset: its page of samples and its data report.

A loaded dataset is kept for a short while (:class:`DatasetCache`), so that paging through the
samples of a large image folder or table does not list its files again for every page; a
dataset registered again under the same name is loaded anew.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from aimass_lab.errors import SpecError
from aimass_lab.lab._base import BaseHandler, _api

__all__ = [
    "DatasetCache",
    "DatasetReportHandler",
    "DatasetSamplesHandler",
    "PARTS",
    "dataset_cache",
]

PARTS = ("train", "val", "test")
#: The default and the largest page (rows) of ``GET datasets/{name}/samples``.
DEFAULT_LIMIT = 12
MAX_LIMIT = 100


class DatasetCache:
    """The last few datasets loaded by the REST API, each kept ``ttl_s`` seconds.

    The key holds the registry record (spec, fingerprint, registration time), so a dataset
    registered again is loaded again.
    """

    def __init__(self, size: int = 4, ttl_s: float = 120.0) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._items: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str, ws: Any) -> Any:
        """The dataset ``name`` of workspace ``ws`` (loaded now, or kept from a moment ago)."""
        import json

        from aimass_lab import data

        row = None if name in data.BUILTINS else data.registered_row(name, ws)
        if row is not None:  # a kept dataset is only for users who may read its source
            data.check_access(name, workspace=ws)
        key = (str(ws.path), name, json.dumps(row, sort_keys=True, default=str))
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._items.move_to_end(key)
                return hit[1]
        dataset = data.load(name, workspace=ws)
        with self._lock:
            self._items[key] = (now, dataset)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return dataset


def dataset_cache(handler: BaseHandler) -> DatasetCache:
    """The server's :class:`DatasetCache` (made on first use)."""
    state = handler.settings["aimass_lab"]
    cache = state.get("dataset_cache")
    if cache is None:
        cache = state.setdefault("dataset_cache", DatasetCache())
    return cache  # type: ignore[no-any-return]


def _bad(field: str, value: Any, message: str) -> SpecError:
    return SpecError("query", [{"field": field, "value": value, "message": message}])


class DatasetSamplesHandler(BaseHandler):
    """``GET datasets/{name}/samples?part=train&start=0&limit=12``: a page of raw samples."""

    @_api
    async def get(self, name: str) -> None:
        part = self.get_query_argument("part", "train")
        if part not in PARTS:
            raise _bad("part", part, f"unknown part; accepted: {', '.join(PARTS)}")
        start = self.int_arg("start", 0)
        limit = self.int_arg("limit", DEFAULT_LIMIT)
        assert start is not None and limit is not None
        if start < 0:
            raise _bad("start", start, "expected a row number, 0 or more")
        if not 1 <= limit <= MAX_LIMIT:
            raise _bad("limit", limit, f"expected 1 to {MAX_LIMIT} rows per page")
        cache = dataset_cache(self)

        def page() -> dict[str, Any]:
            doc: dict[str, Any] = cache.get(name, self.ws).preview(part, start, limit)
            return doc

        self.reply(await self.call(page))


class DatasetReportHandler(BaseHandler):
    """``GET datasets/{name}/report``: the data report (``Dataset.report()``) as JSON."""

    @_api
    async def get(self, name: str) -> None:
        cache = dataset_cache(self)

        def report() -> dict[str, Any]:
            doc: dict[str, Any] = cache.get(name, self.ws).report().to_dict()
            return doc

        self.reply(await self.call(report))
