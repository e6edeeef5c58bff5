"""The route table, the one load request and the status-by-type table (no server process)."""

from __future__ import annotations

import asyncio
import re

import pytest

from aimass_lab.errors import AimassError, IntegrityError, NotFoundError
from aimass_lab.serve.server import ROUTES, LoadRequest, Router, ServerConfig, openapi
from aimass_lab.serve.server._config import ENGINES, MAX_REPLICAS
from aimass_lab.serve.server._errors import INFER_ERRORS, LOAD_ERRORS, http_error
from aimass_lab.serve.server._protocol import HTTPError
from aimass_lab.serve.server._schemas import parse_body
from aimass_lab.serve.server._worker import EngineFailed
from aimass_lab.specs import DEPLOY_ENGINES, DeploySpec

_ROUTER = Router(ROUTES)


def test_the_document_is_the_route_table() -> None:
    doc = openapi(ROUTES)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in ROUTES}
    load = doc["components"]["schemas"]["LoadRequest"]["properties"]
    assert load["replicas"]["anyOf"][0]["maximum"] == MAX_REPLICAS == 64
    body = doc["paths"]["/admin/models/{name}/versions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/LoadRequest")


def test_options_allows_what_the_document_lists() -> None:
    paths = openapi(ROUTES)["paths"]
    for template, operations in paths.items():
        parts = template.format(name="m", version="1", target="m").strip("/").split("/")
        match = _ROUTER.find("OPTIONS", parts)
        assert match.route is not None, template
        status, body, headers = asyncio.run(match.route.handler(None, None))  # type: ignore[arg-type]
        assert status == 200 and body == b"", template
        assert set(headers["allow"].split(", ")) == {m.upper() for m in operations}, template


def test_replicas_have_one_maximum_everywhere() -> None:
    assert DeploySpec.model_fields["replicas"].metadata[-1].le == MAX_REPLICAS
    assert ENGINES == DEPLOY_ENGINES  # a deploy and the server take the same engines
    with pytest.raises(HTTPError, match="'replicas' must be an integer from 1 to 64, got 65"):
        parse_body(LoadRequest, {"ref": "digits:1", "replicas": 65})
    with pytest.raises(AimassError, match="replicas: got 65: accepted: an integer >= 1 and <= 64"):
        ServerConfig(replicas=65).check()


def test_a_load_request_names_its_mistakes() -> None:
    cases = {
        "'replace' must be true or false, got 'yes'": {"ref": "d:1", "replace": "yes"},
        "unknown batching field(s) 'max_batch'": {"ref": "d:1", "batching": {"max_batch": 3}},
        "batching.max_batch_size must be an integer from 1 to 65536, got True": {
            "ref": "d:1",
            "batching": {"max_batch_size": True},
        },
        "invalid model name 'bad ref!'": {"ref": "bad ref!"},
        "unknown field(s) 'port'": {"ref": "d:1", "port": 1},
    }
    for message, body in cases.items():
        with pytest.raises(HTTPError, match=re.escape(message)) as info:
            parse_body(LoadRequest, body)
        assert info.value.status == 400
    request = parse_body(LoadRequest, {"ref": "d:1", "batching": {"max_delay_ms": 5}})
    assert request.batching is not None and request.batching.model_fields_set == {"max_delay_ms"}


def test_routes_match_paths_and_methods() -> None:
    match = _ROUTER.find("HEAD", ["v2", "models", "digits", "versions", "3", "ready"])
    assert match.route is not None and match.params == {"name": "digits", "version": "3"}
    wrong = _ROUTER.find("PUT", ["admin", "models", "digits"])
    assert wrong.security == "admin" and wrong.route is None
    error = wrong.error("PUT", "/admin/models/digits", ["admin", "models", "digits"])
    assert error.status == 405 and error.headers == {"allow": "DELETE, GET"}
    lost = _ROUTER.find("GET", ["v1", "models", "a", "b", "c"])
    assert lost.security == "api" and lost.route is None
    assert "the JSON route is POST" in lost.error("GET", "/x", ["v1", "models"]).message


def test_statuses_come_from_exception_types() -> None:
    def status(exc: BaseException, rules: tuple, **ctx: object) -> int | None:
        error = http_error(exc, rules, **ctx)
        return error.status if error is not None else None

    # the same words in the message, another type: another status
    assert status(NotFoundError("malformed"), LOAD_ERRORS, ref="r") == 404
    assert status(IntegrityError("invalid"), LOAD_ERRORS, ref="r") == 409
    assert status(AimassError("malformed invalid"), LOAD_ERRORS, ref="r") == 422
    assert status(ValueError("x"), LOAD_ERRORS, ref="r") is None
    ctx = {"what": "model 'd' version 1", "queue_size": 4, "timeout": 1.0}
    assert status(asyncio.TimeoutError(), INFER_ERRORS, **ctx) == 504
    assert status(EngineFailed("boom"), INFER_ERRORS, **ctx) == 500
