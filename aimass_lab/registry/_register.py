"""Writing to the registry: a new version of a model, its files, lineage and aliases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select

from aimass_lab.errors import AimassError, NotFoundError
from aimass_lab.registry._common import MAX_ATTEMPTS, Ref, WorkspaceLike, _retrying
from aimass_lab.registry._model_version import ModelVersion, canonical_metrics
from aimass_lab.registry._query import _get_by_id, get
from aimass_lab.registry._sources import Source, _dataset_label, _json_dict, _resolve_source
from aimass_lab.specs import validate_alias, validate_name
from aimass_lab.workspace import AliasRow, ModelVersionRow, Workspace, resolve_workspace, utcnow

__all__ = ["register", "register_files"]


def register(
    source: object,
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
    own = getattr(source, "workspace", None)  # a run knows its workspace
    ws = own if workspace is None and isinstance(own, Workspace) else resolve_workspace(workspace)
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


def _recorded(
    src: Source, overrides: dict[str, Any] | None, parent_ref: str | None, lineage: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields a new version records (from ``model.json``, or ``overrides``) and its lineage
    (run, folder, dataset label, data fingerprint and parent, then ``lineage``)."""
    config = src.config
    fields: dict[str, Any] = {
        "model_spec": dict(config["model_spec"]),
        "hparams": dict(config.get("hparams") or config["model_spec"].get("hparams") or {}),
        "metrics": canonical_metrics({**(src.job_metrics or {}), **(config.get("metrics") or {})}),
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
    return fields, _json_dict({**auto, **lineage}, "lineage")


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

    fields, full_lineage = _recorded(src, overrides, parent_ref, lineage)

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
