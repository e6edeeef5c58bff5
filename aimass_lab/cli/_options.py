"""Options shared by the commands, and options generated from the fields of a spec.

:func:`field_option` builds the click option of a spec field (``--epochs`` for
``TrainSpec.max_epochs``): its type or choices and its help come from the field, so the
spec stays the one description of what a value may be. Such options have no default of
their own (the help shows the spec's): a flag left out keeps the spec's default or the
``--config`` file's value, and :func:`given` keeps only the flags that were given.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from pydantic import BaseModel

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "config_option",
    "field_option",
    "given",
    "images_option",
    "json_option",
    "parse_sets",
    "sets_option",
]


def json_option(func: F) -> F:
    """``--json``: print one JSON document instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)  # type: ignore[return-value]


def images_option(func: F) -> F:
    """``--images``: give the ``digits`` dataset as images."""
    return click.option(  # type: ignore[return-value]
        "--images", is_flag=True, help="Give 'digits' as 1x8x8 images (for cnn/resnet)."
    )(func)


def config_option(spec: str) -> Callable[[F], F]:
    """``--config/-c FILE``: a YAML/JSON file of ``spec`` that the command's flags override."""
    return click.option(  # type: ignore[return-value]
        "--config",
        "-c",
        type=click.Path(dir_okay=False),
        help=f"A {spec} YAML/JSON file; flags override it.",
    )


def sets_option(help: str) -> Callable[[F], F]:
    """``--set KEY=VALUE`` (repeatable), read by :func:`parse_sets` into ``sets``."""
    return click.option(  # type: ignore[return-value]
        "--set", "sets", multiple=True, metavar="KEY=VALUE", help=help
    )


def parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    """The ``--set KEY=VALUE`` pairs as a dict, each value read as YAML (``128``, ``0.1``,
    ``true``, ``[1, 2]``); the one parser of ``--set`` for every command."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--set")
        out[key.strip()] = yaml.safe_load(value) if value else value
    return out


def field_option(
    spec: type[BaseModel],
    field: str,
    *decls: str,
    help: str | None = None,
    **attrs: Any,
) -> Callable[[F], F]:
    """The click option of field ``field`` of the pydantic ``spec`` class.

    ``decls`` are click's declarations (``"--epochs"``); without a bare name the parameter
    is named after the field, so a command can take such options as ``**fields``. The type
    (int, float; a ``Literal`` stays text with its choices as metavar, so that the spec refuses a
    bad one with its message, as from every front door) comes from the field; the help is ``help`` or
    else the field's description, followed by the field's default (a number or a text)
    unless the option has a default of its own. ``attrs`` go to :func:`click.option`.
    """
    info = spec.model_fields[field]
    if not any(not d.startswith("-") for d in decls):
        decls = (*decls, field)
    if "type" not in attrs and not attrs.get("is_flag"):
        kind = _click_type(info.annotation)
        if kind is not None:
            attrs["type"] = kind
        choices = _choices(info.annotation)
        if choices and "metavar" not in attrs:
            attrs["metavar"] = "[" + "|".join(choices) + "]"
    text = help if help is not None else _sentence(info.description or "")
    default = info.get_default(call_default_factory=False)
    text = text.rstrip(".")
    if "default" not in attrs and isinstance(default, int | float | str):
        text = f"{text} [default: {default}]".strip()
    attrs["help"] = f"{text}." if text else None
    return click.option(*decls, **attrs)  # type: ignore[return-value]


def given(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``fields`` that were given (not None, not an empty repeatable), with
    repeatable values as lists: what overrides the spec's defaults and ``--config`` file."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in fields.items()
        if value is not None and value != ()
    }


def _click_type(annotation: Any) -> Any:
    """click's type for a field annotation: int, float, or None (text, for a Literal too)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None  # int | str | list[int] (devices): text, the spec validates it
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return None  # text: the spec refuses a bad choice with its own message (one vocabulary)
    if annotation is int:
        return click.INT
    if annotation is float:
        return click.FLOAT
    return None


def _choices(annotation: Any) -> list[str]:
    """The values of a ``Literal`` field (also inside ``X | None``), else none."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    if typing.get_origin(annotation) is typing.Literal:
        return [str(v) for v in typing.get_args(annotation)]
    return []


def _sentence(description: str) -> str:
    """A field description as option help: a capital first letter when it opens with a plain
    word (not a list of values such as ``random, grid, tpe`` nor a term such as ``k-fold``)."""
    if re.match(r"[a-z]+ ", description):
        return description[0].upper() + description[1:]
    return description
