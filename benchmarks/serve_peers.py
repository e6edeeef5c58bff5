#!/usr/bin/env python
"""The peer servers of ``benchmarks/serve.py``, one per process (LitServe spawns its workers,
so its API class lives at the top level of a module it can import again).

    python benchmarks/serve_peers.py litserve|fastapi|echo --port P [--onnx PATH]

Every peer serves the same OIP v2 JSON body on ``/v2/models/digits/infer`` with the same ONNX
Runtime session options as ``aimass serve``'s engine (CPU, 1 intra-op and 1 inter-op thread,
no spinning).
"""

import argparse
import sys
from typing import Any

import numpy as np

try:
    import litserve as ls
except ImportError:  # the other peers run without it
    ls = None

MODEL = "digits"
INFER_PATH = f"/v2/models/{MODEL}/infer"


def new_session(path: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def oip_response(out: np.ndarray) -> dict[str, Any]:
    return {
        "model_name": MODEL,
        "outputs": [
            {
                "name": "output",
                "datatype": "FP32",
                "shape": list(out.shape),
                "data": out.ravel().tolist(),
            }
        ],
    }


def parse_row(body: dict[str, Any]) -> np.ndarray:
    tensor = body["inputs"][0]
    return np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])


if ls is not None:

    class OnnxAPI(ls.LitAPI):  # type: ignore[misc]
        """(d) at the top level of the module: LitServe's spawned worker unpickles it by name."""

        def __init__(self, path: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.path = path

        def setup(self, device: str) -> None:
            self.session = new_session(self.path)

        # a real annotation (no postponed evaluation in this module): LitServe reads it to
        # take the JSON body
        def decode_request(self, request: dict) -> np.ndarray:  # type: ignore[type-arg]
            return parse_row(request)

        def batch(self, inputs: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(inputs)

        def predict(self, x: np.ndarray) -> np.ndarray:
            return self.session.run(None, {"input": x})[0]  # type: ignore[no-any-return]

        def unbatch(self, output: np.ndarray) -> list[np.ndarray]:
            return [output[i : i + 1] for i in range(len(output))]

        def encode_response(self, output: np.ndarray) -> dict[str, Any]:
            return oip_response(output)


def run_litserve(onnx_path: str, port: int) -> None:
    """(d) LitServe with batching (max 32 rows, 2 ms), one worker, its fast queue if it can."""
    if ls is None:
        raise SystemExit('LitServe is missing: pip install -e ".[bench]"')
    try:
        import zmq  # noqa: F401

        fast = True
    except ImportError:
        fast = False
    api = OnnxAPI(onnx_path, max_batch_size=32, batch_timeout=0.002, api_path=INFER_PATH)
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1, fast_queue=fast)
    server.run(host="127.0.0.1", port=port, generate_client_file=False, log_level="warning")


def run_fastapi(onnx_path: str, port: int) -> None:
    """(e) Plain FastAPI + uvicorn, a ``def`` endpoint calling ORT per request."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    session = new_session(onnx_path)

    @app.post(INFER_PATH)
    def infer(body: dict[str, Any]) -> dict[str, Any]:
        return oip_response(session.run(None, {"input": parse_row(body)})[0])

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run_echo(port: int) -> None:
    """A bare uvicorn ASGI app that returns the request body: the HTTP round trip alone."""
    import uvicorn

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> int:
    parser = argparse.ArgumentParser(description="a peer server of benchmarks/serve.py")
    parser.add_argument("peer", choices=["litserve", "fastapi", "echo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--onnx")
    args = parser.parse_args()
    if args.peer == "litserve":
        run_litserve(args.onnx, args.port)
    elif args.peer == "fastapi":
        run_fastapi(args.onnx, args.port)
    else:
        run_echo(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
