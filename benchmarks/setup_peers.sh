#!/usr/bin/env bash
# Create .venv-peers: the peer servers of benchmarks/serve.py (FastAPI, LitServe, MLServer),
# apart from the project's .venv because MLServer pins FastAPI/Starlette older than ours.
# Usage: bash benchmarks/setup_peers.sh [PYTHON]   (default: python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
py="${1:-$(command -v python3.11 || command -v python3)}"
venv=.venv-peers
if [ ! -x "$venv/bin/python" ]; then
    "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -c benchmarks/peers-constraints.txt \
    "fastapi" "uvicorn" "uvloop" "httptools" "orjson" "numpy" "onnxruntime" "psutil" \
    "litserve" "pyzmq" "mlserver"
# Triton's in-process Python API (`tritonserver`) is not on PyPI: the package of that name
# is a placeholder that fails on install; the real wheels ship only inside NVIDIA's NGC
# containers (with libtritonserver.so). benchmarks/serve.py therefore has no Triton peer.
"$venv/bin/python" -c "import fastapi, litserve, mlserver, onnxruntime, orjson, uvloop, httptools; print('peers ready:', fastapi.__version__, litserve.__version__, mlserver.__version__)"
