"""The deployments' records in the workspace's store, the split rule, and DeployError.

Every front door (notebook, CLI, JupyterLab) reads deployments from these records; the
server's admin view is copied into them by :func:`sync_from_server`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from aimass_lab.errors import AimassError, NotFoundError, accepted
from aimass_lab.workspace import DeploymentRow, Workspace, utcnow

__all__ = [
    "DeployError",
    "WorkspaceLike",
    "admin_entry",
    "changes_text",
    "forget_record",
    "iso",
    "parse_split",
    "read_record",
    "record",
    "record_names",
    "settings_changes",
    "sync_from_server",
    "unknown_deployment",
]

WorkspaceLike = Workspace | str | os.PathLike[str] | None


class DeployError(AimassError, ValueError):
    """A deployment could not be made or changed (the message says why and what to do)."""


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


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
            row.history = [*(row.history or []), {"at": iso(now), **event}][-200:]


def forget_record(ws: Workspace, name: str) -> None:
    """Remove the store's record of deployment ``name`` (one a failed first deploy made)."""
    with ws.store.session() as s:
        row = s.get(DeploymentRow, name)
        if row is not None:
            s.delete(row)


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
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "stopped_at": iso(row.stopped_at),
    }


def record_names(ws: Workspace) -> list[str]:
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


def changes_text(changes: Mapping[str, list[Any]]) -> str:
    return ", ".join(f"{k} {old} -> {new}" for k, (old, new) in changes.items())


def unknown_deployment(ws: Workspace, name: str) -> NotFoundError:
    """The error for a deployment name that is not recorded."""
    names = record_names(ws)
    hint = (
        f"deployments: {accepted(names)}"
        if names
        else "there are none; deploy a model with aimass_lab.deploy('name:version') "
        "or: aimass deploy NAME:VERSION"
    )
    return NotFoundError(f"no deployment named {name!r} in workspace {ws.path}; {hint}")
