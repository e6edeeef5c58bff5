"""Requests at the edges, against real servers: numbers beyond a float, NaN, Infinity and null,
outputs JSON cannot hold, and requests larger than a batch (split in the server, answered in
order in one response; the queue's places and shadow traffic counted right).

One server (``--max-batch-size 8``, an admin key) serves the module; one slow server (batches
sleep, a queue of 3) shows a split request meeting a full queue.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from common_helpers import wait_for
from deploy_helpers import digits_rows
from serve_helpers import ServerProcess, digits, model_workspace, oip_body

import aimass_lab as am
from aimass_lab import registry
from aimass_lab.serve import Client
from aimass_lab.serve.server._batcher import Batcher, QueueFull
from aimass_lab.serve.server._engine import TEST_DELAY_ENV
from aimass_lab.serve.server._handlers import submit_pieces
from aimass_lab.workspace import Workspace

ADMIN = "edges-admin"
INFER = "/v2/models/digits-mlp/infer"
PREDICT = "/v1/models/digits-mlp/predict"


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-edges") / "ws")


@pytest.fixture(scope="module")
def server(ws_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(
        ws_path,
        tmp_path_factory.mktemp("serve-edges-run"),
        "--models", "digits-mlp:2",
        "--models", "digits-mlp:3",
        "--max-batch-size", "8",
        "--admin", "--admin-key-env", "EDGES_ADMIN",
        env={"EDGES_ADMIN": ADMIN},
    )  # fmt: skip
    Client(srv.url, admin_key=ADMIN).split("digits-mlp", {"2": 100}, shadow=None)
    yield srv
    assert srv.terminate() == 0, srv.log()


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def _strict(r: httpx.Response) -> Any:
    """The body as strict JSON: NaN and Infinity tokens fail."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"{token} in the body: not JSON: {r.text[:300]}")

    return json.loads(r.content, parse_constant=refuse)


def _post(http: httpx.Client, route: str, text: str) -> httpx.Response:
    return http.post(route, content=text, headers={"content-type": "application/json"})


def _raw_rows(n: int) -> list[str]:
    return [",".join(str(float(v)) for v in row) for row in digits_rows(n)]


# ----------------------------------------------------------------------- numbers beyond a float
HUGE = "9" * 400


def test_huge_integer_in_inputs_is_400_naming_row_and_column(http: httpx.Client) -> None:
    rows = _raw_rows(2)
    cells = rows[1].split(",")
    cells[3] = HUGE
    r = _post(http, PREDICT, '{"inputs": [[' + rows[0] + "], [" + ",".join(cells) + "]]}")
    assert r.status_code == 400, r.text
    error = _strict(r)["error"]
    assert "inputs[1] column 'pixel_0_3' is Infinity or a number beyond" in error, error
    assert "accepted: finite numbers" in error


def test_huge_integer_in_records_is_400_naming_row_and_column(http: httpx.Client) -> None:
    columns = [f"pixel_{i // 8}_{i % 8}" for i in range(64)]
    record = ", ".join(f'"{c}": {"-" + HUGE if c == "pixel_2_5" else "0"}' for c in columns)
    r = _post(http, PREDICT, '{"records": [{' + record + "}]}")
    assert r.status_code == 400, r.text
    assert "records[0] column 'pixel_2_5' is Infinity" in _strict(r)["error"]


def test_standardising_to_beyond_fp32_is_400_not_nan_probabilities(http: httpx.Client) -> None:
    row = [0.0] * 64
    row[10] = 1e308
    r = http.post(PREDICT, json={"inputs": [row]})
    assert r.status_code == 400, r.text
    error = _strict(r)["error"]
    assert "inputs[0] column 'pixel_1_2' becomes Infinity after the model's preprocessing" in error


# ------------------------------------------------------------------------ NaN, Infinity, null
_DATA = ",".join(["0.5"] * 63)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("NaN", "NaN and Infinity are not JSON"),
        ("Infinity", "NaN and Infinity are not JSON"),
        ("-Infinity", "NaN and Infinity are not JSON"),
        ("1e400", "input 'input' row 1 position [63] is Infinity or a number beyond the range"),
        ("null", "input 'input' row 1 position [63] is null or NaN"),
        (
            "1e39",
            "input 'input' row 1 position [63] is Infinity or a number beyond the range of FP32",
        ),
    ],
)
def test_non_finite_oip_inputs_are_400_naming_input_and_row(
    http: httpx.Client, value: str, message: str
) -> None:
    data = f"{_DATA},0.5,{_DATA},{value}"
    body = '{"inputs": [{"name": "input", "shape": [2, 64], "datatype": "FP32", "data": [%s]}]}'
    r = _post(http, INFER, body % data)
    assert r.status_code == 400, r.text
    assert message in _strict(r)["error"]


def test_outputs_json_cannot_hold_are_422_binary_gives_them(http: httpx.Client) -> None:
    x = np.full((2, 64), 3e38, np.float32)  # finite FP32 inputs the network overflows on
    x[0] = 0.0
    r = http.post(INFER, json=oip_body(x))
    assert r.status_code == 422, r.text
    error = _strict(r)["error"]
    assert "output 'output' of model 'digits-mlp' version 2 is not finite" in error
    assert "row(s) 1:" in error and "binary_data" in error
    body = {**oip_body(x), "outputs": [{"name": "output", "parameters": {"binary_data": True}}]}
    r = http.post(INFER, json=body)
    assert r.status_code == 200, r.text
    head = int(r.headers["inference-header-content-length"])
    out = np.frombuffer(r.content[head:], np.float32).reshape(2, 10)
    assert np.isfinite(out[0]).all() and not np.isfinite(out[1]).all()
    r = http.post(PREDICT, json={"inputs": x.tolist(), "preprocessed": True})
    assert r.status_code == 422 and "row(s) 1:" in _strict(r)["error"], r.text


def test_null_is_a_missing_value_on_v1_raw_rows_and_refused_elsewhere(
    http: httpx.Client, ws_path: Path
) -> None:
    ws = Workspace(ws_path)
    try:
        pre = registry.get("digits-mlp:2", workspace=ws).config["preprocess"]
    finally:
        ws.store.close()
    raw = digits_rows(2)
    filled = [list(r) for r in raw]
    holed = [list(r) for r in raw]
    for j in (5, 20):
        column = pre["columns"][j]
        filled[1][j] = pre["fill"][column]
        holed[1][j] = None
    want = http.post(PREDICT, json={"inputs": filled}).json()
    got = http.post(PREDICT, json={"inputs": holed})
    assert got.status_code == 200, got.text
    assert got.json()["probabilities"] == want["probabilities"]
    record = dict(zip(pre["columns"], holed[1], strict=True))
    rec = http.post(PREDICT, json={"records": [record]})
    assert rec.status_code == 200 and rec.json()["probabilities"] == want["probabilities"][1:]
    # model-ready rows have no imputation: null is refused
    _, ready = digits(2)
    rows = ready.tolist()
    rows[1][7] = None
    r = http.post(PREDICT, json={"inputs": rows, "preprocessed": True})
    assert r.status_code == 400, r.text
    assert "'inputs' row 1 column 'pixel_0_7' is null or NaN" in _strict(r)["error"]


# --------------------------------------------------------------------- requests above a batch
def test_a_large_request_is_split_and_answered_in_order(
    server: ServerProcess, http: httpx.Client
) -> None:
    raw = digits_rows(360)
    whole = http.post(PREDICT, json={"inputs": raw})
    assert whole.status_code == 200, whole.text
    pieces = [http.post(PREDICT, json={"inputs": raw[i : i + 8]}).json() for i in range(0, 360, 8)]
    assert whole.json()["predictions"] == [p for a in pieces for p in a["predictions"]]
    assert np.allclose(
        whole.json()["probabilities"], [p for a in pieces for p in a["probabilities"]], atol=1e-6
    )
    _, ready = digits(100)
    r = http.post(INFER, json=oip_body(ready))
    assert r.status_code == 200, r.text
    out = np.asarray(r.json()["outputs"][0]["data"]).reshape(100, 10)
    first = np.asarray(http.post(INFER, json=oip_body(ready[:8])).json()["outputs"][0]["data"])
    assert np.allclose(out[:8].ravel(), first, atol=1e-5)
    assert r.json()["outputs"][0]["shape"] == [100, 10]


def test_above_max_request_rows_is_400(http: httpx.Client) -> None:
    r = http.post(PREDICT, json={"inputs": [[0] * 64] * 4097})
    assert r.status_code == 400, r.text
    assert "'inputs' has 4097 rows, above the maximum 4096" in r.json()["error"]
    x = np.zeros((4097, 64), np.float32)
    r = http.post(INFER, json=oip_body(x))
    assert r.status_code == 400 and "above the maximum 4096" in r.json()["error"], r.text


def test_a_split_request_is_mirrored_once_to_the_shadow(
    server: ServerProcess, http: httpx.Client
) -> None:
    admin = Client(server.url, admin_key=ADMIN)

    def mirrored(outcome: str) -> float:
        samples = admin.metrics().get("aimass_shadow_requests_total", [])
        return sum(
            s["value"]
            for s in samples
            if s["labels"] == {"model": "digits-mlp", "version": "3", "outcome": outcome}
        )

    before = mirrored("ok")
    admin.split("digits-mlp", {"2": 100}, shadow="3")
    try:
        r = http.post(PREDICT, json={"inputs": digits_rows(40)})
        assert r.status_code == 200 and len(r.json()["predictions"]) == 40, r.text
        wait_for(lambda: mirrored("ok") == before + 1, what="one mirrored request")
        assert mirrored("skipped") == 0
    finally:
        admin.split("digits-mlp", {"2": 100}, shadow=None)


# ------------------------------------------------------------------ a split meets a full queue
@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    ws = model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-edges-slow") / "ws")
    srv = ServerProcess(
        ws,
        tmp_path_factory.mktemp("serve-edges-slow-run"),
        "--models", "digits-mlp:2",
        "--max-batch-size", "8",
        "--queue-size", "3",
        env={TEST_DELAY_ENV: "0.2"},
    )  # fmt: skip
    yield srv
    srv.kill()


def test_split_requests_on_a_full_queue_get_one_429_and_leave_nothing(
    slow: ServerProcess,
) -> None:
    def predict(_: int) -> httpx.Response:
        with httpx.Client(base_url=slow.url, timeout=30) as c:
            return c.post(PREDICT, json={"inputs": digits_rows(24)})

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(predict, range(6)))
    codes = sorted(r.status_code for r in responses)
    assert 429 in codes and 200 in codes, codes
    assert set(codes) == {200, 429}, codes
    for r in responses:
        if r.status_code == 200:
            assert len(r.json()["predictions"]) == 24
        else:
            assert r.headers["retry-after"] == "1"
            assert "queue of model 'digits-mlp' version 2 is full" in r.json()["error"]

    def depth() -> float:
        text = httpx.get(f"{slow.url}/metrics", timeout=30).text
        line = next(x for x in text.splitlines() if x.startswith("aimass_queue_depth{"))
        return float(line.rsplit(" ", 1)[1])

    wait_for(lambda: depth() == 0, what="an empty queue")
    again = predict(0)
    assert again.status_code == 200 and len(again.json()["predictions"]) == 24
    # more batches than the queue holds can never be served: 400, not 429
    with httpx.Client(base_url=slow.url, timeout=30) as c:
        r = c.post(PREDICT, json={"inputs": digits_rows(25)})
    assert r.status_code == 400 and "above the maximum 24" in r.json()["error"], r.text


class _Slow:
    """An executor whose batches wait until released."""

    slots = 1

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def run(self, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
        await self.release.wait()
        return [arrays["x"] * 2]


class _Refusing(Batcher):
    """A batcher that takes one request, then refuses."""

    queued: list[asyncio.Future[Any]]

    def submit(self, arrays: dict[str, np.ndarray], rows: int) -> asyncio.Future[Any]:
        if getattr(self, "queued", None):
            raise QueueFull()
        self.queued = [super().submit(arrays, rows)]
        return self.queued[0]


def test_submit_pieces_is_all_or_none() -> None:
    async def main() -> None:
        ex = _Slow()
        b = Batcher(ex, 4, 0.0, 3)
        x = {"x": np.arange(10, dtype=np.float32)[:, None]}
        futs = submit_pieces(b, x, 10)  # 3 pieces of 4, 4, 2 rows
        assert len(futs) == 3 and b.depth == 3
        with pytest.raises(QueueFull):
            submit_pieces(b, x, 2)  # a full queue
        assert b.depth == 3
        # a batcher refusing midway (another rule than the depth): the queued pieces go
        refuse = _Refusing(_Slow(), 4, 0.0, 8)
        with pytest.raises(QueueFull):
            submit_pieces(refuse, x, 10)
        assert refuse.depth == 1 and refuse.queued[0].cancelled()
        await refuse.close()
        ex.release.set()
        outs = await asyncio.gather(*futs)
        assert np.concatenate([o[0] for o in outs]).ravel().tolist() == [2.0 * i for i in range(10)]
        await b.close()

    asyncio.run(main())


def test_max_request_rows_zero_refuses_above_a_batch() -> None:
    from aimass_lab.serve.server._handlers import request_rows

    class _App:
        class config:
            max_request_rows = 0

    class _Version:
        class batching:
            max_batch_size, queue_size = 8, 1024

    assert request_rows(_App(), _Version()) == 8  # type: ignore[arg-type]
    _App.config.max_request_rows = 4096
    assert request_rows(_App(), _Version()) == 4096  # type: ignore[arg-type]
    _Version.batching.queue_size = 3
    assert request_rows(_App(), _Version()) == 24  # type: ignore[arg-type]


# ------------------------------------------------------------------------ a real deployment
def test_deployment_predict_takes_a_test_split_of_360_rows(ws: Workspace) -> None:
    dep = am.deploy("digits-mlp:2", name="digits", port=0)
    try:
        x = np.asarray(digits_rows(360))
        answer = dep.predict(x)
        assert len(answer["predictions"]) == 360 and answer["version"] == "2"
        x[3, 5] = np.nan  # a missing value: sent as null, imputed as in training
        assert len(dep.predict(x)["predictions"]) == 360
    finally:
        dep.stop()
