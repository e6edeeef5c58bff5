"""CompressSpec: the short method strings, defaults and round trips."""

from __future__ import annotations

from aimass_lab.specs import (
    CompressSpec,
    DistillSpec,
    LowRankSpec,
    PruneSpec,
    QuantizeSpec,
    parse_method,
)


def test_method_strings_parse_to_specs() -> None:
    spec = CompressSpec(
        methods=[
            "prune:structured:0.5:epochs=3",
            "prune:0.25:layer",
            "lowrank:16",
            "low-rank:0.8",
            "distill:student=mlp-tiny:temperature=2",
            "quantize:static:per-channel",
        ]
    )
    a, b, c, d, e, f = spec.methods
    assert isinstance(a, PruneSpec) and (a.kind, a.ratio, a.finetune_epochs) == (
        "structured",
        0.5,
        3,
    )
    assert isinstance(b, PruneSpec) and (b.kind, b.ratio, b.scope) == (
        "unstructured",
        0.25,
        "layer",
    )
    assert isinstance(c, LowRankSpec) and (c.rank, c.energy) == (16, None)
    assert isinstance(d, LowRankSpec) and (d.rank, d.energy) == (None, 0.8)
    assert isinstance(e, DistillSpec) and e.temperature == 2.0
    assert e.student_spec().to_dict() == {
        "family": "mlp",
        "hparams": {"hidden": 16, "layers": 1},
        "path": None,  # ModelSpec.path (pretrained models, issue 14)
        "target": None,
        "architecture": None,
    }
    assert isinstance(f, QuantizeSpec) and (f.mode, f.per_channel) == ("int8-static", True)
    assert [m.label for m in spec.methods] == [
        "prune:structured:0.5",
        "prune:unstructured:0.25",
        "low-rank:rank=16",
        "low-rank:energy=0.8",
        "distill:student=mlp-tiny",
        "quantize:int8-static:per-channel",
    ]
    assert CompressSpec.from_json(spec.to_json()) == spec
    assert CompressSpec.from_yaml(spec.to_yaml()) == spec


def test_defaults() -> None:
    assert parse_method("quantize") == {"method": "quantize"}
    assert LowRankSpec().energy == 0.9
    spec = CompressSpec(methods="prune:structured:0.5")
    assert spec.benchmark.runs == 50 and spec.parity_atol == 1e-4 and spec.name is None
