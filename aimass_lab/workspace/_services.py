"""Services: long-running jobs (the inference server, optuna-dashboard) that may belong to a
kernel.

A service job records who started it (``jobs.owner``) and, when a Jupyter kernel started it,
which one (``jobs.kernel_id``, and ``spec["kernel"]``: the kernel's id, process id, process
start time and host, so that anyone on that host can tell whether the kernel still runs).
A service stops itself when idle or when its kernel ends (the server watches both, see
``aimass_lab.serve``); :func:`orphaned_services` (``aimass gc``) finds and stops those whose
kernel is gone or whose process died. Only the kinds registered with
:func:`register_service_kind` are services: detached training and search jobs never are.
"""

from __future__ import annotations

import socket
from typing import Any

from aimass_lab.workspace._kernel import kernel_alive, process_alive

__all__ = [
    "orphaned_services",
    "register_service_kind",
    "service_idle_timeout",
    "service_kinds",
    "service_lifetime",
]

_SERVICE_KINDS: set[str] = set()


def register_service_kind(kind: str) -> None:
    """Mark job kind ``kind`` as a service (idle shutdown, kernel binding, ``aimass gc``)."""
    _SERVICE_KINDS.add(kind)


def service_kinds() -> tuple[str, ...]:
    """The job kinds that are services."""
    from aimass_lab.workspace._kinds import _load

    _load()  # the stages register their kinds (and service kinds) as they load
    return tuple(sorted(_SERVICE_KINDS))


def service_idle_timeout(idle_timeout_s: float | None, what: str) -> float:
    """A service's idle timeout in seconds: ``idle_timeout_s``, or ``AIMASS_IDLE_SHUTDOWN_S``
    when ``None``; a negative one is refused (:class:`~aimass_lab.errors.SpecError` naming
    ``what`` and what is accepted)."""
    from aimass_lab.errors import SpecError
    from aimass_lab.settings import settings

    timeout = settings().idle_shutdown_s if idle_timeout_s is None else float(idle_timeout_s)
    if timeout < 0:
        problem = {
            "field": "idle_timeout_s",
            "value": timeout,
            "message": "accepted: seconds >= 0 (0: never)",
        }
        raise SpecError(what, [problem])
    return timeout


def service_lifetime(
    idle_timeout_s: float | None, stop_with_kernel: bool | None, what: str
) -> dict[str, Any]:
    """The part of a new service's spec that says when it stops by itself: its idle timeout
    (:func:`service_idle_timeout`) and, when this process is a Jupyter kernel, that kernel
    (``spec["kernel"]``) and whether the service stops with it (``None``:
    ``AIMASS_STOP_WITH_KERNEL``)."""
    from aimass_lab.settings import settings
    from aimass_lab.workspace._kernel import current_kernel

    out: dict[str, Any] = {"idle_timeout_s": service_idle_timeout(idle_timeout_s, what)}
    kernel = current_kernel()
    if kernel is not None:
        out["kernel"] = kernel
        bind = settings().stop_with_kernel if stop_with_kernel is None else stop_with_kernel
        out["stop_with_kernel"] = bool(bind)
    return out


def orphaned_services(
    ws: Any, *, dry_run: bool = False, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """The running services of this host whose kernel is gone or whose process died; stop
    them (unless ``dry_run``).

    A service whose kernel ended is stopped (SIGTERM: it drains) and recorded ``stopped``
    with the exit reason ``kernel ended``; one whose process died is recorded
    ``interrupted``. Training, search and other jobs are never touched.

    Returns
    -------
    list of dict
        ``{"job_id", "kind", "owner", "kernel_id", "reason"}`` of each.
    """
    from sqlalchemy import select

    from aimass_lab.workspace._jobs import ACTIVE_STATES
    from aimass_lab.workspace._store import JobRow

    kinds = service_kinds()
    if not kinds:
        return []
    with ws.store.session() as s:
        rows = s.scalars(
            select(JobRow).where(JobRow.kind.in_(kinds), JobRow.state.in_(ACTIVE_STATES))
        ).all()
        found = [
            (r.id, r.kind, r.owner, r.kernel_id, r.pid, r.host, dict(r.spec or {})) for r in rows
        ]
    out = []
    here = socket.gethostname()
    for job_id, kind, owner, kernel_id, pid, host, spec in found:
        if host == here and pid is not None and not process_alive(pid):
            reason = "process died"
        elif kernel_alive(spec.get("kernel")) is False:
            reason = "kernel ended"
        else:
            continue
        out.append(
            {
                "job_id": job_id,
                "kind": kind,
                "owner": owner,
                "kernel_id": kernel_id,
                "reason": reason,
            }
        )
        if not dry_run:
            _stop_orphan(ws, job_id, reason, timeout)
    return out


def _stop_orphan(ws: Any, job_id: str, reason: str, timeout: float) -> None:
    from sqlalchemy import update

    from aimass_lab.errors import JobError
    from aimass_lab.workspace._store import JobRow

    if reason == "process died":
        ws.jobs.get(job_id)  # the listing records a vanished process as interrupted
        return
    try:
        ws.jobs.cancel(job_id)
    except JobError:
        return
    ended = ws.jobs.wait(job_id, timeout=timeout, poll=0.1)
    if ended.state == "stopped":
        with ws.store.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(exit_reason="kernel ended (aimass gc)")
            )
