"""The ASGI application: OIP v2, the JSON route, admin API, metrics, OpenAPI.

A raw ASGI app (no framework): one lookup in the route table (``_routes.ROUTES``, given as a ``Router``), bodies
read with a running size check (413 before buffering), answers written in two messages.
Measured in-process on the development machine, Starlette's routing, Request and Response
cost 28-40 us per request against 1-2 us here, while a whole health round trip over
httptools/uvloop is about 180 us.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

from aimass_lab.serve.server._bodies import PARSE_INLINE_BYTES, BodyBudget
from aimass_lab.serve.server._config import ServerConfig
from aimass_lab.serve.server._metrics import Metrics
from aimass_lab.serve.server._protocol import HTTPError, json_bytes, parse_json
from aimass_lab.serve.server._router import ServedModel, ServedVersion, log
from aimass_lab.serve.server._routing import Receive, Reply, Request, Router, Scope, Send
from aimass_lab.serve.server._schemas import parse_body
from aimass_lab.specs import BatchingSpec

__all__ = ["Receive", "Scope", "Send", "ServeApp"]  # the types: from _routing


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
    router
        The dispatch over the route table (``Router(_routes.ROUTES)``).
    """

    def __init__(self, config: ServerConfig, workspace: Any, router: Router) -> None:
        self.config = config
        self.workspace = workspace
        self.router = router
        self.metrics = Metrics()
        self.models: dict[str, ServedModel] = {}
        self.loaded = False  # startup models loaded
        self.draining = False
        self.inflight = 0
        self._api_keys = [k.encode() for k in config.api_keys]
        self._admin_keys = [k.encode() for k in config.admin_keys]
        self._admin_lock: asyncio.Lock | None = None
        self.default_batching = BatchingSpec(
            max_batch_size=config.max_batch_size,
            max_delay_ms=config.max_delay_ms,
            queue_size=config.queue_size,
            bucket_by_length=config.bucket_by_length,
        )
        self.started_at = time.time()
        #: When the last inference request or admin change ended (monotonic); idle since.
        self.last_active = time.monotonic()
        #: Why the server stops, when it stops by itself (idle, its kernel ended).
        self.stop_reason: str | None = None
        #: Bytes of large bodies in flight, and where large bodies are parsed.
        self.bodies = BodyBudget(config.max_body_bytes_in_flight)
        self.metrics.body_bytes = lambda: self.bodies.used
        self.metrics.in_flight = lambda: self.inflight
        self.metrics.idle = lambda: (self.idle_seconds(), config.idle_timeout_s)

    def idle_seconds(self) -> float:
        """Seconds since the last inference request or admin change ended (0 while a request
        is being answered)."""
        return 0.0 if self.inflight > 0 else max(0.0, time.monotonic() - self.last_active)

    # ------------------------------------------------------------------ loading and routing
    def lock(self) -> asyncio.Lock:
        """The admin lock: one change of the served models at a time."""
        if self._admin_lock is None:
            self._admin_lock = asyncio.Lock()
        return self._admin_lock

    def model(self, name: str) -> ServedModel:
        """The served model ``name`` (404 naming the served ones)."""
        model = self.models.get(name)
        if model is None:
            raise HTTPError(
                404,
                f"unknown model {name!r}; served models: "
                + (", ".join(repr(m) for m in self.models) if self.models else "(none)"),
            )
        return model

    def version(self, model: ServedModel, label: str) -> ServedVersion:
        """The loaded version ``label`` of ``model`` (404 naming the loaded ones)."""
        v = model.versions.get(label)
        if v is None:
            raise HTTPError(
                404,
                f"model {model.name!r} has no version {label!r}; loaded versions: "
                + (", ".join(repr(x) for x in model.versions) or "(none)"),
            )
        return v

    async def close(self) -> None:
        """Stop every version (after its queue drains)."""
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
            self.bodies.release(scope.get("aimass.body_bytes", 0))
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
        try:
            if self.draining:  # the connection closes after this answer: read the body first,
                raw_headers.append((b"connection", b"close"))  # so that closing resets nothing
                await self._discard_body(scope, receive)
            await send({"type": "http.response.start", "status": status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            if "aimass.body_bytes" in scope:
                self.bodies.release(scope["aimass.body_bytes"])
            if counted:
                self.inflight -= 1
            if labels[2] or (method != "GET" and path.startswith("/admin/")):
                self.last_active = time.monotonic()
            if labels[2]:
                self.metrics.observe_request(
                    labels[0], labels[1], labels[2], status, time.perf_counter() - start
                )

    async def _discard_body(self, scope: Scope, receive: Receive) -> None:
        """Read what is left of the request's body (up to the body limit) and drop it."""
        if scope.get("aimass.body_read"):
            return
        size = 0
        while size <= self.config.max_body_bytes:
            msg = await receive()
            size += len(msg.get("body", b""))
            if msg["type"] == "http.disconnect" or not msg.get("more_body", False):
                return

    async def body(self, scope: Scope, receive: Receive) -> bytes:
        """The request's body (413 past ``--max-body-bytes``, before it is read).

        A large body (declared or found above 64 KiB) first takes its size from the budget of
        body bytes in flight, released when the request is answered (``_bodies``).
        """
        limit = self.config.max_body_bytes
        declared = -1
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
        if declared > PARSE_INLINE_BYTES:
            await self._hold(scope, declared)
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
                if size > PARSE_INLINE_BYTES and declared < 0:  # chunked: hold as it grows
                    await self._hold(scope, size)
                chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        scope["aimass.body_read"] = True
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _hold(self, scope: Scope, size: int) -> None:
        """Hold ``size`` bytes of the body budget for this request (in all: its body's size)."""
        held = scope.get("aimass.body_bytes", 0)
        if size > held:
            await self.bodies.acquire(size - held, self.config.timeout_s)
            scope["aimass.body_bytes"] = size

    @staticmethod
    def header(scope: Scope, name: bytes) -> bytes | None:
        """The value of header ``name`` (lower case), None when absent."""
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
        given = self.header(scope, b"x-admin-key")
        if given is None:
            raise HTTPError(401, "the admin API needs the header 'x-admin-key: KEY'")
        if not any(hmac.compare_digest(given.strip(), key) for key in self._admin_keys):
            raise HTTPError(403, "the admin key is not valid")

    def check_serving(self) -> None:
        """503 (retry in 1 s) while the server drains."""
        if self.draining:
            raise HTTPError(503, "the server is shutting down", {"retry-after": "1"})

    # --------------------------------------------------------------------------- dispatch
    async def _dispatch(
        self, scope: Scope, receive: Receive, method: str, path: str, labels: list[str]
    ) -> Reply:
        parts = path.strip("/").split("/")
        match = self.router.find(method, parts)
        if match.security == "api":
            self._check_key(scope)
        elif match.security == "admin":
            self._check_admin(scope)
        route = match.route
        if route is None:
            raise match.error(method, scope["path"], parts)
        req = Request(scope, receive, method, match.params, labels)
        if route.request is not None and route.validate:
            raw = await self.body(scope, receive)
            req.data = await self.bodies.parse(len(raw), _parse_route_body, route.request, raw)
        return await route.handler(self, req)


def _parse_route_body(model: Any, raw: bytes) -> Any:
    return parse_body(model, parse_json(raw))
