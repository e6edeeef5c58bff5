"""Every route and proxy refuses requests without credentials, with a deny-all authorizer,
from a foreign Origin, and (cookie logins) without the XSRF token."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from aimass_lab.lab._handlers import ROUTES
from aimass_lab.workspace import Workspace

API = ("aimass-lab", "api", "v1")
VERBS = ("get", "post", "put", "delete")

#: The proxies, as (path below base_url, verbs).
PROXIES = [
    ("aimass-lab/tensorboard/x/", ("get", "post")),
    ("aimass-lab/serve/v2/health/ready", ("get", "post", "put", "delete")),
]


def _concrete(route: str) -> str:
    """A real path for a route pattern: ``jobs/(?P<job_id>[^/]+)/log`` -> ``jobs/x/log``."""
    route = re.sub(r"\(\?P<\w+>([\w.-]+)(\|[^)]*)?\)", r"\1", route)  # first alternative
    return re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "x", route)


def _verbs(handler: type) -> list[str]:
    return [m.upper() for m in VERBS if m in vars(handler)]


def _body(method: str) -> str | None:
    return "{}" if method in ("POST", "PUT") else None


def _all_endpoints() -> list[tuple[str, str]]:
    out = [("/".join(API) + "/" + _concrete(r), m) for r, h in ROUTES for m in _verbs(h)]
    out += [(path, m.upper()) for path, verbs in PROXIES for m in verbs]
    return out


ENDPOINTS = _all_endpoints()


def test_concrete_paths_have_no_patterns_left() -> None:
    assert all("(" not in p and "?P" not in p for p, _ in ENDPOINTS)
    assert ("aimass-lab/api/v1/jobs/x/cancel", "POST") in ENDPOINTS
    assert ("aimass-lab/api/v1/deployments/x/split", "PUT") in ENDPOINTS


async def test_every_endpoint_refuses_unauthenticated_requests(
    http_server_client: Any, jp_base_url: str
) -> None:
    wrong = []
    for path, method in ENDPOINTS:
        response = await http_server_client.fetch(
            jp_base_url + path,
            method=method,
            body=_body(method),
            raise_error=False,
            follow_redirects=False,
        )
        if path.startswith("aimass-lab/tensorboard") and method == "GET":
            # a page: Jupyter sends the browser to its login form
            ok = response.code == 302 and "/login?next=" in response.headers["Location"]
        else:
            # 403; Jupyter answers anonymous writes with 404 so as not to reveal the route
            ok = response.code == 403 or (method != "GET" and response.code == 404)
        if not ok or b"Traceback" in (response.body or b""):
            wrong.append((method, path, response.code))
    assert wrong == []


@pytest.mark.deny_all
async def test_a_deny_all_authorizer_refuses_every_endpoint(jp_fetch: Any) -> None:
    wrong = []
    for path, method in ENDPOINTS:
        try:
            await jp_fetch(*path.split("/"), method=method, body=_body(method))
        except HTTPClientError as exc:
            if exc.code != 403:
                wrong.append((method, path, exc.code))
        else:
            wrong.append((method, path, 200))
    assert wrong == []


def _cookies(response: Any) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in response.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


async def _login(http_server_client: Any, jp_base_url: str, token: str) -> dict[str, str]:
    """Log in through Jupyter's form, as a browser does: the login cookie plus ``_xsrf``."""
    page = await http_server_client.fetch(jp_base_url + "login", raise_error=False)
    jar = _cookies(page)
    xsrf = jar["_xsrf"]
    response = await http_server_client.fetch(
        jp_base_url + "login",
        method="POST",
        body=urllib.parse.urlencode({"password": token, "_xsrf": xsrf}),
        headers={"Cookie": f"_xsrf={xsrf}"},
        follow_redirects=False,
        raise_error=False,
    )
    assert response.code == 302, response.code
    jar.update(_cookies(response))
    assert any(name.startswith("username-") for name in jar), jar
    return jar


WRITES = [
    ("POST", "aimass-lab/api/v1/compress"),
    ("POST", "aimass-lab/api/v1/deployments"),
    ("PUT", "aimass-lab/api/v1/deployments/iris/split"),
    ("DELETE", "aimass-lab/api/v1/deployments/iris"),
    ("POST", "aimass-lab/api/v1/deployments/iris/rollback"),
    ("DELETE", "aimass-lab/api/v1/models/iris-mlp:1"),
    ("POST", "aimass-lab/serve/v1/models/iris/predict"),
    ("POST", "aimass-lab/tensorboard/x/data/plugin/scalars/scalars_multirun"),
]


async def test_cookie_writes_need_the_xsrf_token(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any
) -> None:
    jar = await _login(http_server_client, jp_base_url, jp_serverapp.identity_provider.token)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    for method, path in WRITES:
        url = jp_base_url + path
        refused = await http_server_client.fetch(
            url, method=method, body=_body(method), headers={"Cookie": cookie}, raise_error=False
        )
        assert refused.code in (403, 404), (method, path, refused.code)
        assert b"Traceback" not in (refused.body or b"")
        # the same request with the token echoed in the header passes Jupyter's checks and
        # reaches the handler (which then answers for itself: 404, 422 or 503, never 403)
        passed = await http_server_client.fetch(
            url,
            method=method,
            body=_body(method),
            headers={"Cookie": cookie, "X-XSRFToken": jar["_xsrf"]},
            raise_error=False,
        )
        assert passed.code in (404, 422, 503), (method, path, passed.code, passed.body)
        assert "error" in json.loads(passed.body), (method, path)


async def test_foreign_origin_writes_are_refused(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any
) -> None:
    jar = await _login(http_server_client, jp_base_url, jp_serverapp.identity_provider.token)
    headers = {
        "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
        "X-XSRFToken": jar["_xsrf"],
        "X-XSRF-Protected": "1",
        "Origin": "http://evil.example",
    }
    for method, path in WRITES:
        response = await http_server_client.fetch(
            jp_base_url + path,
            method=method,
            body=_body(method),
            headers=headers,
            raise_error=False,
        )
        assert response.code in (403, 404), (method, path, response.code, response.body)
    # nothing was started
    assert Workspace(jp_serverapp.config.AimassLab.workspace).jobs.list() == []


async def test_tensorboard_posts_pass_with_tensorboards_own_header(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any, jp_http_port: int
) -> None:
    """TensorBoard's page marks POSTs with X-XSRF-Protected (it cannot know Jupyter's token)."""
    jar = await _login(http_server_client, jp_base_url, jp_serverapp.identity_provider.token)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    host = f"127.0.0.1:{jp_http_port}"
    response = await http_server_client.fetch(
        jp_base_url + "aimass-lab/tensorboard/nope/data/plugin/scalars/scalars_multirun",
        method="POST",
        body="tag=loss",
        headers={"Cookie": cookie, "X-XSRF-Protected": "1", "Origin": f"http://{host}"},
        raise_error=False,
    )
    # past Jupyter's checks: the proxy itself answers that the run does not exist
    assert response.code == 404, (response.code, response.body)
    assert "no job 'nope'" in json.loads(response.body)["error"]
