"""``aimass challenge ...``: workshop challenges from a terminal: create one, submit a model
version (as :envvar:`AIMASS_USER` / ``JUPYTERHUB_USER`` / the login name), show the board,
and the owner's freeze, unfreeze, reset; export the board as CSV.

Thin: every command calls :mod:`aimass_lab.challenge`.
"""

from __future__ import annotations

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import emit_json, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of

__all__ = ["challenge_group"]


@cli.group("challenge", cls=AimassGroup)
def challenge_group() -> None:
    """Workshop challenges: models scored by the workspace on hidden rows, ranked on a board."""


@challenge_group.command("create")
@click.argument("name")
@click.argument("dataset")
@click.option(
    "--metric",
    default="accuracy",
    show_default=True,
    help="accuracy, f1_macro (classification); r2, rmse (regression).",
)
@click.option(
    "--hidden",
    type=float,
    default=0.25,
    show_default=True,
    help="Fraction of the rows held out for scoring.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the cut.")
@click.option("--public", help="Name of the participants' dataset [NAME-public].")
@click.option("--description", help="One line for the board.")
@json_option
@click.pass_context
def challenge_create(
    ctx: click.Context, name: str, dataset: str, metric: str, hidden: float, seed: int,
    public: str | None, description: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Create challenge NAME on DATASET (a built-in or registered table); you own it.

    \b
    aimass challenge create iris-cup iris --metric f1_macro
    """
    from aimass_lab.challenge import create_challenge

    c = create_challenge(
        name, dataset, metric=metric, hidden=hidden, seed=seed, public=public,
        description=description, workspace=workspace_of(ctx),
    )  # fmt: skip
    if as_json:
        emit_json(c.to_dict())
        return
    click.echo(
        f"challenge {c.name}: {c.hidden_rows} hidden rows, {c.public_rows} in dataset "
        f"{c.public} for the participants; metric {c.spec.metric}; owner {c.owner}"
    )


@challenge_group.command("list")
@json_option
@click.pass_context
def challenge_list(ctx: click.Context, as_json: bool) -> None:
    """The challenges of the workspace."""
    from aimass_lab.challenge import list_challenges

    rows = [c.to_dict() for c in list_challenges(workspace_of(ctx))]
    if as_json:
        emit_json(rows)
        return
    table(rows, ["name", "public", "metric", "owner", "frozen", "hidden_rows"])


@challenge_group.command("submit")
@click.argument("name")
@click.argument("model")
@json_option
@click.pass_context
def challenge_submit(ctx: click.Context, name: str, model: str, as_json: bool) -> None:
    """Score MODEL (a registered version: 'name:version') on challenge NAME's hidden rows."""
    from aimass_lab.challenge import submit

    sub = submit(name, model, workspace_of(ctx))
    if as_json:
        emit_json(sub.to_dict())
        return
    click.echo(f"{sub.participant}: {sub.model} scored {sub.score:.4f} on {name}")


@challenge_group.command("board")
@click.argument("name")
@json_option
@click.pass_context
def challenge_board(ctx: click.Context, name: str, as_json: bool) -> None:
    """The board of challenge NAME: each participant's best score, ranked."""
    from aimass_lab.challenge import leaderboard

    board = leaderboard(name, workspace_of(ctx))
    if as_json:
        emit_json(board.to_dict())
        return
    c = board.challenge
    click.echo(
        f"{c.name} ({c.spec.metric}{', frozen' if c.frozen else ''}): "
        f"{len(board.rows)} participants, {board.submissions} submissions"
    )
    table(board.rows, ["rank", "participant", "score", "model", "submitted_at", "submissions"])


@challenge_group.command("freeze")
@click.argument("name")
@click.pass_context
def challenge_freeze(ctx: click.Context, name: str) -> None:
    """Refuse further submissions to NAME (its owner only)."""
    from aimass_lab.challenge import freeze

    freeze(name, workspace_of(ctx))
    click.echo(f"challenge {name} is frozen")


@challenge_group.command("unfreeze")
@click.argument("name")
@click.pass_context
def challenge_unfreeze(ctx: click.Context, name: str) -> None:
    """Accept submissions to NAME again (its owner only)."""
    from aimass_lab.challenge import unfreeze

    unfreeze(name, workspace_of(ctx))
    click.echo(f"challenge {name} takes submissions")


@challenge_group.command("reset")
@click.argument("name")
@click.pass_context
def challenge_reset(ctx: click.Context, name: str) -> None:
    """Remove every submission of NAME (its owner only)."""
    from aimass_lab.challenge import reset

    n = reset(name, workspace_of(ctx))
    click.echo(f"removed {n} submission(s) of {name}")


@challenge_group.command("export")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the CSV here (default: print it).",
)
@click.pass_context
def challenge_export(ctx: click.Context, name: str, output: str | None) -> None:
    """The board of NAME as CSV: rank, participant, score, model, submitted_at, submissions."""
    from aimass_lab.challenge import board_csv, export_csv, leaderboard

    if output:
        export_csv(name, output, workspace_of(ctx))
        click.echo(f"wrote {output}")
    else:
        click.echo(board_csv(leaderboard(name, workspace_of(ctx))), nl=False)


@challenge_group.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def challenge_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete challenge NAME, its submissions and its public dataset (its owner only)."""
    from aimass_lab.challenge import delete_challenge

    if not yes:
        click.confirm(f"delete challenge {name} and its board?", abort=True)
    delete_challenge(name, workspace_of(ctx))
    click.echo(f"deleted challenge {name}")
