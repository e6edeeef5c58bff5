"""Print the paths that `mypy --strict` checks (scripts/test.sh); a missing one is an error.

One list, kept here so that the test command and docs/architecture.md name the same paths.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STRICT = [
    "aimass_lab/errors.py",
    "aimass_lab/settings.py",
    "aimass_lab/_display.py",
    "aimass_lab/_io.py",
    "aimass_lab/_cpu.py",
    "aimass_lab/workspace",
    "aimass_lab/specs",
    "aimass_lab/registry",
    "aimass_lab/serve/server",
]

if __name__ == "__main__":
    missing = [p for p in STRICT if not (ROOT / p).exists()]
    if missing:
        raise SystemExit(f"scripts/strict_paths.py names paths that do not exist: {missing}")
    print(" ".join(STRICT))
