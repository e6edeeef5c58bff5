"""The options the ``aimass`` commands build from spec fields, and the one ``--set`` parser.

In process and without a workspace: only click's parsing and ``--help`` are exercised.
"""

from __future__ import annotations

import typing

import click
import pytest
from click.testing import CliRunner

from aimass_lab.cli import cli
from aimass_lab.cli._options import field_option, given, parse_sets
from aimass_lab.specs import SearchSpec, TrainSpec


def _option(command: click.Command, flag: str) -> click.Option:
    for param in command.params:
        if isinstance(param, click.Option) and flag in param.opts:
            return param
    raise AssertionError(f"{command.name} has no option {flag}")


def test_train_options_mirror_the_trainspec_fields() -> None:
    train = cli.commands["train"]
    accelerator = _option(train, "--accelerator")
    assert accelerator.type is click.STRING  # the spec refuses a bad choice, not click
    literal = TrainSpec.model_fields["accelerator"].annotation
    assert accelerator.metavar == "[" + "|".join(typing.get_args(literal)) + "]"
    epochs = _option(train, "--epochs")
    assert epochs.name == "max_epochs" and epochs.type is click.INT
    assert epochs.help == f"max_epochs [default: {TrainSpec.model_fields['max_epochs'].default}]."
    assert _option(train, "--lr").type is click.FLOAT
    assert _option(train, "--name").help == "A label for the run."


def test_search_options_mirror_the_searchspec_fields() -> None:
    search = cli.commands["search"]
    trials = _option(search, "--trials")
    assert trials.name == "n_trials"
    assert trials.help == "Trials in all workers [default: 20]."
    assert _option(search, "--timeout").help == "Seconds for the whole search."
    assert _option(search, "--sampler").help == (
        f"{SearchSpec.model_fields['sampler'].description} [default: tpe]."
    )
    assert _option(search, "--objective").multiple


def test_field_options_have_no_default_so_a_config_file_keeps_its_values() -> None:
    seen: dict[str, typing.Any] = {}

    @click.command()
    @field_option(TrainSpec, "max_epochs", "--epochs")
    @field_option(TrainSpec, "seed", "--seed")
    @field_option(SearchSpec, "objectives", "--objective", multiple=True)
    def command(**flags: typing.Any) -> None:
        seen.update(given(flags))

    result = CliRunner().invoke(command, ["--seed", "0"])
    assert result.exit_code == 0, result.output
    assert seen == {"seed": 0}  # 0 is given; absent flags and an empty repeatable are not
    CliRunner().invoke(command, ["--objective", "val_acc:max", "--epochs", "3"])
    assert seen == {"seed": 0, "objectives": ["val_acc:max"], "max_epochs": 3}


def test_a_bad_choice_is_refused_by_the_spec_and_a_bad_number_by_click() -> None:
    result = CliRunner().invoke(cli, ["train", "--data", "iris", "--accelerator", "tpu"])
    assert result.exit_code == 1
    assert "accelerator: got 'tpu'" in result.output  # the spec's error: field, value, choices
    assert all(f"'{c}'" in result.output for c in ("auto", "cpu", "gpu", "cuda", "mps"))
    result = CliRunner().invoke(cli, ["search", "--trials", "many"])
    assert result.exit_code == 2
    assert "'many' is not a valid integer" in result.output


def test_parse_sets_reads_values_as_yaml() -> None:
    assert parse_sets(("hidden=128", "lr=0.01", "act = relu", "layers=[1, 2]", "flag=true")) == {
        "hidden": 128,
        "lr": 0.01,
        "act": "relu",
        "layers": [1, 2],
        "flag": True,
    }
    assert parse_sets(("name=",)) == {"name": ""}


@pytest.mark.parametrize("pair", ["novalue", "=3"])
def test_parse_sets_refuses_a_pair_without_key_or_equals(pair: str) -> None:
    with pytest.raises(click.BadParameter, match=f"expected KEY=VALUE, got '{pair}'"):
        parse_sets((pair,))
