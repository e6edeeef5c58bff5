"""Open Inference Protocol v2 over HTTP/JSON: datatypes, request parsing, response encoding.

Parsing validates everything before a request reaches a batch queue, so that a bad request
fails alone with a 400 that names the input, and never with a 500. The binary tensor
extension of Triton (``Inference-Header-Content-Length``, ``binary_data_size``,
``binary_data``) is supported in both directions, so ``tritonclient.http`` works with its
defaults.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aimass_lab.serve.server._codec import HTTPError, json_bytes, json_bytes_finite, parse_json

__all__ = [
    "DATATYPES",
    "HTTPError",
    "InferRequest",
    "TensorMeta",
    "encode_infer_response",
    "json_bytes",
    "json_bytes_finite",
    "non_finite",
    "numpy_datatype",
    "parse_infer_request",
    "parse_json",
]

#: OIP datatype -> numpy dtype.
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}
_NUMPY_TO_OIP = {np.dtype(v).str: k for k, v in DATATYPES.items()}
_DTYPES = {k: np.dtype(v) for k, v in DATATYPES.items()}


_DT_CACHE: dict[Any, str] = {}


def numpy_datatype(dtype: Any) -> str:
    """The OIP datatype of a numpy dtype (``float32`` -> ``"FP32"``)."""
    cached = _DT_CACHE.get(dtype)
    if cached is not None:
        return cached
    _DT_CACHE[dtype] = name = _numpy_datatype(dtype)
    return name


def _numpy_datatype(dtype: Any) -> str:
    dt = np.dtype(dtype)
    name = _NUMPY_TO_OIP.get(dt.newbyteorder("<").str if dt.byteorder == ">" else dt.str)
    if name is None:
        raise ValueError(f"no Open Inference Protocol datatype for numpy dtype {dt}")
    return name


@dataclass(frozen=True)
class TensorMeta:
    """Name, OIP datatype and shape (``-1`` for a free axis) of a model input or output."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorMeta:
        return cls(str(d["name"]), str(d["datatype"]), tuple(int(s) for s in d["shape"]))


@dataclass
class InferRequest:
    """A validated inference request: arrays by input name, rows, and how to answer."""

    arrays: dict[str, np.ndarray]
    rows: int
    id: str | None = None
    outputs: list[str] | None = None
    binary_outputs: set[str] = field(default_factory=set)
    parameters: dict[str, Any] = field(default_factory=dict)


def non_finite(
    arr: np.ndarray, name: str, after: str = "", columns: list[str] | None = None
) -> None:
    """Raise a 400 naming the first row (and position) of ``arr`` that is not finite.

    ``after`` says what made the values (``" after preprocessing"``); ``columns`` names the
    columns of a 2-D ``arr`` (a tabular model's features)."""
    if arr.dtype.kind != "f" or arr.size == 0 or np.isfinite(arr).all():
        return
    where = [int(i) for i in np.argwhere(~np.isfinite(arr))[0]]
    at = f"{name} row {where[0]}"
    if columns is not None and len(where) == 2 and where[1] < len(columns):
        at += f" column {columns[where[1]]!r}"
    elif len(where) > 1:
        at += f" position {where[1:]}"
    if np.isnan(arr[tuple(where)]):
        what = "null or NaN"
    else:
        label = numpy_datatype(arr.dtype)
        what = f"Infinity or a number beyond the range of {label} (+-{np.finfo(arr.dtype).max:.4g})"
    raise HTTPError(400, f"{at} is {what}{after}; accepted: finite numbers")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _dims(shape: list[Any]) -> bool:
    """Whether every item of a shape is a non-negative integer (not a bool)."""
    for d in shape:
        if type(d) is not int and (not isinstance(d, int) or isinstance(d, bool)):
            return False
        if d < 0:
            return False
    return True


def _shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "[" + ", ".join("-1" if d < 0 else str(d) for d in shape) + "]"


def parse_infer_request(
    body: bytes,
    header_length: int | None,
    inputs: list[TensorMeta],
    outputs: list[TensorMeta],
    max_batch_size: int,
    what: str,
    raw: Any = None,
) -> InferRequest:
    # Long: the hot path's one pass over a request, its checks in the order their errors name.
    """Validate an OIP infer request against a model's inputs and outputs.

    Parameters
    ----------
    body
        The whole request body.
    header_length
        The value of ``Inference-Header-Content-Length`` (binary extension), else ``None``.
    inputs, outputs
        The model's tensors; axis 0 of every input is the batch axis.
    max_batch_size
        The most rows a request may hold (the server splits one above the version's
        ``max_batch_size`` into batches; see ``ServerConfig.max_request_rows``).
    what
        How messages name the model (``"model 'digits' version 3"``).
    raw
        The version's :class:`~aimass_lab.serve.server._raw.RawInputs` (text and image
        models): a ``BYTES`` input then holds raw texts or image bytes (see :func:`_raw_input`).

    Raises
    ------
    HTTPError
        400 naming what is wrong (a value that is null, NaN, infinite or beyond the range of
        its datatype included).
    """
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise HTTPError(
                400,
                f"Inference-Header-Content-Length is {header_length} but the body has "
                f"{len(body)} bytes",
            )
        doc = parse_json(body[:header_length])
        binary = memoryview(body)[header_length:]
    else:
        doc = parse_json(body)
        binary = memoryview(b"")
    if not isinstance(doc, dict):
        raise HTTPError(400, "the request body must be a JSON object with an 'inputs' list")
    req_id = doc.get("id")
    if req_id is not None and not isinstance(req_id, str):
        raise HTTPError(400, "'id' must be a string")
    items = doc.get("inputs")
    if not isinstance(items, list) or not items:
        raise HTTPError(
            400,
            "the request needs 'inputs': a non-empty list of {name, shape, datatype, data}; "
            f"{what} takes {', '.join(repr(m.name) for m in inputs)}",
        )
    params = doc.get("parameters")
    all_binary = isinstance(params, dict) and params.get("binary_data_output") is True
    expected = {m.name: m for m in inputs}
    arrays: dict[str, np.ndarray] = {}
    params_out: dict[str, Any] = {}
    offset = 0
    rows: int | None = None
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise HTTPError(400, f"inputs[{i}] must be an object with name, shape, datatype, data")
        name = item.get("name")
        if not isinstance(name, str):
            raise HTTPError(400, f"inputs[{i}] needs a 'name' (a string)")
        meta = expected.get(name)
        if meta is None:
            raise HTTPError(
                400,
                f"unknown input {name!r}; {what} takes " + ", ".join(repr(m) for m in expected),
            )
        if name in arrays:
            raise HTTPError(400, f"input {name!r} is given twice")
        datatype = item.get("datatype")
        if datatype == "BYTES" and raw is not None and len(expected) == 1:
            arr, used, notes = _raw_input(item, meta, binary[offset:], raw, max_batch_size, what)
            offset += used
            rows, arrays[name] = len(arr), arr
            params_out.update(notes)
            continue
        if datatype != meta.datatype:
            raise HTTPError(
                400,
                f"input {name!r} has datatype {datatype!r}; {what} expects {meta.datatype!r}",
            )
        shape = item.get("shape")
        if not isinstance(shape, list) or len(shape) > 32 or not _dims(shape):
            raise HTTPError(
                400,
                f"input {name!r}: 'shape' must be a list of non-negative integers, got {shape!r}",
            )
        if len(shape) != len(meta.shape) or any(
            m >= 0 and d != m for d, m in zip(shape[1:], meta.shape[1:], strict=False)
        ):
            raise HTTPError(
                400,
                f"input {name!r} has shape {_shape_text(shape)}; {what} expects "
                f"{_shape_text(meta.shape)} (-1: any size)",
            )
        batch = shape[0]
        if batch < 1:
            raise HTTPError(400, f"input {name!r} has a batch of 0 rows; send at least one")
        if batch > max_batch_size:
            raise HTTPError(
                400,
                f"input {name!r} has a batch of {batch} rows, above the maximum "
                f"{max_batch_size} of {what}; split the request",
            )
        if rows is not None and batch != rows:
            raise HTTPError(400, f"input {name!r} has {batch} rows but another input has {rows}")
        rows = batch
        count = math.prod(shape)
        dtype = _DTYPES[meta.datatype]
        iparams = item.get("parameters")
        size = iparams.get("binary_data_size") if isinstance(iparams, dict) else None
        if size is not None:
            if not _is_int(size) or size < 0:
                raise HTTPError(400, f"input {name!r}: binary_data_size must be an integer")
            if offset + size > len(binary):
                raise HTTPError(
                    400,
                    f"input {name!r}: binary_data_size {size} runs past the end of the "
                    f"{len(binary)} binary bytes of the request",
                )
            if size != count * dtype.itemsize:
                raise HTTPError(
                    400,
                    f"input {name!r}: {size} binary bytes do not match shape "
                    f"{_shape_text(shape)} of {meta.datatype} ({count * dtype.itemsize} bytes)",
                )
            arr = np.frombuffer(binary[offset : offset + size], dtype=dtype).reshape(shape)
            offset += size
        else:
            data = item.get("data")
            if not isinstance(data, list):
                raise HTTPError(400, f"input {name!r} needs 'data': a list of {count} values")
            try:
                arr = np.asarray(data, dtype=dtype)
            except (ValueError, TypeError, OverflowError):
                raise HTTPError(
                    400,
                    f"input {name!r}: 'data' is not a regular list of numbers for {meta.datatype}",
                ) from None
            if arr.size != count:
                raise HTTPError(
                    400,
                    f"input {name!r}: 'data' holds {arr.size} values but shape "
                    f"{_shape_text(shape)} needs {count}",
                )
            arr = arr.reshape(shape)
        non_finite(arr, f"input {name!r}")  # as sent and after the cast to the datatype
        arrays[name] = arr
    missing = [m for m in expected if m not in arrays]
    if missing:
        raise HTTPError(
            400, f"missing input {missing[0]!r}; {what} takes " + ", ".join(map(repr, expected))
        )
    known_out = {m.name for m in outputs}
    wanted: list[str] | None = None
    binary_outputs: set[str] = set()
    req_out = doc.get("outputs")
    if req_out is not None:
        if not isinstance(req_out, list):
            raise HTTPError(400, "'outputs' must be a list of {name, parameters?}")
        wanted = []
        for j, o in enumerate(req_out):
            oname = o.get("name") if isinstance(o, dict) else None
            if not isinstance(oname, str):
                raise HTTPError(400, f"outputs[{j}] needs a 'name' (a string)")
            if oname not in known_out:
                raise HTTPError(
                    400,
                    f"unknown output {oname!r}; {what} gives "
                    + ", ".join(repr(m.name) for m in outputs),
                )
            wanted.append(oname)
            oparams = o.get("parameters")
            if all_binary or (isinstance(oparams, dict) and oparams.get("binary_data") is True):
                binary_outputs.add(oname)
    elif all_binary:
        binary_outputs = set(known_out)
    assert rows is not None
    return InferRequest(arrays, rows, req_id, wanted, binary_outputs, params_out)


def _bytes_elements(blob: memoryview, count: int, name: str) -> list[bytes]:
    """The ``count`` elements of a binary ``BYTES`` tensor: each a 4-byte little-endian
    length, then that many bytes (the binary tensor extension's layout)."""
    out: list[bytes] = []
    pos = 0
    for i in range(count):
        if pos + 4 > len(blob):
            raise HTTPError(
                400,
                f"input {name!r}: the binary BYTES data ends before element {i} of {count} "
                "(each element: a 4-byte little-endian length, then its bytes)",
            )
        (n,) = struct.unpack_from("<I", blob, pos)
        pos += 4
        if pos + n > len(blob):
            raise HTTPError(
                400, f"input {name!r}: BYTES element {i} says {n} bytes but the data ends first"
            )
        out.append(bytes(blob[pos : pos + n]))
        pos += n
    if pos != len(blob):
        raise HTTPError(
            400, f"input {name!r}: {len(blob) - pos} binary bytes left after {count} elements"
        )
    return out


def _raw_input(
    item: dict[str, Any],
    meta: TensorMeta,
    binary: memoryview,
    raw: Any,
    max_batch_size: int,
    what: str,
) -> tuple[np.ndarray, int, dict[str, Any]]:
    """A ``BYTES`` input of raw texts or image bytes: model-ready rows, the binary bytes it
    used, and the answer's parameters (``truncated``, ``truncated_rows``)."""
    name = meta.name
    shape = item.get("shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not _dims(shape)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise HTTPError(
            400,
            f"input {name!r}: a BYTES input has shape [N] or [N, 1] (one {raw.kind} per row), "
            f"got {shape!r}",
        )
    count = shape[0]
    if not 1 <= count <= max_batch_size:
        raise HTTPError(
            400,
            f"input {name!r} has a batch of {count} rows; {what} takes 1 to {max_batch_size}",
        )
    iparams = item.get("parameters")
    size = iparams.get("binary_data_size") if isinstance(iparams, dict) else None
    used = 0
    values: list[Any]
    if size is not None:
        if not _is_int(size) or size < 0 or size > len(binary):
            raise HTTPError(
                400,
                f"input {name!r}: binary_data_size {size!r} does not fit the "
                f"{len(binary)} binary bytes of the request",
            )
        values, used = list(_bytes_elements(binary[:size], count, name)), size
    else:
        values = item.get("data")  # type: ignore[assignment]
        if not isinstance(values, list) or len(values) != count:
            raise HTTPError(
                400,
                f"input {name!r} needs 'data': a list of {count} strings ("
                + ("texts" if raw.kind == "text" else "base64 image files")
                + ")",
            )
    length = meta.shape[1] if len(meta.shape) == 2 and meta.shape[1] > 0 else None
    arr, notes = raw.rows(values, f"input {name!r}", length)
    arr = arr.astype(_DTYPES.get(meta.datatype, arr.dtype), copy=False)  # INT64 ids, ...
    params: dict[str, Any] = {}
    flags = notes.get("truncated")
    if flags is not None:
        params["truncated"] = any(flags)
        if any(flags):
            params["truncated_rows"] = ",".join(str(i) for i, t in enumerate(flags) if t)
    return arr, used, params


def encode_infer_response(
    model: str,
    version: str,
    outputs: list[TensorMeta],
    arrays: list[np.ndarray],
    request: InferRequest,
) -> tuple[bytes, dict[str, str]]:
    """The body (JSON, then binary tensors if asked) and extra headers of an infer answer."""
    by_name = dict(zip((m.name for m in outputs), arrays, strict=False))
    names = request.outputs if request.outputs is not None else list(by_name)
    out_docs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name in names:
        arr = by_name[name]
        entry: dict[str, Any] = {
            "name": name,
            "datatype": numpy_datatype(arr.dtype),
            "shape": list(arr.shape),
        }
        if name in request.binary_outputs:
            blob = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise _non_finite_output(name, arr, f"model {model!r} version {version}")
            entry["data"] = arr.ravel().tolist()
        out_docs.append(entry)
    doc: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": out_docs}
    if request.parameters:
        doc["parameters"] = request.parameters
    if request.id is not None:
        doc["id"] = request.id
    head = json_bytes_finite(doc)  # the JSON part is finite (checked above)
    if not blobs:
        return head, {"content-type": "application/json"}
    return b"".join([head, *blobs]), {
        "content-type": "application/octet-stream",
        "inference-header-content-length": str(len(head)),
    }


def _non_finite_output(name: str, arr: np.ndarray, what: str) -> HTTPError:
    """422: a JSON output holds NaN or Infinity, which JSON cannot hold."""
    rows = sorted({int(i) for i in np.argwhere(~np.isfinite(arr))[:, 0]})
    shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
    return HTTPError(
        422,
        f"output {name!r} of {what} is not finite (NaN or Infinity) in row(s) {shown}: the "
        "inputs are outside the range the model computes in, and JSON cannot hold those "
        "values; ask for the output in binary (parameters.binary_data: true) to get them "
        "as they are",
    )
