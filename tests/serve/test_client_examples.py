"""The client examples of docs/clients.md (curl, JavaScript fetch under Node, Go, Python) run
as written against a real server and print the server's own prediction."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_helpers import ServerProcess, model_workspace

PAGE = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
ROW = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12,
       0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0,
       0, 0, 0, 6, 13, 10, 0, 0, 0]  # fmt: skip


def _block(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, f"docs/clients.md has {len(blocks)} ```{language} blocks"
    return str(blocks[0])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("clients")
    srv = ServerProcess(model_workspace(tmp_path_factory, root / "ws"), root, "--models",
                        "digits-mlp:2")  # fmt: skip
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def expected(server: ServerProcess) -> str:
    answer = httpx.post(f"{server.url}/v1/models/digits-mlp/predict", json={"inputs": [ROW]})
    assert answer.status_code == 200, answer.text
    return f"prediction {answer.json()['predictions'][0]}"


def _run(cmd: list[str], server: ServerProcess, cwd: Path, **env_extra: str) -> str:
    env = {**os.environ, "AIMASS_URL": server.url, **env_extra}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    assert proc.returncode == 0, f"{cmd[0]} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_the_page_row_is_the_first_digit() -> None:
    from sklearn.datasets import load_digits

    assert [int(v) for v in load_digits().data[0]] == ROW
    for language in ("bash", "javascript", "go", "python"):
        assert ",".join(map(str, ROW)) in _block(language).replace(" ", "")


def test_curl(server: ServerProcess, expected: str, tmp_path: Path) -> None:
    out = _run(["bash", "-e", "-c", _block("bash")], server, tmp_path)
    predict, metadata = out.splitlines()[:2]
    assert httpx.Response(200, content=predict).json()["predictions"][0] == int(expected.split()[1])
    assert metadata.startswith('{"name":"digits-mlp"')


def test_javascript_fetch(server: ServerProcess, expected: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js here")
    (tmp_path / "client.mjs").write_text(_block("javascript"))
    out = _run([node, "client.mjs"], server, tmp_path).splitlines()
    assert out == [expected, "infer output [1,10]"]


def test_go(server: ServerProcess, expected: str, tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain here (the example runs where one is)")
    (tmp_path / "main.go").write_text(_block("go"))
    out = _run([go, "run", "main.go"], server, tmp_path, GOCACHE=str(tmp_path / "cache"))
    assert out.splitlines() == [expected]


def test_python(server: ServerProcess, expected: str, tmp_path: Path) -> None:
    (tmp_path / "client.py").write_text(_block("python"))
    assert _run([sys.executable, "client.py"], server, tmp_path).splitlines() == [expected]
