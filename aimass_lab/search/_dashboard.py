"""optuna-dashboard on a study, on 127.0.0.1, stopping by itself when nobody uses it.

``aimass search dashboard`` runs it in the foreground (Ctrl-C stops it); with an idle timeout
(``--idle-timeout``, default ``AIMASS_IDLE_SHUTDOWN_S``) it also stops after that many seconds
without a request. It says who started it (:func:`aimass_lab.workspace.current_user`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from aimass_lab.errors import AimassError

__all__ = ["serve_dashboard"]


class _Idle:
    """A WSGI middleware that remembers when the last request ended."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.last = time.monotonic()
        self.busy = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.busy += 1
        try:
            return list(self.app(environ, start_response))
        finally:
            self.busy -= 1
            self.last = time.monotonic()

    def idle_s(self) -> float:
        return 0.0 if self.busy else time.monotonic() - self.last


def serve_dashboard(
    storage: Any,
    port: int = 8080,
    idle_timeout_s: float | None = None,
    on_ready: Callable[[str], Any] | None = None,
) -> str:
    """Serve optuna-dashboard on ``storage`` at 127.0.0.1:``port`` (0: a free port) until
    Ctrl-C or, with ``idle_timeout_s`` > 0 (``None``: ``AIMASS_IDLE_SHUTDOWN_S``), until that
    many seconds pass without a request.

    Parameters
    ----------
    on_ready
        Called with the URL once listening.

    Returns
    -------
    str
        Why it stopped: ``"idle for 600s"`` or ``"interrupted"``.
    """
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from aimass_lab.settings import settings

    try:
        from optuna_dashboard import wsgi
    except ImportError:
        raise AimassError(
            "the dashboard needs the optuna-dashboard package: pip install optuna-dashboard"
        ) from None
    timeout = settings().idle_shutdown_s if idle_timeout_s is None else float(idle_timeout_s)
    if timeout < 0:
        raise AimassError(f"idle timeout {timeout:g}; accepted: seconds >= 0 (0: never)")

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    app = _Idle(wsgi(storage))
    with make_server("127.0.0.1", port, app, handler_class=_Quiet) as server:
        server.timeout = 0.5
        url = f"http://127.0.0.1:{server.server_port}/"
        if on_ready is not None:
            on_ready(url)
        try:
            while not (timeout > 0 and app.idle_s() >= timeout):
                server.handle_request()
        except KeyboardInterrupt:
            return "interrupted"
    return f"idle for {timeout:g}s"
