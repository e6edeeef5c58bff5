"""Admin API and auth on a real server: an auth matrix over every route, live version loads,
split changes and rollbacks under steady load with zero failed requests, split proportions
within a binomial interval, shadow traffic, admin errors."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from common_helpers import wait_for
from serve_helpers import ServerProcess, model_workspace, oip_body

from aimass_lab.serve import Client, ServeError

API, API2, ADMIN = "key-one", "key-two", "admin-key"
ROW = [0.0] * 64


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    ws = model_workspace(tmp_path_factory, tmp_path_factory.mktemp("serve-admin") / "ws")
    srv = ServerProcess(
        ws,
        tmp_path_factory.mktemp("serve-admin-run"),
        "--models", "digits-mlp:2",
        "--api-key-env", "B1_API_KEYS",
        "--admin", "--admin-key-env", "B1_ADMIN",
        env={"B1_API_KEYS": f"{API},{API2}", "B1_ADMIN": ADMIN},
    )  # fmt: skip
    yield srv
    assert srv.terminate() == 0, srv.log()


@pytest.fixture(scope="module")
def admin(server: ServerProcess) -> Client:
    return Client(server.url, api_key=API, admin_key=ADMIN)


@pytest.fixture(autouse=True)
def _served(server: ServerProcess, admin: Client) -> None:
    """Every test starts from the same state of the shared server, whatever ran before it:
    ``digits-mlp`` serving version 2 alone, all the traffic on it, no shadow, no other model."""
    models = {m["name"]: m for m in admin.admin_models()}
    for name in models:
        if name != "digits-mlp":
            admin.unload(name)
    versions = [v["version"] for v in models.get("digits-mlp", {}).get("versions", [])]
    if "2" not in versions:
        admin.load("digits-mlp", "digits-mlp:2")
    admin.split("digits-mlp", {"2": 100}, shadow=None)
    for version in versions:
        if version != "2":
            admin.unload("digits-mlp", version)


def _with_v3(admin: Client) -> None:
    admin.load("digits-mlp", "digits-mlp:3")


# ---------------------------------------------------------------------------------- auth matrix
INFER = oip_body(np.zeros((1, 64)))
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/v2/health/live", None, "open"),
    ("GET", "/v2/health/ready", None, "open"),
    ("GET", "/v2", None, "open"),
    ("GET", "/metrics", None, "open"),
    ("GET", "/openapi.json", None, "open"),
    ("GET", "/v2/models/digits-mlp", None, "api"),
    ("GET", "/v2/models/digits-mlp/ready", None, "api"),
    ("GET", "/v2/models/digits-mlp/versions/2", None, "api"),
    ("GET", "/v2/models/digits-mlp/versions/2/ready", None, "api"),
    ("POST", "/v2/models/digits-mlp/infer", INFER, "api"),
    ("POST", "/v2/models/digits-mlp/versions/2/infer", INFER, "api"),
    ("POST", "/v2/repository/index", {}, "api"),
    ("GET", "/v1/models", None, "api"),
    ("GET", "/v1/models/digits-mlp", None, "api"),
    ("POST", "/v1/models/digits-mlp/predict", {"inputs": [ROW]}, "api"),
    ("POST", "/v1/models/digits-mlp:2/predict", {"inputs": [ROW]}, "api"),
    ("GET", "/admin/models", None, "admin"),
    ("GET", "/admin/models/digits-mlp", None, "admin"),
    ("POST", "/admin/models/nope/versions", {"ref": "nope:1"}, "admin"),
    ("DELETE", "/admin/models/nope/versions/1", None, "admin"),
    ("DELETE", "/admin/models/nope", None, "admin"),
    ("PUT", "/admin/models/nope/split", {"split": {"1": 100}}, "admin"),
    ("POST", "/admin/models/nope/rollback", None, "admin"),
]
CREDENTIALS = {
    "none": {},
    "bad-bearer": {"authorization": "Bearer wrong"},
    "bad-x-api-key": {"x-api-key": "wrong"},
    "good-bearer": {"authorization": f"Bearer {API}"},
    "good-x-api-key": {"x-api-key": API2},
    "admin-key-only": {"x-admin-key": ADMIN},
    "bad-admin-key": {"x-admin-key": "wrong", "authorization": f"Bearer {API}"},
}


def _expected(kind: str, cred: str) -> str:
    if kind == "open":
        return "pass"
    if kind == "api":
        if cred.startswith("good") or cred == "bad-admin-key":  # carries a good API key
            return "pass"
        return "401" if cred in ("none", "admin-key-only") else "403"
    # admin routes take the admin key only
    if cred == "admin-key-only":
        return "pass"
    return "403" if cred == "bad-admin-key" else "401"


@pytest.mark.parametrize("cred", list(CREDENTIALS))
def test_auth_matrix_over_every_route(server: ServerProcess, cred: str) -> None:
    failures = []
    with server.client() as c:
        for method, path, body, kind in ROUTES:
            r = c.request(method, path, json=body, headers=CREDENTIALS[cred])
            want = _expected(kind, cred)
            if want == "pass":  # past auth: answered by the route (a 404 for 'nope'), never a 500
                ok = r.status_code < 500 and r.status_code not in (401, 403)
            else:
                ok = r.status_code == int(want)
            if want != "pass" and ok:
                ok = "key" in r.json()["error"]
            if not ok:
                failures.append((method, path, cred, want, r.status_code, r.text[:120]))
    assert not failures, failures


def test_missing_key_says_how_to_send_one(server: ServerProcess) -> None:
    with server.client() as c:
        r = c.post("/v1/models/digits-mlp/predict", json={"inputs": [ROW]})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == (
        "this server needs an API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'"
    )


# ------------------------------------------------------------------------- live changes under load
class SteadyLoad:
    """Threads sending JSON predict requests until stopped; records every status and version."""

    def __init__(self, url: str, threads: int = 3) -> None:
        self.url = url
        self.stop = threading.Event()
        self.results: list[tuple[int, str | None]] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30, headers={"x-api-key": API}) as c:
            while not self.stop.is_set():
                try:
                    r = c.post("/v1/models/digits-mlp/predict", json={"inputs": [ROW, ROW]})
                    item = (r.status_code, r.headers.get("x-model-version"))
                except httpx.HTTPError as exc:
                    item = (-1, repr(exc))
                with self._lock:
                    self.results.append(item)

    def _answered(self, n: int) -> None:
        """Wait until ``n`` more requests were answered (or failed)."""
        with self._lock:
            target = len(self.results) + n
        wait_for(
            lambda: len(self.results) >= target or not any(t.is_alive() for t in self._threads),
            what=f"{n} more requests of the steady load",
        )

    def __enter__(self) -> SteadyLoad:
        for t in self._threads:
            t.start()
        self._answered(5)  # traffic flows before the test changes anything
        return self

    def __exit__(self, *exc: Any) -> None:
        self._answered(5)  # and still flows after the last change
        self.stop.set()
        for t in self._threads:
            t.join(30)


def test_new_version_split_and_rollback_under_load_lose_nothing(
    server: ServerProcess, admin: Client
) -> None:
    with SteadyLoad(server.url) as load:
        entry = admin.load("digits-mlp", "digits-mlp:3")
        assert entry["version"] == "3" and entry["ready"]
        assert admin.admin_models()[0]["split"] == {"2": 100}  # loading does not move traffic
        load._answered(20)
        doc = admin.split("digits-mlp", {"2": 50, "3": 50})
        assert doc["split"] == {"2": 50, "3": 50} and doc["previous_split"] == {"2": 100}
        load._answered(20)
        admin.split("digits-mlp", {"3": 100})
        load._answered(20)
        doc = admin.rollback("digits-mlp")
        assert doc["split"] == {"2": 50, "3": 50}
        load._answered(20)
        admin.split("digits-mlp", {"2": 100})
    codes = Counter(code for code, _ in load.results)
    versions = Counter(v for _, v in load.results)
    assert set(codes) == {200}, codes
    assert versions["2"] > 0 and versions["3"] > 0, versions
    assert len(load.results) > 50


def test_split_proportions_within_a_binomial_interval(server: ServerProcess, admin: Client) -> None:
    _with_v3(admin)
    admin.split("digits-mlp", {"2": 80, "3": 20})
    n = 400
    seen: Counter[str] = Counter()
    with httpx.Client(base_url=server.url, timeout=30, headers={"x-api-key": API}) as c:
        for _ in range(n):
            r = c.post("/v2/models/digits-mlp/infer", json=INFER)
            assert r.status_code == 200
            assert r.json()["model_version"] == r.headers["x-model-version"]
            seen[r.headers["x-model-version"]] += 1
    admin.split("digits-mlp", {"2": 100})
    sd = math.sqrt(n * 0.2 * 0.8)
    assert abs(seen["3"] - 0.2 * n) <= 4.5 * sd, seen  # fails by chance about once in 150,000 runs
    assert seen["2"] + seen["3"] == n


def test_shadow_traffic_is_mirrored_not_answered(server: ServerProcess, admin: Client) -> None:
    _with_v3(admin)
    doc = admin.split("digits-mlp", {"2": 100}, shadow="3")
    assert doc["shadow"] == "3"
    with httpx.Client(base_url=server.url, timeout=30, headers={"x-api-key": API}) as c:
        for _ in range(20):
            r = c.post("/v1/models/digits-mlp/predict", json={"inputs": [ROW]})
            assert r.status_code == 200 and r.headers["x-model-version"] == "2"

    def mirrored() -> float:
        samples = admin.metrics().get("aimass_shadow_requests_total", [])
        return sum(
            s["value"]
            for s in samples
            if s["labels"] == {"model": "digits-mlp", "version": "3", "outcome": "ok"}
        )

    wait_for(lambda: mirrored() >= 20, what="20 requests mirrored to the shadow version 3")
    admin.split("digits-mlp", {"2": 100}, shadow=None)


def test_options_and_405_allow_the_documented_methods(server: ServerProcess) -> None:
    """For every path of the OpenAPI document, OPTIONS answers 200 with ``Allow`` naming the
    methods the document lists for it, and another method gets a 405 with the same."""
    keys = {"x-api-key": API, "x-admin-key": ADMIN}
    with server.client(headers=keys) as c:
        paths = c.get("/openapi.json").json()["paths"]
        assert "/admin/models/{name}/versions/{version}" in paths
        for template, operations in paths.items():
            path = template.format(name="digits-mlp", version="2", target="digits-mlp")
            documented = {m.upper() for m in operations}
            r = c.options(path)
            assert r.status_code == 200 and r.content == b"", (path, r.status_code, r.text)
            assert set(r.headers["allow"].split(", ")) == documented, (path, r.headers)
            wrong = c.request("PATCH", path)
            assert wrong.status_code == 405, (path, wrong.text)
            assert set(wrong.headers["allow"].split(", ")) == documented, (path, wrong.headers)


def test_admin_errors(server: ServerProcess, admin: Client) -> None:
    _with_v3(admin)
    cases = [
        (lambda: admin.load("digits-mlp", "digits-mlp:42"), 404, "has no version 42"),
        (lambda: admin.load("digits-mlp", "digits-mlp:3"), 409, "already serves version 3"),
        (lambda: admin.load("digits-mlp", "bad ref!"), 400, "invalid model name"),
        # endpoint names follow the registry's rule: '.', '..', '...' and '.x' are refused
        (lambda: admin.load("...", "digits-mlp:2"), 400, "invalid endpoint name '...'"),
        (lambda: admin.load(".x", "digits-mlp:2"), 400, "not starting with '.'"),
        (lambda: admin.split("digits-mlp", {"7": 100}), 404, "no loaded version '7'"),
        (lambda: admin.split("digits-mlp", {"2": 0, "3": 0}), 400, "must not all be 0"),
        (lambda: admin.split("digits-mlp", {"2": -1}), 400, "must be a number >= 0"),
        (lambda: admin.split("digits-mlp", {"2": 100}, shadow="9"), 404, "no ready version '9'"),
        (lambda: admin.unload("digits-mlp", 2), 409, "receives all the traffic"),
        (lambda: admin.unload("digits-mlp", 9), 404, "has no version '9'"),
        (lambda: admin.rollback("nope"), 404, "unknown model 'nope'"),
    ]
    for call, status, message in cases:
        with pytest.raises(ServeError) as info:
            call()
        assert info.value.status == status, (message, str(info.value))
        assert message in str(info.value)
    with server.client() as c:
        r = c.post(
            "/admin/models/digits-mlp/versions",
            json={"ref": "digits-mlp:1", "replicas": 0},
            headers={"x-admin-key": ADMIN},
        )
        assert (
            r.status_code == 400
            and "'replicas' must be an integer from 1 to 64" in r.json()["error"]
        )
        r = c.post(
            "/admin/models/digits-mlp/versions",
            json={"ref": "digits-mlp:1", "batching": {"max_batch": 3}},
            headers={"x-admin-key": ADMIN},
        )
        assert r.status_code == 400 and "unknown batching field(s) 'max_batch'" in r.json()["error"]
    # '.' and '..' reach the server only percent-encoded (clients resolve them in paths)
    for dots in ("%2E", "%2E%2E"):
        r = httpx.post(
            f"{server.url}/admin/models/{dots}/versions",
            json={"ref": "digits-mlp:2"},
            headers={"x-admin-key": ADMIN},
        )
        assert r.status_code == 400 and "invalid endpoint name" in r.json()["error"], r.text
    assert {m["name"] for m in admin.admin_models()} == {"digits-mlp"}


def test_unload_a_version_then_the_model(server: ServerProcess, admin: Client) -> None:
    _with_v3(admin)
    admin.split("digits-mlp", {"3": 100})
    with SteadyLoad(server.url, threads=2) as load:
        admin.unload("digits-mlp", 2)
    assert {code for code, _ in load.results} == {200}
    entry = admin.admin_models()[0]
    assert [v["version"] for v in entry["versions"]] == ["3"] and entry["split"] == {"3": 100}
    assert entry["previous_split"] is None
    with pytest.raises(ServeError, match="no previous split"):
        admin.rollback("digits-mlp")
    admin.load("digits-torch", "digits-mlp:1", engine="torch")
    assert admin.predict("digits-torch", [ROW])["version"] == "1"
    admin.unload("digits-torch")
    with pytest.raises(ServeError, match="unknown model 'digits-torch'"):
        admin.predict("digits-torch", [ROW])
