"""``aimass sources``: named data sources and who may read them (no secret is ever printed)."""

from __future__ import annotations

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import echo_fields, emit_json, table
from aimass_lab.cli._root import cli, workspace_of

__all__ = ["sources_group"]


@cli.group("sources")
def sources_group() -> None:
    """Named data sources (SQL database, folder, bucket path) and their read grants.

    \b
    A data spec names a source as source://NAME (SQL: url=) or source://NAME/PATH
    (folders, buckets: path=). The credential is a reference read when data is loaded:
      aimass sources add warehouse sql postgresql://analyst@db/shop --credential env:SHOP_PW
      aimass sources grant warehouse user:ada
    """


@sources_group.command("add")
@click.argument("name")
@click.argument("kind", type=click.Choice(["sql", "folder", "bucket"]))
@click.argument("location")
@click.option(
    "--credential",
    metavar="REF",
    help="Where the secret is read at use time: env:NAME or file:/path (never the secret).",
)
@click.option("--description", help="What the source holds.")
@json_option
@click.pass_context
def add_command(
    ctx: click.Context,
    name: str,
    kind: str,
    location: str,
    credential: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Add data source NAME of KIND at LOCATION (a URL without password, a folder, a bucket).

    You own it: only you may grant, revoke or remove it.
    """
    from aimass_lab.workspace import add_source

    doc = add_source(
        name, kind, location, credential, description=description, workspace=workspace_of(ctx)
    )
    if as_json:
        emit_json(doc)
        return
    click.echo(f"added data source {name} ({kind}), owner {doc['owner']}")


@sources_group.command("list")
@json_option
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """List the data sources, their owners and grants, and whether you may read each."""
    from aimass_lab.workspace import sources

    docs = sources(workspace_of(ctx))
    if as_json:
        emit_json(docs)
        return
    table(docs, ["name", "kind", "location", "credential", "owner", "grants", "readable"])


@sources_group.command("show")
@click.argument("name")
@json_option
@click.pass_context
def show_command(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show data source NAME."""
    from aimass_lab.workspace import get_source

    doc = get_source(name, workspace_of(ctx))
    if as_json:
        emit_json(doc)
        return
    echo_fields(doc)


def _grants(ctx: click.Context, name: str, principal: str, give: bool, as_json: bool) -> None:
    from aimass_lab.workspace import grant, revoke

    doc = (grant if give else revoke)(name, principal, workspace_of(ctx))
    if as_json:
        emit_json(doc)
        return
    verb = "granted read access to" if give else "revoked read access to"
    click.echo(f"{verb} {name} for {principal}; grants: {', '.join(doc['grants']) or '(none)'}")


@sources_group.command("grant")
@click.argument("name")
@click.argument("principal")
@json_option
@click.pass_context
def grant_command(ctx: click.Context, name: str, principal: str, as_json: bool) -> None:
    """Let PRINCIPAL (user:NAME or group:NAME) read data source NAME (its owner only)."""
    _grants(ctx, name, principal, True, as_json)


@sources_group.command("revoke")
@click.argument("name")
@click.argument("principal")
@json_option
@click.pass_context
def revoke_command(ctx: click.Context, name: str, principal: str, as_json: bool) -> None:
    """Take back PRINCIPAL's read access to data source NAME (its owner only)."""
    _grants(ctx, name, principal, False, as_json)


@sources_group.command("remove")
@click.argument("name")
@click.pass_context
def remove_command(ctx: click.Context, name: str) -> None:
    """Remove data source NAME and its grants (its owner only)."""
    from aimass_lab.workspace import remove_source

    remove_source(name, workspace_of(ctx))
    click.echo(f"removed data source {name}")


@sources_group.command("group")
@click.argument("action", type=click.Choice(["add", "remove", "list"]))
@click.argument("group", required=False)
@click.argument("user", required=False)
@click.pass_context
def group_command(ctx: click.Context, action: str, group: str | None, user: str | None) -> None:
    """Workspace groups: add USER to GROUP, remove USER from GROUP, or list the groups.

    \b
    The first `add` makes the group, owned by you; only you may change it then.
      aimass sources group add teachers ada
    """
    from aimass_lab.workspace import add_to_group, groups, remove_from_group

    ws = workspace_of(ctx)
    if action == "list":
        for name, doc in groups(ws).items():
            click.echo(f"{name} (owner {doc['owner']}): {', '.join(doc['members'])}")
        return
    if not group or not user:
        raise click.UsageError(f"`aimass sources group {action}` needs GROUP and USER")
    (add_to_group if action == "add" else remove_from_group)(group, user, ws)
    click.echo(
        f"{'added' if action == 'add' else 'removed'} {user} {'to' if action == 'add' else 'from'} group {group}"
    )
