"""The inference server's protocol: OIP v2 and JSON answers against in-process engines,
batching equivalence, bad inputs, a property test that no body yields a 500, metrics, OpenAPI.

One real server process (``python -m aimass_lab.cli serve``) serves the whole module.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import ServerProcess, digits, model_workspace, oip_body

from aimass_lab import registry
from aimass_lab.serve import Client, ServeError
from aimass_lab.workspace import Workspace


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-api") / "ws")


@pytest.fixture(scope="module")
def server(ws_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        ws_path,
        tmp_path_factory.mktemp("serve-api-run"),
        "--models", "digits-mlp:prod",
        "--models", "digits-mlp:1",
        "--models", "digits-mlp:99",
        "--max-batch-size", "16",
        "--no-strict-readiness",  # ready with the missing version 99 failed (it says so)
    )  # fmt: skip
    yield srv
    code = srv.terminate()
    assert code == 0, srv.log()


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


@pytest.fixture(scope="module")
def reference(ws_path: Path) -> dict[str, Any]:
    """In-process outputs: ONNX Runtime on version 2, torch on version 1."""
    import onnxruntime as ort
    import torch

    ws = Workspace(ws_path)
    mv2 = registry.get("digits-mlp:2", workspace=ws)
    mv1 = registry.get("digits-mlp:1", workspace=ws)
    sess = ort.InferenceSession(str(mv2.files()["model.onnx"]), providers=["CPUExecutionProvider"])
    net = mv1.load_network()
    raw, ready = digits(40)

    def ort_run(x: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {"input": x.astype(np.float32)})[0])

    def torch_run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(net(torch.from_numpy(x.astype(np.float32))).numpy())

    columns = mv1.config["preprocess"]["columns"]
    ws.store.close()
    return {"raw": raw, "ready": ready, "ort": ort_run, "torch": torch_run, "columns": columns}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


# ------------------------------------------------------------------------------ health, metadata
def test_health_and_server_metadata(http: httpx.Client) -> None:
    assert http.get("/v2/health/live").json() == {"live": True}
    ready = http.get("/v2/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True and len(ready.json()["failed"]) == 1
    assert "99" in ready.json()["failed"][0]
    meta = http.get("/v2").json()
    assert meta["name"] == "aimass-serve"
    assert "binary_tensor_data" in meta["extensions"]


def test_model_metadata_names_datatypes_shapes(http: httpx.Client) -> None:
    doc = http.get("/v2/models/digits-mlp").json()
    assert doc["name"] == "digits-mlp"
    assert doc["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert doc["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 10]}]
    assert doc["platform"] == "onnxruntime_onnx"
    assert set(doc["versions"]) == {"1", "2", "99"}
    assert doc["parameters"]["split"] == {"2": 100}
    v1 = http.get("/v2/models/digits-mlp/versions/1").json()
    assert v1["versions"] == ["1"] and v1["platform"] == "pytorch"
    assert v1["inputs"] == doc["inputs"] and v1["outputs"] == doc["outputs"]
    assert v1["parameters"]["classes"] == list(range(10))


def test_model_and_version_ready(http: httpx.Client) -> None:
    assert http.get("/v2/models/digits-mlp/ready").status_code == 200
    assert http.get("/v2/models/digits-mlp/versions/1/ready").json()["ready"] is True
    r = http.get("/v2/models/digits-mlp/versions/99/ready")
    assert r.status_code == 503 and "no version 99" in r.json()["error"]


def test_failed_version_reported_others_serve(http: httpx.Client) -> None:
    models = http.get("/v1/models").json()["models"]
    versions = {v["version"]: v for v in models[0]["versions"]}
    assert versions["2"]["ready"] and versions["1"]["ready"] and not versions["99"]["ready"]
    assert versions["2"]["aliases"] == ["prod"]
    r = http.post("/v2/models/digits-mlp/versions/99/infer", json=oip_body(np.zeros((1, 64))))
    assert r.status_code == 503
    assert "failed to load" in r.json()["error"]


def test_unknown_model_and_version_404(http: httpx.Client) -> None:
    r = http.post("/v2/models/nope/infer", json={})
    assert (
        r.status_code == 404
        and r.json()["error"] == "unknown model 'nope'; served models: 'digits-mlp'"
    )
    r = http.get("/v2/models/digits-mlp/versions/7")
    assert r.status_code == 404 and "has no version '7'" in r.json()["error"]
    r = http.post("/v1/models/digits-mlp:staging/predict", json={"inputs": [[0] * 64]})
    assert r.status_code == 404 and "no version or alias 'staging'" in r.json()["error"]
    assert http.get("/nope").status_code == 404


# ----------------------------------------------------------------------------------- OIP infer
def test_oip_infer_matches_onnxruntime_and_torch(
    http: httpx.Client, reference: dict[str, Any]
) -> None:
    x = reference["ready"][:5]
    r = http.post("/v2/models/digits-mlp/infer", json={**oip_body(x), "id": "req-1"})
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] == "2"
    doc = r.json()
    assert (
        doc["model_name"] == "digits-mlp" and doc["model_version"] == "2" and doc["id"] == "req-1"
    )
    out = doc["outputs"][0]
    assert out["name"] == "output" and out["datatype"] == "FP32" and out["shape"] == [5, 10]
    np.testing.assert_allclose(
        np.reshape(out["data"], (5, 10)), reference["ort"](x), rtol=1e-5, atol=1e-5
    )
    r = http.post("/v2/models/digits-mlp/versions/1/infer", json=oip_body(x))
    assert r.headers["x-model-version"] == "1" and r.json()["model_version"] == "1"
    got = np.reshape(r.json()["outputs"][0]["data"], (5, 10))
    np.testing.assert_allclose(got, reference["torch"](x), rtol=1e-5, atol=1e-5)


def test_oip_nested_data_and_requested_outputs(
    http: httpx.Client, reference: dict[str, Any]
) -> None:
    x = reference["ready"][:2]
    body = {
        "inputs": [{"name": "input", "shape": [2, 64], "datatype": "FP32", "data": x.tolist()}],
        "outputs": [{"name": "output"}],
    }
    r = http.post("/v2/models/digits-mlp/infer", json=body)
    assert r.status_code == 200
    np.testing.assert_allclose(
        np.reshape(r.json()["outputs"][0]["data"], (2, 10)), reference["ort"](x), atol=1e-5
    )


def test_oip_binary_tensor_extension(http: httpx.Client, reference: dict[str, Any]) -> None:
    """tritonclient's default: binary input after the JSON header, binary output asked for."""
    x = np.ascontiguousarray(reference["ready"][:3], dtype=np.float32)
    head = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [3, 64],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "outputs": [{"name": "output", "parameters": {"binary_data": True}}],
        }
    ).encode()
    r = http.post(
        "/v2/models/digits-mlp/infer",
        content=head + x.tobytes(),
        headers={
            "Inference-Header-Content-Length": str(len(head)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    doc = json.loads(r.content[:n])
    out = doc["outputs"][0]
    assert out["parameters"]["binary_data_size"] == 3 * 10 * 4
    got = np.frombuffer(r.content[n:], dtype="<f4").reshape(out["shape"])
    np.testing.assert_allclose(got, reference["ort"](x), atol=1e-5)


# ------------------------------------------------------------------------------------ JSON route
def test_json_predict_raw_rows_records_and_preprocessed(
    http: httpx.Client, reference: dict[str, Any]
) -> None:
    raw, ready = reference["raw"][:4], reference["ready"][:4]
    probs = _softmax(reference["ort"](ready))
    r = http.post("/v1/models/digits-mlp/predict", json={"inputs": raw.tolist()})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (
        r.headers["x-model-version"] == "2"
        and doc["version"] == "2"
        and doc["model"] == "digits-mlp"
    )
    assert doc["predictions"] == probs.argmax(1).tolist()
    np.testing.assert_allclose(doc["probabilities"], probs, atol=1e-5)
    np.testing.assert_allclose(doc["confidence"], probs.max(1), atol=1e-5)
    records = [dict(zip(reference["columns"], row, strict=True)) for row in raw.tolist()]
    by_records = http.post("/v1/models/digits-mlp/predict", json={"records": records}).json()
    assert by_records["predictions"] == doc["predictions"]
    ready_doc = http.post(
        "/v1/models/digits-mlp/predict", json={"inputs": ready.tolist(), "preprocessed": True}
    ).json()
    np.testing.assert_allclose(ready_doc["probabilities"], doc["probabilities"], atol=1e-5)


def test_json_predict_version_and_alias(http: httpx.Client, reference: dict[str, Any]) -> None:
    raw = reference["raw"][:3].tolist()
    r1 = http.post("/v1/models/digits-mlp:1/predict", json={"inputs": raw})
    assert r1.headers["x-model-version"] == "1" and r1.json()["version"] == "1"
    expected = _softmax(reference["torch"](reference["ready"][:3]))
    np.testing.assert_allclose(r1.json()["probabilities"], expected, atol=1e-5)
    rp = http.post("/v1/models/digits-mlp:prod/predict", json={"inputs": raw})
    assert rp.headers["x-model-version"] == "2"
    one = http.post("/v1/models/digits-mlp/predict", json={"inputs": raw[0]}).json()
    assert one["predictions"] == rp.json()["predictions"][:1]


# ----------------------------------------------------------------------------------- batching
def test_concurrent_requests_equal_their_unbatched_results(
    server: ServerProcess, reference: dict[str, Any]
) -> None:
    x = reference["ready"]
    expected = reference["ort"](x)
    jobs = [(i % 37, 1 + i % 4) for i in range(96)]

    local = threading.local()

    def call(job: tuple[int, int]) -> tuple[int, int, np.ndarray]:
        start, rows = job
        if not hasattr(local, "client"):
            local.client = server.client()
        r = local.client.post("/v2/models/digits-mlp/infer", json=oip_body(x[start : start + rows]))
        assert r.status_code == 200, r.text
        return start, rows, np.reshape(r.json()["outputs"][0]["data"], (rows, 10))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(call, jobs))
    for start, rows, got in results:
        np.testing.assert_allclose(got, expected[start : start + rows], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------- bad inputs
_GOOD = {"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64}
BAD_OIP = [
    (b"{", "malformed JSON"),
    (b"", "malformed JSON: the request body is empty"),
    (b"[1, 2]", "must be a JSON object with an 'inputs' list"),
    (json.dumps({"inputs": []}), "needs 'inputs'"),
    (
        json.dumps({"inputs": [{**_GOOD, "name": "pixels"}]}),
        "unknown input 'pixels'; model 'digits-mlp' version 2 takes 'input'",
    ),
    (
        json.dumps({"inputs": [{**_GOOD, "shape": [1, 63]}]}),
        "input 'input' has shape [1, 63]; model 'digits-mlp' version 2 expects [-1, 64]",
    ),
    (json.dumps({"inputs": [{**_GOOD, "shape": [64]}]}), "input 'input' has shape [64]"),
    (
        json.dumps({"inputs": [{**_GOOD, "datatype": "FP64"}]}),
        "input 'input' has datatype 'FP64'; model 'digits-mlp' version 2 expects 'FP32'",
    ),
    (
        json.dumps({"inputs": [{**_GOOD, "data": [0.0] * 60}]}),
        "input 'input': 'data' holds 60 values but shape [1, 64] needs 64",
    ),
    (
        json.dumps({"inputs": [{**_GOOD, "data": ["a"] * 64}]}),
        "'data' is not a regular list of numbers",
    ),
    (
        json.dumps({"inputs": [{**_GOOD, "data": [[0.0] * 64, [0.0]]}]}),
        "'data' is not a regular list",
    ),
    (
        json.dumps({"inputs": [{**_GOOD, "shape": [4097, 64], "data": [0.0] * 4097 * 64}]}),
        "input 'input' has a batch of 4097 rows, above the maximum 4096",
    ),
    (json.dumps({"inputs": [{**_GOOD, "shape": [0, 64], "data": []}]}), "batch of 0 rows"),
    (
        json.dumps({"inputs": [{**_GOOD, "shape": [-1, 64]}]}),
        "'shape' must be a list of non-negative integers",
    ),
    (
        json.dumps({"inputs": [{k: v for k, v in _GOOD.items() if k != "data"}]}),
        "input 'input' needs 'data'",
    ),
    (json.dumps({"inputs": [_GOOD, _GOOD]}), "input 'input' is given twice"),
    (json.dumps({"inputs": [_GOOD], "outputs": [{"name": "probs"}]}), "unknown output 'probs'"),
]


@pytest.mark.parametrize(("body", "message"), BAD_OIP)
def test_bad_oip_requests_are_400_naming_the_problem(
    http: httpx.Client, body: Any, message: str
) -> None:
    r = http.post(
        "/v2/models/digits-mlp/infer", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


BAD_PREDICT = [
    ({"rows": [[0] * 64]}, "exactly one of 'inputs'"),
    ({"inputs": [[0] * 64], "records": [{}]}, "exactly one of 'inputs'"),
    ({"inputs": []}, "'inputs' must be a non-empty list"),
    ({"inputs": [[0] * 63]}, "inputs[0] must be a list of 64 raw values"),
    (
        {"inputs": [[0] * 63], "preprocessed": True},
        "'inputs' gives rows of shape [63]; model 'digits-mlp' version 2 takes rows of shape [64]",
    ),
    ({"inputs": [["x"] * 64]}, "inputs[0] column 'pixel_0_0' must be a number, got 'x'"),
    ({"records": [{"pixel_0_0": 1}]}, "records[0] lacks column 'pixel_0_1'"),
    ({"records": [1, 2]}, "records[0] must be an object"),
    ({"inputs": [[0] * 64] * 4097}, "'inputs' has 4097 rows, above the maximum 4096"),
    ({"inputs": [[0] * 64], "preprocessed": "yes"}, "'preprocessed' must be true or false"),
    ({"inputs": [[0] * 64], "extra": 1}, "unknown field(s) 'extra'"),
]


@pytest.mark.parametrize(("body", "message"), BAD_PREDICT)
def test_bad_predict_requests_are_400_naming_the_problem(
    http: httpx.Client, body: Any, message: str
) -> None:
    r = http.post("/v1/models/digits-mlp/predict", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


def test_wrong_method_is_405(http: httpx.Client) -> None:
    r = http.get("/v2/models/digits-mlp/infer")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


# ------------------------------------------------------------------------- property: never a 500
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
_json = st.recursive(
    _scalar,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=20,
)
_shape = st.lists(
    st.one_of(st.integers(-2, 70), st.just(2**64), st.text(max_size=2), st.none()), max_size=4
)
_tensor = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["input", "output", "", "x"]) | _scalar,
        "shape": st.one_of(st.just([1, 64]), st.just([2, 64]), _shape, _scalar),
        "datatype": st.sampled_from(["FP32", "FP64", "INT64", "BYTES", "fp32"]) | _scalar,
        "data": st.one_of(
            st.lists(
                st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=60, max_size=130
            ),
            st.lists(_json, max_size=5),
            _scalar,
        ),
        "parameters": st.one_of(
            st.fixed_dictionaries({"binary_data_size": st.integers(-5, 600)}), _json
        ),
    },
)
_oip = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"inputs": st.one_of(st.lists(_tensor, max_size=3), _json)},
        optional={
            "outputs": st.one_of(st.lists(_json, max_size=2), _json),
            "parameters": _json,
            "id": _scalar,
        },
    ),
)
_predict = st.one_of(
    _json,
    st.fixed_dictionaries(
        {},
        optional={
            "inputs": st.one_of(
                st.lists(
                    st.lists(st.floats(width=32) | _scalar, min_size=60, max_size=66), max_size=3
                ),
                _json,
            ),
            "records": st.one_of(
                st.lists(
                    st.dictionaries(st.sampled_from(["pixel_0_0", "pixel_0_1", "x"]), _scalar),
                    max_size=3,
                ),
                _json,
            ),
            "preprocessed": _scalar,
        },
    ),
)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.one_of(_oip, _predict),
    route=st.sampled_from(
        [
            "/v2/models/digits-mlp/infer",
            "/v2/models/digits-mlp/versions/1/infer",
            "/v1/models/digits-mlp/predict",
            "/v1/models/digits-mlp:1/predict",
        ]
    ),
    binary_tail=st.one_of(st.none(), st.binary(max_size=300)),
)
def test_generated_bodies_never_get_a_500(
    http: httpx.Client, body: Any, route: str, binary_tail: bytes | None
) -> None:
    head = json.dumps(body, allow_nan=True).encode()
    headers = {"content-type": "application/json"}
    content = head
    if binary_tail is not None and route.endswith("infer"):
        content = head + binary_tail
        headers["inference-header-content-length"] = str(len(head))
    r = http.post(route, content=content, headers=headers)
    assert r.status_code in (200, 400), (r.status_code, r.text, body)
    if r.status_code == 400:
        assert isinstance(r.json()["error"], str) and r.json()["error"]


# --------------------------------------------------------------------------- metrics, OpenAPI
def test_metrics_per_model_and_version(http: httpx.Client, reference: dict[str, Any]) -> None:
    ok = http.post("/v2/models/digits-mlp/versions/1/infer", json=oip_body(reference["ready"][:2]))
    assert ok.status_code == 200, ok.text
    # a request version 2 refuses (wrong shape): this test makes every series it reads
    bad = http.post("/v2/models/digits-mlp/versions/2/infer", json=oip_body(np.zeros((1, 3))))
    assert bad.status_code == 400, bad.text
    served = http.post(
        "/v2/models/digits-mlp/versions/2/infer", json=oip_body(reference["ready"][:1])
    )
    assert served.status_code == 200, served.text
    text = http.get("/metrics").text
    for series in (
        'aimass_requests_total{code="200",model="digits-mlp",route="infer",version="1"}',
        'aimass_request_errors_total{code="400",model="digits-mlp",route="infer",version="2"}',
        'aimass_request_latency_seconds_bucket{le="0.001",model="digits-mlp",route="infer",version="1"}',
        'aimass_batch_size_count{model="digits-mlp",version="2"}',
        'aimass_queue_depth{model="digits-mlp",version="2"}',
        'aimass_replicas_ready{model="digits-mlp",version="2"} 1.0',
    ):
        assert series in text, series


def test_client_class(server: ServerProcess, reference: dict[str, Any]) -> None:
    with Client(server.url) as c:
        assert c.ready() and c.live()
        assert c.models()[0]["name"] == "digits-mlp"
        assert c.metadata("digits-mlp", 1)["versions"] == ["1"]
        out = c.infer("digits-mlp", reference["ready"][:2])
        np.testing.assert_allclose(out, reference["ort"](reference["ready"][:2]), atol=1e-5)
        assert (
            c.infer("digits-mlp", reference["ready"][:1], version=1, full=True)["model_version"]
            == "1"
        )
        doc = c.predict("digits-mlp", reference["raw"][:2], "prod")
        assert doc["version"] == "2" and len(doc["predictions"]) == 2
        assert (
            c.predict("digits-mlp", reference["ready"][:2], preprocessed=True)["predictions"]
            == doc["predictions"]
        )
        stats = c.stats()["digits-mlp"]
        assert stats["2"]["requests"] > 0 and stats["2"]["p50_ms"] > 0
        with pytest.raises(ServeError, match="unknown model 'nope'") as info:
            c.predict("nope", [[0] * 64])
        assert info.value.status == 404
        with pytest.raises(ServeError, match="admin API is off"):
            Client(server.url, admin_key="k").admin_models()


def test_openapi_document(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in (
        "/v1/models/{target}/predict",
        "/admin/models",
        "/admin/models/{name}/versions",
        "/admin/models/{name}/split",
        "/admin/models/{name}/rollback",
        "/v2/models/{name}/infer",
    ):
        assert path in paths
    assert "PredictRequest" in doc["components"]["schemas"]
