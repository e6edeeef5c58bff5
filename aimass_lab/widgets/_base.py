"""What every panel shares: a workspace, a status line, fields with errors, a poller."""

from __future__ import annotations

import functools
import html
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import ipywidgets as widgets
import numpy as np

from aimass_lab.errors import AimassError, SpecError
from aimass_lab.widgets._poller import Poller
from aimass_lab.workspace import Workspace, resolve_workspace

__all__ = [
    "MAX_POINTS",
    "Field",
    "Panel",
    "check_text",
    "downsample",
    "error_html",
    "esc",
    "guarded",
    "log_html",
]

#: Points per curve sent to the browser; longer curves are downsampled.
MAX_POINTS = 1000

F = TypeVar("F", bound=Callable[..., Any])


def esc(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(value))


def downsample(
    x: Sequence[float], y: Sequence[float], max_points: int = MAX_POINTS
) -> tuple[list[float], list[float]]:
    """At most ``max_points`` evenly spaced points of a curve, always keeping the last one."""
    n = len(x)
    if n <= max_points:
        return list(x), list(y)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return [x[i] for i in idx], [y[i] for i in idx]


def error_html(message: str | None) -> str:
    """A red warning line of ``message`` (empty when there is none)."""
    return f"<span style='color:#c62828'>&#9888; {esc(message)}</span>" if message else ""


def log_html(text: str, title: str = "log") -> str:
    """A scrollable ``<pre>`` block of a log tail."""
    if not text:
        return ""
    return (
        f"<details open><summary>{esc(title)}</summary>"
        "<pre class='aimass-log' style='max-height:16em;overflow:auto;font-size:11px;"
        f"background:#f7f7f7;padding:4px;margin:0'>{esc(text)}</pre></details>"
    )


class Field:
    """A control with a label and the place where its error is shown.

    Parameters
    ----------
    label
        Shown before the control.
    control
        Any ipywidget with a ``value``.
    """

    def __init__(self, label: str, control: widgets.Widget, width: str = "9em") -> None:
        self.control = control
        self.error = widgets.HTML(layout=widgets.Layout(margin="0 0 0 6px"))
        self.error.add_class("aimass-field-error")
        self.label = widgets.Label(label, layout=widgets.Layout(width=width))
        self.box = widgets.HBox([self.label, control, self.error])

    @property
    def value(self) -> Any:
        return self.control.value

    @value.setter
    def value(self, value: Any) -> None:
        self.control.value = value

    def set_error(self, message: str | None) -> None:
        """Show ``message`` next to the control (``None`` clears it)."""
        self.error.value = error_html(message)

    @property
    def has_error(self) -> bool:
        return bool(self.error.value)


def spec_messages(exc: SpecError) -> list[tuple[str, str]]:
    """``(field path, message)`` pairs of a SpecError, the value named in the message."""
    out = []
    for err in exc.errors:
        message = str(err.get("message", ""))
        if "value" in err and err["value"] is not None and repr(err["value"]) not in message:
            message = f"{err['value']!r}: {message}"
        out.append((str(err.get("field") or ""), message))
    return out


#: Hints of the stages' messages that name a CLI command, and what a panel says instead: the
#: button beside the message (a learner in the Workbench has no terminal open).
_BUTTON_HINTS: tuple[tuple[str, str], ...] = (
    (
        r"deploy it again with aimass_lab\.deploy\([^)]*\), or start it as recorded with "
        r"\.start\(\) \(aimass deployments start \S+\)",
        "start it with the Start endpoint button, or deploy it again with Deploy",
    ),
    (r"\(aimass deployments stop [^)]+\)", "(the Stop endpoint button)"),
    (
        r"deploy a model with aimass_lab\.deploy\('name:version'\) or: aimass deploy NAME:VERSION",
        "deploy a model with the Deploy button",
    ),
    (r"list them with: aimass jobs list", "see the Jobs list in the sidebar"),
    (r"list studies with: aimass search list", "see the studies in the Search panel"),
)


def button_hints(text: str) -> str:
    """``text`` with a CLI command it suggests replaced by the panel's button for it.

    Examples
    --------
    >>> button_hints("endpoint 'x' serves model 'a'; stop it first (aimass deployments stop x)")
    "endpoint 'x' serves model 'a'; stop it first (the Stop endpoint button)"
    """
    import re

    for pattern, replacement in _BUTTON_HINTS:
        text = re.sub(pattern, replacement, text)
    return text


def error_text(exc: BaseException) -> str:
    """One line for an error: a SpecError's messages joined, else the message (a CLI command
    it suggests replaced by the panel's button, see :func:`button_hints`)."""
    if isinstance(exc, SpecError):
        return "; ".join(m for _p, m in spec_messages(exc))
    text = str(exc) if isinstance(exc, AimassError) else f"{type(exc).__name__}: {exc}"
    return button_hints(text)


def check_text(field: Field, validate: Callable[[str], Any]) -> bool:
    """Check a text field's stripped value with ``validate`` (a name or alias check that
    raises), showing its error next to the field; whether the text is non-empty and valid."""
    text = str(field.value).strip()
    field.set_error(None)
    if not text:
        return False
    try:
        validate(text)
    except Exception as exc:
        field.set_error(error_text(exc))
        return False
    return True


def match_field(path: str, fields: dict[str, Field]) -> Field | None:
    """The field whose key is ``path`` or its longest prefix (``split.val`` -> ``split.val``,
    ``model.hparams.hidden`` -> ``hparams.hidden`` when keys are given that way)."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in fields:
            return fields[key]
    # suffix match: a nested spec's field (``train.max_epochs`` -> ``max_epochs``)
    for i in range(1, len(parts)):
        key = ".".join(parts[i:])
        if key in fields:
            return fields[key]
    return None


def guarded(method: F) -> F:
    """Run a button handler and show any error in the panel instead of raising it."""

    @functools.wraps(method)
    def wrapper(self: Panel, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except AimassError as exc:
            self.show_error(exc)
        except Exception as exc:  # an unexpected failure still belongs in the panel
            self.show_error(exc)
        return None

    return wrapper  # type: ignore[return-value]


class Panel(widgets.VBox):
    """Base of the stage panels: a VBox bound to a workspace, with a status line and a poller.

    Parameters
    ----------
    workspace
        The workspace the panel reads and acts on (default: the current one).
    poll_interval
        Seconds between refreshes while something runs (at least 0.25: 4 per second).
    """

    title = "Panel"

    def __init__(
        self, workspace: Workspace | str | None = None, poll_interval: float = 0.5, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.workspace = resolve_workspace(workspace)
        self.poll_interval = poll_interval
        self.status = widgets.HTML()
        self.status.add_class("aimass-status")
        self.poller: Poller | None = None
        self.last_error: str | None = None
        self._form_error: str | None = None
        self._lock = threading.RLock()
        self._closed = False
        self.add_class("aimass-panel")

    # -- messages -----------------------------------------------------------------------------
    def show_status(self, message: str, html_text: bool = False) -> None:
        """A neutral status line."""
        self.last_error = None
        self.status.value = (
            f"<span style='color:#37474f'>{message if html_text else esc(message)}</span>"
        )

    def show_error(self, error: BaseException | str, log: str | None = None) -> None:
        """An error in the panel, with an optional log tail."""
        if isinstance(error, BaseException):
            name = type(error).__name__
            text = f"{name}: {error}" if not isinstance(error, AimassError) else str(error)
        else:
            text = error
        text = button_hints(text)
        self.last_error = text
        self.status.value = (
            f"<div style='color:#c62828'><b>&#9888; error</b>: {esc(text)}</div>"
            + (log_html(log, "log tail") if log else "")
        )

    def apply_spec_error(self, exc: SpecError, fields: dict[str, Field]) -> None:
        """Show each error of a SpecError next to its field; the rest in the status line."""
        rest = []
        for path, message in spec_messages(exc):
            field = match_field(path, fields)
            if field is not None:
                field.set_error(message)
            else:
                rest.append(f"{path}: {message}" if path else message)
        if rest:
            self.show_error("; ".join(rest))

    def show_form_errors(self, messages: list[str]) -> None:
        """Errors of the form that belong to no field, in the error line; the next check of
        the form takes them back (:meth:`clear_form_errors`)."""
        self._form_error = "; ".join(messages) if messages else None
        if self._form_error is not None:
            self.show_error(self._form_error)

    def clear_form_errors(self) -> None:
        """Take back the error line of the last check, unless something else replaced it."""
        if self._form_error is not None and self.last_error == self._form_error:
            self.status.value = ""
            self.last_error = None
        self._form_error = None

    # -- form ---------------------------------------------------------------------------------
    def _validate(self, _change: Any = None) -> bool:
        """Check the form, each error next to its field; whether all is well."""
        return True

    @property
    def valid(self) -> bool:
        """Whether the form is valid."""
        return self._validate()

    def _form_ready(self) -> bool:
        """Check the form before acting on it; say so in the status line when it is not valid."""
        if self._validate():
            return True
        self.show_error("fix the fields marked in red first")
        return False

    # -- polling ------------------------------------------------------------------------------
    def refresh(self) -> Any:
        """Read the store once and update the widgets; return ``False`` when nothing runs."""
        return False

    def _locked_refresh(self) -> Any:
        with self._lock:
            if self._closed:
                return False
            return self.refresh()

    def refresh_and_poll(self) -> None:
        """Refresh now, then poll while :meth:`refresh` says that something runs."""
        if self.refresh() is not False:
            self.start_polling()

    def start_polling(self) -> None:
        """Refresh on a timer until the work ends or the panel is closed."""
        if self._closed:
            return
        if self.poller is None:
            self.poller = Poller(
                self._locked_refresh, self.poll_interval, on_error=self._poll_error
            )
        self.poller.start()

    def stop_polling(self) -> None:
        """Stop the timer."""
        if self.poller is not None:
            self.poller.stop()

    @property
    def polling(self) -> bool:
        """Whether the panel is polling the store now."""
        return self.poller is not None and self.poller.running

    def _poll_error(self, exc: BaseException) -> None:
        self.show_error(exc)

    def close(self) -> None:
        """Stop polling and close the panel and every widget in it."""
        self._closed = True
        self.stop_polling()
        for child in list(_descendants(self)):
            if child is not self:
                child.close()
        super().close()


def _descendants(widget: widgets.Widget) -> Iterable[widgets.Widget]:
    seen: set[int] = set()
    stack = [widget]
    while stack:
        w = stack.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        yield w
        children = getattr(w, "children", None)
        if isinstance(children, (list, tuple)):
            stack.extend(c for c in children if isinstance(c, widgets.Widget))


def dropdown(
    options: Any, value: Any = None, width: str = "14em", **kwargs: Any
) -> widgets.Dropdown:
    """A Dropdown of a fixed width."""
    opts = list(options)
    kw: dict[str, Any] = {"options": opts, "layout": widgets.Layout(width=width), **kwargs}
    if value is not None:
        kw["value"] = value
    return widgets.Dropdown(**kw)


def set_options(control: Any, options: list[Any], value: Any = None) -> None:
    """Give a selection widget new options, keeping its value (or ``value``) when offered,
    else choosing the first option."""
    current = control.value if value is None else value
    control.options = options
    values = [o[1] if isinstance(o, tuple) else o for o in options]
    if current in values:
        control.value = current
    elif values:
        control.value = values[0]


def button(
    description: str, style: str = "", icon: str = "", width: str = "auto"
) -> widgets.Button:
    """A Button."""
    return widgets.Button(
        description=description,
        button_style=style,
        icon=icon,
        layout=widgets.Layout(width=width),
    )


def section(title: str) -> widgets.HTML:
    """A small heading."""
    return widgets.HTML(f"<b style='font-size:13px'>{esc(title)}</b>")
