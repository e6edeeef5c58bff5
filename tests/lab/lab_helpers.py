"""Calls of the AI Mass REST API through pytest-jupyter's ``jp_fetch``, shared by tests/lab."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

API = ("aimass-lab", "api", "v1")


async def api_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    """The JSON answer of a route that succeeds."""
    response = await jp_fetch(*API, *parts, **kwargs)
    return json.loads(response.body)


async def api_error(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of a route that fails; never a traceback."""
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*API, *parts, **kwargs)
    assert info.value.response is not None
    body = json.loads(info.value.response.body)
    assert "Traceback" not in json.dumps(body)
    return info.value.code, body
