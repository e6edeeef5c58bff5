"""The sidebar's Datasets section: a page of an image folder's thumbnails, paging, and errors.

One JupyterLab serves the module (``lab_server``). Screenshots: .test-artifacts/browser/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from common_helpers import write_image_folder
from playwright.sync_api import expect

from aimass_lab import data
from aimass_lab.workspace import Workspace

SIDEBAR_TAB = '.jp-SideBar .lm-TabBar-tab[data-id="aimass-sidebar"]'


def open_sidebar(page: Any) -> Any:
    sidebar = page.locator("#aimass-sidebar")
    if not sidebar.is_visible():
        page.locator(SIDEBAR_TAB).click()
    sidebar.wait_for(state="visible")
    return sidebar


def test_an_image_folder_shows_a_page_of_thumbnails(
    lab_server: Any, page: Any, screenshot: Any, tmp_path: Path
) -> None:
    root = write_image_folder(
        tmp_path / "shapes", classes=("circle", "square", "star"), per_class=8, size=24
    )
    ws = Workspace(lab_server.workspace_path)
    data.add("shapes", {"source": "image_folder", "path": str(root)}, workspace=ws)
    total = len(data.load("shapes", workspace=ws).y_train)
    assert total > 12

    sidebar = open_sidebar(page)
    row = sidebar.locator('.jp-AimassDataset[data-dataset="shapes"]')
    row.wait_for(timeout=30_000)  # the next refresh of the sidebar lists it
    row.get_by_role("button", name="Samples").click()
    samples = row.locator('.jp-AimassSamples[data-kind="image"]')
    thumbs = samples.locator(".jp-AimassThumb img")
    expect(thumbs).to_have_count(12)
    for src in thumbs.evaluate_all("imgs => imgs.map(i => i.src)"):
        assert src.startswith("data:image/png;base64,"), src[:40]
    # every thumbnail decoded (a broken data: URI has no natural size)
    widths = thumbs.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == 12 and min(widths) > 0, widths
    captions = samples.locator(".jp-AimassThumb figcaption").all_inner_texts()
    assert set(captions) <= {"circle", "square", "star"} and len(captions) == 12
    expect(samples.locator(".jp-AimassSamples-where")).to_have_text(f"rows 1 to 12 of {total}")
    screenshot("sidebar-dataset-samples", sidebar)

    samples.get_by_role("button", name="Next").click()
    expect(samples.locator(".jp-AimassSamples-where")).to_have_text(
        f"rows 13 to {total} of {total}"
    )
    expect(thumbs).to_have_count(total - 12)
    assert samples.get_by_role("button", name="Next").is_disabled()
    samples.locator("select.jp-AimassSamples-part").select_option("test")
    expect(samples.locator(".jp-AimassSamples-where")).to_contain_text("rows 1 to ")
    assert samples.get_by_role("button", name="Previous").is_disabled()


@pytest.mark.page_noise(  # the 422 this test provokes, and Chromium's console line for it
    r"^HTTP 422: GET .*/aimass-lab/api/v1/datasets/emptied/samples",
    r"^console error: Failed to load resource: the server responded with a status of 422",
)
def test_bad_data_shows_the_servers_message(
    lab_server: Any, page: Any, screenshot: Any, tmp_path: Path
) -> None:
    root = write_image_folder(tmp_path / "emptied")
    data.add(
        "emptied",
        {"source": "image_folder", "path": str(root)},
        workspace=Workspace(lab_server.workspace_path),
    )
    (root / "bird").mkdir()  # a class folder without images, after registering

    sidebar = open_sidebar(page)
    row = sidebar.locator('.jp-AimassDataset[data-dataset="emptied"]')
    row.wait_for(timeout=30_000)
    row.get_by_role("button", name="Samples").click()
    error = row.locator(".jp-AimassSamples .jp-AimassSection-error")
    expect(error).to_contain_text("class folder(s) 'bird'")
    expect(error).to_contain_text("hold no images")
    screenshot("sidebar-dataset-error", row)
