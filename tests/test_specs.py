"""Specs: JSON and YAML round trips; errors that name the field, the value and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimass_lab.errors import SpecError
from aimass_lab.specs import DataSpec, ModelSpec, TrainSpec, split_hparams


def _spec() -> TrainSpec:
    return TrainSpec.from_dict(
        {
            "data": {"name": "digits", "as_images": True, "split": {"val": 0.2, "seed": 3}},
            "model": {"family": "cnn", "hparams": {"channels": "8"}},
            "max_epochs": 4,
            "early_stopping": {"monitor": "val_acc", "mode": "max"},
            "devices": "2",
        }
    )


def test_json_and_yaml_round_trip(tmp_path: Path) -> None:
    spec = _spec()
    assert spec.model.hparams == {"channels": 8}
    assert spec.devices == 2
    assert TrainSpec.from_json(spec.to_json()) == spec
    assert TrainSpec.from_yaml(spec.to_yaml()) == spec
    path = tmp_path / "train.yaml"
    path.write_text(spec.to_yaml())
    assert TrainSpec.from_yaml(path) == spec
    assert TrainSpec.from_yaml(str(path)) == spec


def test_wrong_type_names_field_and_value() -> None:
    with pytest.raises(SpecError) as info:
        TrainSpec.from_dict({"data": {"name": "digits"}, "max_epochs": "many"})
    assert "max_epochs: got 'many': Input should be a valid integer" in str(info.value)
    assert info.value.errors[0]["field"] == "max_epochs"


def test_unknown_field_lists_accepted() -> None:
    with pytest.raises(
        SpecError, match=r"epochs: unknown field 'epochs'; accepted: data, model, name, max_epochs"
    ):
        TrainSpec.from_dict({"data": {"name": "digits"}, "epochs": 3})


def test_nested_errors_have_dotted_paths() -> None:
    with pytest.raises(
        SpecError, match=r"DataSpec:\n  - split\.val: got 1\.5: Input should be less than 1"
    ):
        DataSpec.from_dict({"name": "iris", "split": {"val": 1.5}})


def test_unknown_dataset_lists_builtins() -> None:
    with pytest.raises(
        SpecError, match=r"unknown dataset 'mnist'; built-in datasets: 'iris', 'digits', 'wine'"
    ):
        DataSpec(name="mnist")


def test_unknown_source_lists_accepted() -> None:
    with pytest.raises(
        SpecError, match=r"unknown source 'excel'; accepted: 'builtin', 'csv', 'parquet'"
    ):
        DataSpec(source="excel", path="x.xlsx")


def test_table_sources_need_a_target() -> None:
    with pytest.raises(SpecError, match=r"source 'csv' needs target"):
        DataSpec(source="csv", path="a.csv")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("strategy", "horovod", "unknown strategy 'horovod'; accepted: 'auto', 'ddp'"),
        ("precision", "8", "unknown precision '8'; accepted: '64-true', '32-true'"),
        ("devices", 0, "accepted: 'auto', a positive count, -1 for all, or a list of indices"),
        ("optimizer", "lion", "Input should be 'adam', 'adamw' or 'sgd'"),
        ("lr", -1, "Input should be greater than 0"),
    ],
)
def test_train_field_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        TrainSpec.from_dict({"data": {"name": "digits"}, field: value})


def test_malformed_documents() -> None:
    with pytest.raises(SpecError, match="malformed JSON"):
        TrainSpec.from_json("{nope")
    with pytest.raises(SpecError, match="malformed YAML"):
        TrainSpec.from_yaml("a: [1,\n")
    with pytest.raises(SpecError, match=r"config file not found: missing\.yaml"):
        TrainSpec.from_yaml("missing.yaml")
    with pytest.raises(SpecError, match="expected a mapping"):
        TrainSpec.from_dict([1, 2])  # type: ignore[arg-type]


def test_split_hparams_routes_training_keys() -> None:
    train, model = split_hparams({"lr": 0.01, "hidden": 64, "batch_size": 32})
    assert train == {"lr": 0.01, "batch_size": 32}
    assert model == {"hidden": 64}
    assert ModelSpec(family="mlp", hparams=model).resolved_hparams()["hidden"] == 64
