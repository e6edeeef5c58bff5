"""JSON in and out of the inference routes, and the error they answer with.

Bodies are parsed once, with orjson (the stdlib only when orjson is missing). ``NaN`` and
``Infinity`` are not JSON and are refused; answers never hold them (the stdlib encoder runs
with ``allow_nan=False``, orjson only on documents known to be finite).
"""

from __future__ import annotations

import json
import math
from typing import Any

try:  # a fast JSON codec for the inference routes (a dependency; the stdlib when missing)
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is installed with aimass-lab
    _orjson = None  # type: ignore[assignment]

__all__ = ["HTTPError", "json_bytes", "json_bytes_finite", "parse_json"]


class HTTPError(Exception):
    """An answer other than 200: status, message, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def json_bytes(doc: Any) -> bytes:
    """Compact JSON; a NaN or infinity in ``doc`` raises ``ValueError`` (never invalid JSON)."""
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def json_bytes_finite(doc: Any) -> bytes:
    """:func:`json_bytes` of a document the caller knows holds no NaN or infinity (orjson
    would write those as ``null``): orjson when it takes the document, else the stdlib."""
    if _orjson is not None:
        try:
            return _orjson.dumps(doc)
        except TypeError:  # integers over 64 bits, keys that are not strings, ...
            pass
    return json_bytes(doc)


def _no_constant(token: str) -> Any:
    raise ValueError(token)


def _big_int(text: str) -> Any:
    """An integer as the stdlib reads it, or +-inf beyond a float (left to the finiteness
    checks, which name the input, row and column)."""
    if len(text) <= 300:
        return int(text)
    return -math.inf if text.startswith("-") else math.inf


def parse_json(body: bytes) -> Any:
    """Parse a JSON body once, or raise a 400 that says why it is malformed.

    ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON and are refused. A number beyond a
    64-bit float (``1e400``, an integer of 400 digits) is valid JSON: it becomes an infinity
    that the routes refuse naming the input, row and column (the only case read twice).
    """
    if not body:
        raise HTTPError(400, "malformed JSON: the request body is empty")
    if _orjson is None:  # pragma: no cover - orjson is installed with aimass-lab
        return _stdlib_json(body)
    try:
        return _orjson.loads(body)
    except _orjson.JSONDecodeError as exc:
        pos = exc.pos
        char = body[pos : pos + 1]
        if body.startswith((b"NaN", b"Infinity"), pos):
            raise HTTPError(
                400,
                f"malformed JSON: NaN and Infinity are not JSON ({exc}); accepted: finite "
                "numbers (null for a missing value where the model imputes one)",
            ) from None
        if char and char in b"-0123456789" and "infinity" in str(exc):
            return _stdlib_json(body)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as uexc:
            raise HTTPError(400, _not_utf8(uexc)) from None
        raise HTTPError(400, f"malformed JSON: {exc}") from None


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return (
        f"malformed JSON: the body is not UTF-8 text ({exc.reason} at byte {exc.start}); "
        "accepted: a UTF-8 JSON body (raw bytes go in a BYTES tensor with the binary "
        "tensor extension, images as base64 text)"
    )


def _stdlib_json(body: bytes) -> Any:
    """The stdlib's parse: integers beyond a float become +-inf, NaN/Infinity are refused."""
    try:
        return json.loads(body, parse_int=_big_int, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise HTTPError(400, _not_utf8(exc)) from None
    except json.JSONDecodeError as exc:
        raise HTTPError(400, f"malformed JSON: {exc}") from None
    except ValueError as exc:  # a NaN or Infinity token
        raise HTTPError(
            400,
            f"malformed JSON: {exc} is not JSON; accepted: finite numbers (null for a "
            "missing value where the model imputes one)",
        ) from None
    except RecursionError:
        raise HTTPError(400, "malformed JSON: nested too deeply") from None
