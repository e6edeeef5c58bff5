"""Deploy specs: a registered model version served with dynamic batching."""

from __future__ import annotations

from pydantic import Field, field_validator

from aimass_lab.errors import AimassError
from aimass_lab.specs._base import Spec, one_of
from aimass_lab.specs._choices import DEPLOY_ENGINES, DeployEngine
from aimass_lab.specs._refs import parse_ref, validate_name

__all__ = ["BatchingSpec", "DeploySpec"]


class BatchingSpec(Spec):
    """Dynamic batching of one served model version.

    Requests that arrive within ``max_delay_ms`` of each other are run as one batch of at
    most ``max_batch_size`` rows; at most ``queue_size`` requests wait (more: 429).
    ``max_batch_size=1`` turns batching off.
    """

    max_batch_size: int = Field(32, ge=1, le=65_536, description="rows per batch at most")
    max_delay_ms: float = Field(
        2.0, ge=0.0, le=10_000.0, description="how long a batch waits to fill up"
    )
    queue_size: int = Field(1024, ge=1, le=1_000_000, description="requests waiting at most")
    bucket_by_length: bool = Field(
        False, description="text models: batch requests of similar length together"
    )

    @classmethod
    def off(cls) -> BatchingSpec:
        """Batching switched off: every request runs on its own."""
        return cls(max_batch_size=1, max_delay_ms=0.0)


class DeploySpec(Spec):
    """A registered model version served by the workspace's inference server.

    Examples
    --------
    >>> spec = DeploySpec(model="digits-mlp:3", replicas=2)
    >>> spec.endpoint, spec.batching.max_batch_size
    ('digits-mlp', 32)
    >>> DeploySpec(model="digits-mlp:3", batching=False).batching.max_batch_size
    1
    """

    model: str = Field(description="registry ref: 'name:version', 'name:alias' or 'name'")
    name: str | None = Field(None, description="endpoint name (default: the registry name)")
    replicas: int = Field(1, ge=1, le=64, description="engine worker processes")
    batching: BatchingSpec = Field(default_factory=BatchingSpec)
    engine: DeployEngine = Field("auto", description="auto, onnxruntime or torch")
    port: int | None = Field(
        None, ge=0, le=65_535, description="port of the workspace server (None: its default)"
    )
    idle_timeout_s: float | None = Field(
        None,
        ge=0,
        description="a server this deploy starts stops after this many seconds without an "
        "inference request (None: AIMASS_IDLE_SHUTDOWN_S; 0: never)",
    )
    stop_with_kernel: bool | None = Field(
        None,
        description="a server this deploy starts from a kernel stops when the kernel ends "
        "(None: AIMASS_STOP_WITH_KERNEL)",
    )

    @field_validator("model", mode="before")
    @classmethod
    def _model_ref(cls, value: object) -> object:
        ref = getattr(value, "ref", value)  # a ModelVersion
        try:
            parse_ref(ref)
        except AimassError as exc:
            raise ValueError(str(exc)) from None
        return ref

    @field_validator("name")
    @classmethod
    def _endpoint_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_name(value)
        except AimassError as exc:
            raise ValueError(str(exc).replace("model name", "endpoint name")) from None

    @field_validator("batching", mode="before")
    @classmethod
    def _batching(cls, value: object) -> object:
        if value is None or value is True:
            return BatchingSpec()
        if value is False:
            return BatchingSpec.off()
        return value

    @field_validator("engine", mode="before")
    @classmethod
    def _engine(cls, value: object) -> object:
        return one_of(value, DEPLOY_ENGINES, "engine")

    @property
    def endpoint(self) -> str:
        """The endpoint name: ``name``, else the registry name of ``model``."""
        return self.name or self.model.partition(":")[0]
