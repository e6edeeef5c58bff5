"""The JupyterLab extension: enabled in this environment, and shipped prebuilt in the wheel.

The wheel test builds the wheel from this tree (the build hook reuses the extension that
scripts/_setup.sh built), installs it into a fresh virtual environment whose PATH has no
Node, and checks there that JupyterLab lists the extension and serves it with the API.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest

import aimass_lab

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "aimass_lab" / "labextension"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(args: list[str], **kwargs: object) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    out = ANSI.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{out}"
    return out


def _npm_version(version: str) -> str:
    """``0.1.0.dev1`` (Python) and ``0.1.0-dev.1`` (npm) compare equal."""
    release, rest = re.match(r"(\d+(?:\.\d+)*)(.*)", version).groups()  # type: ignore[union-attr]
    return release + re.sub(r"[-_.]", "", rest)


def test_python_and_javascript_versions_agree() -> None:
    package = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert package["name"] == "aimass-lab"
    assert _npm_version(package["version"]) == _npm_version(aimass_lab.__version__), (
        f"labextension/package.json says {package['version']}, aimass_lab/_version.py says "
        f"{aimass_lab.__version__}: bump both"
    )


def test_labextension_paths_point_at_the_built_extension() -> None:
    (entry,) = aimass_lab._jupyter_labextension_paths()
    assert entry == {"src": "labextension", "dest": "aimass-lab"}
    package = json.loads((ROOT / "labextension" / "package.json").read_text())
    out_dir = (ROOT / "labextension" / package["jupyterlab"]["outputDir"]).resolve()
    assert out_dir == BUILT


def test_lab_and_server_extensions_are_enabled_and_ok() -> None:
    servers = _run([sys.executable, "-m", "jupyter_server.extension.serverextension", "list"])
    assert re.search(r"aimass_lab\s+enabled", servers), servers
    assert re.search(rf"aimass_lab {re.escape(aimass_lab.__version__)}\s+OK", servers), servers
    labs = _run([sys.executable, "-m", "jupyterlab.labextensions", "list"])
    assert re.search(rf"aimass-lab v{re.escape(aimass_lab.__version__)}\s+enabled\s+OK", labs), labs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow
def test_the_wheel_installs_the_extension_without_node(tmp_path: Path) -> None:
    if not (BUILT / "package.json").exists():
        pytest.fail(
            f"{BUILT} is missing: build the extension first (scripts/test.sh does, through "
            "scripts/_setup.sh; or: cd labextension && jlpm install && jlpm build:prod)"
        )
    # An environment without Node: only the fresh venv's own bin folder on PATH.
    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    bin_dir = fresh / "bin"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JUPYTER", "AIMASS", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        PATH=str(bin_dir),
        HOME=str(tmp_path / "home"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
        AIMASS_HOME=str(tmp_path / "workspace"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    assert shutil.which("node", path=env["PATH"]) is None
    assert shutil.which("jlpm", path=env["PATH"]) is None

    # Build the wheel (no Node on PATH: the hook finds the built extension and skips npm).
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        env={**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{bin_dir}"},
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("aimass_lab-*.whl")
    names = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True
    ).stdout
    data = f"aimass_lab-{aimass_lab.__version__}.data/data"
    for shipped in (
        "share/jupyter/labextensions/aimass-lab/package.json",
        "share/jupyter/labextensions/aimass-lab/install.json",
        "share/jupyter/labextensions/aimass-lab/static/style.js",
        "etc/jupyter/jupyter_server_config.d/aimass_lab.json",
    ):
        assert f"{data}/{shipped}" in names, names

    # Install it; its dependencies come from the project's venv through a .pth file (the
    # project itself is not importable from there: its editable hook is not a site dir's).
    _run(
        [*pip, "--python", str(bin_dir / "python"), "install", "--no-deps", "-q", str(wheel)],
        env={**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{bin_dir}"},
        cwd=tmp_path,
    )
    fresh_site = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout.strip()
    (Path(fresh_site) / "_project_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    py = str(bin_dir / "python")
    where = _run([py, "-c", "import aimass_lab; print(aimass_lab.__file__)"], env=env, cwd=tmp_path)
    assert where.strip().startswith(fresh_site), where

    assert (fresh / "share/jupyter/labextensions/aimass-lab/static/style.js").exists()
    labs = _run([py, "-m", "jupyterlab.labextensions", "list"], env=env, cwd=tmp_path)
    assert re.search(
        rf"aimass-lab v{re.escape(aimass_lab.__version__)}\s+enabled\s+OK\s+\(python, aimass-lab\)",
        labs,
    ), labs
    servers = _run([py, "-m", "jupyter_server.extension.serverextension", "list"], env=env)
    assert re.search(rf"aimass_lab {re.escape(aimass_lab.__version__)}\s+OK", servers), servers

    # JupyterLab from the fresh venv serves the extension's files and the REST API.
    token, port = secrets.token_hex(8), _free_port()
    root = tmp_path / "root"
    root.mkdir()
    lab_app_dir = Path(sys.prefix) / "share" / "jupyter" / "lab"  # JupyterLab's own assets
    log = (tmp_path / "lab.log").open("wb")
    args = [
        *(py, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip", "127.0.0.1"),
        *(f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"),
        *(f"--ServerApp.root_dir={root}", f"--LabApp.app_dir={lab_app_dir}"),
    ]
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(base + "api/status", token)[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "lab.log"
            ).read_text()
            time.sleep(0.3)
        status, page = _get(base + "lab", token)
        assert status == 200
        found = re.search(r'id="jupyter-config-data"[^>]*>\s*(\{.*?\})\s*</script>', page, re.S)
        assert found, page[:2000]
        config = json.loads(found.group(1))
        (ours,) = [e for e in config["federated_extensions"] if e["name"] == "aimass-lab"]
        status, _ = _get(f"{base}lab/extensions/aimass-lab/{ours['load']}", token)
        assert status == 200
        status, body = _get(base + "aimass-lab/api/v1/version", token)
        assert status == 200 and json.loads(body)["version"] == aimass_lab.__version__
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
