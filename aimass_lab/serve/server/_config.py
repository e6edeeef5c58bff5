"""The server's settings (no heavy imports: the CLI and the job read them)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

from annotated_types import Ge, Le
from pydantic.fields import FieldInfo

from aimass_lab.errors import SpecError, accepted
from aimass_lab.specs import BatchingSpec, DeploySpec

__all__ = [
    "DEFAULT_MAX_REQUEST_ROWS",
    "DEFAULT_PORT",
    "ENGINES",
    "ISOLATIONS",
    "MAX_REPLICAS",
    "EngineChoice",
    "Isolation",
    "ServerConfig",
    "batching_bounds",
]

DEFAULT_PORT = 8500
#: The most rows of one request by default (it is split into batches of ``max_batch_size``).
DEFAULT_MAX_REQUEST_ROWS = 4096
#: The highest ``max_request_rows``.
MAX_REQUEST_ROWS = 1_000_000
#: The engine choices of a served version (``auto``: ONNX Runtime when it has model.onnx).
EngineChoice = Literal["auto", "onnxruntime", "torch"]
ENGINES: tuple[str, ...] = get_args(EngineChoice)
#: Where the replicas of a version run.
Isolation = Literal["auto", "thread", "process"]
ISOLATIONS: tuple[str, ...] = get_args(Isolation)


def worker_processes(replicas: int, isolation: str) -> int:
    """How many worker processes run a version (0: its engine runs in the server process)."""
    if isolation == "thread" or (isolation == "auto" and replicas <= 1):
        return 0
    return max(1, replicas)


def _bound(field: FieldInfo, kind: type[Ge] | type[Le]) -> Any:
    return next(getattr(m, kind.__name__.lower()) for m in field.metadata if isinstance(m, kind))


#: The most engine replicas of one version (the bound of ``DeploySpec.replicas``).
MAX_REPLICAS: int = _bound(DeploySpec.model_fields["replicas"], Le)


def batching_bounds() -> dict[str, tuple[Any, Any]]:
    """``{field: (lowest, highest)}`` of :class:`~aimass_lab.specs.BatchingSpec`."""
    return {
        name: (_bound(info, Ge), _bound(info, Le))
        for name, info in BatchingSpec.model_fields.items()
        if info.annotation is not bool  # a switch (bucket_by_length) has no bounds
    }


@dataclass
class ServerConfig:
    """Settings of ``aimass serve`` (the job kind ``serve`` takes the same fields as a dict).

    Attributes
    ----------
    workspace, db_url
        The workspace whose registry the models come from (default: the current one).
    host, port
        Where to listen; port 0 picks a free port. Default ``127.0.0.1:8500``.
    models
        ``"name:ref"`` to load at start (``"digits:3"``, ``"digits:prod"``); the endpoint is
        the registry name.
    replicas
        Engine replicas per version. With ``isolation="auto"`` one replica runs inside the
        server process (a thread: the fastest for one replica) and 2 or more run as worker
        processes, load-balanced, restarted when they crash.
    isolation
        ``"auto"``, ``"thread"`` (always in the server process, one replica) or
        ``"process"`` (always worker processes, even for one replica).
    max_batch_size, max_delay_ms, queue_size, bucket_by_length
        Dynamic batching of each version.
    api_keys
        Keys accepted on inference routes (``Authorization: Bearer KEY`` or ``x-api-key``);
        empty: no key needed.
    admin, admin_keys
        Whether the admin API is on, and the keys it takes (header ``x-admin-key``).
    max_request_rows
        The most rows one request may hold. A request above the version's
        ``max_batch_size`` is split into batches of ``max_batch_size`` rows (one answer, rows
        in order; it takes one place of the queue per batch). ``0``: no splitting, a request
        holds at most ``max_batch_size`` rows (Triton's behaviour). A version whose
        ``max_batch_size`` is larger takes requests of that size. Above: 400.
    max_body_bytes
        Larger bodies get 413 before they are read.
    max_body_bytes_in_flight
        Most bytes of large bodies (above 64 KiB) held at once; a large body waits, unread,
        for its share (503 after ``timeout_s``). At least ``max_body_bytes``.
    timeout_s
        A request not answered in this time gets 504.
    ready_file
        Written atomically with ``{"url", "port", "pid"}`` once listening and loaded.
    engine, device, threads
        Engine choice (``auto``: ONNX Runtime when the version has ``model.onnx``), device
        (``auto``: CUDA when present) and intra-op threads per engine.
    drain_timeout_s
        On SIGTERM, the longest wait for in-flight requests before exiting.
    drain_grace_s
        On SIGTERM, how long the server keeps its connections open answering 503 with
        ``Connection: close`` (so clients and load balancers see the drain, not a reset),
        even when nothing is in flight. At most ``drain_timeout_s``.
    strict_readiness
        ``/v2/health/ready`` says ready only when every served version loaded (a model of
        ``models`` that failed to load makes the server not ready until it is unloaded, as
        Triton's ``--strict-readiness``); False: ready once the startup loads are done,
        serving the models that loaded. Each model's own readiness
        (``/v2/models/NAME/ready``) is the same either way.
    idle_timeout_s
        Stop (drain, exit 0) after this many seconds without an inference request or an
        admin change (0: never). ``/metrics`` says how long it has been idle
        (``aimass_idle_seconds``).
    kernel_pid, kernel_started
        Stop when this process (the Jupyter kernel that started the server; its start time,
        so that a later process with the same id is not taken for it) has ended.
    """

    workspace: str | None = None
    db_url: str | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    models: list[str] = field(default_factory=list)
    replicas: int = 1
    isolation: str = "auto"
    max_batch_size: int = 32
    max_delay_ms: float = 2.0
    queue_size: int = 1024
    bucket_by_length: bool = False
    api_keys: list[str] = field(default_factory=list)
    admin: bool = False
    admin_keys: list[str] = field(default_factory=list)
    max_request_rows: int = DEFAULT_MAX_REQUEST_ROWS
    max_body_bytes: int = 16 * 1024 * 1024
    max_body_bytes_in_flight: int = 64 * 1024 * 1024
    timeout_s: float = 30.0
    ready_file: str | None = None
    engine: str = "auto"
    device: str = "auto"
    threads: int | None = None
    drain_timeout_s: float = 30.0
    drain_grace_s: float = 0.5
    strict_readiness: bool = True
    idle_timeout_s: float = 0.0
    kernel_pid: int | None = None
    kernel_started: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ServerConfig:
        """Build from a dict (a job spec); ``api_key_env`` / ``admin_key_env`` name env vars."""
        d = dict(d)
        known = {f.name for f in fields(cls)}
        for env_field, target in (("api_key_env", "api_keys"), ("admin_key_env", "admin_keys")):
            var = d.pop(env_field, None)
            if var:
                d[target] = [*d.get(target, []), *keys_from_env(str(var))]
        unknown = sorted(set(d) - known)
        if unknown:
            raise SpecError(
                "ServerConfig",
                [
                    {
                        "field": k,
                        "message": f"unknown field; accepted: {accepted(sorted(known | {'api_key_env', 'admin_key_env'}))}",
                    }
                    for k in unknown
                ],
            )
        cfg = cls(**d)
        cfg.check()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["api_keys"] = ["***"] * len(self.api_keys)
        out["admin_keys"] = ["***"] * len(self.admin_keys)
        return out

    def check(self) -> None:
        errors: list[dict[str, Any]] = []

        def bad(name: str, message: str) -> None:
            errors.append({"field": name, "value": getattr(self, name), "message": message})

        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            bad("port", "accepted: 0 (a free port) to 65535")
        # the bounds of a load request (replicas) and of BatchingSpec: one rule everywhere
        if (
            not isinstance(self.replicas, int)
            or isinstance(self.replicas, bool)
            or not 1 <= self.replicas <= MAX_REPLICAS
        ):
            bad("replicas", f"accepted: an integer >= 1 and <= {MAX_REPLICAS}")
        if self.isolation not in ISOLATIONS:
            bad("isolation", f"accepted: {accepted(ISOLATIONS)}")
        bounds = batching_bounds()
        for name in ("max_batch_size", "queue_size"):
            value, (low, high) = getattr(self, name), bounds[name]
            if not isinstance(value, int) or not low <= value <= high:
                bad(name, f"accepted: an integer >= {low} and <= {high}")
        low, high = bounds["max_delay_ms"]
        if not isinstance(self.max_delay_ms, (int, float)) or not low <= self.max_delay_ms <= high:
            bad("max_delay_ms", f"accepted: a number of milliseconds in [{low:g}, {high:g}]")
        rows = self.max_request_rows
        if not isinstance(rows, int) or isinstance(rows, bool) or not 0 <= rows <= MAX_REQUEST_ROWS:
            bad(
                "max_request_rows",
                f"accepted: an integer >= 0 and <= {MAX_REQUEST_ROWS} (0: no splitting, a "
                "request holds at most max_batch_size rows)",
            )
        if not isinstance(self.max_body_bytes, int) or self.max_body_bytes < 1024:
            bad("max_body_bytes", "accepted: an integer >= 1024")
        if (
            not isinstance(self.max_body_bytes_in_flight, int)
            or self.max_body_bytes_in_flight < self.max_body_bytes
        ):
            bad("max_body_bytes_in_flight", "accepted: an integer >= max_body_bytes")
        for name in ("timeout_s", "drain_timeout_s"):
            if not isinstance(getattr(self, name), (int, float)) or getattr(self, name) <= 0:
                bad(name, "accepted: a number of seconds > 0")
        if not isinstance(self.drain_grace_s, (int, float)) or not (
            0 <= self.drain_grace_s <= self.drain_timeout_s
        ):
            bad("drain_grace_s", "accepted: a number of seconds >= 0 and <= drain_timeout_s")
        if not isinstance(self.idle_timeout_s, (int, float)) or self.idle_timeout_s < 0:
            bad("idle_timeout_s", "accepted: a number of seconds >= 0 (0: never)")
        if self.kernel_pid is not None and (
            not isinstance(self.kernel_pid, int) or self.kernel_pid < 1
        ):
            bad("kernel_pid", "accepted: a process id >= 1, or None")
        if self.engine not in ENGINES:
            bad("engine", f"accepted: {accepted(ENGINES)}")
        if self.device not in ("auto", "cpu", "cuda"):
            bad("device", "accepted: 'auto', 'cpu', 'cuda'")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            bad("threads", "accepted: an integer >= 1, or None")
        if not isinstance(self.models, list) or not all(isinstance(m, str) for m in self.models):
            bad("models", "accepted: a list of 'name:ref' strings, e.g. ['digits:3']")
        if self.admin and not self.admin_keys:
            bad("admin", "the admin API needs a key: give admin_keys (or --admin-key-env VAR)")
        if errors:
            raise SpecError("ServerConfig", errors)


def keys_from_env(var: str) -> list[str]:
    """The comma-separated keys in environment variable ``var`` (it must not be empty)."""
    from aimass_lab.errors import AimassError

    value = os.environ.get(var, "")
    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise AimassError(
            f"environment variable {var} holds no API key; set it to one key or several "
            f"separated by commas (export {var}=...)"
        )
    return keys
