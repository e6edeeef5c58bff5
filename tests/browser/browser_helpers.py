"""Helpers of the browser tests that drive a notebook (the fixtures are in conftest.py)."""

from __future__ import annotations

import time
from typing import Any

#: JavaScript: the execution count a cell's input prompt shows ("[3]:" -> "3"; "[*]:" -> "*").
_PROMPT_JS = "el => (el.textContent.match(/\\[(.*)\\]/) || [null, ''])[1].trim()"


def run_cell(page: Any, cell: Any, code: str, kernel: str, timeout_ms: float = 180_000) -> str:
    """Type ``code`` into a notebook ``cell``, run it and return its output text once it ran.

    ``kernel`` is the kernel's display name as the status bar shows it ("Python 3 (ipykernel)").
    A run the notebook did not send (the prompt still shows ``[ ]`` while the kernel is idle, as
    when its kernel connection was not ready yet) is sent again; a cell that was sent (``[*]``)
    is waited for, never sent twice. Fails with the cell's prompt and output if the kernel has not run it in time.
    """
    editor = cell.locator(".jp-InputArea-editor")
    typed = ""
    for _attempt in range(3):  # keystrokes sent before the editor had focus are lost
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.type(code)
        typed = editor.locator(".cm-content").inner_text()
        if typed.strip() == code.strip():
            break
    else:
        raise AssertionError(f"typing into the cell gave {typed!r}, not {code!r}")
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    idle = page.get_by_text(f"{kernel} | Idle")
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        count = str(prompt.evaluate(_PROMPT_JS))
        if count.isdigit():
            return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())
        time.sleep(2.0)
        # "[ ]" and an idle kernel, twice 2 s apart: the notebook did not send the request
        # (as when its kernel connection was not ready); send it again. "[*]" means sent.
        if str(prompt.evaluate(_PROMPT_JS)) == "" and idle.is_visible():
            time.sleep(2.0)
            if str(prompt.evaluate(_PROMPT_JS)) == "" and idle.is_visible():
                editor.click()
                page.keyboard.press("Shift+Enter")
    raise AssertionError(
        f"the kernel did not run the cell in {timeout_ms / 1000:.0f} s; prompt "
        f"{prompt.inner_text()!r}, output {cell.locator('.jp-OutputArea').inner_text()!r}"
    )


def run_all(page: Any, kernel: str, attempts: int = 3) -> None:
    """Run > Run All Cells of the open notebook, once its kernel is idle; sent again (up to
    ``attempts`` times) while the first cell's prompt stays ``[ ]`` with the kernel idle."""
    idle = page.get_by_text(f"{kernel} | Idle")
    idle.wait_for(timeout=90_000)
    first = page.locator(".jp-NotebookPanel .jp-Cell").first
    prompt = first.locator(".jp-InputPrompt")
    for _attempt in range(attempts):
        first.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        for _ in range(10):  # the prompt turns [*] at once when the run is sent
            if str(prompt.evaluate(_PROMPT_JS)) != "":
                return
            time.sleep(0.5)
        idle.wait_for(timeout=90_000)
    raise AssertionError(f"Run All Cells never ran the first cell (prompt {prompt.inner_text()!r})")


def open_and_run_notebook(lab_server: Any, page: Any, name: str, cells: list[str]) -> None:
    """Write ``cells`` as ``NAME.ipynb`` (Python 3 kernel) in the server's folder, open it in
    a JupyterLab workspace of its own, reset (only this notebook is open, so the status
    bar's kernel state is this notebook's, and no earlier notebook is restored), and run
    all its cells."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(lab_server.root_dir / f"{name}.ipynb"))
    page.goto(
        f"{lab_server.url}lab/workspaces/{name}/tree/{name}.ipynb?reset&token={lab_server.token}"
    )
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    run_all(page, "Python 3 (ipykernel)")


def drop_one_upload_chunk(page: Any) -> list[str]:
    """Make the browser drop the connection of the first upload chunk after the first (once);
    returns the list that gets its ``Content-Range``."""
    dropped: list[str] = []

    def drop(route: Any) -> None:
        request = route.request
        ranges = request.headers.get("content-range", "")
        if request.method == "PUT" and not ranges.startswith("bytes 0-") and not dropped:
            dropped.append(ranges)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/aimass-lab/api/v1/uploads/*", drop)
    return dropped
