"""Deployment: the handle of one endpoint of the workspace's inference server."""

from __future__ import annotations

import contextlib
import html
import time
from collections.abc import Mapping
from typing import Any

from aimass_lab.errors import NotFoundError
from aimass_lab.serve.deploy._records import (
    DeployError,
    WorkspaceLike,
    admin_entry,
    parse_split,
    read_record,
    record,
    settings_changes,
    sync_from_server,
    unknown_deployment,
)
from aimass_lab.serve.deploy._server_job import (
    READY_TIMEOUT,
    client_for,
    server_job,
    start_server,
    stop_if_idle,
    stop_server,
)
from aimass_lab.workspace import Job, resolve_workspace, utcnow

__all__ = ["Deployment"]


class Deployment:
    """A deployment: an endpoint of the workspace's inference server and its versions.

    Get one from :func:`aimass_lab.deploy`, :func:`aimass_lab.serve.get_deployment` or
    :func:`aimass_lab.serve.deployments`. The handle reads the store (and the server) when
    asked, so it sees changes made from the CLI or JupyterLab; :meth:`refresh` re-reads.

    Parameters
    ----------
    name
        The endpoint name.
    workspace
        The workspace (default: the current one).

    Examples
    --------
    >>> dep = aimass_lab.deploy("digits-mlp:3")  # doctest: +SKIP
    >>> dep.predict(X[:2])  # doctest: +SKIP
    {'model': 'digits-mlp', 'version': '3', 'predictions': [0, 1], ...}
    >>> dep.split({"3": 90, "4": 10}); dep.rollback(); dep.stop()  # doctest: +SKIP
    """

    def __init__(self, name: str, workspace: WorkspaceLike = None) -> None:
        self.workspace = resolve_workspace(workspace)
        self.name = name
        self._record: dict[str, Any] = {}
        self._last_scrape: tuple[float, dict[str, float]] | None = None
        self.refresh(sync=False)

    # -- state --------------------------------------------------------------------------------
    def refresh(self, sync: bool = True) -> Deployment:
        """Re-read the record; with ``sync``, first take the split the server reports."""
        if sync and self._record.get("state") == "running" and self._server_job() is not None:
            try:
                entry = admin_entry(self.client, self.name)
            except Exception:
                entry = None
            if entry is not None:
                sync_from_server(self.workspace, self.name, entry)
        found = read_record(self.workspace, self.name)
        if found is None:
            raise unknown_deployment(self.workspace, self.name)
        self._record = found
        return self

    def _server_job(self) -> Job | None:
        job = server_job(self.workspace)
        if job is None or job.id != self._record.get("job_id"):
            return None
        return job

    def _live_job(self) -> Job:
        """The server job of a running deployment, or an error that says what to do."""
        state = self._record.get("state")
        again = (
            f"deploy it again with aimass_lab.deploy({self.model!r}, name={self.name!r}), "
            f"or start it as recorded with .start() (aimass deployments start {self.name})"
        )
        if state != "running":
            raise DeployError(f"deployment {self.name!r} is {state}; {again}")
        job = self._server_job()
        if job is None:
            raise DeployError(
                f"the inference server of deployment {self.name!r} (job "
                f"{self._record.get('job_id')}) is not running; {again}"
            )
        return job

    @property
    def state(self) -> str:
        """``running``, ``stopped``, ``failed``, or ``down`` (recorded running, server gone)."""
        state = str(self._record.get("state"))
        if state == "running" and self._server_job() is None:
            return "down"
        return state

    @property
    def url(self) -> str | None:
        """The server's base URL."""
        return self._record.get("url")

    @property
    def endpoint(self) -> str | None:
        """The JSON predict URL of this endpoint."""
        return f"{self.url}/v1/models/{self.name}/predict" if self.url else None

    @property
    def infer_url(self) -> str | None:
        """The Open Inference Protocol v2 infer URL of this endpoint."""
        return f"{self.url}/v2/models/{self.name}/infer" if self.url else None

    @property
    def model(self) -> str:
        """The ref of the last deployed version (``name:version``)."""
        return str(self._record.get("spec", {}).get("model", self.name))

    @property
    def versions(self) -> list[str]:
        """The loaded version labels (registry version numbers as strings)."""
        labels = [str(v["version"]) for v in self._record.get("versions", [])]
        return sorted(labels, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))

    @property
    def refs(self) -> dict[str, str]:
        """``{version label: registry ref}`` of the loaded versions."""
        return {str(v["version"]): str(v.get("ref")) for v in self._record.get("versions", [])}

    @property
    def split_weights(self) -> dict[str, int]:
        """The traffic split, ``{"3": 90, "4": 10}``."""
        return dict(self._record.get("split") or {})

    @property
    def shadow(self) -> str | None:
        """The version that gets a copy of every request (None: no shadow)."""
        for v in self._record.get("versions", []):
            if v.get("shadow"):
                return str(v["version"])
        return None

    @property
    def previous_split(self) -> dict[str, int] | None:
        """The split :meth:`rollback` returns to (None: nothing to roll back to)."""
        previous = self._record.get("previous_split")
        return dict(previous) if previous else None

    @property
    def history(self) -> list[dict[str, Any]]:
        """Deploys, splits, rollbacks and stops, oldest first."""
        return list(self._record.get("history", []))

    @property
    def client(self) -> Any:
        """A :class:`~aimass_lab.serve.Client` of the server, with its keys."""
        return client_for(self._live_job())

    # -- inference ----------------------------------------------------------------------------
    def predict(
        self,
        X: Any = None,
        version: str | int | None = None,
        *,
        records: list[dict[str, Any]] | None = None,
        preprocessed: bool = False,
    ) -> dict[str, Any]:
        """Predictions through the JSON route.

        Parameters
        ----------
        X
            Rows of raw feature values in column order, as the training data had them (a
            2-D array or nested lists); the server applies the model's own preprocessing.
        version
            A version (or registry alias) to ask for; default: the traffic split decides.
        records
            Raw records (``[{column: value}]``) instead of ``X``.
        preprocessed
            ``X`` is already model-ready (e.g. ``dataset.X_test``) and is used as it is.

        Returns
        -------
        dict
            ``model``, ``version`` (the one that answered), ``predictions`` and, for
            classifiers, ``probabilities`` and ``confidence``.
        """
        answer = self.client.predict(
            self.name,
            X,
            None if version is None else str(version),
            records=records,
            preprocessed=preprocessed,
        )
        return dict(answer)

    def infer(self, X: Any, version: str | int | None = None, *, full: bool = False) -> Any:
        """Open Inference Protocol v2 ``infer`` of the FP32 batch ``X`` (model-ready rows).

        Returns
        -------
        numpy.ndarray or dict
            The model's output tensor; ``full=True``: the whole OIP answer (with
            ``model_version``).
        """
        version_label = None if version is None else str(version)
        return self.client.infer(self.name, X, version=version_label, full=full)

    # -- traffic ------------------------------------------------------------------------------
    def split(self, weights: Mapping[Any, Any], shadow: str | int | None = None) -> Deployment:
        """Route traffic between loaded versions, e.g. ``{"3": 90, "4": 10}`` (a canary).

        Applied live, with no failed request; the split it replaces is kept for
        :meth:`rollback`. ``shadow`` also sends a copy of every request to that version
        (its answers are measured, never returned).

        Raises
        ------
        DeployError
            When a weight is not an integer from 0 to 100, the weights do not sum to 100,
            or a version is not loaded (the message lists the loaded ones).
        """
        parsed = parse_split(weights)
        job = self._live_job()
        self.refresh()
        loaded = self.versions
        missing = [v for v in parsed if v not in loaded]
        if shadow is not None and str(shadow) not in loaded:
            missing.append(str(shadow))
        if missing:
            raise DeployError(
                f"version {missing[0]} is not loaded in deployment {self.name!r}; loaded: "
                f"{', '.join(loaded) or '(none)'}; load it first with "
                f"aimass_lab.deploy('{self.model.partition(':')[0]}:{missing[0]}', "
                f"name={self.name!r}), then split"
            )
        client = client_for(job)
        client.split(self.name, parsed, shadow=None if shadow is None else str(shadow))
        entry = admin_entry(client, self.name)
        if entry is not None:
            event = {"action": "split", "split": parsed, "shadow": shadow}
            sync_from_server(self.workspace, self.name, entry, event)
        return self.refresh(sync=False)

    def rollback(self) -> Deployment:
        """Return to the split before the last deploy or split (applied live)."""
        job = self._live_job()
        self.refresh()
        if not self.previous_split:
            raise DeployError(
                f"deployment {self.name!r} has no previous split to roll back to (its split "
                f"is {self.split_weights}); a rollback follows a new version or a split"
            )
        client = client_for(job)
        client.rollback(self.name)
        entry = admin_entry(client, self.name)
        if entry is not None:
            event = {"action": "rollback", "split": entry.get("split")}
            sync_from_server(self.workspace, self.name, entry, event)
        return self.refresh(sync=False)

    def stop(self, timeout: float = 30.0) -> Deployment:
        """Unload every version of this endpoint; the server stops when nothing is left."""
        if self._record.get("state") != "running":
            raise DeployError(f"deployment {self.name!r} is already {self._record.get('state')}")
        job = self._server_job()
        if job is not None:
            client = client_for(job)
            try:
                client.unload(self.name)
            except NotFoundError:
                pass  # already unloaded (by hand, or the server restarted)
            left = client.admin_models()
            if not left:
                stop_server(self.workspace, job, timeout=timeout)
        record(
            self.workspace,
            self.name,
            {"action": "stop"},
            state="stopped",
            stopped_at=utcnow(),
        )
        return self.refresh(sync=False)

    def start(self, timeout: float = READY_TIMEOUT) -> Deployment:
        """Bring a down, stopped or failed deployment back as it was recorded.

        Starts the workspace's inference server when none runs (on the recorded port, with
        the API keys of the server it had), loads every recorded version with its recorded
        replicas, batching and engine, then restores the recorded split (the split before
        it too, for :meth:`rollback`) and shadow. A running deployment is returned as it is.

        Raises
        ------
        DeployError
            When nothing is recorded to start, or the server or a version fails; the
            deployment is then recorded ``failed`` with the error in its history,
            whatever this call loaded is unloaded again and a server it started is
            stopped (unless another deployment uses it by then).
        """
        self.refresh(sync=False)
        if self.state == "running":
            return self.refresh()
        ws = self.workspace
        rec = self._record
        versions = [v for v in rec.get("versions", []) if v.get("ref")]
        if not versions:
            raise DeployError(
                f"deployment {self.name!r} has no recorded versions to start; deploy one "
                f"with aimass_lab.deploy({self.model!r}, name={self.name!r})"
            )
        spec = dict(rec.get("spec") or {})
        labels = [str(v["version"]) for v in versions]
        split = {k: w for k, w in self.split_weights.items() if k in labels and w}
        if not split:  # nothing recorded takes traffic: the last deployed version takes it all
            model = spec.get("model", "")
            last = model.rpartition(":")[2] if model.rpartition(":")[2] in labels else labels[-1]
            split = {last: 100}
        shadow = self.shadow if self.shadow in labels else None
        previous = self.previous_split
        api_key_env = None
        if rec.get("job_id"):
            with contextlib.suppress(NotFoundError):
                api_key_env = ws.jobs.get(str(rec["job_id"])).spec.get("api_key_env")
        client: Any = None
        before: dict[str, Any] | None = None
        job: Job | None = None
        started = False
        try:
            port = None if server_job(ws) is not None else spec.get("port")
            job, started = start_server(
                ws,
                port=port,
                api_key_env=api_key_env,
                timeout=timeout,
                idle_timeout_s=spec.get("idle_timeout_s"),
                stop_with_kernel=spec.get("stop_with_kernel"),
            )
            client = client_for(job, timeout=timeout)
            before = admin_entry(client, self.name)
            _load_recorded(client, self.name, versions, spec, before)
            if previous and set(previous) <= set(labels) and previous != split:
                client.split(self.name, previous)  # so that rollback() returns to it
            client.split(self.name, split, shadow=shadow)
            entry = admin_entry(client, self.name)
        except Exception as exc:
            if client is not None and before is None:  # unload what this call loaded
                with contextlib.suppress(Exception):
                    client.unload(self.name)
            if started and job is not None:  # and stop the server it started
                with contextlib.suppress(Exception):
                    stop_if_idle(ws, job)
            record(ws, self.name, {"action": "start", "error": str(exc)}, state="failed")
            self.refresh(sync=False)
            if isinstance(exc, DeployError):
                raise
            raise DeployError(f"deployment {self.name!r} could not be started: {exc}") from None
        record(
            ws,
            self.name,
            state="running",
            job_id=job.id,
            url=str(job.result["url"]).rstrip("/"),
            stopped_at=None,
        )
        if entry is not None:
            event = {"action": "start", "versions": labels, "split": split, "shadow": shadow}
            sync_from_server(ws, self.name, entry, event)
        return self.refresh(sync=False)

    # -- metrics ------------------------------------------------------------------------------
    def metrics(self) -> dict[str, dict[str, Any]]:
        """Per version: ``requests``, ``errors``, ``p50_ms``, ``p99_ms`` and ``rps``.

        ``rps`` is the request rate since the previous ``metrics()`` call of this handle
        (on the first call: since the version was deployed).
        """
        from aimass_lab.serve.server import summarize

        job = self._live_job()
        scraped = client_for(job).metrics()
        now = time.monotonic()
        out = {str(v): dict(m) for v, m in summarize(scraped).get(self.name, {}).items()}
        counts = {v: float(m.get("requests") or 0) for v, m in out.items()}
        deployed = {v["version"]: v.get("deployed_at") for v in self._record.get("versions", [])}
        for version, m in out.items():
            if self._last_scrape is not None:
                then, before = self._last_scrape
                elapsed = max(now - then, 1e-9)
                m["rps"] = max(0.0, counts[version] - before.get(version, 0.0)) / elapsed
            else:
                since = deployed.get(version)
                age = _age_s(since) if since else None
                m["rps"] = counts[version] / age if age else None
        self._last_scrape = (now, counts)
        return out

    # -- display ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the record plus ``state``, ``endpoint`` and ``infer_url``."""
        return {
            **self._record,
            "state": self.state,
            "endpoint": self.endpoint,
            "infer_url": self.infer_url,
        }

    def __repr__(self) -> str:
        return (
            f"Deployment(name={self.name!r}, state={self.state!r}, "
            f"split={self.split_weights!r}, url={self.url!r})"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """In a notebook: the live panel (:mod:`aimass_lab.widgets`), this HTML as fallback."""
        from aimass_lab._display import mimebundle

        return mimebundle(self, include, exclude)

    def _repr_html_(self) -> str:
        esc = html.escape
        refs = self.refs
        rows = "".join(
            f"<tr><td>{esc(v)}</td><td>{esc(refs.get(v, ''))}</td>"
            f"<td style='text-align:right'>{w}%</td></tr>"
            for v, w in sorted(self.split_weights.items(), key=lambda kv: int(kv[0]))
        )
        idle = [v for v in self.versions if v not in self.split_weights]
        rows += "".join(
            f"<tr><td>{esc(v)}</td><td>{esc(refs.get(v, ''))}</td>"
            "<td style='text-align:right'>0%</td></tr>"
            for v in idle
        )
        link = f"<br><code>POST {esc(self.endpoint)}</code>" if self.endpoint else ""
        return (
            f"<div><b>Deployment {esc(self.name)}</b> — {esc(self.state)}{link}"
            "<table><tr><th>version</th><th>model</th><th>traffic</th></tr>"
            f"{rows}</table></div>"
        )


def _load_recorded(
    client: Any,
    name: str,
    versions: list[dict[str, Any]],
    spec: Mapping[str, Any],
    before: dict[str, Any] | None,
) -> None:
    """Load the recorded versions (each with its recorded settings) the server lacks; reload
    those it serves with other settings."""
    loaded = {
        str(v.get("version")): v
        for v in (before or {}).get("versions", [])
        if v.get("state") != "failed"
    }
    for v in versions:
        replicas = int(v.get("replicas") or spec.get("replicas") or 1)
        batching = dict(v.get("batching") or spec.get("batching") or {})
        engine = str(v.get("engine") or spec.get("engine") or "auto")
        settings: dict[str, Any] = {"replicas": replicas, "engine": engine}
        if batching:  # else the server's default
            settings["batching"] = batching
        have = loaded.get(str(v["version"]))
        if have is None:
            client.load(name, str(v["ref"]), **settings)
        elif settings_changes(have, replicas, batching, engine):
            client.load(name, str(v["ref"]), replace=True, **settings)


def _age_s(iso: str) -> float | None:
    import datetime as dt

    try:
        then = dt.datetime.fromisoformat(iso.rstrip("Z"))
    except ValueError:
        return None
    return max((utcnow() - then).total_seconds(), 1e-3)
