"""Small custom widgets (anywidget, JavaScript bundled here: no CDN).

:class:`LabLink` opens a path of the Jupyter server in a new tab. The server's ``base_url``
is read in the browser from JupyterLab's (or Notebook 7's) page config, so the link works
under JupyterHub and Binder; without a page config (VS Code, nbconvert) it falls back to a
link relative to the site root. :class:`CopyText` shows a snippet with a Copy button.
"""

from __future__ import annotations

import anywidget
import traitlets

from aimass_lab.train import tensorboard_path

__all__ = ["CopyText", "LabLink", "tensorboard_path"]

_BASE_URL_JS = r"""
function aimassBaseUrl() {
  const el = document.getElementById("jupyter-config-data");
  if (el) {
    try {
      const config = JSON.parse(el.textContent || "{}");
      if (config.baseUrl) { return config.baseUrl.endsWith("/") ? config.baseUrl : config.baseUrl + "/"; }
    } catch (err) { /* not JSON: fall through */ }
  }
  return "/";
}
"""

_LINK_ESM = (
    _BASE_URL_JS
    + r"""
function render({ model, el }) {
  const a = document.createElement("a");
  a.target = "_blank";
  a.rel = "noopener";
  a.className = "aimass-lab-link jupyter-button";
  a.style.cssText = "display:inline-block;padding:0 10px;line-height:28px;text-decoration:none;" +
    "border:1px solid #bbb;border-radius:2px;color:inherit;margin:2px;";
  const update = () => {
    const path = model.get("path");
    a.textContent = model.get("label");
    if (path) {
      a.href = aimassBaseUrl() + path.replace(/^\//, "");
      a.style.opacity = "1";
      a.style.pointerEvents = "auto";
    } else {
      a.removeAttribute("href");
      a.style.opacity = "0.5";
      a.style.pointerEvents = "none";
    }
    model.set("base_url", aimassBaseUrl());
    model.save_changes();
  };
  model.on("change:path", update);
  model.on("change:label", update);
  update();
  el.appendChild(a);
}
export default { render };
"""
)

_COPY_ESM = r"""
function render({ model, el }) {
  const wrap = document.createElement("div");
  wrap.className = "aimass-copy";
  wrap.style.cssText = "position:relative;margin:2px 0;";
  const pre = document.createElement("pre");
  pre.style.cssText = "margin:0;padding:6px 70px 6px 6px;background:#f5f5f5;font-size:11px;" +
    "white-space:pre-wrap;word-break:break-all;";
  const btn = document.createElement("button");
  btn.textContent = "Copy";
  btn.className = "jupyter-button";
  btn.style.cssText = "position:absolute;top:2px;right:2px;";
  btn.addEventListener("click", async () => {
    const text = model.get("text");
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    model.set("copies", model.get("copies") + 1);
    model.save_changes();
    btn.textContent = "Copied";
    setTimeout(() => { btn.textContent = "Copy"; }, 1200);
  });
  const update = () => { pre.textContent = model.get("text"); };
  model.on("change:text", update);
  update();
  wrap.appendChild(pre);
  wrap.appendChild(btn);
  el.appendChild(wrap);
}
export default { render };
"""


class LabLink(anywidget.AnyWidget):  # type: ignore[misc]
    """A link-button to ``{base_url}{path}`` of the Jupyter server, opened in a new tab.

    Attributes
    ----------
    path
        The path below ``base_url`` (empty: the link is disabled).
    label
        The button's text.
    base_url
        The ``base_url`` the browser found (set by the front end; for tests and display).
    """

    _esm = _LINK_ESM
    path = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("Open").tag(sync=True)
    base_url = traitlets.Unicode("").tag(sync=True)


class CopyText(anywidget.AnyWidget):  # type: ignore[misc]
    """A snippet of text with a Copy button (clipboard API, with a fallback).

    Attributes
    ----------
    text
        The snippet.
    copies
        How many times it was copied (set by the front end).
    """

    _esm = _COPY_ESM
    text = traitlets.Unicode("").tag(sync=True)
    copies = traitlets.Int(0).tag(sync=True)
