"""Progress of long data passes (file scans, fingerprints, reports, tokenizer training).

Stages report through :func:`progress`; where it goes is the front door's choice
(:func:`set_progress`): nowhere by default, a ``tqdm`` bar on a terminal, or plain lines
(``"[aimass] scan images: 5000/100000 (5%)"``) in a job's log file.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Literal, TypeVar

__all__ = ["Progress", "progress", "progress_mode", "set_progress"]

T = TypeVar("T")
Mode = Literal["off", "bar", "lines", "auto"]
_MODE: list[Mode] = ["off"]
#: Plain lines are written at most this often (seconds), besides the first and the last.
LINE_INTERVAL_S = 5.0


def set_progress(mode: Mode) -> None:
    """Where progress goes: ``"off"``, ``"bar"`` (tqdm on stderr), ``"lines"`` (stdout, for
    logs) or ``"auto"`` (a bar when stderr is a terminal, else lines)."""
    if mode not in ("off", "bar", "lines", "auto"):
        raise ValueError(f"unknown progress mode {mode!r}; accepted: 'off', 'bar', 'lines', 'auto'")
    _MODE[0] = mode


def progress_mode() -> Mode:
    """The mode in effect, with ``"auto"`` resolved."""
    mode = _MODE[0]
    if mode == "auto":
        return "bar" if sys.stderr.isatty() else "lines"
    return mode


class Progress:
    """Counts work done on a known total; shows it as :func:`set_progress` says."""

    def __init__(self, total: int | None, desc: str, unit: str = "it") -> None:
        self.total = total
        self.desc = desc
        self.done = 0
        self._mode = progress_mode()
        self._bar = None
        self._last = 0.0
        if self._mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
        elif self._mode == "lines":
            self._line()

    def _line(self) -> None:
        self._last = time.monotonic()
        if self.total:
            share = f" ({100 * self.done // max(self.total, 1)}%)"
            print(f"[aimass] {self.desc}: {self.done}/{self.total}{share}", flush=True)
        else:
            print(f"[aimass] {self.desc}: {self.done}", flush=True)

    def update(self, n: int = 1) -> None:
        """``n`` more units done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._mode == "lines" and time.monotonic() - self._last >= LINE_INTERVAL_S:
            self._line()

    def close(self) -> None:
        """The work is over (the last line says how much was done)."""
        if self._bar is not None:
            self._bar.close()
        elif self._mode == "lines":
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(items: Iterable[T], total: int | None, desc: str, unit: str = "it") -> Iterator[T]:
    """Iterate ``items``, counting one unit each."""
    with Progress(total, desc, unit) as bar:
        for item in items:
            yield item
            bar.update()
