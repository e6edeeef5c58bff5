#!/usr/bin/env python
"""The peer servers of ``benchmarks/serve.py``, each written as its users would at their best.

Run from the peers' virtual environment (``bash benchmarks/setup_peers.sh`` makes
``.venv-peers``: MLServer pins FastAPI and Starlette older than the project's), one peer per
process; this module never imports ``aimass_lab``::

    .venv-peers/bin/python benchmarks/serve_peers.py fastapi --onnx M --port P [--workers 2]
    .venv-peers/bin/python benchmarks/serve_peers.py litserve --onnx M --port P [--api-servers 2]
    .venv-peers/bin/python benchmarks/serve_peers.py mlserver --onnx M --port P --folder DIR
    .venv-peers/bin/python benchmarks/serve_peers.py echo --port P

Every peer serves the same OIP v2 JSON body on ``/v2/models/digits/infer`` with the same ONNX
Runtime session options as ``aimass serve``'s engine (CPU, 1 intra-op and 1 inter-op thread,
no spinning), and answers an OIP-shaped JSON body.

- ``fastapi``: an ``async def`` endpoint taking the raw body (``await request.body()``),
  parsing it with orjson, calling ``session.run`` and answering an orjson ``Response``; uvicorn
  with uvloop and httptools, no access log, ``--workers`` processes (1 or 2 on 2 cores).
- ``litserve``: LitServe with batching (``max_batch_size=32``, ``batch_timeout=2 ms``, a
  ``batch``/``unbatch`` pair stacking rows into one ``session.run``), ``fast_queue`` (ZeroMQ),
  ``--api-servers`` API server processes (2 on 2 cores: 30-45% faster than LitServe's default
  of one per inference worker), ``--workers`` inference workers.
- ``mlserver``: MLServer with adaptive batching (``max_batch_size=32``,
  ``max_batch_time=2 ms``) and a custom ``MLModel`` runtime running the same ONNX session
  (MLServer speaks OIP v2 natively); ``--parallel-workers`` inference processes (0: in the
  server process).
- ``echo``: a bare uvicorn ASGI app that returns the body: the HTTP round trip alone.
"""

# no `from __future__ import annotations`: FastAPI and LitServe read the annotations
import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

try:
    import litserve as ls
except ImportError:  # the other peers run without it
    ls = None

try:
    from mlserver import MLModel
    from mlserver.codecs import NumpyCodec
    from mlserver.types import InferenceRequest, InferenceResponse
except ImportError:
    MLModel = object  # type: ignore[misc,assignment]

MODEL = "digits"
INFER_PATH = f"/v2/models/{MODEL}/infer"
ONNX_ENV = "AIMASS_PEER_ONNX"


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


# ------------------------------------------------------------------------------- FastAPI
def fastapi_app() -> Any:
    """The FastAPI app (a factory: uvicorn imports it by name in each of its workers)."""
    import orjson
    from fastapi import FastAPI, Request, Response

    app = FastAPI()
    session = new_session(os.environ[ONNX_ENV])

    @app.post(INFER_PATH)
    async def infer(request: Request) -> Response:
        x = parse_row(orjson.loads(await request.body()))
        out = session.run(None, {"input": x})[0]
        return Response(orjson.dumps(oip_response(out)), media_type="application/json")

    return app


def run_fastapi(onnx_path: str, port: int, workers: int) -> None:
    import uvicorn

    os.environ[ONNX_ENV] = onnx_path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    uvicorn.run(
        "serve_peers:fastapi_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


# ------------------------------------------------------------------------------- LitServe
if ls is not None:

    class OnnxAPI(ls.LitAPI):  # type: ignore[misc]
        """At the top level of the module: LitServe's spawned worker unpickles it by name."""

        def __init__(self, path: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.path = path

        def setup(self, device: str) -> None:
            self.session = new_session(self.path)

        # a real annotation (LitServe reads it to take the JSON body)
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


def run_litserve(onnx_path: str, port: int, api_servers: int, workers: int) -> None:
    if ls is None:
        raise SystemExit("LitServe is missing: bash benchmarks/setup_peers.sh")
    api = OnnxAPI(onnx_path, max_batch_size=32, batch_timeout=0.002, api_path=INFER_PATH)
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=workers, fast_queue=True)
    server.run(
        host="127.0.0.1",
        port=port,
        num_api_servers=api_servers,
        api_server_worker_type="process",
        generate_client_file=False,
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )


# ------------------------------------------------------------------------------- MLServer
class OnnxRuntime(MLModel):  # type: ignore[misc,valid-type]
    """An MLServer runtime: one ONNX Runtime session, OIP v2 in and out (batched by MLServer)."""

    async def load(self) -> bool:
        self.session = new_session(os.environ[ONNX_ENV])
        return True

    async def predict(self, payload: "InferenceRequest") -> "InferenceResponse":
        x = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float32, copy=False)
        out = self.session.run(None, {"input": x})[0]
        return InferenceResponse(
            model_name=self.name, outputs=[NumpyCodec.encode_output("output", out)]
        )


def run_mlserver(onnx_path: str, port: int, folder: str, parallel_workers: int) -> None:
    """Write MLServer's settings and model settings into ``folder`` and start it there."""
    import socket

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    root = Path(folder)
    (root / MODEL).mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": parallel_workers,
        "debug": False,
        "load_models_at_startup": True,
    }
    (root / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    model = {
        "name": MODEL,
        "implementation": "serve_peers.OnnxRuntime",
        "max_batch_size": 32,
        "max_batch_time": 0.002,
    }
    (root / MODEL / "model-settings.json").write_text(json.dumps(model), encoding="utf-8")
    env = dict(os.environ)
    env[ONNX_ENV] = onnx_path
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent), env.get("PYTHONPATH", "")]
    )
    mlserver = str(Path(sys.executable).with_name("mlserver"))
    os.execve(mlserver, [mlserver, "start", str(root)], env)


# ----------------------------------------------------------------------------------- echo
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

    uvicorn.run(
        app, host="127.0.0.1", port=port, loop="uvloop", http="httptools", log_level="warning",
        access_log=False, lifespan="off",
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description="a peer server of benchmarks/serve.py")
    parser.add_argument("peer", choices=["fastapi", "litserve", "mlserver", "echo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--onnx")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="fastapi: uvicorn workers; litserve: inference workers",
    )
    parser.add_argument("--api-servers", type=int, default=2, help="litserve: API server processes")
    parser.add_argument(
        "--parallel-workers", type=int, default=0, help="mlserver: inference processes"
    )
    parser.add_argument("--folder", help="mlserver: a folder for its settings")
    args = parser.parse_args()
    if args.peer == "fastapi":
        run_fastapi(args.onnx, args.port, args.workers)
    elif args.peer == "litserve":
        run_litserve(args.onnx, args.port, args.api_servers, args.workers)
    elif args.peer == "mlserver":
        run_mlserver(args.onnx, args.port, args.folder, args.parallel_workers)
    else:
        run_echo(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
