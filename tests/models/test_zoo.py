"""The model zoo: shapes inferred from data, clear errors for misfits."""

from __future__ import annotations

import pytest
import torch

from aimass_lab.errors import AimassError, SpecError
from aimass_lab.models import FAMILIES, TaskModule, build_network, list_models, metric_names
from aimass_lab.specs import ModelSpec


@pytest.mark.parametrize(
    "family",
    sorted(f for f in FAMILIES if "image" in FAMILIES[f].inputs and f != "pretrained"),
)
def test_every_family_fits_images(family: str) -> None:
    net = build_network(ModelSpec(family=family), (1, 8, 8), 10)
    out = net(torch.randn(5, 1, 8, 8))
    assert out.shape == (5, 10)
    assert sum(p.numel() for p in net.parameters()) > 0


@pytest.mark.parametrize("family", ["mlp", "gru", "lstm", "transformer"])
def test_tabular_families(family: str) -> None:
    net = build_network(ModelSpec(family=family), (13,), 3)
    assert net(torch.randn(4, 13)).shape == (4, 3)


def test_hparams_change_the_network() -> None:
    small = build_network(ModelSpec(family="mlp", hparams={"hidden": 8, "layers": 1}), (64,), 10)
    big = build_network(ModelSpec(family="mlp", hparams={"hidden": 256, "layers": 3}), (64,), 10)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(small) == 64 * 8 + 8 + 8 * 10 + 10
    assert count(big) > 10 * count(small)
    bi = build_network(ModelSpec(family="gru", hparams={"bidirectional": "true"}), (5,), 2)
    assert bi.rnn.bidirectional  # type: ignore[union-attr]


def test_cnn_on_tabular_data_names_the_fix() -> None:
    with pytest.raises(
        SpecError,
        match=r"model 'cnn' takes image input.*tabular with shape \(13,\).*'mlp', 'gru'.*as_images=True",
    ):
        build_network(ModelSpec(family="cnn"), (13,), 3)


def test_transformer_heads_must_divide_d_model() -> None:
    with pytest.raises(SpecError, match=r"hparams.heads: got 3: must divide d_model \(32\)"):
        build_network(ModelSpec(family="transformer", hparams={"heads": 3}), (8,), 2)


def test_unknown_hparam_lists_accepted() -> None:
    with pytest.raises(
        SpecError,
        match=r"model 'mlp' takes no hyperparameter 'width'; accepted: activation, dropout, hidden, layers",
    ):
        ModelSpec(family="mlp", hparams={"width": 3})


def test_hparam_type_and_range_errors() -> None:
    with pytest.raises(SpecError, match=r"hparams.hidden.*'abc'.*expected an integer"):
        ModelSpec(family="mlp", hparams={"hidden": "abc"})
    with pytest.raises(SpecError, match=r"hparams.dropout.*must be between 0.0 and 0.95"):
        ModelSpec(family="mlp", hparams={"dropout": 1.5})
    with pytest.raises(SpecError, match=r"hparams.activation.*accepted: relu, gelu, tanh, silu"):
        ModelSpec(family="mlp", hparams={"activation": "swishy"})


def test_unknown_family_lists_zoo() -> None:
    with pytest.raises(
        SpecError,
        match=r"unknown model 'vgg'; accepted: 'mlp', 'cnn', 'resnet', 'gru', 'lstm', 'transformer', "
        r"'text_transformer', 'pretrained', 'custom'",
    ):
        ModelSpec(family="vgg")


def test_custom_model_by_import_path() -> None:
    net = build_network(
        ModelSpec(
            family="custom", target="torch.nn:Linear", hparams={"in_features": 4, "out_features": 2}
        ),
        (4,),
        2,
    )
    assert isinstance(net, torch.nn.Linear)
    with pytest.raises(AimassError, match=r"cannot import custom model 'nowhere.mod:Net'"):
        build_network(ModelSpec(family="custom", target="nowhere.mod:Net"), (4,), 2)
    with pytest.raises(AimassError, match=r"'os:system' is not a torch.nn.Module subclass"):
        build_network(
            ModelSpec(family="custom", target="os:system", hparams={"command": "true"}), (4,), 2
        )


def test_task_module_logs_named_metrics() -> None:
    module = TaskModule(build_network(ModelSpec(), (4,), 3), task="classification", output_dim=3)
    assert module(torch.randn(2, 4)).shape == (2, 3)
    assert set(module.val_metrics.keys()) == {
        f"val_{n}" for n in ("acc", "precision", "recall", "f1", "auroc")
    }
    reg = TaskModule(
        build_network(ModelSpec(), (4,), 1),
        task="regression",
        output_dim=1,
        target_stats={"mean": 100.0, "std": 10.0},
    )
    torch.nn.init.zeros_(reg.network.net[-1].weight)  # type: ignore[index]
    torch.nn.init.zeros_(reg.network.net[-1].bias)  # type: ignore[index]
    assert torch.allclose(reg(torch.randn(3, 4)), torch.full((3,), 100.0))
    assert metric_names("regression") == [
        "val_loss",
        "val_mae",
        "val_rmse",
        "val_r2",
        "val_pearson",
    ]


def test_list_models_describes_the_zoo() -> None:
    names = [m["name"] for m in list_models()]
    assert names == [
        "mlp", "cnn", "resnet", "gru", "lstm", "transformer", "text_transformer", "pretrained"
    ]  # fmt: skip
    assert list_models()[0]["hparams"]["hidden"] == 128
