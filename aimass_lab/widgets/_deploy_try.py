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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.errors import AimassError
from aimass_lab.widgets._base import button, esc

if TYPE_CHECKING:
    from aimass_lab.workspace import Workspace

__all__ = ["TryIt", "answer_html", "example_body", "image_body", "model_kind", "text_body"]

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
    """A request body of test rows of the model's data, as a user would send them: raw
    column values as records for a table, raw texts for a text model, the first test image
    file (base64) for an image model. The server applies the model's own preprocessing."""
    from aimass_lab import data as data_stage
    from aimass_lab import registry

    try:
        config = registry.get(ref, workspace=workspace).config
        dataset = data_stage.load(config["data_spec"], workspace=workspace)
        part = "test" if len(dataset.y_test) else "val"
        kind = model_kind(ref, workspace)
        rows = dataset.preview(part, n=1 if kind == "image" else 2)["rows"]
        if kind == "text":
            return {"inputs": [str(r["text"]) for r in rows]}
        if kind == "image":
            path = rows[0].get("path")  # relative to the image folder
            root = Path(str(getattr(dataset.spec, "path", None) or "."))
            return image_body((root / path).read_bytes()) if path else {"inputs": []}
        return {"records": [{k: _plain(v) for k, v in r["values"].items()} for r in rows]}
    except Exception:
        return {"inputs": [[0.0]]}


def _plain(value: Any) -> Any:
    """A raw cell as JSON has it (numbers rounded for reading; missing values as null)."""
    if isinstance(value, float):
        return None if value != value else round(value, 6)
    return value


def answer_html(result: dict[str, Any], classes: list[str] | None) -> str:
    """A model's answer for people: one row per input, the prediction, its confidence and
    the class probabilities as rounded numbers with bars; the JSON below, folded."""
    probs = result.get("probabilities")
    preds = result.get("predictions") or []
    head = "<tr><th>#</th><th>prediction</th>"
    names = list(classes or [])
    if probs and probs[0] and len(names) != len(probs[0]):
        names = [str(i) for i in range(len(probs[0]))]
    head += "".join(f"<th>{esc(n)}</th>" for n in names) + "</tr>" if probs else "</tr>"
    rows = []
    for i, pred in enumerate(preds):
        shown = f"{pred:.4g}" if isinstance(pred, float) else esc(pred)
        cells = f"<td>{i}</td><td><b>{shown}</b></td>"
        for p in probs[i] if probs else []:
            width = max(0, min(100, round(100 * float(p))))
            cells += (
                f"<td title='{float(p):.6f}'>{float(p):.3f}<div style='height:4px;width:"
                f"{width}%;background:#1976d2'></div></td>"
            )
        rows.append(f"<tr>{cells}</tr>")
    rounded = json.loads(json.dumps(result), parse_float=lambda x: round(float(x), 4))
    return (
        f"<small>answered by version {esc(result.get('version'))}</small>"
        "<table class='aimass-answer' style='font-size:12px;border-collapse:collapse'>"
        f"{head}{''.join(rows)}</table>"
        "<details><summary><small>JSON</small></summary>"
        f"<pre style='font-size:11px;white-space:pre-wrap'>{esc(json.dumps(rounded)[:3000])}"
        "</pre></details>"
    )


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
        # until a deployment is shown, neither: its model's kind says which one it takes
        self.try_text.layout.display = self.try_image.layout.display = "none"
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
        self._show_image()

    def _text_changed(self, _change: Any = None) -> None:
        self.request.value = json.dumps(text_body(self.try_text.value))

    def _image_changed(self, _change: Any = None) -> None:
        files = self.try_image.value
        if not files:
            return
        first = files[0] if isinstance(files, list | tuple) else next(iter(files.values()))
        content = first["content"]
        self.request.value = json.dumps(image_body(bytes(content)))
        self._show_image()

    def _show_image(self) -> None:
        """For an image model, the picture the body holds, beside the upload box."""
        if self.try_kind != "image":
            return
        try:
            first = json.loads(self.request.value)["inputs"][0]["image_b64"]
        except (ValueError, KeyError, IndexError, TypeError):
            return
        mime = "image/png" if first.startswith("iVBOR") else "image/jpeg"
        note = "<small>upload an image: it is sent as base64 (image_b64)</small>"
        self.try_note.value = (
            f"{note}<br><img alt='the image sent' style='max-height:96px;image-rendering:"
            f"pixelated' src='data:{mime};base64,{esc(first)}'>"
        )

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
        self.response.value = answer_html(result, self._classes())
        return result

    def _classes(self) -> list[str] | None:
        """The class names of the deployed model, in the order of its probabilities."""
        from aimass_lab import registry

        try:
            classes = registry.get(self.deployment.model, workspace=self.workspace).config.get(
                "classes"
            )
        except AimassError:
            return None
        return [str(c) for c in classes] if classes else None
