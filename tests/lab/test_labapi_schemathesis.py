"""Schemathesis over the REST API's OpenAPI document (as the extension serves it), every check
on, against a real Jupyter Server with the extension and a token, over a private copy of a
workspace with a real study and registered models (conftest ``study_copy``)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis_helpers
from lab_helpers import API

from aimass_lab.errors import AimassError
from aimass_lab.lab import _openapi
from aimass_lab.workspace import Workspace

pytestmark = pytest.mark.study_copy

#: 422 is how a schema-valid body that a rule beyond the JSON schema refuses is answered:
#: the specs' cross-field rules (a builtin source needs a name, a method its settings), a
#: split's weights that must add up to 100, a sample start past the end of the dataset
_RULES_BEYOND_THE_SCHEMA = '["2xx", "401", "403", "404", "409", "422"]'


def _config(token: str, study: dict[str, Any]) -> str:
    return f"""
[auth.openapi]
jupyterToken = {{ api_key = "token {token}" }}

# what the workspace holds, so that cases reach the handlers instead of a 404
[parameters]
"path.ref" = "{study["parent"]}"
"path.run_id" = "{study["run_id"]}"
"path.name" = "iris"

[[operations]]
include-path-regex = "^/models/"
parameters = {{ "path.name" = "{study["parent"].partition(":")[0]}" }}

[[operations]]
include-path-regex = "^/studies/"
parameters = {{ "path.name" = "{study["study"]}" }}

# what would delete the study's models, or deploy one (a server process), names nothing
[[operations]]
include-path = "/models/{{ref}}"
include-method = "DELETE"
parameters = {{ "path.ref" = "no-such-model:1" }}

[[operations]]
include-path-regex = "^/(deployments|compress)$"
include-method = "POST"
parameters = {{ "body.model" = "no-such-model:1" }}
checks.positive_data_acceptance.expected-statuses = {_RULES_BEYOND_THE_SCHEMA}

[[operations]]
include-path = "/jobs"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = {_RULES_BEYOND_THE_SCHEMA}

# a data source's location rules (no password in a SQL URL, a bucket's scheme) are checked
# beyond the schema, and a generated name may be taken already
[[operations]]
include-path = "/sources"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = {_RULES_BEYOND_THE_SCHEMA}
# uploads: a schema-valid session may not fit the disk or the kind's file names (422), a
# chunk may not start at the stored offset (409) or lack its Content-Range (400)
[[operations]]
include-path-regex = "^/uploads"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422"]

[[operations]]
include-path-regex = "^/(deployments/\\\\{{name\\\\}}/split|datasets/\\\\{{name\\\\}}/samples)$"
checks.positive_data_acceptance.expected-statuses = {_RULES_BEYOND_THE_SCHEMA}
"""


def _cancel_jobs(ws_path: Path) -> None:
    """Cancel what a valid case started (a training job), and wait for it to stop."""
    ws = Workspace(ws_path)
    try:
        for job in ws.jobs.list(limit=1000):
            if job.active:
                with contextlib.suppress(AimassError):
                    ws.jobs.cancel(job.id)
                    ws.jobs.wait(job.id, timeout=60)
    finally:
        ws.store.close()


@pytest.mark.slow
async def test_schemathesis_all_checks_on_the_lab_document(
    jp_fetch: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    lab_study_ws: dict[str, Any],
    ws_path: Path,
    tmp_path: Path,
) -> None:
    response = await jp_fetch(*API, "openapi.json")
    served = json.loads(response.body)
    assert served["paths"] == _openapi.load()["paths"]  # the checked-in document, served
    doc = tmp_path / "openapi.json"
    doc.write_text(response.body.decode(), encoding="utf-8")
    token = jp_auth_header["Authorization"].partition(" ")[2]
    base_url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}{'/'.join(API)}"
    try:
        await schemathesis_helpers.run_async(
            str(doc), base_url, _config(token, lab_study_ws), tmp_path
        )
    finally:
        _cancel_jobs(ws_path)
    version = await jp_fetch(*API, "version")  # the server still answers
    assert json.loads(version.body)["api"] == "v1"


async def test_what_schemathesis_found_is_answered_right(
    jp_fetch: Any, lab_study_ws: dict[str, Any]
) -> None:
    """The cases behind the fixes: each was a 500 or an answer the document did not allow."""
    from lab_helpers import api_error
    from tornado.httpclient import HTTPClientError

    # a body that is not UTF-8 (was a 500: UnicodeDecodeError)
    code, body = await api_error(jp_fetch, "jobs", method="POST", body=b"\xff\xfe\x14\x9d")
    assert code == 422 and "malformed JSON" in body["error"]
    # a compression method given as an object without a name (was a 500: unhashable dict)
    code, body = await api_error(
        jp_fetch, "compress", method="POST",
        body=json.dumps({"model": "x:1", "compress": {"methods": [{"method": {}}]}}),
    )  # fmt: skip
    assert code == 422 and "unknown compression method" in body["error"]
    # an integer query argument past 64 bits (was a 500: OverflowError in the store)
    code, body = await api_error(
        jp_fetch, "runs", lab_study_ws["run_id"], "metrics", params={"after_id": 2**70}
    )
    assert code == 422 and "from -9223372036854775808" in body["error"]
    # a method the route does not have: 405 naming the ones it has (was: no Allow header)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*API, "jobs", method="PATCH", body="{}")
    assert info.value.code == 405
    assert info.value.response is not None
    assert info.value.response.headers["Allow"] == "GET, POST"
    # a malformed model name is a documented 400
    code, body = await api_error(jp_fetch, "models", "bad name!")
    assert code == 400 and "invalid model name" in body["error"]
    assert "400" in _openapi.load()["paths"]["/models/{ref}"]["get"]["responses"]
