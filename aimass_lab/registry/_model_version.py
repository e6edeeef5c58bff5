"""A registered model version and the rule for its file names.

The rules for names, aliases and refs live in :mod:`aimass_lab.specs` (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aimass_lab.errors import AimassError, IntegrityError
from aimass_lab.specs import LATEST, parse_ref, validate_alias, validate_name

if TYPE_CHECKING:
    import torch

    from aimass_lab.workspace import Workspace

__all__ = [
    "CONFIG_FILE",
    "LATEST",
    "METRIC_RENAMES",
    "ModelVersion",
    "REQUIRED_FILES",
    "WEIGHTS_FILE",
    "canonical_metrics",
    "parse_ref",
    "validate_alias",
    "validate_filename",
    "validate_name",
    "verify_files",
]

#: The weights of the network (a safetensors state dict).
WEIGHTS_FILE = "weights.safetensors"
#: How to rebuild the network and use it (a JSON document written by training).
CONFIG_FILE = "model.json"
#: Every model version holds at least these files.
REQUIRED_FILES: tuple[str, ...] = (WEIGHTS_FILE, CONFIG_FILE)
#: Metric names older versions recorded, and the names training records (``val_acc``,
#: ``test_acc``): every version is read and written with the latter.
METRIC_RENAMES = {"test_accuracy": "test_acc", "val_accuracy": "val_acc"}


def canonical_metrics(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """``metrics`` under the names training records (old names renamed, see
    :data:`METRIC_RENAMES`; a value under the new name wins).

    Examples
    --------
    >>> canonical_metrics({"test_accuracy": 0.9, "size_bytes": 10})
    {'test_acc': 0.9, 'size_bytes': 10}
    """
    out: dict[str, Any] = {}
    for key, value in (metrics or {}).items():
        new = METRIC_RENAMES.get(key, key)
        if new not in out or new == key:
            out[new] = value
    return out


_FILENAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")


def validate_filename(filename: Any) -> str:
    """Return ``filename`` if it may be a file of a model version, else raise.

    A model version is a flat set of files; each name is made of letters, digits, ``-``,
    ``_`` and ``.``, does not start with ``.`` or ``-``, and has at most 200 characters.

    Raises
    ------
    AimassError
        When the name is not accepted.
    """
    if not isinstance(filename, str) or not _FILENAME_RE.fullmatch(filename):
        raise AimassError(
            f"invalid model file name {filename!r}; accepted: a plain file name of letters, "
            "digits, '-', '_' and '.', not starting with '.' or '-', at most 200 characters"
        )
    return filename


@dataclass(frozen=True, repr=False)
class ModelVersion:
    """One registered version of a model: a snapshot of its record in the registry.

    Get one from :func:`aimass_lab.registry.register`, :func:`~aimass_lab.registry.get` or
    :func:`~aimass_lab.registry.list`. The snapshot does not change when the registry does;
    call ``get(mv)`` again to see moved aliases.

    Attributes
    ----------
    id
        The row id in the workspace's store.
    name
        The model name.
    version
        The version number (1, 2, ... per name).
    created_at
        When it was registered (naive UTC).
    run_id
        The training run (job) it came from, if any.
    parent
        The ref (``"name:version"``) of the version it was derived from, or ``None``
        (for an ensemble: its first member; :attr:`members` lists them all).
    aliases
        The aliases that point to it, sorted.
    model_spec
        The :class:`~aimass_lab.specs.ModelSpec` as a dict.
    hparams
        Model and training hyperparameters.
    metrics
        Final metric values.
    lineage
        Where it came from: run, dataset label, data fingerprint, source, and anything
        given at registration.
    manifest
        ``{filename: {"sha256": ..., "size": ...}}`` for every file.
    description
        Free text.
    data_fingerprint
        sha256 of the training data, if known.
    """

    id: int
    name: str
    version: int
    created_at: dt.datetime
    run_id: str | None
    parent: str | None
    aliases: list[str]
    model_spec: dict[str, Any]
    hparams: dict[str, Any]
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    manifest: dict[str, dict[str, Any]]
    description: str | None
    data_fingerprint: str | None
    workspace: Workspace | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        """``"name:version"``: the ref that always means this version."""
        return f"{self.name}:{self.version}"

    @property
    def members(self) -> list[str]:
        """The refs of the versions an ensemble combines (recorded in its lineage; ``[]`` for
        a version that is not an ensemble). The first is also its :attr:`parent`."""
        refs = self.lineage.get("members")
        return [str(r) for r in refs] if isinstance(refs, list) else []

    def __hash__(self) -> int:
        return hash((self.id, self.name, self.version))

    def __repr__(self) -> str:
        parts = [repr(self.ref)]
        if self.aliases:
            parts.append(f"aliases={self.aliases!r}")
        if self.metrics:
            shown = {
                k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in self.metrics.items()
            }
            parts.append(f"metrics={shown!r}")
        if self.parent:
            parts.append(f"parent={self.parent!r}")
        if self.members:
            parts.append(f"members={self.members!r}")
        return f"ModelVersion({', '.join(parts)})"

    # -- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the record (without the workspace).

        Returns
        -------
        dict
            Every attribute plus ``ref`` and ``members``; ``created_at`` as ISO 8601 UTC (``...Z``).
        """
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "created_at": self.created_at.isoformat() + "Z",
            "run_id": self.run_id,
            "parent": self.parent,
            "members": self.members,
            "aliases": list(self.aliases),
            "model_spec": self.model_spec,
            "hparams": self.hparams,
            "metrics": self.metrics,
            "lineage": self.lineage,
            "manifest": self.manifest,
            "description": self.description,
            "data_fingerprint": self.data_fingerprint,
        }

    def _repr_html_(self) -> str:
        esc = html.escape

        def cell(value: Any) -> str:
            if value is None or value == {} or value == []:
                return "<i>—</i>"
            if isinstance(value, (dict, list)):
                return f"<code>{esc(json.dumps(value, sort_keys=True, default=str))}</code>"
            return esc(str(value))

        metrics = ", ".join(
            f"{esc(str(k))}={esc(f'{v:.4g}' if isinstance(v, float) else str(v))}"
            for k, v in sorted(self.metrics.items())
        )
        files = ", ".join(
            f"{esc(name)} ({int(entry.get('size', 0)):,} B)"
            for name, entry in sorted(self.manifest.items())
        )
        rows = [
            ("version", cell(self.version)),
            ("aliases", cell(", ".join(self.aliases) if self.aliases else None)),
            ("created", cell(self.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"))),
            ("model", cell(self.model_spec.get("family"))),
            ("hparams", cell(self.hparams)),
            ("metrics", metrics or cell(None)),
            ("run", cell(self.run_id)),
            ("parent", cell(self.parent)),
            ("members", cell(", ".join(self.members) if self.members else None)),
            ("data", cell(self.lineage.get("dataset"))),
            ("files", files or cell(None)),
            ("description", cell(self.description)),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{esc(k)}</th><td style='text-align:left'>{v}</td></tr>"
            for k, v in rows
        )
        return f"<div><b>ModelVersion {esc(self.ref)}</b><table>{body}</table></div>"

    # -- files ------------------------------------------------------------------------------
    def _ws(self) -> Workspace:
        if self.workspace is None:
            raise AimassError(
                f"ModelVersion {self.ref} is not attached to a workspace; get it with "
                "aimass_lab.registry.get(ref, workspace=...)"
            )
        return self.workspace

    def verify(self) -> dict[str, Any]:
        """Check every file against the manifest (see :func:`aimass_lab.registry.verify`)."""
        return verify_files(self)

    def files(self) -> dict[str, Path]:
        """The version's files, each checked against its sha256 first.

        Returns
        -------
        dict
            ``{filename: path}``. The paths point into the workspace's content-addressed
            artifact folder: read them, never write them.

        Raises
        ------
        IntegrityError
            When a file is missing or was modified.
        """
        report = verify_files(self)
        return {name: Path(entry["path"]) for name, entry in report["files"].items()}

    @property
    def config(self) -> dict[str, Any]:
        """The parsed ``model.json`` (checked against its sha256 first)."""
        ws = self._ws()
        entry = self.manifest.get(CONFIG_FILE)
        if entry is None:
            raise IntegrityError(f"model {self.ref} has no {CONFIG_FILE} in its manifest")
        path = ws.artifacts.verify(
            entry["sha256"], label=f"file {CONFIG_FILE!r} of model {self.ref}"
        )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IntegrityError(
                f"file {CONFIG_FILE!r} of model {self.ref} is not valid JSON: {exc}"
            ) from None
        if not isinstance(data, dict):
            raise IntegrityError(f"file {CONFIG_FILE!r} of model {self.ref} is not a JSON object")
        return data

    def load_network(self, device: str = "cpu") -> torch.nn.Module:
        """Build the network from ``model.json`` and load its verified weights.

        The network comes from :func:`aimass_lab.models.build_network` with the stored model
        spec, input shape and output size; the safetensors weights are loaded with
        ``strict=True``. Nothing is unpickled.

        Parameters
        ----------
        device
            Where to put the weights (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).

        Returns
        -------
        torch.nn.Module
            The network in eval mode.

        Raises
        ------
        IntegrityError
            When a file is missing or was modified.
        AimassError
            When the weights do not fit the network built from ``model.json``.
        """
        from aimass_lab.models import load_network, weight_files

        files = self.files()
        return load_network(
            self.config,
            [files[name] for name in weight_files(self.config)],
            label=f"model {self.ref}",
            device=device,
        )


def verify_files(mv: ModelVersion) -> dict[str, Any]:
    """Recompute the sha256 of every file of ``mv`` and compare it with the manifest.

    Returns
    -------
    dict
        ``{"ref": ..., "ok": True, "files": {filename: {"sha256", "size", "path"}}}``.

    Raises
    ------
    IntegrityError
        Naming every file that is missing or whose content changed, with the expected
        and the actual sha256.
    """
    ws = mv._ws()
    problems: list[str] = []
    files: dict[str, Any] = {}
    for filename, entry in sorted(mv.manifest.items()):
        expected = str(entry.get("sha256", ""))
        label = f"file {filename!r} of model {mv.ref}"
        try:
            path = ws.artifacts.verify(expected, label=label)
        except IntegrityError as exc:
            problems.append(str(exc))
            continue
        files[filename] = {"sha256": expected, "size": path.stat().st_size, "path": str(path)}
    if problems:
        if len(problems) == 1:
            raise IntegrityError(problems[0])
        raise IntegrityError(
            f"{len(problems)} files of model {mv.ref} failed verification:\n- "
            + "\n- ".join(problems)
        )
    return {"ref": mv.ref, "ok": True, "files": files}
