"""The sidebar's "Upload model/dataset" action: a CSV sent in two 8 MiB chunks, the second
dropped once and resumed from the server's offset, then registered as a dataset.

One JupyterLab serves the module (``lab_server``). Screenshots: .test-artifacts/browser/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_helpers import drop_one_upload_chunk
from playwright.sync_api import expect

from aimass_lab import data
from aimass_lab.workspace import Workspace

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'


@pytest.mark.page_noise(
    r"request failed .*: PUT .*/aimass-lab/api/v1/uploads/",
    r"console error: Failed to load resource",
)
def test_a_csv_uploaded_through_the_sidebar_resumes_and_is_registered(
    lab_server: Any, page: Any, screenshot: Any, tmp_path: Path
) -> None:
    csv = tmp_path / "big table.csv"
    with csv.open("w") as fh:  # a little over 8 MiB: two chunks
        fh.write("a,b,c,label\n")
        i = 0
        while fh.tell() < (8 << 20) + 200_000:
            fh.write(f"{i},{i % 97},{i % 13}.5,{i % 3}\n")
            i += 1
    dropped = drop_one_upload_chunk(page)
    sidebar = page.locator("#aimass-sidebar")
    if not sidebar.is_visible():
        page.locator(SIDEBAR_TAB).click()
    sidebar.wait_for(state="visible")
    button = sidebar.get_by_role("button", name="Upload model/dataset")
    expect(button).to_be_visible()
    sidebar.locator('input[type="file"]').set_input_files(str(csv))
    status = sidebar.locator(".jp-AimassUpload-status")
    expect(status).to_have_attribute("data-phase", "done", timeout=120_000)
    expect(status).to_contain_text("registered big-table")
    screenshot("sidebar-upload-done", sidebar)
    assert len(dropped) == 1 and dropped[0].startswith(f"bytes {8 << 20}-")
    ws = Workspace(lab_server.workspace_path)
    dataset = data.get("big-table", workspace=ws)
    assert dataset.spec.target == "label"
    row = sidebar.locator('.jp-AimassDataset[data-dataset="big-table"]')
    row.wait_for(timeout=30_000)  # the sidebar lists it
