"""SamplesView: a page of a dataset's samples (thumbnails or rows) with previous/next paging.

Only the page's rows are read (:meth:`aimass_lab.data.Dataset.preview`), so it works for data
read on demand (image folders, large tables, text) as for small tables in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.errors import AimassError
from aimass_lab.widgets._base import button, error_html, esc

if TYPE_CHECKING:
    from aimass_lab.data import Dataset

__all__ = ["PAGE_SIZE", "SamplesView", "samples_html"]

#: Rows per page.
PAGE_SIZE = 12
#: Table columns shown (the rest are counted in a note).
MAX_COLUMNS = 12
#: Characters of a text shown in a row.
MAX_TEXT = 240


def _cell(value: Any, limit: int = 60) -> str:
    text = "" if value is None else str(value)
    return esc(text if len(text) <= limit else text[: limit - 1] + "…")


def _thumbs_html(rows: list[dict[str, Any]]) -> str:
    figures = []
    box = "width:64px;height:64px;background:#eceff1"
    for row in rows:
        title = f"#{row['index']}" + (f" {row['path']}" if row.get("path") else "")
        if row.get("error"):  # a file that cannot be read: its message instead of a picture
            title += f": {row['error']}"
            picture = (
                f"<div class='aimass-sample-error' style='{box};color:#c62828;font-size:24px;"
                "line-height:64px'>&#9888;</div>"
            )
        else:
            picture = (
                f"<img src='{esc(row.get('thumbnail', ''))}' alt='{esc(row.get('label'))}' "
                f"style='{box};object-fit:contain;image-rendering:pixelated'>"
            )
        figures.append(
            f"<figure class='aimass-sample' title='{esc(title)}' style='margin:0;width:72px;"
            f"text-align:center'>{picture}"
            f"<figcaption style='font-size:11px;overflow:hidden;text-overflow:ellipsis;"
            f"white-space:nowrap'>{_cell(row.get('label'), 14)}</figcaption></figure>"
        )
    return (
        "<div class='aimass-samples aimass-thumbs' style='display:flex;flex-wrap:wrap;gap:6px'>"
        + "".join(figures)
        + "</div>"
    )


def _rows_html(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        for key in row.get("values") or {}:
            if key not in columns:
                columns.append(key)
    shown = columns[:MAX_COLUMNS]
    text = any("text" in row for row in rows)
    head = ["#", "label"] + (["text"] if text else []) + shown
    lines = ["<tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for row in rows:
        cells = [str(row["index"]), _cell(row.get("label"))]
        if text:
            cells.append(_cell(row.get("text"), MAX_TEXT))
        values = row.get("values") or {}
        cells += [_cell(values.get(c)) for c in shown]
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    more = (
        f"<div style='font-size:11px;color:#607d8b'>{len(columns) - len(shown)} more "
        "column(s) not shown</div>"
        if len(columns) > len(shown)
        else ""
    )
    return (
        "<div style='overflow-x:auto'><table class='aimass-samples aimass-rows' "
        "style='font-size:12px;border-collapse:collapse'>"
        + "".join(lines)
        + f"</table></div>{more}"
    )


def samples_html(page: dict[str, Any]) -> str:
    """HTML of a page from :meth:`Dataset.preview`: a grid of thumbnails for images, a table
    of rows for tables and text."""
    rows = page.get("rows") or []
    if not rows:
        return f"<i>the {esc(page.get('part', ''))} part is empty</i>"
    if page.get("kind") == "image":
        return _thumbs_html(rows)
    return _rows_html(rows)


class SamplesView(widgets.VBox):
    """A page of a dataset's samples: the part, previous/next, and what is shown.

    Attributes
    ----------
    page : dict or None
        The page shown (``Dataset.preview``'s answer).
    error : str or None
        Why the last page could not be read (shown in the view).
    """

    def __init__(self, page_size: int = PAGE_SIZE) -> None:
        self.page_size = page_size
        self.dataset: Dataset | None = None
        self.page: dict[str, Any] | None = None
        self.error: str | None = None
        self.start = 0
        self.part = widgets.ToggleButtons(
            options=["train", "val", "test"], value="train", style={"button_width": "5em"}
        )
        self.prev_button = button("previous", icon="chevron-left")
        self.next_button = button("next", icon="chevron-right")
        self.where = widgets.HTML()
        self.view = widgets.HTML()
        self.part.observe(self._part_changed, "value")
        self.prev_button.on_click(lambda _b: self.go(self.start - self.page_size))
        self.next_button.on_click(lambda _b: self.go(self.start + self.page_size))
        super().__init__(
            [
                widgets.HBox([self.part, self.prev_button, self.next_button, self.where]),
                self.view,
            ]
        )
        self.add_class("aimass-samples-view")
        self._buttons()

    def show(self, dataset: Dataset | None) -> None:
        """Show the first page of a dataset's training part (``None``: clear the view)."""
        self.dataset = dataset
        self.start = 0
        if self.part.value != "train":
            self.part.value = "train"  # _part_changed renders
        else:
            self.render()

    def go(self, start: int) -> None:
        """Show the page that starts at row ``start`` of the part."""
        self.start = max(0, start)
        self.render()

    def _part_changed(self, _change: Any = None) -> None:
        self.start = 0
        self.render()

    def render(self) -> None:
        """Read the page and show it; an error (e.g. an unreadable file) shows in the view."""
        self.error = None
        self.page = None
        if self.dataset is None:
            self.view.value = ""
            self.where.value = ""
        else:
            try:
                self.page = self.dataset.preview(self.part.value, self.start, self.page_size)
            except AimassError as exc:
                self.error = str(exc)
            except Exception as exc:  # an unexpected failure still belongs in the view
                self.error = f"{type(exc).__name__}: {exc}"
            if self.page is not None:
                self.view.value = samples_html(self.page)
                total, n = self.page["total"], len(self.page["rows"])
                shown = (
                    f"rows {self.start + 1} to {self.start + n} of {total:,}" if n else "no rows"
                )
                self.where.value = f"<span style='font-size:12px'>{shown}</span>"
            else:
                self.view.value = error_html(self.error)
                self.where.value = ""
        self._buttons()

    def _buttons(self) -> None:
        total = self.page["total"] if self.page else 0
        self.prev_button.disabled = self.page is None or self.start == 0
        self.next_button.disabled = self.page is None or self.start + self.page_size >= total
