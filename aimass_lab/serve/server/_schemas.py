"""The server's request and answer models: the one description of every body.

:class:`LoadRequest` ("load a model version") is validated here for the admin route and
built by the Python API (:func:`aimass_lab.deploy`, :meth:`Client.load`); its batching is
:class:`~aimass_lab.specs.BatchingSpec` and its ``replicas`` takes the bounds of
:class:`~aimass_lab.specs.DeploySpec`, so a deploy, the admin API, the router and the
OpenAPI document (generated from these models) apply the same rules. The answer models
only describe the JSON the hot path writes by hand (for the OpenAPI document).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic.fields import FieldInfo

from aimass_lab.errors import SpecError, accepted
from aimass_lab.serve.server._config import MAX_REPLICAS, EngineChoice, Isolation, batching_bounds
from aimass_lab.serve.server._protocol import HTTPError
from aimass_lab.specs import BatchingSpec, DeploySpec

__all__ = [
    "MAX_REPLICAS",
    "AdminModel",
    "AdminModels",
    "AdminVersion",
    "ErrorBody",
    "InferRequest",
    "InferResponse",
    "LoadRequest",
    "ModelMetadata",
    "ModelSummary",
    "PredictRequest",
    "PredictResponse",
    "REF_PATTERN",
    "RepositoryIndex",
    "ServerMetadata",
    "SplitRequest",
    "batching_bounds",
    "parse_body",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: A registry ref in the document: ``name``, ``name:version`` or ``name:alias`` (the rule of
#: ``specs.parse_ref``; a name starting with '.' is left out of the document's pattern).
_NAME = r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}"
REF_PATTERN = rf"^{_NAME}(:{_NAME})?$"


class LoadRequest(_Model):
    """Load a registry version under an endpoint (``POST /admin/models/{name}/versions``).

    Unset settings take the server's (``--replicas``, ``--isolation``, batching flags); a
    ``batching`` object may give only some of its fields, the others are the server's.
    """

    ref: str = Field(
        description="registry ref: 'name:version' or 'name:alias'",
        examples=["digits:4"],
        json_schema_extra={"pattern": REF_PATTERN},
    )
    replicas: int | None = Field(
        None, ge=1, le=MAX_REPLICAS, description="engine replicas (default: the server's)"
    )
    batching: BatchingSpec | None = Field(
        None, description="dynamic batching (default: the server's)"
    )
    engine: EngineChoice = Field(
        "auto", description="auto: ONNX Runtime when the version has model.onnx"
    )
    isolation: Isolation | None = Field(
        None, description="where replicas run (default: the server's --isolation)"
    )
    replace: bool = Field(
        False,
        description="reload a version already loaded with these settings: the new one loads "
        "beside it and takes its traffic once ready, the old one drains (no failed request)",
    )

    @field_validator("batching", mode="before")
    @classmethod
    def _typed_batching(cls, value: Any) -> Any:
        # JSON bodies are typed: a batching number given as text or true/false is a mistake
        # (a switch such as bucket_by_length takes true/false)
        if isinstance(value, dict):
            errors = [
                {"field": k, "value": v, "message": "not a number"}
                for k, v in value.items()
                if isinstance(v, bool | str)
                and k in BatchingSpec.model_fields
                and BatchingSpec.model_fields[k].annotation is not bool  # a switch
            ]
            if errors:
                raise SpecError("BatchingSpec", errors)
        return value

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        try:  # the ref rule of a deploy, to the letter
            DeploySpec(model=value)
        except SpecError as exc:
            raise ValueError(exc.errors[0]["message"]) from None
        return value

    def to_body(self) -> dict[str, Any]:
        """The JSON body of the admin route (the batching object whole)."""
        return self.model_dump(exclude_none=True)


_SPLIT_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "number", "minimum": 0},
    "minProperties": 1,
    # the weights must not all be 0
    "not": {"additionalProperties": {"const": 0}},
    "examples": [{"3": 90, "4": 10}],
}


class SplitRequest(BaseModel):
    """Set the traffic split and the shadow version (``PUT /admin/models/{name}/split``).

    The weights are checked against the model's loaded versions by the router."""

    model_config = ConfigDict(extra="ignore")

    split: Annotated[Any, WithJsonSchema(_SPLIT_SCHEMA)] = Field(
        description="{version: weight}; the weights need not sum to 100"
    )
    shadow: str | None = Field(None, description="a version that gets a copy of the traffic")


# ---------------------------------------------------------------- bodies (validation, errors)
_M = TypeVar("_M", bound=BaseModel)


def parse_body(model: type[_M], doc: Any) -> _M:
    """Validate a decoded JSON body; a mistake is an :class:`HTTPError` 400 naming it."""
    if not isinstance(doc, dict):
        fields = ", ".join(f'"{k}"' for k in model.model_fields)
        raise HTTPError(400, f"the body must be an object {{{fields}}}")
    try:
        return model.model_validate(_integral(doc), strict=True)
    except ValidationError as exc:
        raise HTTPError(400, _message(model, exc)) from None


def _integral(value: Any) -> Any:
    """``value`` with its whole floats as ints: to JSON (and its Schema) ``3.0`` is the
    integer 3, as a client that writes every number as a float sends it; strict validation
    still refuses text and booleans for numbers (a float field takes an int)."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _rule(field: FieldInfo) -> str:
    """What a field accepts, in words (from its type and bounds)."""
    kinds = [k for k in get_args(field.annotation) or (field.annotation,) if k is not type(None)]
    if get_origin(field.annotation) is Literal:
        kinds = [field.annotation]
    kind = kinds[0]
    if kind is bool:
        return "true or false"
    if get_origin(kind) is Literal:
        return "one of " + accepted(get_args(kind))
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return "an object {" + ", ".join(kind.model_fields) + "}"
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    if kind is int:
        if low is not None and high is not None:
            return f"an integer from {low} to {high}"
        return "an integer" + (f" >= {low}" if low is not None else "")
    if kind is float:
        if low is not None and high is not None:
            return f"a number in [{low:g}, {high:g}]"
        return "a number" + (f" >= {low:g}" if low is not None else "")
    return "a string" if kind is str else f"a {getattr(kind, '__name__', kind)}"


def _message(model: type[BaseModel], exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    unknown = [str(e["loc"][-1]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        return f"unknown field(s) {accepted(sorted(unknown))}; accepted: {accepted(model.model_fields)}"
    err = errors[0]
    loc = err["loc"]
    if err["type"] == "missing":
        return f"{loc[0]!r} is required"
    nested = (err.get("ctx") or {}).get("error")
    if isinstance(nested, SpecError):  # the batching object, checked by BatchingSpec
        return _batching_message(nested.errors)
    if err["type"] == "value_error":
        return str(nested)
    return f"{loc[0]!r} must be {_rule(model.model_fields[str(loc[0])])}, got {err['input']!r}"


def _batching_message(errors: list[dict[str, Any]]) -> str:
    known = BatchingSpec.model_fields
    unknown = [e["field"] for e in errors if e["field"] not in known]
    if unknown:
        return f"unknown batching field(s) {accepted(sorted(unknown))}; accepted: {accepted(known)}"
    first = errors[0]
    return f"batching.{first['field']} must be {_rule(known[first['field']])}, got {first.get('value')!r}"


# ------------------------------------------------------------------ answers (for the document)
class ErrorBody(BaseModel):
    """Every error answer."""

    error: str


Datatype = Literal[
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip


class Tensor(BaseModel):
    """One OIP v2 tensor: its data flattened in row-major order (or, with the parameter
    ``binary_data_size``, in the binary part of the body). ``BYTES``: raw texts or image
    bytes of a text or image model."""

    name: str
    shape: list[Annotated[int, Field(ge=0)]] = Field(max_length=32)
    datatype: Datatype
    data: list[Any] | None = None
    parameters: dict[str, Any] | None = None


class TensorRequest(BaseModel):
    """An output the request asks for (``binary_data``: in the binary part of the answer)."""

    name: str
    parameters: dict[str, Any] | None = None


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any]


class InferRequest(BaseModel):
    """An OIP v2 inference request (read by the hot path's own parser). The inputs' names,
    datatypes and shapes are the model's (``GET /v2/models/{name}``): a tensor that does
    not match them is a 400 naming what the model takes."""

    id: str | None = None
    inputs: list[Tensor] = Field(min_length=1)
    outputs: list[TensorRequest] | None = None
    parameters: dict[str, Any] | None = None


class InferResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[Tensor]


_ROWS = {"type": "array", "minItems": 1}
_RECORDS = {
    "anyOf": [{"type": "array", "minItems": 1, "items": {"type": "object"}}, {"type": "object"}]
}


class PredictRequest(_Model):
    """Exactly one of ``inputs`` (rows of raw values in column order; with ``preprocessed``:
    model-ready rows) or ``records`` (raw ``{column: value}`` objects, or one such object),
    preprocessed by the server. The rows' shape is the model's: rows that do not fit it are
    a 400 naming the shape the model takes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["inputs"]}, {"required": ["records"]}]},
    )

    inputs: Annotated[Any, WithJsonSchema(_ROWS)] = Field(None, description="a list of rows")
    records: Annotated[Any, WithJsonSchema(_RECORDS)] = Field(
        None, description="a list of {column: value} objects"
    )
    preprocessed: bool = Field(False, description="the inputs are model-ready rows")
    id: str | None = Field(None, description="the request's id (not used)")


class PredictResponse(BaseModel):
    model: str
    version: str
    predictions: list[Any] = Field(
        description="class labels (classification) or values (regression)"
    )
    probabilities: list[list[float]] | None = None
    confidence: list[float] | None = None


class ModelSummary(BaseModel):
    name: str
    versions: list[dict[str, Any]]
    split: dict[str, float]
    shadow: str | None


class AdminVersion(BaseModel):
    version: str
    ref: str
    engine: str
    device: str
    replicas: int
    ready: bool
    state: str
    error: str | None
    aliases: list[str]
    batching: BatchingSpec
    workers: list[int]
    restarts: int


class AdminModel(BaseModel):
    name: str
    versions: list[AdminVersion]
    split: dict[str, float]
    shadow: str | None
    previous_split: dict[str, float] | None


class ModelList(BaseModel):
    models: list[ModelSummary]


class AdminModels(RootModel[list[AdminModel]]):
    """Every served model (``GET /admin/models``)."""


class RepositoryEntry(BaseModel):
    name: str
    version: str
    state: str = Field(description="READY, LOADING, FAILED or UNLOADING")
    reason: str = Field(description="why the version is not ready ('' when it is)")


class RepositoryIndex(RootModel[list[RepositoryEntry]]):
    """Every version of every served model and its state (OIP model repository extension)."""
