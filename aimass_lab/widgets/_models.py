"""ModelsPanel: the registry browser with aliases and the lineage graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from aimass_lab.widgets._base import Field, Panel, button, check_text, guarded, section
from aimass_lab.widgets._charts import lineage_figure, lineage_nodes
from aimass_lab.widgets._confirm import Confirm

if TYPE_CHECKING:
    from aimass_lab.registry import ModelVersion
    from aimass_lab.workspace import Workspace

__all__ = ["ModelsPanel", "deployments_of"]

#: The model and version lists keep their width; the record beside them takes the rest.
_FIXED = widgets.Layout(flex="0 0 auto")


def deployments_of(mv: ModelVersion, workspace: Workspace) -> list[dict[str, Any]]:
    """The workspace's deployments that serve ``mv`` (empty when serving is unavailable)."""
    try:
        from aimass_lab.serve import deployments  # type: ignore[attr-defined]

        found = deployments(workspace=workspace)
    except Exception:
        return []
    out = []
    for dep in found:
        try:
            doc = dep.to_dict()
        except Exception:
            continue
        refs: set[str] = set()
        for v in doc.get("versions") or []:
            if isinstance(v, dict):
                refs.add(str(v.get("ref") or f"{mv.name}:{v.get('version')}"))
            else:
                text = str(v)
                refs.add(text if ":" in text else f"{doc.get('model') or mv.name}:{text}")
        if mv.ref in refs:
            out.append(doc)
    return out


class ModelsPanel(Panel):
    """Browse the registry: models, versions, aliases, lineage.

    Pick a model and a version to see its record (hyperparameters, metrics, files), move
    aliases (``prod``, ``staging``...), and follow its lineage: dataset -> study trial ->
    run -> compressed variant -> ONNX -> version -> deployment.

    Parameters
    ----------
    model
        A model name or ref (``"digits-mlp:2"``) to preselect.
    workspace
        The workspace (default: the current one).
    """

    title = "Models"

    def __init__(
        self, model: str | None = None, *, workspace: Workspace | str | None = None
    ) -> None:
        super().__init__(workspace)
        self.on_select: list[Callable[[Any], Any]] = []
        self.version: ModelVersion | None = None
        self.names = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="16em"))
        self.versions = widgets.Select(options=[], rows=8, layout=widgets.Layout(width="18em"))
        self.details = widgets.HTML()
        self.alias = Field(
            "alias",
            widgets.Text("", placeholder="prod", layout=widgets.Layout(width="10em")),
            width="4em",
        )
        self.set_alias_button = button("Set alias", "success", "tag")
        self.remove_alias_button = button("Remove alias", "", "times")
        self.refresh_button = button("Refresh", icon="refresh")
        self.confirm = Confirm()
        self.set_alias_button.on_click(self._on_set_alias)
        self.remove_alias_button.on_click(self._on_remove_alias)
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.alias.control.observe(self._check_alias, "value")
        self.names.observe(self._name_changed, "value")
        self.versions.observe(self._version_changed, "value")
        self.lineage_chart = lineage_figure([])
        self.lineage_nodes: list[dict[str, Any]] = []
        self.children = [
            widgets.HBox([section("registry"), self.refresh_button]),
            widgets.HBox(
                [
                    widgets.VBox([widgets.Label("models"), self.names], layout=_FIXED),
                    widgets.VBox([widgets.Label("versions"), self.versions], layout=_FIXED),
                    widgets.VBox(
                        layout=widgets.Layout(flex="1 1 24em", min_width="0"),
                        children=[
                            self.details,
                            widgets.HBox(
                                [self.alias.box, self.set_alias_button, self.remove_alias_button]
                            ),
                            self.confirm.box,
                        ],
                    ),
                ]
            ),
            self.status,
            self.lineage_chart,
        ]
        self.refresh()
        if model:
            self.select(model)
        self._check_alias()

    def refresh(self) -> bool:
        """Read the registry again, keeping the selection."""
        from aimass_lab import registry

        name, version = self.names.value, self.versions.value
        names = registry.names(workspace=self.workspace)
        self.names.options = names
        if name in names:
            self.names.value = name
            self._name_changed()
            if version in [v for _, v in self.versions.options]:
                self.versions.value = version
        elif names:
            self.names.value = names[0]
        if not names:
            self.show_status("no registered model yet: train one and press Register")
        return False

    def select(self, ref: str) -> None:
        """Show a model (``"name"``) or a version (``"name:3"``, ``"name:prod"``)."""
        from aimass_lab import registry

        mv = registry.get(ref, workspace=self.workspace)
        self.names.value = mv.name
        self._name_changed()
        self.versions.value = mv.ref

    def _name_changed(self, _change: Any = None) -> None:
        from aimass_lab import registry

        name = self.names.value
        if not name:
            self.versions.options = []
            return
        versions = registry.list(name, workspace=self.workspace)
        self.versions.options = [
            (f"v{mv.version}" + (f" [{', '.join(mv.aliases)}]" if mv.aliases else ""), mv.ref)
            for mv in versions
        ]
        if versions:
            self.versions.value = versions[0].ref

    def _version_changed(self, _change: Any = None) -> None:
        from aimass_lab import registry

        ref = self.versions.value
        if not ref:
            self.version = None
            self.details.value = ""
            self._check_alias()
            return
        try:
            mv = registry.get(ref, workspace=self.workspace)
        except Exception as exc:
            self.show_error(exc)
            return
        self.version = mv
        self.details.value = mv._repr_html_()
        self.lineage_nodes = lineage_nodes(mv, deployments_of(mv, self.workspace))
        lineage_figure(self.lineage_nodes, self.lineage_chart)
        self._check_alias()
        for callback in self.on_select:
            callback(mv)

    def _check_alias(self, _change: Any = None) -> None:
        from aimass_lab.specs import validate_alias

        text = self.alias.value.strip()
        ok = check_text(self.alias, validate_alias) and self.version is not None
        self.set_alias_button.disabled = not ok
        self.remove_alias_button.disabled = not (
            ok and self.version is not None and text in self.version.aliases
        )

    @guarded
    def _on_set_alias(self, _button: Any = None) -> None:
        from aimass_lab import registry

        if self.version is None:
            return
        alias = self.alias.value.strip()
        mv = registry.set_alias(self.version.ref, alias, workspace=self.workspace)
        self.refresh()
        self.versions.value = mv.ref
        self.show_status(f"{mv.name}:{alias} now points to {mv.ref}")

    def _on_remove_alias(self, _button: Any = None) -> None:
        """Ask first: code, deployments and notebooks may load the model by this alias."""
        if self.version is None:
            return
        name, alias, ref = self.version.name, self.alias.value.strip(), self.version.ref
        self.confirm.ask(
            f"Remove alias {alias} from {ref}? What loads {name}:{alias} "
            "(code, a deployment's next start) will no longer find it.",
            f"Remove {alias}",
            lambda: self._remove_alias(name, alias, ref),
            keep=f"Keep {alias}",
        )

    @guarded
    def _remove_alias(self, name: str, alias: str, ref: str) -> None:
        from aimass_lab import registry

        registry.remove_alias(name, alias, workspace=self.workspace)
        self.refresh()
        self.versions.value = ref
        self.show_status(f"alias {alias} removed from {ref}")
