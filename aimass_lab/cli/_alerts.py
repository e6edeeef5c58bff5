"""``aimass alerts ...``: watch a deployment's metrics without a notebook, list the alert
history, show the rules, export them as Prometheus alerting rules.

Thin: every command builds an :class:`~aimass_lab.specs.AlertSpec` and calls
:mod:`aimass_lab.serve`.
"""

from __future__ import annotations

from typing import Any

import click

from aimass_lab.cli._options import json_option
from aimass_lab.cli._output import emit_json, table
from aimass_lab.cli._root import AimassGroup, cli, workspace_of

__all__ = ["alerts_group"]


def _spec(
    deployment: str | None,
    spec_file: str | None,
    rules: tuple[str, ...],
    options: dict[str, Any],
) -> Any:
    """The AlertSpec of a command's arguments: a spec file, overridden by the options."""
    from aimass_lab.errors import SpecError
    from aimass_lab.specs import AlertSpec, read_yaml

    doc: dict[str, Any] = {}
    if spec_file:
        loaded = read_yaml(spec_file, "AlertSpec", what="alerts spec file")
        if not isinstance(loaded, dict):
            raise SpecError("AlertSpec", [{"field": "", "message": "expected a mapping"}])
        doc.update(loaded)
    if deployment:
        doc["deployment"] = deployment
    if rules:
        doc["rules"] = list(rules)
    doc.update({k: v for k, v in options.items() if v is not None})
    if "deployment" not in doc:
        raise click.UsageError("give the DEPLOYMENT, or a spec file (-f) that names it")
    return AlertSpec.from_dict(doc)


def _spec_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("-f", "--file", "spec_file", type=click.Path(dir_okay=False),
                         help="An AlertSpec YAML file (deployment, rules, interval_s, webhook...)."),
            click.option("--rule", "rules", multiple=True, metavar="RULE",
                         help="'METRIC above|below THRESHOLD [for SECONDS]', repeatable; metrics: "
                         "error_rate_pct, p99_ms, request_rate, queue_depth, drift_tv, drift_psi."),
            click.option("--interval", "interval_s", type=float, help="Seconds between scrapes [15]."),
            click.option("--window", "window_s", type=float,
                         help="Seconds of scrapes rates are computed over [60]."),
            click.option("--webhook", help="URL that gets a JSON POST on fire and resolve."),
        ]
    ):  # fmt: skip
        func = option(func)
    return func


@cli.group("alerts", cls=AimassGroup)
def alerts_group() -> None:
    """Alerts on deployments, evaluated by a workspace job (no notebook needed)."""


@alerts_group.command("watch")
@click.argument("deployment", required=False)
@_spec_options
@json_option
@click.pass_context
def alerts_watch(
    ctx: click.Context,
    deployment: str | None,
    spec_file: str | None,
    rules: tuple[str, ...],
    interval_s: float | None,
    window_s: float | None,
    webhook: str | None,
    as_json: bool,
) -> None:
    """Start the alerts watcher of DEPLOYMENT (replacing the one it had).

    \b
    aimass alerts watch digits --rule "error_rate_pct above 5 for 30s" --rule "drift_tv above 0.3"
    aimass alerts watch -f alerts.yaml
    """
    from aimass_lab.serve import watch_alerts

    options = {"interval_s": interval_s, "window_s": window_s, "webhook": webhook}
    spec = _spec(deployment, spec_file, rules, options)
    job = watch_alerts(spec, workspace=workspace_of(ctx))
    if as_json:
        emit_json({"job_id": job.id, **spec.to_dict()})
        return
    click.echo(f"watching {spec.deployment}: job {job.id}")
    for rule in spec.rules:
        click.echo(f"  {rule.label}")
    click.echo(
        f"history: aimass alerts list {spec.deployment}; stop: aimass alerts stop {spec.deployment}"
    )


@alerts_group.command("stop")
@click.argument("deployment")
@click.pass_context
def alerts_stop(ctx: click.Context, deployment: str) -> None:
    """Stop the alerts watcher of DEPLOYMENT."""
    from aimass_lab.serve import stop_alerts

    n = stop_alerts(deployment, workspace=workspace_of(ctx))
    click.echo(f"stopped {n} watcher(s) of {deployment}")


@alerts_group.command("list")
@click.argument("deployment", required=False)
@click.option("--state", type=click.Choice(["firing", "resolved"]), help="Only this state.")
@click.option("--limit", type=int, default=100, show_default=True)
@json_option
@click.pass_context
def alerts_list(
    ctx: click.Context, deployment: str | None, state: str | None, limit: int, as_json: bool
) -> None:
    """The alert history (newest first), of DEPLOYMENT or of all."""
    from aimass_lab.serve import alert_history

    rows = alert_history(deployment, state=state, limit=limit, workspace=workspace_of(ctx))
    if as_json:
        emit_json(rows)
        return
    table(rows, ["at", "deployment", "state", "rule", "value", "version"])


@alerts_group.command("rules")
@click.argument("deployment", required=False)
@json_option
@click.pass_context
def alerts_rules(ctx: click.Context, deployment: str | None, as_json: bool) -> None:
    """The rules of the running watchers (of DEPLOYMENT, or of all)."""
    from aimass_lab.serve import alert_rules
    from aimass_lab.specs import AlertRule

    watchers = alert_rules(deployment, workspace=workspace_of(ctx))
    if as_json:
        emit_json(watchers)
        return
    rows = [
        {
            "deployment": w["deployment"],
            "job_id": w["job_id"],
            "rule": AlertRule.from_dict(r).label,
            "interval_s": w["interval_s"],
            "window_s": w["window_s"],
            "webhook": w.get("webhook"),
        }
        for w in watchers
        for r in w["rules"]
    ]
    table(rows, ["deployment", "job_id", "rule", "interval_s", "window_s", "webhook"])


@alerts_group.command("export-prometheus")
@click.argument("deployment", required=False)
@_spec_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the YAML here.")
@click.pass_context
def alerts_export(
    ctx: click.Context,
    deployment: str | None,
    spec_file: str | None,
    rules: tuple[str, ...],
    interval_s: float | None,
    window_s: float | None,
    webhook: str | None,
    output: str | None,
) -> None:
    """Prometheus alerting rules (YAML) for the rules given, or of DEPLOYMENT's watcher.

    \b
    aimass alerts export-prometheus digits -o digits-alerts.yml
    aimass alerts export-prometheus -f alerts.yaml
    """
    from aimass_lab.serve import export_prometheus_rules

    ws = workspace_of(ctx)
    options = {"interval_s": interval_s, "window_s": window_s, "webhook": webhook}
    if deployment and not spec_file and not rules:
        text = export_prometheus_rules(deployment, path=output, workspace=ws)
    else:
        spec = _spec(deployment, spec_file, rules, options)
        text = export_prometheus_rules(spec, path=output, workspace=ws)
    if output:
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
