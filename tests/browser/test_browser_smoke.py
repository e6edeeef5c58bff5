"""JupyterLab starts from the project's environment and loads in headless Chromium."""

from __future__ import annotations

from typing import Any


def test_jupyterlab_loads_with_the_extension(lab_server: Any, page: Any, screenshot: Any) -> None:
    assert lab_server.api("GET", "version")["api"] == "v1"
    page.locator(".jp-Launcher").first.wait_for()
    assert "JupyterLab" in page.title()
    screenshot("smoke-launcher")
