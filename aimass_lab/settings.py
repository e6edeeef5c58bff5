"""Every ``AIMASS_*`` environment variable, its type, default and meaning, in one place.

Code reads them through :func:`settings` (or :func:`env_name` for the variables it sets for
a child process), never with ``os.environ`` directly. :func:`settings` reads the environment
at each call, so a changed variable (a test's ``monkeypatch.setenv``, a server extension
that exports ``AIMASS_HOME`` to its kernels) is seen at once; modules that size something
at import time (queues, timeouts) read it once there, as noted in :data:`VARIABLES`.
A malformed value raises :class:`~aimass_lab.errors.AimassError` naming the variable,
the value and what is accepted. The table in ``docs/workspace.md`` is generated from
:data:`VARIABLES` (``tests/test_settings.py`` checks they agree).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from aimass_lab.errors import AimassError

__all__ = ["VARIABLES", "Settings", "Variable", "env_name", "markdown_table", "settings"]


@dataclass(frozen=True)
class Variable:
    """One environment variable: the settings field it fills, its default and its meaning."""

    field: str
    env: str
    default: Any
    kind: str  # "str", "float", "int", "bool", "choice"
    help: str
    choices: tuple[str, ...] = ()
    read: str = "at each use"


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "home", "AIMASS_HOME", None, "str", "Workspace folder (default `./aimass-workspace`)."
    ),
    Variable(
        "db_url",
        "AIMASS_DB_URL",
        None,
        "str",
        "SQLAlchemy URL of the metadata store (default: SQLite in the workspace folder).",
    ),
    Variable(
        "heartbeat_interval",
        "AIMASS_HEARTBEAT_INTERVAL",
        2.0,
        "float",
        "Seconds between the heartbeats a job writes.",
        read="once per process",
    ),
    Variable(
        "heartbeat_timeout",
        "AIMASS_HEARTBEAT_TIMEOUT",
        30.0,
        "float",
        "Seconds without a heartbeat after which a running job is marked interrupted.",
        read="once per process",
    ),
    Variable(
        "rich_display",
        "AIMASS_RICH_DISPLAY",
        True,
        "bool",
        "`0` shows the plain HTML of handles (runs, studies, ...) even in a kernel.",
    ),
    Variable(
        "cache_dir",
        "AIMASS_CACHE_DIR",
        None,
        "str",
        "Folder of caches kept by (path, size, mtime): file fingerprints, image headers "
        "(default `~/.cache/aimass-lab`, or `$XDG_CACHE_HOME/aimass-lab`).",
    ),
    Variable(
        "models_dir",
        "AIMASS_MODELS_DIR",
        None,
        "str",
        "Folder of local pretrained models (one sub-folder each, as `save_pretrained` writes "
        "it) that the train panel and `aimass models pretrained` list (default "
        "`<workspace>/pretrained`).",
    ),
    Variable(
        "cpu_isa",
        "AIMASS_CPU_ISA",
        None,
        "str",
        "Overrides the detected int8 instruction set (see docs/compress.md).",
    ),
    Variable(
        "lab_base_url",
        "AIMASS_LAB_BASE_URL",
        None,
        "str",
        "Jupyter's base URL, set by the server extension for its kernels (links of the magics).",
    ),
    Variable(
        "deploy_timeout",
        "AIMASS_DEPLOY_TIMEOUT",
        180.0,
        "float",
        "Seconds `deploy()` waits for a model server to be ready.",
        read="once per process",
    ),
    Variable(
        "deploy_memory_mb",
        "AIMASS_DEPLOY_MEMORY_MB",
        0.0,
        "float",
        "Memory (MB) `deploy()` checks replicas against; 0: the machine's available memory.",
    ),
    Variable(
        "serve_http",
        "AIMASS_SERVE_HTTP",
        "auto",
        "choice",
        "HTTP implementation of the inference server (uvicorn's `http`).",
        choices=("auto", "h11", "httptools"),
    ),
    Variable(
        "serve_loop",
        "AIMASS_SERVE_LOOP",
        "asyncio",
        "choice",
        "Event loop of the inference server: asyncio (fair to new connections under "
        "overload), uvloop, or auto (uvloop when installed).",
        choices=("asyncio", "uvloop", "auto"),
    ),
    Variable(
        "serve_worker_start_s",
        "AIMASS_SERVE_WORKER_START_S",
        180.0,
        "float",
        "Seconds an inference worker process may take to start.",
        read="when the server starts",
    ),
    Variable(
        "serve_inline_max_ms",
        "AIMASS_SERVE_INLINE_MAX_MS",
        1.0,
        "float",
        "Batches faster than this (ms) run on the event loop, not in a worker thread.",
        read="when the server starts",
    ),
    Variable(
        "serve_linger_fraction",
        "AIMASS_SERVE_LINGER_FRACTION",
        0.25,
        "float",
        "Fraction of `max_delay_ms` a batch waits for more requests once one is there.",
        read="when the server starts",
    ),
    Variable(
        "data_in_memory_mb",
        "AIMASS_DATA_IN_MEMORY_MB",
        256.0,
        "float",
        "Tables larger than this (MB, rows x columns x 8 bytes) are streamed when `streaming='auto'`.",
    ),
    Variable(
        "user",
        "AIMASS_USER",
        None,
        "str",
        "Who you are in a shared workspace (owner of jobs, submissions); default "
        "`JUPYTERHUB_USER`, else the login name.",
    ),
    Variable(
        "idle_shutdown_s",
        "AIMASS_IDLE_SHUTDOWN_S",
        0.0,
        "float",
        "Default idle timeout of the inference server a deploy starts: seconds without an "
        "inference request before it stops (0: never; `deploy(idle_timeout_s=...)` overrides).",
    ),
    Variable(
        "stop_with_kernel",
        "AIMASS_STOP_WITH_KERNEL",
        False,
        "bool",
        "A server a kernel starts stops when that kernel ends (`deploy(stop_with_kernel=...)` "
        "overrides); detached training and search jobs never do.",
    ),
    Variable(
        "serve_test_delay_s",
        "AIMASS_SERVE_TEST_DELAY_S",
        0.0,
        "float",
        "Tests only: seconds every inference batch sleeps first (slow batches on purpose).",
    ),
)
_BY_FIELD = {v.field: v for v in VARIABLES}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _convert(var: Variable, raw: str) -> Any:
    text = raw.strip()
    converters: dict[str, Callable[[str], Any]] = {"float": float, "int": int}
    try:
        if var.kind in converters:
            return converters[var.kind](text)
    except ValueError:
        raise AimassError(
            f"{var.env}={raw!r} is not a number; accepted: a{'n integer' if var.kind == 'int' else ' number'}"
            f" (default {var.default!r})"
        ) from None
    if var.kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise AimassError(
            f"{var.env}={raw!r} is not a switch; accepted: 1/0, true/false, yes/no, on/off"
        )
    if var.kind == "choice" and text not in var.choices:
        raise AimassError(
            f"{var.env}={raw!r} is not accepted; accepted: "
            + ", ".join(repr(c) for c in var.choices)
        )
    return text or var.default


class Settings:
    """The values of :data:`VARIABLES` (``None`` where a variable is unset and has no default).

    Each value is converted when it is asked for, so a malformed variable is an error where
    it is used, not in every reader of any other variable.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def _value(self, field: str) -> Any:
        var = _BY_FIELD[field]
        raw = self._environ.get(var.env)
        return var.default if raw is None or raw.strip() == "" else _convert(var, raw)

    @property
    def home(self) -> str | None:
        return cast("str | None", self._value("home"))

    @property
    def db_url(self) -> str | None:
        return cast("str | None", self._value("db_url"))

    @property
    def heartbeat_interval(self) -> float:
        return cast("float", self._value("heartbeat_interval"))

    @property
    def heartbeat_timeout(self) -> float:
        return cast("float", self._value("heartbeat_timeout"))

    @property
    def rich_display(self) -> bool:
        return cast("bool", self._value("rich_display"))

    @property
    def cache_dir(self) -> str:
        value = cast("str | None", self._value("cache_dir"))
        if value:
            return value
        base = self._environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache"
        )
        return os.path.join(base, "aimass-lab")

    @property
    def models_dir(self) -> str | None:
        return cast("str | None", self._value("models_dir"))

    @property
    def cpu_isa(self) -> str | None:
        return cast("str | None", self._value("cpu_isa"))

    @property
    def lab_base_url(self) -> str | None:
        return cast("str | None", self._value("lab_base_url"))

    @property
    def deploy_timeout(self) -> float:
        return cast("float", self._value("deploy_timeout"))

    @property
    def deploy_memory_mb(self) -> float:
        return cast("float", self._value("deploy_memory_mb"))

    @property
    def serve_http(self) -> str:
        return cast("str", self._value("serve_http"))

    @property
    def serve_loop(self) -> str:
        return cast("str", self._value("serve_loop"))

    @property
    def serve_worker_start_s(self) -> float:
        return cast("float", self._value("serve_worker_start_s"))

    @property
    def serve_inline_max_ms(self) -> float:
        return cast("float", self._value("serve_inline_max_ms"))

    @property
    def serve_linger_fraction(self) -> float:
        return cast("float", self._value("serve_linger_fraction"))

    @property
    def data_in_memory_mb(self) -> float:
        return cast("float", self._value("data_in_memory_mb"))

    @property
    def user(self) -> str | None:
        return cast("str | None", self._value("user"))

    @property
    def idle_shutdown_s(self) -> float:
        return cast("float", self._value("idle_shutdown_s"))

    @property
    def stop_with_kernel(self) -> bool:
        return cast("bool", self._value("stop_with_kernel"))

    @property
    def serve_test_delay_s(self) -> float:
        return cast("float", self._value("serve_test_delay_s"))


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of ``environ`` (default: this process's environment), read when asked."""
    return Settings(os.environ if environ is None else environ)


def env_name(field: str) -> str:
    """The environment variable of a settings field (for what a parent sets for its children)."""
    return _BY_FIELD[field].env


def markdown_table() -> str:
    """The table of :data:`VARIABLES` that docs/workspace.md shows (kept equal by a test)."""
    lines = ["| variable | default | read | meaning |", "| --- | --- | --- | --- |"]
    for var in VARIABLES:
        if var.default is None:
            default = "(unset)"
        elif isinstance(var.default, bool):
            default = f"`{int(var.default)}`"
        else:
            default = f"`{var.default}`"
        if var.choices:
            default += " of " + ", ".join(f"`{c}`" for c in var.choices)
        lines.append(f"| `{var.env}` | {default} | {var.read} | {var.help} |")
    return "\n".join(lines)
