"""Deploy: registered model versions served by the workspace's inference server.

The workspace has one inference server on this machine: a detached ``serve`` job (see
``python -m aimass_lab.serve``) started with its admin API on. :func:`deploy` starts it (or
reuses it), loads the model version through the admin API, routes all traffic to it (the
split it replaces is kept for :meth:`Deployment.rollback`) and records the deployment in the
workspace's store, where every front door (notebook, CLI, JupyterLab) finds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from aimass_lab.errors import AimassError, JobError, NotFoundError, accepted
from aimass_lab.specs import BatchingSpec, DeploySpec
from aimass_lab.workspace import Job, Workspace, resolve_workspace
from aimass_lab.workspace._store import DeploymentRow, utcnow

if TYPE_CHECKING:
    from aimass_lab.registry import ModelVersion
    from aimass_lab.serve._deployment import Deployment

__all__ = [
    "DEFAULT_PORT",
    "DeployError",
    "SERVE_KIND",
    "deploy",
    "deployments",
    "get_deployment",
    "parse_split",
    "server_url",
    "settings_changes",
]

#: The job kind of the workspace's inference server.
SERVE_KIND = "serve"
#: The port a new workspace server listens on when it is free (else any free port).
DEFAULT_PORT = 8500
#: Seconds :func:`deploy` waits for the server to listen and the version to load.
READY_TIMEOUT = float(os.environ.get("AIMASS_DEPLOY_TIMEOUT", "180"))

WorkspaceLike = Workspace | str | os.PathLike[str] | None


class DeployError(AimassError, ValueError):
    """A deployment could not be made or changed (the message says why and what to do)."""


# ------------------------------------------------------------------------------------ helpers
def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def parse_split(weights: Mapping[Any, Any] | list[str] | tuple[str, ...]) -> dict[str, int]:
    """Validate a traffic split: ``{"3": 90, "4": 10}`` or ``["3=90", "4=10"]``.

    Returns
    -------
    dict
        ``{version label: integer weight}``; the weights sum to 100.

    Raises
    ------
    DeployError
        Naming the pair that is malformed, or the sum when it is not 100.
    """
    rule = "accepted: VERSION=WEIGHT pairs, integer weights 0..100 summing to 100, e.g. 3=90 4=10"
    pairs: list[tuple[Any, Any]] = []
    if isinstance(weights, Mapping):
        pairs = list(weights.items())
    elif isinstance(weights, list | tuple):
        for item in weights:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise DeployError(f"bad split entry {item!r}: expected VERSION=WEIGHT; {rule}")
            pairs.append((key.strip(), value.strip()))
    else:
        raise DeployError(f"bad split {weights!r}: expected a mapping; {rule}")
    if not pairs:
        raise DeployError(f"empty split; {rule}")
    out: dict[str, int] = {}
    for key, value in pairs:
        label = str(key).strip()
        if not label.isdigit():
            raise DeployError(
                f"bad split entry {key!r}={value!r}: {key!r} is not a version number; {rule}"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not (0 <= number <= 100) or number != int(number) or isinstance(value, bool):
            raise DeployError(
                f"bad split entry {key}={value!r}: the weight must be an integer from 0 to 100; "
                f"{rule}"
            )
        label = str(int(label))
        if label in out:
            raise DeployError(f"bad split: version {label} appears twice; {rule}")
        out[label] = int(number)
    total = sum(out.values())
    if total != 100:
        shown = " ".join(f"{k}={v}" for k, v in out.items())
        raise DeployError(f"bad split {shown}: the weights sum to {total}, not 100; {rule}")
    return out


# -------------------------------------------------------------------------------- the server
def _hostname() -> str:
    return socket.gethostname()


def server_job(workspace: WorkspaceLike = None) -> Job | None:
    """The workspace's running inference server job on this machine, if any."""
    ws = resolve_workspace(workspace)
    for job in ws.jobs.list(kind=SERVE_KIND, state="running"):
        if job.host == _hostname() and job.result.get("url"):
            return job
    return None


def server_url(workspace: WorkspaceLike = None) -> str | None:
    """The base URL of the workspace's inference server on this machine (None: not running).

    Examples
    --------
    >>> aimass_lab.serve.server_url()  # doctest: +SKIP
    'http://127.0.0.1:8500'
    """
    job = server_job(workspace)
    return str(job.result["url"]).rstrip("/") if job is not None else None


def admin_key(job: Job) -> str | None:
    """The admin key of a server job (read from its 0600 file)."""
    path = job.result.get("admin_key_file")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def api_key(job: Job | None) -> str | None:
    """The first inference API key of a server job (from the env var it was started with)."""
    if job is None:
        return None
    var = job.spec.get("api_key_env")
    if not var:
        return None
    keys = [k.strip() for k in os.environ.get(str(var), "").split(",") if k.strip()]
    return keys[0] if keys else None


def client_for(job: Job, timeout: float = 30.0) -> Any:
    """A :class:`~aimass_lab.serve.Client` of a server job, with its API and admin keys."""
    from aimass_lab.serve._client import Client

    return Client(
        str(job.result["url"]).rstrip("/"),
        api_key=api_key(job),
        admin_key=admin_key(job),
        timeout=timeout,
    )


@contextlib.contextmanager
def _server_lock(ws: Workspace) -> Iterator[None]:
    """One process at a time starts the workspace's server (an flock beside the runs)."""
    path = ws.path / "runs" / ".serve.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log_tail(ws: Workspace, job_id: str, lines: int = 15) -> str:
    text = ws.jobs.logs(job_id, tail=lines).strip()
    return ("\n" + text) if text else ""


def _wait_listening(ws: Workspace, job_id: str, timeout: float) -> Job:
    """Wait until a server job has recorded its URL and answers ``/v2/health/live``."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        job = ws.jobs.get(job_id)
        if not job.active:
            raise JobError(
                f"the inference server (job {job.id}) {job.state} before it was ready"
                + (f": {job.exit_reason}" if job.exit_reason else "")
                + f"; its log ({ws.jobs.log_path(job.id)}) ends with:"
                + _log_tail(ws, job.id)
            )
        url = job.result.get("url")
        if url:
            try:
                if httpx.get(f"{str(url).rstrip('/')}/v2/health/live", timeout=2.0).is_success:
                    return job
            except httpx.HTTPError:
                pass
        if time.monotonic() >= deadline:
            raise JobError(
                f"the inference server (job {job.id}) was not listening after {timeout:.0f} s; "
                f"its log ({ws.jobs.log_path(job.id)}) ends with:" + _log_tail(ws, job.id)
            )
        time.sleep(0.1)


def ensure_server(
    workspace: WorkspaceLike = None,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    api_key_env: str | None = None,
    timeout: float = READY_TIMEOUT,
) -> Job:
    """Start the workspace's inference server job, or reuse the one running on this machine.

    Parameters
    ----------
    port
        The port of a new server (``None``: 8500 when free, else any free port). With a server
        already running, a different port is an error.
    api_key_env
        Require the API keys in this environment variable on the inference routes (a new
        server only).

    Returns
    -------
    Job
        The running ``serve`` job; its ``result`` holds ``url``, ``port`` and
        ``admin_key_file``.
    """
    ws = resolve_workspace(workspace)
    with _server_lock(ws):
        running = [j for j in ws.jobs.list(kind=SERVE_KIND) if j.active and j.host == _hostname()]
        if running:
            job = _wait_listening(ws, running[0].id, timeout)
            actual = job.result.get("port")
            if port not in (None, 0) and actual is not None and int(actual) != port:
                raise DeployError(
                    f"the workspace's inference server already runs on port {actual} "
                    f"({job.result.get('url')}, job {job.id}); deploy to it without a port, or "
                    "stop its deployments first (aimass deployments stop NAME)"
                )
            return job
        auto = port is None
        if port is None:
            port = DEFAULT_PORT if _port_free(DEFAULT_PORT, host) else 0
        spec: dict[str, Any] = {"host": host, "port": port, "admin": True}
        if api_key_env:
            spec["api_key_env"] = api_key_env
        job = ws.jobs.submit(SERVE_KIND, spec, name="aimass serve")
        try:
            return _wait_listening(ws, job.id, timeout)
        except JobError as exc:
            # Another process took the default port between the check and the bind: when no
            # port was asked for, any free port will do.
            if not (auto and port and "Address already in use" in str(exc)):
                raise
        job = ws.jobs.submit(SERVE_KIND, {**spec, "port": 0}, name="aimass serve")
        return _wait_listening(ws, job.id, timeout)


def stop_server(ws: Workspace, job: Job, timeout: float = 30.0) -> Job:
    """Stop a server job (SIGTERM: it drains) and wait for it to end."""
    with contextlib.suppress(JobError):
        ws.jobs.cancel(job.id)
    return ws.jobs.wait(job.id, timeout=timeout, poll=0.1)


# ------------------------------------------------------------------------------ the records
def record(ws: Workspace, name: str, event: dict[str, Any] | None = None, **values: Any) -> None:
    """Create or update the store's record of deployment ``name`` (and log an event)."""
    now = utcnow()
    with ws.store.session() as s:
        row = s.get(DeploymentRow, name)
        if row is None:
            row = DeploymentRow(
                name=name,
                state=values.get("state", "running"),
                spec=values.get("spec", {}),
                versions=[],
                split={},
                history=[],
                created_at=now,
            )
            s.add(row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        if event is not None:
            row.history = [*(row.history or []), {"at": _iso(now), **event}][-200:]


def read_record(ws: Workspace, name: str) -> dict[str, Any] | None:
    """The store's record of deployment ``name`` as a dict (None when there is none)."""
    with ws.store.session() as s:
        row = s.get(DeploymentRow, name)
        return _row_dict(row) if row is not None else None


def _row_dict(row: DeploymentRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "state": row.state,
        "spec": dict(row.spec or {}),
        "job_id": row.job_id,
        "url": row.url,
        "versions": [dict(v) for v in row.versions or []],
        "split": {str(k): v for k, v in (row.split or {}).items()},
        "previous_split": dict(row.previous_split) if row.previous_split else None,
        "history": [dict(e) for e in row.history or []],
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "stopped_at": _iso(row.stopped_at),
    }


def _record_names(ws: Workspace) -> list[str]:
    with ws.store.session() as s:
        return list(s.scalars(select(DeploymentRow.name).order_by(DeploymentRow.name)))


def admin_entry(client: Any, name: str) -> dict[str, Any] | None:
    """The server's admin view of endpoint ``name`` (None when it is not loaded)."""
    for entry in client.admin_models():
        if entry.get("name") == name:
            return dict(entry)
    return None


def sync_from_server(
    ws: Workspace, name: str, entry: dict[str, Any], event: dict[str, Any] | None = None
) -> None:
    """Record the split and versions the server reports for endpoint ``name``."""
    current = read_record(ws, name) or {}
    known = {v["version"]: v for v in current.get("versions", [])}
    versions = []
    for v in entry.get("versions", []):
        label = str(v.get("version"))
        versions.append(
            {
                **known.get(label, {}),
                "version": label,
                "ref": v.get("ref") or known.get(label, {}).get("ref"),
                "engine": v.get("engine"),
                "replicas": v.get("replicas"),
                "batching": v.get("batching") or known.get(label, {}).get("batching"),
                "ready": v.get("ready"),
                "shadow": entry.get("shadow") == label,
            }
        )
    previous = entry.get("previous_split")
    record(
        ws,
        name,
        event,
        versions=versions,
        split=_weights(entry.get("split")),
        previous_split=_weights(previous) if previous else None,
    )


def _weights(split: Mapping[Any, Any] | None) -> dict[str, Any]:
    """``{"3": 90.0}`` -> ``{"3": 90}`` (whole weights as integers)."""
    out: dict[str, Any] = {}
    for key, value in (split or {}).items():
        number = float(value)
        out[str(key)] = int(number) if number.is_integer() else number
    return out


# ----------------------------------------------------------------------------------- deploy
def _resolve_version(ws: Workspace, model: Any) -> ModelVersion:
    from aimass_lab import registry

    return registry.get(model, workspace=ws)


def _engine_of(engine: str, mv: ModelVersion) -> str:
    """The engine ``engine`` resolves to for ``mv`` (as the server resolves ``"auto"``)."""
    if engine != "auto":
        return engine
    return "onnxruntime" if "model.onnx" in mv.manifest else "torch"


def settings_changes(
    loaded: Mapping[str, Any], replicas: int, batching: Mapping[str, Any], engine: str
) -> dict[str, list[Any]]:
    """The settings of a loaded version (its admin entry) that differ from the wanted ones.

    Parameters
    ----------
    loaded
        The version's entry in the server's admin view (``replicas``, ``batching``,
        ``engine``).
    engine
        The wanted engine, resolved (``"onnxruntime"`` or ``"torch"``, not ``"auto"``).

    Returns
    -------
    dict
        ``{setting: [loaded value, wanted value]}``; empty when nothing differs.
    """
    out: dict[str, list[Any]] = {}
    if loaded.get("replicas") is not None and int(loaded["replicas"]) != int(replicas):
        out["replicas"] = [loaded["replicas"], replicas]
    have = dict(loaded.get("batching") or {})
    if have and any(float(have.get(k, -1)) != float(v) for k, v in batching.items()):
        out["batching"] = [have, dict(batching)]
    if engine != "auto" and loaded.get("engine") not in (None, "auto", engine):
        out["engine"] = [loaded["engine"], engine]
    return out


def _changes_text(changes: Mapping[str, list[Any]]) -> str:
    return ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changes.items())


def deploy(
    model_version_or_ref: Any,
    name: str | None = None,
    replicas: int = 1,
    batching: BatchingSpec | Mapping[str, Any] | bool | None = None,
    engine: str = "auto",
    *,
    port: int | None = None,
    api_key_env: str | None = None,
    workspace: WorkspaceLike = None,
    timeout: float = READY_TIMEOUT,
) -> Deployment:
    """Serve a registered model version from the workspace's inference server.

    Starts the server (a detached ``serve`` job, which outlives this kernel) or reuses it,
    loads the version (its files verified by sha256 first), routes 100% of the endpoint's
    traffic to it and records the deployment in the store. Deploying a new version to an
    existing endpoint is a hot swap: the new version is loaded while the old one serves,
    then traffic moves at once, with no failed request; the old split is kept, so
    :meth:`Deployment.rollback` moves it back. Deploying the version already loaded with
    other ``replicas``, ``batching`` or ``engine`` reloads it the same way (the new one
    loads beside the one serving, then takes its traffic; no failed request); with the same
    settings nothing is reloaded.

    Parameters
    ----------
    model_version_or_ref
        A :class:`~aimass_lab.registry.ModelVersion` or a ref: ``"digits-mlp:3"``,
        ``"digits-mlp:prod"``, ``"digits-mlp"`` (newest); or a whole
        :class:`~aimass_lab.specs.DeploySpec` (or its dict), the other arguments then unused.
    name
        The endpoint name (default: the registry name).
    replicas
        Engine worker processes of this version.
    batching
        A :class:`~aimass_lab.specs.BatchingSpec` or dict (``max_batch_size``,
        ``max_delay_ms``, ``queue_size``); ``False`` turns dynamic batching off.
    engine
        ``"auto"`` (ONNX Runtime when the version has ``model.onnx``, else torch),
        ``"onnxruntime"`` or ``"torch"``.
    port
        Port of a new server (default 8500 when free, else any free port).
    api_key_env
        A new server requires the API keys in this environment variable (comma-separated)
        on its inference routes.
    workspace
        The workspace (default: the current one).
    timeout
        Seconds to wait for the server and the version to be ready.

    Returns
    -------
    Deployment
        The handle: ``predict``, ``infer``, ``split``, ``rollback``, ``metrics``, ``stop``.

    Raises
    ------
    SpecError
        For a bad argument, naming the field.
    NotFoundError
        When the model version does not exist.
    DeployError
        When the endpoint serves another model, or the server cannot take the version.

    Examples
    --------
    >>> dep = aimass_lab.deploy("digits-mlp:3")  # doctest: +SKIP
    >>> dep.predict(X_test[:2])["predictions"]  # doctest: +SKIP
    [3, 7]
    """
    from aimass_lab.serve._deployment import Deployment

    if isinstance(model_version_or_ref, DeploySpec | dict):
        spec = DeploySpec.from_dict(model_version_or_ref)
    else:
        ref = getattr(model_version_or_ref, "ref", model_version_or_ref)
        spec = DeploySpec(
            model=ref, name=name, replicas=replicas, batching=batching, engine=engine, port=port
        )
    ws = resolve_workspace(
        workspace if workspace is not None else getattr(model_version_or_ref, "workspace", None)
    )
    mv = _resolve_version(ws, spec.model)
    endpoint = spec.name or mv.name
    existing = read_record(ws, endpoint)
    if existing and existing["state"] == "running":
        other = {v.get("ref", "").partition(":")[0] for v in existing["versions"]} - {"", mv.name}
        if other:
            raise DeployError(
                f"endpoint {endpoint!r} serves model {sorted(other)[0]!r}, not {mv.name!r}; "
                f"stop it first (aimass deployments stop {endpoint}) or choose another name"
            )
    job = ensure_server(ws, port=spec.port, api_key_env=api_key_env, timeout=timeout)
    client = client_for(job, timeout=timeout)
    label = str(mv.version)
    entry = admin_entry(client, endpoint)
    current = next(
        (
            v
            for v in (entry or {}).get("versions", [])
            if str(v.get("version")) == label and v.get("state") != "failed"
        ),
        None,
    )
    # the version is loaded already: reload it (live) when its settings are not the asked ones
    changes = (
        settings_changes(
            current, spec.replicas, spec.batching.to_dict(), _engine_of(spec.engine, mv)
        )
        if current is not None
        else {}
    )
    fresh = existing is None or existing["state"] != "running" or entry is None
    running: dict[str, Any] = {
        "state": "running",
        "spec": {**spec.to_dict(), "name": endpoint, "model": mv.ref},
        "job_id": job.id,
        "url": str(job.result["url"]).rstrip("/"),
    }
    if fresh:
        # a new endpoint (or one whose server went away): forget the old record's versions
        record(ws, endpoint, **running, versions=[], split={}, previous_split=None)
    if current is None or changes:
        try:
            client.load(
                endpoint,
                mv.ref,
                replicas=spec.replicas,
                batching=spec.batching.to_dict(),
                engine=spec.engine,
                # a reload: the new one loads beside the one serving, then takes its traffic
                **({"replace": True} if changes else {}),
            )
        except Exception as exc:
            if not changes:
                with contextlib.suppress(Exception):  # a failed version stays listed: unload it
                    failed = admin_entry(client, endpoint)
                    if failed is not None and label in {
                        str(v.get("version")) for v in failed.get("versions", [])
                    }:
                        client.unload(endpoint, None if len(failed["versions"]) == 1 else label)
            event: dict[str, Any] = {"action": "deploy", "ref": mv.ref, "error": str(exc)}
            if changes:
                event["changes"] = changes
            if fresh:
                record(ws, endpoint, event, state="failed")
            else:
                record(ws, endpoint, event)
            what = (
                f"reload {mv.ref} of endpoint {endpoint!r} with {_changes_text(changes)} (it "
                "keeps serving with its old settings)"
                if changes
                else f"load {mv.ref} as endpoint {endpoint!r}"
            )
            if isinstance(exc, AimassError) and not changes:
                raise
            raise DeployError(
                f"the inference server ({job.result.get('url')}, job {job.id}) could not "
                f"{what}: {exc}"
            ) from None
        entry = admin_entry(client, endpoint)
    if entry is None:
        raise DeployError(f"the inference server does not list endpoint {endpoint!r} after load")
    split = {str(k): v for k, v in (entry.get("split") or {}).items()}
    if split != {label: 100}:
        client.split(endpoint, {label: 100})
        entry = admin_entry(client, endpoint) or entry
    now = _iso(utcnow())
    record(ws, endpoint, **running, stopped_at=None)
    # remember which registry version each label is, then take the server's view of the rest
    current = read_record(ws, endpoint) or {}
    versions = {v["version"]: v for v in current.get("versions", [])}
    versions[label] = {
        **versions.get(label, {}),
        "version": label,
        "ref": mv.ref,
        "model_version_id": mv.id,
        "deployed_at": now,
    }
    record(ws, endpoint, versions=list(versions.values()))
    done: dict[str, Any] = {"action": "deploy", "ref": mv.ref, "version": label}
    if changes:
        done["changes"] = changes
    sync_from_server(ws, endpoint, entry, {**done, "split": {label: 100}})
    return Deployment(endpoint, workspace=ws)


def deployments(workspace: WorkspaceLike = None, *, all: bool = True) -> list[Deployment]:
    """The workspace's deployments, by name (``all=False``: only those running)."""
    from aimass_lab.serve._deployment import Deployment

    ws = resolve_workspace(workspace)
    out = [Deployment(name, workspace=ws) for name in _record_names(ws)]
    return out if all else [d for d in out if d.state == "running"]


def get_deployment(name: str, workspace: WorkspaceLike = None) -> Deployment:
    """The deployment named ``name`` (its endpoint name).

    Raises
    ------
    NotFoundError
        Listing the deployments that exist.
    """
    from aimass_lab.serve._deployment import Deployment

    return Deployment(name, workspace=resolve_workspace(workspace))


def unknown_deployment(ws: Workspace, name: str) -> NotFoundError:
    """The error for a deployment name that is not recorded."""
    names = _record_names(ws)
    hint = (
        f"deployments: {accepted(names)}"
        if names
        else "there are none; deploy a model with aimass_lab.deploy('name:version') "
        "or: aimass deploy NAME:VERSION"
    )
    return NotFoundError(f"no deployment named {name!r} in workspace {ws.path}; {hint}")
