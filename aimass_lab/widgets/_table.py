"""A table sorted by a click on a column header (anywidget; the sorting happens in Python)."""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from aimass_lab.widgets._chart_style import sort_rows

__all__ = ["SortTable"]

_ESM = r"""
function cell(value) {
  if (value === null || value === undefined) { return "—"; }
  if (typeof value === "number") {
    return Number.isInteger(value) ? String(value) : Number(value.toPrecision(4)).toString();
  }
  return String(value);
}

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "aimass-sort-table aimass-scroll";
  el.style.cssText = "width:100%;min-width:0;";
  box.style.cssText = "width:100%;max-width:100%;overflow-x:auto;";
  el.appendChild(box);
  const draw = () => {
    const columns = model.get("columns");
    const rows = model.get("rows");
    const key = model.get("sort_by");
    const down = model.get("descending");
    const table = document.createElement("table");
    table.style.cssText = "border-collapse:collapse;font-size:12px;";
    const head = table.createTHead().insertRow();
    for (const column of columns) {
      const th = document.createElement("th");
      th.dataset.column = column;
      th.title = "sort by " + column;
      th.style.cssText = "cursor:pointer;padding:2px 8px;text-align:left;white-space:nowrap;" +
        "border-bottom:1px solid #bbb;user-select:none;";
      th.textContent = column + (column === key ? (down ? " ▼" : " ▲") : "");
      th.addEventListener("click", () => {
        model.set("descending", column === key ? !down : false);
        model.set("sort_by", column);
        model.save_changes();
      });
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      for (const column of columns) {
        const td = tr.insertCell();
        td.textContent = cell(row[column]);
        td.style.cssText = "padding:2px 8px;white-space:nowrap;" +
          (typeof row[column] === "number" ? "text-align:right;" : "");
      }
    }
    if (!rows.length) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = Math.max(1, columns.length);
      td.textContent = model.get("empty");
      td.style.cssText = "color:#777;padding:4px 8px;";
    }
    box.replaceChildren(table);
  };
  for (const name of ["columns", "rows", "sort_by", "descending", "empty"]) {
    model.on("change:" + name, draw);
  }
  draw();
}
export default { render };
"""


class SortTable(anywidget.AnyWidget):  # type: ignore[misc]
    """Rows as a table; a click on a header sorts by that column (again: the other way).

    Numbers sort by value, text by text, empty cells last either way.

    Parameters
    ----------
    columns
        The column names, in order.
    rows
        One dict per row (``{column: value}``; a missing column shows "—").
    """

    _esm = _ESM
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    descending = traitlets.Bool(False).tag(sync=True)
    empty = traitlets.Unicode("no rows").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.observe(lambda _c: self._sort(), ["sort_by", "descending"])

    def set_rows(self, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
        """Show ``rows`` (kept in the current sort order)."""
        if columns is not None:
            self.columns = list(columns)
        self.rows = sort_rows(rows, self.sort_by, self.descending) if self.sort_by else rows

    def _sort(self) -> None:
        if self.sort_by:
            self.rows = sort_rows(list(self.rows), self.sort_by, self.descending)
