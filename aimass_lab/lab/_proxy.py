"""Proxies through Jupyter's authentication: a run's TensorBoard and the workspace's server.

``{base_url}aimass-lab/tensorboard/{run_id}/...`` starts TensorBoard for the run on demand
(see :mod:`aimass_lab.lab._tensorboard`) and forwards to it; ``{base_url}aimass-lab/serve/...``
forwards to the workspace's inference server. Both are authenticated and authorized like the
REST API (resource ``aimass_lab``); Jupyter's cookie and token never travel upstream.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from aimass_lab.errors import AimassError, NotFoundError

__all__ = ["SERVE_PREFIX", "ServeProxyHandler", "TensorBoardProxyHandler"]

#: The serve proxy's path below Jupyter's base_url.
SERVE_PREFIX = ("aimass-lab", "serve")

#: Request headers that stay here: hop-by-hop, and Jupyter's own credentials.
_DROP_REQUEST = {
    "host",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "accept-encoding",
    "cookie",
    "authorization",
    "x-xsrftoken",
    "x-csrftoken",
    "origin",
    "referer",
}
#: Response headers not copied back (hop-by-hop, or recomputed by Tornado).
_DROP_RESPONSE = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "server",
    "date",
    "set-cookie",
}

_METHODS_WITH_BODY = ("POST", "PUT", "PATCH")


def _state(settings: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = settings["aimass_lab"]
    return state


class _ProxyMixin:
    """Forward the current request to ``url`` and copy the answer back."""

    request: Any
    timeout: float = 120.0

    async def forward(self, url: str, upstream_base: str, public_base: str) -> None:
        headers = {
            k: v for k, v in self.request.headers.get_all() if k.lower() not in _DROP_REQUEST
        }
        method = self.request.method
        body = self.request.body if method in _METHODS_WITH_BODY else None
        request = HTTPRequest(
            url,
            method=method,
            headers=headers,
            body=body if body is not None or method not in _METHODS_WITH_BODY else b"",
            follow_redirects=False,
            decompress_response=True,
            request_timeout=self.timeout,
            connect_timeout=10,
            allow_nonstandard_methods=True,
        )
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        handler: Any = self
        if response.code == 599:
            handler.set_status(502)
            self.send_json({"error": f"the upstream server did not answer: {response.error}"})
            return
        handler.set_status(response.code, response.reason)
        for name, value in response.headers.get_all():
            lower = name.lower()
            if lower in _DROP_RESPONSE:
                continue
            if lower == "location" and value.startswith(upstream_base):
                value = public_base + value[len(upstream_base) :]
            if lower in ("vary", "link"):
                handler.add_header(name, value)
            else:
                handler.set_header(name, value)
        body = b"" if method == "HEAD" else response.body or b""
        self.send_body(body, response.headers.get("Content-Type"))

    def send_json(self, payload: dict[str, Any]) -> None:
        self.send_body(json.dumps(payload).encode(), "application/json")

    def send_body(self, body: bytes, content_type: str | None) -> None:
        handler: Any = self
        if content_type:
            handler.set_header("Content-Type", content_type)
        handler.finish(body)


class TensorBoardProxyHandler(_ProxyMixin, JupyterHandler):
    """``{base_url}aimass-lab/tensorboard/{run_id}/...``: the run's TensorBoard."""

    auth_resource = "aimass_lab"
    timeout = 300.0

    def check_xsrf_cookie(self) -> None:
        """TensorBoard's page marks its POSTs with ``X-XSRF-Protected: 1`` (a header a foreign
        page cannot send without a CORS grant, which Jupyter never gives); those pass when
        their Origin, if any, is this server. Everything else needs Jupyter's XSRF token."""
        if not hasattr(self, "_jupyter_current_user"):
            return None  # too early: Jupyter's prepare() calls this again once the user is known
        if self.request.headers.get("X-XSRF-Protected") == "1" and self.check_origin():
            return None
        return super().check_xsrf_cookie()

    async def _handle(self, run_id: str, path: str | None) -> None:
        if not path:
            self.redirect(
                self.request.path + "/" + (f"?{self.request.query}" if self.request.query else "")
            )
            return
        state = _state(self.settings)
        manager = state["tensorboards"]
        try:
            ws = await asyncio.to_thread(state["get_workspace"])
            user = self.current_user
            owner = getattr(user, "username", None) or getattr(user, "name", None)
            kernel = self.get_query_argument("aimass_kernel", None) or None
            tb = await manager.get(ws, run_id, owner=owner, kernel_id=kernel)
        except NotFoundError as exc:
            self.set_status(404)
            self.send_json({"error": str(exc)})
            return
        except AimassError as exc:
            self.set_status(502)
            self.send_json({"error": str(exc)})
            return
        base = f"http://127.0.0.1:{tb.port}"
        await self.forward(base + self.request.uri, base, "")

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, path: str | None = None) -> None:
        await self._handle(run_id, path)

    @tornado.web.authenticated
    @authorized
    async def head(self, run_id: str, path: str | None = None) -> None:
        await self._handle(run_id, path)

    @tornado.web.authenticated
    @authorized
    async def post(self, run_id: str, path: str | None = None) -> None:
        await self._handle(run_id, path)


class ServeProxyHandler(_ProxyMixin, APIHandler):
    """``{base_url}aimass-lab/serve/...``: the workspace's inference server.

    Jupyter's own credentials stay here; send the server's API key as ``x-api-key`` (and the
    admin key as ``x-admin-key``).
    """

    auth_resource = "aimass_lab"

    def send_body(self, body: bytes, content_type: str | None) -> None:
        self.finish(body, set_content_type=content_type or "application/octet-stream")

    async def _handle(self, path: str | None) -> None:
        del path  # tornado passes it decoded; the raw path is read from the request below
        state = _state(self.settings)

        def find() -> str | None:
            from aimass_lab.serve import server_url

            return server_url(workspace=state["get_workspace"]())

        try:
            url = await asyncio.to_thread(find)
        except (AimassError, ImportError) as exc:
            self.set_status(503)
            self.send_json({"error": f"the workspace's inference server is not available: {exc}"})
            return
        if not url:
            self.set_status(503)
            self.send_json(
                {
                    "error": "no inference server runs for this workspace; deploy a model "
                    "(aimass_lab.deploy('name:version'), `aimass deploy NAME:VERSION`, or "
                    "POST aimass-lab/api/v1/deployments) or start one with `aimass serve`"
                }
            )
            return
        upstream = url.rstrip("/")
        # the raw (still percent-encoded) path below the proxy's own, as the client sent it
        public = url_path_join(self.settings["base_url"], *SERVE_PREFIX)
        raw = self.request.path[len(public) :] if self.request.path.startswith(public) else ""
        raw = raw if raw.startswith("/") else "/" + raw
        query = f"?{self.request.query}" if self.request.query else ""
        await self.forward(f"{upstream}{raw}{query}", upstream, public)

    @tornado.web.authenticated
    @authorized
    async def get(self, path: str | None = None) -> None:
        await self._handle(path)

    @tornado.web.authenticated
    @authorized
    async def head(self, path: str | None = None) -> None:
        await self._handle(path)

    @tornado.web.authenticated
    @authorized
    async def post(self, path: str | None = None) -> None:
        await self._handle(path)

    @tornado.web.authenticated
    @authorized
    async def put(self, path: str | None = None) -> None:
        await self._handle(path)

    @tornado.web.authenticated
    @authorized
    async def delete(self, path: str | None = None) -> None:
        await self._handle(path)
