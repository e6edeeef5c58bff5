"""The DeployPanel's "try it" box: a JSON body, raw text for text models, an uploaded image
for image models.

What the box sends is always the JSON body shown in it, as the JSON route takes it:

- tabular models: ``{"inputs": [[...], ...]}`` or ``{"records": [{column: value}, ...]}``;
- text models: ``{"inputs": ["a text", ...]}`` (raw strings, tokenized by the server with
  the model's own tokenizer), filled from the text box, one text per line;
- image models: ``{"inputs": [{"image_b64": "..."}]}`` (the file's bytes, base64), filled
  from the uploaded image; the server decodes it, resizes it and applies the model's image
  preprocessing, as in training.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.errors import AimassError
from aimass_lab.widgets._base import button, esc

if TYPE_CHECKING:
    from aimass_lab.workspace import Workspace

__all__ = ["TryIt", "example_body", "image_body", "model_kind", "text_body"]

#: Top-level keys of a try-it body the JSON route takes.
BODY_KEYS = ("inputs", "records")


def model_kind(ref: str, workspace: Workspace) -> str:
    """What a registered version reads: ``"text"``, ``"image"`` or ``"tabular"``."""
    from aimass_lab import registry

    try:
        config = registry.get(ref, workspace=workspace).config
    except AimassError:
        return "tabular"
    pre = config.get("preprocess") or {}
    return str(pre.get("kind") or config.get("input_kind") or "tabular")


def example_body(ref: str, workspace: Workspace) -> dict[str, Any]:
    """A request body of two test rows of the model's data: raw texts for a text model,
    model-ready features otherwise."""
    from aimass_lab import data as data_stage
    from aimass_lab import registry

    try:
        config = registry.get(ref, workspace=workspace).config
        dataset = data_stage.load(config["data_spec"], workspace=workspace)
        part = "test" if len(dataset.y_test) else "val"
        if model_kind(ref, workspace) == "text":
            rows = dataset.preview(part, n=2)["rows"]
            return {"inputs": [str(r["text"]) for r in rows]}
        rows, _ = dataset.take(part, 2)
        return {"inputs": [[round(float(v), 4) for v in row.reshape(-1)] for row in rows]}
    except Exception:
        return {"inputs": [[0.0]]}


def text_body(text: str) -> dict[str, Any]:
    """The body of the texts in ``text``, one per non-empty line."""
    return {"inputs": [line for line in text.splitlines() if line.strip()]}


def image_body(content: bytes) -> dict[str, Any]:
    """The body of one image file's bytes: ``{"inputs": [{"image_b64": ...}]}``."""
    return {"inputs": [{"image_b64": base64.b64encode(content).decode("ascii")}]}


class TryIt:
    """Mixin of the DeployPanel: the try-it box (JSON body, text box, image upload)."""

    deployment: Any
    workspace: Any

    def _build_try(self) -> None:
        self.request = widgets.Textarea("", rows=4, layout=widgets.Layout(width="46em"))
        self.request_error = widgets.HTML()
        self.predict_button = button("Predict", "primary", "paper-plane")
        self.predict_button.on_click(self._on_predict)  # type: ignore[attr-defined]
        self.response = widgets.HTML()
        self.request.observe(self._check_request, "value")
        self.try_kind = "tabular"
        self.try_text = widgets.Textarea(
            "",
            rows=3,
            placeholder="one text per line",
            layout=widgets.Layout(width="46em"),
        )
        self.try_text.observe(self._text_changed, "value")
        self.try_image = widgets.FileUpload(accept="image/*", multiple=False)
        self.try_image.observe(self._image_changed, "value")
        self.try_note = widgets.HTML()
        self.try_box = widgets.VBox([self.try_note, self.try_text, self.try_image])

    def _try_rows(self) -> list[widgets.Widget]:
        return [
            self.try_box,
            self.request,
            self.request_error,
            widgets.HBox([self.predict_button]),
            self.response,
        ]

    def _show_try(self, ref: str, body: dict[str, Any]) -> None:
        """Show the inputs of the deployed model's kind; fill the JSON body once."""
        self.try_kind = model_kind(ref, self.workspace)
        text, image = self.try_kind == "text", self.try_kind == "image"
        self.try_text.layout.display = "" if text else "none"
        self.try_image.layout.display = "" if image else "none"
        self.try_note.value = (
            "<small>type texts (one per line): they are sent as raw strings</small>"
            if text
            else "<small>upload an image: it is sent as base64 (image_b64)</small>"
            if image
            else ""
        )
        texts = body.get("inputs") or []
        if text and not self.try_text.value and texts and all(isinstance(t, str) for t in texts):
            self.try_text.value = "\n".join(body["inputs"])
        if not self.request.value:
            self.request.value = json.dumps(body)

    def _text_changed(self, _change: Any = None) -> None:
        self.request.value = json.dumps(text_body(self.try_text.value))

    def _image_changed(self, _change: Any = None) -> None:
        files = self.try_image.value
        if not files:
            return
        first = files[0] if isinstance(files, list | tuple) else next(iter(files.values()))
        content = first["content"]
        self.request.value = json.dumps(image_body(bytes(content)))

    def set_image(self, content: bytes, name: str = "image.png") -> None:
        """Give the upload box an image file's bytes (what choosing a file does)."""
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc)
        entry = {"name": name, "type": "image/png", "size": len(content), "content": content}
        self.try_image.value = ({**entry, "last_modified": now},)

    def _check_request(self, _change: Any = None) -> bool:
        self.request_error.value = ""
        ok = True
        try:
            body = json.loads(self.request.value or "null")
            if not isinstance(body, dict) or not (set(BODY_KEYS) & set(body)):
                raise ValueError(
                    'expected {"inputs": [[...], ...]}, {"inputs": ["a text", ...]}, '
                    '{"inputs": [{"image_b64": "..."}]} or {"records": [{...}, ...]}'
                )
        except ValueError as exc:
            self.request_error.value = f"<span style='color:#c62828'>&#9888; {esc(exc)}</span>"
            ok = False
        self.predict_button.disabled = not ok or self.deployment is None
        return ok

    def _send_try(self) -> dict[str, Any] | None:
        """Send the body of the box through the deployment handle."""
        if self.deployment is None or not self._check_request():
            return None
        body = json.loads(self.request.value)
        if "records" in body:
            result = self.deployment.predict(records=body["records"])
        else:
            result = self.deployment.predict(body["inputs"])
        self.response.value = (
            f"<small>answered by version {esc(result.get('version'))}</small>"
            f"<pre style='font-size:11px'>{esc(json.dumps(result, indent=1)[:3000])}</pre>"
        )
        return result
