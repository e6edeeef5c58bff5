"""A client of the uploads REST API: send a large file in chunks, resume after a failure.

Standard library only (``urllib``); the server is a Jupyter Server with AI Mass Lab, reached
by its URL and token (a JupyterHub single-user server: its URL and ``JUPYTERHUB_API_TOKEN``).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError, DataError

__all__ = ["CHUNK_BYTES", "upload"]

#: The default chunk (bytes): what a failed request costs to send again.
CHUNK_BYTES = 8 << 20
_PREFIX = "aimass-lab/api/v1/uploads"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _Client:
    def __init__(self, url: str, token: str | None, timeout: float) -> None:
        self.base = url.rstrip("/") + "/" + _PREFIX
        self.headers = {"Authorization": f"token {token}"} if token else {}
        self.timeout = timeout

    def call(
        self, method: str, path: str = "", body: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers={**self.headers, **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                doc = json.loads(payload)
            except ValueError:
                doc = {"error": payload.decode(errors="replace")[:500]}
            return exc.code, doc


def upload(
    path: str | os.PathLike[str],
    kind: str,
    *,
    url: str,
    token: str | None = None,
    name: str | None = None,
    target: str | None = None,
    description: str | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    retries: int = 5,
    progress: Callable[[int, int], None] | bool | None = None,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Upload a model archive or a dataset file through the lab REST API, resuming on failure.

    The file is hashed, a session is opened, and chunks are sent from the offset the server
    stores; a failed chunk (a dropped connection, a refused offset) is sent again from the
    server's offset, up to ``retries`` times in a row. Nothing is registered until the whole
    file has arrived and its sha256 matches.

    Parameters
    ----------
    path
        A model archive (``*.tar.gz``, from ``aimass models export``) or a CSV/Parquet file.
    kind
        ``"model"`` or ``"dataset"``.
    url
        The Jupyter server's URL with its base URL (``http://127.0.0.1:8888/``).
    token
        Its token (default: ``JUPYTER_TOKEN``, else ``JUPYTERHUB_API_TOKEN``).
    name, target, description
        Register under ``name`` (needed for a dataset); a dataset's ``target`` column.
    chunk_bytes
        The size of each chunk.
    retries
        Failed chunks in a row before giving up.
    progress
        Called with ``(bytes stored, total)`` after each chunk; ``True``: a progress bar
        (``tqdm.auto``: a widget in a notebook, text elsewhere).
    timeout
        Seconds for each request.

    Returns
    -------
    dict
        The finished session: ``state`` ``"done"`` and ``result`` (``ref`` of the model
        version, or ``name`` of the dataset).

    Raises
    ------
    AimassError
        With the server's message when a request is refused, or after ``retries`` failures.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file} does not exist or is not a file")
    token = token or os.environ.get("JUPYTER_TOKEN") or os.environ.get("JUPYTERHUB_API_TOKEN")
    client = _Client(url, token, timeout)
    total = file.stat().st_size
    options = {
        k: v for k, v in (("name", name), ("target", target), ("description", description)) if v
    }
    body = {"kind": kind, "filename": file.name, "size": total, "sha256": _sha256(file)}
    code, doc = client.call(
        "POST", "", json.dumps({**body, "options": options}).encode(),
        **{"Content-Type": "application/json"},
    )  # fmt: skip
    if code != 201:
        raise AimassError(f"upload of {file} refused ({code}): {doc.get('error', doc)}")
    upload_id, offset = doc["id"], int(doc["offset"])
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="B", unit_scale=True, desc=file.name)
        progress = lambda n, _total: bar.update(n - bar.n)  # noqa: E731
    try:
        return _send(client, file, upload_id, offset, chunk_bytes, retries, progress or None)
    finally:
        if bar is not None:
            bar.close()


def _send(
    client: _Client,
    file: Path,
    upload_id: str,
    offset: int,
    chunk_bytes: int,
    retries: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    """Send the chunks from ``offset``, retrying from the server's offset; then finish."""
    total = file.stat().st_size
    failures = 0
    with file.open("rb") as fh:
        while offset < total:
            fh.seek(offset)
            chunk = fh.read(min(chunk_bytes, total - offset))
            headers = {
                "Content-Range": f"bytes {offset}-{offset + len(chunk) - 1}/{total}",
                "Content-Type": "application/octet-stream",
            }
            try:
                code, doc = client.call("PUT", f"/{upload_id}", chunk, **headers)
            except OSError as exc:  # a dropped connection: ask where to go on from
                code, doc = 0, {"error": str(exc)}
            if code == 200:
                offset, failures = int(doc["offset"]), 0
                if progress is not None:
                    progress(offset, total)
                continue
            failures += 1
            if failures > retries or code not in (0, 409, 500, 502, 503, 504):
                raise AimassError(f"upload of {file} failed at byte {offset} ({code}): {doc}")
            code, doc = client.call("GET", f"/{upload_id}")
            if code != 200:
                raise AimassError(f"upload of {file}: cannot resume ({code}): {doc}")
            offset = int(doc["offset"])
    code, doc = client.call("POST", f"/{upload_id}/finish", b"{}")
    if code != 200:
        raise AimassError(f"upload of {file} was not registered ({code}): {doc.get('error', doc)}")
    return doc
