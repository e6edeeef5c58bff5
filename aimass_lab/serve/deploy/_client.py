"""A small HTTP client of any AI Mass Lab server (or any Open Inference Protocol v2 server)."""

from __future__ import annotations

from typing import Any

import numpy as np

from aimass_lab.errors import AimassError, NotFoundError
from aimass_lab.serve.server import LoadRequest

__all__ = ["Client", "ServeError"]


class ServeError(AimassError):
    """The server answered with an error.

    Attributes
    ----------
    status
        The HTTP status.
    body
        The decoded JSON answer (``{"error": ...}``) or the text.
    """

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class Client:
    """Talk to an inference server: health, metadata, OIP ``infer``, JSON ``predict``, admin.

    Parameters
    ----------
    url
        The server's base URL (``http://127.0.0.1:8500``).
    api_key
        Sent as ``Authorization: Bearer KEY`` on every request.
    admin_key
        Sent as ``x-admin-key`` on admin requests.
    timeout
        Seconds per request.

    Examples
    --------
    >>> from aimass_lab.serve import Client  # doctest: +SKIP
    >>> c = Client("http://127.0.0.1:8500")  # doctest: +SKIP
    >>> c.predict("digits", X[:2])["predictions"]  # doctest: +SKIP
    [0, 7]
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        admin_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.api_key = api_key
        self.admin_key = admin_key
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, admin: bool = False, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {}) or {}
        if admin:
            if not self.admin_key:
                raise AimassError("admin calls need Client(..., admin_key=KEY)")
            headers["x-admin-key"] = self.admin_key
        resp = self._http.request(method, path, headers=headers, **kwargs)
        if resp.status_code >= 400:
            try:
                body = resp.json()
                message = body.get("error", resp.text) if isinstance(body, dict) else resp.text
            except ValueError:
                body, message = resp.text, resp.text
            cls = NotFoundServeError if resp.status_code == 404 else ServeError
            raise cls(resp.status_code, f"{method} {path} -> {resp.status_code}: {message}", body)
        return resp

    # -- health and metadata ---------------------------------------------------------------------
    def live(self) -> bool:
        """Whether the server answers ``/v2/health/live``."""
        try:
            return self._http.get("/v2/health/live").status_code == 200
        except Exception:
            return False

    def ready(self) -> bool:
        """Whether ``/v2/health/ready`` says ready (models loaded, not draining)."""
        try:
            return self._http.get("/v2/health/ready").status_code == 200
        except Exception:
            return False

    def server_metadata(self) -> dict[str, Any]:
        return self._request("GET", "/v2").json()  # type: ignore[no-any-return]

    def models(self) -> list[dict[str, Any]]:
        """Served models: name, versions (version, ref, ready, aliases, engine), split, shadow."""
        return self._request("GET", "/v1/models").json()["models"]  # type: ignore[no-any-return]

    def metadata(self, name: str, version: str | int | None = None) -> dict[str, Any]:
        """OIP model metadata: inputs and outputs with names, datatypes and shapes."""
        path = f"/v2/models/{name}" + (f"/versions/{version}" if version is not None else "")
        return self._request("GET", path).json()  # type: ignore[no-any-return]

    def model_ready(self, name: str, version: str | int | None = None) -> bool:
        path = (
            f"/v2/models/{name}"
            + (f"/versions/{version}" if version is not None else "")
            + "/ready"
        )
        return self._http.get(path).status_code == 200

    # -- inference -----------------------------------------------------------------------------
    def infer(
        self,
        name: str,
        array: Any,
        version: str | int | None = None,
        input_name: str = "input",
        *,
        full: bool = False,
    ) -> Any:
        """OIP ``infer`` with one FP32 input.

        Returns
        -------
        numpy.ndarray or dict
            The first output as an array (``full=True``: the whole answer, with
            ``model_version``).
        """
        arr = np.ascontiguousarray(array, dtype=np.float32)
        body = {
            "inputs": [
                {
                    "name": input_name,
                    "shape": list(arr.shape),
                    "datatype": "FP32",
                    "data": arr.ravel().tolist(),
                }
            ]
        }
        path = (
            f"/v2/models/{name}"
            + (f"/versions/{version}" if version is not None else "")
            + "/infer"
        )
        doc = self._request("POST", path, json=body).json()
        if full:
            return doc
        out = doc["outputs"][0]
        return np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])

    def predict(
        self,
        name: str,
        X: Any = None,
        version_or_alias: str | int | None = None,
        *,
        records: list[dict[str, Any]] | None = None,
        preprocessed: bool = False,
    ) -> dict[str, Any]:
        """The JSON route: ``{"model", "version", "predictions", "probabilities"?, "confidence"?}``.

        Parameters
        ----------
        X
            Raw feature rows (an array or nested lists), as the training data had them; the
            server applies the model's fitted preprocessing.
        version_or_alias
            A loaded version (``3``) or an alias (``"prod"``); default: the traffic split.
        records
            Raw records ``{column: value}`` instead of ``X``. A NaN (in ``X`` or ``records``)
            is sent as ``null``: a missing value, imputed as in training (JSON has no NaN).
        preprocessed
            ``X`` is already model-ready (e.g. ``Dataset.X_test``): used as it is.
        """
        if (X is None) == (records is None):
            raise AimassError("give predict() either X (rows) or records=[{column: value}]")
        body: dict[str, Any]
        if records is not None:
            body = {"records": _nan_as_null(records)}
        else:
            body = {"inputs": _nan_as_null(X.tolist() if hasattr(X, "tolist") else X)}
            if preprocessed:
                body["preprocessed"] = True
        target = f"{name}:{version_or_alias}" if version_or_alias is not None else name
        return self._request("POST", f"/v1/models/{target}/predict", json=body).json()  # type: ignore[no-any-return]

    def metrics(self) -> dict[str, list[dict[str, Any]]]:
        """``/metrics`` parsed: ``{sample name: [{"labels": {...}, "value": v}]}``."""
        from aimass_lab.serve.server import parse_metrics

        return parse_metrics(self._request("GET", "/metrics").text)

    def stats(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Per model and version: requests, errors, p50_ms, p99_ms (from ``/metrics``)."""
        from aimass_lab.serve.server import summarize

        return summarize(self.metrics())

    # -- admin -----------------------------------------------------------------------------------
    def admin_models(self) -> list[dict[str, Any]]:
        return self._request("GET", "/admin/models", admin=True).json()  # type: ignore[no-any-return]

    def load(self, name: str, ref: str | LoadRequest, **opts: Any) -> dict[str, Any]:
        """Load a registry version under endpoint ``name``: a ref with the fields of
        :class:`~aimass_lab.serve.server.LoadRequest` as keywords (``replicas``,
        ``batching``, ``engine``, ``isolation``, ``replace``; the server checks them), or a
        whole ``LoadRequest``. Returns the version entry."""
        body = ref.to_body() if isinstance(ref, LoadRequest) else {"ref": ref, **opts}
        return self._request("POST", f"/admin/models/{name}/versions", admin=True, json=body).json()  # type: ignore[no-any-return]

    def split(
        self, name: str, weights: dict[str | int, float], shadow: str | int | None = None
    ) -> dict[str, Any]:
        body = {
            "split": {str(k): v for k, v in weights.items()},
            "shadow": None if shadow is None else str(shadow),
        }
        return self._request("PUT", f"/admin/models/{name}/split", admin=True, json=body).json()  # type: ignore[no-any-return]

    def rollback(self, name: str) -> dict[str, Any]:
        return self._request("POST", f"/admin/models/{name}/rollback", admin=True).json()  # type: ignore[no-any-return]

    def unload(self, name: str, version: str | int | None = None) -> dict[str, Any]:
        path = f"/admin/models/{name}" + (f"/versions/{version}" if version is not None else "")
        return self._request("DELETE", path, admin=True).json()  # type: ignore[no-any-return]


class NotFoundServeError(ServeError, NotFoundError):
    """The server answered 404 (unknown model, version or route)."""


def _nan_as_null(value: Any) -> Any:
    """``value`` with every float NaN replaced by ``None`` (JSON ``null``: a missing value)."""
    if isinstance(value, float):
        return None if value != value else value
    if isinstance(value, list):
        return [_nan_as_null(v) for v in value]
    if isinstance(value, dict):
        return {k: _nan_as_null(v) for k, v in value.items()}
    return value
