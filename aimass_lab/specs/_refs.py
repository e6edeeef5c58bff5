"""References to registered model versions: names, aliases and ``name:version`` refs.

These rules are shared by the registry (which stores versions under them), the deploy spec
(which names a version to serve) and the front doors (which check what a user typed), so they
live here, below all of them.

Examples
--------
>>> parse_ref("digits-mlp:3"), parse_ref("digits-mlp:prod"), parse_ref("digits-mlp")
(('digits-mlp', 3), ('digits-mlp', 'prod'), ('digits-mlp', None))
"""

from __future__ import annotations

import re

from aimass_lab.errors import AimassError

__all__ = ["LATEST", "NAME_RULE", "parse_ref", "validate_alias", "validate_name"]

#: The reserved alias that always means the newest version.
LATEST = "latest"
#: What a model name (or alias, or endpoint name) may be made of, for messages.
NAME_RULE = "letters, digits, '-', '_' and '.', 1 to 100 characters, not starting with '.'"

# Not starting with '.': '.', '..' and '...' would be path segments in a URL
# (/v2/models/../infer) and in a folder (a Triton repository), and '.x' a hidden file.
_NAME_RE = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}")


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid model name, else raise.

    Parameters
    ----------
    name
        The model name.

    Raises
    ------
    AimassError
        When the name is not a string of letters, digits, ``-``, ``_`` and ``.``
        (1 to 100 characters) that does not start with ``.`` (so ``.``, ``..`` and ``...``
        are refused).
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise AimassError(f"invalid model name {name!r}; accepted: {NAME_RULE}, e.g. 'digits-mlp'")
    return name


def validate_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias, else raise.

    Aliases follow the rule of model names, must not be all digits (``name:3`` means version
    3) and must not be ``latest`` (``name:latest`` means the newest version).

    Raises
    ------
    AimassError
        When the alias breaks one of these rules.
    """
    if not isinstance(alias, str) or not _NAME_RE.fullmatch(alias):
        raise AimassError(f"invalid alias {alias!r}; accepted: {NAME_RULE}, e.g. 'prod'")
    if alias.isdigit():
        raise AimassError(
            f"invalid alias {alias!r}: an alias must not be all digits, since 'name:{alias}' "
            "means version "
            f"{int(alias)}; use a word such as 'prod', 'staging' or 'v{alias}'"
        )
    if alias == LATEST:
        raise AimassError(
            f"invalid alias {alias!r}: it is reserved, 'name:{LATEST}' always means the newest "
            "version; use another word such as 'prod' or 'staging'"
        )
    return alias


def parse_ref(ref: object) -> tuple[str, int | str | None]:
    """Split a ref into ``(name, selector)``.

    Parameters
    ----------
    ref
        ``"name"`` (newest version), ``"name:latest"`` (the same), ``"name:3"`` (version 3)
        or ``"name:prod"`` (the version the alias ``prod`` points to).

    Returns
    -------
    tuple
        ``(name, None)`` for the newest version, ``(name, 3)`` for a version number,
        ``(name, "prod")`` for an alias.

    Raises
    ------
    AimassError
        When the ref is malformed.
    """
    if not isinstance(ref, str):
        raise AimassError(
            f"a model ref must be a string or a ModelVersion, got {type(ref).__name__} {ref!r}; "
            "accepted: 'name', 'name:3' (version) or 'name:prod' (alias)"
        )
    name, sep, selector = ref.partition(":")
    if ":" in selector or (sep and not selector):
        raise AimassError(
            f"malformed model ref {ref!r}; accepted: 'name', 'name:3' (version) or 'name:prod' (alias)"
        )
    validate_name(name)
    if not sep or selector == LATEST:
        return name, None
    if selector.isdigit():
        return name, int(selector)
    if not _NAME_RE.fullmatch(selector):
        raise AimassError(
            f"malformed model ref {ref!r}: {selector!r} is neither a version number nor an "
            f"alias ({NAME_RULE})"
        )
    return name, selector
