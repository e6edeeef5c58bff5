"""The Workbench's Data tab, source "upload": a CSV sent by the ChunkedUpload widget in two
8 MiB chunks through the uploads API (the second dropped once and resumed from the server's
offset), registered, then selected and loaded by the panel.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import drop_one_upload_chunk, open_and_run_notebook

from aimass_lab import data
from aimass_lab.workspace import Workspace

WAIT_MS = 180_000


@pytest.mark.page_noise(
    r"request failed .*: PUT .*/aimass-lab/api/v1/uploads/",
    r"console error: Failed to load resource",
)
@pytest.mark.blank_page
def test_workbench_upload_sends_chunks_resumes_and_loads_the_dataset(
    lab_server: Any, page: Any, screenshot: Any, tmp_path: Path
) -> None:
    csv = tmp_path / "wb table.csv"
    with csv.open("w") as fh:  # a little over 8 MiB: two chunks
        fh.write("a,b,label\n")
        i = 0
        while fh.tell() < (8 << 20) + 100_000:
            fh.write(f"{i},{i % 97},{i % 3}\n")
            i += 1
    dropped = drop_one_upload_chunk(page)
    open_and_run_notebook(lab_server, page, "upload", ["import aimass_lab as am\nam.Workbench()"])
    workbench = page.locator(".aimass-workbench")
    workbench.wait_for(timeout=WAIT_MS)
    workbench.get_by_role("tab", name="Data", exact=True).click()
    workbench.locator("button.widget-toggle-button:visible").filter(
        has_text=re.compile(r"^\s*upload\s*$")
    ).click()
    workbench.locator('.aimass-chunked-upload input[type="file"]').set_input_files(str(csv))
    status = workbench.locator(".aimass-status:visible")
    status.filter(has_text=re.compile(r"registered as")).wait_for(timeout=WAIT_MS)
    screenshot("workbench-upload-done", workbench)
    assert "wb-table-data" in status.inner_text()
    assert len(dropped) == 1 and dropped[0].startswith(f"bytes {8 << 20}-")
    dataset = data.get("wb-table-data", workspace=Workspace(lab_server.workspace_path))
    assert dataset is not None
