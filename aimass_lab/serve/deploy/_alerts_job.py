"""Alerts without a notebook: the ``alerts`` watcher job, its history in the store, webhooks.

:func:`watch_alerts` starts a detached ``alerts`` job for one deployment (replacing the
watcher it had). The job scrapes the workspace server's ``/metrics`` every ``interval_s``
seconds, evaluates the rules (:class:`~aimass_lab.serve.deploy._alerts.Evaluator`) and writes
each change of state (firing, resolved) to the store's ``alerts`` table, to its log and, when
the spec names one, to a webhook (a JSON POST; a failing webhook is logged, never fatal).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from aimass_lab.errors import NotFoundError, SpecError, accepted
from aimass_lab.serve.deploy._records import WorkspaceLike
from aimass_lab.specs import AlertRule, AlertSpec
from aimass_lab.workspace import Job, Workspace, resolve_workspace

__all__ = [
    "ALERTS_KIND",
    "alert_history",
    "alert_rules",
    "export_prometheus_rules",
    "post_webhook",
    "run",
    "stop_alerts",
    "watch_alerts",
]

#: The job kind of the watchers.
ALERTS_KIND = "alerts"


# ------------------------------------------------------------------------------ front face
def _spec_of(spec: Any, rules: Any, fields: dict[str, Any]) -> AlertSpec:
    if isinstance(spec, AlertSpec) and rules is None and not fields:
        return spec
    if isinstance(spec, AlertSpec | dict):
        base = spec.to_dict() if isinstance(spec, AlertSpec) else dict(spec)
    else:
        base = {"deployment": getattr(spec, "name", spec)}
    if rules is not None:
        base["rules"] = [r.to_dict() if isinstance(r, AlertRule) else r for r in _listed(rules)]
    return AlertSpec.from_dict({**base, **fields})


def _listed(rules: Any) -> list[Any]:
    return [rules] if isinstance(rules, str | dict | AlertRule) else list(rules)


def _check_deployment(ws: Workspace, name: str) -> None:
    from aimass_lab.serve.deploy._records import read_record

    if read_record(ws, name) is None:
        from aimass_lab.serve.deploy._deploy import deployments

        known = [d.name for d in deployments(ws)]
        raise NotFoundError(
            f"no deployment named {name!r} to watch; accepted: "
            + (accepted(known) if known else "none yet (deploy a model version first)")
        )


def watch_alerts(
    spec: AlertSpec | dict[str, Any] | str,
    rules: Any = None,
    *,
    workspace: WorkspaceLike = None,
    **fields: Any,
) -> Job:
    """Start watching a deployment's metrics in a detached ``alerts`` job.

    Parameters
    ----------
    spec
        An :class:`~aimass_lab.specs.AlertSpec` (or its dict), or the deployment's name.
    rules
        The rules (``AlertRule``, dicts, or texts such as ``"error_rate_pct above 5 for 30s"``).
    fields
        Other ``AlertSpec`` fields: ``interval_s``, ``window_s``, ``webhook``, ...

    Returns
    -------
    Job
        The watcher. It runs until stopped (:func:`stop_alerts`), also when no notebook is
        open; a deployment has one watcher: starting another replaces it.

    Raises
    ------
    SpecError
        An unknown metric, an impossible threshold, a bad webhook URL.
    NotFoundError
        An unknown deployment (naming the known ones).

    Examples
    --------
    >>> watch_alerts("digits", ["error_rate_pct above 5 for 30s"], interval_s=5)  # doctest: +SKIP
    """
    alert_spec = _spec_of(spec, rules, fields)
    ws = resolve_workspace(workspace)
    _check_deployment(ws, alert_spec.deployment)
    stop_alerts(alert_spec.deployment, workspace=ws)
    return ws.jobs.submit(ALERTS_KIND, alert_spec.to_dict(), name=f"alerts {alert_spec.deployment}")


def _watchers(ws: Workspace, deployment: str | None = None) -> list[Job]:
    return [
        j
        for j in ws.jobs.list(kind=ALERTS_KIND)
        if j.active and (deployment is None or j.spec.get("deployment") == deployment)
    ]


def stop_alerts(deployment: str, *, workspace: WorkspaceLike = None, timeout: float = 30.0) -> int:
    """Stop the watchers of ``deployment``; return how many were stopped."""
    ws = resolve_workspace(workspace)
    stopped = 0
    for job in _watchers(ws, deployment):
        try:
            ws.jobs.cancel(job.id)
        except Exception:  # it ended meanwhile
            continue
        ws.jobs.wait(job.id, timeout=timeout, poll=0.1)
        stopped += 1
    return stopped


def alert_rules(
    deployment: str | None = None, *, workspace: WorkspaceLike = None
) -> list[dict[str, Any]]:
    """The running watchers: ``deployment``, ``job_id``, ``state`` and their spec's fields."""
    ws = resolve_workspace(workspace)
    return [
        {"job_id": j.id, "state": j.state, **AlertSpec.from_dict(j.spec).to_dict()}
        for j in _watchers(ws, deployment)
    ]


def alert_history(
    deployment: str | None = None,
    *,
    state: str | None = None,
    limit: int = 100,
    workspace: WorkspaceLike = None,
) -> list[dict[str, Any]]:
    """The alerts recorded (newest first): rule, state (firing/resolved), value, time."""
    from sqlalchemy import select

    from aimass_lab.workspace import AlertRow

    if state not in (None, "firing", "resolved"):
        raise SpecError(
            "alerts",
            [{"field": "state", "value": state, "message": "accepted: 'firing', 'resolved'"}],
        )
    if not 1 <= int(limit) <= 100_000:
        raise SpecError(
            "alerts", [{"field": "limit", "value": limit, "message": "accepted: 1 to 100000"}]
        )
    ws = resolve_workspace(workspace)
    query = select(AlertRow).order_by(AlertRow.at.desc(), AlertRow.id.desc())
    if deployment is not None:
        query = query.where(AlertRow.deployment == deployment)
    if state is not None:
        query = query.where(AlertRow.state == state)
    with ws.store.session() as s:
        rows = s.scalars(query.limit(int(limit))).all()
        return [_row_dict(r) for r in rows]


def _row_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "deployment": row.deployment,
        "rule": row.rule,
        "metric": row.metric,
        "op": row.op,
        "threshold": row.threshold,
        "version": row.version,
        "state": row.state,
        "value": row.value,
        "at": row.at.isoformat() + "Z",
        "job_id": row.job_id,
        "message": row.message,
        **{k: v for k, v in (row.details or {}).items() if k in ("severity", "for_s")},
    }


def export_prometheus_rules(
    spec: AlertSpec | dict[str, Any] | str,
    rules: Any = None,
    *,
    path: str | None = None,
    workspace: WorkspaceLike = None,
    **fields: Any,
) -> str:
    """The spec's rules as a Prometheus alerting-rules YAML file (written to ``path`` when
    given, atomically); returns the YAML text. ``spec`` as for :func:`watch_alerts`; a
    deployment's name alone exports the rules of its running watcher."""
    from aimass_lab.serve.deploy._alerts_prom import prometheus_rules_yaml

    ws = resolve_workspace(workspace)
    if isinstance(spec, str) and rules is None and not fields:
        running = alert_rules(spec, workspace=ws)
        if not running:
            raise NotFoundError(
                f"deployment {spec!r} has no running alerts watcher; accepted: give the rules "
                "(a spec file or --rule) or start one with: aimass alerts watch"
            )
        spec = {k: v for k, v in running[0].items() if k not in ("job_id", "state")}
    alert_spec = _spec_of(spec, rules, fields)
    counts = None
    if any(r.metric.startswith("drift") for r in alert_spec.rules):
        _check_deployment(ws, alert_spec.deployment)
        counts = _ClassCounts(ws, alert_spec.deployment)(None)
    text = prometheus_rules_yaml(alert_spec, counts)
    if path is not None:
        from aimass_lab._io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return text


# ------------------------------------------------------------------------------ the job
def record_alert(ws: Workspace, job_id: str | None, change: dict[str, Any]) -> None:
    """Write one change of state to the store's ``alerts`` table."""
    from aimass_lab.workspace import AlertRow, utcnow

    with ws.store.session() as s:
        s.add(
            AlertRow(
                deployment=change["deployment"],
                rule=change["rule"],
                metric=change["metric"],
                state=change["state"],
                value=change["value"],
                threshold=float(change["threshold"]),
                op=change["op"],
                version=change.get("version"),
                job_id=job_id,
                at=utcnow(),
                message=change["message"],
                details={"severity": change.get("severity"), "for_s": change.get("for_s")},
            )
        )


def post_webhook(
    spec: AlertSpec, change: dict[str, Any], stop: threading.Event | None = None
) -> bool:
    """POST ``change`` as JSON to the spec's webhook, retried ``webhook_retries`` times;
    failures are printed (the job's log), never raised. Returns whether it was delivered."""
    import httpx

    assert spec.webhook is not None
    body = {"source": "aimass-lab", "status": change["state"], **change}
    tries = spec.webhook_retries + 1
    for attempt in range(1, tries + 1):
        try:
            reply = httpx.post(spec.webhook, json=body, timeout=spec.webhook_timeout_s)
            if reply.status_code < 300:
                return True
            why = f"HTTP {reply.status_code}"
        except Exception as exc:  # connection refused, timeout, a bad URL
            why = f"{type(exc).__name__}: {exc}"
        print(
            f"[aimass] webhook {spec.webhook} attempt {attempt}/{tries} failed: {why}", flush=True
        )
        if attempt < tries and (stop or threading.Event()).wait(min(0.25 * 2**attempt, 5.0)):
            break
    return False


class _ClassCounts:
    """The training labels' class counts of the deployment's versions (``class_counts`` in
    their ``model.json``), read from the registry once per set of versions."""

    def __init__(self, ws: Workspace, deployment: str) -> None:
        self.ws, self.deployment = ws, deployment
        self._by_version: dict[str, dict[str, int] | None] = {}

    def _load(self) -> None:
        from aimass_lab.registry import get
        from aimass_lab.serve.deploy._records import read_record

        record = read_record(self.ws, self.deployment) or {}
        for v in record.get("versions", []):
            label = str(v.get("version"))
            if label in self._by_version or not v.get("ref"):
                continue
            try:
                counts = get(v["ref"], self.ws).config.get("class_counts")
            except Exception as exc:
                print(f"[aimass] no class counts for {v['ref']}: {exc}", flush=True)
                counts = None
            self._by_version[label] = {str(k): int(n) for k, n in (counts or {}).items()} or None

    def __call__(self, version: str | None) -> dict[str, int] | None:
        if version is None or version not in self._by_version:
            self._load()
        if version is not None:
            return self._by_version.get(version)
        total: dict[str, int] = {}
        for counts in self._by_version.values():
            for k, n in (counts or {}).items():
                total[k] = total.get(k, 0) + n
        return total or None


def _scrape(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    from aimass_lab.serve.deploy._server_job import client_for, server_job

    job = server_job(ws)
    if job is None:
        raise NotFoundError("the workspace's inference server is not running")
    with client_for(job, timeout=10.0) as client:
        return client.metrics()  # type: ignore[no-any-return]


def run(ctx: Any) -> dict[str, Any]:
    """The ``alerts`` job: scrape, evaluate, record, until stopped (SIGTERM)."""
    from aimass_lab.serve.deploy._alerts import Evaluator

    spec = AlertSpec.from_dict(ctx.spec)
    ws: Workspace = ctx.workspace
    _check_deployment(ws, spec.deployment)
    ctx.in_loop = True  # SIGTERM sets stop_requested; the loop ends at its next wait
    evaluator = Evaluator(spec, _ClassCounts(ws, spec.deployment))
    print(
        f"[aimass] watching deployment {spec.deployment!r} every {spec.interval_s:g} s "
        f"(window {spec.window_s:g} s): " + "; ".join(r.label for r in spec.rules),
        flush=True,
    )
    scrapes = failures = fired = 0
    while not ctx.stop_requested.is_set():
        started = time.monotonic()
        try:
            parsed = _scrape(ws)
        except Exception as exc:
            if failures % 20 == 0:  # the first failure of a run of them, then every 20th
                print(f"[aimass] scrape failed ({failures + 1}): {exc}", flush=True)
            failures += 1
        else:
            failures, scrapes = 0, scrapes + 1
            if scrapes == 1:
                print(f"[aimass] first scrape: {len(parsed)} series", flush=True)
            for change in evaluator.observe(started, parsed):
                fired += change["state"] == "firing"
                print(f"[aimass] alert {change['state']}: {change['message']}", flush=True)
                try:
                    record_alert(ws, ctx.job.id, change)
                except Exception as exc:  # a database hiccup must not end the watch
                    print(f"[aimass] could not record the alert: {exc}", flush=True)
                if spec.webhook:
                    post_webhook(spec, change, ctx.stop_requested)
        ctx.stop_requested.wait(max(0.0, spec.interval_s - (time.monotonic() - started)))
    return {"scrapes": scrapes, "fired": fired}
