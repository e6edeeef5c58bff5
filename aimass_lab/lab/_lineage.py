"""The lineage of a model version as a small graph: dataset -> run -> trial -> parent
versions -> this version -> derived versions and deployments.

Plain stage code (no Tornado): the REST handler and the magics call :func:`model_lineage`.
"""

from __future__ import annotations

from typing import Any

from aimass_lab.errors import AimassError, NotFoundError

__all__ = ["model_lineage"]

#: At most this many ancestors are followed (a guard against a cycle in a damaged store).
MAX_DEPTH = 64


class _Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.edges: list[dict[str, str]] = []

    def node(self, node_id: str, kind: str, label: str, **fields: Any) -> str:
        if node_id not in self.nodes:
            self.nodes[node_id] = {"id": node_id, "kind": kind, "label": label, **fields}
        else:
            self.nodes[node_id].update({k: v for k, v in fields.items() if v is not None})
        return node_id

    def edge(self, source: str, target: str, label: str) -> None:
        entry = {"source": source, "target": target, "label": label}
        if entry not in self.edges:
            self.edges.append(entry)


def _version_node(graph: _Graph, mv: Any, current: bool = False) -> str:
    return graph.node(
        f"model:{mv.ref}",
        "model",
        mv.ref,
        ref=mv.ref,
        name=mv.name,
        version=mv.version,
        aliases=list(mv.aliases),
        metrics=dict(mv.metrics),
        created_at=mv.created_at.isoformat() + "Z",
        source=mv.lineage.get("source"),
        current=current,
    )


def _members(graph: _Graph, ws: Any, mv: Any) -> None:
    """An ensemble's other members (the first is its parent), each linked to it."""
    from aimass_lab import registry

    for ref in mv.members[1:]:
        try:
            _version_node(graph, registry.get(ref, workspace=ws))
        except NotFoundError:
            graph.node(f"model:{ref}", "model", str(ref), ref=ref, missing=True)
        graph.edge(f"model:{ref}", f"model:{mv.ref}", "ensemble")


def _origin(graph: _Graph, ws: Any, mv: Any) -> None:
    """Dataset, run and trial of one version, linked to the version's node."""
    target = f"model:{mv.ref}"
    lineage = mv.lineage or {}
    dataset = lineage.get("dataset")
    run_id = mv.run_id or lineage.get("run_id")
    study = lineage.get("study")
    upstream: str | None = None
    if dataset:
        upstream = graph.node(
            f"dataset:{dataset}",
            "dataset",
            str(dataset),
            name=str(dataset),
            fingerprint=lineage.get("data_fingerprint") or mv.data_fingerprint,
        )
    if run_id:
        fields: dict[str, Any] = {"run_id": run_id}
        try:
            job = ws.jobs.get(run_id)
        except NotFoundError:
            fields["missing"] = True
        else:
            fields.update(state=job.state, job_kind=job.kind, name=job.name)
        run = graph.node(f"run:{run_id}", "run", run_id, **fields)
        if upstream is not None:
            graph.edge(upstream, run, "trained on")
        upstream = run
    if study is not None:
        number = lineage.get("trial")
        trial = graph.node(
            f"trial:{study}/{number}",
            "trial",
            f"{study} #{number}",
            study=study,
            number=number,
            params=lineage.get("params"),
            values=lineage.get("values"),
            objectives=lineage.get("objectives"),
        )
        if upstream is not None:
            graph.edge(upstream, trial, "trial of")
        upstream = trial
    if upstream is not None:
        graph.edge(upstream, target, "registered")


def _deployments(ws: Any) -> list[dict[str, Any]]:
    """The workspace's deployments as dicts (none when the serve stage is unavailable)."""
    try:
        from aimass_lab.serve import deployments
    except ImportError:
        return []
    try:
        return [d.to_dict() for d in deployments(workspace=ws)]
    except AimassError:
        return []


def _served_refs(deployment: dict[str, Any]) -> dict[str, Any]:
    """``{ref: weight}`` of the registry versions a deployment serves."""
    split = {str(k): v for k, v in (deployment.get("split") or {}).items()}
    out: dict[str, Any] = {}
    for entry in deployment.get("versions") or []:
        if isinstance(entry, dict):
            ref = entry.get("ref")
            label = str(entry.get("version", ""))
        else:
            ref, label = None, str(entry)
        if ref:
            out[str(ref)] = split.get(label, split.get(str(ref).rpartition(":")[2]))
    for key in ("model", "ref"):
        ref = deployment.get(key)
        if isinstance(ref, str) and ":" in ref and ref not in out:
            out[ref] = split.get(ref.rpartition(":")[2])
    return out


def _deployment_nodes(graph: _Graph, workspace: Any, ref: str) -> list[str]:
    """Link ``ref`` to the deployments that load it, by the current traffic split; return the
    names of the running ones that send it requests."""
    served: list[str] = []
    for deployment in _deployments(workspace):
        refs = _served_refs(deployment)
        if ref not in refs:
            continue
        name = str(deployment.get("name"))
        weight = refs[ref]
        # The current split decides: a version still loaded after traffic moved on is not
        # "deployed" (it serves nothing), nor is any version of a stopped deployment.
        serving = bool(weight) and deployment.get("state") == "running"
        if serving:
            served.append(name)
        node = graph.node(
            f"deployment:{name}",
            "deployment",
            name,
            name=name,
            url=deployment.get("url"),
            endpoint=deployment.get("endpoint"),
            weight=weight or 0,
            state=deployment.get("state"),
        )
        if serving:
            label = "deployed" if weight == 100 else f"deployed, {weight}% of traffic"
        elif deployment.get("state") == "running":
            label = "loaded, 0% of traffic"
        else:
            label = f"was deployed ({deployment.get('state')})"
        graph.edge(f"model:{ref}", node, label)
    return served


def model_lineage(ref: str, workspace: Any) -> dict[str, Any]:
    """Where a model version came from and where it went, as nodes and edges.

    Parameters
    ----------
    ref
        ``name``, ``name:version`` or ``name:alias``.
    workspace
        The workspace.

    Returns
    -------
    dict
        ``ref``; ``ancestors`` (refs, oldest first, ending with this one); ``nodes`` (each with
        ``id``, ``kind`` -- ``dataset``, ``run``, ``trial``, ``model`` or ``deployment`` --,
        ``label`` and kind-specific fields; a deleted ancestor or run has ``missing: true``);
        ``edges`` (``source``, ``target``, ``label``); ``children`` (refs of versions derived
        from this one) and ``deployments`` (names of the running deployments whose current traffic
        split sends it requests; a version loaded at 0% or in a stopped deployment is linked
        with the edge ``loaded, 0% of traffic`` or ``was deployed (stopped)``).

    Raises
    ------
    NotFoundError
        For an unknown model or version.
    """
    from aimass_lab import registry

    mv = registry.get(ref, workspace=workspace)
    graph = _Graph()

    chain = [mv]
    seen = {mv.ref}
    current = mv
    while len(chain) < MAX_DEPTH:
        parent_ref = current.parent or current.lineage.get("parent")
        if not parent_ref or parent_ref in seen:
            break
        try:
            parent = registry.get(parent_ref, workspace=workspace)
        except NotFoundError:
            graph.node(
                f"model:{parent_ref}", "model", str(parent_ref), ref=parent_ref, missing=True
            )
            graph.edge(f"model:{parent_ref}", f"model:{current.ref}", "derived")
            seen.add(parent_ref)
            break
        chain.append(parent)
        seen.add(parent.ref)
        current = parent
    chain.reverse()

    for i, version in enumerate(chain):
        _version_node(graph, version, current=version.ref == mv.ref)
        _origin(graph, workspace, version)
        if i > 0:
            graph.edge(
                f"model:{chain[i - 1].ref}",
                f"model:{version.ref}",
                str(version.lineage.get("source") or "derived"),
            )

    _members(graph, workspace, mv)
    children = sorted(
        (
            v
            for v in registry.list(workspace=workspace)
            if v.parent == mv.ref or mv.ref in v.members
        ),
        key=lambda v: (v.name, v.version),
    )
    for child in children:
        _version_node(graph, child)
        graph.edge(
            f"model:{mv.ref}", f"model:{child.ref}", str(child.lineage.get("source") or "derived")
        )

    served = _deployment_nodes(graph, workspace, mv.ref)

    return {
        "ref": mv.ref,
        "ancestors": [v.ref for v in chain],
        "children": [c.ref for c in children],
        "deployments": served,
        "nodes": list(graph.nodes.values()),
        "edges": graph.edges,
    }
