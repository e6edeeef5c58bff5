"""The REST API's base: its prefix, the error mapping decorator and :class:`BaseHandler`."""

import asyncio
import functools
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler

from aimass_lab._version import __version__
from aimass_lab.errors import (
    AimassError,
    ArchiveError,
    DataError,
    DeviceError,
    IntegrityError,
    JobError,
    NotFoundError,
    PermissionDeniedError,
    SpecError,
)

__all__ = [
    "API_PREFIX",
    "BaseHandler",
    "OpenAPIHandler",
    "VersionHandler",
    "_api",
    "openapi_document",
]

API_PREFIX = ("aimass-lab", "api", "v1")
#: The range of an integer query argument (a 64-bit integer; the document says so too).
INT64 = (-(2**63), 2**63 - 1)
H = TypeVar("H", bound=Callable[..., Awaitable[None]])

_STATUS: list[tuple[type[AimassError], int]] = [
    (NotFoundError, 404),
    (PermissionDeniedError, 403),
    (SpecError, 422),
    (DataError, 422),
    (DeviceError, 422),
    (JobError, 409),
    (IntegrityError, 409),
    (ArchiveError, 400),
]


def _api(method: H) -> H:
    """Authenticate, authorize, and turn AimassError into a JSON error with a fitting status."""

    @functools.wraps(method)
    async def inner(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
        try:
            await method(self, *args, **kwargs)
        except AimassError as exc:
            status = next((code for cls, code in _STATUS if isinstance(exc, cls)), None)
            if status is None:
                # a bad value a stage refused (e.g. a split that does not add up): 422
                status = 422 if isinstance(exc, ValueError) else 400
            payload: dict[str, Any] = {"error": str(exc)}
            if isinstance(exc, SpecError):
                payload["errors"] = json.loads(json.dumps(exc.errors, default=repr))
            self.set_status(status)
            self.finish(payload)
        except tornado.web.HTTPError:
            raise
        except Exception as exc:
            # Never a traceback to the client: the server log has it.
            self.log.exception("AI Mass Lab: %s %s failed", self.request.method, self.request.path)
            self.set_status(500)
            self.finish(
                {
                    "error": f"internal error ({type(exc).__name__}) in {self.request.method} "
                    f"{self.request.path}; the Jupyter server log has the details"
                }
            )

    return tornado.web.authenticated(authorized(inner))  # type: ignore[return-value]


class BaseHandler(APIHandler):
    """Shared helpers: the workspace, JSON bodies, running work off the event loop."""

    auth_resource = "aimass_lab"

    @property
    def ws(self) -> Any:
        return self.settings["aimass_lab"]["get_workspace"]()

    @property
    def user_name(self) -> str | None:
        """The Jupyter Server identity of the request (``None`` when it has none).

        Jupyter Server's own identity providers (one token or password) serve one user and
        name each browser "Anonymous ..." with a random id: there the request acts as the
        server's user (``None``), so a plain local JupyterLab is the notebook's user.
        JupyterHub's and custom providers name real users, and those names are used."""
        provider = self.settings.get("identity_provider")
        if provider is not None and type(provider).__module__.startswith("jupyter_server."):
            return None
        user = self.current_user
        name = getattr(user, "username", None) or getattr(user, "name", None)
        anonymous = str(getattr(user, "name", "")).startswith("Anonymous ") and bool(
            re.fullmatch(r"[0-9a-f]{32}", str(name or ""))
        )
        return str(name) if name and not anonymous else None

    @property
    def user_groups(self) -> list[str]:
        """The groups of the request's identity: ``User.groups``, or JupyterHub's user model."""
        user = self.current_user
        found = getattr(user, "groups", None)
        if found is None:
            found = (getattr(user, "hub_user", None) or {}).get("groups")
        return [str(g) for g in found or ()]

    async def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking stage code in a thread, acting as the request's user (and groups)."""
        from aimass_lab.workspace import acting_as, acting_in_groups

        user, groups = self.user_name, self.user_groups

        def run() -> Any:
            with acting_as(user), acting_in_groups(groups):
                return func(*args, **kwargs)

        return await asyncio.to_thread(run)

    def body(self) -> dict[str, Any]:
        """The JSON object sent as the request body."""
        try:
            data = json.loads(self.request.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # JSON is UTF-8
            raise SpecError(
                "request body", [{"field": "", "message": f"malformed JSON: {exc}"}]
            ) from None
        if not isinstance(data, dict):
            raise SpecError("request body", [{"field": "", "message": "expected a JSON object"}])
        return data

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        """An integer query argument, with a clear error when it is not one."""
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SpecError(
                "query", [{"field": name, "value": raw, "message": "expected an integer"}]
            ) from None
        if not INT64[0] <= value <= INT64[1]:  # what the store (a 64-bit integer) can compare
            raise SpecError(
                "query",
                [
                    {
                        "field": name,
                        "value": raw,
                        "message": f"expected an integer from {INT64[0]} to {INT64[1]}",
                    }
                ],
            )
        return value

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload, default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON ``{"error": ...}`` for errors raised outside ``_api`` -- never a traceback.

        A 405 names the route's methods in ``Allow`` (RFC 9110)."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        message = self._reason
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP methods this handler answers (those it defines itself)."""
        return [
            m
            for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
            if getattr(cls, m.lower()) is not getattr(tornado.web.RequestHandler, m.lower())
            and getattr(cls, m.lower()) is not getattr(APIHandler, m.lower(), None)
        ]


class VersionHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.reply({"version": __version__, "api": "v1"})


class OpenAPIHandler(BaseHandler):
    @_api
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(openapi_document())


def openapi_document() -> str:
    """The OpenAPI 3.1 description of the REST API (``aimass_lab/lab/openapi.json``)."""
    text = (Path(__file__).parent / "openapi.json").read_text(encoding="utf-8")
    return text.replace("__VERSION__", __version__)
