"""The HTTP/1.1 protocol under the app: uvicorn's, with a limit on the request head.

uvicorn's httptools protocol keeps a request line and headers of any size in memory (64 MB
of headers were read and answered 200), so a few clients could fill the server's memory
before the app sees a request. Here the request line and headers together may hold
:data:`MAX_HEAD_BYTES`; a larger head gets ``431 Request Header Fields Too Large`` and the
connection is closed. With h11 the same limit is uvicorn's ``h11_max_incomplete_event_size``
(a larger head is a 400 there).

A malformed request closes its connection at once; a request pipelined before it on the same
connection is then dropped instead of written to the closed socket (uvicorn with uvloop
raised there, and logged the traceback).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_HEAD_BYTES", "http_protocol"]

#: The largest request line plus headers a request may have (nginx: 4 x 8 KiB by default).
MAX_HEAD_BYTES = 64 * 1024


def http_protocol(choice: str) -> Any:
    """What uvicorn's ``http`` setting gets for ``AIMASS_SERVE_HTTP`` (``auto``, ``httptools``
    or ``h11``): the limited httptools protocol when httptools is installed, else ``h11``."""
    if choice == "h11":
        return "h11"
    try:
        return _limited_httptools()
    except ImportError:
        if choice == "httptools":
            raise
        return "h11"


def _limited_httptools() -> Any:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol; a request head over MAX_HEAD_BYTES gets a 431."""

        _head_bytes = 0
        _head_too_large = False

        def on_message_begin(self) -> None:
            self._head_bytes = 0
            super().on_message_begin()

        def _count(self, n: int) -> None:
            self._head_bytes += n
            if self._head_bytes > MAX_HEAD_BYTES:
                self._head_too_large = True
                # a callback error stops the parser; uvicorn answers it with
                # send_400_response, which answers 431 here
                raise ValueError("request head too large")

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def send_400_response(self, msg: str) -> None:
            # the connection closes now: a request of it still running (pipelined before
            # the bad one) must not write to the closed transport (uvloop raises there)
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
            if not self._head_too_large:
                super().send_400_response(msg)
                return
            text = (f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes").encode(
                "ascii"
            )
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\n"
                b"content-length: " + str(len(text)).encode("ascii") + b"\r\n"
                b"connection: close\r\n\r\n" + text
            )
            self.transport.close()

    return LimitedHttpToolsProtocol
