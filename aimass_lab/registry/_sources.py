"""What can be registered: a run's job, a job id or a model folder, read into a :class:`Source`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimass_lab.errors import AimassError, JobError, NotFoundError, SpecError
from aimass_lab.registry._common import _few
from aimass_lab.registry._model_version import (
    CONFIG_FILE,
    REQUIRED_FILES,
    WEIGHTS_FILE,
    ModelVersion,
    validate_filename,
)
from aimass_lab.specs import DataSpec, ModelSpec
from aimass_lab.workspace import Job, Workspace

__all__ = ["MAX_CONFIG_BYTES", "Source", "read_config"]

#: The largest ``model.json`` read (bytes).
MAX_CONFIG_BYTES = 16 << 20


@dataclass(frozen=True)
class Source:
    """Files about to be registered, and what is known about where they came from."""

    folder: Path
    files: dict[str, Path]
    config: dict[str, Any]
    kind: str
    run_id: str | None = None
    job_metrics: dict[str, Any] | None = None


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


def _resolve_source(ws: Workspace, source: object) -> Source:
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


def _dataset_label(data_spec: object) -> str | None:
    if not isinstance(data_spec, dict):
        return None
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
