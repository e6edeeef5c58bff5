"""Who is acting: AIMASS_USER, then JUPYTERHUB_USER, then the login name."""

import getpass

import pytest

from aimass_lab.workspace import current_user


def test_configured_user_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-user")
    monkeypatch.setenv("AIMASS_USER", "ada")
    assert current_user() == "ada"


def test_jupyterhub_user_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIMASS_USER", raising=False)
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-user")
    assert current_user() == "hub-user"


def test_login_name_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIMASS_USER", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("AIMASS_USER", "  ")  # blank is unset
    assert current_user() == getpass.getuser()


def test_acting_as_is_per_context(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from aimass_lab.workspace import acting_as

    monkeypatch.setenv("AIMASS_USER", "ada")

    async def as_user(name: str) -> str:
        with acting_as(name):
            await asyncio.sleep(0)  # let the other task run inside its own block
            return await asyncio.to_thread(current_user)

    async def both() -> list[str]:
        return list(await asyncio.gather(as_user("grace"), as_user("linus")))

    assert asyncio.run(both()) == ["grace", "linus"]
    assert current_user() == "ada"  # outside any block: the process's user
