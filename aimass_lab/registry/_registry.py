"""Register, find, alias, verify and delete model versions in a workspace's store."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Text, delete, func, select, update
from sqlalchemy import cast as sa_cast
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from aimass_lab.errors import AimassError, JobError, NotFoundError, SpecError, accepted
from aimass_lab.registry._model_version import (
    CONFIG_FILE,
    LATEST,
    REQUIRED_FILES,
    WEIGHTS_FILE,
    ModelVersion,
    parse_ref,
    validate_alias,
    validate_filename,
    validate_name,
    verify_files,
)
from aimass_lab.workspace import Job, Workspace, resolve_workspace
from aimass_lab.workspace._store import AliasRow, DatasetRow, JobRow, ModelVersionRow, utcnow

__all__ = [
    "Source",
    "delete_version",
    "get",
    "list_versions",
    "names",
    "read_config",
    "register",
    "register_files",
    "remove_alias",
    "set_alias",
    "verify",
]

#: How many times a registration (or an alias move) retries when another process took the
#: same version number (or SQLite was locked).
MAX_ATTEMPTS = 50
#: The largest ``model.json`` read (bytes).
MAX_CONFIG_BYTES = 16 << 20

Ref = str | ModelVersion
WorkspaceLike = Workspace | str | os.PathLike[str] | None
T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """Files about to be registered, and what is known about where they came from."""

    folder: Path
    files: dict[str, Path]
    config: dict[str, Any]
    kind: str
    run_id: str | None = None
    job_metrics: dict[str, Any] | None = None


# ------------------------------------------------------------------------------------ helpers
def _few(values: Iterable[Any], limit: int = 20) -> str:
    items = list(values)
    text = accepted(items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, SAIntegrityError):
        return True
    # SQLite under heavy write contention can still say "database is locked".
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0.005, 0.02) * min(attempt + 1, 10))


def _retrying(transaction: Callable[[], T], failure: str) -> T:
    """Run ``transaction`` until it commits, up to :data:`MAX_ATTEMPTS` times while another
    process takes the same key (or SQLite is locked); then AimassError ``failure: last error``."""
    last_error: Exception | None = None
    for attempt in range(MAX_ATTEMPTS):
        try:
            return transaction()
        except (SAIntegrityError, OperationalError) as exc:
            if not _is_retryable(exc):
                raise
            last_error = exc
            _backoff(attempt)
    raise AimassError(f"{failure}: {last_error}")


def _aliases_of(session: Session, version_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(version_ids)
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = session.execute(
            select(AliasRow.version_id, AliasRow.alias).where(AliasRow.version_id.in_(ids))
        )
        for version_id, alias in rows:
            out[version_id].append(alias)
    for aliases in out.values():
        aliases.sort()
    return out


def _parent_refs(session: Session, rows: Iterable[ModelVersionRow]) -> dict[int, str]:
    ids = {r.parent_id for r in rows if r.parent_id is not None}
    if not ids:
        return {}
    found = session.execute(
        select(ModelVersionRow.id, ModelVersionRow.name, ModelVersionRow.version).where(
            ModelVersionRow.id.in_(ids)
        )
    )
    return {i: f"{n}:{v}" for i, n, v in found}


def _to_versions(
    ws: Workspace, session: Session, rows: list[ModelVersionRow]
) -> list[ModelVersion]:
    aliases = _aliases_of(session, (r.id for r in rows))
    parents = _parent_refs(session, rows)
    return [
        ModelVersion(
            id=r.id,
            name=r.name,
            version=r.version,
            created_at=r.created_at,
            run_id=r.run_id,
            parent=parents.get(r.parent_id) if r.parent_id is not None else None,
            aliases=aliases.get(r.id, []),
            model_spec=dict(r.model_spec or {}),
            hparams=dict(r.hparams or {}),
            metrics=dict(r.metrics or {}),
            lineage=dict(r.lineage or {}),
            manifest={k: dict(v) for k, v in (r.manifest or {}).items()},
            description=r.description,
            data_fingerprint=r.data_fingerprint,
            workspace=ws,
        )
        for r in rows
    ]


def _version_numbers(session: Session, name: str) -> list[int]:
    """The version numbers of a model, ascending."""
    query = (
        select(ModelVersionRow.version)
        .where(ModelVersionRow.name == name)
        .order_by(ModelVersionRow.version)
    )
    return list(session.scalars(query))


def _names(session: Session) -> list[str]:
    return list(
        session.scalars(select(ModelVersionRow.name).distinct().order_by(ModelVersionRow.name))
    )


def _unknown_name(ws: Workspace, session: Session, name: str) -> NotFoundError:
    existing = _names(session)
    hint = (
        f"models: {_few(existing)}"
        if existing
        else "the registry is empty; add one with register(run, name)"
    )
    return NotFoundError(f"no model named {name!r} in the registry of workspace {ws.path}; {hint}")


def _resolve_row(ws: Workspace, session: Session, ref: Ref) -> ModelVersionRow:
    """The row a ref means, or a NotFoundError that lists what exists."""
    if isinstance(ref, ModelVersion):
        row = session.get(ModelVersionRow, ref.id)
        if row is None or row.name != ref.name or row.version != ref.version:
            raise NotFoundError(f"model version {ref.ref} no longer exists in workspace {ws.path}")
        return row
    name, selector = parse_ref(ref)
    base = select(ModelVersionRow).where(ModelVersionRow.name == name)
    if selector is None:
        found = session.scalars(base.order_by(ModelVersionRow.version.desc()).limit(1)).first()
        if found is None:
            raise _unknown_name(ws, session, name)
        return found
    if isinstance(selector, int):
        found = session.scalars(base.where(ModelVersionRow.version == selector)).first()
        if found is None:
            versions = _version_numbers(session, name)
            if not versions:
                raise _unknown_name(ws, session, name)
            raise NotFoundError(
                f"model {name!r} has no version {selector}; versions: {', '.join(map(str, versions[-20:]))}"
                + (f" (and {len(versions) - 20} older)" if len(versions) > 20 else "")
            )
        return found
    found = session.scalars(
        select(ModelVersionRow)
        .join(AliasRow, AliasRow.version_id == ModelVersionRow.id)
        .where(
            AliasRow.model_name == name, AliasRow.alias == selector, ModelVersionRow.name == name
        )
    ).first()
    if found is None:
        if not session.scalar(select(func.count()).where(ModelVersionRow.name == name)):
            raise _unknown_name(ws, session, name)
        raise NotFoundError(
            f"model {name!r} has no alias {selector!r}; {_alias_listing(session, name)}"
        )
    return found


def _alias_listing(session: Session, name: str) -> str:
    rows = session.execute(
        select(AliasRow.alias, ModelVersionRow.version)
        .join(ModelVersionRow, AliasRow.version_id == ModelVersionRow.id)
        .where(AliasRow.model_name == name)
        .order_by(AliasRow.alias)
    ).all()
    if not rows:
        return f"it has no aliases (set one with set_alias('{name}:1', 'prod')); versions are also found as '{name}:N'"
    return "aliases: " + ", ".join(f"{alias!r} (-> {name}:{version})" for alias, version in rows)


# ------------------------------------------------------------------------------------ reading
def get(ref: Ref, workspace: WorkspaceLike = None) -> ModelVersion:
    """Find a model version.

    Parameters
    ----------
    ref
        ``"name"`` or ``"name:latest"`` (the newest version), ``"name:3"`` (version 3),
        ``"name:prod"`` (the version the alias points to), or a :class:`ModelVersion`
        (read again, with its current aliases).
    workspace
        A :class:`~aimass_lab.workspace.Workspace` or its folder; default: the current one
        (for a ModelVersion: its own).

    Returns
    -------
    ModelVersion

    Raises
    ------
    NotFoundError
        For an unknown model, version or alias; the message lists what exists.

    Examples
    --------
    >>> from aimass_lab import registry  # doctest: +SKIP
    >>> registry.get("digits-mlp:prod")  # doctest: +SKIP
    ModelVersion('digits-mlp:2', aliases=['prod'], metrics={'val_acc': 0.97})
    """
    if workspace is None and isinstance(ref, ModelVersion) and ref.workspace is not None:
        ws = ref.workspace
    else:
        ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        row = _resolve_row(ws, s, ref)
        return _to_versions(ws, s, [row])[0]


def list_versions(name: str | None = None, workspace: WorkspaceLike = None) -> list[ModelVersion]:
    """Model versions, newest first.

    Parameters
    ----------
    name
        Only this model's versions (raises :class:`NotFoundError` if it has none).
    workspace
        The workspace (default: the current one).

    Returns
    -------
    list of ModelVersion
    """
    ws = resolve_workspace(workspace)
    query = select(ModelVersionRow).order_by(
        ModelVersionRow.created_at.desc(), ModelVersionRow.id.desc()
    )
    with ws.store.session() as s:
        if name is not None:
            validate_name(name)
            query = query.where(ModelVersionRow.name == name)
        rows = list(s.scalars(query))
        if name is not None and not rows:
            raise _unknown_name(ws, s, name)
        return _to_versions(ws, s, rows)


def names(workspace: WorkspaceLike = None) -> list[str]:
    """The names of the registered models, sorted."""
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        return _names(s)


def verify(ref: Ref, workspace: WorkspaceLike = None) -> dict[str, Any]:
    """Recompute the sha256 of every file of a model version and compare with its manifest.

    Parameters
    ----------
    ref
        The version (see :func:`get`).
    workspace
        The workspace (default: the current one).

    Returns
    -------
    dict
        ``{"ref": "name:3", "ok": True, "files": {filename: {"sha256", "size", "path"}}}``.

    Raises
    ------
    IntegrityError
        Naming each file that is missing or modified, with expected and actual sha256.
    """
    return verify_files(get(ref, workspace))


# ---------------------------------------------------------------------------------- sources
def read_config(path: Path, where: str) -> dict[str, Any]:
    """Read and check a ``model.json``.

    Parameters
    ----------
    path
        The file.
    where
        Where it comes from, for messages.

    Raises
    ------
    AimassError
        When it is not a JSON object with a valid ``model_spec``, ``input_shape`` and
        ``output_dim``.
    """
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise AimassError(
            f"{CONFIG_FILE} in {where} is {path.stat().st_size} bytes; at most {MAX_CONFIG_BYTES} are accepted"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AimassError(f"{CONFIG_FILE} in {where} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise AimassError(
            f"{CONFIG_FILE} in {where} must be a JSON object, got {type(config).__name__}"
        )
    spec = config.get("model_spec")
    if not isinstance(spec, dict):
        raise AimassError(
            f"{CONFIG_FILE} in {where} needs 'model_spec', a ModelSpec dict such as "
            f"{{'family': 'mlp', 'hparams': {{}}}}; got {spec!r}"
        )
    from aimass_lab.specs import ModelSpec

    try:
        ModelSpec.from_dict(spec)
    except SpecError as exc:
        raise AimassError(f"{CONFIG_FILE} in {where} has an invalid model_spec: {exc}") from None
    shape = config.get("input_shape")
    if not (
        isinstance(shape, list)
        and shape
        and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        raise AimassError(
            f"{CONFIG_FILE} in {where} needs 'input_shape', a list of positive ints such as [64] "
            f"or [1, 8, 8]; got {shape!r}"
        )
    out = config.get("output_dim")
    if not (isinstance(out, int) and not isinstance(out, bool) and out > 0):
        raise AimassError(
            f"{CONFIG_FILE} in {where} needs 'output_dim', a positive int; got {out!r}"
        )
    for key in ("hparams", "metrics", "preprocess", "data_spec"):
        if config.get(key) is not None and not isinstance(config[key], dict):
            raise AimassError(
                f"{CONFIG_FILE} in {where}: {key!r} must be an object, got {config[key]!r}"
            )
    fingerprint = config.get("data_fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise AimassError(
            f"{CONFIG_FILE} in {where}: 'data_fingerprint' must be a string, got {fingerprint!r}"
        )
    return config


def _scan_folder(folder: Path, where: str) -> dict[str, Path]:
    """The files of a model folder (flat; hidden files are skipped)."""
    files: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue  # temporary files of atomic writes, editor files
        if entry.is_dir():
            raise AimassError(
                f"{where} holds a sub-folder {entry.name!r}; a model version is a flat set of "
                "files (weights.safetensors, model.json, ...): move it out or register another folder"
            )
        if not entry.is_file():
            raise AimassError(f"{where} holds {entry.name!r}, which is not a regular file")
        validate_filename(entry.name)
        files[entry.name] = entry
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise NotFoundError(
            f"{where} has no {' and no '.join(missing)}; a model folder holds {WEIGHTS_FILE} "
            f"(safetensors state dict) and {CONFIG_FILE}; it has: {_few(files)}"
        )
    return files


def _folder_source(folder: Path, kind: str = "folder", where: str | None = None) -> Source:
    where = where or f"folder {str(folder)!r}"
    files = _scan_folder(folder, where)
    config = read_config(files[CONFIG_FILE], where)
    run_id = config.get("run_id")
    return Source(folder, files, config, kind, run_id=str(run_id) if run_id is not None else None)


def _job_source(ws: Workspace, job: Job) -> Source:
    if job.state != "succeeded":
        hint = (
            f"wait for it with ws.jobs.wait({job.id!r}) and register it when it has succeeded"
            if job.active
            else "only a succeeded job can be registered"
        )
        reason = f" ({job.exit_reason})" if job.exit_reason else ""
        raise JobError(f"cannot register job {job.id}: it is {job.state}{reason}; {hint}")
    folder = ws.jobs.run_dir(job.id) / "model"
    where = f"the model folder of job {job.id} ({folder})"
    if not folder.is_dir():
        raise NotFoundError(
            f"cannot register job {job.id} (kind {job.kind!r}): it succeeded but left no model "
            f"files; expected {folder / WEIGHTS_FILE} and {folder / CONFIG_FILE}"
        )
    try:
        source = _folder_source(folder, "job", where)
    except NotFoundError as exc:
        raise NotFoundError(f"cannot register job {job.id} (kind {job.kind!r}): {exc}") from None
    metrics = job.result.get("metrics") if isinstance(job.result, dict) else None
    return Source(
        source.folder,
        source.files,
        source.config,
        "job",
        run_id=job.id,
        job_metrics=metrics if isinstance(metrics, dict) else None,
    )


def _resolve_source(ws: Workspace, source: Any) -> Source:
    if isinstance(source, ModelVersion):
        raise AimassError(
            f"register() takes a run, a job id or a model folder, not a ModelVersion ({source.ref}); "
            "to copy a version to another workspace use export() and import_()"
        )
    if isinstance(source, os.PathLike):
        folder = Path(source)
        if not folder.is_dir():
            raise NotFoundError(f"model folder {str(folder)!r} does not exist or is not a folder")
        return _folder_source(folder)
    if isinstance(source, str):
        if not source:
            raise AimassError(
                "register() needs a source: a run, a job id or a model folder; got ''"
            )
        if Path(source).is_dir():
            return _folder_source(Path(source))
        try:
            job = ws.jobs.get(source)
        except NotFoundError as exc:
            raise NotFoundError(
                f"cannot register {source!r}: it is not a folder holding {WEIGHTS_FILE} and "
                f"{CONFIG_FILE}, and {exc}"
            ) from None
        return _job_source(ws, job)
    job_id = getattr(source, "id", None)
    if isinstance(job_id, str):
        return _job_source(ws, ws.jobs.get(job_id))
    raise AimassError(
        f"cannot register a {type(source).__name__}: accepted sources are a run (an object with "
        "a string .id), a job id, or a folder (str or Path) holding "
        f"{WEIGHTS_FILE} and {CONFIG_FILE}"
    )


def _dataset_label(data_spec: Any) -> str | None:
    if not isinstance(data_spec, dict):
        return None
    from aimass_lab.specs import DataSpec

    try:
        return DataSpec.from_dict(data_spec).label
    except Exception:  # a spec of a plugin source not installed here, an older spec...
        label = data_spec.get("name") or data_spec.get("path") or data_spec.get("source")
        return str(label) if label is not None else None


def _json_dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AimassError(f"{what} must be a dict, got {type(value).__name__} {value!r}")
    try:
        return dict(json.loads(json.dumps(value)))
    except (TypeError, ValueError) as exc:
        raise AimassError(
            f"{what} must hold JSON values only (str, number, bool, None, list, dict): {exc}"
        ) from None


# --------------------------------------------------------------------------------- writing
def register(
    source: Any,
    name: str,
    *,
    aliases: Iterable[str] = (),
    description: str | None = None,
    parent: Ref | None = None,
    lineage: dict[str, Any] | None = None,
    workspace: WorkspaceLike = None,
) -> ModelVersion:
    """Register a trained model as the next version of ``name``.

    Parameters
    ----------
    source
        A run (an object with a string ``.id``, such as the result of
        :func:`aimass_lab.train`), a job id, or a folder holding ``weights.safetensors`` and
        ``model.json``. A job must have succeeded; its model is in ``runs/<id>/model``.
    name
        The model name: letters, digits, ``-``, ``_`` and ``.``, 1 to 100 characters.
    aliases
        Aliases to point at the new version (moved from older versions if they were set).
    description
        Free text.
    parent
        The version this one derives from (e.g. the source of a compressed variant).
    lineage
        Anything to record about where the model came from (JSON values); added to the
        run, dataset label, data fingerprint and source recorded automatically.
    workspace
        The workspace (default: the run's, else the current one).

    Returns
    -------
    ModelVersion
        The new version. Versions count 1, 2, ... per name, also when several processes
        register the same name at once.

    Raises
    ------
    JobError
        When the job has not succeeded.
    NotFoundError
        For an unknown job, a missing model file, or an unknown parent.
    AimassError
        For an invalid name, alias or ``model.json``.
    """
    validate_name(name)
    alias_list = sorted(
        {validate_alias(a) for a in ([aliases] if isinstance(aliases, str) else aliases)}
    )
    if description is not None and not isinstance(description, str):
        raise AimassError(f"description must be a string or None, got {type(description).__name__}")
    extra = _json_dict(lineage, "lineage")
    if workspace is None and isinstance(getattr(source, "workspace", None), Workspace):
        ws: Workspace = source.workspace
    else:
        ws = resolve_workspace(workspace)
    src = _resolve_source(ws, source)
    return register_files(
        ws,
        src,
        name,
        aliases=alias_list,
        description=description,
        parent=parent,
        lineage=extra,
    )


def register_files(
    ws: Workspace,
    src: Source,
    name: str,
    *,
    aliases: list[str],
    description: str | None,
    parent: Ref | None,
    lineage: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> ModelVersion:
    """Store the files of ``src`` and insert the version row and its aliases in one transaction.

    ``overrides`` replaces recorded fields (``model_spec``, ``hparams``, ``metrics``,
    ``data_fingerprint``, ``run_id``) instead of reading them from ``model.json`` (import).
    """
    parent_id: int | None = None
    parent_ref: str | None = None
    if parent is not None:
        parent_mv = get(parent, ws)
        parent_id, parent_ref = parent_mv.id, parent_mv.ref

    # 1. Artifacts first: content-addressed, harmless if the row never comes.
    manifest: dict[str, dict[str, Any]] = {}
    for filename, path in sorted(src.files.items()):
        digest = ws.artifacts.put_file(path)
        manifest[filename] = {"sha256": digest, "size": ws.artifacts.path(digest).stat().st_size}

    config = src.config
    fields: dict[str, Any] = {
        "model_spec": dict(config["model_spec"]),
        "hparams": dict(config.get("hparams") or config["model_spec"].get("hparams") or {}),
        "metrics": {**(src.job_metrics or {}), **(config.get("metrics") or {})},
        "data_fingerprint": config.get("data_fingerprint"),
        "run_id": src.run_id,
    }
    fields.update(overrides or {})
    auto: dict[str, Any] = {"source": src.kind, "run_id": fields["run_id"]}
    if src.kind == "folder":
        auto["folder"] = str(src.folder.resolve())
    label = _dataset_label(config.get("data_spec"))
    if label is not None:
        auto["dataset"] = label
    if fields["data_fingerprint"]:
        auto["data_fingerprint"] = fields["data_fingerprint"]
    if parent_ref is not None:
        auto["parent"] = parent_ref
    full_lineage = _json_dict({**auto, **lineage}, "lineage")

    # 2. The row and its aliases in one transaction; retry when another process took the number.
    def insert() -> int:
        with ws.store.session() as s:
            if parent_id is not None and s.get(ModelVersionRow, parent_id) is None:
                raise NotFoundError(
                    f"parent model version {parent_ref} was deleted while registering"
                )
            current = s.scalar(
                select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == name)
            )
            row = ModelVersionRow(
                name=name,
                version=(current or 0) + 1,
                created_at=utcnow(),
                run_id=fields["run_id"],
                parent_id=parent_id,
                model_spec=fields["model_spec"],
                data_fingerprint=fields["data_fingerprint"],
                hparams=fields["hparams"],
                metrics=fields["metrics"],
                lineage=full_lineage,
                manifest=manifest,
                description=description,
            )
            s.add(row)
            s.flush()
            for alias in aliases:
                s.execute(
                    delete(AliasRow).where(AliasRow.model_name == name, AliasRow.alias == alias)
                )
                s.add(AliasRow(model_name=name, alias=alias, version_id=row.id))
            s.flush()
            return row.id

    row_id = _retrying(
        insert,
        f"could not register a new version of {name!r} after {MAX_ATTEMPTS} attempts "
        "(other processes kept taking the version number)",
    )

    # 3. A concurrent delete() may have collected a file we share with the version it removed.
    for filename, entry in manifest.items():
        if not ws.artifacts.exists(entry["sha256"]):
            ws.artifacts.put_file(src.files[filename])
    return _get_by_id(ws, row_id)


def _get_by_id(ws: Workspace, row_id: int) -> ModelVersion:
    with ws.store.session() as s:
        row = s.get(ModelVersionRow, row_id)
        if row is None:
            raise NotFoundError(
                f"model version id {row_id} no longer exists in workspace {ws.path}"
            )
        return _to_versions(ws, s, [row])[0]


def set_alias(ref: Ref, alias: str, workspace: WorkspaceLike = None) -> ModelVersion:
    """Point ``alias`` at a version, moving it from the version it pointed to before.

    An alias points to exactly one version of a model; the move is one transaction, so a
    reader sees the old or the new target, never none.

    Parameters
    ----------
    ref
        The version (see :func:`get`), e.g. ``"digits-mlp:3"``.
    alias
        The alias: letters, digits, ``-``, ``_`` and ``.``, not all digits, not ``latest``.
    workspace
        The workspace (default: the current one, or the ModelVersion's).

    Returns
    -------
    ModelVersion
        The version, with its aliases now.
    """
    validate_alias(alias)
    mv = get(ref, workspace)
    ws = mv._ws()

    def move() -> None:
        with ws.store.session() as s:
            if s.get(ModelVersionRow, mv.id) is None:
                raise NotFoundError(
                    f"model version {mv.ref} was deleted; cannot point {alias!r} at it"
                )
            s.execute(
                delete(AliasRow).where(AliasRow.model_name == mv.name, AliasRow.alias == alias)
            )
            s.add(AliasRow(model_name=mv.name, alias=alias, version_id=mv.id))

    _retrying(move, f"could not set alias {alias!r} of {mv.name!r}")
    return _get_by_id(ws, mv.id)


def remove_alias(name: str, alias: str, workspace: WorkspaceLike = None) -> None:
    """Remove an alias of a model (the version it pointed to stays).

    Raises
    ------
    NotFoundError
        When the model has no such alias; the message lists its aliases.
    """
    validate_name(name)
    if not isinstance(alias, str) or alias.isdigit() or alias == LATEST:
        raise AimassError(
            f"{alias!r} is not an alias (aliases are words such as 'prod'); nothing to remove"
        )
    ws = resolve_workspace(workspace)
    with ws.store.session() as s:
        result = s.execute(
            delete(AliasRow).where(AliasRow.model_name == name, AliasRow.alias == alias)
        )
        if getattr(result, "rowcount", 1) == 0:
            if not s.scalar(select(func.count()).where(ModelVersionRow.name == name)):
                raise _unknown_name(ws, s, name)
            raise NotFoundError(f"model {name!r} has no alias {alias!r}; {_alias_listing(s, name)}")


def delete_version(ref: Ref, workspace: WorkspaceLike = None) -> ModelVersion:
    """Delete one model version, its aliases, then its files that nothing else uses.

    The row and its aliases go in one transaction. Versions whose parent it was keep their
    lineage dict but their ``parent`` becomes ``None``. Files are removed afterwards, best
    effort, when no other model version, dataset or job refers to their sha256.

    Parameters
    ----------
    ref
        ``"name:3"``, ``"name:alias"`` or a ModelVersion. A bare name is refused, so that
        ``delete("model")`` never removes a version by surprise.
    workspace
        The workspace (default: the current one, or the ModelVersion's).

    Returns
    -------
    ModelVersion
        The record that was deleted.
    """
    if isinstance(ref, str):
        name, selector = parse_ref(ref)
        if selector is None:
            ws = resolve_workspace(workspace)
            with ws.store.session() as s:
                versions = _version_numbers(s, name)
                if not versions:
                    raise _unknown_name(ws, s, name)
            raise AimassError(
                f"delete() needs one version: {ref!r} names the whole model; give 'name:N' or "
                f"'name:alias' (versions of {name!r}: {', '.join(map(str, versions))})"
            )
    mv = get(ref, workspace)
    ws = mv._ws()
    with ws.store.session() as s:
        if s.get(ModelVersionRow, mv.id) is None:
            raise NotFoundError(f"model version {mv.ref} was already deleted")
        s.execute(delete(AliasRow).where(AliasRow.version_id == mv.id))
        s.execute(
            update(ModelVersionRow).where(ModelVersionRow.parent_id == mv.id).values(parent_id=None)
        )
        s.execute(delete(ModelVersionRow).where(ModelVersionRow.id == mv.id))
    _collect(ws, {e["sha256"] for e in mv.manifest.values() if isinstance(e.get("sha256"), str)})
    return mv


def _collect(ws: Workspace, digests: set[str]) -> list[str]:
    """Remove the artifacts among ``digests`` that nothing in the store refers to (best effort)."""
    removed: list[str] = []
    columns = (ModelVersionRow.manifest, DatasetRow.spec, JobRow.spec, JobRow.result)
    for digest in sorted(digests):
        try:
            with ws.store.session() as s:
                used = any(
                    s.scalar(select(func.count()).where(sa_cast(col, Text).contains(digest)))
                    for col in columns
                )
            if used:
                continue
            path = ws.artifacts.path(digest)
            path.unlink(missing_ok=True)
            removed.append(digest)
        except Exception:  # best effort: an orphaned file is harmless
            continue
    return removed
