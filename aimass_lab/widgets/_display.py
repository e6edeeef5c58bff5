"""Rich display of the API handles: their live panel in a kernel, HTML elsewhere.

``Dataset``, ``Run``, ``Study``, ``CompressionReport`` and ``Deployment`` define
``_repr_mimebundle_`` as a call to :func:`mimebundle`. In a Jupyter kernel the bundle holds
the panel's widget view *and* the handle's HTML and text, so a front end that cannot render
widgets (nbconvert, GitHub, a notebook opened without the kernel) shows the HTML. Outside a
kernel, or when the panel cannot be built, only the HTML and text are given.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["in_kernel", "mimebundle", "panel_for"]

#: Set to ``0`` to show the plain HTML of handles even in a kernel.
ENV_SWITCH = "AIMASS_RICH_DISPLAY"


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (widgets can render)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def panel_for(obj: Any) -> Any:
    """The live panel of an API handle."""
    kind = type(obj).__name__
    if kind == "Dataset":
        from aimass_lab.widgets._data import DataPanel

        return DataPanel(obj, workspace=obj.workspace)
    if kind == "Run":
        from aimass_lab.widgets._train import TrainPanel

        return TrainPanel(run=obj)
    if kind == "Study":
        from aimass_lab.widgets._search import SearchPanel

        return SearchPanel(study=obj)
    if kind == "CompressionReport":
        from aimass_lab.widgets._compress import CompressPanel

        return CompressPanel(report=obj)
    if kind == "Deployment":
        from aimass_lab.widgets._deploy import DeployPanel

        return DeployPanel(deployment=obj, workspace=getattr(obj, "workspace", None))
    raise TypeError(f"no panel for {kind}")


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
    if os.environ.get(ENV_SWITCH, "1") == "0" or not in_kernel():
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
