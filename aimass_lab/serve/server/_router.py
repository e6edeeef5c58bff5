"""Served models: versions (each with its engine, replicas and batcher), aliases, traffic split,
shadow traffic, and the live operations on them (load, split, rollback, unload)."""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

from aimass_lab.errors import accepted
from aimass_lab.serve.server._batcher import Batcher
from aimass_lab.serve.server._predict import ModelCard
from aimass_lab.serve.server._protocol import HTTPError, TensorMeta
from aimass_lab.specs import BatchingSpec

__all__ = ["ServedModel", "ServedVersion", "log", "split_from_doc"]


class ServedVersion:
    """One loaded (or loading, or failed) version of a served model."""

    def __init__(
        self, model: str, label: str, ref: str, engine: str, replicas: int, batching: BatchingSpec
    ) -> None:
        self.model = model
        self.label = label
        self.ref = ref
        self.engine = engine
        self.replicas = replicas
        self.batching = batching
        self.state = "loading"
        self.error: str | None = None
        self.aliases: list[str] = []
        self.inputs: list[TensorMeta] = []
        self.outputs: list[TensorMeta] = []
        self.device = "cpu"
        self.card: ModelCard | None = None
        self.executor: Any = None
        self.batcher: Batcher | None = None
        self.what = f"model {model!r} version {label}"

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.executor is not None and self.executor.ready

    def entry(self) -> dict[str, Any]:
        ex = self.executor
        return {
            "version": self.label,
            "ref": self.ref,
            "engine": self.engine,
            "device": self.device,
            "replicas": self.replicas,
            "ready": self.ready,
            "state": self.state,
            "error": self.error,
            "aliases": list(self.aliases),
            "batching": self.batching.to_dict(),
            "workers": list(ex.pids) if ex is not None else [],
            "restarts": int(getattr(ex, "restarts", 0)) if ex is not None else 0,
        }

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.model,
            "versions": [self.label],
            "platform": "onnxruntime_onnx" if self.engine == "onnxruntime" else "pytorch",
            "inputs": [m.to_dict() for m in self.inputs],
            "outputs": [m.to_dict() for m in self.outputs],
            "parameters": {
                "ref": self.ref,
                "engine": self.engine,
                "device": self.device,
                "max_batch_size": self.batching.max_batch_size,
                **(self.card.to_dict() if self.card else {}),
            },
        }

    async def start(
        self,
        spec: dict[str, Any],
        replicas: int,
        threads: int | None,
        metrics: Any,
        local: bool = False,
    ) -> None:
        """Open the engine (in this process, or in ``replicas`` worker processes; with
        ``local``, a small model also here, for its quick batches)."""
        from aimass_lab.serve.server._inprocess import InProcessExecutor
        from aimass_lab.serve.server._worker import ProcessExecutor

        self.card = ModelCard(spec["config"])
        self.aliases = list(spec.get("aliases") or [])
        self.engine = spec["engine"]
        if replicas <= 0:
            from aimass_lab.serve.server._engine import open_engine

            engine = await asyncio.to_thread(open_engine, spec, threads)
            executor: Any = InProcessExecutor(engine, slots=max(1, self.replicas))
        else:
            model, label = self.model, self.label
            executor = ProcessExecutor(
                spec,
                replicas,
                threads,
                on_restart=lambda: metrics.restarted(model, label),
                log=log,
                local=local,
            )
            await executor.start()
        info = executor.info()
        self.inputs = [TensorMeta.from_dict(m) for m in info["inputs"]]
        self.outputs = [TensorMeta.from_dict(m) for m in info["outputs"]]
        self.device = info.get("device", "cpu")
        self.executor = executor
        model, label = self.model, self.label
        self.batcher = Batcher(
            executor,
            self.batching.max_batch_size,
            self.batching.max_delay_ms,
            self.batching.queue_size,
            on_batch=lambda rows, s: metrics.observe_batch(model, label, rows, s),
            on_depth=lambda d: metrics.set_depth(model, label, d),
            pad_value=self.card.pad_value,
            bucket_by_length=self.batching.bucket_by_length,
        )
        self.state = "ready"

    async def stop(self) -> None:
        """Finish queued and running batches, then close the engine."""
        self.state = "unloading"
        if self.batcher is not None:
            await self.batcher.drain()
            await self.batcher.close()
        if self.executor is not None:
            await self.executor.close()


class ServedModel:
    """An endpoint name with versions, a weighted split, an optional shadow version."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.versions: dict[str, ServedVersion] = {}
        self.split: dict[str, float] = {}
        self.shadow: str | None = None
        self.previous: tuple[dict[str, float], str | None] | None = None
        self._rng = random.Random()
        self._cum: list[tuple[float, str]] = []

    def entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": [v.entry() for v in self.versions.values()],
            "split": dict(self.split),
            "shadow": self.shadow,
            "previous_split": dict(self.previous[0]) if self.previous else None,
        }

    def _recompute(self) -> None:
        cum: list[tuple[float, str]] = []
        total = 0.0
        for label, w in self.split.items():
            if w > 0:
                total += w
                cum.append((total, label))
        self._cum = cum

    def set_split(self, split: dict[str, float], shadow: str | None, remember: bool = True) -> None:
        if remember and (split != self.split or shadow != self.shadow):
            self.previous = (dict(self.split), self.shadow)
        self.split = dict(split)
        self.shadow = shadow
        self._recompute()

    def pick(self) -> ServedVersion:
        """A version drawn by the split's weights."""
        cum = self._cum
        if not cum:
            ready = [v for v in self.versions.values() if v.state == "ready"]
            if len(ready) == 1 and not self.split:
                return ready[0]
            failed = "".join(
                f"; version {v.label} failed to load: {v.error}"
                for v in self.versions.values()
                if v.state == "failed"
            )
            raise HTTPError(503, f"model {self.name!r} has no version receiving traffic{failed}")
        if len(cum) == 1:
            label = cum[0][1]
        else:
            r = self._rng.random() * cum[-1][0]
            label = cum[-1][1]
            for bound, lab in cum:
                if r < bound:
                    label = lab
                    break
        return self.versions[label]

    def resolve(self, selector: str) -> ServedVersion:
        """The version with this label, or the one an alias named at load points to."""
        v = self.versions.get(selector)
        if v is not None:
            return v
        for v in self.versions.values():
            if selector in v.aliases:
                return v
        raise HTTPError(
            404,
            f"model {self.name!r} has no version or alias {selector!r}; loaded versions: "
            + (accepted(self.versions) if self.versions else "(none)")
            + (
                "; aliases: " + accepted(a for v in self.versions.values() for a in v.aliases)
                if any(v.aliases for v in self.versions.values())
                else ""
            ),
        )


def split_from_doc(
    model: ServedModel, split: Any, shadow: Any
) -> tuple[dict[str, float], str | None]:
    """Validate a split body against the model's ready versions."""
    if not isinstance(split, dict) or not split:
        raise HTTPError(
            400, '\'split\' must be a non-empty object {version: weight}, e.g. {"3": 90, "4": 10}'
        )
    out: dict[str, float] = {}
    for label, w in split.items():
        if label not in model.versions:
            raise HTTPError(
                404,
                f"model {model.name!r} has no loaded version {label!r}; loaded: {accepted(model.versions)}",
            )
        if (
            not isinstance(w, (int, float))
            or isinstance(w, bool)
            or not w >= 0
            or w == float("inf")
        ):
            raise HTTPError(
                400, f"the weight of version {label!r} must be a number >= 0, got {w!r}"
            )
        if w > 0 and model.versions[label].state != "ready":
            raise HTTPError(
                409,
                f"version {label!r} of model {model.name!r} is {model.versions[label].state}: "
                f"{model.versions[label].error or 'not ready'}; it cannot take traffic",
            )
        out[str(label)] = float(w) if not float(w).is_integer() else int(w)
    if sum(out.values()) <= 0:
        raise HTTPError(400, "the split's weights must not all be 0")
    if shadow is not None:
        if not isinstance(shadow, str):
            raise HTTPError(400, f"'shadow' must be a version label or null, got {shadow!r}")
        if shadow not in model.versions or model.versions[shadow].state != "ready":
            raise HTTPError(
                404, f"model {model.name!r} has no ready version {shadow!r} to shadow to"
            )
    return out, shadow


def log(msg: str) -> None:
    print(f"[aimass serve] {msg}", file=sys.stderr, flush=True)
