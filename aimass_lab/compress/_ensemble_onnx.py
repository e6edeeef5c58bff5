"""One ONNX graph of an ensemble, made of its members' ONNX graphs (with the ``onnx`` package).

Every member's nodes, edges and initializers get a prefix (``m0_``, ``m1_``...), all read the
same ``input``; classification members' logits go through ``Softmax``, then ``Mul`` by their
weight and ``Sum`` (mean, weighted), ``ArgMax`` + ``OneHot`` first (vote), or ``Concat`` +
``MatMul`` + ``Add`` (stack: the meta-model). Mixed probabilities leave as their ``Log`` (plus
a tiny epsilon), so that a softmax of the output gives the probabilities back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aimass_lab.compress._onnx import INPUT_NAME, OUTPUT_NAME, run_onnx, session

__all__ = ["EPS", "combine_onnx", "combine_outputs", "member_outputs"]

#: Added to probabilities before the log (an ensemble outputs log-probabilities, so that a
#: softmax of its output, as the server and the reports compute, gives back the probabilities).
EPS = 1e-12


def _prefixed(model: Any, prefix: str) -> tuple[list[Any], list[Any], str]:
    """The member's nodes and initializers with every name prefixed (the input kept), and the
    new name of its output."""
    import onnx

    graph = model.graph
    if [i.name for i in graph.input if i.name not in {t.name for t in graph.initializer}] != [
        INPUT_NAME
    ] or [o.name for o in graph.output] != [OUTPUT_NAME]:
        raise ValueError(
            f"a member graph must have one input {INPUT_NAME!r} and one output {OUTPUT_NAME!r}"
        )
    keep = {INPUT_NAME, ""}

    def rename(name: str) -> str:
        return name if name in keep else prefix + name

    nodes = []
    for index, node in enumerate(graph.node):
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.name = prefix + (node.name or f"{node.op_type}_{index}")
        new.ClearField("input")
        new.ClearField("output")
        new.input.extend(rename(n) for n in node.input)
        new.output.extend(rename(n) for n in node.output)
        nodes.append(new)
    inits = []
    for tensor in graph.initializer:
        new_t = onnx.TensorProto()
        new_t.CopyFrom(tensor)
        new_t.name = prefix + tensor.name
        inits.append(new_t)
    return nodes, inits, prefix + OUTPUT_NAME


def _opsets(models: list[Any]) -> list[Any]:
    import onnx

    versions: dict[str, int] = {}
    for model in models:
        for entry in model.opset_import:
            versions[entry.domain] = max(versions.get(entry.domain, 0), entry.version)
    return [onnx.helper.make_opsetid(domain, v) for domain, v in sorted(versions.items())]


def _head(
    outs: list[str], method: str, weights: list[float], task: str, n_classes: int, meta: Any
) -> tuple[list[Any], list[Any]]:
    """The nodes and constants that combine the members' outputs into ``output``."""
    from onnx import helper, numpy_helper

    nodes: list[Any] = []
    consts: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        consts.append(numpy_helper.from_array(value, name))
        return name

    parts = outs
    if task != "regression":
        parts = [f"ens_prob{i}" for i in range(len(outs))]
        nodes += [
            helper.make_node("Softmax", [o], [p], axis=-1, name=f"ens_softmax{i}")
            for i, (o, p) in enumerate(zip(outs, parts, strict=True))
        ]
    if method == "stack":
        nodes.append(helper.make_node("Concat", parts, ["ens_feats"], axis=-1, name="ens_concat"))
        coef = const("ens_coef", np.asarray(meta["coef"], np.float32))
        bias = const("ens_bias", np.asarray(meta["intercept"], np.float32))
        nodes.append(helper.make_node("MatMul", ["ens_feats", coef], ["ens_mm"], name="ens_mm"))
        nodes.append(helper.make_node("Add", ["ens_mm", bias], [OUTPUT_NAME], name="ens_add"))
        return nodes, consts
    if method == "vote":
        depth = const("ens_depth", np.asarray(n_classes, np.int64))
        values = const("ens_onehot", np.asarray([0.0, 1.0], np.float32))
        voted = []
        for i, p in enumerate(parts):
            nodes.append(
                helper.make_node(
                    "ArgMax", [p], [f"ens_arg{i}"], axis=-1, keepdims=0, name=f"ens_argmax{i}"
                )
            )
            nodes.append(
                helper.make_node(
                    "OneHot",
                    [f"ens_arg{i}", depth, values],
                    [f"ens_vote{i}"],
                    axis=-1,
                    name=f"ens_onehot{i}",
                )
            )
            voted.append(f"ens_vote{i}")
        parts = voted
    scaled = []
    for i, (p, w) in enumerate(zip(parts, weights, strict=True)):
        wname = const(f"ens_w{i}", np.asarray(w, np.float32))
        nodes.append(helper.make_node("Mul", [p, wname], [f"ens_scaled{i}"], name=f"ens_mul{i}"))
        scaled.append(f"ens_scaled{i}")
    if task == "regression":
        nodes.append(helper.make_node("Sum", scaled, [OUTPUT_NAME], name="ens_sum"))
        return nodes, consts
    eps = const("ens_eps", np.asarray(EPS, np.float32))
    nodes.append(helper.make_node("Sum", scaled, ["ens_mixed"], name="ens_sum"))
    nodes.append(helper.make_node("Add", ["ens_mixed", eps], ["ens_safe"], name="ens_eps_add"))
    nodes.append(helper.make_node("Log", ["ens_safe"], [OUTPUT_NAME], name="ens_log"))
    return nodes, consts


def combine_onnx(
    member_paths: list[Path],
    target: Path,
    *,
    method: str,
    weights: list[float],
    task: str,
    n_classes: int,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write one ONNX graph of the members' graphs combined by ``method`` to ``target``.

    Returns
    -------
    dict
        ``{"format": "onnx", "opset": ..., "input", "output", "dynamic_axes", "ensemble":
        {"members": n, "nodes": ...}}``.
    """
    import onnx
    from onnx import TensorProto, helper

    models = [onnx.load(str(p)) for p in member_paths]
    nodes: list[Any] = []
    inits: list[Any] = []
    outs: list[str] = []
    for i, model in enumerate(models):
        n, t, out = _prefixed(model, f"m{i}_")
        nodes += n
        inits += t
        outs.append(out)
    head, consts = _head(outs, method, weights, task, n_classes, meta)
    first = models[0].graph
    graph_input = next(i for i in first.input if i.name == INPUT_NAME)
    width = 1 if task == "regression" else n_classes
    if task == "regression":
        width = int(first.output[0].type.tensor_type.shape.dim[-1].dim_value or 1)
    output = helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", width])
    graph = helper.make_graph(
        nodes + head, "aimass_ensemble", [graph_input], [output], initializer=inits + consts
    )
    model = helper.make_model(graph, opset_imports=_opsets(models))
    model.ir_version = max(m.ir_version for m in models)
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    return {
        "format": "onnx",
        "opset": int(opset),
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "dynamic_axes": {"batch": 0},
        "external_data": None,
        "exporter": "aimass ensemble (onnx graphs of the members combined)",
        "ensemble": {"members": len(models), "nodes": len(model.graph.node)},
    }


def member_outputs(member_paths: list[Path], x: np.ndarray) -> list[np.ndarray]:
    """Each member's ONNX Runtime outputs on ``x``."""
    return [run_onnx(session(p), x) for p in member_paths]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64) - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


def combine_outputs(
    outs: list[np.ndarray],
    *,
    method: str,
    weights: list[float],
    task: str,
    meta: dict[str, Any] | None = None,
) -> np.ndarray:
    """What the ensemble computes from its members' outputs, in numpy (float64): the
    reference of the parity check and the features of the stacking meta-model."""
    if task == "regression":
        return np.asarray(sum(w * o.astype(np.float64) for w, o in zip(weights, outs, strict=True)))
    probs = [_softmax(o) for o in outs]
    if method == "stack":
        assert meta is not None
        feats = np.concatenate(probs, axis=-1)
        return np.asarray(feats @ np.asarray(meta["coef"]) + np.asarray(meta["intercept"]))
    if method == "vote":
        n = probs[0].shape[-1]
        probs = [np.eye(n)[p.argmax(-1)] for p in probs]
    mixed = sum(w * p for w, p in zip(weights, probs, strict=True))
    return np.asarray(np.log(np.asarray(mixed) + EPS))
