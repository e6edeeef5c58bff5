"""Specs: JSON and YAML round trips; errors that name the field, the value and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from aimass_lab.errors import DataError, SpecError
from aimass_lab.specs import DataSpec, ModelSpec, SplitSpec, TrainSpec, split_hparams


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
    with pytest.raises(SpecError, match=r"source 'jsonl' needs target.*--target in the CLI"):
        DataSpec(source="jsonl", path="a.jsonl")
    # csv/parquet: the target is read from the file's header when the data is loaded
    assert DataSpec(source="csv", path="a.csv").target is None


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


def test_split_hparams_refuses_a_training_field_given_twice() -> None:
    assert split_hparams({"max_epochs": 5, "hidden": 8}, {"max_epochs": 5, "lr": None}) == (
        {"max_epochs": 5},
        {"hidden": 8},
    )
    with pytest.raises(
        SpecError,
        match=r"max_epochs: got 3: max_epochs is given twice with different values: "
        r"max_epochs=5 and hparams\['max_epochs'\]=3; give it once",
    ):
        split_hparams({"max_epochs": 3}, {"max_epochs": 5})


def test_model_errors_name_their_field() -> None:
    with pytest.raises(SpecError) as info:
        TrainSpec.from_dict(
            {"data": {"name": "iris"}, "model": {"family": "mlp", "hparams": {"width": 3}}}
        )
    assert info.value.errors[0]["field"] == "model.hparams.width"
    assert "(spec)" not in str(info.value)
    with pytest.raises(SpecError) as info:
        ModelSpec(family="vgg")
    assert info.value.errors[0]["field"] == "family"


def test_split_rows_rule() -> None:
    split = SplitSpec(val=0.2, test=0.2)
    assert split.sizes(150) == {"train": 90, "val": 30, "test": 30}
    split.check_rows(3)
    with pytest.raises(
        DataError,
        match=r"cannot split 2 rows with val=0\.2, test=0\.2: the test part takes 1 and the "
        r"validation part 1, which leaves no rows to train on\. Use more data",
    ):
        split.check_rows(2)
    with pytest.raises(
        DataError,
        match=r"cannot split 6 rows with val=0\.15, test=0\.5, folds=5: 5 folds need at least "
        r"5 rows outside the test part; there are 3",
    ):
        SplitSpec(test=0.5, folds=5).check_rows(6)
