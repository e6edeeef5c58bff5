"""ChunkedUpload: send a CSV/Parquet file from the browser to the lab's resumable uploads API.

The browser reads the chosen file, computes its sha256 (WebCrypto ``crypto.subtle.digest``
over the whole file, so the file is held in memory once: the JupyterLab sidebar's upload
hashes incrementally and suits files of several GB), opens an upload session of kind
``dataset`` (``POST aimass-lab/api/v1/uploads``), sends 8 MiB chunks with ``Content-Range``,
resumes from the server's offset after a failed chunk (bounded retries) and finishes; the
server registers the dataset. Python only sees the progress through traitlets: no file bytes
go through the kernel's comm. Outside JupyterLab (no page config) the widget says so.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["ChunkedUpload"]

_ESM = r"""
const CHUNK = 8 * 1024 * 1024;
const RETRIES = 5;
function config() {
  const el = document.getElementById("jupyter-config-data");
  if (!el) { return null; }
  try { const c = JSON.parse(el.textContent || "{}"); return c.baseUrl ? c : null; }
  catch (err) { return null; }
}
function xsrf() {
  const m = document.cookie.match("\\b_xsrf=([^;]*)\\b");
  return m ? decodeURIComponent(m[1]) : "";
}
function defaultName(filename) {
  // the same rule as the panel's default_register_name (used when Python has not set one yet)
  const stem = filename.replace(/\.[^.]*$/, "");
  return stem.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") + "-data";
}
function hex(buf) {
  return Array.from(new Uint8Array(buf)).map((b) => b.toString(16).padStart(2, "0")).join("");
}
async function api(base, path, init) {
  const headers = Object.assign({ "X-XSRFToken": xsrf() }, init.headers || {});
  return fetch(base + "aimass-lab/api/v1/" + path, Object.assign({}, init, { headers, credentials: "same-origin" }));
}
async function failText(resp) {
  try { const b = await resp.json(); return b.message || b.error || resp.statusText; }
  catch (err) { return resp.status + " " + resp.statusText; }
}
async function upload(model, file, base) {
  const set = (state) => { for (const k in state) { model.set(k, state[k]); } model.save_changes(); };
  set({ state: "hashing", filename: file.name, total: file.size, sent: 0, error: "", dataset: "" });
  const sha256 = hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  const created = await api(base, "uploads", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ kind: "dataset", filename: file.name, size: file.size, sha256,
                           options: { name: model.get("name") || defaultName(file.name) } }),
  });
  if (!created.ok) { throw new Error(await failText(created)); }
  const session = await created.json();
  const id = session.id;
  let offset = session.offset || 0;
  let failures = 0;
  set({ state: "uploading", sent: offset });
  while (offset < file.size) {
    const end = Math.min(offset + CHUNK, file.size);
    let resp = null;
    try {
      resp = await api(base, "uploads/" + id, {
        method: "PUT", body: file.slice(offset, end),
        headers: { "Content-Type": "application/octet-stream",
                   "Content-Range": "bytes " + offset + "-" + (end - 1) + "/" + file.size },
      });
    } catch (err) { resp = null; }
    if (resp && resp.ok) { offset = end; failures = 0; set({ sent: offset }); continue; }
    failures += 1;
    if (failures > RETRIES) { throw new Error(resp ? await failText(resp) : "the connection failed"); }
    const status = await api(base, "uploads/" + id, { method: "GET" });
    if (!status.ok) { throw new Error(await failText(status)); }
    offset = (await status.json()).offset;
    set({ sent: offset });
  }
  set({ state: "finishing" });
  const done = await api(base, "uploads/" + id + "/finish", { method: "POST" });
  if (!done.ok) { throw new Error(await failText(done)); }
  const result = (await done.json()).result || {};
  set({ state: "done", dataset: result.name || "" });
}
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "aimass-chunked-upload";
  const input = document.createElement("input");
  input.type = "file";
  input.accept = ".csv,.parquet,.pq";
  const bar = document.createElement("progress");
  bar.max = 1; bar.value = 0; bar.style.cssText = "width:14em;margin:0 8px;vertical-align:middle;";
  const label = document.createElement("span");
  label.className = "aimass-chunked-upload-label";
  box.append(input, bar, label);
  el.appendChild(box);
  const cfg = config();
  if (!cfg) {
    input.disabled = true;
    label.textContent = "uploads need JupyterLab (the lab's REST API); use the file source instead";
  }
  const base = cfg ? (cfg.baseUrl.endsWith("/") ? cfg.baseUrl : cfg.baseUrl + "/") : "/";
  const show = () => {
    const total = model.get("total"), sent = model.get("sent"), state = model.get("state");
    bar.max = total || 1; bar.value = sent;
    if (!cfg) { return; }
    label.textContent = state === "failed" ? "failed: " + model.get("error")
      : state ? state + " " + sent.toLocaleString() + " / " + total.toLocaleString() + " bytes" : "";
    input.disabled = ["hashing", "uploading", "finishing"].includes(state);
  };
  for (const t of ["state", "sent", "total", "error"]) { model.on("change:" + t, show); }
  show();
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (!file) { return; }
    upload(model, file, base).catch((err) => {
      model.set("state", "failed"); model.set("error", String(err && err.message || err));
      model.save_changes();
    });
  });
}
export default { render };
"""


class ChunkedUpload(anywidget.AnyWidget):  # type: ignore[misc]
    """A file input and a progress bar that upload a dataset in resumable 8 MiB chunks.

    Traitlets (set by the browser): ``state`` (``""``, ``hashing``, ``uploading``,
    ``finishing``, ``done`` or ``failed``), ``filename``, ``sent`` and ``total`` bytes,
    ``dataset`` (the registered name, once done) and ``error`` (when failed). ``name`` (set
    by Python) is the name to register the dataset as (required by the server).
    """

    _esm = _ESM
    state = traitlets.Unicode("").tag(sync=True)
    filename = traitlets.Unicode("").tag(sync=True)
    sent = traitlets.Int(0).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    dataset = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    name = traitlets.Unicode("").tag(sync=True)
