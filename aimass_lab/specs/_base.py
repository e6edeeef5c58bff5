"""The base of every spec: strict fields, errors that name the field, JSON and YAML round trips."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from aimass_lab.errors import SpecError, accepted

__all__ = ["Spec", "one_of", "read_yaml"]

S = TypeVar("S", bound="Spec")
V = TypeVar("V")


def one_of(value: V, choices: Collection[Any], what: str) -> V:
    """Return ``value`` if it is among ``choices``; else raise a ValueError that lists them."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; accepted: {accepted(choices)}")
    return value


def _fields_at(cls: type[BaseModel], loc: tuple[int | str, ...]) -> list[str] | None:
    """The field names of the spec class found by walking ``loc`` (for 'unknown field' errors)."""
    current: object = cls
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        annotation: object = info.annotation
        args = getattr(annotation, "__args__", None)
        if args:
            annotation = next(
                (a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), annotation
            )
        current = annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _spec_error(cls: type[BaseModel], exc: ValidationError) -> SpecError:
    """One :class:`SpecError` for a pydantic ValidationError, with dotted field paths."""
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        field = ".".join(str(p) for p in loc)
        nested = (err.get("ctx") or {}).get("error")
        if isinstance(nested, SpecError):  # a nested spec's own __init__ already explained itself
            for sub in nested.errors:
                inner = sub.get("field") or ""
                errors.append({**sub, "field": ".".join(p for p in (field, inner) if p)})
            continue
        msg = str(err.get("msg", ""))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        entry: dict[str, Any] = {"field": field, "message": msg}
        if err.get("type") == "extra_forbidden":
            fields = _fields_at(cls, loc[:-1]) or []
            entry["message"] = f"unknown field {loc[-1]!r}; accepted: {', '.join(fields)}"
        elif err.get("type") == "missing":
            entry["message"] = "required field is missing"
        else:
            value = err.get("input")
            if not isinstance(value, dict):
                entry["value"] = value
        errors.append(entry)
    return SpecError(cls.__name__, errors)


def read_yaml(
    source: str | os.PathLike[str], spec: str, field: str = "", what: str = "config file"
) -> Any:
    """The document of YAML (or JSON) text, or of the file at a path (a one-line text ending
    in ``.yaml``, ``.yml`` or ``.json``); a ``SpecError`` of ``spec`` naming ``field`` when the
    file is missing or the text malformed."""
    text = str(source)
    if isinstance(source, os.PathLike) or (
        "\n" not in text and text.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        if not path.is_file():
            raise SpecError(spec, [{"field": field, "message": f"{what} not found: {path}"}])
        text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(spec, [{"field": field, "message": f"malformed YAML: {exc}"}]) from None


class Spec(BaseModel):
    """Base of every spec: strict fields, clear errors, JSON and YAML round trips."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _spec_error(type(self), exc) from None

    @classmethod
    def from_dict(cls: type[S], data: dict[str, Any] | S) -> S:
        """Validate a dict (or return a spec of this class unchanged)."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise SpecError(
                cls.__name__,
                [
                    {
                        "field": "",
                        "value": data,
                        "message": "expected a mapping of field names to values",
                    }
                ],
            )
        return cls(**data)

    @classmethod
    def from_json(cls: type[S], text: str | bytes) -> S:
        """Validate a JSON document."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(
                cls.__name__, [{"field": "", "message": f"malformed JSON: {exc}"}]
            ) from None
        return cls.from_dict(data)

    @classmethod
    def from_yaml(cls: type[S], source: str | os.PathLike[str]) -> S:
        """Validate YAML text, or the YAML file at a path."""
        return cls.from_dict(read_yaml(source, cls.__name__) or {})

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of JSON types."""
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = None) -> str:
        """The spec as JSON."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    def to_yaml(self) -> str:
        """The spec as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)
