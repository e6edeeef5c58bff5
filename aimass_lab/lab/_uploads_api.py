"""REST handlers of resumable uploads (``uploads``): create, send chunks, resume, finish, abort.

The protocol, tus-like (see ``docs/teams.md``):

- ``POST uploads`` ``{"kind", "filename", "size", "sha256", "options"}`` opens a session (201).
- ``PUT uploads/{id}`` with ``Content-Range: bytes START-END/TOTAL`` and the chunk as the
  body stores it (200, the session with its new ``offset``, also in ``Upload-Offset``). A chunk
  that does not start at the stored size is refused with 409, ``{"error", "offset"}`` and
  ``Upload-Offset``: the offset to send from (tus answers a wrong offset with 409; Google's
  308 "Resume Incomplete" is a redirect status to browsers' ``fetch``). The body is streamed to
  the partial file as it arrives; a connection dropped mid-chunk keeps what arrived.
- ``GET uploads/{id}``: the session and its ``offset``, to resume after a dropped connection.
- ``POST uploads/{id}/finish`` checks the size and the sha256, then imports (a model archive)
  or registers (a dataset) what was uploaded: nothing is registered before.
- ``DELETE uploads/{id}`` aborts.

A session belongs to the Jupyter identity that created it; another user is refused (403).
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_core.utils import ensure_async

from aimass_lab.errors import AimassError, DataError, NotFoundError, SpecError
from aimass_lab.lab._base import BaseHandler, _api
from aimass_lab.workspace import UploadOffsetError, UploadOwnerError

__all__ = ["UploadFinishHandler", "UploadHandler", "UploadsHandler", "import_upload"]

_RANGE = re.compile(r"bytes (\d{1,19})-(\d{1,19})/(\d{1,19})")


def import_upload(ws: Any, path: Path, upload: Any) -> dict[str, Any]:
    """Register a complete, verified upload: a model archive or a CSV/Parquet dataset.

    A dataset's file is moved to ``datasets/<sha256 prefix>-<filename>`` in the workspace
    first (and back if the registration fails).
    """
    options = upload.options
    if upload.kind == "model":
        from aimass_lab import registry

        mv = registry.import_(path, name=options.get("name") or None, workspace=ws)
        return {"kind": "model", "ref": mv.ref, "name": mv.name, "version": mv.version}
    from aimass_lab import data

    dest = Path(ws.path) / "datasets" / f"{upload.sha256[:16]}-{upload.filename}"
    moved = not dest.exists()  # the same bytes uploaded before stay where they are
    if moved:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
    register = data.from_csv if upload.filename.lower().endswith(".csv") else data.from_parquet
    try:
        dataset = register(
            dest,
            options.get("target") or None,
            name=options["name"],
            description=options.get("description"),
            workspace=ws,
        )
    except BaseException:
        if moved:
            os.replace(dest, path)
        raise
    return {"kind": "dataset", "name": dataset.name, "path": str(dest)}


def _bad_header(message: str) -> tornado.web.HTTPError:
    return tornado.web.HTTPError(400, "%s", message)


def _reply_upload(handler: BaseHandler, upload: Any, status: int = 200) -> None:
    handler.set_header("Upload-Offset", str(upload.offset))
    handler.reply(upload.to_dict(), status)


async def _owned(handler: BaseHandler, func: Any, *args: Any) -> Any:
    """Run a session call; another user's session is a 403."""
    try:
        return await handler.call(func, *args)
    except UploadOwnerError as exc:
        raise tornado.web.HTTPError(403, "%s", str(exc)) from None


class UploadsHandler(BaseHandler):
    """``POST uploads``: open a session; ``GET uploads``: the user's sessions."""

    @_api
    async def get(self) -> None:
        uploads = await self.call(lambda: [u.to_dict() for u in self.ws.uploads.list()])
        self.reply({"uploads": uploads})

    @_api
    async def post(self) -> None:
        body = self.body()
        unknown = sorted(set(body) - {"kind", "filename", "size", "sha256", "options"})
        if unknown:
            raise SpecError("upload", [{"field": f, "message": "unknown field"} for f in unknown])
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise DataError("upload options must be a JSON object")
        upload = await self.call(
            self.ws.uploads.create,
            body.get("kind"),
            body.get("filename") if isinstance(body.get("filename"), str) else "",
            body.get("size"),
            body.get("sha256"),
            options,
        )
        _reply_upload(self, upload, 201)


@tornado.web.stream_request_body
class UploadHandler(BaseHandler):
    """``GET`` the offset, ``PUT`` a chunk (streamed to disk), ``DELETE`` (abort) one session."""

    _writer: Any = None
    _refusal: tuple[int, dict[str, Any], int | None] | None = None

    async def prepare(self) -> None:  # type: ignore[override]
        """Check everything about a PUT before its body arrives, and open the chunk writer."""
        await super().prepare()
        if self.request.method != "PUT" or self._finished:
            return
        user = self.current_user
        if not user or not await ensure_async(
            self.authorizer.is_authorized(self, user, "write", self.auth_resource)
        ):
            raise tornado.web.HTTPError(403, "User is not authorized to write on aimass_lab.")
        try:
            self._writer = await self._open_writer()
        except tornado.web.HTTPError as exc:  # another user's session
            message = (exc.log_message or "") % exc.args if exc.args else exc.log_message
            self._refusal = (exc.status_code, {"error": message}, None)
        except UploadOffsetError as exc:
            self._refusal = (409, {"error": str(exc), "offset": exc.expected}, exc.expected)
        except AimassError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 409
            status = 422 if isinstance(exc, DataError | SpecError) else status
            self._refusal = (status, {"error": str(exc)}, None)
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit():  # a refused body is read and discarded (an answer sent before
            connection: Any = self.request.connection  # the body ends reaches few clients)
            connection.set_max_body_size(max(int(length), 1))

    async def _open_writer(self) -> Any:
        start, length, total = self._chunk()
        upload_id = self.path_kwargs["upload_id"]
        writer = await _owned(self, self.ws.uploads.writer, upload_id, start, length)
        if total != writer.upload.size:
            writer.close()
            raise SpecError(
                "Content-Range",
                [
                    {
                        "field": "Content-Range",
                        "value": total,
                        "message": f"the total is not the size of upload {upload_id} "
                        f"({writer.upload.size} bytes, declared when it was created)",
                    }
                ],
            )
        return writer

    def _chunk(self) -> tuple[int, int, int]:
        """``(start, length, total)`` from ``Content-Range`` and ``Content-Length``."""
        header = self.request.headers.get("Content-Range", "")
        match = _RANGE.fullmatch(header.strip())
        if not match:
            raise _bad_header(
                f"PUT needs a Content-Range header 'bytes START-END/TOTAL' (END inclusive), "
                f"got {header!r}"
            )
        start, end, total = (int(g) for g in match.groups())
        if end < start or end >= total:
            raise _bad_header(f"Content-Range {header!r}: expected START <= END < TOTAL")
        if "Content-Length" not in self.request.headers:
            raise _bad_header("PUT needs a Content-Length header (chunked bodies are refused)")
        length = end - start + 1
        if int(self.request.headers["Content-Length"]) != length:
            raise _bad_header(
                f"Content-Range {header!r} declares {length} bytes but Content-Length is "
                f"{self.request.headers['Content-Length']}"
            )
        return start, length, total

    def data_received(self, chunk: bytes) -> None:
        if self._writer is not None:
            self._writer.write(chunk)

    def on_connection_close(self) -> None:
        """A dropped connection keeps the bytes that arrived (fsync'd, recorded)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        super().on_connection_close()

    def on_finish(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:  # an answer sent before the whole body arrived
            writer.close()

    @_api
    async def get(self, upload_id: str) -> None:
        upload = await _owned(self, self.ws.uploads.get, upload_id)
        _reply_upload(self, upload)

    @_api
    async def put(self, upload_id: str) -> None:
        if self._refusal is not None:
            status, payload, offset = self._refusal
            if offset is not None:
                self.set_header("Upload-Offset", str(offset))
            self.reply(payload, status)
            return
        writer, self._writer = self._writer, None
        if writer is None:
            raise DataError(f"upload {upload_id}: no chunk was accepted")
        upload = await asyncio.to_thread(writer.close)
        _reply_upload(self, upload)

    @_api
    async def delete(self, upload_id: str) -> None:
        upload = await _owned(self, self.ws.uploads.abort, upload_id)
        _reply_upload(self, upload)


class UploadFinishHandler(BaseHandler):
    """``POST uploads/{id}/finish``: verify the size and sha256, then register (200)."""

    @_api
    async def post(self, upload_id: str) -> None:
        ws = self.ws

        def finish() -> Any:
            return ws.uploads.finish(upload_id, lambda path, up: import_upload(ws, path, up))

        upload = await _owned(self, finish)
        _reply_upload(self, upload)
