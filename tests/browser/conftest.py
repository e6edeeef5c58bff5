"""Browser-test fixtures: a real JupyterLab process and a real headless Chromium.

``lab_server`` starts ``jupyter lab`` from the project's environment on 127.0.0.1 with a token,
its own root folder, its own Jupyter config/settings folders and ``AIMASS_HOME`` pointing at a
fresh workspace (one server per test module). ``page`` is a Playwright page of Debian's
``/usr/bin/chromium`` (``--no-sandbox --disable-background-networking``), logged in with the
token and with JupyterLab loaded. Screenshots go to ``.test-artifacts/browser/`` at the
repository root (git-ignored); a failing test leaves ``<test>-failed.png`` there.

Examples
--------
>>> def test_something(lab_server, page, screenshot):  # doctest: +SKIP
...     page.get_by_text("Notebook").first.wait_for()
...     screenshot("launcher")
...     job = lab_server.api("GET", "jobs")
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".test-artifacts" / "browser"
CHROMIUM = os.environ.get("AIMASS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
STARTUP_TIMEOUT_S = 90.0
#: JupyterLab settings for the test server: no news fetching, no update check pop-up.
_LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


@dataclass
class LabServer:
    """A running JupyterLab: where it listens, its token and its folders."""

    url: str  # ends with "/"; the base_url of the server
    token: str
    workspace_path: Path  # AIMASS_HOME of the server (and of the kernels it starts)
    root_dir: Path  # the server's root folder (notebooks go here)
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        """Call the AI Mass REST API (``{url}aimass-lab/api/v1/{path}``) with the token.

        Returns the decoded JSON; raises ``urllib.error.HTTPError`` on an error status.
        """
        return self.request(method, f"aimass-lab/api/v1/{path}", body, timeout)

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        """Call any route below the server's base URL with the token; decoded JSON back."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def log(self) -> str:
        """What the server printed so far (for assertion messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(server: LabServer, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            server.request("GET", "api/status", timeout=5)
            return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.25)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # jupyter shuts kernels down cleanly on SIGTERM
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_lab_server(base: Path, extra_args: list[str] | None = None) -> LabServer:
    """Start ``jupyter lab`` with folders under ``base``; return once ``/api/status`` answers."""
    root_dir = base / "root"
    workspace = base / "workspace"
    config = base / "jupyter-config"
    settings = base / "lab-settings"
    for folder in (root_dir, workspace, config, settings, base / "lab-workspaces", base / "rt"):
        folder.mkdir(parents=True, exist_ok=True)
    for name, value in _LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "AIMASS_DB"))}
    env.update(
        AIMASS_HOME=str(workspace),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(base / "rt"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "lab-workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
    )
    # The kernels the server starts run the project's Python (the one running the tests).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    # Serve this checkout's build of the extension, whatever the environment links to (a venv
    # shared by several worktrees links one of them).
    built = ROOT / "aimass_lab" / "labextension"
    if (built / "package.json").exists():
        (base / "labextensions").mkdir(exist_ok=True)
        (base / "labextensions" / "aimass-lab").symlink_to(built, target_is_directory=True)
        extra_args = [
            f"--LabApp.extra_labextensions_path={base / 'labextensions'}",
            *(extra_args or []),
        ]

    token = secrets.token_hex(16)
    log_path = base / "jupyter.log"
    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        args = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--allow-root",
            "--no-browser",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(extra_args or []),
        ]
        log = log_path.open("ab")
        process = subprocess.Popen(
            args, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        server = LabServer(
            url=f"http://127.0.0.1:{port}/",
            token=token,
            workspace_path=workspace,
            root_dir=root_dir,
            log_path=log_path,
            process=process,
        )
        if _wait_ready(server, time.monotonic() + STARTUP_TIMEOUT_S):
            return server
        _stop(process)
        last_error = server.log()[-3000:]
        if "address already in use" not in last_error.lower():
            break
    raise RuntimeError(f"JupyterLab did not start; its log ends with:\n{last_error}")


def stop_workspace_jobs(path: Path, timeout: float = 30.0) -> None:
    """Cancel the jobs still active in a workspace (training, servers ...); kill stragglers.

    Jobs are detached processes that outlive JupyterLab, so a test server must not leave any.
    """
    if not (path / "aimass.db").exists():
        return
    from aimass_lab.errors import AimassError
    from aimass_lab.workspace import Workspace

    ws = Workspace(path)
    active = [j for j in ws.jobs.list(limit=1000) if j.active]
    for job in active:
        with contextlib.suppress(AimassError):
            ws.jobs.cancel(job.id)
    deadline = time.monotonic() + timeout
    for job in active:
        while time.monotonic() < deadline and ws.jobs.get(job.id).active:
            time.sleep(0.2)
        pid = ws.jobs.get(job.id).pid
        if ws.jobs.get(job.id).active and pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A real JupyterLab for the tests of one module; stopped (SIGTERM) after them, together
    with every job still active in its workspace."""
    server = start_lab_server(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        _stop(server.process)
        stop_workspace_jobs(server.workspace_path)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(server.log_path, ARTIFACTS / f"jupyter-{server.process.pid}.log")


@pytest.fixture(autouse=True)
def _lab_workspace_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In tests that use ``lab_server``, the Python API writes to the server's workspace."""
    if "lab_server" in request.fixturenames:
        from aimass_lab.workspace import set_current_workspace

        server: LabServer = request.getfixturevalue("lab_server")
        monkeypatch.setenv("AIMASS_HOME", str(server.workspace_path))
        set_current_workspace(None)


# ------------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def _browser() -> Iterator[Any]:
    # Module scope, not session: while Playwright's sync API runs, its asyncio loop is this
    # thread's running loop, and later tests that start their own (pytest-jupyter's) would
    # take it and close it.
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium; "
            "scripts/test.sh installs it), or set AIMASS_CHROMIUM to another Chromium binary"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each phase's report on the item, so ``page`` can tell a failed test."""
    report = yield
    setattr(item, f"_report_{report.when}", report)
    return report


def _slug(node: pytest.Item) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name)[:120]


def lab_loaded(page: Any, timeout_ms: float = 60_000) -> None:
    """Wait until JupyterLab's shell is up and its splash screen is gone."""
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=timeout_ms)
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=timeout_ms)


#: Page noise that is not ours, each with the reason it is harmless. Keep it narrow.
_ALLOWED: tuple[tuple[str, str], ...] = (
    (
        r"^request failed \(net::ERR_ABORTED\): ",
        "a reload or navigation aborts the requests still in flight (Chromium reports them)",
    ),
)


def _unexpected(problems: list[str], node: pytest.Item) -> list[str]:
    """The problems neither allowed here nor declared by the test's ``page_noise`` marker."""
    patterns = [re.compile(p) for p, _why in _ALLOWED]
    for marker in node.iter_markers("page_noise"):
        patterns += [re.compile(p) for p in marker.args]
    return [p for p in problems if not any(r.search(p) for r in patterns)]


@pytest.fixture
def page(lab_server: LabServer, _browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Playwright page logged in to ``lab_server`` with JupyterLab loaded (1440x900).

    A test marked ``blank_page`` gets the page blank instead, to open its own URL first (with
    the token; :func:`browser_helpers.open_and_run_notebook` does): JupyterLab loads once, not
    twice. A failing test leaves ``.test-artifacts/browser/<test>-failed.png`` behind.
    """
    context = _browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    console: list[str] = []
    problems: list[str] = []  # console errors, page errors, failed requests: each fails the test

    def on_console(msg: Any) -> None:
        console.append(f"{msg.type}: {msg.text}")
        if msg.type == "error":
            problems.append(f"console error: {msg.text}")

    def on_response(response: Any) -> None:
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on(
        "requestfailed",
        lambda req: problems.append(f"request failed ({req.failure}): {req.method} {req.url}"),
    )
    pg.on("response", on_response)
    passed = False
    try:
        if request.node.get_closest_marker("blank_page") is None:
            pg.goto(f"{lab_server.url}lab?token={lab_server.token}")
            lab_loaded(pg)
        yield pg
        passed = True
    finally:
        report = getattr(request.node, "_report_call", None) or getattr(
            request.node, "_report_setup", None
        )
        failed = report is not None and report.failed
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            slug = _slug(request.node)
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(ARTIFACTS / f"{slug}-failed.png"))
            (ARTIFACTS / f"{slug}-console.log").write_text("\n".join(console))
        context.close()
    unexpected = _unexpected(problems, request.node)
    if passed and not failed and unexpected:
        pytest.fail(
            "the page reported errors (fix them, or allow one in tests/browser/conftest.py "
            "_ALLOWED or with @pytest.mark.page_noise(regex) where it is expected):\n  "
            + "\n  ".join(unexpected),
            pytrace=False,
        )


@pytest.fixture
def screenshot(page: Any, request: pytest.FixtureRequest) -> Callable[..., Path]:
    """``screenshot(name, locator=None)`` saves a PNG to ``.test-artifacts/browser/``."""

    def take(name: str, locator: Any = None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        (locator or page).screenshot(path=str(path))
        return path

    return take
