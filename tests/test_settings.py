"""settings.py owns every AIMASS_* variable: typed, checked, documented in one table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aimass_lab.errors import AimassError
from aimass_lab.settings import VARIABLES, Settings, env_name, markdown_table, settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aimass_lab"


def test_every_field_has_one_variable() -> None:
    properties = [k for k, v in vars(Settings).items() if isinstance(v, property)]
    assert properties == [v.field for v in VARIABLES]
    envs = [v.env for v in VARIABLES]
    assert len(envs) == len(set(envs)) and all(e.startswith("AIMASS_") for e in envs)


def test_defaults_and_typed_values() -> None:
    base = settings({})
    assert base.home is None and base.heartbeat_interval == 2.0 and base.rich_display is True
    got = settings(
        {
            "AIMASS_HOME": "/tmp/x",
            "AIMASS_HEARTBEAT_INTERVAL": "0.5",
            "AIMASS_RICH_DISPLAY": "0",
            "AIMASS_SERVE_LOOP": "uvloop",
            "AIMASS_DB_URL": "  ",  # blank counts as unset
        }
    )
    assert got.home == "/tmp/x" and got.heartbeat_interval == 0.5
    assert got.rich_display is False and got.serve_loop == "uvloop" and got.db_url is None


@pytest.mark.parametrize(
    ("env", "value", "says"),
    [
        ("AIMASS_HEARTBEAT_INTERVAL", "fast", "a number"),
        ("AIMASS_RICH_DISPLAY", "maybe", "1/0, true/false"),
        ("AIMASS_SERVE_LOOP", "trio", "'asyncio', 'uvloop', 'auto'"),
    ],
)
def test_a_malformed_value_names_the_variable_and_what_is_accepted(
    env: str, value: str, says: str
) -> None:
    with pytest.raises(AimassError) as info:
        getattr(settings({env: value}), next(v.field for v in VARIABLES if v.env == env))
    assert f"{env}={value!r}" in str(info.value) and says in str(info.value)


def test_a_malformed_variable_is_an_error_only_where_it_is_read() -> None:
    got = settings({"AIMASS_SERVE_LOOP": "trio", "AIMASS_HOME": "/tmp/x"})
    assert got.home == "/tmp/x"  # another variable's typo does not break this one
    with pytest.raises(AimassError, match="AIMASS_SERVE_LOOP='trio' is not accepted"):
        _ = got.serve_loop


def test_the_environment_is_read_at_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name("home"), "/tmp/first")
    assert settings().home == "/tmp/first"
    monkeypatch.setenv(env_name("home"), "/tmp/second")
    assert settings().home == "/tmp/second"


def test_no_other_module_names_an_aimass_variable() -> None:
    """Only settings.py spells AIMASS_* names; the others ask it (settings(), env_name())."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "settings.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"[\"']AIMASS_[A-Z_]+[\"']", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "read these through aimass_lab.settings:\n" + "\n".join(offenders)


def test_the_docs_table_is_the_settings_table() -> None:
    doc = (ROOT / "docs" / "workspace.md").read_text()
    match = re.search(r"<!-- settings-table -->\n(.*?)\n<!-- /settings-table -->", doc, re.S)
    assert match, "docs/workspace.md lost its settings table markers"
    assert match.group(1) == markdown_table(), (
        "docs/workspace.md's table differs from aimass_lab/settings.py; paste "
        "python -c 'from aimass_lab.settings import markdown_table; print(markdown_table())'"
    )
