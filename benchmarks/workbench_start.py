#!/usr/bin/env python
"""How long from running a cell to a visible Workbench, in JupyterLab in Chromium.

A real JupyterLab (``python -m jupyterlab``, this Python) and a real headless Chromium
(Playwright, ``AIMASS_CHROMIUM`` or ``/usr/bin/chromium``). Each peer runs in a notebook of
its own, so each run has a fresh kernel; the runs of the peers are interleaved.

Peers (the cell each notebook runs):

``tab``          a plain ``ipywidgets.Tab`` with the Workbench's six tab titles, one label
                 in each page: the floor of any tabbed widget (ipywidgets import + render).
``tab-panels``   a plain ``ipywidgets.Tab`` of the same six panels, every one built
                 (``DataPanel()``, ``TrainPanel()``, ...): the issue's baseline.
``workbench``    ``import aimass_lab as am; am.Workbench()``.

Measured per run:

- ``kernel_s``: from opening the notebook to the kernel reading "Idle" (the same for every
  peer: it is the kernel's start, not ours);
- ``visible_s``: from pressing Shift+Enter to the widget's tab bar being visible, timed in the
  browser (``performance.now()``);
- ``python_s``: the part of it the cell's own Python took (imports + building), printed by the
  cell; the rest is the message round trip and the browser's render.

Goal (issue 19): ``workbench`` visible <= 2x ``tab-panels``.

Run::

    .venv/bin/python benchmarks/workbench_start.py [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("AIMASS_CHROMIUM", "/usr/bin/chromium")
TITLES = ["Data", "Train", "Search", "Compress", "Models", "Deploy"]
_TIMED = "import time as _t\n_t0 = _t.perf_counter()\n"
_DONE = "print(f'python_s={_t.perf_counter() - _t0:.3f}')\n"
PEERS: dict[str, tuple[str, str]] = {
    "tab": (
        _TIMED + "import ipywidgets as w\n"
        f"tab = w.Tab(children=[w.VBox([w.HTML(t)]) for t in {TITLES!r}], titles={TITLES!r})\n"
        "tab.add_class('bench-peer')\n" + _DONE + "tab",
        ".bench-peer .lm-TabBar-tab",
    ),
    "tab-panels": (
        _TIMED + "import ipywidgets as w\n"
        "from aimass_lab.widgets import (CompressPanel, DataPanel, DeployPanel, ModelsPanel,\n"
        "    SearchPanel, TrainPanel)\n"
        "panels = [DataPanel(), TrainPanel(), SearchPanel(), CompressPanel(), ModelsPanel(),\n"
        "    DeployPanel()]\n"
        "tab = w.Tab(children=panels, titles=[p.title for p in panels])\n"
        "tab.add_class('bench-peer')\n" + _DONE + "tab",
        ".bench-peer .lm-TabBar-tab",
    ),
    "workbench": (
        _TIMED + "import aimass_lab as am\nwb = am.Workbench()\n" + _DONE + "wb",
        ".aimass-workbench .lm-TabBar-tab",
    ),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook(code: str) -> dict[str, Any]:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    return {
        "cells": [{**cell, "source": code}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _start_lab(base: Path) -> tuple[subprocess.Popen[bytes], str]:
    token = secrets.token_hex(16)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(
        AIMASS_HOME=str(base / "workspace"),
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "rt"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "lab-workspaces"),
        JUPYTER_PLATFORM_DIRS="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    args = [
        sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
        "--ip", "127.0.0.1", "--port", str(port), "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={base / 'root'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log = (base / "jupyter.log").open("ab")
    process = subprocess.Popen(args, cwd=base / "root", env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=5):
                return process, f"{url}lab/workspaces/{{ws}}/tree/{{name}}?reset&token={token}"
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"JupyterLab did not answer on {url} in 120 s (see {base}/jupyter.log)")


def _one(browser: Any, url: str, code: str, selector: str) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        opened = time.monotonic()
        page.goto(url)
        cell = page.locator(".jp-NotebookPanel .jp-Cell").first
        cell.wait_for(timeout=120_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        kernel_s = time.monotonic() - opened
        cell.locator(".jp-InputArea-editor").click()
        page.evaluate("window.__t0 = performance.now()")
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector(selector, state="visible", timeout=300_000)
        visible_s = page.evaluate("(performance.now() - window.__t0) / 1000")
        out = cell.locator(".jp-OutputArea-output", has_text="python_s=")
        out.wait_for(timeout=60_000)
        python_s = float(out.inner_text().split("python_s=")[1].split()[0])
        return {"kernel_s": kernel_s, "visible_s": float(visible_s), "python_s": python_s}
    except Exception:
        shot = Path(tempfile.gettempdir()) / "workbench_start_failure.png"
        page.screenshot(path=str(shot))
        print(f"failed; the page is in {shot}", file=sys.stderr)
        raise
    finally:
        page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the raw runs as JSON")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="aimass-wb-start-"))
    for folder in ("root", "workspace", "config", "rt", "lab-workspaces"):
        (base / folder).mkdir()
    process, url = _start_lab(base)
    runs: dict[str, list[dict[str, float]]] = {peer: [] for peer in PEERS}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                for r in range(args.repeats):
                    order = list(PEERS) if r % 2 == 0 else list(reversed(PEERS))
                    for peer in order:
                        code, selector = PEERS[peer]
                        name = f"{peer}-{r}.ipynb"
                        (base / "root" / name).write_text(json.dumps(_notebook(code)))
                        runs[peer].append(
                            _one(browser, url.format(ws=f"{peer}-{r}", name=name), code, selector)
                        )
                        print(peer, r, {k: round(v, 2) for k, v in runs[peer][-1].items()})
            finally:
                browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    _report(runs, args.repeats)
    if args.json:
        print(json.dumps(runs, indent=1))
    return 0


def _report(runs: dict[str, list[dict[str, float]]], repeats: int) -> None:
    def med(peer: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[peer])

    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; {repeats} runs per peer, medians")  # fmt: skip
    print(f"{'peer':<12} {'kernel s':>9} {'visible s':>10} {'python s':>9} {'render s':>9}")
    for peer in runs:
        visible, python = med(peer, "visible_s"), med(peer, "python_s")
        print(
            f"{peer:<12} {med(peer, 'kernel_s'):>9.2f} {visible:>10.2f} {python:>9.2f} "
            f"{visible - python:>9.2f}"
        )
    wb = med("workbench", "visible_s")
    print(
        f"workbench / tab-panels: {wb / med('tab-panels', 'visible_s'):.2f}x (goal <= 2x); "
        f"workbench / tab: {wb / med('tab', 'visible_s'):.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
