"""Raw text and images on the inference routes: strings, UTF-8 bytes, image file bytes.

A text model takes strings (JSON route: ``{"inputs": ["a review", ...]}``; OIP: a ``BYTES``
tensor of strings, in JSON or with the binary tensor extension); they are tokenized with the
version's own tokenizer (the ``preprocess`` state in ``model.json``) and padded to the
longest text of the request (a batch of requests is padded again to its longest, see
``Batcher``). A text longer than ``max_length`` is truncated and flagged, or refused with a
422 when the tokenizer says ``on_too_long="refuse"``.

An image model takes image files' bytes (PNG, JPEG, ...): base64 in JSON (``{"inputs":
["<base64>", ...]}`` or ``{"inputs": [{"image_b64": "<base64>"}]}``; OIP ``BYTES`` strings),
or raw in the binary tensor extension. Each is decoded by the data stage's decoder, resized
to the version's image size and normalised with its ``preprocess`` state, as in training.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from aimass_lab.serve.server._protocol import HTTPError

__all__ = ["RawInputs"]

_ACCEPTED_TEXT = "strings (JSON) or UTF-8 bytes (BYTES tensors)"


class RawInputs:
    """Turns raw texts or image bytes into a version's model-ready rows.

    Parameters
    ----------
    kind
        ``"text"`` or ``"image"`` (the ``preprocess`` state's kind).
    preprocessor
        A callable giving the fitted :class:`~aimass_lab.data.Preprocessor` (built lazily).
    input_shape
        The model's input shape without the batch axis (``model.json`` ``input_shape``).
    """

    def __init__(self, kind: str, preprocessor: Any, input_shape: tuple[int, ...]) -> None:
        self.kind = kind
        self._pre = preprocessor
        self.input_shape = input_shape

    # -- text ------------------------------------------------------------------------------
    def texts(self, values: list[Any], where: str) -> list[str]:
        """Strings, or UTF-8 bytes decoded; a 400 naming the first that is neither."""
        out: list[str] = []
        for i, v in enumerate(values):
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, (bytes, bytearray)):
                try:
                    out.append(bytes(v).decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise HTTPError(
                        400,
                        f"{where}[{i}] is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        f"this model takes {_ACCEPTED_TEXT}",
                    ) from None
            else:
                raise HTTPError(
                    400,
                    f"{where}[{i}] must be a string: this model takes raw text "
                    f"({_ACCEPTED_TEXT}), got {type(v).__name__}",
                )
        return out

    def tokenize(
        self, values: list[Any], where: str, length: int | None
    ) -> tuple[np.ndarray, list[bool]]:
        """Token ids ``(N, L)`` as float32 (padded to the longest, or to ``length``) and
        which texts were truncated; a 422 when one is too long and the tokenizer refuses."""
        from aimass_lab.errors import DataError

        texts = self.texts(values, where)
        pre = self._pre()
        try:
            ids, truncated, lengths = pre.transform_flagged(texts, length)
        except DataError as exc:
            raise HTTPError(400, f"cannot tokenize the input: {exc}") from None
        if truncated.any() and getattr(pre, "on_too_long", "truncate") == "refuse":
            i = int(np.flatnonzero(truncated)[0])
            raise HTTPError(
                422,
                f"{where}[{i}] has {int(lengths[i])} tokens, above the model's max_length "
                f"{pre.max_length}; this model refuses longer texts (tokenizer on_too_long="
                "'refuse'): shorten it",
            )
        return ids.astype(np.float32), [bool(t) for t in truncated.tolist()]

    # -- images ----------------------------------------------------------------------------
    @staticmethod
    def _image_bytes(v: Any, where: str, i: int) -> bytes:
        if isinstance(v, (bytes, bytearray)):
            return bytes(v)
        if isinstance(v, dict) and set(v) == {"image_b64"}:
            v = v["image_b64"]
        if not isinstance(v, str):
            raise HTTPError(
                400,
                f"{where}[{i}] must be an image: base64 text of a PNG/JPEG file (or "
                '{"image_b64": "..."}), got ' + type(v).__name__,
            )
        try:
            return base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPError(
                400,
                f"{where}[{i}] is not valid base64; an image is sent as the base64 text of "
                "its file's bytes (PNG, JPEG, ...)",
            ) from None

    def images(self, values: list[Any], where: str) -> np.ndarray:
        """Decoded, resized, normalised images ``(N, C, H, W)``; a 400 naming a bad one."""
        from aimass_lab.data import decode_image_bytes
        from aimass_lab.errors import DataError

        channels, height = int(self.input_shape[0]), int(self.input_shape[1])
        pixels = []
        for i, v in enumerate(values):
            data = self._image_bytes(v, where, i)
            try:
                pixels.append(decode_image_bytes(data, height, gray=channels == 1))
            except DataError as exc:
                raise HTTPError(400, f"{where}[{i}]: {exc}") from None
        batch = np.stack(pixels)
        try:
            return np.asarray(self._pre().transform(batch), dtype=np.float32)
        except (DataError, ValueError) as exc:
            raise HTTPError(400, f"cannot preprocess the images: {exc}") from None

    def rows(
        self, values: list[Any], where: str, length: int | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Model-ready rows of raw values, and notes for the answer (``truncated``)."""
        if self.kind == "text":
            x, truncated = self.tokenize(values, where, length)
            return x, {"truncated": truncated}
        return self.images(values, where), {}
