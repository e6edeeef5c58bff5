"""Deploy: registered model versions served by the workspace's inference server.

:func:`deploy` starts the workspace's server (or reuses it, see ``_server_job``), loads the
model version through the admin API, routes all traffic to it (the split it replaces is
kept for :meth:`Deployment.rollback`) and records the deployment in the workspace's store,
where every front door (notebook, CLI, JupyterLab) finds it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import AimassError
from aimass_lab.serve.deploy._records import (
    DeployError,
    WorkspaceLike,
    admin_entry,
    changes_text,
    forget_record,
    iso,
    read_record,
    record,
    record_names,
    settings_changes,
    sync_from_server,
)
from aimass_lab.serve.deploy._server_job import (
    READY_TIMEOUT,
    client_for,
    start_server,
    stop_if_idle,
)
from aimass_lab.serve.server import LoadRequest
from aimass_lab.specs import BatchingSpec, DeploySpec
from aimass_lab.workspace import Job, Workspace, resolve_workspace, utcnow

if TYPE_CHECKING:
    from aimass_lab.registry import ModelVersion
    from aimass_lab.serve.deploy._deployment import Deployment

__all__ = ["deploy", "deployments", "get_deployment"]


def _resolve_version(ws: Workspace, model: Any) -> ModelVersion:
    from aimass_lab import registry

    return registry.get(model, workspace=ws)


def _engine_of(engine: str, mv: ModelVersion) -> str:
    """The engine ``engine`` resolves to for ``mv`` (as the server resolves ``"auto"``)."""
    if engine != "auto":
        return engine
    return "onnxruntime" if "model.onnx" in mv.manifest else "torch"


#: Memory a replica needs per byte of its weight files: the weights once in the engine,
#: plus as much again while loading (safetensors are read into memory before the network
#: takes them; ONNX Runtime keeps the initializers beside its optimised graph) and for a
#: batch's activations. A preflight bound, not a measurement.
MEMORY_FACTOR = 2.0


def check_memory(mv: ModelVersion, replicas: int, engine: str) -> None:
    """Refuse a deployment whose replicas cannot fit in the available memory.

    The model's size is the sum of its weight files (``weights*.safetensors``, or
    ``model.onnx`` for ONNX Runtime) times :data:`MEMORY_FACTOR`, per replica; the available
    memory is psutil's, or ``AIMASS_DEPLOY_MEMORY_MB`` when set.

    Raises
    ------
    AimassError
        Naming the model's size, the replicas, the memory needed and the memory available.
    """
    from aimass_lab.settings import settings

    names = ["model.onnx"] if engine == "onnxruntime" else [
        n for n in mv.manifest if n.startswith("weights") and n.endswith(".safetensors")
    ]  # fmt: skip
    size = sum(int(mv.manifest[n].get("size", 0) or 0) for n in names if n in mv.manifest)
    need = size * MEMORY_FACTOR * max(1, replicas)
    override = settings().deploy_memory_mb
    if override > 0:
        available = override * 1e6
    else:
        import psutil

        available = float(psutil.virtual_memory().available)
    if need > available:
        mb = 1e6
        raise AimassError(
            f"{mv.ref} needs about {need / mb:,.0f} MB for {replicas} replica(s) "
            f"({size / mb:,.1f} MB of weights x {MEMORY_FACTOR:g} per replica) but "
            f"{available / mb:,.0f} MB of memory is available; deploy fewer replicas "
            "(replicas=...), a smaller or quantised model, or free memory"
        )


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
    idle_timeout_s: float | None = None,
    stop_with_kernel: bool | None = None,
) -> Deployment:
    # Long by its docstring (the API reference); the code is some 55 lines.
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
    idle_timeout_s
        A server this deploy starts stops after this many seconds without an inference
        request (``None``: ``AIMASS_IDLE_SHUTDOWN_S``, 0: never); its deployments are then
        recorded ``stopped`` (:meth:`Deployment.start` brings them back).
    stop_with_kernel
        A server this deploy starts from a notebook stops when that kernel ends (``None``:
        ``AIMASS_STOP_WITH_KERNEL``).

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
    IntegrityError
        When a file of the version is missing or was modified (its sha256 is not the
        manifest's); checked before any server is started.
    DeployError
        When the endpoint serves another model, or the server cannot take the version.
        A failed deploy undoes what it did: a server it started is stopped (unless
        another deploy uses it by then), what it loaded is unloaded, and a new endpoint
        leaves no record (an existing one records the failure in its history).

    Examples
    --------
    >>> dep = aimass_lab.deploy("digits-mlp:3")  # doctest: +SKIP
    >>> dep.predict(X_test[:2])["predictions"]  # doctest: +SKIP
    [3, 7]
    """
    from aimass_lab.serve.deploy._deployment import Deployment

    if isinstance(model_version_or_ref, DeploySpec | dict):
        spec = DeploySpec.from_dict(model_version_or_ref)
    else:
        ref = getattr(model_version_or_ref, "ref", model_version_or_ref)
        spec = DeploySpec(
            model=ref,
            name=name,
            replicas=replicas,
            batching=batching,
            engine=engine,
            port=port,
            idle_timeout_s=idle_timeout_s,
            stop_with_kernel=stop_with_kernel,
        )
    ws = resolve_workspace(
        workspace if workspace is not None else getattr(model_version_or_ref, "workspace", None)
    )
    mv = _resolve_version(ws, spec.model)
    endpoint = spec.name or mv.name
    existing = read_record(ws, endpoint)
    _check_same_model(existing, endpoint, mv)
    check_memory(mv, spec.replicas, _engine_of(spec.engine, mv))
    _verify(ws, mv)  # a tampered or missing file fails here, before anything starts
    job, started = start_server(
        ws,
        port=spec.port,
        api_key_env=api_key_env,
        timeout=timeout,
        idle_timeout_s=spec.idle_timeout_s,
        stop_with_kernel=spec.stop_with_kernel,
    )
    try:
        _deploy_on(ws, job, spec, mv, endpoint, existing, timeout)
    except BaseException:
        _undo(ws, job, started, endpoint, existing)
        raise
    return Deployment(endpoint, workspace=ws)


def _verify(ws: Workspace, mv: ModelVersion) -> None:
    """Check the sha256 of every file of ``mv`` (the server checks them again as it loads)."""
    from aimass_lab import registry

    registry.verify(mv, workspace=ws)


def _undo(
    ws: Workspace, job: Job, started: bool, endpoint: str, existing: dict[str, Any] | None
) -> None:
    """After a failed deploy: stop the server it started (unless another deploy uses it by
    now), and leave no record of a new endpoint (an existing one keeps its failure event,
    and points at its old server again when this one was stopped)."""
    stopped = False
    if started:
        with contextlib.suppress(Exception):
            stopped = stop_if_idle(ws, job)
    with contextlib.suppress(Exception):
        if existing is None:
            forget_record(ws, endpoint)
        elif stopped:
            record(ws, endpoint, job_id=existing["job_id"], url=existing["url"])


def _deploy_on(
    ws: Workspace,
    job: Job,
    spec: DeploySpec,
    mv: ModelVersion,
    endpoint: str,
    existing: dict[str, Any] | None,
    timeout: float,
) -> None:
    """Load ``mv`` on the server of ``job``, route all traffic to it and record it."""
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
    new_on_server = entry is None
    if current is None or changes:
        _load(ws, job, client, endpoint, mv, spec, changes, fresh)
        entry = admin_entry(client, endpoint)
    try:
        if entry is None:
            raise DeployError(
                f"the inference server does not list endpoint {endpoint!r} after load"
            )
        split = {str(k): v for k, v in (entry.get("split") or {}).items()}
        if split != {label: 100}:
            client.split(endpoint, {label: 100})
            entry = admin_entry(client, endpoint) or entry
        _record_deployed(ws, endpoint, running, mv, entry, changes)
    except BaseException:
        if new_on_server:  # this call loaded the endpoint: unload it again
            with contextlib.suppress(Exception):
                client.unload(endpoint)
        raise


def _check_same_model(existing: dict[str, Any] | None, endpoint: str, mv: ModelVersion) -> None:
    """A running endpoint takes only versions of the model it serves."""
    if existing and existing["state"] == "running":
        other = {v.get("ref", "").partition(":")[0] for v in existing["versions"]} - {"", mv.name}
        if other:
            raise DeployError(
                f"endpoint {endpoint!r} serves model {sorted(other)[0]!r}, not {mv.name!r}; "
                f"stop it first (aimass deployments stop {endpoint}) or choose another name"
            )


def _load(
    ws: Workspace,
    job: Job,
    client: Any,
    endpoint: str,
    mv: ModelVersion,
    spec: DeploySpec,
    changes: dict[str, list[Any]],
    fresh: bool,
) -> None:
    """Load (or, with ``changes``, reload live) the version; a failure is recorded, then raised."""
    request = LoadRequest(
        ref=mv.ref,
        replicas=spec.replicas,
        batching=spec.batching,
        engine=spec.engine,
        # a reload: the new one loads beside the one serving, then takes its traffic
        replace=bool(changes),
    )
    try:
        client.load(endpoint, request)
    except Exception as exc:
        label = str(mv.version)
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
            f"reload {mv.ref} of endpoint {endpoint!r} with {changes_text(changes)} (it "
            "keeps serving with its old settings)"
            if changes
            else f"load {mv.ref} as endpoint {endpoint!r}"
        )
        if isinstance(exc, AimassError) and not changes:
            raise
        raise DeployError(
            f"the inference server ({job.result.get('url')}, job {job.id}) could not {what}: {exc}"
        ) from None


def _record_deployed(
    ws: Workspace,
    endpoint: str,
    running: dict[str, Any],
    mv: ModelVersion,
    entry: dict[str, Any],
    changes: dict[str, list[Any]],
) -> None:
    """Record the deployed version, then take the server's view of the rest."""
    label = str(mv.version)
    now = iso(utcnow())
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


def deployments(workspace: WorkspaceLike = None, *, all: bool = True) -> list[Deployment]:
    """The workspace's deployments, by name (``all=False``: only those running)."""
    from aimass_lab.serve.deploy._deployment import Deployment

    ws = resolve_workspace(workspace)
    out = [Deployment(name, workspace=ws) for name in record_names(ws)]
    return out if all else [d for d in out if d.state == "running"]


def get_deployment(name: str, workspace: WorkspaceLike = None) -> Deployment:
    """The deployment named ``name`` (its endpoint name).

    Raises
    ------
    NotFoundError
        Listing the deployments that exist.
    """
    from aimass_lab.serve.deploy._deployment import Deployment

    return Deployment(name, workspace=resolve_workspace(workspace))
