"""Schemathesis over the inference server's own OpenAPI document (``GET /openapi.json``),
every check on, against a real ``aimass serve`` with API keys and the admin API on; then
valid requests of every kind whose 200 answers must match the document too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis_helpers
from serve_helpers import ServerProcess, digits, model_workspace, oip_body

API, ADMIN = "st-api-key", "st-admin-key"

CONFIG = f"""
[auth.openapi]
adminKey = {{ api_key = "{ADMIN}" }}
apiKey = {{ api_key = "{API}" }}

# the served model, so that cases reach the handlers instead of a 404
[parameters]
"path.name" = "digits-mlp"
"path.version" = "2"
"path.target" = "digits-mlp:2"

# the deletes name what is not served: the model stays for the other cases
[[operations]]
include-method = "DELETE"
parameters = {{ "path.name" = "scratch", "path.version" = "9" }}

# a load that does happen (the stateful phase may take a ref from GET /admin/models) starts
# one replica in a thread, not up to 64 worker processes on the test machine
[[operations]]
include-path = "/admin/models/{{name}}/versions"
include-method = "POST"
parameters = {{ "body.replicas" = 1, "body.isolation" = "thread" }}

# a schema-valid tensor or row that does not fit the served model (input names, datatypes,
# shapes: GET /v2/models/{{name}}) is a 400 naming what it takes; the document describes
# the requests of every model, not those of this one
[[operations]]
include-path-regex = "/(infer|predict)$"
checks.positive_data_acceptance.expected-statuses = [
  "2xx", "400", "401", "403", "404", "409", "429", "5xx",
]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    ws = model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-st") / "ws")
    srv = ServerProcess(
        ws,
        tmp_path_factory.mktemp("serve-st-run"),
        "--models", "digits-mlp:2",
        "--api-key-env", "ST_API_KEYS",
        "--admin", "--admin-key-env", "ST_ADMIN",
        env={"ST_API_KEYS": API, "ST_ADMIN": ADMIN},
    )  # fmt: skip
    yield srv
    assert srv.terminate() == 0, srv.log()


def _still_serves(server: ServerProcess) -> None:
    assert server.proc.poll() is None, f"the server died:\n{server.log()[-3000:]}"
    with server.client(headers={"x-api-key": API}) as c:
        start = time.perf_counter()
        assert c.get("/v2/health/live").status_code == 200
        assert time.perf_counter() - start < 2.0
        _, x = digits(2)
        r = c.post("/v2/models/digits-mlp/infer", json=oip_body(x))
        assert r.status_code == 200, r.text


@pytest.mark.slow
def test_schemathesis_all_checks_on_the_server_document(
    server: ServerProcess, tmp_path: Path
) -> None:
    schemathesis_helpers.run(f"{server.url}/openapi.json", server.url, CONFIG, tmp_path)
    _still_serves(server)


def _cases(meta: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    columns, output = meta["parameters"]["columns"], meta["outputs"][0]["name"]
    raw, x = digits(3)
    rows = raw.tolist()
    admin = {"x-admin-key": ADMIN}
    name, v2 = {"name": "digits-mlp"}, {"name": "digits-mlp", "version": "2"}
    return [
        ("/v2/models/{name}/infer", "POST", {"path_parameters": name, "body": oip_body(x)}),
        ("/v2/models/{name}/versions/{version}/infer", "POST",
         {"path_parameters": v2, "body": {**oip_body(x), "id": "r1",
                                          "outputs": [{"name": output}]}}),
        ("/v1/models/{target}/predict", "POST",
         {"path_parameters": {"target": "digits-mlp:2"}, "body": {"inputs": rows}}),
        ("/v1/models/{target}/predict", "POST",
         {"path_parameters": {"target": "digits-mlp"},
          "body": {"records": [dict(zip(columns, r, strict=True)) for r in rows]}}),
        ("/v1/models/{target}/predict", "POST",
         {"path_parameters": {"target": "digits-mlp:prod"},
          "body": {"inputs": x.tolist(), "preprocessed": True}}),
        ("/v2/models/{name}", "GET", {"path_parameters": name}),
        ("/v2/models/{name}/versions/{version}", "GET", {"path_parameters": v2}),
        ("/v2/models/{name}/ready", "GET", {"path_parameters": name}),
        ("/v2/repository/index", "POST", {}),
        ("/v1/models", "GET", {}),
        ("/v1/models/{target}", "GET", {"path_parameters": {"target": "digits-mlp"}}),
        ("/admin/models/{name}/versions", "POST",
         {"path_parameters": name, "body": {"ref": "digits-mlp:3", "isolation": "thread"},
          "headers": admin}),
        ("/admin/models/{name}/split", "PUT",
         {"path_parameters": name, "body": {"split": {"2": 50, "3": 50.0}, "shadow": None},
          "headers": admin}),
        ("/admin/models/{name}/rollback", "POST", {"path_parameters": name, "headers": admin}),
        ("/admin/models", "GET", {"headers": admin}),
        ("/admin/models/{name}/versions/{version}", "GET",
         {"path_parameters": {"name": "digits-mlp", "version": "3"}, "headers": admin}),
        ("/admin/models/{name}/versions/{version}", "DELETE",
         {"path_parameters": {"name": "digits-mlp", "version": "3"}, "headers": admin}),
    ]  # fmt: skip


def test_valid_requests_get_answers_that_match_the_document(server: ServerProcess) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    meta = httpx.get(
        f"{server.url}/v2/models/digits-mlp", headers={"x-api-key": API}, timeout=30
    ).json()
    for path, method, kwargs in _cases(meta):
        headers = kwargs.pop("headers", {"x-api-key": API})
        case = schema[path][method].Case(headers=headers, **kwargs)
        response = case.call_and_validate(base_url=server.url)
        assert response.status_code == 200, (path, method, response.text)
    _still_serves(server)


def test_whole_floats_are_integers_in_admin_bodies() -> None:
    """JSON (and its Schema) has one number type: ``2.0`` is the integer 2, as schemathesis
    sends it; text and fractions stay refused."""
    from aimass_lab.serve.server import LoadRequest
    from aimass_lab.serve.server._protocol import HTTPError
    from aimass_lab.serve.server._schemas import parse_body

    body = {"ref": "digits:1", "replicas": 2.0, "batching": {"max_batch_size": 8.0}}
    request = parse_body(LoadRequest, body)
    assert request.replicas == 2 and request.batching is not None
    assert request.batching.max_batch_size == 8
    for bad in (2.5, "2", True):
        with pytest.raises(HTTPError, match="'replicas' must be an integer from 1 to 64"):
            parse_body(LoadRequest, {"ref": "digits:1", "replicas": bad})
