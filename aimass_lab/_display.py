"""Rich display of the API handles, without a stage importing a front door.

``Dataset``, ``Run``, ``Study``, ``CompressionReport`` and ``Deployment`` define
``_repr_mimebundle_`` as a call to :func:`mimebundle`. In a Jupyter kernel the bundle holds
the handle's live panel (a widget view) *and* its HTML and text, so a front end that cannot
render widgets (nbconvert, GitHub, a notebook opened without its kernel) shows the HTML.
Outside a kernel, or when no panel can be built, only the HTML and text are given.

The panels live in the front-door layer: :mod:`aimass_lab.widgets` registers one factory per
handle type with :func:`register_panel` when it is imported. The stages only know this
module. ``aimass_lab/__init__`` installs the loader (:func:`set_panel_loader`) that imports
the widgets the first time a handle is shown in a kernel, so ``import aimass_lab`` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aimass_lab.settings import settings

__all__ = ["in_kernel", "mimebundle", "panel_for", "register_panel", "set_panel_loader"]

_PANELS: dict[str, Callable[[Any], Any]] = {}
_LOADER: list[Callable[[], None]] = []


def register_panel(type_name: str, factory: Callable[[Any], Any]) -> None:
    """Show handles whose class is named ``type_name`` with ``factory(handle)`` in a kernel."""
    _PANELS[type_name] = factory


def set_panel_loader(loader: Callable[[], None]) -> None:
    """The function that registers the panels (imports the widgets); called once, lazily."""
    _LOADER[:] = [loader]


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (widgets can render)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def panel_for(obj: Any) -> Any:
    """The live panel of an API handle (``TypeError`` when its type has none)."""
    kind = type(obj).__name__
    if kind not in _PANELS and _LOADER:
        _LOADER[0]()
    factory = _PANELS.get(kind)
    if factory is None:
        raise TypeError(f"no panel for {kind}")
    return factory(obj)


def _fallback(obj: Any) -> dict[str, Any]:
    bundle: dict[str, Any] = {"text/plain": repr(obj)}
    html = getattr(obj, "_repr_html_", None)
    if html is not None:
        try:
            bundle["text/html"] = html()
        except Exception:
            pass
    return bundle


def mimebundle(obj: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """The display bundle of an API handle: its panel's widget view plus HTML and text."""
    bundle = _fallback(obj)
    if not settings().rich_display or not in_kernel():
        return bundle
    try:
        panel = panel_for(obj)
        view = panel._repr_mimebundle_()
    except Exception:
        return bundle
    if isinstance(view, tuple):
        view = view[0]
    if isinstance(view, dict):
        bundle.update({k: v for k, v in view.items() if k != "text/plain"})
    return bundle
