"""Choices shared by the panels: datasets, runs, model versions; number formatting."""

from __future__ import annotations

from typing import Any

from aimass_lab.errors import AimassError
from aimass_lab.specs import BUILTINS, DataSpec
from aimass_lab.widgets._base import Field, error_text, set_options
from aimass_lab.workspace import Workspace

__all__ = [
    "SPEC_PREFIX",
    "DataChoices",
    "DataPicker",
    "fmt_seconds",
    "parse_devices",
    "registered_note",
    "version_refs",
]

#: Dropdown values that stand for a DataSpec handed over by the Data panel.
SPEC_PREFIX = "spec:"


def registered_note(name: str, next_step: str) -> str:
    """The note shown beside a Register button once it worked: the name and what to do next."""
    import html

    return (
        f"<span style='color:#2e7d32'>&#10003; registered <b>{html.escape(name)}</b>; "
        f"{html.escape(next_step)}</span>"
    )


def fmt_seconds(seconds: float | None) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``12 s`` or ``—``."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def parse_devices(text: str) -> int | str | list[int]:
    """``"auto"``, ``"2"``, ``"-1"`` or ``"0,1"`` as TrainSpec takes it (invalid text is passed
    through for the spec to reject with its own message)."""
    text = str(text).strip()
    if text in ("", "auto"):
        return "auto"
    if "," in text:
        try:
            return [int(p) for p in text.split(",") if p.strip()]
        except ValueError:
            return text
    try:
        return int(text)
    except ValueError:
        return text


class DataChoices:
    """Dropdown options of datasets: built-in, registered, and specs handed over at run time."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.specs: dict[str, Any] = {}
        self._resolved: dict[str, DataSpec | AimassError] = {}

    def registered(self) -> list[dict[str, Any]]:
        from aimass_lab.data import list_datasets

        try:
            return [d for d in list_datasets(self.workspace) if d["registered"]]
        except Exception:
            return []

    def options(self) -> list[tuple[str, str]]:
        self._resolved.clear()  # the registered datasets are read again
        opts = [(f"{label} (loaded)", SPEC_PREFIX + label) for label in self.specs]
        opts += [(f"{d['name']} (registered)", d["name"]) for d in self.registered()]
        opts += [(name, name) for name in BUILTINS]
        return opts

    def add_spec(self, label: str, spec: Any) -> str:
        """Offer a DataSpec (or Dataset) under ``label``; return its dropdown value."""
        self.specs[label] = spec
        self._resolved.pop(SPEC_PREFIX + label, None)
        return SPEC_PREFIX + label

    def resolve(self, value: str) -> Any:
        """What the stage APIs take for a dropdown value (a name, a DataSpec or a Dataset)."""
        if value.startswith(SPEC_PREFIX):
            return self.specs[value[len(SPEC_PREFIX) :]]
        return value

    def spec(self, value: str) -> DataSpec:
        """The DataSpec of a dropdown value, read without loading the data and kept until the
        options are read again (forms check it on every change).

        Raises
        ------
        NotFoundError, SpecError
            For an unknown name or an invalid spec.
        """
        if value not in self._resolved:
            from aimass_lab.data import resolve_spec

            try:
                self._resolved[value] = resolve_spec(self.resolve(value), workspace=self.workspace)
            except AimassError as exc:
                self._resolved[value] = exc
        found = self._resolved[value]
        if isinstance(found, AimassError):
            raise found
        return found

    def task(self, value: str | None) -> str | None:
        """The task of a choice when known without loading the data."""
        if value is None:
            return None
        if value.startswith(SPEC_PREFIX):
            obj: Any = self.specs.get(value[len(SPEC_PREFIX) :])
            task = getattr(obj, "task", None)
            if task is None and obj is not None and hasattr(obj, "spec"):
                task = obj.spec.task
            return task
        if value in BUILTINS:
            return BUILTINS[value].task
        for d in self.registered():
            if d["name"] == value:
                return d.get("task")
        return None


class DataPicker:
    """Mixin of the panels with a dataset dropdown: ``self.data`` (a Field of a Dropdown) whose
    options are ``self.choices``."""

    choices: DataChoices
    data: Field

    def set_data(self, data: Any, label: str | None = None) -> None:
        """Preselect a dataset: a name, a DataSpec or a loaded Dataset."""
        if isinstance(data, str):
            value = data
            if value not in [v for _, v in self.choices.options()]:
                value = self.choices.add_spec(value, value)
        else:
            name = label or getattr(data, "name", None) or getattr(data, "label", "data")
            value = self.choices.add_spec(str(name), data)
        self.data.control.options = self.choices.options()
        self.data.control.value = value

    def chosen_data_spec(self) -> DataSpec | None:
        """The DataSpec of the chosen dataset (its data not loaded), for checking the form;
        ``None`` with the reason next to the dataset when none is chosen or it is invalid."""
        if self.data.value is None:
            self.data.set_error("choose a dataset")
            return None
        try:
            return self.choices.spec(self.data.value)
        except AimassError as exc:
            self.data.set_error(error_text(exc))
            return None

    def refresh_choices(self) -> None:
        """Read the dataset list again (after a dataset was registered)."""
        set_options(self.data.control, self.choices.options())


def version_refs(workspace: Workspace) -> list[tuple[str, str]]:
    """``(label, ref)`` of every registered model version, newest first."""
    from aimass_lab import registry

    try:
        versions = registry.list(workspace=workspace)
    except Exception:
        return []
    out = []
    for mv in versions:
        aliases = f" [{', '.join(mv.aliases)}]" if mv.aliases else ""
        out.append((f"{mv.ref}{aliases}", mv.ref))
    return out
