"""Prometheus metrics of the server, per model and version, in a registry of its own."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["LATENCY_BUCKETS", "Metrics", "parse_metrics", "summarize"]

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class _Hist:
    """A histogram kept in plain Python (bisect + list), exported on scrape."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value


class Metrics:
    """The server's metrics, exported in Prometheus text format.

    Series (labels ``model``, ``version``, and ``route`` where it says so):
    ``aimass_requests_total{route,code}``, ``aimass_request_errors_total{route,code}``,
    ``aimass_request_latency_seconds{route}`` (histogram), ``aimass_batch_size`` (rows per
    batch, histogram), ``aimass_batch_latency_seconds`` (engine time per batch, histogram),
    ``aimass_queue_depth`` (gauge), ``aimass_replicas_ready`` (gauge),
    ``aimass_worker_restarts_total``, ``aimass_shadow_requests_total{outcome}``,
    ``aimass_predictions_total{class}`` (rows answered per predicted class, classifiers),
    ``aimass_idle_seconds`` and ``aimass_idle_timeout_seconds`` (idle shutdown).

    Values are plain Python numbers updated on the event loop (a few hundred nanoseconds per
    request); a private ``CollectorRegistry`` turns them into metric families when scraped.
    """

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=False)
        self._requests: dict[tuple[str, str, str, str], int] = {}
        self._latency: dict[tuple[str, str, str], _Hist] = {}
        self._batch_size: dict[tuple[str, str], _Hist] = {}
        self._batch_latency: dict[tuple[str, str], _Hist] = {}
        self._depth: dict[tuple[str, str], int] = {}
        self._replicas: dict[tuple[str, str], Callable[[], float]] = {}
        self._restarts: dict[tuple[str, str], int] = {}
        self._shadow: dict[tuple[str, str, str], int] = {}
        self._predictions: dict[tuple[str, str], tuple[list[str], list[int]]] = {}
        #: The bytes of large request bodies held (set by the app: its body budget's use).
        self.body_bytes: Callable[[], float] = lambda: 0.0
        #: Requests being answered (set by the app; health and metrics not counted).
        self.in_flight: Callable[[], float] = lambda: 0.0
        #: (seconds idle, idle timeout) (set by the app).
        self.idle: Callable[[], tuple[float, float]] = lambda: (0.0, 0.0)
        self.registry.register(self)

    # -- updates -----------------------------------------------------------------------------
    def observe_request(
        self, model: str, version: str, route: str, code: int, seconds: float
    ) -> None:
        """Count one answered request and its latency."""
        key = (model, version, route, str(code))
        self._requests[key] = self._requests.get(key, 0) + 1
        lkey = (model, version, route)
        hist = self._latency.get(lkey)
        if hist is None:
            hist = self._latency[lkey] = _Hist(LATENCY_BUCKETS)
        hist.observe(seconds)

    def observe_batch(self, model: str, version: str, rows: int, seconds: float) -> None:
        key = (model, version)
        size = self._batch_size.get(key)
        if size is None:
            size = self._batch_size[key] = _Hist(BATCH_BUCKETS)
            self._batch_latency[key] = _Hist(LATENCY_BUCKETS)
        size.observe(rows)
        self._batch_latency[key].observe(seconds)

    def set_depth(self, model: str, version: str, depth: int) -> None:
        self._depth[(model, version)] = depth

    def track_replicas(self, model: str, version: str, ready: Callable[[], float]) -> None:
        self._replicas[(model, version)] = ready
        self._depth.setdefault((model, version), 0)

    def forget_version(self, model: str, version: str) -> None:
        """Stop reporting the gauges of an unloaded version (counters stay)."""
        self._replicas.pop((model, version), None)
        self._depth.pop((model, version), None)

    def restarted(self, model: str, version: str) -> None:
        self._restarts[(model, version)] = self._restarts.get((model, version), 0) + 1

    def observe_predictions(
        self, model: str, version: str, classes: list[Any] | None, counts: list[int]
    ) -> None:
        """Add the rows of one answer per predicted class (``counts[i]``: rows of class ``i``)."""
        key = (model, version)
        slot = self._predictions.get(key)
        if slot is None or len(slot[1]) != len(counts):
            names = (
                [str(c) for c in classes]
                if classes is not None and len(classes) == len(counts)
                else [str(i) for i in range(len(counts))]
            )
            slot = self._predictions[key] = (names, [0] * len(counts))
        totals = slot[1]
        for i, n in enumerate(counts):
            if n:
                totals[i] += n

    def shadowed(self, model: str, version: str, outcome: str) -> None:
        key = (model, version, outcome)
        self._shadow[key] = self._shadow.get(key, 0) + 1

    # -- export ------------------------------------------------------------------------------
    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        mv = ["model", "version"]
        req = CounterMetricFamily(
            "aimass_requests", "Inference requests answered.", labels=[*mv, "route", "code"]
        )
        err = CounterMetricFamily(
            "aimass_request_errors",
            "Inference requests answered with an error.",
            labels=[*mv, "route", "code"],
        )
        for key, n in list(self._requests.items()):
            req.add_metric(list(key), n)
            if int(key[3]) >= 400:
                err.add_metric(list(key), n)
        yield req
        yield err

        def hist(name: str, doc: str, data: dict[Any, _Hist], labels: list[str]) -> Any:
            fam = HistogramMetricFamily(name, doc, labels=labels)
            for key, h in list(data.items()):
                cum, buckets = 0, []
                for bound, count in zip((*h.bounds, float("inf")), h.counts, strict=True):
                    cum += count
                    buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cum))
                fam.add_metric(list(key), buckets, h.total)
            return fam

        yield hist(
            "aimass_request_latency_seconds",
            "Time from request to answer.",
            self._latency,
            [*mv, "route"],
        )
        yield hist("aimass_batch_size", "Rows per batch.", self._batch_size, mv)
        yield hist(
            "aimass_batch_latency_seconds", "Engine time per batch.", self._batch_latency, mv
        )
        depth = GaugeMetricFamily("aimass_queue_depth", "Requests waiting for a batch.", labels=mv)
        for key2, d in list(self._depth.items()):
            depth.add_metric(list(key2), d)
        yield depth
        ready = GaugeMetricFamily("aimass_replicas_ready", "Engine replicas ready.", labels=mv)
        for key2, fn in list(self._replicas.items()):
            ready.add_metric(list(key2), float(fn()))
        yield ready
        restarts = CounterMetricFamily(
            "aimass_worker_restarts", "Replica workers started again after a crash.", labels=mv
        )
        for key2, n in list(self._restarts.items()):
            restarts.add_metric(list(key2), n)
        yield restarts
        shadow = CounterMetricFamily(
            "aimass_shadow_requests",
            "Copies of requests sent to a shadow version.",
            labels=[*mv, "outcome"],
        )
        for key3, n in list(self._shadow.items()):
            shadow.add_metric(list(key3), n)
        yield shadow
        yield from self._collect_predictions_and_load()

    def _collect_predictions_and_load(self) -> Iterator[Any]:
        """The per-class prediction counter and the in-flight gauges."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        preds = CounterMetricFamily(
            "aimass_predictions",
            "Rows answered, per predicted class (classifiers).",
            labels=["model", "version", "class"],
        )
        for (model, version), (names, totals) in list(self._predictions.items()):
            for name, n in zip(names, list(totals), strict=True):
                preds.add_metric([model, version, name], n)
        yield preds
        yield GaugeMetricFamily(
            "aimass_requests_in_flight",
            "Requests being answered (health and metrics not counted).",
            value=float(self.in_flight()),
        )
        idle, timeout = self.idle()
        yield GaugeMetricFamily(
            "aimass_idle_seconds",
            "Seconds since the last inference request or admin change (0 while answering).",
            value=float(idle),
        )
        yield GaugeMetricFamily(
            "aimass_idle_timeout_seconds",
            "The server stops after this many idle seconds (0: never).",
            value=float(timeout),
        )
        yield GaugeMetricFamily(
            "aimass_body_bytes_in_flight",
            "Bytes of large request bodies held (at most --max-body-bytes-in-flight).",
            value=float(self.body_bytes()),
        )

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def parse_metrics(text: str) -> dict[str, list[dict[str, Any]]]:
    """Prometheus text -> ``{sample name: [{"labels": {...}, "value": float}]}``."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[dict[str, Any]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(
                {"labels": dict(sample.labels), "value": float(sample.value)}
            )
    return out


def _quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """A quantile from cumulative histogram buckets (linear inside a bucket), in seconds."""
    if not buckets:
        return None
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def summarize(parsed: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per model and version: ``requests``, ``errors``, ``p50_ms``, ``p99_ms`` (from the
    latency histogram, all routes but shadow copies) and ``predictions`` (rows per predicted
    class), from :func:`parse_metrics` output."""
    out: dict[str, dict[str, dict[str, Any]]] = {}

    def slot(labels: dict[str, str]) -> dict[str, Any] | None:
        model, version = labels.get("model"), labels.get("version")
        if not model or not version:
            return None
        return out.setdefault(model, {}).setdefault(
            version,
            {"requests": 0, "errors": 0, "p50_ms": None, "p99_ms": None, "predictions": {}},
        )

    for s in parsed.get("aimass_requests_total", []):
        d = slot(s["labels"])
        if d is not None and s["labels"].get("route") != "shadow":
            d["requests"] += int(s["value"])
    for s in parsed.get("aimass_request_errors_total", []):
        d = slot(s["labels"])
        if d is not None and s["labels"].get("route") != "shadow":
            d["errors"] += int(s["value"])
    for s in parsed.get("aimass_predictions_total", []):
        d = slot(s["labels"])
        if d is not None:
            name = str(s["labels"].get("class", ""))
            d["predictions"][name] = d["predictions"].get(name, 0) + int(s["value"])
    buckets: dict[tuple[str, str], dict[float, float]] = {}
    for s in parsed.get("aimass_request_latency_seconds_bucket", []):
        labels = s["labels"]
        if labels.get("route") == "shadow" or not labels.get("model") or not labels.get("version"):
            continue
        b = buckets.setdefault((labels["model"], labels["version"]), {})
        le = float(labels["le"])
        b[le] = b.get(le, 0.0) + s["value"]
    for (model, version), b in buckets.items():
        d = slot({"model": model, "version": version})
        assert d is not None
        items = list(b.items())
        for q, key in ((0.5, "p50_ms"), (0.99, "p99_ms")):
            v = _quantile(items, q)
            d[key] = None if v is None else v * 1000.0
    return out
