"""The ``%aimass`` line magic: the workspace at a glance from any notebook cell.

Loaded by ``%load_ext aimass_lab`` (and by the "AI Mass (Python 3)" kernel, which loads it at
start)::

    %aimass status                     workspace, store and counts of jobs, models, studies, deployments
    %aimass jobs [-n 20] [--state S] [--kind K]
    %aimass models [NAME]              model versions    (the columns of `aimass models list`)
    %aimass runs [-n 50]               training runs     (`aimass runs list`)
    %aimass deployments [--running]    deployments       (`aimass deployments list`)
    %aimass data                       datasets          (`aimass datasets list`)
    %aimass deploy NAME:VERSION [--name ENDPOINT] [--replicas N]
    %aimass tensorboard RUN_ID [--height 600]
    %aimass dashboard STUDY [--idle-timeout S] [--stop-with-kernel]
"""

from __future__ import annotations

import argparse
import html
import os
import shlex
from typing import Any

from aimass_lab.settings import settings

__all__ = ["AimassMagicError", "aimass_magic", "load_ipython_extension", "unload_ipython_extension"]

USAGE = """usage: %aimass status
       %aimass jobs [-n 20] [--state STATE] [--kind KIND]
       %aimass models [NAME]
       %aimass runs [-n 50]
       %aimass deployments [--running]
       %aimass data
       %aimass deploy NAME:VERSION [--name ENDPOINT] [--replicas N]
       %aimass tensorboard RUN_ID [--height 600]
       %aimass dashboard STUDY [--idle-timeout S] [--stop-with-kernel]"""

COMMANDS = (
    "status",
    "jobs",
    "models",
    "runs",
    "deployments",
    "data",
    "deploy",
    "tensorboard",
    "dashboard",
)


class AimassMagicError(Exception):
    """A wrong ``%aimass`` line (shown as a usage error, not a traceback)."""


def _usage_error(message: str, usage: bool = True) -> Exception:
    text = f"{message}\n{USAGE}" if usage else message
    try:
        from IPython.core.error import UsageError
    except ImportError:  # pragma: no cover - IPython is a dependency of ipykernel
        return AimassMagicError(text)
    return UsageError(text)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # never sys.exit() inside a kernel
        command = self.prog.split()[-1]
        raise _usage_error(f"%aimass{'' if command == '%aimass' else ' ' + command}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%aimass", add_help=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("status", add_help=False)
    jobs = sub.add_parser("jobs", add_help=False)
    jobs.add_argument("-n", "--limit", type=int, default=20)
    jobs.add_argument("--state", default=None)
    jobs.add_argument("--kind", default=None)
    models = sub.add_parser("models", add_help=False)
    models.add_argument("name", nargs="?", default=None)
    runs = sub.add_parser("runs", add_help=False)
    runs.add_argument("-n", "--limit", type=int, default=50)
    deployments = sub.add_parser("deployments", add_help=False)
    deployments.add_argument("--running", action="store_true")
    sub.add_parser("data", add_help=False)
    deploy = sub.add_parser("deploy", add_help=False)
    deploy.add_argument("ref")
    deploy.add_argument("--name", default=None)
    deploy.add_argument("--replicas", type=int, default=1)
    tensorboard = sub.add_parser("tensorboard", add_help=False)
    tensorboard.add_argument("run")
    tensorboard.add_argument("--height", type=int, default=600)
    dashboard = sub.add_parser("dashboard", add_help=False)
    dashboard.add_argument("study")
    dashboard.add_argument("--idle-timeout", type=float, default=None)
    dashboard.add_argument("--stop-with-kernel", action="store_true", default=None)
    return parser


def base_url() -> str:
    """Jupyter's base_url as the kernel knows it: set by the server extension for the kernels
    it starts (``AIMASS_LAB_BASE_URL``), else JupyterHub's prefix, else ``/``."""
    url = settings().lab_base_url or os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
    return "/" + url.strip("/") + "/" if url.strip("/") else "/"


class Table:
    """Rows shown as an HTML table in the notebook and as aligned text elsewhere."""

    def __init__(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.title = title
        self.columns = columns
        self.rows = rows

    def __repr__(self) -> str:
        cells = [self.columns, *[["" if v is None else str(v) for v in r] for r in self.rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [self.title]
        for row in cells:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if not self.rows:
            lines.append("(none)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
            + "</tr>"
            for row in self.rows
        )
        empty = "" if self.rows else f"<tr><td colspan='{len(self.columns)}'>(none)</td></tr>"
        return (
            f"<div class='aimass-magic'><b>{html.escape(self.title)}</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}{empty}</tbody></table></div>"
        )


class TensorBoardLink:
    """A link to (and an inline frame of) a run's TensorBoard behind Jupyter's proxy."""

    def __init__(self, run_id: str, url: str, height: int = 600) -> None:
        self.run_id = run_id
        self.url = url
        self.height = height

    def __repr__(self) -> str:
        return f"TensorBoard of run {self.run_id}: {self.url}"

    def _repr_html_(self) -> str:
        url = html.escape(self.url, quote=True)
        return (
            f"<div class='aimass-magic'><a href='{url}' target='_blank' rel='noopener'>"
            f"TensorBoard of run {html.escape(self.run_id)}</a> (opens in a new tab)"
            f"<iframe src='{url}' width='100%' height='{int(self.height)}' "
            "style='border: 1px solid #ddd' loading='lazy'></iframe></div>"
        )


def _status() -> Table:
    from aimass_lab import registry
    from aimass_lab.workspace import current_workspace, redact_url

    ws = current_workspace()
    counts: dict[str, int] = {}
    for job in ws.jobs.list(limit=None):
        counts[job.state] = counts.get(job.state, 0) + 1
    versions = registry.list(workspace=ws)
    rows: list[list[Any]] = [
        ["workspace", str(ws.path)],
        ["store", redact_url(ws.store.url)],
        [
            "jobs",
            ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "0",
        ],
        ["models", f"{len({v.name for v in versions})} ({len(versions)} versions)"],
        ["studies", str(_count_studies(ws))],
        ["deployments", _deployment_summary(ws)],
    ]
    return Table("AI Mass Lab workspace", ["", ""], rows)


def _count_studies(ws: Any) -> int | str:
    try:
        from aimass_lab.search import list_studies

        return len(list_studies(workspace=ws))
    except Exception as exc:  # a damaged journal should not hide the rest of the status
        return f"? ({type(exc).__name__})"


def _deployment_summary(ws: Any) -> str:
    try:
        from aimass_lab.serve import deployments

        found = deployments(workspace=ws)
    except ImportError:
        return "0"
    running = [d.name for d in found if getattr(d, "state", None) == "running"]
    return f"{len(running)} running" + (f" ({', '.join(running)})" if running else "")


def _jobs(limit: int, state: str | None, kind: str | None) -> Table:
    from aimass_lab.workspace import current_workspace

    jobs = current_workspace().jobs.list(kind=kind, state=state, limit=limit)
    rows = []
    for job in jobs:
        progress = "" if job.progress is None else f"{job.progress:.0%}"
        duration = "" if job.duration_s is None else f"{job.duration_s:.0f}s"
        rows.append([job.id, job.kind, job.label, job.state, progress, duration])
    return Table(
        f"Jobs (newest first, at most {limit})",
        ["id", "kind", "name", "state", "progress", "duration"],
        rows,
    )


def _listing(command: str, args: Any) -> Table:
    """``models``, ``runs``, ``deployments``, ``data``: the rows and columns of the CLI's
    ``list`` commands (``aimass_lab._listings``)."""
    from aimass_lab import _listings
    from aimass_lab.workspace import current_workspace

    ws = current_workspace()
    if command == "models":
        rows, columns = _listings.model_rows(ws, args.name)
        title = f"Model versions of {args.name}" if args.name else "Model versions"
    elif command == "runs":
        rows, columns = _listings.run_rows(ws, limit=args.limit)
        title = f"Training runs (newest first, at most {args.limit})"
    elif command == "deployments":
        rows, columns = _listings.deployment_rows(ws, running=args.running)
        title = "Running deployments" if args.running else "Deployments"
    else:
        rows, columns = _listings.dataset_rows(ws)
        title = "Datasets"
    return Table(title, columns, [[_listings.cell(r.get(c)) for c in columns] for r in rows])


def _tensorboard(run: str, height: int) -> TensorBoardLink:
    from aimass_lab.train import tensorboard_logdir, tensorboard_path
    from aimass_lab.workspace import current_kernel_id, current_workspace

    ws = current_workspace()
    logdir = tensorboard_logdir(ws, run)  # NotFoundError with a clear message
    job_id = logdir.parent.name
    url = base_url() + tensorboard_path(job_id)
    kernel = current_kernel_id()  # the TensorBoard records it (and may stop with it)
    return TensorBoardLink(job_id, url + (f"?aimass_kernel={kernel}" if kernel else ""), height)


def aimass_magic(line: str) -> Any:
    """``%aimass status|jobs|models|runs|deployments|data|deploy NAME:VERSION|tensorboard
    RUN|dashboard STUDY`` (see the module help)."""
    from aimass_lab.errors import AimassError

    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise _usage_error(f"%aimass: {exc}") from None
    if not words or words[0] not in COMMANDS:
        got = f"unknown command {words[0]!r}" if words else "no command"
        raise _usage_error(f"%aimass: {got}; accepted: {', '.join(COMMANDS)}")
    args = _parser().parse_args(words)
    try:
        if args.command == "status":
            return _status()
        if args.command == "jobs":
            return _jobs(args.limit, args.state, args.kind)
        if args.command in ("models", "runs", "deployments", "data"):
            return _listing(args.command, args)
        if args.command == "deploy":
            from aimass_lab.serve import deploy

            return deploy(args.ref, name=args.name, replicas=args.replicas)
        if args.command == "dashboard":
            from aimass_lab.search import load_study

            return load_study(args.study).dashboard(
                idle_timeout_s=args.idle_timeout, stop_with_kernel=args.stop_with_kernel
            )
        return _tensorboard(args.run, args.height)
    except AimassError as exc:
        # A message the user can act on, not a traceback through the magic machinery.
        raise _usage_error(f"%aimass {args.command}: {exc}", usage=False) from None


def load_ipython_extension(ip: Any) -> None:
    """Register ``%aimass`` (``%load_ext aimass_lab``)."""
    ip.register_magic_function(aimass_magic, magic_kind="line", magic_name="aimass")


def unload_ipython_extension(ip: Any) -> None:
    """Remove ``%aimass`` (``%unload_ext aimass_lab``)."""
    ip.magics_manager.magics["line"].pop("aimass", None)
