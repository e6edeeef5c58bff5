"""The ASGI application: OIP v2, the JSON route, admin API, metrics, OpenAPI.

A raw ASGI app (no framework): one dispatch on the path, bodies read with a running size
check (413 before buffering), answers written in two messages. Measured in-process on the
development machine, Starlette's routing, Request and Response cost 28-40 us per request
against 1-2 us here, while a whole health round trip over httptools/uvloop is about 180 us.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from aimass_lab._version import __version__
from aimass_lab.errors import AimassError, IntegrityError, NotFoundError
from aimass_lab.serve._batcher import QueueFull
from aimass_lab.serve._config import ServerConfig, worker_processes
from aimass_lab.serve._metrics import Metrics
from aimass_lab.serve._predict import format_predictions, parse_predict
from aimass_lab.serve._protocol import (
    HTTPError,
    encode_infer_response,
    json_bytes,
    json_bytes_finite,
    parse_infer_request,
    parse_json,
)
from aimass_lab.serve._router import (
    Batching,
    ServedModel,
    ServedVersion,
    log,
    split_from_doc,
)
from aimass_lab.serve._worker import EngineFailed, Unavailable, WorkerCrashed

__all__ = ["ServeApp"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]
_EXTENSIONS = ["model_repository", "binary_tensor_data", "aimass_json_predict", "aimass_admin"]


class _Gone(Exception):
    """The client went away while its body was read."""


class ServeApp:
    """The server's state and its ASGI entry point.

    Parameters
    ----------
    config
        The settings.
    workspace
        The :class:`~aimass_lab.workspace.Workspace` the registry is read from.
    """

    def __init__(self, config: ServerConfig, workspace: Any) -> None:
        self.config = config
        self.workspace = workspace
        self.metrics = Metrics()
        self.models: dict[str, ServedModel] = {}
        self.loaded = False  # startup models loaded
        self.draining = False
        self.inflight = 0
        self._api_keys = [k.encode() for k in config.api_keys]
        self._admin_keys = [k.encode() for k in config.admin_keys]
        self._admin_lock: asyncio.Lock | None = None
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self.default_batching = Batching(
            config.max_batch_size, config.max_delay_ms, config.queue_size
        )
        self.started_at = time.time()

    # ------------------------------------------------------------------ loading and routing
    def _lock(self) -> asyncio.Lock:
        if self._admin_lock is None:
            self._admin_lock = asyncio.Lock()
        return self._admin_lock

    async def load(
        self,
        name: str,
        ref: str,
        *,
        replicas: int | None = None,
        batching: Batching | None = None,
        engine: str | None = None,
        isolation: str | None = None,
        raise_errors: bool = True,
        replace: bool = False,
    ) -> ServedVersion:
        """Load a registry version under endpoint ``name`` (sha256-verified); a failure is
        recorded on the version entry, and raised when ``raise_errors``.

        With ``replace``, a version already ready is loaded again (new replicas, batching or
        engine) beside the one serving, which keeps its traffic until the new one is ready,
        then drains; a failed reload leaves the old one serving."""
        from aimass_lab import registry
        from aimass_lab._cpu import detect_isa, int8_mismatch
        from aimass_lab.serve._engine import prepare

        cfg = self.config
        replicas = cfg.replicas if replicas is None else replicas
        isolation = cfg.isolation if isolation is None else isolation
        engine = engine or cfg.engine
        batching = batching or self.default_batching
        model = self.models.get(name)
        if model is None:
            model = self.models[name] = ServedModel(name)
        try:
            mv = await asyncio.to_thread(registry.get, ref, self.workspace)
        except AimassError as exc:
            if raise_errors:
                if not model.versions:
                    self.models.pop(name, None)
                raise
            label = ref.partition(":")[2] or "latest"
            v = ServedVersion(name, label, ref, engine, replicas, batching)
            v.state, v.error = "failed", str(exc)
            model.versions.setdefault(label, v)
            log(f"cannot load {ref} as {name!r}: {exc}")
            return v
        label = str(mv.version)
        existing = model.versions.get(label)
        if existing is not None and existing.state in ("ready", "loading"):
            if not (replace and existing.state == "ready"):
                raise HTTPError(
                    409,
                    f"model {name!r} already serves version {label} ({existing.ref}); unload "
                    + ("it first" if existing.state == "ready" else "it or wait: it is loading")
                    + ', or load it with "replace": true to change its settings live',
                )
        else:
            existing = None  # nothing to replace: an ordinary load
        v = ServedVersion(name, label, mv.ref, engine, replicas, batching)
        if existing is None:
            model.versions[label] = v
        try:
            spec = await asyncio.to_thread(prepare, mv, engine, cfg.device)
            warning = int8_mismatch(spec["config"], detect_isa())
            if warning:
                log(f"warning: {mv.ref} as {name!r}: {warning}")
            await v.start(spec, worker_processes(replicas, isolation), cfg.threads, self.metrics)
        except Exception as exc:
            v.state, v.error = (
                "failed",
                str(exc) if isinstance(exc, AimassError) else f"{type(exc).__name__}: {exc}",
            )
            log(f"cannot load {mv.ref} as {name!r}: {v.error}")
            if existing is not None:  # the old one still serves, untouched
                with contextlib.suppress(Exception):
                    await v.stop()
                raise
            if raise_errors:
                model.versions.pop(label, None)
                if not model.versions:
                    self.models.pop(name, None)
                raise
            return v
        if not any(w > 0 for w in model.split.values()):
            model.set_split({label: 100}, model.shadow, remember=False)

        def replicas_ready(v: ServedVersion = v) -> float:
            return float(v.executor.alive if v.ready else 0)

        if existing is not None:
            # one step, no await: requests from now on take the new one (its split entry is
            # the label's, unchanged); those already queued on the old one finish there
            model.versions[label] = v
        self.metrics.track_replicas(name, label, replicas_ready)
        log(
            f"{'reloaded' if existing is not None else 'serving'} {mv.ref} as {name!r} version "
            f"{label} ({v.engine} on {v.device}, replicas {replicas})"
        )
        if existing is not None:
            await existing.stop()
        return v

    async def unload(self, name: str, label: str | None = None) -> None:
        model = self._model(name)
        if label is None:
            self.models.pop(name, None)
            versions = list(model.versions.values())
            model.set_split({}, None, remember=False)
        else:
            v = self._version(model, label)
            others = [x for x in model.versions if x != label]
            others_weighted = any(model.split.get(o, 0) > 0 for o in others)
            if model.split.get(label, 0) > 0 and others and not others_weighted:
                raise HTTPError(
                    409,
                    f"version {label} of model {name!r} receives all the traffic; move the split "
                    "to another version first (PUT /admin/models/{name}/split)",
                )
            split = {k: w for k, w in model.split.items() if k != label}
            shadow = None if model.shadow == label else model.shadow
            model.set_split(split, shadow, remember=False)
            if model.previous and label in model.previous[0]:
                model.previous = None
            model.versions.pop(label, None)
            versions = [v]
        for v in versions:
            await v.stop()
            self.metrics.forget_version(name, v.label)

    def _model(self, name: str) -> ServedModel:
        model = self.models.get(name)
        if model is None:
            raise HTTPError(
                404,
                f"unknown model {name!r}; served models: "
                + (", ".join(repr(m) for m in self.models) if self.models else "(none)"),
            )
        return model

    def _version(self, model: ServedModel, label: str) -> ServedVersion:
        v = model.versions.get(label)
        if v is None:
            raise HTTPError(
                404,
                f"model {model.name!r} has no version {label!r}; loaded versions: "
                + (", ".join(repr(x) for x in model.versions) or "(none)"),
            )
        return v

    async def close(self) -> None:
        for name in list(self.models):
            model = self.models.pop(name)
            for v in model.versions.values():
                try:
                    await v.stop()
                except Exception as exc:  # keep closing the others
                    log(f"closing {v.ref}: {exc}")

    # ------------------------------------------------------------------------------ ASGI
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        start = time.perf_counter()
        labels = ["", "", ""]  # model, version, route (for metrics of inference routes)
        counted = False
        if not (path.startswith("/v2/health") or path == "/metrics"):
            self.inflight += 1
            counted = True
        try:
            status, body, headers = await self._dispatch(scope, receive, method, path, labels)
        except HTTPError as exc:
            status = exc.status
            body = json_bytes({"error": exc.message})
            headers = {"content-type": "application/json", **exc.headers}
        except _Gone:
            if counted:
                self.inflight -= 1
            return
        except Exception as exc:  # a bug: say so, log it, keep serving
            import traceback

            traceback.print_exc()
            status = 500
            body = json_bytes({"error": f"internal error: {type(exc).__name__}: {exc}"})
            headers = {"content-type": "application/json"}
        if labels[1] and "x-model-version" not in headers:  # errors say which version too
            headers["x-model-version"] = labels[1]
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        if self.draining:
            raw_headers.append((b"connection", b"close"))
        try:
            await send({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            if counted:
                self.inflight -= 1
            if labels[2]:
                self.metrics.observe_request(
                    labels[0], labels[1], labels[2], status, time.perf_counter() - start
                )

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.config.max_body_bytes
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    raise HTTPError(400, "Content-Length is not a number") from None
                if declared > limit:
                    raise HTTPError(
                        413,
                        f"the body has {declared} bytes, above the server's limit of {limit} "
                        "bytes (--max-body-bytes); send smaller batches",
                    )
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise _Gone()
            chunk = msg.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise HTTPError(
                        413,
                        f"the body is larger than the server's limit of {limit} bytes "
                        "(--max-body-bytes); send smaller batches",
                    )
                chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    def _header(scope: Scope, name: bytes) -> bytes | None:
        for k, v in scope["headers"]:
            if k == name:
                return v  # type: ignore[no-any-return]
        return None

    def _check_key(self, scope: Scope) -> None:
        if not self._api_keys:
            return
        given: bytes | None = None
        for k, v in scope["headers"]:
            if k == b"authorization" and v[:7].lower() == b"bearer ":
                given = v[7:].strip()
                break
            if k == b"x-api-key":
                given = v.strip()
                break
        if given is None:
            raise HTTPError(
                401,
                "this server needs an API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'",
                {"www-authenticate": "Bearer"},
            )
        if not any(hmac.compare_digest(given, key) for key in self._api_keys):
            raise HTTPError(403, "the API key is not valid")

    def _check_admin(self, scope: Scope) -> None:
        if not self.config.admin:
            raise HTTPError(404, "the admin API is off; start the server with --admin")
        given = self._header(scope, b"x-admin-key")
        if given is None:
            raise HTTPError(401, "the admin API needs the header 'x-admin-key: KEY'")
        if not any(hmac.compare_digest(given.strip(), key) for key in self._admin_keys):
            raise HTTPError(403, "the admin key is not valid")

    def _check_serving(self) -> None:
        if self.draining:
            raise HTTPError(503, "the server is shutting down", {"retry-after": "1"})

    # --------------------------------------------------------------------------- dispatch
    async def _dispatch(
        self, scope: Scope, receive: Receive, method: str, path: str, labels: list[str]
    ) -> tuple[int, bytes, dict[str, str]]:
        parts = path.strip("/").split("/")
        head = parts[0]
        if head == "v2":
            return await self._v2(scope, receive, method, parts, labels)
        if head == "v1" and len(parts) >= 2 and parts[1] == "models":
            return await self._v1(scope, receive, method, parts, labels)
        if head == "admin":
            return await self._admin(scope, receive, method, parts)
        if path == "/metrics":
            _only(method, "GET")
            return (
                200,
                self.metrics.render(),
                {"content-type": "text/plain; version=0.0.4; charset=utf-8"},
            )
        if path == "/openapi.json":
            _only(method, "GET")
            from aimass_lab.serve._openapi import openapi

            return 200, json_bytes(openapi()), {"content-type": "application/json"}
        if path == "/":
            return _ok(
                {
                    "name": "aimass-serve",
                    "version": __version__,
                    "routes": [
                        "/v2",
                        "/v2/health/ready",
                        "/v1/models",
                        "/metrics",
                        "/openapi.json",
                    ],
                }
            )
        raise HTTPError(404, f"no route {path!r}; see /openapi.json")

    async def _v2(
        self, scope: Scope, receive: Receive, method: str, parts: list[str], labels: list[str]
    ) -> tuple[int, bytes, dict[str, str]]:
        n = len(parts)
        if n == 1:
            _only(method, "GET")
            return _ok({"name": "aimass-serve", "version": __version__, "extensions": _EXTENSIONS})
        if parts[1] == "health" and n == 3:
            _only(method, "GET")
            if parts[2] == "live":
                return _ok({"live": True})
            if parts[2] == "ready":
                if self.loaded and not self.draining:
                    return _ok({"ready": True})
                why = "shutting down" if self.draining else "loading models"
                return (
                    503,
                    json_bytes({"ready": False, "error": why}),
                    {"content-type": "application/json"},
                )
            raise HTTPError(
                404, f"no route {scope['path']!r}; health routes: /v2/health/live, /v2/health/ready"
            )
        if parts[1] == "repository" and n == 3 and parts[2] == "index":
            _only(method, "POST", "GET")
            self._check_key(scope)
            return _ok(
                [
                    {
                        "name": m.name,
                        "version": v.label,
                        "state": "READY" if v.ready else v.state.upper(),
                        "reason": v.error or "",
                    }
                    for m in self.models.values()
                    for v in m.versions.values()
                ]
            )
        if parts[1] != "models" or n < 3:
            raise HTTPError(404, f"no route {scope['path']!r}; see /openapi.json")
        self._check_key(scope)
        model = self._model(parts[2])
        rest = parts[3:]
        version: ServedVersion | None = None
        if len(rest) >= 2 and rest[0] == "versions":
            version = self._version(model, rest[1])
            rest = rest[2:]
        if not rest:
            _only(method, "GET")
            return _ok(self._model_metadata(model) if version is None else version.metadata())
        if rest == ["ready"]:
            _only(method, "GET")
            if version is None:
                ready = any(
                    model.versions[lab].ready for lab in model.split if lab in model.versions
                )
            else:
                ready = version.ready
            if ready:
                return _ok({"name": model.name, "ready": True})
            return (
                503,
                json_bytes(
                    {
                        "name": model.name,
                        "ready": False,
                        "error": (version.error if version else None) or "not ready",
                    }
                ),
                {"content-type": "application/json"},
            )
        if rest == ["infer"]:
            _only(method, "POST")
            self._check_serving()
            labels[0], labels[2] = model.name, "infer"
            body = await self._body(scope, receive)
            if version is None:
                version = model.pick()
            else:  # reloaded (new settings) while the body was read: the new one answers
                version = model.versions.get(version.label, version)
            labels[1] = version.label
            hl = self._header(scope, b"inference-header-content-length")
            header_length: int | None = None
            if hl is not None:
                try:
                    header_length = int(hl)
                except ValueError:
                    raise HTTPError(
                        400, "Inference-Header-Content-Length is not a number"
                    ) from None
            self._require_ready(version)
            req = parse_infer_request(
                body, header_length, version.inputs, version.outputs,
                version.batching.max_batch_size, version.what,
            )  # fmt: skip
            self._shadow(model, version, req.arrays, req.rows)
            outs = await self._infer(version, req.arrays, req.rows)
            payload, headers = encode_infer_response(
                model.name, version.label, version.outputs, outs, req
            )
            headers["x-model-version"] = version.label
            return 200, payload, headers
        raise HTTPError(404, f"no route {scope['path']!r}; see /openapi.json")

    def _model_metadata(self, model: ServedModel) -> dict[str, Any]:
        ready = [v for v in model.versions.values() if v.state == "ready"]
        if not ready:
            raise HTTPError(503, f"model {model.name!r} has no version ready")
        # the metadata of the version that takes the most traffic
        main = max(ready, key=lambda v: model.split.get(v.label, 0))
        doc = main.metadata()
        doc["versions"] = list(model.versions)
        doc["parameters"] = {
            **doc["parameters"],
            "split": dict(model.split),
            "shadow": model.shadow,
        }
        return doc

    def _require_ready(self, version: ServedVersion) -> None:
        if version.state != "ready":
            state = "failed to load" if version.state == "failed" else f"is {version.state}"
            raise HTTPError(
                503,
                f"{version.what} {state}" + (f": {version.error}" if version.error else ""),
                {"retry-after": "1"},
            )

    async def _infer(self, version: ServedVersion, arrays: dict[str, Any], rows: int) -> list[Any]:
        batcher = version.batcher
        if batcher is None or version.state != "ready":
            self._require_ready(version)
            raise HTTPError(503, f"{version.what} is not ready", {"retry-after": "1"})
        try:
            fut = batcher.submit(arrays, rows)
        except QueueFull:
            raise HTTPError(
                429,
                f"the queue of {version.what} is full ({batcher.queue_size} requests); retry later",
                {"retry-after": "1"},
            ) from None
        timeout = self.config.timeout_s
        loop = asyncio.get_running_loop()
        handle = loop.call_later(timeout, _expire, fut)
        try:
            return await fut
        except asyncio.TimeoutError:
            raise HTTPError(
                504, f"{version.what} did not answer within {timeout:g} s (--timeout-s)"
            ) from None
        except WorkerCrashed as exc:
            raise HTTPError(503, str(exc), {"retry-after": "1"}) from None
        except Unavailable as exc:
            raise HTTPError(503, str(exc), {"retry-after": "1"}) from None
        except EngineFailed as exc:
            raise HTTPError(500, f"the engine of {version.what} failed: {exc}") from None
        finally:
            handle.cancel()

    def _shadow(
        self, model: ServedModel, primary: ServedVersion, arrays: dict[str, Any], rows: int
    ) -> None:
        label = model.shadow
        if label is None or label == primary.label:
            return
        v = model.versions.get(label)
        if v is None or v.batcher is None or v.state != "ready":
            return
        if [m.name for m in v.inputs] != list(arrays) or rows > v.batching.max_batch_size:
            self.metrics.shadowed(model.name, label, "skipped")
            return
        try:
            fut = v.batcher.submit(arrays, rows)
        except QueueFull:
            self.metrics.shadowed(model.name, label, "dropped")
            return
        start = time.perf_counter()

        def done(f: asyncio.Future[Any]) -> None:
            ok = not f.cancelled() and f.exception() is None
            self.metrics.shadowed(model.name, label, "ok" if ok else "error")
            self.metrics.observe_request(
                model.name, label, "shadow", 200 if ok else 500, time.perf_counter() - start
            )

        fut.add_done_callback(done)

    async def _v1(
        self, scope: Scope, receive: Receive, method: str, parts: list[str], labels: list[str]
    ) -> tuple[int, bytes, dict[str, str]]:
        self._check_key(scope)
        if len(parts) == 2:
            _only(method, "GET")
            return _ok({"models": [self._model_summary(m) for m in self.models.values()]})
        target = parts[2]
        name, _, selector = target.partition(":")
        if len(parts) == 3:
            _only(method, "GET")
            model = self._model(name)
            return _ok(self._model_summary(model))
        if len(parts) != 4 or parts[3] != "predict":
            raise HTTPError(
                404,
                f"no route {scope['path']!r}; the JSON route is POST /v1/models/NAME[:VERSION]/predict",
            )
        _only(method, "POST")
        self._check_serving()
        model = self._model(name)
        labels[0], labels[2] = model.name, "predict"
        body = await self._body(scope, receive)
        version = model.resolve(selector) if selector else model.pick()
        labels[1] = version.label
        self._require_ready(version)
        doc = parse_json(body)
        assert version.card is not None
        arrays, rows = parse_predict(
            doc, version.card, version.inputs[0].name, version.inputs[0].shape,
            version.batching.max_batch_size, version.what,
        )  # fmt: skip
        if not selector:
            self._shadow(model, version, arrays, rows)
        outs = await self._infer(version, arrays, rows)
        answer = format_predictions(version.card, model.name, version.label, outs)
        # finite outputs give finite predictions: the fast encoder may write them
        finite = bool(np.isfinite(outs[0]).all())
        return (
            200,
            json_bytes_finite(answer) if finite else json_bytes(answer),
            {"content-type": "application/json", "x-model-version": version.label},
        )

    def _model_summary(self, model: ServedModel) -> dict[str, Any]:
        return {
            "name": model.name,
            "versions": [
                {
                    "version": v.label,
                    "ref": v.ref,
                    "ready": v.ready,
                    "aliases": v.aliases,
                    "engine": v.engine,
                }
                for v in model.versions.values()
            ],
            "split": dict(model.split),
            "shadow": model.shadow,
        }

    # ------------------------------------------------------------------------------ admin
    async def _admin(
        self, scope: Scope, receive: Receive, method: str, parts: list[str]
    ) -> tuple[int, bytes, dict[str, str]]:
        self._check_admin(scope)
        n = len(parts)
        if n == 2 and parts[1] == "models":
            _only(method, "GET")
            return _ok([m.entry() for m in self.models.values()])
        if n < 3 or parts[1] != "models":
            raise HTTPError(404, f"no admin route {scope['path']!r}; see /openapi.json")
        name = parts[2]
        if n == 3:
            if method == "GET":
                return _ok(self._model(name).entry())
            _only(method, "DELETE", "GET")
            async with self._lock():
                self._model(name)
                await self.unload(name)
            return _ok({"name": name, "unloaded": True})
        action = parts[3]
        if action == "versions" and n == 4:
            _only(method, "POST")
            doc = parse_json(await self._body(scope, receive))
            return await self._admin_load(name, doc)
        if action == "versions" and n == 5:
            if method == "GET":
                return _ok(self._version(self._model(name), parts[4]).entry())
            _only(method, "DELETE", "GET")
            async with self._lock():
                await self.unload(name, parts[4])
            return _ok({"name": name, "version": parts[4], "unloaded": True})
        if action == "split" and n == 4:
            _only(method, "PUT")
            doc = parse_json(await self._body(scope, receive))
            if not isinstance(doc, dict):
                raise HTTPError(
                    400, 'the body must be {"split": {version: weight}, "shadow": version|null}'
                )
            async with self._lock():
                model = self._model(name)
                split, shadow = split_from_doc(model, doc.get("split"), doc.get("shadow"))
                model.set_split(split, shadow)
                log(f"{name!r}: split {split}" + (f", shadow {shadow}" if shadow else ""))
                return _ok(model.entry())
        if action == "rollback" and n == 4:
            _only(method, "POST")
            async with self._lock():
                model = self._model(name)
                if model.previous is None:
                    raise HTTPError(409, f"model {name!r} has no previous split to roll back to")
                split, shadow = model.previous
                missing = [
                    lab
                    for lab, w in split.items()
                    if w > 0 and (lab not in model.versions or model.versions[lab].state != "ready")
                ]
                if missing:
                    raise HTTPError(
                        409,
                        f"cannot roll back model {name!r}: version(s) {', '.join(missing)} of the previous split are no longer loaded",
                    )
                if shadow is not None and shadow not in model.versions:
                    shadow = None
                model.set_split(split, shadow)
                log(f"{name!r}: rolled back to split {split}")
                return _ok(model.entry())
        raise HTTPError(404, f"no admin route {scope['path']!r}; see /openapi.json")

    async def _admin_load(self, name: str, doc: Any) -> tuple[int, bytes, dict[str, str]]:
        from aimass_lab.serve._config import ISOLATIONS

        if not isinstance(doc, dict):
            raise HTTPError(
                400, 'the body must be {"ref": "name:version", "replicas"?, "batching"?, "engine"?}'
            )
        unknown = set(doc) - {"ref", "replicas", "batching", "engine", "isolation", "replace"}
        if unknown:
            raise HTTPError(
                400,
                f"unknown field(s) {', '.join(sorted(map(repr, unknown)))}; accepted: 'ref', 'replicas', 'batching', 'engine', 'isolation', 'replace'",
            )
        replace = doc.get("replace", False)
        if not isinstance(replace, bool):
            raise HTTPError(400, f"'replace' must be true or false, got {replace!r}")
        ref = doc.get("ref")
        if not isinstance(ref, str) or not ref:
            raise HTTPError(400, "'ref' must be a model ref such as 'digits:4' or 'digits:prod'")
        replicas = doc.get("replicas", self.config.replicas)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 64:
            raise HTTPError(400, f"'replicas' must be an integer from 1 to 64, got {replicas!r}")
        engine = doc.get("engine", "auto")
        if engine not in ("auto", "onnxruntime", "torch"):
            raise HTTPError(
                400, f"'engine' must be 'auto', 'onnxruntime' or 'torch', got {engine!r}"
            )
        isolation = doc.get("isolation", self.config.isolation)
        if isolation not in ISOLATIONS:
            raise HTTPError(
                400,
                f"'isolation' must be one of {', '.join(map(repr, ISOLATIONS))}, got {isolation!r}",
            )
        batching = Batching.from_dict(doc.get("batching"), self.default_batching)
        async with self._lock():
            try:
                v = await self.load(
                    name,
                    ref,
                    replicas=replicas,
                    batching=batching,
                    engine=engine,
                    isolation=isolation,
                    replace=replace,
                )
            except NotFoundError as exc:
                raise HTTPError(404, str(exc)) from None
            except IntegrityError as exc:
                raise HTTPError(409, f"refusing to load {ref}: {exc}") from None
            except AimassError as exc:
                raise HTTPError(
                    400 if "malformed" in str(exc) or "invalid" in str(exc) else 422, str(exc)
                ) from None
        return _ok(v.entry())


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(asyncio.TimeoutError())


def _ok(doc: Any) -> tuple[int, bytes, dict[str, str]]:
    return 200, json_bytes(doc), {"content-type": "application/json"}


def _only(method: str, *allowed: str) -> None:
    if method not in allowed and not (method == "HEAD" and "GET" in allowed):
        raise HTTPError(
            405,
            f"method {method} not allowed here; accepted: {', '.join(allowed)}",
            {"allow": ", ".join(allowed)},
        )
