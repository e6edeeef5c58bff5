"""ChunkedUpload: send a CSV/Parquet file from the browser to the lab's resumable uploads API.

The upload itself is the AI Mass Lab JupyterLab extension's (``window.aimassLab.uploadFile``,
the sidebar's "Upload" action, written once): it hashes the file incrementally (sha256, in
8 MiB slices, so a file of several GB is never held in memory), opens an upload session of
kind ``dataset`` (``POST aimass-lab/api/v1/uploads``), sends 8 MiB chunks with
``Content-Range``, resumes from the server's offset after a failed chunk (bounded retries)
and finishes; the server verifies the sha256 and registers the dataset. Python only sees the
progress through traitlets: no file bytes go through the kernel's comm. Without the extension
(another front end) the widget says so.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["ChunkedUpload"]

_ESM = r"""
function uploads() {
  const lab = window.aimassLab;
  return lab && lab.version >= 1 && typeof lab.uploadFile === "function" ? lab : null;
}
function defaultName(filename) {
  // the same rule as the panel's default_register_name (used when Python has not set one yet)
  const stem = filename.replace(/\.[^.]*$/, "");
  return stem.replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") + "-data";
}
async function upload(model, file, lab) {
  const set = (state) => { for (const k in state) { model.set(k, state[k]); } model.save_changes(); };
  set({ state: "hashing", filename: file.name, total: file.size, sent: 0, error: "", dataset: "" });
  if (!/\.(csv|parquet|pq)$/i.test(file.name)) {
    throw new Error(file.name + ": choose a CSV or Parquet file (*.csv, *.parquet, *.pq)");
  }
  let last = 0;
  const progress = (phase, done, total) => {
    const now = Date.now();  // a comm message per chunk at most, not per slice hashed
    if (phase !== model.get("state") || now - last > 200 || done === total) {
      last = now;
      set({ state: phase, sent: done, total });
    }
  };
  const options = { name: model.get("name") || defaultName(file.name) };
  const done = await lab.uploadFile(file, options, progress);
  const result = done.result || {};
  set({ state: "done", sent: file.size, dataset: result.name || "" });
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
  const lab = uploads();
  if (!lab) {
    input.disabled = true;
    label.textContent = "uploads need JupyterLab with the AI Mass Lab extension; use the file source instead";
  }
  const show = () => {
    const total = model.get("total"), sent = model.get("sent"), state = model.get("state");
    bar.max = total || 1; bar.value = sent;
    if (!lab) { return; }
    label.textContent = state === "failed" ? "failed: " + model.get("error")
      : state ? state + " " + sent.toLocaleString() + " / " + total.toLocaleString() + " bytes" : "";
    input.disabled = ["hashing", "uploading", "verifying"].includes(state);
  };
  for (const t of ["state", "sent", "total", "error"]) { model.on("change:" + t, show); }
  show();
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    if (!file) { return; }
    upload(model, file, lab).catch((err) => {
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
    ``verifying``, ``done`` or ``failed``), ``filename``, ``sent`` and ``total`` bytes,
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
