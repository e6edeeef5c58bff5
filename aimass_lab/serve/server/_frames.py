"""The frames of the pipes between the server and its replica workers (no pickle).

A frame is its payload's length (u32), a batch id (u64) and a kind (u8), then the payload;
arrays travel as raw bytes with their name, dtype and shape.
"""

from __future__ import annotations

import struct

import numpy as np

__all__ = [
    "HEAD",
    "K_BATCH",
    "K_ERROR",
    "K_READY",
    "K_RESULT",
    "K_SPEC",
    "decode_arrays",
    "encode_arrays",
    "frame",
]

# frame: payload length (u32), batch id (u64), kind (u8), then the payload
HEAD = struct.Struct("<IQB")
K_SPEC, K_READY, K_BATCH, K_RESULT, K_ERROR = 0, 1, 2, 3, 4


def encode_arrays(arrays: list[tuple[str, np.ndarray]]) -> bytes:
    """``[(name, array)]`` as bytes: count, then name, dtype, shape, data of each."""
    parts = [struct.pack("<H", len(arrays))]
    for name, arr in arrays:
        arr = np.ascontiguousarray(arr)
        bname = name.encode()
        bdt = arr.dtype.str.encode()
        parts.append(struct.pack("<HB", len(bname), len(bdt)) + bname + bdt)
        parts.append(struct.pack(f"<B{arr.ndim}Q", arr.ndim, *arr.shape))
        parts.append(arr.tobytes())
    return b"".join(parts)


def decode_arrays(buf: bytes | memoryview) -> list[tuple[str, np.ndarray]]:
    """The inverse of :func:`encode_arrays` (arrays are read-only views of ``buf``)."""
    view = memoryview(buf)
    (count,) = struct.unpack_from("<H", view, 0)
    pos = 2
    out: list[tuple[str, np.ndarray]] = []
    for _ in range(count):
        nlen, dlen = struct.unpack_from("<HB", view, pos)
        pos += 3
        name = bytes(view[pos : pos + nlen]).decode()
        pos += nlen
        dtype = np.dtype(bytes(view[pos : pos + dlen]).decode())
        pos += dlen
        (ndim,) = struct.unpack_from("<B", view, pos)
        pos += 1
        shape = struct.unpack_from(f"<{ndim}Q", view, pos)
        pos += 8 * ndim
        n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        out.append((name, np.frombuffer(view[pos : pos + n], dtype=dtype).reshape(shape)))
        pos += n
    return out


def frame(batch_id: int, kind: int, payload: bytes) -> bytes:
    return HEAD.pack(len(payload), batch_id, kind) + payload
